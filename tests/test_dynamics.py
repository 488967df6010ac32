"""DC blocker and safety limiter: ceiling guaranteed, smooth gain, latency, block-size
invariance."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.dynamics import DcBlocker, SafetyLimiter, limit_offline
from tests.conftest import SAMPLE_RATE, sine

BLOCK_SIZES = (1, 7, 256, 4096)


def run_in_blocks(stage: DcBlocker | SafetyLimiter, x: np.ndarray, block: int) -> np.ndarray:
    """Feed ``x`` through ``stage`` ``block`` samples at a time (out of place)."""
    out = np.empty_like(x)
    for start in range(0, len(x), block):
        stage.process(x[start : start + block], out[start : start + block])
    return out


def loud_signal(rng: np.random.Generator, n: int, channels: int) -> np.ndarray:
    """Noise at +10 dBFS with single-sample spikes up to +120 dB, NaNs and infinities."""
    x = 3.0 * rng.standard_normal((n, channels))
    spikes = rng.integers(0, n, size=20)
    x[spikes, rng.integers(0, channels, size=20)] = rng.choice([-1e6, 1e6, 50.0], size=20)
    x[rng.integers(0, n, size=5), 0] = np.nan
    x[rng.integers(0, n, size=3), channels - 1] = np.inf
    return x


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3000),
    channels=st.integers(1, 2),
    ceiling_db=st.floats(-24.0, 0.0),
    lookahead_ms=st.floats(0.0, 5.0),
    release_ms=st.floats(1.0, 2000.0),
    block=st.sampled_from(BLOCK_SIZES),
    scale_db=st.floats(-30.0, 140.0),
)
def test_the_output_never_exceeds_the_ceiling(
    seed: int,
    n: int,
    channels: int,
    ceiling_db: float,
    lookahead_ms: float,
    release_ms: float,
    block: int,
    scale_db: float,
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, channels)) * 10 ** (scale_db / 20)
    spike = rng.integers(0, n)
    x[spike, rng.integers(0, channels)] = rng.choice([-1.0, 1.0]) * 10 ** (scale_db / 20 + 1)
    limiter = SafetyLimiter(SAMPLE_RATE, channels, ceiling_db, lookahead_ms, release_ms)
    y = run_in_blocks(limiter, x, block)
    assert np.max(np.abs(y)) <= limiter.ceiling
    assert limiter.clamped_samples == 0  # the ceiling holds by construction, not by clipping


def test_loud_input_with_spikes_and_nans_stays_below_the_ceiling(rng: np.random.Generator) -> None:
    x = loud_signal(rng, 5 * SAMPLE_RATE, 2)
    limiter = SafetyLimiter(SAMPLE_RATE, 2, ceiling_db=-0.3)
    y = limit_offline(x, limiter)
    assert np.isfinite(y).all()
    assert np.max(np.abs(y)) <= 10 ** (-0.3 / 20)
    assert limiter.clamped_samples == 0
    assert limiter.max_reduction_db == pytest.approx(120.3, abs=0.01)


def test_gain_changes_by_at_most_one_over_lookahead_per_sample(rng: np.random.Generator) -> None:
    # Input without zeros, so the gain is output / delayed input at every sample.
    x = 0.1 + 5.0 * np.abs(rng.standard_normal((SAMPLE_RATE, 1)))
    x[::4801] = 1e4  # spikes: the steepest case
    limiter = SafetyLimiter(SAMPLE_RATE, 1, ceiling_db=-1.0, lookahead_ms=1.5)
    gain = limit_offline(x, limiter)[:, 0] / x[:, 0]
    bound = 1.0 / (limiter.latency_samples + 1)
    assert np.max(np.abs(np.diff(gain))) <= bound + 1e-12
    assert gain.min() < 1e-3  # and it did limit the spikes


def test_latency_is_the_lookahead_and_quiet_input_passes_unchanged() -> None:
    limiter = SafetyLimiter(SAMPLE_RATE, 2, lookahead_ms=1.5)
    assert limiter.latency_samples == 72 and limiter.lookahead_ms == pytest.approx(1.5)
    x = np.zeros((1000, 2))
    x[10] = [0.5, -0.25]
    y = run_in_blocks(limiter, x, 256)
    expected = np.zeros_like(x)
    expected[10 + 72] = [0.5, -0.25]
    np.testing.assert_array_equal(y, expected)
    assert limiter.max_reduction_db == 0.0 and limiter.reduced_samples == 0


def test_the_gain_starts_falling_before_a_peak_and_recovers_with_the_release() -> None:
    x = np.full((SAMPLE_RATE, 1), 0.5)
    x[24_000] = 2.0  # 6 dB over a -0 dB ceiling, needs a gain of 0.5 at that sample
    limiter = SafetyLimiter(SAMPLE_RATE, 1, ceiling_db=0.0, lookahead_ms=1.5, release_ms=50.0)
    gain = limit_offline(x, limiter)[:, 0] / x[:, 0]
    assert gain[24_000 - 73] == 1.0 and gain[24_000 - 72] < 1.0  # look-ahead: 72 samples early
    assert gain[24_000] == pytest.approx(0.5, abs=1e-6)
    # 50 ms after the peak the release has closed about 1 - 1/e of the gap.
    assert gain[24_000 + 2400] == pytest.approx(1.0 - 0.5 * np.exp(-1.0), abs=0.02)
    assert limiter.max_reduction_db == pytest.approx(6.02, abs=0.01)


def test_both_channels_share_one_gain() -> None:
    x = np.stack([sine(440.0, 0.2), sine(440.0, 0.2, amplitude=0.1)], axis=1)
    x[4000, 0] = 4.0
    y = limit_offline(x, SafetyLimiter(SAMPLE_RATE, 2, ceiling_db=-1.0))
    around = slice(3900, 4100)
    np.testing.assert_allclose(y[around, 1] / x[around, 1], y[around, 0] / x[around, 0], rtol=1e-9)


def test_nan_and_inf_become_silence_and_are_counted() -> None:
    x = np.full((2000, 2), 0.25)
    x[100, 0] = np.nan
    x[200, 1] = np.inf
    x[300, :] = -np.inf
    limiter = SafetyLimiter(SAMPLE_RATE, 2)
    y = limit_offline(x, limiter)
    assert np.isfinite(y).all() and limiter.nonfinite_samples == 4
    assert y[100, 0] == 0.0 and y[200, 1] == 0.0 and (y[300] == 0.0).all()
    assert y[100, 1] == 0.25  # the other channel untouched


@pytest.mark.parametrize("channels", [1, 2])
def test_limiter_output_does_not_depend_on_block_size(
    rng: np.random.Generator, channels: int
) -> None:
    x = loud_signal(rng, 20_000, channels)
    outputs = [
        run_in_blocks(SafetyLimiter(SAMPLE_RATE, channels, -3.0, 1.5, 20.0), x, block)
        for block in BLOCK_SIZES
    ]
    for y in outputs[1:]:
        np.testing.assert_array_equal(y, outputs[0])


def test_in_place_processing_and_the_offline_twin_agree(rng: np.random.Generator) -> None:
    x = loud_signal(rng, 10_000, 2)
    streamed = run_in_blocks(SafetyLimiter(SAMPLE_RATE, 2), np.vstack([x, np.zeros((72, 2))]), 7)
    in_place = np.vstack([x, np.zeros((72, 2))])
    SafetyLimiter(SAMPLE_RATE, 2).process(in_place, in_place)
    offline = limit_offline(x, SafetyLimiter(SAMPLE_RATE, 2), block=333)
    np.testing.assert_array_equal(in_place, streamed)
    np.testing.assert_array_equal(offline, streamed[72:])


def test_reset_forgets_everything(rng: np.random.Generator) -> None:
    x = loud_signal(rng, 3000, 1)
    limiter = SafetyLimiter(SAMPLE_RATE, 1)
    first = run_in_blocks(limiter, x, 256)
    limiter.reset()
    assert limiter.nonfinite_samples == 0 and limiter.max_reduction_db == 0.0
    np.testing.assert_array_equal(run_in_blocks(limiter, x, 256), first)


def test_processing_allocates_nothing_per_block(rng: np.random.Generator) -> None:
    x = loud_signal(rng, 256, 2)
    y = np.empty_like(x)
    stages = [SafetyLimiter(SAMPLE_RATE, 2), DcBlocker(SAMPLE_RATE, 2)]
    for stage in stages:
        stage.process(x, y)  # compile and warm
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(200):
            for stage in stages:
                stage.process(x, y)
        growth = sum(
            s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename")
        )
    finally:
        tracemalloc.stop()
    assert growth < 4096  # bytes over 400 calls: nothing per block


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"ceiling_db": 1.0}, "ceiling_db"),
        ({"ceiling_db": float("nan")}, "ceiling_db"),
        ({"release_ms": 0.0}, "release_ms"),
        ({"lookahead_ms": -1.0}, "lookahead_ms"),
        ({"channels": 0}, "channels"),
    ],
)
def test_bad_limiter_parameters_are_named(kwargs: dict, words: str) -> None:
    arguments = {"sample_rate": SAMPLE_RATE, "channels": 1, **kwargs}
    with pytest.raises(ParameterError, match=words):
        SafetyLimiter(**arguments)


def test_a_block_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ParameterError, match=r"shape \(n, 2\)"):
        SafetyLimiter(SAMPLE_RATE, 2).process(np.zeros((10, 1)), np.zeros((10, 1)))


def test_dc_blocker_removes_dc_and_passes_audio() -> None:
    blocker = DcBlocker(SAMPLE_RATE, 1)
    assert blocker.latency_samples == 0
    dc = np.full((SAMPLE_RATE, 1), 0.5)
    out = run_in_blocks(blocker, dc, 4096)
    assert abs(out[-1, 0]) < 1e-12  # e^(-2 pi 5) after 1 s: gone
    blocker.reset()
    tone = sine(100.0, 1.0)[:, None]
    out = run_in_blocks(blocker, tone, 4096)
    gain_db = 20 * np.log10(np.max(np.abs(out[SAMPLE_RATE // 2 :])) / 0.5)
    assert abs(gain_db) < 0.02  # 100 Hz: 0.01 dB down in theory


def test_dc_blocker_output_does_not_depend_on_block_size(rng: np.random.Generator) -> None:
    x = rng.standard_normal((10_000, 2)) + 0.3
    outputs = [run_in_blocks(DcBlocker(SAMPLE_RATE, 2), x, block) for block in BLOCK_SIZES]
    for y in outputs[1:]:
        np.testing.assert_array_equal(y, outputs[0])


def test_the_output_chain_split_in_dc_and_limiter_is_the_whole_chain(
    rng: np.random.Generator,
) -> None:
    """``block_dc`` then ``limit`` (a room's groups DC-blocked apart, limited together) gives
    :meth:`OutputChain.process`'s samples, with the limiter acting."""
    from caminos.engine.core.config import load_config
    from caminos.engine.dsp.output import OutputChain

    config = load_config()
    loud = 3.0 * rng.standard_normal((4096, 4)) + 0.2
    whole, room = (OutputChain(SAMPLE_RATE, 4, config, block=256) for _ in range(2))
    groups = [OutputChain(SAMPLE_RATE, 2, config, block=256) for _ in range(2)]
    a, b = loud.copy(), loud.copy()
    for start in range(0, len(loud), 256):
        whole.process(a[start : start + 256])
        for g, group in enumerate(groups):  # two groups of two channels, each its own block
            block = np.ascontiguousarray(b[start : start + 256, 2 * g : 2 * g + 2])
            group.block_dc(block)
            b[start : start + 256, 2 * g : 2 * g + 2] = block
        room.limit(b[start : start + 256])
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() < 1.0 and whole.limiter.reduced_samples > 0
