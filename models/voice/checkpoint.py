"""Voice checkpoints: the acoustic model with its alphabet, languages, styles and STFT settings.

Written by :mod:`caminos.models.voice.train`, read by
:class:`~caminos.models.voice.stream.VoiceStream`. One
``torch.save`` file of tensors and plain types, loaded with ``weights_only=True``; refused with
a :class:`~caminos.engine.core.errors.CheckpointError` naming the file when it is missing, corrupt,
not a
voice checkpoint, or made for other STFT settings or another sample rate than the running ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import CheckpointError
from caminos.models.checkpoint import read_checkpoint_file
from caminos.models.voice.acoustic import VoiceModel, VoiceNormaliser, VoiceShape

FORMAT = "caminos-voice"
VERSION = 2  # 2: intonation output and spread


@dataclass
class VoiceCheckpoint:
    """A loaded voice model.

    Attributes
    ----------
    model : VoiceModel
        In evaluation mode.
    normaliser : VoiceNormaliser
    phonemes : tuple of str
        The model's alphabet; index 0 is padding, 1 unknown.
    languages : tuple of str
        Language codes in embedding order.
    styles : tuple of str
        espeak-ng variants the styles were trained on, in embedding order.
    stft : StftConfig
    sample_rate : int
        In Hz.
    provenance : dict
        Command, corpus, training time, metrics.
    path : str
    """

    model: VoiceModel
    normaliser: VoiceNormaliser
    phonemes: tuple[str, ...]
    languages: tuple[str, ...]
    styles: tuple[str, ...]
    stft: StftConfig
    sample_rate: int
    provenance: dict = field(default_factory=dict)
    path: str = ""

    def phoneme_ids(self, mnemonics) -> np.ndarray:
        """Indices of mnemonics; unknown ones map to index 1."""
        index = {p: i for i, p in enumerate(self.phonemes)}
        return np.array([index.get(p, 1) for p in mnemonics], dtype=np.int64)


def save_voice_checkpoint(
    path: str | os.PathLike,
    model: VoiceModel,
    normaliser: VoiceNormaliser,
    phonemes,
    languages,
    styles,
    stft: StftConfig,
    sample_rate: int,
    provenance: dict,
) -> None:
    """Write a checkpoint atomically (a temporary file renamed over ``path``)."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "shape": model.shape.as_dict(),
        "state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "norm_mean": torch.from_numpy(np.asarray(normaliser.mean, dtype=np.float64)),
        "norm_std": torch.from_numpy(np.asarray(normaliser.std, dtype=np.float64)),
        "intonation_spread_st": float(normaliser.intonation_spread_st),
        "phonemes": list(phonemes),
        "languages": list(languages),
        "styles": list(styles),
        "stft": {"n_fft": stft.n_fft, "hop": stft.hop, "window": stft.window},
        "sample_rate": int(sample_rate),
        "provenance": provenance,
    }
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, target)


def load_voice_checkpoint(
    path: str | os.PathLike,
    stft: StftConfig | None = None,
    sample_rate: int | None = None,
    device: torch.device | str = "cpu",
) -> VoiceCheckpoint:
    """Load and check a voice checkpoint.

    Parameters
    ----------
    path : path
    stft, sample_rate : optional
        The running settings; a checkpoint trained with others is refused.
    device : torch device

    Raises
    ------
    CheckpointError
        Missing, unreadable, not a voice checkpoint, another version, or mismatched settings.
    """
    where = os.fspath(path)
    data = read_checkpoint_file(
        Path(where),
        FORMAT,
        VERSION,
        "voice",
        missing_hint=("; train one with `caminos train voice --data espeak --out PATH`"),
    )
    saved = StftConfig(**data["stft"])
    if stft is not None and (saved.n_fft, saved.hop, saved.window) != (
        stft.n_fft,
        stft.hop,
        stft.window,
    ):
        raise CheckpointError(
            f"{where}: trained with n_fft={saved.n_fft}, hop={saved.hop}; the "
            f"configuration has n_fft={stft.n_fft}, hop={stft.hop}; retrain "
            "or change [stft]"
        )
    if sample_rate is not None and data["sample_rate"] != sample_rate:
        raise CheckpointError(
            f"{where}: trained at {data['sample_rate']} Hz; the configuration "
            f"runs at {sample_rate} Hz; retrain or change audio.sample_rate"
        )
    try:
        model = VoiceModel(VoiceShape(**data["shape"]))
        model.load_state_dict(data["state"])
    except (TypeError, RuntimeError, KeyError) as exc:
        raise CheckpointError(
            f"{where}: weights do not match the voice model ({str(exc)[:200]})"
        ) from None
    model.eval().to(device)
    return VoiceCheckpoint(
        model=model,
        normaliser=VoiceNormaliser(
            data["norm_mean"].numpy(), data["norm_std"].numpy(), float(data["intonation_spread_st"])
        ),
        phonemes=tuple(data["phonemes"]),
        languages=tuple(data["languages"]),
        styles=tuple(data["styles"]),
        stft=saved,
        sample_rate=int(data["sample_rate"]),
        provenance=dict(data.get("provenance", {})),
        path=where,
    )
