"""A model as the hop path reads it: its shape and its numbers as numpy arrays, no torch.

The spectral autoencoder is a torch model and its checkpoint a torch file; the hop clock runs
none of torch (:class:`caminos.engine.clock.codec.FrameCodec` runs the fused layers in numba
kernels). What it needs of a model is here: :class:`ModelShape` (the hyper-parameters), the
magnitude floor and ceiling, the comb bands' interpolation, and :class:`HopModel`, every number
the engine and its units read, computed once with torch
(:func:`caminos.models.autoencoder.hop_model`, ``Checkpoint.hop_model``) and kept in an ``.npz``
file (:meth:`HopModel.save`, :meth:`HopModel.load`, numpy only). A process that builds its
engine from such a file never imports torch (about 200 MB a process: the live DSP and control
processes, ``docs/architecture.md`` section 8).

This module imports no torch, and nothing that does.

Why this file is longer than 500 lines: the model's shape, its numbers and their file form must
agree field by field (a field added to one and not to the others would load a model wrongly); in
one file a new field is added in one place.
"""

from __future__ import annotations

import json
import os
import secrets
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from caminos.engine.core.errors import CheckpointError, ParameterError

# Magnitude floor added before the logarithm, in linear STFT magnitude units. A full-scale sine
# gives a peak bin of n_fft/4 = 256 at n_fft = 1024, so 1e-3 sits 108 dB below it: quieter detail
# is noise the model should not spend capacity on.
MAGNITUDE_FLOOR = 1e-3

# Largest decoded natural-log magnitude: exp(12) = 1.6e5, above any real STFT bin (a full-scale
# sine peaks at n_fft/4 = 256). Clamping before exp keeps a wild latent from giving inf or NaN.
MAX_LOG_MAGNITUDE = 12.0


@dataclass(frozen=True)
class ModelShape:
    """Hyper-parameters that fix the network's weights' shapes.

    Attributes
    ----------
    n_bins : int
        Frequency bins per frame, ``n_fft // 2 + 1``.
    latent_dim : int
        Latent dimensions, 8 to 32.
    hidden : tuple of int
        Widths of the hidden layers of the encoder; the decoder mirrors them.
    context : int
        Past frames stacked before the current one at the input (0 = the frame alone). Past
        frames only, so context adds no latency.
    level : bool
        Take each frame's level out of the learned latent: the encoder sees the frame's
        log-magnitudes less their level
        (:func:`caminos.models.autoencoder.frame_level`), the level becomes one explicit
        latent channel, and the decoder adds it back to its output. The learned part then spends
        its ``latent_dim - 1`` dimensions on the spectrum's shape, not on loudness.
    decoder_hidden : tuple of int
        Widths of the decoder's hidden layers; empty mirrors ``hidden``.
    pitch : bool
        Give the latent an explicit pitch channel: each frame's fundamental as tracked by
        :class:`caminos.models.pitch.PitchTracker` (semitones, in its own standard units), which
        the decoder reads and uses to raise partials on a harmonic comb
        (:func:`caminos.models.autoencoder.harmonic_comb_torch`) with learnt per-bin heights.
        The comb puts partials of a pitch never trained on where they belong, and transposing
        is moving this channel.
    bin_hz : float
        Width of a frequency bin, ``sample_rate / n_fft`` in Hz (needed with ``pitch``).
    comb_bands : int
        With ``pitch``: the decoder gives the comb's heights for this many bands, linearly
        interpolated to the bins (:func:`band_interpolation`), instead of one per bin; how much
        partials stand out varies slowly with frequency, and a smaller last layer is a faster
        decoder. 0: one height per bin.
    pitch_slots : int
        With ``pitch``: pitch slots per frame, 1 to 4. With more than one, each slot is an
        explicit pitch channel and a presence channel (0 to 1), found per frame by estimate and
        cancel (:class:`caminos.models.partials.PartialAnalyser`), and the decoder draws one
        comb per slot with heights of its own, so chords keep their notes.
    free_peaks : int
        With ``pitch``: free spectral peaks per frame, 0 to 8, each an explicit frequency
        channel (semitones, in the pitch channel's units, so a transposition moves them too) and
        a magnitude channel (natural log, relative to the frame's level): the largest partials
        no slot explains (bells, gongs, a chord's extra notes), drawn by the decoder as the
        window's main lobe.
    """

    n_bins: int = 513
    latent_dim: int = 16
    hidden: tuple[int, ...] = (512, 256)
    context: int = 0
    level: bool = False
    decoder_hidden: tuple[int, ...] = ()
    pitch: bool = False
    bin_hz: float = 0.0
    comb_bands: int = 0
    pitch_slots: int = 1
    free_peaks: int = 0

    def __post_init__(self) -> None:
        if not 8 <= self.latent_dim <= 48:
            raise ParameterError(f"latent_dim must be in 8..48, got {self.latent_dim}")
        if not 1 <= self.pitch_slots <= 4 or not 0 <= self.free_peaks <= 8:
            raise ParameterError(
                f"pitch_slots must be in 1..4 and free_peaks in 0..8, got "
                f"{self.pitch_slots} and {self.free_peaks}"
            )
        if (self.pitch_slots > 1 or self.free_peaks) and not self.pitch:
            raise ParameterError("pitch slots and free peaks need the pitch channel (pitch=True)")
        if self.learned_dim < 4:
            raise ParameterError(
                f"latent_dim {self.latent_dim} leaves {self.learned_dim} learned "
                f"dimensions beside the explicit channels; at least 4 are needed"
            )
        if not 0 <= self.context <= 8:
            raise ParameterError(f"context must be in 0..8 frames, got {self.context}")
        if self.n_bins < 2 or not self.hidden or min(self.hidden) < 1:
            raise ParameterError(f"bad model shape: n_bins={self.n_bins}, hidden={self.hidden}")
        if self.decoder_hidden and min(self.decoder_hidden) < 1:
            raise ParameterError(f"bad decoder widths: {self.decoder_hidden}")
        if self.many_pitches and not self.level:
            raise ParameterError("pitch slots and free peaks need the level channel (level=True)")
        if self.pitch and not self.bin_hz > 0.0:
            raise ParameterError("a model with a pitch channel needs bin_hz > 0")
        if not 0 <= self.comb_bands <= self.n_bins or self.comb_bands == 1:
            raise ParameterError(f"comb_bands must be 0 or 2..{self.n_bins}, got {self.comb_bands}")

    @property
    def many_pitches(self) -> bool:
        """Several pitch slots or free peaks (checkpoint version 3), rather than one comb."""
        return self.pitch_slots > 1 or self.free_peaks > 0

    @property
    def comb_heights(self) -> int:
        """Heights of one slot's comb the decoder's last layer gives (0 without pitch)."""
        if not self.pitch:
            return 0
        return self.comb_bands or self.n_bins

    @property
    def comb_outputs(self) -> int:
        """Comb heights the decoder's last layer gives, every slot's (0 without pitch)."""
        return self.comb_heights * self.pitch_slots

    @property
    def presence_channels(self) -> int:
        """Presence channels: one per slot when there are several, none for one."""
        return self.pitch_slots if self.pitch_slots > 1 else 0

    @property
    def explicit_dim(self) -> int:
        """Measured latent channels: level, slot pitches, presences, peak pitches and levels."""
        slots = self.pitch_slots if self.pitch else 0
        return int(self.level) + slots + self.presence_channels + 2 * self.free_peaks

    @property
    def learned_dim(self) -> int:
        """Latent dimensions the encoder learns (``latent_dim`` less the explicit channels)."""
        return self.latent_dim - self.explicit_dim

    @property
    def slot_index(self) -> int:
        """Index of the first slot's pitch channel in the unrotated latent; the others follow."""
        return self.learned_dim + int(self.level)

    @property
    def presence_index(self) -> int:
        """Index of the first slot's presence channel (with several slots)."""
        return self.slot_index + self.pitch_slots

    @property
    def peak_pitch_index(self) -> int:
        """Index of the first free peak's frequency channel (semitones)."""
        return self.presence_index + self.presence_channels

    @property
    def peak_level_index(self) -> int:
        """Index of the first free peak's magnitude channel (nepers over the frame's level)."""
        return self.peak_pitch_index + self.free_peaks

    @property
    def level_index(self) -> int:
        """Index of the level channel in the unrotated latent (right after the learned dims)."""
        return self.learned_dim

    @property
    def pitch_index(self) -> int:
        """Index of the (first slot's) pitch channel in the unrotated latent (the last of a
        one-slot model)."""
        return self.slot_index

    @property
    def semitone_indices(self) -> tuple[int, ...]:
        """Every channel in semitones (slot pitches, peak frequencies): what a transposition
        moves."""
        if not self.pitch:
            return ()
        return tuple(range(self.slot_index, self.slot_index + self.pitch_slots)) + tuple(
            range(self.peak_pitch_index, self.peak_pitch_index + self.free_peaks)
        )

    @property
    def decoder_widths(self) -> tuple[int, ...]:
        """Hidden widths of the decoder, first to last."""
        return self.decoder_hidden or tuple(reversed(self.hidden))

    @property
    def n_inputs(self) -> int:
        """Input width: ``n_bins * (context + 1)``."""
        return self.n_bins * (self.context + 1)

    def to_dict(self) -> dict:
        """Plain types, for a checkpoint."""
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        data["decoder_hidden"] = list(self.decoder_hidden)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ModelShape":
        """Inverse of :meth:`to_dict` (older checkpoints lack the last keys)."""
        return cls(
            n_bins=int(data["n_bins"]),
            latent_dim=int(data["latent_dim"]),
            hidden=tuple(int(h) for h in data["hidden"]),
            context=int(data["context"]),
            level=bool(data.get("level", False)),
            decoder_hidden=tuple(int(h) for h in data.get("decoder_hidden", ())),
            pitch=bool(data.get("pitch", False)),
            bin_hz=float(data.get("bin_hz", 0.0)),
            comb_bands=int(data.get("comb_bands", 0)),
            pitch_slots=int(data.get("pitch_slots", 1)),
            free_peaks=int(data.get("free_peaks", 0)),
        )


def band_interpolation(n_bins: int, bands: int) -> tuple[np.ndarray, np.ndarray]:
    """How ``bands`` values spread over ``n_bins`` by linear interpolation between band centres
    (equally spaced over the bins, the first on bin 0 and the last on the top bin).

    Returns
    -------
    lower : ndarray of int, shape (n_bins,)
        Each bin's lower band.
    weight : ndarray, shape (n_bins,)
        The upper band's share (0 to 1); the lower band gets the rest.
    """
    position = np.arange(n_bins) * (bands - 1) / (n_bins - 1)
    lower = np.minimum(np.floor(position).astype(np.int64), bands - 2)
    return lower, position - lower


FORMAT = "caminos-hop-model"  # the ``format`` entry of a HopModel file
VERSION = 1
_LAYERS = ("encoder_weights", "encoder_biases", "decoder_weights", "decoder_biases")
_NUMBERS = ("pitch_bias", "level_bias", "pitch_grid")  # kept in the file's JSON header
# The fused codec's rank-one channel terms and tracker matrix (FusedCodec buffers of these names)
TERMS = (
    "level_in",
    "level_latent",
    "level_out",
    "pitch_latent",
    "pitch_out",
    "channel_latent",
    "channel_out",
    "channel_bias",
    "pitch_matrix",
)


@dataclass(frozen=True, eq=False)
class HopModel:
    """What the hop path reads of a trained autoencoder, as numpy arrays and numbers.

    The fused codec's layers (:class:`caminos.models.autoencoder.FusedCodec`: normalisation and
    latent rotation folded in), its rank-one channel terms, and what the engine derives from the
    model with torch, computed once by :func:`caminos.models.autoencoder.hop_model`;
    :class:`~caminos.engine.clock.codec.FrameCodec`, the engine and its units read nothing
    else. The arrays hold the torch values bit for bit. An optional term is None where the
    model lacks its channel.

    Attributes
    ----------
    shape : ModelShape
    encoder_weights, decoder_weights : tuple of ndarray, float32, shape (inputs, outputs)
        Each dense layer's weights, C order (torch's ``(outputs, inputs)`` transposed: the
        layout the hop path's products read, so it keeps these arrays without a copy).
    encoder_biases, decoder_biases : tuple of ndarray, float32, shape (outputs,)
    latent_std : ndarray, float64, shape (latent_dim,)
        Each rotated axis's standard deviation, the unit of offsets.
    level_readout : ndarray, float64, shape (latent_dim,) or None
        A one-comb model's nepers of decoded level per unit of latent move
        (:func:`caminos.models.autoencoder.level_readout`); None for a many-pitch model, whose
        field measures its voices' levels instead.
    pitch_direction : ndarray, float64, shape (latent_dim,) or None
        The latent move of a one-semitone transposition
        (:func:`caminos.models.autoencoder.pitch_direction`).
    level_in : ndarray, float32, shape (first width,) or None
        The frame's level (nepers) through the first encoder layer.
    level_latent, level_out : ndarray, float32, shape (latent_dim,) or None
        The level into the latent, and read back from it (nepers per unit of ``z``).
    level_bias : float or None
        Many-pitch models: the level read back is ``z . level_out + level_bias`` nepers.
    pitch_latent, pitch_out : ndarray, float32, shape (latent_dim,) or None
        One-comb models: the tracked pitch (semitones above A0) into the latent and back.
    pitch_bias : float or None
        One-comb models: the pitch read back is ``z . pitch_out + pitch_bias`` semitones.
    channel_latent, channel_out : ndarray, float32, shape (J, latent_dim) or None
        Many-pitch models: the J slot and peak channels (natural units) into the latent and
        back; ``channel_bias`` (J,) completes the read-back.
    pitch_matrix : ndarray, float32, shape (n_bins, candidates) or None
        The pitch tracker's subharmonic summation.
    pitch_grid : tuple of float or None
        The tracker's first candidate (Hz) and the step between candidates (octaves).
    name : str
        The checkpoint's name (``default`` for ``default.pt``).
    path : str
        The checkpoint file it was computed from ("" for a model never saved).
    descriptors : dict
        The checkpoint's axis descriptors (:func:`caminos.models.autoencoder.describe_axes`).
    """

    shape: ModelShape
    encoder_weights: tuple[np.ndarray, ...]
    encoder_biases: tuple[np.ndarray, ...]
    decoder_weights: tuple[np.ndarray, ...]
    decoder_biases: tuple[np.ndarray, ...]
    latent_std: np.ndarray
    level_readout: np.ndarray | None = None
    pitch_direction: np.ndarray | None = None
    level_in: np.ndarray | None = None
    level_latent: np.ndarray | None = None
    level_out: np.ndarray | None = None
    level_bias: float | None = None
    pitch_latent: np.ndarray | None = None
    pitch_out: np.ndarray | None = None
    pitch_bias: float | None = None
    channel_latent: np.ndarray | None = None
    channel_out: np.ndarray | None = None
    channel_bias: np.ndarray | None = None
    pitch_matrix: np.ndarray | None = None
    pitch_grid: tuple[float, float] | None = None
    name: str = "model"
    path: str = ""
    descriptors: dict = field(default_factory=dict)

    def save(self, path: str | os.PathLike) -> None:
        """Write the numbers to ``path`` (an ``.npz``: arrays, and a JSON header for the shape,
        numbers and names), whole or not at all.

        Raises
        ------
        CheckpointError
            The file cannot be written (the message names it).
        """
        target = Path(path)
        header: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "shape": self.shape.to_dict(),
            "name": self.name,
            "path": self.path,
            "descriptors": self.descriptors,
            "layers": [len(getattr(self, k)) for k in _LAYERS],
        }
        for key in _NUMBERS:
            value = getattr(self, key)
            header[key] = list(value) if isinstance(value, tuple) else value
        arrays: dict[str, np.ndarray] = {"header": np.array(json.dumps(header))}
        for key in _LAYERS:
            for i, value in enumerate(getattr(self, key)):
                arrays[f"{key}_{i}"] = value
        for key in _array_fields():
            value = getattr(self, key)
            if value is not None:
                arrays[key] = value
        temporary = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            with open(temporary, "wb") as file:
                np.savez(file, **arrays)
            os.replace(temporary, target)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise CheckpointError(
                f"{target}: writing the hop model failed ({exc.strerror or exc})"
            ) from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "HopModel":
        """Read a file :meth:`save` wrote (numpy only, no pickled objects).

        Raises
        ------
        CheckpointError
            Missing or unreadable, not a hop model file, another version, or an entry missing
            or of the wrong shape (the message names the file and the entry).
        """
        source = Path(path)
        try:
            with np.load(source, allow_pickle=False) as data:
                stored = {key: data[key] for key in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # damaged or foreign
            raise CheckpointError(f"{source}: not a readable hop model file ({exc})") from None
        try:
            header = json.loads(str(stored.pop("header")))
        except (KeyError, ValueError) as exc:
            raise CheckpointError(
                f"{source}: not a hop model file (no readable header: {exc})"
            ) from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise CheckpointError(f"{source}: not a hop model file (no format={FORMAT!r})")
        if header.get("version") != VERSION:
            raise CheckpointError(
                f"{source}: hop model version {header.get('version')!r}; "
                f"this caminos reads version {VERSION}"
            )
        try:
            shape = ModelShape.from_dict(header["shape"])
            layers = {
                key: tuple(stored.pop(f"{key}_{i}") for i in range(count))
                for key, count in zip(_LAYERS, header["layers"])
            }
            grid = header["pitch_grid"]
            model = cls(
                shape,
                **layers,
                latent_std=stored.pop("latent_std"),
                **{key: stored.pop(key, None) for key in _array_fields() if key != "latent_std"},
                level_bias=header["level_bias"],
                pitch_bias=header["pitch_bias"],
                pitch_grid=tuple(grid) if grid is not None else None,
                name=str(header["name"]),
                path=str(header["path"]),
                descriptors=dict(header["descriptors"]),
            )
        except (KeyError, TypeError, ValueError, ParameterError) as exc:
            raise CheckpointError(
                f"{source}: damaged hop model file ({type(exc).__name__}: {exc})"
            ) from None
        model.check(source)
        return model

    def check(self, where: str | os.PathLike = "hop model") -> None:
        """Refuse layers that do not chain from the model's inputs to its outputs.

        Raises
        ------
        CheckpointError
            Naming ``where`` and the first layer that does not fit.
        """
        shape = self.shape
        for part, weights, biases, inputs, outputs in (
            (
                "encoder",
                self.encoder_weights,
                self.encoder_biases,
                shape.n_inputs,
                shape.latent_dim,
            ),
            (
                "decoder",
                self.decoder_weights,
                self.decoder_biases,
                shape.latent_dim,
                shape.n_bins + shape.comb_outputs,
            ),
        ):
            width = inputs
            if not weights or len(weights) != len(biases):
                raise CheckpointError(
                    f"{where}: the {part} has {len(weights)} weight and {len(biases)} bias arrays"
                )
            for i, (w, b) in enumerate(zip(weights, biases)):
                if w.ndim != 2 or w.shape[0] != width or b.shape != (w.shape[1],):
                    raise CheckpointError(
                        f"{where}: {part} layer {i} has weights {w.shape} "
                        f"and biases {b.shape}; {width} inputs expected"
                    )
                width = w.shape[1]
            if width != outputs:
                raise CheckpointError(
                    f"{where}: the {part} gives {width} outputs; the shape needs {outputs}"
                )
        if self.latent_std.shape != (shape.latent_dim,):
            raise CheckpointError(
                f"{where}: latent_std has shape {self.latent_std.shape}; "
                f"({shape.latent_dim},) expected"
            )


def _array_fields() -> tuple[str, ...]:
    """The fields of :class:`HopModel` that hold one array or None."""
    skip = {"shape", "name", "path", "descriptors", *_LAYERS, *_NUMBERS}
    return tuple(f.name for f in fields(HopModel) if f.name not in skip)


def plain_json(value: Any) -> Any:
    """``value`` with tensors and arrays as lists, so JSON holds it (a checkpoint's
    descriptors)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    return value
