"""Causal multi-pitch tracking: up to K fundamentals per magnitude frame, by estimate and cancel.

The many-pitch counterpart of :class:`caminos.models.pitch.PitchTracker`: each magnitude frame
gives ``slots`` (f0, salience) pairs, found one after another as in Klapuri's iterative
estimation ("Multiple fundamental frequency estimation by summing harmonic amplitudes", 2006):
pick the most salient fundamental, take its partials out of the spectrum, score again.

**Salience.** Every candidate ``f`` on a log grid (:data:`STEPS_PER_SEMITONE` per semitone,
:data:`F0_MIN_HZ` to :data:`F0_MAX_HZ`) sums the square roots of the magnitudes (of the
residual, below) at its first :data:`HARMONICS` harmonics, read between bins by linear
interpolation and weighted by Klapuri's partial weighting ``g(f, m) = (f + alpha) / (m f +
beta)`` (Hz; :data:`ALPHA_HZ`, :data:`BETA_HZ`), less :data:`CONTRAST` times the same weights
on the magnitudes halfway between harmonics (the interharmonic contrast of ``models.pitch``).
The weighting's numerator keeps a sub-harmonic, which also collects every partial of the true
note, under it; the contrast keeps the octave above under it, since that candidate's
interharmonics are the true note's odd partials (what matters for a note whose second partial
is louder than its first). The best candidate is refined by a parabola through its neighbours'
scores.

**Cancellation (spectral smoothness).** The picked note's partial amplitudes ``A_m``, every
partial up to the last bins (the residual's largest bin within one bin of ``m f``), are
smoothed along the harmonic number, ``min(A_m, (A_{m-1} + 2 A_m + A_{m+1}) / 4)`` (the
spectral smoothness principle of Klapuri's 2003 "Multiple fundamental frequency estimation
based on harmonicity and spectral smoothness"), and :data:`CANCEL_DEPTH` of a Hann main lobe
of each smoothed amplitude is subtracted from the residual at ``m f``. A partial that another
note shares (every third of a fifth's lower note, every second of an octave's) stands above its
smoothed neighbours, so what exceeds them stays in the residual for the next note.

**Polyphony.** Slots fill while the next pick's salience is at least
:data:`MIN_RELATIVE_SALIENCE` of the first's; no pick lies within :data:`EXCLUSION_SEMITONES`
of an earlier one (an imperfectly cancelled note would come back a semitone off). A frame
whose loudest bin is :data:`GATE_DB` under a full-scale sine's (``n_fft / 4``) is silence: no
slots.

Where this departs from Klapuri 2006, and why: at n_fft 1024 and 48 kHz a bin is 47 Hz, and the
low partials of a chord's notes share bins. His maxima over bin ranges after his spectral
whitening (whose triangular bands are no wider than one partial's main lobe, four bins, under
about 650 Hz, so they flatten the gaps between partials there) scored lower in development,
on chords rendered as in ``benchmarks/multipitch.py`` with another seed, than interpolated
sums of square-rooted magnitudes; his polyphony rule (add notes while ``S_j / j**0.7``
grows) stopped too early there (recall 0.59 against 0.73 with the rule above).

One frame in, ``slots`` pairs out: no state and no future frames, so no latency, and the batched
path (:meth:`MultiPitchTracker.track`) and the per-frame path of the hop clock
(:meth:`MultiPitchTracker.track_frame`, buffers made once, nothing allocated per frame) run the
same kernel. Empty slots are 0 Hz with salience 0; filled ones are sorted by salience, highest
first. Salience is in units of square-rooted magnitude (it grows as the square root of the
frame's level); compare it within a frame. Inharmonic partials (pianos' stretched upper
partials, bells) are not modelled.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from caminos.models.pitch import hann_lobe_at

F0_MIN_HZ = 65.0  # about C2
F0_MAX_HZ = 2100.0  # about C7
SLOTS = 4
HARMONICS = 20
STEPS_PER_SEMITONE = 4
ALPHA_HZ = 27.0  # Klapuri's partial weighting g(f, m) = (f + alpha) / (m f + beta)
BETA_HZ = 320.0
CONTRAST = 0.3  # weight of the interharmonic magnitudes, subtracted
CANCEL_DEPTH = 0.8  # share of a picked note's smoothed partials taken out of the residual
MIN_RELATIVE_SALIENCE = 0.45  # a later pick's salience, at least this share of the first's
EXCLUSION_SEMITONES = 1.5  # around a picked fundamental, no second pick
GATE_DB = -70.0  # loudest bin under a full-scale sine's peak (n_fft / 4): silence


def candidate_grid(f0_min: float, f0_max: float, steps_per_semitone: int) -> np.ndarray:
    """Candidate fundamentals in Hz, ``steps_per_semitone`` per semitone from ``f0_min`` up."""
    steps = int(np.floor(steps_per_semitone * 12 * np.log2(f0_max / f0_min))) + 1
    return f0_min * 2.0 ** (np.arange(steps) / (12.0 * steps_per_semitone))


def salience_taps(candidates: np.ndarray, n_bins: int, bin_hz: float, harmonics: int,
                  alpha: float, beta: float, contrast: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each candidate reads the spectrum, and with what weight.

    Parameters
    ----------
    candidates : ndarray, shape (C,)
        Fundamentals, in Hz.
    n_bins : int
        Bins per frame.
    bin_hz : float
        Width of a bin, in Hz.
    harmonics : int
        Harmonics summed per candidate.
    alpha, beta : float
        Of the partial weighting ``g(f, m) = (f + alpha) / (m f + beta)``, in Hz.
    contrast : float
        Weight of the interharmonic taps, subtracted.

    Returns
    -------
    index : ndarray of int64, shape (C, 2 * harmonics)
        The bin under each tap: harmonic ``m`` (tap ``2 (m - 1)``) at ``m f``, and the
        interharmonic below it (tap ``2 (m - 1) + 1``) at ``(m - 1/2) f``, in bins.
    frac : ndarray of float64, shape (C, 2 * harmonics)
        How far past ``index`` the tap lies, 0 to 1 (linear interpolation).
    weight : ndarray of float64, shape (C, 2 * harmonics)
        ``g(f, m)`` for a harmonic, ``-contrast * g(f, m)`` for an interharmonic; 0 for a tap
        past the second-last bin.
    """
    m = np.arange(1, harmonics + 1)[None, :]
    f = candidates[:, None]
    g = (f + alpha) / (m * f + beta)
    position = np.empty((len(candidates), 2 * harmonics))
    position[:, 0::2] = m * f / bin_hz
    position[:, 1::2] = (m - 0.5) * f / bin_hz
    weight = np.empty_like(position)
    weight[:, 0::2] = g
    weight[:, 1::2] = -contrast * g
    index = np.floor(position).astype(np.int64)
    inside = index + 1 < n_bins
    return (np.where(inside, index, 0), np.where(inside, position - index, 0.0),
            np.where(inside, weight, 0.0))


@njit(cache=True, nogil=True)
def saliences(r: np.ndarray, index: np.ndarray, frac: np.ndarray, weight: np.ndarray,
              scores: np.ndarray) -> None:
    """Every candidate's salience on the spectrum ``r``, into ``scores``.

    Parameters
    ----------
    r : ndarray, shape (n_bins,)
        Square-rooted magnitudes (the residual).
    index, frac, weight : ndarray, shape (C, taps)
        The taps of :func:`salience_taps`.
    scores : ndarray, shape (C,)
        Written: ``sum_t weight[c, t] * (r[index] + frac * (r[index + 1] - r[index]))``.
    """
    for c in range(index.shape[0]):
        s = 0.0
        for t in range(index.shape[1]):
            w = weight[c, t]
            if w != 0.0:
                k = index[c, t]
                s += w * (r[k] + frac[c, t] * (r[k + 1] - r[k]))
        scores[c] = s


@njit(cache=True, nogil=True)
def cancel_partials(f0_bins: float, residual: np.ndarray, depth: float, amps: np.ndarray,
                    detected: np.ndarray) -> None:
    """Take the smoothed partials of one note out of ``residual``, in place.

    Parameters
    ----------
    f0_bins : float
        The note's fundamental, in bins (Hz over the bin width).
    residual : ndarray, shape (n_bins,)
        Square-rooted magnitudes; becomes ``max(0, residual - depth * detected)``.
    depth : float
        Share of the smoothed partials taken out, 0 to 1.
    amps : ndarray, shape (at least the partials below the third-last bin,)
        Scratch: partial ``m``'s amplitude, the largest of the three bins nearest ``m f0``.
    detected : ndarray, shape (n_bins,)
        Written: the cancelled spectrum, a Hann main lobe (``models.pitch.hann_lobe``) at each
        partial ``m f0`` of height ``min(A_m, (A_{m-1} + 2 A_m + A_{m+1}) / 4)`` (the
        neighbours that exist; spectral smoothness).
    """
    n_bins = residual.shape[0]
    count = 0
    for m in range(amps.shape[0]):
        k = max(1, int(np.round((m + 1) * f0_bins)))
        if k + 3 > n_bins:
            break
        amps[m] = max(residual[k - 1], residual[k], residual[k + 1])
        count += 1
    detected[:] = 0.0
    for m in range(count):
        total = 2.0 * amps[m]
        norm = 2.0
        if m > 0:
            total += amps[m - 1]
            norm += 1.0
        if m + 1 < count:
            total += amps[m + 1]
            norm += 1.0
        smooth = min(amps[m], total / norm)
        position = (m + 1) * f0_bins
        centre = int(np.round(position))
        for k in range(max(0, centre - 2), min(n_bins, centre + 3)):
            detected[k] += smooth * hann_lobe_at(k - position)
    for k in range(n_bins):
        residual[k] = max(0.0, residual[k] - depth * detected[k])


@njit(cache=True, nogil=True)
def track_frame_kernel(mag: np.ndarray, index: np.ndarray, frac: np.ndarray,
                       weight: np.ndarray, candidates: np.ndarray, settings: np.ndarray,
                       residual: np.ndarray, detected: np.ndarray, scores: np.ndarray,
                       amps: np.ndarray, f0_out: np.ndarray, salience_out: np.ndarray) -> int:
    """One frame's slots into ``f0_out`` and ``salience_out`` (slots,); returns how many filled.

    ``settings`` holds, in order: the gate (linear magnitude), the bin width (Hz), the cancel
    depth, the minimum salience relative to the first, the exclusion (semitones) and the grid's
    step (octaves). ``residual``, ``detected`` (n_bins,), ``scores`` (candidates,) and ``amps``
    (the lowest candidate's partials up to the last bins,) are scratch; the rest are the
    tables of :class:`MultiPitchTracker`.
    """
    gate, bin_hz, depth = settings[0], settings[1], settings[2]
    min_relative, exclusion, log_step = settings[3], settings[4], settings[5]
    slots = f0_out.shape[0]
    n = scores.shape[0]
    f0_out[:] = 0.0
    salience_out[:] = 0.0
    loudest = 0.0
    for k in range(mag.shape[0]):
        loudest = max(loudest, mag[k])
    if not loudest >= gate:  # also NaN
        return 0
    for k in range(mag.shape[0]):
        residual[k] = np.sqrt(max(mag[k], 0.0))
    filled = 0
    while filled < slots:
        saliences(residual, index, frac, weight, scores)
        for i in range(filled):  # no second pick near an earlier one
            for c in range(n):
                if abs(12.0 * np.log2(candidates[c] / f0_out[i])) < exclusion:
                    scores[c] = -np.inf
        best = 0
        for c in range(1, n):
            if scores[c] > scores[best]:
                best = c
        s = scores[best]
        if not s > 0.0 or (filled > 0 and s < min_relative * salience_out[0]):
            break
        shift = 0.0
        if 0 < best < n - 1 and np.isfinite(scores[best - 1]) and np.isfinite(scores[best + 1]):
            curve = scores[best - 1] - 2.0 * s + scores[best + 1]
            if curve < 0.0:
                shift = min(max(0.5 * (scores[best - 1] - scores[best + 1]) / curve, -0.5), 0.5)
        f0 = candidates[0] * 2.0 ** ((best + shift) * log_step)
        f0_out[filled] = f0
        salience_out[filled] = s
        filled += 1
        if filled < slots:
            cancel_partials(f0 / bin_hz, residual, depth, amps, detected)
    for i in range(1, filled):  # insertion sort, highest salience first
        f, s = f0_out[i], salience_out[i]
        j = i - 1
        while j >= 0 and salience_out[j] < s:
            f0_out[j + 1] = f0_out[j]
            salience_out[j + 1] = salience_out[j]
            j -= 1
        f0_out[j + 1] = f
        salience_out[j + 1] = s
    return filled


@njit(cache=True, nogil=True)
def _track_frames(mags, index, frac, weight, candidates, settings, residual, detected, scores,
                  amps, f0, salience) -> None:
    """:func:`track_frame_kernel` on every row of ``mags`` into the rows of ``f0`` and
    ``salience``."""
    for i in range(mags.shape[0]):
        track_frame_kernel(mags[i], index, frac, weight, candidates, settings, residual,
                           detected, scores, amps, f0[i], salience[i])


class MultiPitchTracker:
    """Up to ``slots`` fundamentals of each magnitude frame, by estimate and cancel.

    Parameters
    ----------
    n_fft : int
        Frame size, in samples (the frames' window is a periodic Hann of this length).
    sample_rate : int
        In Hz.
    slots : int
        Pitches per frame, at most (3 or 4 for chords).
    f0_min, f0_max : float
        Search range, in Hz.
    harmonics : int
        Harmonics summed per candidate (those past the second-last bin are left out).
    steps_per_semitone : int
        Candidates per semitone.
    alpha, beta : float
        Of the partial weighting ``g(f, m) = (f + alpha) / (m f + beta)``, in Hz.
    contrast : float
        Weight of the interharmonic magnitudes, subtracted (0: plain harmonic summation).
    cancel_depth : float
        Share of a picked note's smoothed partials taken out of the residual, 0 to 1.
    min_relative_salience : float
        A later pick's salience must be at least this share of the first's.
    exclusion_semitones : float
        No pick within this distance of an earlier one, in semitones.
    gate_db : float
        A frame whose loudest bin is this far under a full-scale sine's peak bin
        (``n_fft / 4``), in dB, has no slots.
    """

    def __init__(self, n_fft: int, sample_rate: int, slots: int = SLOTS,
                 f0_min: float = F0_MIN_HZ, f0_max: float = F0_MAX_HZ,
                 harmonics: int = HARMONICS, steps_per_semitone: int = STEPS_PER_SEMITONE,
                 alpha: float = ALPHA_HZ, beta: float = BETA_HZ, contrast: float = CONTRAST,
                 cancel_depth: float = CANCEL_DEPTH,
                 min_relative_salience: float = MIN_RELATIVE_SALIENCE,
                 exclusion_semitones: float = EXCLUSION_SEMITONES,
                 gate_db: float = GATE_DB) -> None:
        if slots < 1:
            raise ValueError(f"slots: expected at least 1, got {slots}")
        if not 0.0 < f0_min < f0_max < sample_rate / 2:
            raise ValueError(f"expected 0 < f0_min < f0_max < {sample_rate / 2} Hz, got "
                             f"{f0_min} and {f0_max}")
        self.n_bins = n_fft // 2 + 1
        self.slots = slots
        bin_hz = sample_rate / n_fft
        self.candidates = candidate_grid(f0_min, f0_max, steps_per_semitone)
        self._index, self._frac, self._weight = salience_taps(
            self.candidates, self.n_bins, bin_hz, harmonics, alpha, beta, contrast)
        self._settings = np.array([n_fft / 4.0 * 10.0 ** (gate_db / 20.0), bin_hz, cancel_depth,
                                   min_relative_salience, exclusion_semitones,
                                   1.0 / (12.0 * steps_per_semitone)])
        self._mag = np.zeros(self.n_bins)
        self._residual = np.zeros(self.n_bins)
        self._detected = np.zeros(self.n_bins)
        self._scores = np.zeros(len(self.candidates))
        self._amps = np.zeros(int(self.n_bins * bin_hz / f0_min) + 1)  # every partial, to Nyquist

    def track_frame(self, magnitudes: np.ndarray, f0_out: np.ndarray,
                    salience_out: np.ndarray) -> int:
        """One frame's slots, through the buffers made once (the hop clock's path).

        Parameters
        ----------
        magnitudes : ndarray, shape (n_bins,)
            Linear STFT magnitudes of one frame.
        f0_out, salience_out : ndarray of float64, shape (slots,)
            Written: fundamentals in Hz and their saliences, highest salience first; empty
            slots 0 Hz and 0.

        Returns
        -------
        int
            Filled slots.
        """
        self._mag[:] = magnitudes
        return track_frame_kernel(self._mag, self._index, self._frac, self._weight,
                                  self.candidates, self._settings, self._residual,
                                  self._detected, self._scores, self._amps, f0_out,
                                  salience_out)

    def track(self, magnitudes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every frame's slots.

        Parameters
        ----------
        magnitudes : ndarray, shape (frames, n_bins)
            Linear STFT magnitudes.

        Returns
        -------
        f0_hz, salience : ndarray of float64, shape (frames, slots)
            Fundamentals in Hz and their saliences, per frame highest salience first; empty
            slots 0 Hz and 0.
        """
        magnitudes = np.ascontiguousarray(magnitudes, np.float64)
        if magnitudes.ndim != 2 or magnitudes.shape[1] != self.n_bins:
            raise ValueError(f"expected magnitudes of shape (frames, {self.n_bins}), got "
                             f"{magnitudes.shape}")
        f0 = np.zeros((len(magnitudes), self.slots))
        salience = np.zeros((len(magnitudes), self.slots))
        _track_frames(magnitudes, self._index, self._frac, self._weight, self.candidates,
                      self._settings, self._residual, self._detected, self._scores,
                      self._amps, f0, salience)
        return f0, salience
