"""RTPGHI initialisation refined by GSRTISI-LA: caminos' best real-time phase recovery.

Each new frame's phase is first integrated by RTPGHI from the previous frame, as GSRTISI-LA has
refined it so far, and then GSRTISI-LA iterates over the look-ahead frames (Prusa, "Towards High
Quality Real-Time Signal Reconstruction from STFT Magnitude", 2017). RTPGHI gives iterations a
start that is already coherent across frequency, which random or partial-reconstruction starts
are not, so a few iterations per frame reach what plain GSRTISI-LA needs many for.
"""

from __future__ import annotations

import numpy as np

from engine.config import StftConfig
from engine.phase.base import StreamingPhase
from engine.phase.pghi import RtPghi
from engine.phase.rtisi import GsRtisiLa


class PghiGsRtisi(StreamingPhase):
    """RTPGHI (causal) seeding GSRTISI-LA.

    Parameters
    ----------
    stft : StftConfig
        Frame settings.
    lookahead : int >= 0
        GSRTISI-LA look-ahead in frames; the method's whole look-ahead (RTPGHI runs causally).
    iterations : int >= 1
        GSRTISI-LA iterations per frame.
    tolerance_db : float
        RTPGHI's quiet-bin tolerance in dB.
    seed : int
        Seed of RTPGHI's random phases for quiet bins.
    """

    name = "rtpghi+gsrtisi"

    def __init__(self, stft: StftConfig, lookahead: int = 2, iterations: int = 16,
                 tolerance_db: float = -100.0, seed: int = 0) -> None:
        super().__init__(stft)
        self._pghi = RtPghi(stft, lookahead=0, tolerance_db=tolerance_db, seed=seed)
        self._gs = GsRtisiLa(stft, lookahead=lookahead, iterations=iterations)
        self.lookahead_frames = self._gs.lookahead_frames
        self._initial = np.zeros(stft.n_bins, dtype=np.complex128)

    def process(self, magnitude: np.ndarray, out: np.ndarray,
                reference: np.ndarray | None = None) -> None:
        self._pghi.set_previous_spectrum(self._gs.newest_spectrum())
        self._pghi.process(magnitude, self._initial)
        self._gs.process_initialized(magnitude, self._initial, out)

    def reset(self) -> None:
        """Forget all frames, as if newly constructed."""
        self._pghi.reset()
        self._gs.reset()
