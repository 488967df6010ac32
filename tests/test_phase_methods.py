"""Contracts every phase-recovery method keeps, plus FGLA against librosa's Griffin-Lim."""

from __future__ import annotations

import tracemalloc

import librosa
import numpy as np
import pytest

from caminos.engine.core.config import PhaseConfig, StftConfig
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.phase import STREAMING_METHODS, make_streaming, reconstruct, run_streaming
from caminos.engine.dsp.phase.griffin_lim import fgla
from caminos.engine.dsp.phase.pghi import pghi
from caminos.engine.dsp.spectral import stft
from tests.signals import chirp, spectral_convergence_db, vibrato_tone

CFG = StftConfig()
# Small settings keep the iterative methods quick in tests.
FAST = PhaseConfig(lookahead=2, iterations=4)
ITERATIVE_OR_INTEGRATING = [m for m in STREAMING_METHODS if m not in ("input", "random")]


@pytest.fixture(scope="module")
def tone() -> tuple[np.ndarray, np.ndarray]:
    complex_frames = stft(vibrato_tone(0.5), CFG)
    return np.abs(complex_frames), complex_frames


@pytest.mark.parametrize("method", STREAMING_METHODS)
def test_output_keeps_the_target_magnitude(method: str, tone) -> None:
    target, reference = tone
    got = reconstruct(target, method, CFG, FAST, reference=reference)
    np.testing.assert_allclose(np.abs(got), target, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", STREAMING_METHODS)
def test_lookahead_contract(method: str) -> None:
    phase = make_streaming(method, CFG, FAST)
    out = np.zeros(CFG.n_bins, dtype=np.complex128)
    loud, silence = np.ones(CFG.n_bins), np.zeros(CFG.n_bins)
    reference = np.ones(CFG.n_bins, dtype=np.complex128)
    peaks = []
    for m in range(6):
        phase.process(loud if m == 1 else silence, out, reference)
        peaks.append(float(np.abs(out).max()))
    expected = [0.0] * 6
    expected[1 + phase.lookahead_frames] = 1.0
    np.testing.assert_allclose(peaks, expected, atol=1e-9)


@pytest.mark.parametrize("method", STREAMING_METHODS)
@pytest.mark.parametrize("scale", [0.0, 1e-30, 1e12])
def test_output_is_finite_for_silence_and_extreme_levels(method: str, scale: float, tone) -> None:
    target, reference = tone
    got = reconstruct(target * scale, method, CFG, FAST, reference=reference)
    assert np.all(np.isfinite(got))


@pytest.mark.parametrize("method", STREAMING_METHODS)
def test_reset_repeats_the_output_exactly(method: str, tone) -> None:
    target, reference = tone
    phase = make_streaming(method, CFG, FAST)
    first = run_streaming(phase, target[:40], reference[:40])
    phase.reset()
    second = run_streaming(phase, target[:40], reference[:40])
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("method", STREAMING_METHODS)
def test_process_allocates_nothing_after_warm_up(method: str, tone) -> None:
    target, reference = tone
    phase = make_streaming(method, CFG, FAST)
    out = np.zeros(CFG.n_bins, dtype=np.complex128)
    frames = np.ascontiguousarray(target)
    for m in range(20):
        phase.process(frames[m], out, reference[m])
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for m in range(20, 120):
        phase.process(frames[m % len(frames)], out, reference[m % len(frames)])
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 2048, f"{method}: {grown} bytes retained over 100 frames"


@pytest.mark.parametrize("method", ITERATIVE_OR_INTEGRATING)
def test_every_method_beats_random_phase_by_far(method: str, tone) -> None:
    target, _ = tone
    random_sc = spectral_convergence_db(reconstruct(target, "random", CFG), target, CFG)
    got_sc = spectral_convergence_db(reconstruct(target, method, CFG, FAST), target, CFG)
    assert got_sc < random_sc - 15.0, (method, got_sc, random_sc)


def test_input_phase_reconstructs_the_source_exactly(tone) -> None:
    target, reference = tone
    got = reconstruct(target, "input", CFG, reference=reference)
    np.testing.assert_allclose(got, reference, atol=1e-9)


def test_input_phase_without_a_reference_is_a_clear_error(tone) -> None:
    target, _ = tone
    with pytest.raises(ParameterError, match="own phase"):
        reconstruct(target, "input", CFG)


def test_unknown_and_offline_names_are_clear_errors() -> None:
    with pytest.raises(ParameterError, match="unknown phase method 'gla2'"):
        make_streaming("gla2", CFG)
    with pytest.raises(ParameterError, match="offline only"):
        make_streaming("fgla", CFG)


def test_fgla_without_momentum_equals_librosa_griffin_lim() -> None:
    # Plain GLA from zero phase, on the same frame grid: librosa's center=False framing is ours
    # once the known-silent start is not enforced.
    target = np.abs(stft(chirp(0.25), CFG))
    ours = fgla(target, CFG, n_iter=6, momentum=0.0, initial="zeros", silent_start=False)
    signal = librosa.griffinlim(
        target.T,
        n_iter=5,
        hop_length=CFG.hop,
        win_length=CFG.n_fft,
        n_fft=CFG.n_fft,
        window="hann",
        center=False,
        momentum=0.0,
        init=None,
    )
    ref = librosa.stft(signal, n_fft=CFG.n_fft, hop_length=CFG.hop, window="hann", center=False).T
    # librosa returns the signal of its 5th iterate, whose STFT is our 6th projection. Its
    # istft normalises the edges by the actual window sum where ours assumes the periodic one;
    # that difference spreads about 3 frames per iteration, so compare the interior.
    interior = (slice(25, -25), slice(10, 200))
    np.testing.assert_allclose(np.angle(ours[interior] * np.conj(ref[interior])), 0.0, atol=1e-6)


def test_fgla_improves_on_its_pghi_start_and_momentum_helps() -> None:
    target = np.abs(stft(chirp(0.5), CFG))
    start = pghi(target, CFG)
    sc_start = spectral_convergence_db(start, target, CFG)
    sc_fgla = spectral_convergence_db(fgla(target, CFG, 30, initial=start), target, CFG)
    sc_gla = spectral_convergence_db(
        fgla(target, CFG, 30, momentum=0.0, initial=start), target, CFG
    )
    assert sc_fgla < sc_start - 3.0
    assert sc_fgla < sc_gla


def test_fgla_rejects_bad_arguments() -> None:
    target = np.ones((4, CFG.n_bins))
    with pytest.raises(ParameterError, match="momentum"):
        fgla(target, CFG, momentum=1.0)
    with pytest.raises(ParameterError, match="initial"):
        fgla(target, CFG, initial="pghi")
