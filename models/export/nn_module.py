"""The streaming nn~ module: a caminos model as nn~ (acids-ircam nn_tilde) loads it.

nn~'s contract, as its Python package registers it and its C++ backend calls it:

- every method takes and returns one float tensor ``(batch, channels, samples // ratio)``;
  ``<method>_params`` is a buffer ``[in_channels, in_ratio, out_channels, out_ratio]``, and
  ``<method>_input_labels`` / ``<method>_output_labels`` name the inlets and outlets;
  ``get_methods()`` lists the methods;
- the host cuts its signal into buffers (a power of two, 256 to 4096 samples in practice), hands
  a method each input decimated to the method's ``in_ratio`` (each block's last sample), and
  holds each output sample for ``out_ratio`` samples; ``mc.nn~`` stacks its voices as the batch;
- ``get_attributes()`` lists the attributes a patch may set; ``<name>_params`` holds their
  argument types (0 bool, 1 int, 2 float, 3 str), ``get_<name>()`` returns a tuple of values and
  ``set_<name>(...)`` returns 0, or raises with a message that nn~ prints;
- an exception in a method is caught by nn~ and printed; it never stops the host.

Methods here: ``forward`` (audio to audio through the model and phase recovery), ``encode``
(audio to the latent axes, in standard deviations, one value per hop) and ``decode`` (the
latent axes to audio). Each keeps its own stream between calls (STFT tail, phase, overlap-add,
control smoothing), one per voice; a change of batch size starts the streams afresh.
"""

from __future__ import annotations

from typing import List, Tuple

import torch
from torch import nn

from caminos.models.export.codec_ts import CHORD_MOST, ScriptCodec
from caminos.models.export.controls_ts import LatentControls
from caminos.models.export.phase_ts import METHOD_NAMES, StreamingPhase
from caminos.models.export.stft_ts import StreamingAnalyzer, StreamingSynthesizer
from caminos.models.export.texture_ts import Texture

STD_BOUND = 8.0  # offsets within +-8 standard deviations (of the engine's mixer)
CHORD_RANGE = (-24.0, 36.0)  # semitones per interval (of the engine's /latent/chord)


class CaminosNN(nn.Module):
    """A caminos autoencoder as a streaming nn~ model.

    Parameters
    ----------
    codec : ScriptCodec
        The model's encode and decode.
    n_fft, hop : int
        Its STFT frame and hop, in samples.
    sample_rate : int
        Its sample rate, in Hz.
    lookahead : {0, 1}
        Frames of phase-recovery look-ahead.
    direction : Tensor, shape (d,)
        Latent change of a one-semitone transposition.
    coefficient : float
        Per-hop smoothing coefficient of the controls.
    axis_labels : list of str
        One word or phrase per latent axis, for the inlets and outlets.
    texture : float
        How much of the input's spectral grain ``forward`` lays on the decoded frames at
        first, 0 to 1 (the ``texture`` attribute).
    """

    def __init__(
        self,
        codec: ScriptCodec,
        n_fft: int,
        hop: int,
        sample_rate: int,
        lookahead: int,
        direction: torch.Tensor,
        coefficient: float,
        axis_labels: List[str],
        texture: float = 1.0,
    ) -> None:
        super().__init__()
        d = codec.latent_dim
        self.codec = codec
        self.n_fft = int(n_fft)
        self.hop = int(hop)
        self.n_bins = n_fft // 2 + 1
        self.dims = int(d)
        self.sr = int(sample_rate)
        self.host_rate = int(sample_rate)
        self.lookahead = int(lookahead)
        self.floor = codec.floor
        self.std_bound = STD_BOUND
        self.forward_in = StreamingAnalyzer(n_fft, hop)
        self.encode_in = StreamingAnalyzer(n_fft, hop)
        self.forward_phase = StreamingPhase(n_fft, hop, lookahead)
        self.decode_phase = StreamingPhase(n_fft, hop, lookahead)
        self.forward_out = StreamingSynthesizer(n_fft, hop)
        self.decode_out = StreamingSynthesizer(n_fft, hop)
        std = codec.latent_std.detach().clone()
        self.forward_controls = LatentControls(std, direction, coefficient)
        self.decode_controls = LatentControls(std, direction, coefficient)
        self.register_buffer("latent_std", std.float())
        self.texture_stage = Texture(n_fft, sample_rate, codec.floor)
        self.texture = float(texture)

        # nn~ methods: [in_channels, in_ratio, out_channels, out_ratio] and labels
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))
        self.register_buffer("encode_params", torch.tensor([1, 1, d, hop]))
        self.register_buffer("decode_params", torch.tensor([d, hop, 1, 1]))
        latent = [f"(signal) latent {i} (+: {label})" for i, label in enumerate(axis_labels)]
        self.forward_input_labels: List[str] = ["(signal) audio in"]
        self.forward_output_labels: List[str] = ["(signal) audio out"]
        self.encode_input_labels: List[str] = ["(signal) audio in"]
        self.encode_output_labels: List[str] = latent
        self.decode_input_labels: List[str] = list(latent)
        self.decode_output_labels: List[str] = ["(signal) audio out"]
        self._methods: List[str] = ["forward", "encode", "decode"]

        # nn~ attributes: argument types 0 bool, 1 int, 2 float, 3 str
        # pitches and chord as the engine offers /latent/pitches (a model with several pitch
        # slots) and /latent/chord (a model with a pitch channel)
        drawing = (["pitches"] if codec.has_pitch and codec.slots > 1 else []) + (
            ["chord"] if codec.has_pitch else []
        )
        self._attributes: List[str] = (
            ["follow", "noise", "pitch"]
            + drawing
            + ["texture", "offset", "x", "y", "phase", "seed"]
        )
        for name, types in (
            ("follow", [2]),
            ("noise", [2]),
            ("pitch", [2]),
            ("texture", [2]),
            ("offset", [1, 2]),
            ("x", [2]),
            ("y", [2]),
            ("phase", [3]),
            ("seed", [1]),
            ("pitches", [1]),
            ("chord", [2] * CHORD_MOST),
        ):
            self.register_buffer(f"{name}_params", torch.tensor(types))
        self.chord_low, self.chord_high = CHORD_RANGE
        self.register_buffer(
            "target", torch.cat([torch.tensor([1.0, 0.0, 0.0]), torch.zeros(d)]).double()
        )
        self.last_axis = 0
        self.phase_method = 0
        self.phase_names: List[str] = list(METHOD_NAMES)
        self.seed = 0

    # -- nn~'s lists ---------------------------------------------------------------------------
    @torch.jit.export
    def get_methods(self) -> List[str]:
        """The methods nn~ may call."""
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        """The attributes a patch may set."""
        return self._attributes

    @torch.jit.export
    def get_buffer_attributes(self) -> List[str]:
        """None: no attribute takes a sound buffer."""
        return []

    @torch.jit.export
    def get_sample_rate(self) -> int:
        """The model's sample rate, in Hz."""
        return self.sr

    @torch.jit.export
    def set_sample_rate(self, sample_rate: int) -> None:
        """The host's rate, in Hz (nn~ tells it on load). The model runs at its own rate's
        frame (a host at another rate plays ``forward`` at the same pitch with its spectral
        envelope scaled, and ``decode`` transposed by the ratio)."""
        self.host_rate = int(sample_rate)

    @torch.jit.export
    def get_latency(self) -> int:
        """Delay of ``forward`` from input to output, in samples at the model's rate: the STFT
        pair's ``n_fft - hop`` plus the phase look-ahead (nn~'s own buffering comes on top)."""
        return self.n_fft - self.hop + self.lookahead * self.hop

    @torch.jit.export
    def get_method_latency(self, method: str) -> int:
        """Delay of one method, in samples: ``forward`` as :meth:`get_latency`; ``encode`` 0
        (each hop's latent describes the window that ends with that hop); ``decode`` as
        ``forward`` (a latent's frame sounds from the hop it arrives in, overlap-added over
        ``n_fft`` samples, after the look-ahead), so ``encode`` into ``decode`` delays as
        ``forward`` does."""
        if method == "forward" or method == "decode":
            return self.get_latency()
        if method == "encode":
            return 0
        raise ValueError(
            "caminos: unknown method '" + method + "'; methods are forward, encode, decode"
        )

    @torch.jit.export
    def reset(self) -> None:
        """Start every stream afresh: silence before, every control at its value set (no
        glide), the noise walk from its start."""
        batch = 1
        self.forward_in.reset(batch)
        self.encode_in.reset(batch)
        self.forward_phase.reset(batch)
        self.decode_phase.reset(batch)
        self.forward_out.reset(batch)
        self.decode_out.reset(batch)
        self.forward_controls.reset(batch)
        self.decode_controls.reset(batch)
        self.forward_controls.jump(self.target)
        self.decode_controls.jump(self.target)

    # -- attributes ----------------------------------------------------------------------------
    def _number(self, value: float) -> str:
        """``value`` as a patch shows it: ``12``, ``0.5``, ``nan``."""
        if value != value:
            return "nan"
        if abs(value) < 1e15 and float(int(value)) == value:
            return str(int(value))
        return str(value)

    def _bounded(self, name: str, value: float, lo: float, hi: float, unit: str) -> float:
        """``value`` if within ``lo`` to ``hi``; otherwise raise, naming the range."""
        if not (value >= lo and value <= hi):
            raise ValueError(
                "caminos: "
                + name
                + " expects "
                + self._number(lo)
                + " to "
                + self._number(hi)
                + unit
                + ", got "
                + self._number(value)
            )
        return value

    @torch.jit.export
    def get_follow(self) -> Tuple[float]:
        """How much the latent follows the input (0 to 1)."""
        return (float(self.target[0]),)

    @torch.jit.export
    def set_follow(self, value: float) -> int:
        """0: the latent is the offsets alone; 1: the input's latent plus the offsets."""
        self.target[0] = self._bounded("follow", value, 0.0, 1.0, "")
        return 0

    @torch.jit.export
    def get_noise(self) -> Tuple[float]:
        """Amplitude of the latent's random walk, in standard deviations."""
        return (float(self.target[1]),)

    @torch.jit.export
    def set_noise(self, value: float) -> int:
        """Amplitude of the latent's random walk, 0 to 4 standard deviations."""
        self.target[1] = self._bounded("noise", value, 0.0, 4.0, " std")
        return 0

    @torch.jit.export
    def get_pitch(self) -> Tuple[float]:
        """Transposition, in semitones."""
        return (float(self.target[2]),)

    @torch.jit.export
    def set_pitch(self, value: float) -> int:
        """Transposition along the model's pitch channels, -48 to 48 semitones."""
        self.target[2] = self._bounded("pitch", value, -48.0, 48.0, " semitones")
        return 0

    @torch.jit.export
    def get_pitches(self) -> Tuple[int]:
        """How many pitch slots the decoder draws, the most salient first."""
        return (self.codec.drawn_slots,)

    @torch.jit.export
    def set_pitches(self, count: int) -> int:
        """Draw the first ``count`` of the model's pitch slots (1 to all of them, the most
        salient first), the engine's ``/latent/pitches``: fewer thins a chord to its strongest
        notes."""
        slots = self.codec.slots
        if not self.codec.has_pitch or slots < 2:
            raise ValueError(
                "caminos: pitches needs a model with several pitch slots; this "
                "one has " + ("one" if self.codec.has_pitch else "none")
            )
        if count < 1 or count > slots:
            raise ValueError(
                "caminos: pitches expects 1 to " + str(slots) + " slots, got " + str(count)
            )
        self.codec.set_drawn_slots(count)
        return 0

    @torch.jit.export
    def get_chord(self) -> Tuple[float, float, float, float]:
        """The chord's intervals in semitones above the first slot, 0 for each unused one."""
        c = self.codec.chord_intervals() + [0.0, 0.0, 0.0, 0.0]
        return (c[0], c[1], c[2], c[3])

    @torch.jit.export
    def set_chord(self, first: float, second: float, third: float, fourth: float) -> int:
        """The engine's ``/latent/chord``: the first slot's partials drawn again, with its
        timbre, at each interval (semitones, -24 to 36) above it, so one held note plays as a
        chord (``4 7 0 0``: a major triad). Always four numbers: 0 is an unused interval (a
        unison draws nothing), and ``0 0 0 0`` clears the chord."""
        intervals = [first, second, third, fourth]
        for value in intervals:
            self._bounded("chord", value, self.chord_low, self.chord_high, " semitones")
        if not self.codec.has_pitch:
            raise ValueError("caminos: chord needs a model with a pitch channel")
        self.codec.set_chord(intervals)
        return 0

    @torch.jit.export
    def get_texture(self) -> Tuple[float]:
        """How much of the input's spectral grain ``forward`` lays on the decoded frames."""
        return (self.texture,)

    @torch.jit.export
    def set_texture(self, value: float) -> int:
        """0 (the model alone) to 1 (the input's grain, each bin moved -12 .. +3 dB at most),
        scaled by follow; ``decode`` has no input, so no texture."""
        self.texture = self._bounded("texture", value, 0.0, 1.0, "")
        return 0

    @torch.jit.export
    def get_offset(self) -> Tuple[int, float]:
        """The axis last offset and its offset, in standard deviations."""
        return (self.last_axis, float(self.target[3 + self.last_axis]))

    @torch.jit.export
    def set_offset(self, axis: int, value: float) -> int:
        """Offset one latent axis (0 varies most) by ``value`` standard deviations (+-8)."""
        if axis < 0 or axis >= self.dims:
            raise ValueError(
                "caminos: offset axis must be 0 to " + str(self.dims - 1) + ", got " + str(axis)
            )
        self.target[3 + axis] = self._bounded(
            "offset", value, -self.std_bound, self.std_bound, " std"
        )
        self.last_axis = axis
        return 0

    @torch.jit.export
    def get_x(self) -> Tuple[float]:
        """Offset of axis 0 (the map's x), in standard deviations."""
        return (float(self.target[3]),)

    @torch.jit.export
    def set_x(self, value: float) -> int:
        """Offset of axis 0 (the map's x), +-8 standard deviations."""
        return self.set_offset(0, value)

    @torch.jit.export
    def get_y(self) -> Tuple[float]:
        """Offset of axis 1 (the map's y), in standard deviations."""
        return (float(self.target[4]),)

    @torch.jit.export
    def set_y(self, value: float) -> int:
        """Offset of axis 1 (the map's y), +-8 standard deviations."""
        return self.set_offset(1, value)

    @torch.jit.export
    def get_phase(self) -> Tuple[str]:
        """The phase recovery method's name."""
        return (self.phase_names[self.phase_method],)

    @torch.jit.export
    def set_phase(self, name: str) -> int:
        """``pghi`` (vectorised RTPGHI), ``input`` (the input's own phase; ``forward`` only,
        ``decode`` keeps pghi) or ``random``."""
        for i, known in enumerate(self.phase_names):
            if known == name:
                self.phase_method = i
                return 0
        raise ValueError(
            "caminos: phase method '" + name + "' unknown; expected pghi, input or random"
        )

    @torch.jit.export
    def get_seed(self) -> Tuple[int]:
        """Seed of the noise walk."""
        return (self.seed,)

    @torch.jit.export
    def set_seed(self, value: int) -> int:
        """Seed of the noise walk, 0 or more."""
        if value < 0:
            raise ValueError("caminos: seed must be 0 or more, got " + str(value))
        self.seed = value
        return 0

    # -- methods -------------------------------------------------------------------------------
    def _check(self, x: torch.Tensor, channels: int, ratio: int, method: str) -> None:
        if x.dim() != 3:
            raise ValueError(
                "caminos "
                + method
                + ": expected (batch, channels, samples), got "
                + str(x.dim())
                + " dimensions"
            )
        if x.shape[1] != channels:
            raise ValueError(
                "caminos "
                + method
                + ": expected "
                + str(channels)
                + " input channels, got "
                + str(x.shape[1])
            )
        if x.shape[0] < 1:
            raise ValueError("caminos " + method + ": empty batch")
        if ratio == 1 and (x.shape[2] < self.hop or x.shape[2] % self.hop != 0):
            raise ValueError(
                "caminos "
                + method
                + ": buffer of "
                + str(x.shape[2])
                + " samples; expected a multiple of the hop, "
                + str(self.hop)
                + " samples (set nn~'s buffer to 256, 512 ... 4096)"
            )
        if ratio > 1 and x.shape[2] < 1:
            raise ValueError("caminos " + method + ": expected at least one latent frame")

    def _log_mags(self, spectra: torch.Tensor) -> torch.Tensor:
        """Complex frames (batch, frames, n_bins) to the model's input, ``log(|X| + floor)``
        as float32 rows (batch * frames, n_bins), as ``caminos`` reads a sound."""
        log_mags = torch.log(spectra.abs() + self.floor).float()
        return log_mags.reshape(spectra.shape[0] * spectra.shape[1], self.n_bins)

    def _encode(self, log_mags: torch.Tensor, batch: int) -> torch.Tensor:
        """Log-magnitude rows (batch * frames, n_bins) to rotated latents (batch, frames, d)."""
        return self.codec.encode(log_mags).reshape(batch, -1, self.dims)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """Rotated latents (batch, frames, d) to linear magnitudes (batch, frames, n_bins)."""
        batch, count = z.shape[0], z.shape[1]
        mags = self.codec.decode(z.reshape(batch * count, self.dims))
        return mags.reshape(batch, count, self.n_bins)

    def _safe(self, y: torch.Tensor) -> torch.Tensor:
        """Samples (batch, samples) as nn~ takes them, (batch, 1, samples) float32, clipped at
        +-1 (0 dBFS): a wild latent never leaves louder (the engine's look-ahead limiter is
        not in the export)."""
        return torch.clamp(torch.nan_to_num(y.float(), nan=0.0), -1.0, 1.0)[:, None, :]

    def _clean(self, x: torch.Tensor) -> torch.Tensor:
        """Non-finite samples (a broken patch upstream) as silence."""
        return torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Audio through the model: (batch, 1, samples) to (batch, 1, samples), float32.

        The output is the input delayed by :meth:`get_latency` samples, re-synthesised from the
        decoded magnitudes of its encoded (and controlled) latent.
        """
        self._check(x, 1, 1, "forward")
        spectra = self.forward_in(self._clean(x[:, 0]))
        log_mags = self._log_mags(spectra)
        z = self.forward_controls(self._encode(log_mags, x.shape[0]), self.target, self.seed)
        mags = self._decode(z)
        amount = self.texture * float(self.target[0])
        if amount > 0.0:
            mags = self.texture_stage(
                mags.reshape(log_mags.shape), log_mags, amount, float(self.target[2])
            ).reshape(mags.shape)
        frames = self.forward_phase(mags, spectra, self.phase_method)
        return self._safe(self.forward_out(frames))

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Audio (batch, 1, samples) to the latent axes in standard deviations,
        (batch, d, samples // hop), float32: one value per hop, for the frame ending there."""
        self._check(x, 1, 1, "encode")
        z = self._encode(self._log_mags(self.encode_in(self._clean(x[:, 0]))), x.shape[0])
        return (z / self.latent_std).transpose(1, 2).contiguous()

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The latent axes in standard deviations (batch, d, frames) to audio
        (batch, 1, frames * hop), float32, through the controls and phase recovery."""
        self._check(z, self.dims, self.hop, "decode")
        latent = torch.clamp(self._clean(z), -self.std_bound, self.std_bound)
        latent = latent.transpose(1, 2) * self.latent_std
        latent = self.decode_controls(latent.contiguous(), self.target, self.seed)
        mags = self._decode(latent)
        method = 0 if self.phase_method == 1 else self.phase_method
        empty = torch.zeros(mags.shape, dtype=torch.complex128)
        frames = self.decode_phase(mags, empty, method)
        return self._safe(self.decode_out(frames))
