"""Streaming STFT analysis and overlap-add synthesis against librosa, scipy and their offline
twins."""

from __future__ import annotations

import tracemalloc

import librosa
import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.spectral import (
    OverlapAddSynthesizer,
    StftAnalyzer,
    analysis_window,
    istft,
    latency_samples,
    n_frames_for,
    stft,
    synthesis_window,
)

SETTINGS = [
    StftConfig(),
    StftConfig(n_fft=2048, hop=256),
    StftConfig(n_fft=512, hop=256),
    StftConfig(n_fft=1024, hop=128),
]


@pytest.fixture
def noise() -> np.ndarray:
    return np.random.default_rng(1234).standard_normal(20_000)


def _padded(x: np.ndarray, cfg: StftConfig) -> np.ndarray:
    n_frames = n_frames_for(len(x), cfg)
    out = np.zeros((n_frames - 1) * cfg.hop + cfg.n_fft)
    out[cfg.n_fft - cfg.hop : cfg.n_fft - cfg.hop + len(x)] = x
    return out


@pytest.mark.parametrize("cfg", SETTINGS, ids=str)
def test_stft_matches_librosa_uncentred(cfg: StftConfig, noise: np.ndarray) -> None:
    ours = stft(noise, cfg)
    ref = librosa.stft(
        _padded(noise, cfg), n_fft=cfg.n_fft, hop_length=cfg.hop, window="hann", center=False
    ).T
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-9)


@pytest.mark.parametrize("cfg", SETTINGS, ids=str)
def test_istft_inverts_stft(cfg: StftConfig, noise: np.ndarray) -> None:
    np.testing.assert_allclose(istft(stft(noise, cfg), cfg, len(noise)), noise, atol=1e-10)


@pytest.mark.parametrize("cfg", SETTINGS, ids=str)
def test_synthesis_window_is_scipys_canonical_dual(cfg: StftConfig) -> None:
    win = analysis_window(cfg)
    np.testing.assert_allclose(win, scipy.signal.get_window("hann", cfg.n_fft, fftbins=True))
    dual = scipy.signal.ShortTimeFFT(win, cfg.hop, fs=1.0).dual_win
    np.testing.assert_allclose(synthesis_window(cfg), dual, atol=1e-12)


def test_redundancy_8_reconstructs(noise: np.ndarray) -> None:
    cfg = StftConfig(n_fft=2048, hop=256)
    assert cfg.redundancy == 8
    np.testing.assert_allclose(istft(stft(noise, cfg), cfg, len(noise)), noise, atol=1e-10)


def _stream(x: np.ndarray, cfg: StftConfig, blocks: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Run x through analyzer and synthesizer in the given block sizes (cycled)."""
    analyzer, synth = StftAnalyzer(cfg), OverlapAddSynthesizer(cfg)
    frame = np.zeros(cfg.n_bins, dtype=np.complex128)
    out_block = np.zeros(8192)
    frames, outputs = [], []
    pos, i = 0, 0
    while pos < len(x):
        n = blocks[i % len(blocks)]
        analyzer.push(x[pos : pos + n])
        pos, i = pos + n, i + 1
        while analyzer.pull_frame(frame):
            frames.append(frame.copy())
            synth.push_frame(frame)
        got = synth.pull(out_block)
        outputs.append(out_block[:got].copy())
    return np.array(frames), np.concatenate(outputs)


@settings(max_examples=25, deadline=None)
@given(blocks=st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=6))
def test_streaming_analysis_equals_offline_for_any_block_sizes(blocks: list[int]) -> None:
    cfg = StftConfig()
    x = np.random.default_rng(7).standard_normal(12_000)
    frames, _ = _stream(x, cfg, blocks)
    offline = stft(x, cfg)
    assert len(frames) >= len(x) // cfg.hop
    np.testing.assert_allclose(frames, offline[: len(frames)], atol=1e-9)


@pytest.mark.parametrize("cfg", SETTINGS, ids=str)
def test_streaming_round_trip_has_the_stated_latency(cfg: StftConfig, noise: np.ndarray) -> None:
    _, y = _stream(noise, cfg, [333, 64, 1000])
    delay = latency_samples(cfg)
    assert delay == cfg.n_fft - cfg.hop
    n = len(y) - delay
    np.testing.assert_allclose(y[delay:], noise[:n], atol=1e-6)
    assert np.all(np.abs(y[:delay]) < 1e-12)


def test_streaming_allocates_nothing_per_hop() -> None:
    cfg = StftConfig()
    analyzer, synth = StftAnalyzer(cfg), OverlapAddSynthesizer(cfg)
    frame = np.zeros(cfg.n_bins, dtype=np.complex128)
    block = np.random.default_rng(0).standard_normal(cfg.hop)
    out = np.zeros(cfg.hop)

    def hop() -> None:
        analyzer.push(block)
        while analyzer.pull_frame(frame):
            synth.push_frame(frame)
        synth.pull(out)

    for _ in range(50):  # warm-up: numba dispatch caches
        hop()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(500):
        hop()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 4096, f"{grown} bytes retained over 500 hops"


def test_block_larger_than_max_block_is_refused() -> None:
    analyzer = StftAnalyzer(StftConfig(), max_block=512)
    with pytest.raises(ParameterError, match="max_block"):
        analyzer.push(np.zeros(513))


def test_a_hop_synthesized_in_one_call_is_push_then_pull_to_the_bit(noise: np.ndarray) -> None:
    cfg = StftConfig()
    frames = stft(noise, cfg)
    pushed, compiled = OverlapAddSynthesizer(cfg), OverlapAddSynthesizer(cfg, max_pending=cfg.hop)
    expected, out = np.zeros(cfg.hop), np.zeros(cfg.hop)
    for frame in frames:
        pushed.push_frame(frame)
        pushed.pull(expected)
        compiled.synthesize_hop(frame, out)
        assert np.array_equal(out, expected)
    rows = list(frames[:50])  # (views made before the count)
    tracemalloc.start()
    try:
        for frame in rows:
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            compiled.synthesize_hop(frame, out)
            assert tracemalloc.get_traced_memory()[1] - start == 0
    finally:
        tracemalloc.stop()


def test_a_hop_synthesized_into_the_wrong_length_is_refused_with_nothing_done() -> None:
    cfg = StftConfig()
    synth = OverlapAddSynthesizer(cfg, max_pending=cfg.hop)
    frame = np.ones(cfg.n_bins, dtype=np.complex128)
    with pytest.raises(ParameterError, match=f"one hop \\({cfg.hop} samples\\), got \\(100,\\)"):
        synth.synthesize_hop(frame, np.zeros(100))
    synth.push_frame(frame)  # nothing was added: the first hop is the frame's alone
    with pytest.raises(ParameterError, match="waiting"):
        synth.synthesize_hop(frame, np.zeros(cfg.hop))
