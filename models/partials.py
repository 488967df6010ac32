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

Streams
-------
The model learns from frames read alone (a training batch's frames come in any order), but a
sound is heard in order, and read alone its frames flicker: a partial near the edge of the six
largest residual peaks is a free peak in one frame and not in the next, and jumps between its
exact level and the learnt one; a chord's quieter note drops out of its slot for a frame. So
every sound the engine plays, and every sound a command encodes, is read as a **stream**: the
peaks a stream chose last weigh :data:`PEAK_CONTINUITY` times their residual when the next
frame's are chosen, and the tracker's presences are carried from frame to frame (its hysteresis:
a pitch held over the last frames keeps its slot with a lower bar than a new one needs). Past
frames only: no latency. The tracker's held spectrum is not carried (each frame's is the frame
itself): it smears a vibrato's partials over the frames, and on training files it cost spectral
convergence for little less flicker. Variants and numbers, on
training files and on held-out ones, in ``docs/benchmarks.md`` ("Streams").

Why this file is longer than 500 lines: the analysis of a frame and of a stream share every
compiled kernel (the tracker's call, the residual, the free peaks and their continuity), which
must stay the one path that training, the commands and the hop clock read.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from caminos.engine.dsp.compiled import dot_into, hop_kernel
from caminos.models.multipitch import MultiPitchTracker, cancel_partials, track_frame_kernel
from caminos.models.pitch import refined_candidate

MAGNITUDE_FLOOR = 1e-3  # of caminos.models.autoencoder, repeated to keep this module below it
# A stream's last free peaks weigh this many times their residual (square-rooted magnitudes, so
# about 4 dB in magnitude) when the next frame's peaks are chosen; a stream carries them and the
# tracker's presences, not its held spectrum. Chosen on files of the training corpus, never on
# the held-out ones (docs/benchmarks.md, "Streams": the variants measured).
PEAK_CONTINUITY = 1.6


@hop_kernel
def _parabola(a: float, b: float, c: float) -> tuple[float, float]:
    """Offset (bins, -0.5 to 0.5) and height of the vertex of the parabola through
    ``(-1, a), (0, b), (1, c)``; ``(0, b)`` when it opens upwards."""
    curve = a - 2.0 * b + c
    if curve >= 0.0:
        return 0.0, b
    offset = min(max(0.5 * (a - c) / curve, -0.5), 0.5)
    return offset, b - 0.25 * (a - c) * offset


@hop_kernel
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


@njit(cache=True, nogil=True, inline="always")
def _favour_last_peaks(residual: np.ndarray, last_bins: np.ndarray, last_mags: np.ndarray) -> None:
    """Raise ``residual`` by :data:`PEAK_CONTINUITY` within a bin of each of the stream's last
    peaks (``last_bins``, those whose ``last_mags`` are above 0), so that of two residual peaks
    of about one height the one the last frame chose is chosen again."""
    n = residual.shape[0]
    for p in range(last_bins.shape[0]):
        if not last_mags[p] > 0.0:
            continue
        centre = int(np.round(last_bins[p]))
        for k in range(max(0, centre - 1), min(n, centre + 2)):
            residual[k] *= PEAK_CONTINUITY


@njit(cache=True, nogil=True, inline="always")
def _fallback_pitch(row: int, fallback_hz: np.ndarray, one_pitch: tuple) -> float:
    """Row ``row``'s fallback pitch (Hz): ``fallback_hz[row]``, or, where that is NaN, the
    one-pitch tracker's refined estimate, written there. ``one_pitch`` is ``(roots, matrix,
    scores, grid)``: the rows' square-rooted magnitudes (batch, n_bins) and the subharmonic
    summation (n_bins, candidates), float32, a scores scratch (batch, candidates), and the grid
    (first candidate in octaves above A0, octaves between candidates), as the hop path's encoder
    holds them (:mod:`caminos.engine.clock.codec`); empty arrays leave a NaN as it is."""
    hz = fallback_hz[row]
    roots, matrix, scores, grid = one_pitch
    if np.isnan(hz) and row < roots.shape[0]:
        dot_into(roots[row : row + 1], matrix, scores[row : row + 1])
        semitones = 12.0 * (refined_candidate(scores[row]) * grid[1] + grid[0])
        hz = 27.5 * 2.0 ** (semitones / 12.0)
        fallback_hz[row] = hz
    return hz


@njit(cache=True, nogil=True, inline="always")
def _track(
    mag: np.ndarray,
    tables: tuple,
    held: np.ndarray,
    presence: np.ndarray,
    scratch: tuple,
    f0_row: np.ndarray,
    salience_row: np.ndarray,
) -> int:
    """:func:`caminos.models.multipitch.track_frame_kernel` of one frame with the state
    ``held``, ``presence`` and :func:`analyse_rows`' tables and scratch; returns the slots
    filled."""
    residual, detected, scores, amps = scratch[2], scratch[3], scratch[4], scratch[5]
    return track_frame_kernel(
        mag, *tables, held, presence, residual, detected, scores, amps, f0_row, salience_row
    )


@njit(cache=True, nogil=True, inline="always")
def _free_peaks(
    mag: np.ndarray,
    residual: np.ndarray,
    empty_bin: float,
    settings: np.ndarray,
    continued: bool,
    last_bins: np.ndarray,
    last_mags: np.ndarray,
    bins: np.ndarray,
    mags: np.ndarray,
    order: np.ndarray,
) -> None:
    """A frame's free peaks from its ``residual`` (:func:`pick_peaks`) into ``bins`` and
    ``mags``, empty ones at ``empty_bin`` with magnitude 0; a ``continued`` stream's last peaks
    (``last_bins``, ``last_mags``, then replaced by these) favoured first."""
    if continued:
        _favour_last_peaks(residual, last_bins, last_mags)
    bins[:] = empty_bin
    mags[:] = 0.0
    pick_peaks(mag, residual, np.sqrt(settings[0]), bins, mags, order)
    if continued:
        for k in range(bins.shape[0]):
            last_bins[k] = bins[k]
            last_mags[k] = mags[k]


@hop_kernel
def restart_silent(state: tuple, active: np.ndarray, streams: np.ndarray) -> None:
    """Empty the stream state (:func:`analyse_rows`' ``state``) of each row whose ``active``
    value is 0, and set ``streams`` (:func:`analyse_rows`'): row ``r`` continues stream ``r``,
    a silent row is read alone (its stream stays empty). Allocation-free."""
    presence, last_bins, last_mags = state
    for row in range(active.shape[0]):
        streams[row] = row
        if active[row] != 0.0:
            continue
        streams[row] = -1
        presence[row, :] = 0.0
        last_bins[row, :] = 0.0
        last_mags[row, :] = 0.0


@hop_kernel
def analyse_rows(
    mags: np.ndarray,
    fallback_hz: np.ndarray,
    streams: np.ndarray,
    tables: tuple,
    state: tuple,
    scratch: tuple,
    outputs: tuple,
    one_pitch: tuple,
) -> None:
    """Each row's slots and peaks (:class:`PartialAnalyser`), allocation-free.

    Parameters
    ----------
    mags : ndarray, shape (batch, n_bins)
        Linear magnitudes.
    fallback_hz : ndarray, shape (batch,)
        Each row's first-slot pitch when the tracker finds none, Hz; NaN: taken then from
        ``one_pitch`` (and written here).
    streams : ndarray of int64, shape (batch,)
        Which stream each row continues (an index into ``state``'s rows), or -1: the frame read
        alone, from an empty state that it leaves as it was.
    tables : tuple
        The tracker's taps and settings: ``(index, frac, weight, candidates, settings)``
        (:func:`caminos.models.multipitch.track_frame_kernel`).
    state : tuple
        Each stream's state, read and updated: ``(presence, peak_bins, peak_mags)``, of shapes
        (streams, C) and (streams, peaks) twice: the tracker's presences and the stream's last
        peaks.
    scratch : tuple
        ``(held, presence, residual, detected, scores, amps, picks, order)``: the held
        spectrum (emptied every frame), a lone frame's presences, the tracker's scratch, a
        frame's picks (2, slots), the peaks' order (int64, peaks). Tuples: numba kept about 400
        bytes a call for a function of exactly twenty arguments, and this runs every hop.
    outputs : tuple
        Written, ``(f0, presence, peak_bins, peak_mags)``: (batch, slots) fundamentals in Hz and
        presences 0 to 1; (batch, peaks) frequencies in bins and linear magnitudes.
    one_pitch : tuple
        The one-pitch tracker for a NaN fallback (:func:`_fallback_pitch`), or empty arrays.
    """
    settings = tables[4]
    state_presence, last_bins, last_mags = state
    held, alone_presence, residual, detected, scores, amps, picks, order = scratch
    f0_out, presence_out, peak_bins_out, peak_mags_out = outputs
    bin_hz = settings[1]
    f0_row, salience_row = picks[0], picks[1]
    for row in range(mags.shape[0]):
        mag = mags[row]
        stream = streams[row]
        held[:] = 0.0
        if stream < 0:
            presence = alone_presence
            presence[:] = 0.0
        else:
            presence = state_presence[stream]
        filled = _track(mag, tables, held, presence, scratch, f0_row, salience_row)
        first = f0_row[0] if filled > 0 else _fallback_pitch(row, fallback_hz, one_pitch)
        _write_slots(filled, first, f0_row, salience_row, f0_out[row], presence_out[row])
        if peak_bins_out.shape[1] == 0:
            continue
        # What no slot holds: the held spectrum, emptied before the frame, is the frame's
        # square-rooted magnitudes (zero for a frame holding NaN or infinity, which then has
        # no peaks), every slot's partials cancelled to their full depth.
        for k in range(residual.shape[0]):
            residual[k] = held[k]
        for k in range(filled):
            cancel_partials(f0_row[k] / bin_hz, residual, 1.0, amps, detected)
        last = max(stream, 0)  # a frame read alone reads no last peaks and keeps none
        _free_peaks(
            mag,
            residual,
            first / bin_hz,
            settings,
            stream >= 0,
            last_bins[last],
            last_mags[last],
            peak_bins_out[row],
            peak_mags_out[row],
            order,
        )


@hop_kernel
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
    """Pitch slots and free peaks of magnitude frames: each frame read alone, or frames read in
    order as streams.

    A frame read alone (:meth:`analyse`: the training batches, whose frames come in any order)
    starts from an empty state. A stream (:meth:`analyse_stream`: a sound's frames in order;
    :meth:`analyse_into`: each row a stream of its own, one frame a call, the hop clock's path)
    carries the multi-pitch tracker's presences from frame to frame and keeps the free peaks it
    chose last (see the module docstring, "Streams"). A stream's first frame
    is read as a frame alone.

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
        Rows of the buffers of :meth:`analyse_into` (the hop clock's path), each a stream.
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
            np.zeros(self.n_bins),  # the held spectrum, each frame's own
            np.zeros(n_candidates),  # a frame read alone's presences
            np.zeros(self.n_bins),
            np.zeros(self.n_bins),
            np.zeros(n_candidates),
            np.zeros(tracker.partials_scratch),
            np.zeros((2, slots)),
            np.zeros(max(peaks, 1), np.int64),
        )
        streams = max(batch, 1)
        self._state = (
            np.zeros((streams, n_candidates)),
            np.zeros((streams, peaks)),
            np.zeros((streams, peaks)),
        )
        self._streams = np.zeros(batch, np.int64)  # analyse_into's: row r stream r, silent -1
        self._all_sounding = np.ones(batch)
        self.f0 = np.zeros((batch, slots))
        self.presence = np.zeros((batch, slots))
        self.peak_bins = np.zeros((batch, peaks))
        self.peak_mags = np.zeros((batch, peaks))
        self._outputs = (self.f0, self.presence, self.peak_bins, self.peak_mags)
        self._no_one_pitch = (  # no one-pitch tracker: the fallbacks come given
            np.zeros((0, self.n_bins), np.float32),
            np.zeros((self.n_bins, 1), np.float32),
            np.zeros((0, 1), np.float32),
            np.zeros(2),
        )

    def reset(self) -> None:
        """Start every stream again: its next frame is read as a frame alone."""
        for array in self._state:
            array.fill(0.0)

    def analyse_into(
        self,
        mags: np.ndarray,
        fallback_hz: np.ndarray,
        active: np.ndarray | None = None,
        one_pitch: tuple | None = None,
    ) -> None:
        """The next frame of each of the ``batch`` streams, row ``r`` continuing stream ``r``,
        into :attr:`f0`, :attr:`presence`, :attr:`peak_bins` and :attr:`peak_mags`, through
        buffers made once (hop path).

        ``mags`` (batch, n_bins) float64, ``fallback_hz`` (batch,) float64. ``active``
        (batch,): a row whose value is 0 does not sound this hop; it is read alone and its
        stream starts again (its next sounding frame is read alone too). ``one_pitch``
        (:func:`_fallback_pitch`): a NaN fallback is taken from it, only for a frame with no
        pitch slot (most frames have one, and the product is 0.5 MB of weights).
        """
        streams = self._streams
        restart_silent(self._state, self._all_sounding if active is None else active, streams)
        analyse_rows(
            mags,
            fallback_hz,
            streams,
            self._tables,
            self._state,
            self._scratch,
            self._outputs,
            self._no_one_pitch if one_pitch is None else one_pitch,
        )

    def analyse(
        self, mags: np.ndarray, fallback_hz: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Slots and peaks of every row, each row read alone.

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
        return self._analyse(mags, fallback_hz, -1)

    def analyse_stream(
        self, mags: np.ndarray, fallback_hz: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`analyse` of consecutive frames of one sound, one hop apart, as the hop clock
        reads them: stream 0 continued from where its last call (or :meth:`reset`) left it."""
        return self._analyse(mags, fallback_hz, 0)

    def _analyse(self, mags: np.ndarray, fallback_hz: np.ndarray, stream: int):
        mags = np.ascontiguousarray(mags, np.float64)
        if mags.ndim != 2 or mags.shape[1] != self.n_bins:
            raise ValueError(f"expected magnitudes of shape (n, {self.n_bins}), got {mags.shape}")
        n = len(mags)
        outputs = (
            np.zeros((n, self.slots)),
            np.zeros((n, self.slots)),
            np.zeros((n, self.peaks)),
            np.zeros((n, self.peaks)),
        )
        analyse_rows(
            mags,
            np.ascontiguousarray(fallback_hz, np.float64),
            np.full(n, stream, np.int64),
            self._tables,
            self._state,
            self._scratch,
            outputs,
            self._no_one_pitch,
        )
        return outputs
