"""The output chain: gain, DC blocker and safety limiter, the last stages of every sound.

One chain for everything caminos makes: the engine's hops (:meth:`OutputChain.gain` ramps the
output gain across a hop, then :meth:`OutputChain.process`), and the offline renders of
``caminos render``, ``reconstruct``, ``morph``, ``say`` and ``babble``
(:meth:`OutputChain.process_offline`, the limiter's latency removed). The limiter aims one step
of the file's sample format below ``render.ceiling_db`` (:func:`limiter_ceiling_db`), so
rounding to the file or to a device's float32 cannot carry a sample over the ceiling.
"""

from __future__ import annotations

import math

import numpy as np

from caminos.engine.core.config import Config
from caminos.engine.dsp.compiled import hop_kernel
from caminos.engine.dsp.dynamics import DcBlocker, SafetyLimiter, limit_offline

LIMITER_LOOKAHEAD_MS = 1.5  # the safety limiter's look-ahead, in milliseconds
# One step of each output sample format near full scale: the limiter aims this much below the
# ceiling so that rounding to the file's format cannot carry a sample over it.
FORMAT_STEP = {"PCM_16": 2.0**-15, "PCM_24": 2.0**-23, "FLOAT": 2.0**-23}


def limiter_ceiling_db(config: Config) -> float:
    """The safety limiter's aim in dBFS: ``render.ceiling_db`` less one step of
    ``render.subtype``, so rounding to the file's format (or to a device's float32) cannot
    carry a sample over it."""
    ceiling = 10.0 ** (config.render.ceiling_db / 20.0) - FORMAT_STEP[config.render.subtype]
    return 20.0 * math.log10(ceiling)


@hop_kernel
def _ramp_gain(signal: np.ndarray, ramp: np.ndarray, before: float, after: float) -> None:
    """``signal *= ramp * (after - before) + before`` in place, the numbers numpy's three
    in-place steps gave, without their scalar temporaries."""
    step = after - before
    for i in range(signal.shape[0]):
        signal[i] *= ramp[i] * step + before


class OutputChain:
    """Output gain, a 5 Hz DC blocker and the look-ahead safety limiter, in that order.

    Parameters
    ----------
    sample_rate : int
        In Hz.
    channels : int >= 1
        Channels of the blocks to process.
    config : Config
        ``render.ceiling_db``, ``render.subtype`` and ``render.limiter_release_ms``.
    block : int, optional
        Samples per block of :meth:`gain` (the engine's hop); its ramp is allocated here, so
        the hop clock allocates nothing.
    """

    def __init__(self, sample_rate: int, channels: int, config: Config, block: int = 1) -> None:
        self.dc = DcBlocker(sample_rate, channels)
        self.limiter = SafetyLimiter(
            sample_rate,
            channels,
            limiter_ceiling_db(config),
            LIMITER_LOOKAHEAD_MS,
            config.render.limiter_release_ms,
        )
        self._ramp = np.arange(1, block + 1) / block

    @property
    def latency_samples(self) -> int:
        """The limiter's look-ahead in samples, the chain's only latency."""
        return self.limiter.latency_samples

    def gain(self, signal: np.ndarray, before: float, after: float) -> None:
        """Multiply a mono block in place by a gain ramped linearly from ``before`` (reached at
        the previous block's last sample) to ``after`` (at this block's last sample); no
        allocation."""
        _ramp_gain(signal, self._ramp, before, after)

    def process(self, block: np.ndarray) -> None:
        """DC-block and limit a block of shape (n, channels) in place (streaming)."""
        self.dc.process(block, block)
        self.limiter.process(block, block)

    def block_dc(self, block: np.ndarray) -> None:
        """:meth:`process` without the limiter: the DC blocker alone, per channel, in place.

        For a part of a room whose channels are limited together elsewhere
        (:meth:`limit`): ``block_dc`` then ``limit`` is :meth:`process`, sample for sample.
        """
        self.dc.process(block, block)

    def limit(self, block: np.ndarray) -> None:
        """:meth:`process` without the DC blocker: the limiter alone, linked across the
        block's channels, in place (streaming)."""
        self.limiter.process(block, block)

    def process_offline(self, samples: np.ndarray) -> np.ndarray:
        """A whole signal of shape (n, channels) DC-blocked in place, then limited with the
        limiter's latency removed (sample ``n`` out is sample ``n`` in); returns the result."""
        self.dc.process(samples, samples)
        return limit_offline(samples, self.limiter)

    def reset(self) -> None:
        """Forget the DC blocker's and the limiter's state."""
        self.dc.reset()
        self.limiter.reset()
