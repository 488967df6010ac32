"""The image stage of ``Engine.tick()``: a multichannel source keeps the level differences between
its channels through the model (:mod:`caminos.engine.dsp.image`), as much as ``/field/image``
asks.

Every hop in which a source sounds on two channels or more, each of its channels' own latents is
decoded (one decode per channel, not per voice) and its envelope compared with the channel's;
each voice's decoded frame then takes the correction of the channels it follows. Not used with
the mono layout, where every channel is folded into one.
"""

from __future__ import annotations

import math

import numpy as np

from caminos.engine.clock.codec import FrameCodec
from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.core.parameters import Parameter, smoothing_coefficient
from caminos.engine.dsp.image import (
    IMAGE_LIMIT_DB,
    IMAGE_TIME_S,
    apply_image,
    envelope_error,
    image_width_bins,
    update_corrections,
)


class ImageStage:
    """Per source channel, the smoothed correction of the model's channel-own envelope error.

    Parameters
    ----------
    n_bins, n_fft, sample_rate, hop : int
        Framing (bins, samples, Hz, samples).
    rows : int
        Source channels encoded per hop (the rows of the engine's encode).
    amount : float
        Starting amount, 0 .. 1 (``field.image``).
    coefficient : float
        Per-hop smoothing coefficient of the amount (the engine's).
    floor : float
        The floor added to magnitudes before their logarithm (the model's).
    """

    def __init__(
        self,
        n_bins: int,
        n_fft: int,
        sample_rate: int,
        hop: int,
        rows: int,
        amount: float,
        coefficient: float,
        floor: float,
    ) -> None:
        self.amount = Parameter(
            "/field/image",
            Arg("amount", "f", 0.0, 1.0),
            "how much a stereo or multichannel source keeps its image through the model: each "
            "channel's own envelope error (the part its other channels do not share) removed, "
            "per bin (0: the model alone per channel)",
            "field",
            amount,
            coefficient,
        )
        self.floor = float(floor)
        self.width = image_width_bins(n_fft, sample_rate)
        self.coefficient = smoothing_coefficient(1000.0 * IMAGE_TIME_S, hop, sample_rate)
        self.limit = IMAGE_LIMIT_DB * math.log(10.0) / 20.0
        self.corrections = np.zeros((rows, n_bins))  # nepers, per source channel
        self._decoded = np.zeros(n_bins)
        self._errors = np.zeros((rows, n_bins))
        self._error_rows = tuple(self._errors)  # views made once
        self._scratch = np.zeros(n_bins)
        self._envelope = np.zeros(n_bins)
        self._amount = 0.0

    def controls(self) -> ControlTable:
        """``/field/image``, as data."""
        return ControlTable([self.amount.control()])

    def step(self) -> float:
        """Advance the amount one hop (once per hop, first); returns it."""
        self._amount = self.amount.step()
        return self._amount

    def measure(self, codec: FrameCodec, latent_rows, log_rows, first: int, count: int) -> None:
        """One source's channels this hop: rows ``first .. first + count - 1`` of the latents
        and log magnitudes (``latent_rows``, ``log_rows``: each row as a view made once);
        ``count`` below 2 clears their correction."""
        if count < 2:
            self.corrections[first : first + max(count, 1)] = 0.0
            return
        r = first
        while r < first + count:  # (no iterator: nothing allocated)
            codec.decode(latent_rows[r], self._decoded)
            envelope_error(
                self._decoded,
                self.floor,
                log_rows[r],
                self.width,
                self._scratch,
                self._envelope,
                self._error_rows[r],
            )
            r += 1
        update_corrections(
            self._errors, first, count, self.coefficient, self.limit, self.corrections
        )

    def apply(self, decoded: np.ndarray, weights: np.ndarray, follow: float) -> None:
        """A voice's decoded magnitudes (n_bins,) take the correction of the channels it follows
        (``weights``, one per row), times the amount and its follow."""
        apply_image(decoded, self.corrections, weights, self._amount * follow)

    def reset(self) -> None:
        """No correction (the engine's reset)."""
        self.corrections[:] = 0.0
