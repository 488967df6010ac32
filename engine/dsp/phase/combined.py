"""RTPGHI initialisation refined by GSRTISI-LA: caminos' best real-time phase recovery.

Each new frame's phase is first integrated by RTPGHI from the previous frame, as GSRTISI-LA has
refined it so far, and then GSRTISI-LA iterates over the look-ahead frames (Prusa, "Towards High
Quality Real-Time Signal Reconstruction from STFT Magnitude", 2017). RTPGHI gives iterations a
start that is already coherent across frequency, so a few iterations per frame reach what plain
GSRTISI-LA needs many for.

Which RTPGHI: given a total look-ahead of L >= 1 frames, one of them goes to RTPGHI's centred
gradient and L - 1 to GSRTISI-LA. Measured on 2 s signals at L = 2 and 16 iterations (SC in dB,
vibrato tone / chirp / noise and clicks): RTPGHI(1) + GSRTISI-LA(1) -35.1 / -53.1 / -19.3;
RTPGHI(0) + GSRTISI-LA(2) -35.4 / -37.7 / -17.2; GSRTISI-LA(2) alone -35.4 / -46.9 / -16.3. The
causal gradient mis-seeds fast sweeps badly enough that iterations cannot catch up.
"""

from __future__ import annotations

import numpy as np

from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.phase.base import StreamingPhase
from caminos.engine.dsp.phase.pghi import RtPghi
from caminos.engine.dsp.phase.rtisi import GsRtisiLa
from caminos.engine.dsp.phase.rtisi_bank import RtisiBank


class PghiGsRtisi(StreamingPhase):
    """RTPGHI (causal) seeding GSRTISI-LA.

    Parameters
    ----------
    stft : StftConfig
        Frame settings.
    lookahead : int >= 0
        The method's whole look-ahead in frames: RTPGHI takes one of them when there is at least
        one (see the module notes), GSRTISI-LA the rest.
    iterations : int >= 1
        GSRTISI-LA iterations per frame.
    tolerance_db : float
        RTPGHI's quiet-bin tolerance in dB.
    seed : int
        Seed of RTPGHI's random phases for quiet bins.
    pghi_lookahead : {None, 0, 1}
        Force RTPGHI's look-ahead; None chooses ``min(lookahead, 1)``.
    """

    name = "rtpghi+gsrtisi"

    def __init__(
        self,
        stft: StftConfig,
        lookahead: int = 2,
        iterations: int = 16,
        tolerance_db: float = -100.0,
        seed: int = 0,
        pghi_lookahead: int | None = None,
    ) -> None:
        super().__init__(stft)
        if pghi_lookahead is None:
            pghi_lookahead = min(lookahead, 1)
        _check_pghi_lookahead(pghi_lookahead, lookahead)
        self._pghi = RtPghi(stft, lookahead=pghi_lookahead, tolerance_db=tolerance_db, seed=seed)
        self._gs = GsRtisiLa(stft, lookahead=lookahead - pghi_lookahead, iterations=iterations)
        self.lookahead_frames = lookahead
        self._initial = np.zeros(stft.n_bins, dtype=np.complex128)
        self._delayed = np.zeros(stft.n_bins)

    @property
    def iterations(self) -> int:
        """GSRTISI-LA's sweeps per push (``/phase/iterations``)."""
        return self._gs.iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        self._gs.iterations = int(value)

    def process(
        self, magnitude: np.ndarray, out: np.ndarray, reference: np.ndarray | None = None
    ) -> None:
        self._pghi.set_previous_spectrum(self._gs.newest_spectrum())
        self._pghi.process(magnitude, self._initial)
        if self._pghi.lookahead_frames:
            self._gs.process_initialized(self._delayed, self._initial, out)
            np.copyto(self._delayed, magnitude)
        else:
            self._gs.process_initialized(magnitude, self._initial, out)

    def reset(self) -> None:
        """Forget all frames, as if newly constructed."""
        self._pghi.reset()
        self._gs.reset()
        self._delayed[:] = 0.0


class PghiGsRtisiBank:
    """``rtpghi+gsrtisi`` for several voices: each voice's RTPGHI on its own, then the voices'
    GSRTISI-LA in one compiled push (:class:`~caminos.engine.dsp.phase.rtisi_bank.RtisiBank`).

    Parameters
    ----------
    stft : StftConfig
        Frame settings.
    seeds : sequence of int
        One per voice: the seed of its RTPGHI's random phases.
    lookahead, iterations, tolerance_db, pghi_lookahead
        As :class:`PghiGsRtisi`, the same for every voice.
    """

    name = "rtpghi+gsrtisi"

    def __init__(
        self,
        stft: StftConfig,
        seeds,
        lookahead: int = 2,
        iterations: int = 16,
        tolerance_db: float = -100.0,
        pghi_lookahead: int | None = None,
    ) -> None:
        if pghi_lookahead is None:
            pghi_lookahead = min(lookahead, 1)
        _check_pghi_lookahead(pghi_lookahead, lookahead)
        self._pghi = tuple(
            RtPghi(stft, lookahead=pghi_lookahead, tolerance_db=tolerance_db, seed=int(seed))
            for seed in seeds
        )
        voices = len(self._pghi)
        self._gs = RtisiBank(
            stft, voices, lookahead=lookahead - pghi_lookahead, iterations=iterations
        )
        self.voices = voices
        self.lookahead_frames = lookahead
        self._initial = np.zeros((voices, stft.n_bins), dtype=np.complex128)
        self._delayed = np.zeros((voices, stft.n_bins))
        self._initial_rows = tuple(self._initial)
        self._delayed_rows = tuple(self._delayed)

    @property
    def iterations(self) -> int:
        """GSRTISI-LA's sweeps per push."""
        return self._gs.iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        self._gs.iterations = value

    def push_rows(
        self, first: int, stop: int, magnitudes: np.ndarray, magnitude_rows, out: np.ndarray
    ) -> None:
        """Push rows ``first`` to ``stop - 1``: magnitudes of shape (voices, n_bins) (and the
        same rows as views, ``magnitude_rows``), committed frames into the rows of ``out``."""
        gs, initial, r = self._gs, self._initial_rows, first
        while r < stop:  # (no iterator: nothing allocated, here and below)
            pghi = self._pghi[r]
            pghi.set_previous_spectrum(gs.newest_rows[r])
            pghi.process(magnitude_rows[r], initial[r])
            r += 1
        if self._pghi[0].lookahead_frames:
            gs.process_rows(first, stop, self._delayed, out, self._initial)
            r = first
            while r < stop:
                np.copyto(self._delayed_rows[r], magnitude_rows[r])
                r += 1
        else:
            gs.process_rows(first, stop, magnitudes, out, self._initial)

    def reset(self) -> None:
        """Forget every voice's frames, as if newly constructed."""
        for pghi in self._pghi:
            pghi.reset()
        self._gs.reset()
        self._delayed[:] = 0.0


def _check_pghi_lookahead(pghi_lookahead: int, lookahead: int) -> None:
    if not 0 <= pghi_lookahead <= min(lookahead, 1):
        raise ParameterError(
            f"pghi_lookahead must be 0 or 1 and at most lookahead={lookahead}, got {pghi_lookahead}"
        )
