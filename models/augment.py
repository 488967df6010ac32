"""Augmentation of training frames: each batch of log-magnitude frames heard another way.

Every function takes and returns natural-log magnitudes (:func:`~caminos.models.autoencoder.
log_magnitude`, floor included), shape ``(n, frames * n_bins)`` with any context stacked, and
draws its randomness from torch's generator, so a seeded training run repeats. The model's pitch
channels are measured from the augmented frames themselves (``SpectralVAE.forward`` analyses its
input), so a transposed or mixed frame carries channels that describe it.
"""

from __future__ import annotations

import torch

from caminos.models.autoencoder import linear_magnitude
from caminos.models.shape import MAGNITUDE_FLOOR


def random_gain(batch: torch.Tensor, gain_db: float) -> torch.Tensor:
    """Log-magnitude inputs as if each frame were played ``U(-gain_db, gain_db)`` dB louder."""
    gains = torch.empty(len(batch), 1, device=batch.device).uniform_(-gain_db, gain_db)
    return torch.log(linear_magnitude(batch) * 10.0 ** (gains / 20.0) + MAGNITUDE_FLOOR)


def random_mix(batch: torch.Tensor, probability: float, most_db: float = 12.0) -> torch.Tensor:
    """Each row, with ``probability``, mixed with another row of the batch played
    ``U(-most_db, 0)`` dB quieter: magnitudes add (their floor counted once), every frame of a
    context stack with its partner's same frame."""
    n = len(batch)
    chosen = torch.rand(n, 1, device=batch.device) < probability
    partner = batch[torch.randperm(n, device=batch.device)]
    gains = 10.0 ** (torch.empty(n, 1, device=batch.device).uniform_(-most_db, 0.0) / 20.0)
    mixed = torch.log(linear_magnitude(batch) + gains * linear_magnitude(partner) + MAGNITUDE_FLOOR)
    return torch.where(chosen, mixed, batch)


def random_transpose(batch: torch.Tensor, n_bins: int, most_semitones: float) -> torch.Tensor:
    """:func:`transpose_spectra` of each frame by a random ``U(-most_semitones, most_semitones)``
    semitones, as if each were played that much higher or lower."""
    semitones = torch.empty(len(batch), device=batch.device).uniform_(
        -most_semitones, most_semitones
    )
    return transpose_spectra(batch, n_bins, semitones)


def transpose_spectra(batch: torch.Tensor, n_bins: int, semitones: torch.Tensor) -> torch.Tensor:
    """Log-magnitude frames stretched along frequency by ``semitones`` each.

    Bin ``k`` of the result takes the magnitude at bin ``k / r`` of the input (``r = 2**(s /
    12)``), linearly interpolated between bins; above the input's last bin it keeps that bin's
    value. Partials move with the pitch and so do the formants (a resampling, not a
    formant-preserving shift); a 3-semitone stretch widens each partial's main lobe by 19 %.

    Parameters
    ----------
    batch : Tensor, shape (n, frames * n_bins)
        Natural-log magnitudes; every frame of a context stack is stretched by the same ratio.
    n_bins : int
        Bins per frame.
    semitones : Tensor, shape (n,)
        Stretch of each row, in semitones (positive: higher).
    """
    frames = batch.reshape(len(batch), -1, n_bins)
    ratio = 2.0 ** (semitones.reshape(-1, 1, 1).to(batch.dtype) / 12.0)
    bins = torch.arange(n_bins, device=batch.device, dtype=batch.dtype)
    source = torch.clamp(bins / ratio, max=n_bins - 1.0)
    below = torch.clamp(source.floor().long(), max=n_bins - 2)
    fraction = (source - below).expand(-1, frames.shape[1], -1)
    below = below.expand(-1, frames.shape[1], -1)
    low = torch.gather(frames, 2, below)
    high = torch.gather(frames, 2, below + 1)
    return (low + fraction * (high - low)).reshape(batch.shape)


def random_stretch(
    batch: torch.Tensor, following: torch.Tensor, probability: float
) -> torch.Tensor:
    """Each row, with ``probability``, replaced by a frame between it and the one after it.

    A time stretch by frame interpolation: slowed down, a sound passes through frames between
    its analysed ones, each ``(1 - a) |X_t| + a |X_t+1|`` with ``a ~ U(0, 1)`` (magnitudes
    interpolate, as a phase vocoder's stretch draws them). Onsets and glides are where it adds
    frames the folder does not hold.

    Parameters
    ----------
    batch : Tensor, shape (n, frames * n_bins)
        The rows' log-magnitudes.
    following : Tensor, shape (n, frames * n_bins)
        The log-magnitudes of the frame after each row in its file (the row itself at a file's
        end), context stacked the same way.
    probability : float
        Share of rows replaced, 0 to 1.
    """
    n = len(batch)
    chosen = torch.rand(n, 1, device=batch.device) < probability
    a = torch.rand(n, 1, device=batch.device, dtype=batch.dtype)
    between = torch.log(
        (1.0 - a) * linear_magnitude(batch) + a * linear_magnitude(following) + MAGNITUDE_FLOOR
    )
    return torch.where(chosen, between, batch)
