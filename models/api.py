"""What the engine may ask of the models: read a sound, its log frames, its latent trajectory.

The small surface through which the engine's layers above the models (navigation's landmarks,
the commands) use a trained autoencoder, so that none of them reaches into training code or the
command line. ``DEFAULT_CHECKPOINT`` is the shipped model (package data in an install).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from caminos.engine.core.config import Config
from caminos.engine.dsp.audio_io import read_audio
from caminos.engine.dsp.spectral import stft
from caminos.models.autoencoder import log_magnitude, stack_context

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "default.pt"


def read_mono(path: str | os.PathLike, config: Config) -> np.ndarray:
    """A sound file as mono float64 at the configured rate (channels averaged)."""
    samples, _ = read_audio(path, config.audio.sample_rate)
    return samples.mean(axis=1)


def log_frames(x: np.ndarray, config: Config) -> np.ndarray:
    """A mono signal's natural-log STFT magnitudes as the model reads them (floor added),
    shape (n_frames, n_bins), float32."""
    return log_magnitude(np.abs(stft(x, config.stft))).astype(np.float32)


def latent_trajectory(
    x: np.ndarray, checkpoint, config: Config, frames: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Encode a mono signal frame by frame.

    Parameters
    ----------
    x : ndarray, shape (n_samples,), float64
        The signal at ``config.audio.sample_rate``.
    checkpoint : Checkpoint
        A loaded autoencoder (:func:`caminos.models.checkpoint.load_checkpoint`).
    config : Config
        STFT settings and the sample rate.
    frames : ndarray, optional
        ``log_frames(x, config)`` when the caller has them already.

    Returns
    -------
    latent : ndarray, shape (n_frames, latent_dim), float32
        Rotated latent coordinates (not yet in std units).
    times_s : ndarray, shape (n_frames,), float64
        Centre of each frame's window in the signal, in seconds (negative for the first frames,
        whose window starts before the signal).
    """
    if frames is None:
        frames = log_frames(x, config)
    inputs = stack_context(frames, checkpoint.model.shape.context)
    latent = checkpoint.model.encode_numpy(inputs, stream=True)  # read in order, as played
    n = np.arange(len(frames))
    times = n * config.stft.hop - (config.stft.n_fft - config.stft.hop) + config.stft.n_fft / 2
    return latent, times / config.audio.sample_rate
