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

**Polyphony.** The first pick is the frame's most salient candidate; each later one is the most
salient candidate over its own minimum, a share of the frame's top salience (the first pick's):
:data:`MIN_RELATIVE_SALIENCE` for a new pitch, :data:`HELD_RELATIVE_SALIENCE` for a pitch held
over the past frames (linear in its presence, below), both times :data:`LATER_PICK_FACTOR` for
each pick after the second (cancellation leaves each later note of a chord less than the one
before). No pick lies within :data:`EXCLUSION_SEMITONES` of an earlier one (an imperfectly
cancelled note would come back a semitone off). A frame whose loudest bin is :data:`GATE_DB`
under a full-scale sine's (``n_fft / 4``) is silence: no slots.

**Temporal integration (past frames only).** Two states, buffers made once: a *held spectrum*,
the square-rooted magnitudes that rise at once and fall by :data:`SPECTRUM_RELEASE` a frame
where the frame is lower (a one-pole on the way down), which every pick of the frame reads in
place of the frame itself; since the salience is linear in that spectrum, this is a one-pole
per candidate on the first pick's salience, carried through the cancellation. It fills the
frame-to-frame dips of beating, vibrato and tremolo. And a *presence* per candidate of the
grid, a one-pole (:data:`PRESENCE_DECAY` a frame) of whether a pick lay within
:data:`HOLD_SEMITONES` of it: hysteresis, a pitch kept over the last frames keeps its slot with
a lower minimum than a new one needs, so a one-frame stray (often an imperfectly cancelled
partial) must clear the higher bar. Onsets are not delayed by the rise, but the old spectrum's
fall is: at an abrupt chord change the new chord is whole from 0 to 1 frame after the first
frame whose window lies inside it, and the old notes are gone 2 frames after it at the latest
(without the state: 1 and 2 frames before, in the windows that straddle the change).

Where this departs from Klapuri 2006, and why: at n_fft 1024 and 48 kHz a bin is 47 Hz, and the
low partials of a chord's notes share bins. His maxima over bin ranges after his spectral
whitening (whose triangular bands are no wider than one partial's main lobe, four bins, under
about 650 Hz, so they flatten the gaps between partials there) scored lower in development,
on chords rendered as in ``benchmarks/multipitch.py`` with another seed, than interpolated
sums of square-rooted magnitudes; his polyphony rule (add notes while ``S_j / j**0.7``
grows) stopped too early there (recall 0.59 against 0.73 with the relative rule).

**What was tried, and the numbers** (``benchmarks/multipitch.py``, 64 chords, mir_eval at 50
cents; tuned on ``--seed 1``, reported on the default seed 0; F, P and R of the 2-4 note chords,
then single notes' P). The stateless tracker (one threshold 0.45, the previous version): seed 1
F 0.769 (P 0.817, R 0.726), single P 0.878; seed 0 F 0.754 (0.831, 0.691), single P 0.828. On
seed 1: the held spectrum alone (release 0.8, threshold 0.45) F 0.818, single P 0.902 (a
symmetric one-pole at 0.8 instead, which also delays onsets: F 0.802; release 0.5, 0.6, 0.7 with
the rest as now: F 0.822, 0.828, 0.829); hysteresis and the later-pick factor without the held
spectrum F 0.793, single P 0.940; ordering the picks by salience over their minimum (so a held
pitch could jump the queue) instead of taking the most salient one over its minimum lost single
notes (held strays filled the slots: single F 0.57 with a held minimum of 0.2, 0.80 with 0.3,
against 0.93 before). All of it: seed 1 F 0.841 (P 0.883, R 0.802; 2 notes 0.871, 3 notes 0.903,
4 notes 0.772), single P 0.953; seed 0 F 0.814 (P 0.895, R 0.747; 2 notes 0.893, 3 notes 0.852,
4 notes 0.741), single P 0.865 and R 0.960. Left: octave errors on single notes, frames with a
pitch one or two octaves off the note, 0.7% on seed 1 (3.2% stateless) but 8.7% on seed 0 (7.8%
stateless); on seed 1 they are a louder second partial picked first and the fundamental second,
or a fourth partial kept as a note (spectral smoothness cannot tell such a note from an octave
doubling); and notes under A3 with strong even partials (their partials are under 5 bins apart)
get their octave with or without the state, the state holding it longer. 4-note chords lose most
(R 0.65 on seed 0); on seed 1 the fifth of a ``0 4 7 14`` voicing (every second partial the
root's) goes missing, and a seventh chord's top note is often taken an octave low.

Stateful: :meth:`MultiPitchTracker.track` runs the frames in order from a reset state, the
same kernel as :meth:`MultiPitchTracker.track_frame` (the hop clock's path: buffers made once,
nothing allocated per frame), which continues from the state it finds; :meth:`reset` forgets
it. About 30 us a frame, one thread (the one-pitch tracker: 4). Empty slots are 0 Hz with
salience 0; filled ones are sorted by salience, highest first. Salience is in units of
square-rooted magnitude (it grows as the square root of the frame's level); compare it within
a frame. Inharmonic partials (pianos' stretched upper partials, bells) are not modelled.

Why this file is longer than 500 lines: the many-pitch tracker's compiled kernels (salience, peak
picking, continuity) and their torch twins, which must stay equal.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from caminos.engine.dsp.compiled import hop_kernel
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
MIN_RELATIVE_SALIENCE = 0.6  # a second pick, new: at least this share of the frame's top
HELD_RELATIVE_SALIENCE = 0.4  # the same for a pitch held over the past frames
LATER_PICK_FACTOR = 0.9  # each pick after the second: this times the previous minimum
HOLD_SEMITONES = 0.5  # a pick makes the candidates this close present
PRESENCE_DECAY = 0.8  # per frame, of each candidate's presence
SPECTRUM_RELEASE = 0.8  # per frame, of the held spectrum where it falls (it rises at once)
EXCLUSION_SEMITONES = 1.5  # around a picked fundamental, no second pick
GATE_DB = -70.0  # loudest bin under a full-scale sine's peak (n_fft / 4): silence


def candidate_grid(f0_min: float, f0_max: float, steps_per_semitone: int) -> np.ndarray:
    """Candidate fundamentals in Hz, ``steps_per_semitone`` per semitone from ``f0_min`` up."""
    steps = int(np.floor(steps_per_semitone * 12 * np.log2(f0_max / f0_min))) + 1
    return f0_min * 2.0 ** (np.arange(steps) / (12.0 * steps_per_semitone))


def salience_taps(
    candidates: np.ndarray,
    n_bins: int,
    bin_hz: float,
    harmonics: int,
    alpha: float,
    beta: float,
    contrast: float,
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
    return (
        np.where(inside, index, 0),
        np.where(inside, position - index, 0.0),
        np.where(inside, weight, 0.0),
    )


@hop_kernel
def saliences(
    r: np.ndarray, index: np.ndarray, frac: np.ndarray, weight: np.ndarray, scores: np.ndarray
) -> None:
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
        for t in range(index.shape[1]):  # a tap past the spectrum (weight 0, bin 0) adds 0
            k = index[c, t]
            s += weight[c, t] * (r[k] + frac[c, t] * (r[k + 1] - r[k]))
        scores[c] = s


@hop_kernel
def cancel_partials(
    f0_bins: float, residual: np.ndarray, depth: float, amps: np.ndarray, detected: np.ndarray
) -> None:
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


@hop_kernel
def track_frame_kernel(
    mag: np.ndarray,
    index: np.ndarray,
    frac: np.ndarray,
    weight: np.ndarray,
    candidates: np.ndarray,
    settings: np.ndarray,
    held: np.ndarray,
    presence: np.ndarray,
    residual: np.ndarray,
    detected: np.ndarray,
    scores: np.ndarray,
    amps: np.ndarray,
    f0_out: np.ndarray,
    salience_out: np.ndarray,
) -> int:
    """One frame's slots into ``f0_out`` and ``salience_out`` (slots,); returns how many filled.

    Parameters
    ----------
    mag : ndarray, shape (n_bins,)
        Linear magnitudes of the frame.
    index, frac, weight : ndarray, shape (C, taps)
        The taps of :func:`salience_taps`.
    candidates : ndarray, shape (C,)
        The grid, in Hz (geometric, ``settings[5]`` octaves a step).
    settings : ndarray, shape (11,)
        In order: the gate (linear magnitude), the bin width (Hz), the cancel depth, the
        second pick's minimum salience relative to the frame's top for a new pitch, the
        exclusion (semitones), the grid's step (octaves), the same minimum for a held pitch,
        the hold width (semitones), the presence's decay per frame, the held spectrum's
        release per frame and the factor on the minimum for each pick after the second.
    held : ndarray, shape (n_bins,)
        State, read and updated: the held spectrum, square-rooted magnitudes that rise at once
        and fall by the release per frame.
    presence : ndarray, shape (C,)
        State, read and updated: per candidate, a one-pole (the presence's decay) of whether a
        pick lay within the hold width of it, 0 to 1.
    residual, detected : ndarray, shape (n_bins,)
        Scratch.
    scores : ndarray, shape (C,)
        Scratch.
    amps : ndarray
        Scratch, the lowest candidate's partials up to the last bins.
    f0_out, salience_out : ndarray, shape (slots,)
        Written: the fundamentals in Hz and their saliences, highest salience first, empty
        slots 0.

    Returns
    -------
    int
        Filled slots.
    """
    gate, release = settings[0], settings[9]
    f0_out[:] = 0.0
    salience_out[:] = 0.0
    loudest, finite = _hold_spectrum(mag, held, release)
    filled = 0
    if finite and loudest >= gate:
        for k in range(mag.shape[0]):
            residual[k] = held[k]
        filled = _pick_pitches(
            residual,
            index,
            frac,
            weight,
            candidates,
            settings,
            presence,
            detected,
            scores,
            amps,
            f0_out,
            salience_out,
        )
    _update_presence(presence, candidates, settings, f0_out, filled)
    _sort_by_salience(f0_out, salience_out, filled)
    return filled


@njit(cache=True, nogil=True, inline="always")
def _hold_spectrum(mag: np.ndarray, held: np.ndarray, release: float) -> tuple[float, bool]:
    """The held spectrum's step (square-rooted magnitudes that rise at once and fall by the
    release); returns the frame's largest magnitude and whether every value is finite (a frame
    with a NaN or an infinity is held as silence)."""
    loudest = 0.0
    finite = True
    for k in range(mag.shape[0]):
        if np.isfinite(mag[k]):
            loudest = max(loudest, mag[k])
        else:
            finite = False
    for k in range(mag.shape[0]):
        x = np.sqrt(max(mag[k], 0.0)) if finite else 0.0  # NaN or infinity: silence
        if x >= held[k]:  # rises at once, falls by the release
            held[k] = x
        else:
            held[k] = release * held[k] + (1.0 - release) * x
    return loudest, finite


@njit(cache=True, nogil=True, inline="always")
def _pick_pitches(
    residual: np.ndarray,
    index: np.ndarray,
    frac: np.ndarray,
    weight: np.ndarray,
    candidates: np.ndarray,
    settings: np.ndarray,
    presence: np.ndarray,
    detected: np.ndarray,
    scores: np.ndarray,
    amps: np.ndarray,
    f0_out: np.ndarray,
    salience_out: np.ndarray,
) -> int:
    """Estimate and cancel: the most salient pitch of ``residual`` over its minimum, its
    partials cancelled, again, until the slots are full or none is left; returns how many."""
    bin_hz, depth = settings[1], settings[2]
    new_relative, exclusion, log_step = settings[3], settings[4], settings[5]
    held_relative, later = settings[6], settings[10]
    semitone_step = 12.0 * log_step  # semitones between neighbouring candidates
    slots = f0_out.shape[0]
    n = scores.shape[0]
    filled = 0
    top = 0.0
    while filled < slots:
        saliences(residual, index, frac, weight, scores)
        if filled == 0:
            for c in range(n):
                top = max(top, scores[c])
        for i in range(filled):  # no second pick near an earlier one
            picked = 12.0 * np.log2(f0_out[i] / candidates[0])  # semitones up the grid
            for c in range(n):
                if abs(c * semitone_step - picked) < exclusion:
                    scores[c] = -np.inf
        floor = 0.0  # the minimum relative salience, of a new pitch; a held one's is lower
        if filled > 0:
            floor = top * later ** (filled - 1)
        best = -1
        for c in range(n):  # the most salient of those over their own minimum
            s = scores[c]
            if (
                s > 0.0
                and (best < 0 or s > scores[best])
                and s >= floor * (new_relative + (held_relative - new_relative) * presence[c])
            ):
                best = c
        if best < 0:
            break
        s = scores[best]
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
    return filled


@njit(cache=True, nogil=True, inline="always")
def _update_presence(
    presence: np.ndarray,
    candidates: np.ndarray,
    settings: np.ndarray,
    f0_out: np.ndarray,
    filled: int,
) -> None:
    """Per candidate, one pole (the presence's decay) of whether one of this frame's
    ``filled`` picks lies within the hold width of it; a candidate near two picks counts once."""
    log_step, hold_width, presence_decay = settings[5], settings[7], settings[8]
    semitone_step = 12.0 * log_step
    n = presence.shape[0]
    for c in range(n):
        presence[c] *= presence_decay
    for i in range(filled):
        picked = 12.0 * np.log2(f0_out[i] / candidates[0])
        low = max(0, int(np.floor((picked - hold_width) / semitone_step)))
        high = min(n - 1, int(np.ceil((picked + hold_width) / semitone_step)))
        for c in range(low, high + 1):
            if abs(c * semitone_step - picked) > hold_width:
                continue
            counted = False  # near an earlier pick too: counted once
            for j in range(i):
                if abs(c * semitone_step - 12.0 * np.log2(f0_out[j] / candidates[0])) <= hold_width:
                    counted = True
            if not counted:
                presence[c] += 1.0 - presence_decay


@njit(cache=True, nogil=True, inline="always")
def _sort_by_salience(f0_out: np.ndarray, salience_out: np.ndarray, filled: int) -> None:
    """The first ``filled`` slots sorted by salience, highest first (insertion sort, stable)."""
    for i in range(1, filled):
        f, s = f0_out[i], salience_out[i]
        j = i - 1
        while j >= 0 and salience_out[j] < s:
            f0_out[j + 1] = f0_out[j]
            salience_out[j + 1] = salience_out[j]
            j -= 1
        f0_out[j + 1] = f
        salience_out[j + 1] = s


@hop_kernel
def _track_frames(
    mags,
    index,
    frac,
    weight,
    candidates,
    settings,
    held,
    presence,
    residual,
    detected,
    scores,
    amps,
    f0,
    salience,
) -> None:
    """:func:`track_frame_kernel` on every row of ``mags``, in order, into the rows of ``f0``
    and ``salience``."""
    for i in range(mags.shape[0]):
        track_frame_kernel(
            mags[i],
            index,
            frac,
            weight,
            candidates,
            settings,
            held,
            presence,
            residual,
            detected,
            scores,
            amps,
            f0[i],
            salience[i],
        )


class MultiPitchTracker:
    """Up to ``slots`` fundamentals of each magnitude frame, by estimate and cancel, with
    causal temporal integration (past frames only).

    Stateful: each frame updates a held spectrum and a presence per candidate (see the module
    docstring). :meth:`track` starts from :meth:`reset` and leaves the state after its last
    frame; :meth:`track_frame` continues from the state it finds.

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
        The second pick's salience, if its pitch is new (presence 0), must be at least this
        share of the frame's top salience.
    held_relative_salience : float
        The same for a held pitch (presence 1); between the two, linear in the presence.
    later_pick_factor : float
        Each pick after the second needs this factor times the previous pick's minimum.
    hold_semitones : float
        A pick makes the candidates within this distance, in semitones, present.
    presence_decay : float
        Per frame, of each candidate's presence (a one-pole), 0 to 1 (0: the last frame only).
    spectrum_release : float
        Per frame, of the held spectrum where it falls (square-rooted magnitudes; it rises at
        once), 0 to 1 (0: the frame alone, no state).
    exclusion_semitones : float
        No pick within this distance of an earlier one, in semitones.
    gate_db : float
        A frame whose loudest bin is this far under a full-scale sine's peak bin
        (``n_fft / 4``), in dB, has no slots (a frame holding NaN or infinity has none
        either, and counts as silence in the state).
    """

    def __init__(
        self,
        n_fft: int,
        sample_rate: int,
        slots: int = SLOTS,
        f0_min: float = F0_MIN_HZ,
        f0_max: float = F0_MAX_HZ,
        harmonics: int = HARMONICS,
        steps_per_semitone: int = STEPS_PER_SEMITONE,
        alpha: float = ALPHA_HZ,
        beta: float = BETA_HZ,
        contrast: float = CONTRAST,
        cancel_depth: float = CANCEL_DEPTH,
        min_relative_salience: float = MIN_RELATIVE_SALIENCE,
        held_relative_salience: float = HELD_RELATIVE_SALIENCE,
        later_pick_factor: float = LATER_PICK_FACTOR,
        hold_semitones: float = HOLD_SEMITONES,
        presence_decay: float = PRESENCE_DECAY,
        spectrum_release: float = SPECTRUM_RELEASE,
        exclusion_semitones: float = EXCLUSION_SEMITONES,
        gate_db: float = GATE_DB,
    ) -> None:
        if slots < 1:
            raise ValueError(f"slots: expected at least 1, got {slots}")
        if not 0.0 < f0_min < f0_max < sample_rate / 2:
            raise ValueError(
                f"expected 0 < f0_min < f0_max < {sample_rate / 2} Hz, got {f0_min} and {f0_max}"
            )
        for name, value in (
            ("presence_decay", presence_decay),
            ("spectrum_release", spectrum_release),
        ):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name}: expected 0 to 1 (1 excluded), got {value}")
        self.n_bins = n_fft // 2 + 1
        self.slots = slots
        bin_hz = sample_rate / n_fft
        self.candidates = candidate_grid(f0_min, f0_max, steps_per_semitone)
        self._index, self._frac, self._weight = salience_taps(
            self.candidates, self.n_bins, bin_hz, harmonics, alpha, beta, contrast
        )
        self._settings = np.array(
            [
                n_fft / 4.0 * 10.0 ** (gate_db / 20.0),
                bin_hz,
                cancel_depth,
                min_relative_salience,
                exclusion_semitones,
                1.0 / (12.0 * steps_per_semitone),
                held_relative_salience,
                hold_semitones,
                presence_decay,
                spectrum_release,
                later_pick_factor,
            ]
        )
        self._mag = np.zeros(self.n_bins)
        self._held = np.zeros(self.n_bins)  # state
        self._presence = np.zeros(len(self.candidates))  # state
        self._residual = np.zeros(self.n_bins)
        self._detected = np.zeros(self.n_bins)
        self._scores = np.zeros(len(self.candidates))
        self._amps = np.zeros(int(self.n_bins * bin_hz / f0_min) + 1)  # every partial, to Nyquist

    @property
    def taps_index(self) -> np.ndarray:
        """(C, taps) bins each candidate reads (:func:`salience_taps`)."""
        return self._index

    @property
    def taps_frac(self) -> np.ndarray:
        """(C, taps) how far past its bin each tap lies."""
        return self._frac

    @property
    def taps_weight(self) -> np.ndarray:
        """(C, taps) each tap's weight."""
        return self._weight

    @property
    def settings(self) -> np.ndarray:
        """The settings array :func:`track_frame_kernel` reads (see its docstring)."""
        return self._settings

    @property
    def partials_scratch(self) -> int:
        """Length of the partial-amplitude scratch :func:`cancel_partials` needs here."""
        return len(self._amps)

    def reset(self) -> None:
        """Forget every past frame: an empty held spectrum, no candidate present."""
        self._held[:] = 0.0
        self._presence[:] = 0.0

    def track_frame(
        self, magnitudes: np.ndarray, f0_out: np.ndarray, salience_out: np.ndarray
    ) -> int:
        """The next frame's slots, through the buffers made once (the hop clock's path).

        Reads and updates the state: frames must come in order, one hop apart.

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
        return track_frame_kernel(
            self._mag,
            self._index,
            self._frac,
            self._weight,
            self.candidates,
            self._settings,
            self._held,
            self._presence,
            self._residual,
            self._detected,
            self._scores,
            self._amps,
            f0_out,
            salience_out,
        )

    def track(self, magnitudes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every frame's slots, in order from a reset state (:meth:`reset`, then
        :meth:`track_frame` on each frame; the state is the last frame's after).

        Parameters
        ----------
        magnitudes : ndarray, shape (frames, n_bins)
            Linear STFT magnitudes, consecutive frames one hop apart.

        Returns
        -------
        f0_hz, salience : ndarray of float64, shape (frames, slots)
            Fundamentals in Hz and their saliences, per frame highest salience first; empty
            slots 0 Hz and 0.
        """
        magnitudes = np.ascontiguousarray(magnitudes, np.float64)
        if magnitudes.ndim != 2 or magnitudes.shape[1] != self.n_bins:
            raise ValueError(
                f"expected magnitudes of shape (frames, {self.n_bins}), got {magnitudes.shape}"
            )
        self.reset()
        f0 = np.zeros((len(magnitudes), self.slots))
        salience = np.zeros((len(magnitudes), self.slots))
        _track_frames(
            magnitudes,
            self._index,
            self._frac,
            self._weight,
            self.candidates,
            self._settings,
            self._held,
            self._presence,
            self._residual,
            self._detected,
            self._scores,
            self._amps,
            f0,
            salience,
        )
        return f0, salience
