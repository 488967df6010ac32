"""Synthetic test signals shared by the phase-recovery tests (48 kHz mono, float64)."""

from __future__ import annotations

import numpy as np

from caminos.engine.core.config import StftConfig
from caminos.engine.dsp import metrics

SAMPLE_RATE = 48_000


def vibrato_tone(seconds: float = 1.0, f0_hz: float = 220.0) -> np.ndarray:
    """Seven harmonics with 1 % vibrato at 5 Hz, amplitude 1/h."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f = f0_hz * (1.0 + 0.01 * np.sin(2 * np.pi * 5.0 * t))
    phase = 2 * np.pi * np.cumsum(f) / SAMPLE_RATE
    return 0.2 * sum(np.sin(h * phase) / h for h in range(1, 8))


def chirp(seconds: float = 1.0) -> np.ndarray:
    """Linear sweep from 100 Hz to 8 kHz."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return 0.3 * np.sin(2 * np.pi * (100.0 * t + (8000.0 - 100.0) / (2 * seconds) * t**2))


def noise_and_clicks(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """White noise at -20 dBFS RMS with a click every 0.25 s."""
    x = 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE))
    x[:: SAMPLE_RATE // 4] += 0.9
    return x


def spectral_convergence_db(spectrogram: np.ndarray, target: np.ndarray, cfg: StftConfig) -> float:
    """SC of the signal synthesised from ``spectrogram`` against target magnitudes, in dB."""
    return float(metrics.spectral_convergence_db(spectrogram, target, cfg))
