"""Output safety stages: a DC blocker and a look-ahead peak limiter whose ceiling is guaranteed.

Last stages before the sound card or the rendered file (after overlap-add synthesis and gain):
phase recovery and latent navigation can produce DC, NaN and overs, and none of them may reach
speakers. Both stages are streaming, accept blocks of any size, allocate nothing after
construction, and give the same samples whatever the block size (tested); :func:`limit_offline`
is the whole-signal twin with the limiter's latency removed.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.compiled import hop_kernel


def _check_block(block_in: np.ndarray, block_out: np.ndarray, channels: int) -> None:
    if block_in.ndim != 2 or block_in.shape[1] != channels or block_out.shape != block_in.shape:
        raise ParameterError(
            f"expected blocks of shape (n, {channels}), got {block_in.shape} in "
            f"and {block_out.shape} out"
        )


@hop_kernel
def _dc_block(
    x: np.ndarray, y: np.ndarray, coefficient: float, last_in: np.ndarray, last_out: np.ndarray
) -> None:
    """One-pole high-pass ``y[n] = x[n] - x[n-1] + R y[n-1]`` per channel, state carried over."""
    n, channels = x.shape
    for c in range(channels):
        previous_in = last_in[c]
        previous_out = last_out[c]
        for i in range(n):
            value = x[i, c]
            out = value - previous_in + coefficient * previous_out
            previous_in = value
            previous_out = out
            y[i, c] = out
        last_in[c] = previous_in
        last_out[c] = previous_out


class DcBlocker:
    """One-pole DC-blocking high-pass filter, streaming.

    ``y[n] = x[n] - x[n-1] + R y[n-1]`` with ``R = exp(-2 pi cutoff_hz / sample_rate)``: -3 dB
    at ``cutoff_hz``, 0.01 dB down at 100 Hz for the default 5 Hz, no latency.

    Parameters
    ----------
    sample_rate : int > 0
        Sample rate in Hz.
    channels : int > 0
        Number of channels of every block.
    cutoff_hz : float > 0
        Corner frequency in Hz.
    """

    def __init__(self, sample_rate: int, channels: int, cutoff_hz: float = 5.0) -> None:
        if not 0.0 < cutoff_hz < sample_rate / 2:
            raise ParameterError(f"cutoff_hz must lie in (0, {sample_rate / 2}), got {cutoff_hz}")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.cutoff_hz = float(cutoff_hz)
        self.latency_samples = 0
        self._coefficient = math.exp(-2.0 * math.pi * cutoff_hz / sample_rate)
        self._last_in = np.zeros(self.channels)
        self._last_out = np.zeros(self.channels)

    def reset(self) -> None:
        """Forget all input, as if newly constructed."""
        self._last_in[:] = 0.0
        self._last_out[:] = 0.0

    def process(self, block_in: np.ndarray, block_out: np.ndarray) -> None:
        """Filter one block; ``block_out`` may be ``block_in``.

        Parameters
        ----------
        block_in, block_out : ndarray, shape (n, channels), float64
            Any ``n``, including 0.
        """
        _check_block(block_in, block_out, self.channels)
        _dc_block(block_in, block_out, self._coefficient, self._last_in, self._last_out)


# Integer and float state of the limiter kernel, kept in two small arrays so numba can update
# them in place (indices below).
_POS, _HOLD_AGE, _NONFINITE, _CLAMPED, _REDUCED = range(5)
_ENV, _HOLD, _SUM, _MIN_GAIN = range(4)


@njit(cache=True, nogil=True, inline="always")
def _rescan_minimum(envelope: np.ndarray, pos: int) -> tuple[float, int]:
    """The smallest of the ring ``envelope`` and how many samples ago it was written (``pos``
    the newest), scanning back from the newest so the youngest of equal minima wins."""
    size = envelope.shape[0]
    hold = envelope[pos]
    age = 0
    for back in range(1, size):
        j = pos - back
        if j < 0:
            j += size
        if envelope[j] < hold:
            hold = envelope[j]
            age = back
    return hold, age


@njit(cache=True, nogil=True, inline="always")
def _take_sample(x: np.ndarray, i: int, delay: np.ndarray, pos: int, ints: np.ndarray) -> float:
    """Sample ``i`` of every channel of ``x`` into row ``pos`` of the delay line, a non-finite
    value silenced and counted; returns the sample's peak over the channels."""
    peak = 0.0
    for c in range(x.shape[1]):
        value = x[i, c]
        if not np.isfinite(value):
            value = 0.0
            ints[_NONFINITE] += 1
        delay[pos, c] = value
        if abs(value) > peak:
            peak = abs(value)
    return peak


@njit(cache=True, nogil=True, inline="always")
def _write_gained(
    delay: np.ndarray,
    oldest: int,
    gain: float,
    ceiling: float,
    y: np.ndarray,
    i: int,
    ints: np.ndarray,
) -> None:
    """Output sample ``i``: the leaving sample of every channel times ``gain``, clamped to the
    ceiling as a last resort (never reached by the limiter's reasoning; counted if it ever
    is)."""
    for c in range(delay.shape[1]):
        out = delay[oldest, c] * gain
        if out > ceiling:
            out = ceiling
            ints[_CLAMPED] += 1
        elif out < -ceiling:
            out = -ceiling
            ints[_CLAMPED] += 1
        y[i, c] = out


@hop_kernel
def _limit(
    x: np.ndarray,
    y: np.ndarray,
    ceiling: float,
    release: float,
    delay: np.ndarray,
    envelope: np.ndarray,
    smoothed: np.ndarray,
    ints: np.ndarray,
    floats: np.ndarray,
) -> None:
    """Look-ahead limiter over one block; see :class:`SafetyLimiter` for the algorithm.

    ``delay``: (L+1, channels) ring of input samples; ``envelope``: ring of the last L+1
    required gains after release; ``smoothed``: ring of the last L+1 sliding minima, whose mean
    is the gain. All three rings share the write position ``ints[_POS]``.
    """
    n = x.shape[0]
    size = envelope.shape[0]  # L + 1
    pos = ints[_POS]
    hold_age = ints[_HOLD_AGE]
    env = floats[_ENV]
    hold = floats[_HOLD]
    total = floats[_SUM]
    min_gain = floats[_MIN_GAIN]
    # Aim a hair (1e-9 relative, 1e-8 dB) below the ceiling so that rounding in the division
    # and the products below can never carry a sample over it.
    target = ceiling * (1.0 - 1e-9)
    oldest = 0
    for i in range(n):
        # Newest sample in, non-finite values silenced; the oldest leaves the delay line.
        peak = _take_sample(x, i, delay, pos, ints)
        oldest = pos + 1
        if oldest == size:
            oldest = 0
        # Gain this sample needs, then the release: the envelope rises back towards 1
        # exponentially but never above what the newest sample needs.
        required = target / peak if peak > target else 1.0
        env = env + (1.0 - env) * release
        if required < env:
            env = required
        envelope[pos] = env
        # Minimum of the last L+1 envelope values (held minimum, rescanned when it expires).
        if env <= hold:
            hold = env
            hold_age = 0
        else:
            hold_age += 1
            if hold_age >= size:
                hold, hold_age = _rescan_minimum(envelope, pos)
        # Moving average of the last L+1 minima: every minimum in it covers the sample leaving
        # the delay line now, so the mean is below the gain that sample needs (ceiling kept),
        # and it moves by at most 1/(L+1) per sample (no clicks).
        total += hold - smoothed[pos]
        smoothed[pos] = hold
        if oldest == 0:
            total = 0.0  # recomputed exactly once per lap so rounding never accumulates
            for j in range(size):
                total += smoothed[j]
        # The mean is at most the envelope of the leaving sample; taking the smaller of the two
        # keeps that true under rounding in the running sum (it differs only by rounding).
        gain = total / size
        if gain > envelope[oldest]:
            gain = envelope[oldest]
        if gain < min_gain:
            min_gain = gain
        if gain < 1.0:
            ints[_REDUCED] += 1
        _write_gained(delay, oldest, gain, ceiling, y, i, ints)
        pos = oldest
    ints[_POS] = pos
    ints[_HOLD_AGE] = hold_age
    floats[_ENV] = env
    floats[_HOLD] = hold
    floats[_SUM] = total
    floats[_MIN_GAIN] = min_gain


class SafetyLimiter:
    """Look-ahead peak limiter: output never exceeds the ceiling, gain never jumps.

    All channels share one gain (the stereo image stays put). For each input sample the gain it
    needs is ``ceiling / peak`` (1 below the ceiling); a release follower lets that rise back
    towards 1 with time constant ``release_ms``; a sliding minimum over ``L + 1`` samples and a
    moving average over ``L + 1`` samples (``L`` = look-ahead) turn it into a gain that starts
    falling ``L`` samples before a peak and reaches the needed value exactly when the peak,
    delayed by ``L`` samples, leaves. Hence:

    - the output never exceeds ``ceiling_db`` (a final clamp catches floating-point rounding and
      counts itself in :attr:`clamped_samples`, which stays 0 in practice);
    - the gain changes by at most ``1 / (L + 1)`` per sample (0.014 at 48 kHz and 1.5 ms);
    - the latency is exactly ``L`` samples (:attr:`latency_samples`).

    NaN and infinite input samples are replaced by silence and counted in
    :attr:`nonfinite_samples`.

    Parameters
    ----------
    sample_rate : int > 0
        Sample rate in Hz.
    channels : int > 0
        Number of channels of every block.
    ceiling_db : float <= 0
        Highest output level in dBFS.
    lookahead_ms : float >= 0
        Look-ahead in milliseconds; rounded to whole samples.
    release_ms : float > 0
        Time constant of the gain's return towards 1, in milliseconds.
    """

    def __init__(
        self,
        sample_rate: int,
        channels: int,
        ceiling_db: float = -0.3,
        lookahead_ms: float = 1.5,
        release_ms: float = 80.0,
    ) -> None:
        if not (math.isfinite(ceiling_db) and ceiling_db <= 0.0):
            raise ParameterError(f"ceiling_db must be a finite level <= 0 dBFS, got {ceiling_db}")
        if not (math.isfinite(lookahead_ms) and 0.0 <= lookahead_ms <= 100.0):
            raise ParameterError(f"lookahead_ms must lie in [0, 100], got {lookahead_ms}")
        if not (math.isfinite(release_ms) and release_ms > 0.0):
            raise ParameterError(f"release_ms must be positive, got {release_ms}")
        if channels < 1:
            raise ParameterError(f"channels must be at least 1, got {channels}")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.ceiling_db = float(ceiling_db)
        self.ceiling = 10.0 ** (ceiling_db / 20.0)
        self.release_ms = float(release_ms)
        self.latency_samples = int(round(lookahead_ms * sample_rate / 1000.0))
        self.lookahead_ms = 1000.0 * self.latency_samples / sample_rate
        self._release = 1.0 - math.exp(-1000.0 / (release_ms * sample_rate))
        size = self.latency_samples + 1
        self._delay = np.zeros((size, self.channels))
        self._envelope = np.ones(size)
        self._smoothed = np.ones(size)
        self._ints = np.zeros(5, dtype=np.int64)
        self._floats = np.zeros(4)
        self.reset()

    def reset(self) -> None:
        """Forget all input and statistics, as if newly constructed."""
        self._delay[:] = 0.0
        self._envelope[:] = 1.0
        self._smoothed[:] = 1.0
        self._ints[:] = 0
        self._floats[_ENV] = 1.0
        self._floats[_HOLD] = 1.0
        self._floats[_SUM] = float(len(self._smoothed))
        self._floats[_MIN_GAIN] = 1.0

    def process(self, block_in: np.ndarray, block_out: np.ndarray) -> None:
        """Limit one block; output sample ``i`` is input sample ``i - latency_samples``.

        Parameters
        ----------
        block_in : ndarray, shape (n, channels), float64
            Any ``n``, including 0; may hold NaN or Inf.
        block_out : ndarray, shape (n, channels), float64
            Receives the limited, delayed samples; may be ``block_in``.
        """
        _check_block(block_in, block_out, self.channels)
        _limit(
            block_in,
            block_out,
            self.ceiling,
            self._release,
            self._delay,
            self._envelope,
            self._smoothed,
            self._ints,
            self._floats,
        )

    @property
    def nonfinite_samples(self) -> int:
        """NaN or infinite input samples replaced by silence since the last reset."""
        return self._ints.item(_NONFINITE)  # (a Python int: no numpy scalar made)

    @property
    def clamped_samples(self) -> int:
        """Output samples the final clamp had to cut (rounding only; expected 0)."""
        return int(self._ints[_CLAMPED])

    @property
    def reduced_samples(self) -> int:
        """Samples (per channel) output with a gain below 1 since the last reset."""
        return int(self._ints[_REDUCED])

    @property
    def max_reduction_db(self) -> float:
        """Largest gain reduction since the last reset, in dB (0 when the limiter never acted)."""
        return max(0.0, -20.0 * math.log10(max(self._floats[_MIN_GAIN], 1e-300)))


def limit_offline(samples: np.ndarray, limiter: SafetyLimiter, block: int = 65536) -> np.ndarray:
    """Run a whole signal through a limiter, with its latency removed.

    The streaming limiter is flushed with ``latency_samples`` zeros and its first
    ``latency_samples`` outputs dropped, so output sample ``n`` is input sample ``n``, limited.

    Parameters
    ----------
    samples : ndarray, shape (n_samples, channels), float64
        The signal.
    limiter : SafetyLimiter
        A fresh or reset limiter with matching channels; its statistics describe this signal.
    block : int > 0
        Samples per call, which bounds the temporary memory; the result does not depend on it.

    Returns
    -------
    ndarray, shape (n_samples, channels), float64
    """
    samples = np.ascontiguousarray(samples, dtype=np.float64)
    latency = limiter.latency_samples
    padded = np.zeros((len(samples) + latency, limiter.channels))
    padded[: len(samples)] = samples
    for start in range(0, len(padded), block):
        chunk = padded[start : start + block]
        limiter.process(chunk, chunk)
    return padded[latency:]
