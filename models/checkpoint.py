"""Model checkpoints: one file per trained autoencoder, saved atomically, loaded safely.

Written by :mod:`caminos.models.train` and read by every command and the engine before they touch a
model. A checkpoint is ``torch.save`` of a dict of tensors and plain types, loaded with
``weights_only=True`` (no pickled code runs), and is refused with a
:class:`~caminos.engine.core.errors.CheckpointError` naming the file when it is corrupt, is not a
caminos
checkpoint, or was trained with other STFT settings or another sample rate than the running ones.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import CheckpointError
from caminos.models.autoencoder import SpectralVAE, hop_model
from caminos.models.shape import HopModel, ModelShape

FORMAT = "caminos-spectral-vae"
# 2: level channel, decoder widths of its own, level_stats; version 1 still loads.
# 3: several pitch slots and free peaks (ModelShape.many_pitches); a one-comb model is still
# written as version 2, so a caminos from before reads it.
VERSION = 2
MANY_PITCHES_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes
    ----------
    model : SpectralVAE
        In evaluation mode, on the CPU, latent statistics set.
    stft : StftConfig
        The STFT settings the model was trained with.
    sample_rate : int
        In Hz.
    descriptors : dict
        :func:`caminos.models.autoencoder.describe_axes` output (empty if the model was never
        finalised).
    provenance : dict
        Command, data summary, seed, epochs, training time, metrics.
    training : dict
        Optimiser state, history and random state for resuming; empty when not stored.
    path : str
        The file it came from.
    """

    model: SpectralVAE
    stft: StftConfig
    sample_rate: int
    descriptors: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    path: str = ""

    @property
    def name(self) -> str:
        """The file's name without its extension (``default`` for ``default.pt``)."""
        return Path(self.path).stem if self.path else "model"

    def hop_model(self) -> HopModel:
        """What the hop path reads of the model, as numpy arrays
        (:func:`caminos.models.autoencoder.hop_model`), with this checkpoint's name, path and
        descriptors: what a process without torch builds its engine from."""
        return hop_model(self.model, self.name, self.path, self.descriptors)


def plain(value: Any, where: str = "checkpoint") -> Any:
    """``value`` with numpy scalars and arrays made plain, so ``weights_only`` loading accepts it.

    Raises
    ------
    CheckpointError
        A value of another type (it would make the file unloadable); the message names where.
    """
    if isinstance(value, np.generic):  # before float: numpy.float64 is a float subclass
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, (list, tuple)):
        return [plain(v, where) for v in value]
    if isinstance(value, dict):
        # Integer keys stay integers: optimiser states are keyed by parameter index.
        return {
            (k if isinstance(k, int) else str(k)): plain(v, f"{where}.{k}")
            for k, v in value.items()
        }
    raise CheckpointError(f"{where}: cannot store a {type(value).__name__} in a checkpoint")


def save_checkpoint(
    path: str | os.PathLike,
    model: SpectralVAE,
    stft: StftConfig,
    sample_rate: int,
    descriptors: dict | None = None,
    provenance: dict | None = None,
    training: dict | None = None,
) -> None:
    """Write a checkpoint so that it appears whole or not at all.

    Parameters
    ----------
    path : path
        The file to write (``.pt`` by convention); its folder must exist.
    model : SpectralVAE
        Weights and buffers are saved from the CPU.
    stft : StftConfig
        The STFT settings of the training frames.
    sample_rate : int
        Sample rate of the training audio, in Hz.
    descriptors, provenance, training : dict, optional
        Plain types and tensors only (``weights_only`` loading accepts nothing else).

    Raises
    ------
    CheckpointError
        The folder is missing or the file cannot be written.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise CheckpointError(f"{target}: folder {target.parent} does not exist")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    data = {
        "format": FORMAT,
        "version": MANY_PITCHES_VERSION if model.shape.many_pitches else VERSION,
        "shape": model.shape.to_dict(),
        "state": state,
        "stft": {"n_fft": stft.n_fft, "hop": stft.hop, "window": stft.window},
        "sample_rate": int(sample_rate),
        "descriptors": plain(descriptors or {}, "descriptors"),
        "provenance": plain(provenance or {}, "provenance"),
        "training": plain(training or {}, "training"),
    }
    temporary = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        torch.save(data, temporary)
        os.replace(temporary, target)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if isinstance(exc, (OSError, RuntimeError)):
            raise CheckpointError(f"{target}: writing the checkpoint failed ({exc})") from None
        raise


def without_training_state(path: str | os.PathLike, out: str | os.PathLike) -> None:
    """Copy a checkpoint without its optimiser state and loss history (for shipping: a model
    trained with Adam is then a third of its size). The copy plays and can be trained from
    anew, not resumed.

    ``python -c "from caminos.models.checkpoint import without_training_state as w; w('A.pt',
    'B.pt')"``
    """
    checkpoint = load_checkpoint(path)
    provenance = dict(checkpoint.provenance, training_state="left out for shipping")
    save_checkpoint(
        out,
        checkpoint.model,
        checkpoint.stft,
        checkpoint.sample_rate,
        checkpoint.descriptors,
        provenance,
        {},
    )


def read_checkpoint_file(
    path: Path,
    fmt: str = FORMAT,
    version: int | tuple[int, ...] = READABLE_VERSIONS,
    kind: str = "autoencoder",
    missing_hint: str = "",
) -> dict:
    """The raw dict of a caminos checkpoint file of one format, or a CheckpointError saying why
    not (missing, a folder, unreadable, objects beyond tensors, another format or version).

    Parameters
    ----------
    path : Path
    fmt, version : str, int or tuple of int
        The ``format`` entry the file must carry, and the ``version`` (or versions) it may.
    kind : str
        What the checkpoint holds, for messages (``autoencoder``, ``voice``).
    missing_hint : str
        Appended to the message for a missing file (how to make one).
    """
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found{missing_hint}")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip, pickle and EOF errors all mean a damaged or foreign file
        if "unsupported global" in str(exc).lower():
            raise CheckpointError(
                f"{path}: holds objects other than tensors and plain types; "
                "refused, since loading it could run code"
            ) from None
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights only load failed" in reason.lower():
            reason = "not a torch file, or damaged"
        raise CheckpointError(
            f"{path}: not a readable checkpoint (corrupt, truncated or not saved "
            f"by torch: {reason[:200]})"
        ) from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise CheckpointError(f"{path}: not a caminos {kind} checkpoint (no format={fmt!r} entry)")
    versions = (version,) if isinstance(version, int) else tuple(version)
    if data.get("version") not in versions:
        raise CheckpointError(
            f"{path}: checkpoint format version {data.get('version')!r}; this "
            f"caminos reads version {' or '.join(map(str, versions))}"
        )
    return data


def load_checkpoint(
    path: str | os.PathLike, stft: StftConfig | None = None, sample_rate: int | None = None
) -> Checkpoint:
    """Load a checkpoint and check it against the running settings.

    Parameters
    ----------
    path : path
        The checkpoint file.
    stft : StftConfig, optional
        The running STFT settings; a checkpoint with other ``n_fft``, ``hop`` or ``window`` is
        refused. ``None`` skips the check (inspection tools).
    sample_rate : int, optional
        The running sample rate in Hz; checked likewise.

    Returns
    -------
    Checkpoint

    Raises
    ------
    CheckpointError
        Missing, corrupt or truncated file; not a caminos checkpoint; weights that do not fit
        the stored shape; STFT settings or sample rate differing from the running ones (the
        message lists each difference and how to resolve it).
    """
    file = Path(path)
    data = read_checkpoint_file(file)
    try:
        shape = ModelShape.from_dict(data["shape"])
        saved_stft = StftConfig(**{k: data["stft"][k] for k in ("n_fft", "hop", "window")})
        saved_rate = int(data["sample_rate"])
        model = SpectralVAE(shape)
        model.load_state_dict(data["state"])
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(
            f"{file}: damaged caminos checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''})"
        ) from None
    differences = []
    if stft is not None:
        for key in ("n_fft", "hop", "window"):
            if getattr(stft, key) != getattr(saved_stft, key):
                differences.append(
                    f"stft.{key} is {getattr(saved_stft, key)!r} in the checkpoint "
                    f"but {getattr(stft, key)!r} in the running configuration"
                )
    if sample_rate is not None and int(sample_rate) != saved_rate:
        differences.append(
            f"audio.sample_rate is {saved_rate} in the checkpoint but "
            f"{int(sample_rate)} in the running configuration"
        )
    if differences:
        raise CheckpointError(
            f"{file}: does not match the running configuration: "
            + "; ".join(differences)
            + ". Set these keys to the checkpoint's "
            "values or train a model with the running ones."
        )
    model.eval()
    return Checkpoint(
        model=model,
        stft=saved_stft,
        sample_rate=saved_rate,
        descriptors=data.get("descriptors") or {},
        provenance=data.get("provenance") or {},
        training=data.get("training") or {},
        path=str(file),
    )


def peek(path: str | os.PathLike) -> dict[str, Any]:
    """The stored settings of a checkpoint without building its model (for ``caminos doctor``)."""
    data = read_checkpoint_file(Path(path))
    return {
        "shape": data.get("shape"),
        "stft": data.get("stft"),
        "sample_rate": data.get("sample_rate"),
        "provenance": data.get("provenance"),
    }
