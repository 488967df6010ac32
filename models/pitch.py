"""Frame-wise fundamental frequency from a magnitude spectrum, and the harmonic comb it draws.

The autoencoder's pitch channel. :class:`PitchTracker` estimates each frame's fundamental by
subharmonic summation (Hermes 1988) with an interharmonic contrast: every candidate on a
quarter-semitone grid scores the compressed magnitudes (square roots) at its first harmonics
less those halfway between them, weighted ``0.84**(h - 1)``. The decay makes a candidate an
octave too low, which also collects the true harmonics, score less; the contrast makes one an
octave too high lose (its interharmonics are the odd harmonics) and keeps low candidates from
adding up the skirts of a few wide partials (at n_fft 1024 and 48 kHz a partial's main lobe is
four bins, 188 Hz, wide). The best candidate is refined by a parabola through its neighbours'
scores. It reads one frame and keeps
no state, so the streaming path (the engine, one frame per hop) and the offline path (training,
``caminos reconstruct``) give the same numbers, and adds no latency. The scores are one matrix
product, precomputed as a dense (candidates x bins) matrix.

:func:`harmonic_comb` is the decoder's side: for a fundamental in Hz it gives, per bin, the
height of the Hann window's main lobe centred on the nearest harmonic (1 on a harmonic, 0 two
bins or more away), so a decoder can raise partials exactly where the pitch puts them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from caminos.engine.dsp.compiled import hop_kernel

F0_MIN_HZ = 40.0
F0_MAX_HZ = 1600.0
STEPS_PER_SEMITONE = 4
HARMONICS = 12
HARMONIC_DECAY = 0.84  # Hermes' compression of higher harmonics' weights


def hz_to_semitones(f0_hz: np.ndarray | float) -> np.ndarray | float:
    """Pitch in semitones above A0 = 27.5 Hz (MIDI note less 21)."""
    return 12.0 * np.log2(np.asarray(f0_hz) / 27.5)


def semitones_to_hz(semitones: np.ndarray | float) -> np.ndarray | float:
    """Inverse of :func:`hz_to_semitones`."""
    return 27.5 * 2.0 ** (np.asarray(semitones) / 12.0)


class PitchTracker:
    """Fundamental frequency of magnitude frames by subharmonic summation.

    Parameters
    ----------
    n_fft : int
        Frame size, in samples.
    sample_rate : int
        In Hz.
    f0_min, f0_max : float
        Search range, in Hz.
    batch : int
        Rows of the preallocated buffers of :meth:`track_into` (the streaming path).
    """

    def __init__(
        self,
        n_fft: int,
        sample_rate: int,
        f0_min: float = F0_MIN_HZ,
        f0_max: float = F0_MAX_HZ,
        batch: int = 1,
    ) -> None:
        self.n_bins = n_fft // 2 + 1
        bin_hz = sample_rate / n_fft
        steps = int(np.floor(STEPS_PER_SEMITONE * 12 * np.log2(f0_max / f0_min))) + 1
        self.candidates = f0_min * 2.0 ** (np.arange(steps) / (12 * STEPS_PER_SEMITONE))
        matrix = np.zeros((steps, self.n_bins))
        weights = HARMONIC_DECAY ** np.arange(HARMONICS)
        for c, f0 in enumerate(self.candidates):
            for h in range(HARMONICS):
                for position, sign in (
                    ((h + 1) * f0 / bin_hz, 1.0),
                    ((h + 0.5) * f0 / bin_hz, -1.0),
                ):
                    low = int(np.floor(position))
                    if low + 1 >= self.n_bins:
                        continue
                    frac = position - low  # linear interpolation between the two nearest bins
                    matrix[c, low] += sign * weights[h] * (1.0 - frac)
                    matrix[c, low + 1] += sign * weights[h] * frac
        self.matrix_t = np.ascontiguousarray(matrix.T.astype(np.float32))  # (bins, candidates)
        # octaves between neighbouring candidates
        self.log_step = np.log2(self.candidates[1] / self.candidates[0]) if steps > 1 else 0.0
        self._root = np.zeros((batch, self.n_bins), np.float32)
        self._scores = np.zeros((batch, steps), np.float32)

    def track(self, magnitudes: np.ndarray) -> np.ndarray:
        """Fundamentals of linear magnitude frames (n, n_bins), in Hz, shape (n,), float64."""
        root = np.sqrt(np.maximum(np.asarray(magnitudes, np.float32), 0.0))
        return self._refine(root @ self.matrix_t)

    def track_into(self, magnitudes: np.ndarray, out: np.ndarray) -> None:
        """:meth:`track` of ``batch`` frames into ``out`` (batch,), through fixed buffers."""
        np.maximum(magnitudes, 0.0, out=self._root)
        np.sqrt(self._root, out=self._root)
        np.matmul(self._root, self.matrix_t, out=self._scores)
        out[:] = self._refine(self._scores)

    def _refine(self, scores: np.ndarray) -> np.ndarray:
        """Best candidate of each row, moved by a parabola through its neighbours' scores, Hz."""
        index = np.empty(len(scores))
        refined_candidates(scores, index)
        return self.candidates[0] * 2.0 ** (index * self.log_step)


@hop_kernel
def refined_candidate(scores: np.ndarray) -> float:
    """The best of one frame's candidate scores (candidates,), as a fractional index: moved by
    the vertex of a parabola through its neighbours' scores, at most half a step either way.

    The one refinement of every pitch estimate: the tracker's offline frames
    (:meth:`PitchTracker.track`) and the hop path's (:mod:`caminos.engine.clock.codec`).
    """
    best = int(np.argmax(scores))
    shift = 0.0
    if 1 <= best <= scores.shape[0] - 2:
        left, centre, right = scores[best - 1], scores[best], scores[best + 1]
        curve = left - 2.0 * centre + right
        if curve < 0.0:
            shift = min(max(0.5 * (left - right) / curve, -0.5), 0.5)
    return best + shift


@hop_kernel
def refined_candidates(scores: np.ndarray, out: np.ndarray) -> None:
    """:func:`refined_candidate` of each row of ``scores`` (frames, candidates) into ``out``."""
    for row in range(scores.shape[0]):
        out[row] = refined_candidate(scores[row])


def harmonic_comb(f0_hz: np.ndarray, n_bins: int, bin_hz: float) -> np.ndarray:
    """Main-lobe heights of a Hann window on the harmonics of ``f0_hz``, per bin, 0 to 1.

    Parameters
    ----------
    f0_hz : ndarray, shape (n,)
        Fundamentals in Hz (clipped to at least one bin's width).
    n_bins : int
        Bins per frame.
    bin_hz : float
        Width of a bin, ``sample_rate / n_fft``, in Hz.

    Returns
    -------
    ndarray, shape (n, n_bins)
        ``lobe(d)`` with ``d`` the distance in bins from each bin to the nearest harmonic (the
        first harmonic at least): ``lobe(d) = |sinc(d) / (1 - d**2)|`` for ``d < 2``, else 0
        (the Hann window's normalised main lobe).
    """
    f0_bins = np.maximum(np.asarray(f0_hz, np.float64), bin_hz) / bin_hz
    out = np.empty((len(f0_bins), n_bins))
    _comb_rows(f0_bins, out)
    return out


@hop_kernel
def _comb_rows(f0_bins: np.ndarray, out: np.ndarray) -> None:
    for row in range(out.shape[0]):
        for k in range(out.shape[1]):
            out[row, k] = comb_at(k, f0_bins[row])


@hop_kernel
def comb_at(k: int, f0_bins: float) -> float:
    """:func:`harmonic_comb` at one bin ``k`` for a fundamental of ``f0_bins`` bins: the main
    lobe at the distance to the nearest harmonic (the first at least), for kernels (the hop
    path's comb)."""
    return hann_lobe_at(k - nearest_harmonic(k, f0_bins) * f0_bins)


@njit(cache=True, nogil=True, inline="always")
def nearest_harmonic(k: int, f0_bins: float) -> float:
    """The harmonic of ``f0_bins`` nearest bin ``k`` (the first at least), whose lobe
    :func:`comb_at` gives the bin."""
    return max(np.round(k / f0_bins), 1.0)


@njit(cache=True, nogil=True, inline="always")
def lobe_span(centre: float, n_bins: int) -> tuple[int, int]:
    """First and last bin (inclusive, within ``0 .. n_bins - 1``) less than two bins from
    ``centre`` (bins): where a main lobe centred there can be drawn."""
    return max(0, int(np.ceil(centre - 2.0))), min(n_bins - 1, int(np.floor(centre + 2.0)))


@njit(cache=True, nogil=True, inline="always")
def harmonic_span(harmonic: int, f0_bins: float, n_bins: int) -> tuple[int, int]:
    """:func:`lobe_span` of the ``harmonic``-th harmonic of ``f0_bins``. A kernel that visits
    these bins of every harmonic, keeping those whose :func:`nearest_harmonic` it is, gives
    every non-zero bin of :func:`comb_at` and skips the bins between harmonics."""
    return lobe_span(harmonic * f0_bins, n_bins)


@njit(cache=True, nogil=True, inline="always")
def semitones_in_bins(semitones: float, bin_hz: float) -> float:
    """A pitch in semitones above A0 (at most 200 counts) as a frequency in bins of ``bin_hz``
    Hz, for kernels."""
    return 27.5 * 2.0 ** (min(semitones, 200.0) / 12.0) / bin_hz


@hop_kernel
def hann_lobe_at(d: float) -> float:
    """:func:`hann_lobe` of one distance ``d`` in bins, compiled, for kernels (the hop path's
    comb, the multi-pitch tracker's cancellation)."""
    d = abs(d)
    if d >= 2.0:
        return 0.0
    den = np.pi * d * (1.0 - d * d)
    if abs(den) < 1e-12:
        return 1.0 - 0.5 * np.round(d)  # the limits: 1 at d = 0, 0.5 at d = 1
    return abs(np.sin(np.pi * d) / den)


@hop_kernel
def gated_combs(semitones: np.ndarray, gates: np.ndarray, bin_hz: float, out: np.ndarray) -> None:
    """Every pitch slot's :func:`harmonic_comb` times its gate, into ``out``.

    Parameters
    ----------
    semitones, gates : ndarray, shape (batch, slots)
        Each slot's pitch in semitones above A0 (at most 200 counts) and the share of its comb
        drawn (0 to 1).
    bin_hz : float
        Width of a bin, in Hz.
    out : ndarray, shape (batch, slots, n_bins)
        Written: ``comb_at(k, f0) * gate``, the fundamental kept at one bin at least.
    """
    n = out.shape[2]
    for row in range(out.shape[0]):
        for s in range(out.shape[1]):
            f0_bins = max(semitones_in_bins(semitones[row, s], bin_hz), 1.0)
            gate = gates[row, s]
            comb = out[row, s]
            comb[:] = 0.0
            if gate == 0.0:  # an empty slot (a single note's second and third)
                continue
            harmonic = 1  # the bins near each harmonic alone (harmonic_span)
            while harmonic * f0_bins - 2.0 < n:
                first, last = harmonic_span(harmonic, f0_bins, n)
                for k in range(first, last + 1):
                    if nearest_harmonic(k, f0_bins) == harmonic:
                        comb[k] = hann_lobe_at(k - harmonic * f0_bins) * gate
                harmonic += 1


@hop_kernel
def peak_lobes(
    semitones: np.ndarray,
    log_mags: np.ndarray,
    bin_hz: float,
    max_log: float,
    floor: float,
    out: np.ndarray,
) -> None:
    """The free peaks drawn as the Hann window's main lobe, the largest at each bin, as
    natural-log magnitudes with ``floor`` added, into ``out``.

    Parameters
    ----------
    semitones, log_mags : ndarray, shape (batch, peaks)
        Each peak's frequency (semitones above A0, at most 200 counts) and natural-log
        magnitude (at most ``max_log`` counts).
    bin_hz : float
        Width of a bin, in Hz.
    max_log, floor : float
        The magnitudes' ceiling (nepers) and floor (linear).
    out : ndarray, shape (batch, n_bins)
        Written: ``log(max_p |peak_p| lobe(k - centre_p) + floor)``; ``log(floor)`` where no
        lobe reaches.
    """
    n = out.shape[1]
    for row in range(out.shape[0]):
        out[row, :] = 0.0
        for p in range(semitones.shape[1]):
            centre = semitones_in_bins(semitones[row, p], bin_hz)
            peak = np.exp(min(log_mags[row, p], max_log))
            first, last = lobe_span(centre, n)
            for k in range(first, last + 1):
                out[row, k] = max(out[row, k], peak * hann_lobe_at(k - centre))
        for k in range(n):
            out[row, k] = np.log(out[row, k] + floor)


def hann_lobe(d: np.ndarray) -> np.ndarray:
    """The Hann window's normalised main lobe at ``d`` bins from its centre (0 beyond 2):
    :func:`hann_lobe_at` of every element, float64 of ``d``'s shape."""
    d = np.asarray(d, np.float64)
    out = np.empty(d.size)
    _lobes(d.ravel(), out)
    return out.reshape(d.shape)


@hop_kernel
def _lobes(d: np.ndarray, out: np.ndarray) -> None:
    for i in range(d.shape[0]):
        out[i] = hann_lobe_at(d[i])
