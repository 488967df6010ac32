"""The acoustic model: phonemes to durations and per-hop spectral envelope and aperiodicity.

Non-autoregressive and small (about 0.6 M parameters): phoneme, language and style embeddings go
through a convolutional encoder over the phoneme sequence, which predicts each phoneme's
duration in hops; the encoding is repeated over those hops with the position inside the phoneme,
and a convolutional decoder gives each hop's envelope (log power in
:data:`~caminos.models.voice.frame_rows.N_BANDS` bands), aperiodicity and intonation (pitch relative
to the phrase, in units the ``range`` control scales). Absolute pitch is not an output: it is given
from outside when :class:`~caminos.models.voice.envelope.FrameRenderer` turns these frames into
magnitude frames, so pitch controls are exact (with range 0, exactly the pitch asked for).
Convolutions see one phrase at a time, which bounds the look-ahead to the phrase being spoken.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from caminos.models.voice.frame_rows import N_BANDS

PAD, UNKNOWN = "<pad>", "<unk>"


@dataclass(frozen=True)
class VoiceShape:
    """Sizes of a :class:`VoiceModel`; stored in checkpoints.

    Attributes
    ----------
    n_phonemes, n_languages, n_styles : int
        Embedding rows.
    n_bands : int
        Envelope bands.
    width : int
        Channels of every layer.
    kernel : int
        Convolution kernel size in phonemes (encoder) and hops (decoder), odd.
    """

    n_phonemes: int
    n_languages: int
    n_styles: int
    n_bands: int = N_BANDS
    width: int = 128
    kernel: int = 5

    def as_dict(self) -> dict:
        return asdict(self)


class _ConvBlock(nn.Module):
    """Residual 1-D convolution with ReLU and layer normalisation over channels."""

    def __init__(self, width: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(width, width, kernel, padding=kernel // 2)
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        y = torch.relu(self.conv(x)) + x
        return self.norm(y.transpose(1, 2)).transpose(1, 2)


class VoiceModel(nn.Module):
    """Phonemes, languages and a style to durations, envelopes and aperiodicities.

    Parameters
    ----------
    shape : VoiceShape
    """

    def __init__(self, shape: VoiceShape) -> None:
        super().__init__()
        self.shape = shape
        w = shape.width
        self.phoneme = nn.Embedding(shape.n_phonemes, w, padding_idx=0)
        self.language = nn.Embedding(shape.n_languages, w)
        self.style = nn.Embedding(shape.n_styles, w)
        self.encoder = nn.Sequential(*[_ConvBlock(w, shape.kernel) for _ in range(3)])
        self.duration = nn.Conv1d(w, 1, 1)
        self.frame_in = nn.Conv1d(w + 2, w, 1)
        self.decoder = nn.Sequential(*[_ConvBlock(w, shape.kernel) for _ in range(3)])
        self.out = nn.Conv1d(w, 2 * shape.n_bands + 1, 1)

    def encode(
        self, phonemes: torch.Tensor, languages: torch.Tensor, style: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode phonemes.

        Parameters
        ----------
        phonemes, languages : LongTensor, shape (B, P)
            Phoneme and language index of each phoneme.
        style : LongTensor, shape (B,)

        Returns
        -------
        encoding : Tensor, shape (B, width, P)
        log_duration : Tensor, shape (B, P)
            ``log(1 + hops)`` predicted for each phoneme.
        """
        x = self.phoneme(phonemes) + self.language(languages) + self.style(style)[:, None, :]
        x = self.encoder(x.transpose(1, 2))
        return x, self.duration(x)[:, 0]

    def decode(
        self, encoding: torch.Tensor, frame_phoneme: torch.Tensor, frame_position: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames from an encoding and an alignment.

        Parameters
        ----------
        encoding : Tensor, shape (B, width, P)
        frame_phoneme : LongTensor, shape (B, T)
            Index of the phoneme each hop belongs to.
        frame_position : Tensor, shape (B, T)
            Position of the hop inside its phoneme, 0 at its start to 1 at its end.

        Returns
        -------
        log_power_norm : Tensor, shape (B, T, n_bands)
            Envelope, normalised (see :class:`VoiceNormaliser`).
        aperiodicity : Tensor, shape (B, T, n_bands)
            In (0, 1).
        intonation : Tensor, shape (B, T)
            Pitch relative to the phrase in units of the teacher corpus's intonation spread.
        """
        index = frame_phoneme[:, None, :].expand(-1, encoding.shape[1], -1)
        frames = torch.gather(encoding, 2, index)
        position = torch.stack([frame_position, 1.0 - frame_position], dim=1)
        x = self.decoder(self.frame_in(torch.cat([frames, position], dim=1)))
        y = self.out(x).transpose(1, 2)
        n = self.shape.n_bands
        return y[..., :n], torch.sigmoid(y[..., n : 2 * n]), y[..., 2 * n]


def alignment(durations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hop-level alignment of phoneme durations.

    Parameters
    ----------
    durations : ndarray of int, shape (P,)
        Hops per phoneme (0 allowed).

    Returns
    -------
    frame_phoneme : ndarray of int64, shape (sum(durations),)
    frame_position : ndarray of float32, shape (sum(durations),)
        ``(j + 0.5) / d`` for hop ``j`` of a phoneme of ``d`` hops.
    """
    durations = np.asarray(durations, dtype=np.int64)
    frame_phoneme = np.repeat(np.arange(len(durations)), durations)
    starts = np.cumsum(durations) - durations
    inside = np.arange(len(frame_phoneme)) - starts[frame_phoneme]
    position = (inside + 0.5) / durations[frame_phoneme]
    return frame_phoneme, position.astype(np.float32)


@dataclass
class VoiceNormaliser:
    """Per-band mean and standard deviation of the teacher's log power (model targets are z-scores),
    and the teacher's intonation spread.

    Attributes
    ----------
    mean, std : ndarray, shape (n_bands,)
    intonation_spread_st : float
        Mean over teacher utterances of the 5th-to-95th percentile spread of voiced pitch, in
        semitones: the model's intonation unit, so that ``range`` semitones of the controls span
        what the teacher's average utterance spans.
    """

    mean: np.ndarray
    std: np.ndarray
    intonation_spread_st: float = 1.0

    def normalise(self, log_power: np.ndarray) -> np.ndarray:
        return (log_power - self.mean) / self.std

    def denormalise(self, z: np.ndarray) -> np.ndarray:
        return z * self.std + self.mean


@torch.no_grad()
def synthesize_phrase(
    model: VoiceModel,
    normaliser: VoiceNormaliser,
    phonemes: np.ndarray,
    languages: np.ndarray,
    style: int,
    device: torch.device | str = "cpu",
    durations: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One phrase: durations, then envelope, aperiodicity and intonation per hop.

    Parameters
    ----------
    phonemes, languages : ndarray of int, shape (P,)
    style : int
    durations : ndarray of int, shape (P,), optional
        Hops per phoneme; predicted when not given (each phoneme at least one hop).

    Returns
    -------
    durations : ndarray of int64, shape (P,)
    log_power : ndarray, shape (T, n_bands), float64
    aperiodicity : ndarray, shape (T, n_bands), float64
    intonation : ndarray, shape (T,), float64
        In units of ``normaliser.intonation_spread_st``.
    """
    p = torch.as_tensor(phonemes, dtype=torch.long, device=device)[None]
    lang = torch.as_tensor(languages, dtype=torch.long, device=device)[None]
    s = torch.tensor([style], dtype=torch.long, device=device)
    encoding, log_duration = model.encode(p, lang, s)
    if durations is None:
        durations = np.maximum(np.rint(np.expm1(log_duration[0].clamp(min=0).cpu().numpy())), 1)
    durations = np.asarray(durations, dtype=np.int64)
    frame_phoneme, position = alignment(durations)
    z, ap, intonation = model.decode(
        encoding,
        torch.as_tensor(frame_phoneme, device=device)[None],
        torch.as_tensor(position, device=device)[None],
    )
    log_power = normaliser.denormalise(z[0].double().cpu().numpy())
    return (
        durations,
        log_power,
        ap[0].double().cpu().numpy(),
        intonation[0].double().cpu().numpy(),
    )
