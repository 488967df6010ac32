"""Partial survival (engine.metrics.partial_survival) on hand-made spectra and a real analysis."""

from __future__ import annotations

import numpy as np
import pytest

from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.metrics import partial_counts, partial_survival
from caminos.engine.dsp.spectral import stft

CFG = StftConfig()  # n_fft 1024, hop 256, Hann: the definition's own framing


def comb(n_frames: int = 4, peaks=(40, 80, 120, 200), level: float = 1.0) -> np.ndarray:
    """Frames of isolated one-bin partials on a floor 60 dB down."""
    mags = np.full((n_frames, CFG.n_bins), 1e-3 * level)
    mags[:, list(peaks)] = level
    return mags


def test_identical_spectra_keep_every_partial() -> None:
    target = comb()
    assert partial_survival(target, target, CFG) == 1.0
    assert partial_counts(target, target) == (16, 16)


def test_a_partial_moved_two_bins_does_not_survive() -> None:
    target = comb()
    moved = comb(peaks=(42, 80, 120, 200))
    assert partial_survival(moved, target, CFG) == pytest.approx(0.75)


def test_a_partial_moved_one_bin_survives() -> None:
    target = comb()
    assert partial_survival(comb(peaks=(41, 81, 119, 201)), target, CFG) == 1.0


def test_three_db_quieter_survives_and_seven_db_does_not() -> None:
    target = comb()
    assert partial_survival(target * 10 ** (-3 / 20), target, CFG) == 1.0
    assert partial_survival(target * 10 ** (-7 / 20), target, CFG) == 0.0


def test_a_smeared_partial_does_not_survive() -> None:
    """The same energy spread over 21 bins is 13 dB lower at the peak."""
    target = comb(peaks=(100,))
    smeared = np.full_like(target, 1e-3)
    smeared[:, 90:111] = np.sqrt(1.0 / 21)
    assert partial_survival(smeared, target, CFG) == 0.0


def test_only_loud_frames_and_loud_peaks_count() -> None:
    target = comb(n_frames=2)
    target[1] *= 10 ** (-40 / 20)  # a frame 40 dB below the loudest is left out
    target[0, 300] = 10 ** (-45 / 20)  # a peak 45 dB below its frame's maximum is no partial
    assert partial_counts(target, target) == (4, 4)


def test_through_a_real_analysis() -> None:
    """A harmonic tone's partials survive their own analysis and are lost to noise at -20 dB."""
    rate = 48_000
    t = np.arange(rate) / rate
    x = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 11))
    target = np.abs(stft(x, CFG))
    assert partial_survival(x, target, CFG, length=len(x)) == 1.0
    quiet_noise = (
        0.1 * target.mean() * np.abs(np.random.default_rng(0).standard_normal(target.shape))
    )
    assert partial_survival(quiet_noise, target, CFG) < 0.05


def test_silence_and_bad_thresholds() -> None:
    silent = np.zeros((3, CFG.n_bins))
    assert np.isnan(partial_survival(silent, silent, CFG))
    with pytest.raises(ParameterError):
        partial_survival(comb(), comb(), CFG, tolerance_db=0.0)
