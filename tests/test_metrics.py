"""Tests of engine.metrics against naive references and known cases, and a benchmark smoke test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.corpus import PERTURBATIONS, load_corpus, perturb
from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.metrics import (
    estimate_magnitudes,
    log_spectral_distance_db,
    spectral_convergence_db,
)
from caminos.engine.dsp.spectral import istft, stft

CFG = StftConfig(n_fft=512, hop=128)
ROOT = Path(__file__).resolve().parent.parent


def naive_sc_db(estimate_mags: np.ndarray, target: np.ndarray) -> float:
    """Spectral convergence written out with loops over frames and bins."""
    num = den = 0.0
    for m in range(target.shape[0]):
        for k in range(target.shape[1]):
            num += (estimate_mags[m, k] - target[m, k]) ** 2
            den += target[m, k] ** 2
    return 20.0 * np.log10(np.sqrt(num) / np.sqrt(den))


def naive_lsd_db(estimate_mags: np.ndarray, target: np.ndarray, floor_db: float) -> float:
    """Log-spectral distance written out with loops over frames and bins."""
    floor = target.max() * 10.0 ** (floor_db / 20.0)
    per_frame = []
    for m in range(target.shape[0]):
        acc = 0.0
        for k in range(target.shape[1]):
            acc += (20.0 * np.log10((estimate_mags[m, k] + floor) / (target[m, k] + floor))) ** 2
        per_frame.append(np.sqrt(acc / target.shape[1]))
    return float(np.mean(per_frame))


@pytest.fixture
def signal(rng: np.random.Generator) -> np.ndarray:
    """0.2 s of white noise plus a 1 kHz sine, 48 kHz."""
    t = np.arange(9600) / 48_000
    return 0.1 * rng.standard_normal(len(t)) + 0.5 * np.sin(2 * np.pi * 1000.0 * t)


def test_sc_and_lsd_match_naive_reference(signal: np.ndarray, rng: np.random.Generator) -> None:
    target = np.abs(stft(signal, CFG))
    other = signal + 0.05 * rng.standard_normal(len(signal))
    other_mags = np.abs(stft(other, CFG))
    assert spectral_convergence_db(other, target, CFG) == pytest.approx(
        naive_sc_db(other_mags, target), abs=1e-9
    )
    assert log_spectral_distance_db(other, target, CFG, floor_db=-60.0) == pytest.approx(
        naive_lsd_db(other_mags, target, -60.0), abs=1e-9
    )


def test_identical_estimate(signal: np.ndarray) -> None:
    target = np.abs(stft(signal, CFG))
    assert spectral_convergence_db(target, target, CFG) == -np.inf
    assert spectral_convergence_db(signal, target, CFG) == -np.inf
    # complex frames are synthesised and analysed again: only rounding error remains
    assert spectral_convergence_db(stft(signal, CFG), target, CFG, length=len(signal)) < -250.0
    assert log_spectral_distance_db(signal, target, CFG) == 0.0


def test_scaled_by_two(signal: np.ndarray) -> None:
    target = np.abs(stft(signal, CFG)) + 1e-3  # no bin near the floor
    assert spectral_convergence_db(2.0 * target, target, CFG) == pytest.approx(0.0, abs=1e-12)
    assert log_spectral_distance_db(2.0 * target, target, CFG, floor_db=-300.0) == pytest.approx(
        20.0 * np.log10(2.0), abs=1e-9
    )
    assert spectral_convergence_db(0.5 * target, target, CFG) == pytest.approx(
        20.0 * np.log10(0.5), abs=1e-12
    )


def test_silent_estimate_is_zero_db(signal: np.ndarray) -> None:
    target = np.abs(stft(signal, CFG))
    assert spectral_convergence_db(np.zeros(len(signal)), target, CFG) == pytest.approx(0.0)


def test_floor_bounds_lsd_of_silence(signal: np.ndarray) -> None:
    """Against silence every bin's error is at most -floor_db, so LSD <= |floor_db|."""
    target = np.abs(stft(signal, CFG))
    lsd = log_spectral_distance_db(np.zeros_like(target), target, CFG, floor_db=-40.0)
    assert 0.0 < lsd <= 40.0


def test_random_phase_is_worse_than_true_phase(
    signal: np.ndarray, rng: np.random.Generator
) -> None:
    spectrum = stft(signal, CFG)
    target = np.abs(spectrum)
    scrambled = target * np.exp(2j * np.pi * rng.random(target.shape))
    sc = spectral_convergence_db(scrambled, target, CFG, length=len(signal))
    assert -15.0 < sc < -1.0
    assert log_spectral_distance_db(scrambled, target, CFG, length=len(signal)) > 1.0


def test_frame_count_mismatch_pads_with_silence(signal: np.ndarray) -> None:
    target = np.abs(stft(signal, CFG))
    short = target[:-5]
    padded = estimate_magnitudes(short, CFG, len(target))
    assert padded.shape == target.shape and np.all(padded[-5:] == 0.0)
    assert (
        estimate_magnitudes(istft(stft(signal, CFG), CFG), CFG, len(target)).shape == target.shape
    )


def test_bad_inputs_are_rejected(signal: np.ndarray) -> None:
    target = np.abs(stft(signal, CFG))
    with pytest.raises(ParameterError, match="estimate"):
        spectral_convergence_db(np.zeros((3, 7)), target, CFG)
    with pytest.raises(ParameterError, match="target_magnitudes"):
        spectral_convergence_db(signal, -target, CFG)
    with pytest.raises(ParameterError, match="floor_db"):
        log_spectral_distance_db(signal, target, CFG, floor_db=3.0)


@pytest.mark.parametrize("kind", PERTURBATIONS)
def test_perturbations_are_seeded_and_sized(kind: str, signal: np.ndarray) -> None:
    target = np.abs(stft(signal, CFG))
    a = perturb(target, kind, "x", seed=1)
    assert np.array_equal(a, perturb(target, kind, "x", seed=1))
    assert a.shape == target.shape and np.all(a >= 0.0)
    sc = spectral_convergence_db(a, target, CFG)
    assert -40.0 < sc < -3.0  # a damage, not a different sound
    if kind == "magnitude_noise":
        level = 20 * np.log10(a[target > 0] / target[target > 0])
        assert np.std(level) == pytest.approx(2.0, rel=0.05)


def test_corpus_signals_are_valid() -> None:
    for sig in load_corpus(seconds=0.5):
        assert sig.samples.ndim == 1 and np.all(np.isfinite(sig.samples))
        assert 0.1 < np.max(np.abs(sig.samples)) <= 1.0, sig.name


def test_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "phase.py"),
            "--quick",
            "--methods",
            "random",
            "--signals",
            "tonal",
            "speech_en",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())
    assert len(rows) == 2 * 4
    for row in rows:
        assert {
            "signal",
            "target",
            "method",
            "lookahead_frames",
            "iterations",
            "sc_db",
            "lsd_db",
            "us_per_frame_p50",
            "us_per_frame_p99",
        } <= set(row)
        assert row["method"] == "random" and -10.0 < row["sc_db"] < 0.0
        assert 0.0 < row["us_per_frame_p50"] <= row["us_per_frame_p99"]
        assert 0.0 <= row["cpu_us_per_frame_p50"] <= row["cpu_us_per_frame_p99"]
    assert "Quality: mean over signals" in result.stdout and "Cost per frame" in result.stdout


def test_benchmark_loop_matches_run_streaming() -> None:
    """The timed loop of the benchmark produces exactly what engine.phase.run_streaming does."""
    from benchmarks.phase import Spec, _time_streaming
    from caminos.engine.dsp.phase import make_streaming, run_streaming

    cfg = StftConfig()
    x = load_corpus(["tonal"], seconds=0.3)[0].samples
    spectrum = stft(x, cfg)
    mags = np.abs(spectrum)
    frames, ns, delay = _time_streaming(Spec("rtpghi", 1, None), cfg, mags, spectrum)
    expected = run_streaming(make_streaming("rtpghi", cfg, lookahead=1), mags, spectrum)
    assert delay == 1 and ns.shape == (2, len(mags) + 1)
    np.testing.assert_array_equal(frames, expected)


def test_lsd_by_level_puts_each_bin_s_error_in_the_band_of_its_true_level():
    from benchmarks.lsd_by_level import BANDS, band_errors

    true = np.full((4, 64), 10 ** (-70 / 20))  # floor: 70 dB under the peak
    true[:, 10] = 1.0  # the peak
    true[:, 20:30] = 10 ** (-20 / 20)  # in the top 40 dB
    true[:, 40:50] = 10 ** (-50 / 20)  # 40-60 dB under
    decoded = true.copy()
    decoded[:, 40:50] *= 10 ** (3 / 20)  # 3 dB too loud in the middle band only
    top, middle, floor = band_errors(true, decoded)
    assert [name for name, _, _ in BANDS][0].startswith("top 40 dB")
    assert len(top) == 4 * 11 and len(middle) == 4 * 10 and len(floor) == 4 * 43
    np.testing.assert_allclose(middle, 3.0, atol=1e-9)
    assert np.abs(top).max() < 1e-9 and np.abs(floor).max() < 1e-9


def test_held_partial_jitter_measures_flicker_only_where_the_source_holds():
    from caminos.engine.dsp.metrics import held_partial_jitter_db

    frames, bins = 40, 64
    target = np.full((frames, bins), 1e-3)
    target[:, 10] = 1.0  # a partial held steady
    target[::2, 30] = 0.5  # one that comes and goes: not held, not measured
    steady = target.copy()
    jitter, count = held_partial_jitter_db(steady, target)
    assert jitter == 0.0 and count == frames - 1
    flicker = target.copy()
    flicker[::2, 10] *= 10 ** (3 / 20)  # +3 dB every other frame
    jitter, count = held_partial_jitter_db(flicker, target)
    assert jitter == pytest.approx(3.0) and count == frames - 1
    flicker[:, 30] = 0.7  # steadying a partial that the source does not hold changes nothing
    assert held_partial_jitter_db(flicker, target)[0] == pytest.approx(3.0)
