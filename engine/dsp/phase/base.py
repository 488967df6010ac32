"""The one streaming interface every real-time phase-recovery method implements.

Between the decoder (or any magnitude source) and overlap-add synthesis: a method is pushed one
magnitude frame per hop and writes one complex frame per hop, ``lookahead_frames`` hops later.
Implementations allocate every buffer in ``__init__`` and nothing in :meth:`process`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from caminos.engine.core.config import StftConfig


class StreamingPhase(ABC):
    """Turns a stream of magnitude frames into a stream of complex STFT frames.

    Parameters
    ----------
    stft : StftConfig
        Frame size, hop and window of the frames (caminos' framing, see
        :mod:`caminos.engine.dsp.spectral`).

    Attributes
    ----------
    name : str
        The method's name as given to ``--phase`` and ``/phase/method``.
    lookahead_frames : int
        Frames between pushing a magnitude and receiving its complex frame: the frame written by
        the ``m``-th call of :meth:`process` belongs to the magnitude pushed ``lookahead_frames``
        calls earlier (zeros until then). Adds ``lookahead_frames * hop`` samples of latency.
    uses_reference : bool
        True when the method needs the source's own analysis frame (``reference``).
    """

    name: str = ""
    uses_reference: bool = False

    def __init__(self, stft: StftConfig) -> None:
        self.stft = stft
        self.n_bins = stft.n_bins
        self.lookahead_frames = 0

    @abstractmethod
    def process(
        self, magnitude: np.ndarray, out: np.ndarray, reference: np.ndarray | None = None
    ) -> None:
        """Push one magnitude frame and write the complex frame that is due.

        Parameters
        ----------
        magnitude : ndarray, shape (n_bins,), float64
            Linear magnitudes of the newest frame, non-negative and finite.
        out : ndarray, shape (n_bins,), complex128
            Receives the frame pushed ``lookahead_frames`` calls ago.
        reference : ndarray, shape (n_bins,), complex128, optional
            The source's own analysis frame for the newest magnitude, where it has one; only
            methods with ``uses_reference`` read it.
        """

    @abstractmethod
    def reset(self) -> None:
        """Forget all frames, as if newly constructed."""
