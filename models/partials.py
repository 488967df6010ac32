"""Each frame's explicit partial channels: several pitch slots and a few free spectral peaks.

The many-pitch model's measured latent channels (``docs/architecture.md`` section 6). A frame's
magnitudes give

- ``slots`` **pitch slots**, each a fundamental (Hz) and a *presence* (0 to 1): the
  estimate-and-cancel picks of :class:`caminos.models.multipitch.MultiPitchTracker` run on the
  frame alone (its state reset before every frame, so the frame is read as the hop clock reads
  it, adding no latency and no memory), the presence being each pick's salience over the
  first's (the first slot's is 1; an empty slot's 0). The decoder draws one harmonic comb per
  slot, scaled by its presence.
- ``peaks`` **free peaks**, each a frequency (bins) and a magnitude: the largest local maxima of
  what is left once every slot's partials are cancelled (square-rooted magnitudes, the
  tracker's spectral-smoothness cancellation taken to its full depth), their frequency and
  height refined by a parabola through the log magnitudes of the three bins around each. They
  catch what no comb holds: a bell's, a gong's or a glockenspiel's partials, a chord's note
  past the slots, a partial two notes share. The decoder draws each as the window's main lobe.

Empty slots take the first slot's pitch and a presence of 0; empty peaks the first slot's
frequency and the magnitude floor, so a path between two frames glides rather than jumps to 0 Hz.
A frame with no pitch at all (silence, noise) takes ``fallback_hz`` for its first slot: the
one-pitch tracker's estimate, as the models before had.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from caminos.models.multipitch import MultiPitchTracker, cancel_partials, track_frame_kernel

MAGNITUDE_FLOOR = 1e-3  # of caminos.models.autoencoder, repeated to keep this module below it


@njit(cache=True, nogil=True)
def _parabola(a: float, b: float, c: float) -> tuple[float, float]:
    """Offset (bins, -0.5 to 0.5) and height of the vertex of the parabola through
    ``(-1, a), (0, b), (1, c)``; ``(0, b)`` when it opens upwards."""
    curve = a - 2.0 * b + c
    if curve >= 0.0:
        return 0.0, b
    offset = min(max(0.5 * (a - c) / curve, -0.5), 0.5)
    return offset, b - 0.25 * (a - c) * offset


@njit(cache=True, nogil=True)
def pick_peaks(
    mag: np.ndarray,
    residual: np.ndarray,
    floor: float,
    peak_bins: np.ndarray,
    peak_mags: np.ndarray,
    order: np.ndarray,
) -> int:
    """The ``len(peak_bins)`` largest local maxima of ``residual`` above ``floor``, refined on
    ``mag``.

    Parameters
    ----------
    mag : ndarray, shape (n_bins,)
        Linear magnitudes of the frame.
    residual : ndarray, shape (n_bins,)
        What is left of the frame's square-rooted magnitudes (same bins).
    floor : float
        Smallest residual, in square-rooted magnitude, that counts as a peak.
    peak_bins, peak_mags : ndarray, shape (peaks,)
        Written, loudest residual first: the peaks' frequencies in bins (parabolic vertex of
        ``log mag`` around the maximum) and their magnitudes (the vertex's height, linear).
        Unfilled entries are left as they were.
    order : ndarray of int64, shape (peaks,)
        Scratch.

    Returns
    -------
    int
        Peaks found.
    """
    count = 0
    wanted = peak_bins.shape[0]
    n = residual.shape[0]
    for k in range(1, n - 1):
        r = residual[k]
        if r <= floor or r <= residual[k - 1] or r < residual[k + 1]:
            continue
        # insert into the sorted list of the largest residual maxima
        slot = count
        while slot > 0 and residual[order[slot - 1]] < r:
            slot -= 1
        if slot >= wanted:
            continue
        last = min(count, wanted - 1)
        for i in range(last, slot, -1):
            order[i] = order[i - 1]
        order[slot] = k
        count = min(count + 1, wanted)
    for i in range(count):
        k = order[i]
        # The residual's maximum may sit a bin off the frame's where a comb's cancellation
        # carved one side of it: climb to the frame's own maximum (two bins at most).
        for _ in range(2):
            if k + 2 < n and mag[k + 1] > mag[k]:
                k += 1
            elif k > 1 and mag[k - 1] > mag[k]:
                k -= 1
        a = np.log(mag[k - 1] + MAGNITUDE_FLOOR)
        b = np.log(mag[k] + MAGNITUDE_FLOOR)
        c = np.log(mag[k + 1] + MAGNITUDE_FLOOR)
        offset, height = _parabola(a, b, c)
        peak_bins[i] = k + offset
        peak_mags[i] = max(np.exp(height) - MAGNITUDE_FLOOR, 0.0)
    return count


@njit(cache=True, nogil=True, inline="always")
def _write_slots(
    filled: int,
    first: float,
    f0_row: np.ndarray,
    salience_row: np.ndarray,
    f0_out: np.ndarray,
    presence_out: np.ndarray,
) -> None:
    """One row's slots: the ``filled`` picks (Hz, and salience over the first's, at most 1),
    then empty slots at ``first`` Hz with presence 0."""
    for k in range(f0_out.shape[0]):
        if k < filled:
            f0_out[k] = f0_row[k]
            presence_out[k] = min(salience_row[k] / salience_row[0], 1.0)
        else:
            f0_out[k] = first
            presence_out[k] = 0.0


@njit(cache=True, nogil=True)
def analyse_rows(
    mags: np.ndarray,
    fallback_hz: np.ndarray,
    index,
    frac,
    weight,
    candidates,
    settings,
    held,
    presence_state,
    residual,
    detected,
    scores,
    amps,
    picks,
    order,
    f0_out,
    presence_out,
    peak_bins_out,
    peak_mags_out,
) -> None:
    """Each row's slots and peaks (:class:`PartialAnalyser`), allocation-free.

    Parameters
    ----------
    mags : ndarray, shape (batch, n_bins)
        Linear magnitudes.
    fallback_hz : ndarray, shape (batch,)
        Each row's first-slot pitch when the tracker finds none, Hz.
    index ... amps
        The tracker's taps, settings, state (reset per row here) and scratch
        (:func:`caminos.models.multipitch.track_frame_kernel`).
    picks : ndarray, shape (2, slots)
        Scratch: one frame's fundamentals and saliences. (Nineteen arguments, not twenty:
        numba's dispatcher kept about 400 bytes a call for a function of exactly twenty,
        measured with tracemalloc, and this runs every hop.)
    order : ndarray of int64, shape (peaks,)
        Scratch.
    f0_out, presence_out : ndarray, shape (batch, slots)
        Written: fundamentals in Hz, presences 0 to 1.
    peak_bins_out, peak_mags_out : ndarray, shape (batch, peaks)
        Written: frequencies in bins, linear magnitudes.
    """
    bin_hz = settings[1]
    f0_row, salience_row = picks[0], picks[1]
    for row in range(mags.shape[0]):
        mag = mags[row]
        held[:] = 0.0
        presence_state[:] = 0.0
        filled = track_frame_kernel(
            mag,
            index,
            frac,
            weight,
            candidates,
            settings,
            held,
            presence_state,
            residual,
            detected,
            scores,
            amps,
            f0_row,
            salience_row,
        )
        first = f0_row[0] if filled > 0 else fallback_hz[row]
        _write_slots(filled, first, f0_row, salience_row, f0_out[row], presence_out[row])
        if peak_bins_out.shape[1] == 0:
            continue
        # The tracker's held spectrum, reset before the frame, is the frame's square-rooted
        # magnitudes (zero for a frame holding NaN or infinity, which then has no peaks)
        residual[:] = held
        for k in range(filled):
            cancel_partials(f0_row[k] / bin_hz, residual, 1.0, amps, detected)
        for p in range(peak_bins_out.shape[1]):
            peak_bins_out[row, p] = first / bin_hz
            peak_mags_out[row, p] = 0.0
        pick_peaks(
            mag, residual, np.sqrt(settings[0]), peak_bins_out[row], peak_mags_out[row], order
        )


@njit(cache=True, nogil=True)
def channel_values(
    level: np.ndarray,
    f0: np.ndarray,
    presence: np.ndarray,
    peak_bins: np.ndarray,
    peak_mags: np.ndarray,
    has_presence: bool,
    bin_hz: float,
    out: np.ndarray,
) -> None:
    """The many-pitch latent channels in natural units, one row per frame, into ``out``
    (batch, J), allocation-free: slot pitches (semitones above A0), presences (0 to 1, with
    ``has_presence``), free peaks' frequencies (semitones) and magnitudes (nepers over the
    frame's ``level``, :func:`caminos.models.autoencoder.frame_level`). Both the model and the
    hop path read the analysis through this."""
    slots, peaks = f0.shape[1], peak_bins.shape[1]
    for row in range(out.shape[0]):
        j = 0
        for k in range(slots):
            out[row, j] = 12.0 * np.log2(max(f0[row, k], 1.0) / 27.5)
            j += 1
        if has_presence:
            for k in range(slots):
                out[row, j] = presence[row, k]
                j += 1
        for p in range(peaks):
            out[row, j] = 12.0 * np.log2(max(peak_bins[row, p], 0.5) * bin_hz / 27.5)
            j += 1
        for p in range(peaks):
            out[row, j] = np.log(peak_mags[row, p] + MAGNITUDE_FLOOR) - level[row]
            j += 1


class PartialAnalyser:
    """Pitch slots and free peaks of magnitude frames, each frame read alone.

    Parameters
    ----------
    n_fft : int
        Frame size, in samples.
    sample_rate : int
        In Hz.
    slots : int
        Pitch slots per frame (1 to 4).
    peaks : int
        Free peaks per frame (0 to 8).
    batch : int
        Rows of the buffers of :meth:`analyse_into` (the hop clock's path).
    """

    def __init__(
        self, n_fft: int, sample_rate: int, slots: int, peaks: int, batch: int = 1
    ) -> None:
        if not 1 <= slots <= 4:
            raise ValueError(f"slots: expected 1 to 4, got {slots}")
        if not 0 <= peaks <= 8:
            raise ValueError(f"peaks: expected 0 to 8, got {peaks}")
        self.slots, self.peaks = slots, peaks
        self.n_bins = n_fft // 2 + 1
        self.bin_hz = sample_rate / n_fft
        tracker = MultiPitchTracker(n_fft, sample_rate, slots=slots)
        # What the tracker keeps for its own frames, shared here: taps, settings, scratch.
        self._tables = (
            tracker.taps_index,
            tracker.taps_frac,
            tracker.taps_weight,
            tracker.candidates,
            tracker.settings,
        )
        n_candidates = len(tracker.candidates)
        self._scratch = (
            np.zeros(self.n_bins),
            np.zeros(n_candidates),
            np.zeros(self.n_bins),
            np.zeros(self.n_bins),
            np.zeros(n_candidates),
            np.zeros(tracker.partials_scratch),
            np.zeros((2, slots)),
            np.zeros(max(peaks, 1), np.int64),
        )
        self.f0 = np.zeros((batch, slots))
        self.presence = np.zeros((batch, slots))
        self.peak_bins = np.zeros((batch, peaks))
        self.peak_mags = np.zeros((batch, peaks))

    def analyse_into(self, mags: np.ndarray, fallback_hz: np.ndarray) -> None:
        """:meth:`analyse` of ``batch`` rows into :attr:`f0`, :attr:`presence`,
        :attr:`peak_bins` and :attr:`peak_mags`, through buffers made once (hop path).

        ``mags`` (batch, n_bins) float64, ``fallback_hz`` (batch,) float64.
        """
        analyse_rows(
            mags,
            fallback_hz,
            *self._tables,
            *self._scratch,
            self.f0,
            self.presence,
            self.peak_bins,
            self.peak_mags,
        )

    def analyse(
        self, mags: np.ndarray, fallback_hz: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Slots and peaks of every row.

        Parameters
        ----------
        mags : ndarray, shape (n, n_bins)
            Linear magnitudes.
        fallback_hz : ndarray, shape (n,)
            Each row's first-slot pitch when none is found, Hz.

        Returns
        -------
        f0_hz, presence : ndarray, shape (n, slots)
            Fundamentals (Hz) and presences (0 to 1), the most salient first.
        peak_bins, peak_mags : ndarray, shape (n, peaks)
            Free peaks' frequencies (bins) and linear magnitudes, the largest first.
        """
        mags = np.ascontiguousarray(mags, np.float64)
        if mags.ndim != 2 or mags.shape[1] != self.n_bins:
            raise ValueError(f"expected magnitudes of shape (n, {self.n_bins}), got {mags.shape}")
        n = len(mags)
        f0, presence = np.zeros((n, self.slots)), np.zeros((n, self.slots))
        peak_bins, peak_mags = np.zeros((n, self.peaks)), np.zeros((n, self.peaks))
        analyse_rows(
            mags,
            np.ascontiguousarray(fallback_hz, np.float64),
            *self._tables,
            *self._scratch,
            f0,
            presence,
            peak_bins,
            peak_mags,
        )
        return f0, presence, peak_bins, peak_mags
