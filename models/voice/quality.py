"""Quality measures of the voice: mel-cepstral distortion between envelopes.

Used by training (validation), the model card and ``benchmarks/voice.py``. The envelope bands
are mel-spaced, so a DCT of their log amplitude is a mel-cepstrum; the distortion is the usual
``(10 / ln 10) * sqrt(2 * sum_d (c_d - c'_d)**2)`` over coefficients 1 to 24 (energy excluded),
averaged over the hops where the reference is not silent.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.fft import dct

N_CEPSTRA = 24
SILENCE_DB = 60.0  # hops this far below the loudest hop of the reference are left out


def mel_cepstrum(log_power: np.ndarray, n: int = N_CEPSTRA) -> np.ndarray:
    """Coefficients 1..n of the mel-cepstrum of each hop's bands.

    Scaled as the real cepstrum (``log|X| = c0 + 2 sum_n c_n cos(...)``, i.e. the DCT-II over
    ``2 * n_bands``), the convention under which MCD values of different systems compare.
    """
    x = 0.5 * np.asarray(log_power, dtype=np.float64)
    return dct(x, type=2, axis=-1)[..., 1 : n + 1] / (2.0 * x.shape[-1])


def mcd_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Mean mel-cepstral distortion in dB between two aligned envelope sequences.

    Parameters
    ----------
    reference, estimate : ndarray, shape (n_hops, n_bands)
        Natural log of band power, hop-aligned.
    """
    if reference.shape != estimate.shape:
        raise ValueError(f"mcd_db: shapes differ, {reference.shape} and {estimate.shape}")
    energy = reference.max(axis=1)
    keep = energy > energy.max() - SILENCE_DB * math.log(10) / 10
    diff = mel_cepstrum(reference[keep]) - mel_cepstrum(estimate[keep])
    return float(np.mean(10.0 / math.log(10) * np.sqrt(2.0 * np.sum(diff**2, axis=1))))
