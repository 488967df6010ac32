"""The image stage's kernels (engine/dsp/image.py) against numpy and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from caminos.engine.dsp.image import band_levels, envelope_error


def reference_band_levels(log_mags: np.ndarray, width: int) -> np.ndarray:
    """Half the log of the mean power of the ``width`` bins around each bin, the edges extended,
    each window summed on its own (scipy's ``uniform_filter1d`` runs a sum, whose rounding
    leaves 1e-9 nepers in a quiet band beside a loud one)."""
    half = width // 2
    powers = np.pad(np.exp(2.0 * log_mags), half, mode="edge")
    windows = sum(powers[j : j + len(log_mags)] for j in range(width))
    return 0.5 * np.log(windows / width)


@pytest.mark.parametrize("width", [3, 5, 11])
def test_band_levels_are_the_log_of_the_bands_mean_power(width: int) -> None:
    rng = np.random.default_rng(3)
    log_mags = rng.normal(0.0, 2.0, 513)
    out, powers = np.zeros(513), np.zeros(513)
    band_levels(log_mags, width, powers, out)
    np.testing.assert_allclose(out, reference_band_levels(log_mags, width), rtol=0, atol=1e-12)


def test_a_few_strong_partials_weigh_as_they_sound() -> None:
    # one bin 40 dB above four others: the band's power is the partial's, less the mean's share
    log_mags = np.full(5, np.log(0.01))
    log_mags[2] = np.log(1.0)
    out, powers = np.zeros(5), np.zeros(5)
    band_levels(log_mags, 5, powers, out)
    assert out[2] == pytest.approx(0.5 * np.log((1.0 + 4e-4) / 5.0), abs=1e-12)
    assert out[2] > np.log(1.0) - 0.9  # a mean of logs would read log(0.01) + 0.2 * 4.6: -3.7


def test_a_silent_band_beside_a_loud_one_stays_finite_and_ordered() -> None:
    log_mags = np.full(513, np.log(1e-3))  # the model's floor
    log_mags[100:110] = 12.0  # the ceiling of a decoded frame
    out, powers = np.zeros(513), np.zeros(513)
    band_levels(log_mags, 5, powers, out)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[300:], np.log(1e-3), atol=1e-9)
    np.testing.assert_allclose(out, reference_band_levels(log_mags, 5), atol=1e-9)


def test_the_envelope_error_is_the_decoded_band_level_less_the_sources() -> None:
    rng = np.random.default_rng(4)
    source_log = rng.normal(-1.0, 1.5, 513).astype(np.float32)
    decoded = np.exp(source_log.astype(np.float64)) * 2.0  # 6 dB too loud everywhere
    floor = 1e-3
    scratch, envelope, out = np.zeros(513), np.zeros(513), np.zeros(513)
    envelope_error(decoded, floor, source_log, 5, scratch, envelope, out)
    expected = reference_band_levels(np.log(decoded + floor), 5) - reference_band_levels(
        source_log.astype(np.float64), 5
    )
    np.testing.assert_allclose(out, expected, atol=1e-9)
    assert np.median(out) == pytest.approx(np.log(2.0), abs=0.01)
