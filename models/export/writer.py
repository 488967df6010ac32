"""Writing a caminos checkpoint as a TorchScript file for nn~.

:func:`export_nn` loads a checkpoint, builds :class:`~caminos.models.export.nn_module.CaminosNN`
around its weights, scripts it, calls every method the way nn~ does (one voice and four, a
4096-sample buffer) before anything is written, and saves it atomically: a failed export leaves
no file and never replaces an existing one. The file needs only torch to load
(``torch.jit.load``); nothing of caminos runs inside it.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from caminos.engine.core.errors import CaminosError

SMOOTHING_MS = 20.0  # of the controls, as the engine's default (engine.smoothing_ms)
TEST_BUFFER = 4096  # samples: the largest buffer nn~ asks for in practice


class ExportError(CaminosError):
    """A checkpoint cannot be exported, or the exported file failed its own checks."""


@dataclass
class ExportReport:
    """What was written.

    Attributes
    ----------
    path : str
        The file.
    methods : dict of str to tuple of int
        Each method's ``(in_channels, in_ratio, out_channels, out_ratio)``.
    attributes : list of str
        The settable attributes.
    latency : int
        ``forward``'s delay, in samples (before nn~'s own buffering).
    sample_rate, n_fft, hop : int
        The model's rate (Hz), frame and hop (samples).
    labels : list of str
        The latent axes' labels (encode's outlets, decode's inlets).
    """

    path: str
    methods: dict = field(default_factory=dict)
    attributes: list = field(default_factory=list)
    latency: int = 0
    sample_rate: int = 48000
    n_fft: int = 1024
    hop: int = 256
    labels: list = field(default_factory=list)


def pitch_direction(model) -> torch.Tensor:
    """Latent change of a one-semitone transposition: every semitone channel's row of the
    rotation over the pitch channel's std (the engine's ``pitch_direction``); zeros without a
    pitch channel."""
    shape = model.shape
    if not shape.pitch:
        return torch.zeros(shape.latent_dim, dtype=torch.float64)
    rotation = model.latent_rotation.detach().double()
    return rotation[list(shape.semitone_indices)].sum(dim=0) / float(model.pitch_stats[1])


def axis_labels(checkpoint) -> list[str]:
    """A few words per latent axis: what decoding it +-1 std moves most."""
    axes = (checkpoint.descriptors or {}).get("axes", [])
    labels = []
    for k in range(checkpoint.model.shape.latent_dim):
        summary = axes[k].get("summary", "") if k < len(axes) else ""
        labels.append(summary.split(" (")[0] if summary else "axis")
    return labels


def build(checkpoint, lookahead: int = 1, texture: float = 1.0):
    """The (unscripted) nn~ module of a loaded checkpoint (``texture``: the attribute's value
    at load, as ``model.texture``)."""
    from caminos.models.export.codec_ts import codec_from
    from caminos.models.export.nn_module import CaminosNN

    model = checkpoint.model
    if model.shape.context:
        raise ExportError(
            f"{checkpoint.path}: a model with {model.shape.context} frames of "
            "context cannot be exported yet (only context 0)"
        )
    if lookahead not in (0, 1):
        raise ExportError(f"lookahead: expected 0 or 1 frames, got {lookahead}")
    stft, rate = checkpoint.stft, checkpoint.sample_rate
    coefficient = 1.0 - math.exp(-stft.hop / (SMOOTHING_MS * 1e-3 * rate))
    module = CaminosNN(
        codec_from(model),
        stft.n_fft,
        stft.hop,
        rate,
        lookahead,
        pitch_direction(model),
        coefficient,
        axis_labels(checkpoint),
        texture,
    )
    module.eval()
    return module


def check_methods(scripted, where: str) -> dict:
    """Call every method as nn~ does (one voice, then four; a :data:`TEST_BUFFER`-sample
    buffer) and check shapes, dtype and finiteness; the streams are reset after.

    Returns
    -------
    dict of str to tuple of int
        Each method's parameters.
    """
    methods = {}
    with torch.inference_mode():
        for name in scripted.get_methods():
            params = tuple(int(v) for v in getattr(scripted, f"{name}_params").tolist())
            in_ch, in_ratio, out_ch, out_ratio = params
            for batch in (1, 4):
                y = getattr(scripted, name)(torch.zeros(batch, in_ch, TEST_BUFFER // in_ratio))
                expected = (batch, out_ch, TEST_BUFFER // out_ratio)
                if tuple(y.shape) != expected or y.dtype != torch.float32:
                    raise ExportError(
                        f"{where}: method {name} gave {tuple(y.shape)} "
                        f"{y.dtype}, expected {expected} float32"
                    )
                if not bool(torch.isfinite(y).all()):
                    raise ExportError(f"{where}: method {name} gave non-finite samples")
            methods[name] = params
        scripted.reset()
    return methods


def export_nn(
    checkpoint_path: str | os.PathLike,
    out_path: str | os.PathLike,
    lookahead: int = 1,
    texture: float = 1.0,
) -> ExportReport:
    """Write a checkpoint as an nn~ TorchScript file.

    Parameters
    ----------
    checkpoint_path : path
        A caminos checkpoint (``.pt``).
    out_path : path
        The file to write (``NAME.ts``); an existing file is replaced only when the new one is
        complete.
    lookahead : {0, 1}
        Frames of phase look-ahead: 1 (default) as the engine's ``rtpghi``, one hop more
        latency; 0 the least latency.
    texture : float
        The ``texture`` attribute's value at load, 0 to 1 (``caminos reconstruct``'s default
        is 1).

    Returns
    -------
    ExportReport

    Raises
    ------
    CheckpointError
        The checkpoint is missing or unreadable (from :func:`load_checkpoint`).
    ExportError
        The model cannot be exported, the folder cannot be written, or the file failed its
        checks.
    """
    from caminos.models.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(checkpoint_path)
    out = Path(out_path)
    if out.is_dir():
        raise ExportError(f"{out}: is a folder; give a file name such as {out / 'model.ts'}")
    if not out.parent.exists():
        raise ExportError(f"{out}: the folder {out.parent} does not exist")
    if not 0.0 <= texture <= 1.0:
        raise ExportError(f"texture: expected an amount from 0 to 1, got {texture}")
    module = build(checkpoint, lookahead, texture)
    try:
        scripted = torch.jit.script(module)
    except Exception as error:  # a TorchScript compile error is a bug here, named as such
        raise ExportError(
            f"{checkpoint_path}: TorchScript could not compile the model: {error}"
        ) from error
    methods = check_methods(scripted, str(checkpoint_path))
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(handle)
    try:
        scripted.save(temporary)
        os.replace(temporary, out)
    except OSError as error:
        raise ExportError(f"{out}: cannot write: {error}") from error
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return ExportReport(
        path=str(out),
        methods=methods,
        attributes=list(scripted.get_attributes()),
        latency=int(scripted.get_latency()),
        sample_rate=int(checkpoint.sample_rate),
        n_fft=checkpoint.stft.n_fft,
        hop=checkpoint.stft.hop,
        labels=axis_labels(checkpoint),
    )
