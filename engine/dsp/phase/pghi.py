"""Phase Gradient Heap Integration: PGHI offline and RTPGHI streaming.

Phase recovery without iterations: the phase's time and frequency derivatives follow from the
log-magnitude's frequency and time derivatives (exact for a Gaussian window, close for Hann), and
are integrated along the path of largest magnitudes with a max-heap (Prusa, Balazs & Soendergaard,
IEEE/ACM TASLP 2017; real-time version: Prusa & Soendergaard, "Real-Time Spectrogram Inversion
Using Phase Gradient Heap Integration", DAFx-16). RTPGHI also seeds the GSRTISI-LA combination.

Derivation in caminos' units (time x in samples, frequency w in cycles per sample, phase phi'
relative to the window centre, Gaussian exp(-pi t**2 / lambda), s = log magnitude)::

    d phi'/dx = 2 pi w + (1/lambda) ds/dw        d phi'/dw = -lambda ds/dx

so per hop ``a`` and per bin of ``N = n_fft``::

    tgrad[k] = 2 pi a k / N + (a N / lambda) (s[k+1] - s[k-1]) / 2
    fgrad[k] = -(lambda / (a N)) (s[m+1] - s[m-1]) / 2        (centred, one frame look-ahead)
    fgrad[k] = -(lambda / (a N)) (3 s[m] - 4 s[m-1] + s[m-2]) / 2   (causal, no look-ahead)

caminos' frames put the window's first sample at FFT time 0, so their phase is phi' - pi k; the
conversion is applied on output (and on input in :meth:`RtPghi.set_previous_spectrum`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.compiled import hop_kernel
from caminos.engine.dsp.phase.base import StreamingPhase
from caminos.engine.dsp.spectral import gaussian_lambda

_UNKNOWN = 0
_KNOWN = 1  # phase given from outside (the previous frame, streaming)
_DONE = 2  # phase integrated in this call
_QUIET = 3  # below the tolerance: random phase
_LOG_FLOOR = 1e-300  # magnitudes below this count as this, so log() stays finite
_TWO_PI = 2.0 * np.pi


@njit(cache=True, nogil=True, inline="always")
def _heap_push(heap: np.ndarray, size: int, key: np.ndarray, item: int) -> int:
    """Insert ``item`` into the max-heap ``heap[:size]`` ordered by ``key[item]``; new size."""
    pos = size
    heap[pos] = item
    while pos > 0:
        parent = (pos - 1) >> 1
        if key[heap[parent]] < key[heap[pos]]:
            heap[parent], heap[pos] = heap[pos], heap[parent]
            pos = parent
        else:
            break
    return size + 1


@njit(cache=True, nogil=True, inline="always")
def _heap_pop(heap: np.ndarray, size: int, key: np.ndarray) -> int:
    """Remove the largest item of ``heap[:size]`` and return it (size shrinks by one outside)."""
    top = heap[0]
    size -= 1
    heap[0] = heap[size]
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and key[heap[child + 1]] > key[heap[child]]:
            child += 1
        if key[heap[child]] > key[heap[pos]]:
            heap[child], heap[pos] = heap[pos], heap[child]
            pos = child
        else:
            break
    return top


@njit(cache=True, nogil=True, inline="always")
def _next_seed(
    logmag: np.ndarray, state: np.ndarray, order: np.ndarray, cursor: int
) -> tuple[int, int]:
    """The largest ``_UNKNOWN`` coefficient (-1: none left) and the new ``cursor`` into
    ``order`` (indices by decreasing magnitude; empty: scan the whole grid instead)."""
    seed = -1
    if order.shape[0] > 0:
        while cursor < order.shape[0] and state[order[cursor]] != _UNKNOWN:
            cursor += 1
        if cursor < order.shape[0]:
            seed = order[cursor]
    else:
        best = -np.inf
        for i in range(logmag.shape[0]):
            if state[i] == _UNKNOWN and logmag[i] > best:
                best = logmag[i]
                seed = i
    return seed, cursor


@hop_kernel
def heap_integrate(
    logmag: np.ndarray,
    tgrad: np.ndarray,
    fgrad: np.ndarray,
    phase: np.ndarray,
    state: np.ndarray,
    n_bins: int,
    threshold: float,
    heap: np.ndarray,
    order: np.ndarray,
) -> None:
    """Integrate phase gradients over a time-frequency grid along the largest magnitudes.

    All arrays are flat views of a ``(n_frames, n_bins)`` grid (index ``t * n_bins + k``).

    Parameters
    ----------
    logmag : ndarray of float64
        Log magnitudes; the heap's keys.
    tgrad, fgrad : ndarray of float64
        Phase increment per frame step and per bin step at each coefficient, in radians.
    phase : ndarray of float64
        In: phases of the ``_KNOWN`` coefficients. Out: phases of the integrated ones.
    state : ndarray of int8
        In: ``_KNOWN`` or ``_UNKNOWN``. Out: ``_KNOWN``, ``_DONE`` or ``_QUIET`` (below
        ``threshold``; its phase is left for the caller).
    n_bins : int
        Row length of the grid.
    threshold : float
        Log magnitude at or below which a coefficient is quiet.
    heap : ndarray of int64
        Workspace, at least as long as the grid.
    order : ndarray of int64
        Grid indices by decreasing magnitude, to find new seeds quickly; empty to scan instead.
    """
    n = logmag.shape[0]
    size = 0
    for i in range(n):
        if logmag[i] <= threshold:
            if state[i] == _UNKNOWN:
                state[i] = _QUIET
        elif state[i] == _KNOWN:
            size = _heap_push(heap, size, logmag, i)
    cursor = 0
    while True:
        while size > 0:
            i = _heap_pop(heap, size, logmag)
            size -= 1
            k = i % n_bins
            j = i + n_bins  # next frame
            if j < n and state[j] == _UNKNOWN:
                phase[j] = phase[i] + 0.5 * (tgrad[i] + tgrad[j])
                state[j] = _DONE
                size = _heap_push(heap, size, logmag, j)
            j = i - n_bins  # previous frame
            if j >= 0 and state[j] == _UNKNOWN:
                phase[j] = phase[i] - 0.5 * (tgrad[i] + tgrad[j])
                state[j] = _DONE
                size = _heap_push(heap, size, logmag, j)
            j = i + 1  # next bin
            if k + 1 < n_bins and state[j] == _UNKNOWN:
                phase[j] = phase[i] + 0.5 * (fgrad[i] + fgrad[j])
                state[j] = _DONE
                size = _heap_push(heap, size, logmag, j)
            j = i - 1  # previous bin
            if k > 0 and state[j] == _UNKNOWN:
                phase[j] = phase[i] - 0.5 * (fgrad[i] + fgrad[j])
                state[j] = _DONE
                size = _heap_push(heap, size, logmag, j)
        # The connected region is exhausted: seed a new one at the largest unknown coefficient
        # (an onset after silence, a component separated from the rest by quiet bins).
        seed, cursor = _next_seed(logmag, state, order, cursor)
        if seed < 0:
            return
        phase[seed] = 0.0
        state[seed] = _DONE
        size = _heap_push(heap, size, logmag, seed)


@hop_kernel
def _time_gradient(logmag: np.ndarray, hop: int, n_fft: int, lam: float, out: np.ndarray) -> None:
    """Phase advance per hop of each bin (radians) from the frequency slope of ``logmag``."""
    n_bins = logmag.shape[0]
    scale = hop * n_fft / lam * 0.5
    base = _TWO_PI * hop / n_fft
    out[0] = 0.0  # log magnitude is even about DC and Nyquist: zero slope there
    for k in range(1, n_bins - 1):
        out[k] = base * k + scale * (logmag[k + 1] - logmag[k - 1])
    out[n_bins - 1] = base * (n_bins - 1)


@hop_kernel
def _log_magnitude(magnitude: np.ndarray, out: np.ndarray) -> float:
    """``out = log(max(magnitude, floor))``; returns the largest value."""
    best = -np.inf
    for k in range(magnitude.shape[0]):
        v = magnitude[k]
        out[k] = np.log(v if v > _LOG_FLOOR else _LOG_FLOOR)
        if out[k] > best:
            best = out[k]
    return best


@hop_kernel
def _rtpghi_step(
    magnitude: np.ndarray,
    lookahead: int,
    hop: int,
    n_fft: int,
    lam: float,
    log_tol: float,
    state: tuple,
    position: np.ndarray,
    out: np.ndarray,
) -> None:
    """One RTPGHI frame: push ``magnitude``, write the due complex frame.

    ``state`` is ``(logs, mags, tgrads, prev_phase, g_log, g_tgrad, g_fgrad, g_phase, g_state,
    heap, order, table)`` (:attr:`RtPghi._state`, one argument: numba's dispatcher allocates for
    a call of more than 16); ``logs``/``tgrads`` hold frames m-2, m-1, m (rows 0..2), ``mags``
    m-1, m (rows 0, 1). ``position[0]`` is the next entry of the random phase ``table``, kept
    in an array (an int over 256 returned would be a Python object made each hop).
    """
    logs, mags, tgrads, prev_phase = state[0], state[1], state[2], state[3]
    g_log, g_tgrad, g_fgrad, g_phase, g_state = state[4], state[5], state[6], state[7], state[8]
    heap, order, table = state[9], state[10], state[11]
    n_bins = magnitude.shape[0]
    for r in range(2):  # shift the histories by one frame
        for k in range(n_bins):
            logs[r, k] = logs[r + 1, k]
            tgrads[r, k] = tgrads[r + 1, k]
    for k in range(n_bins):
        mags[0, k] = mags[1, k]
        mags[1, k] = magnitude[k]
    _log_magnitude(magnitude, logs[2])
    _time_gradient(logs[2], hop, n_fft, lam, tgrads[2])

    fscale = -lam / (hop * n_fft) * 0.5
    cur = 2 - lookahead  # row of the frame being integrated; the previous one is cur - 1
    for k in range(n_bins):
        if lookahead == 1:
            g_fgrad[n_bins + k] = fscale * (logs[2, k] - logs[0, k])
        else:
            g_fgrad[n_bins + k] = fscale * (3.0 * logs[2, k] - 4.0 * logs[1, k] + logs[0, k])
        g_fgrad[k] = 0.0
        g_log[k] = logs[cur - 1, k]
        g_log[n_bins + k] = logs[cur, k]
        g_tgrad[k] = tgrads[cur - 1, k]
        g_tgrad[n_bins + k] = tgrads[cur, k]
        g_phase[k] = prev_phase[k]
        g_phase[n_bins + k] = 0.0
        g_state[k] = _KNOWN
        g_state[n_bins + k] = _UNKNOWN
    top = -np.inf
    for i in range(2 * n_bins):
        if g_log[i] > top:
            top = g_log[i]
    heap_integrate(g_log, g_tgrad, g_fgrad, g_phase, g_state, n_bins, top + log_tol, heap, order)

    n_table, next_entry = table.shape[0], position[0]
    mag_row = 1 if lookahead == 0 else 0
    for k in range(n_bins):
        i = n_bins + k
        if g_state[i] == _QUIET:
            phi = table[next_entry]
            next_entry += 1
            if next_entry == n_table:
                next_entry = 0
        else:
            phi = g_phase[i]
        phi = phi - _TWO_PI * np.floor(phi / _TWO_PI)  # keep phases small over hours of play
        prev_phase[k] = phi
        m = mags[mag_row, k]
        shifted = phi - np.pi * k  # window-centre phase to caminos' frame-start phase
        out[k] = complex(m * np.cos(shifted), m * np.sin(shifted))
    position[0] = next_entry


class RtPghi(StreamingPhase):
    """Real-time PGHI (RTPGHI): one frame of phase per hop, no iterations.

    Parameters
    ----------
    stft : StftConfig
        Frame settings (Hann window; ``lambda = 0.25645 n_fft**2``).
    lookahead : {0, 1}
        1 uses a centred time difference (better; one hop more latency), 0 a causal one.
    tolerance_db : float
        Bins more than this far (dB, negative) below the loudest of the two frames in play get
        random phase instead of integrated phase.
    seed : int
        Seed of the random phases of quiet bins.

    Notes
    -----
    Cost is O(n_bins log n_bins) per frame with no FFT: about 20 us at n_fft 1024 here.
    """

    name = "rtpghi"

    def __init__(
        self, stft: StftConfig, lookahead: int = 1, tolerance_db: float = -100.0, seed: int = 0
    ) -> None:
        super().__init__(stft)
        if lookahead not in (0, 1):
            raise ParameterError(f"rtpghi lookahead must be 0 or 1 frames, got {lookahead}")
        self.lookahead_frames = lookahead
        self.tolerance_db = float(tolerance_db)
        self._lambda = gaussian_lambda(stft)
        self._log_tol = tolerance_db / 20.0 * np.log(10.0)
        k = self.n_bins
        self._logs = np.full((3, k), np.log(_LOG_FLOOR))
        self._mags = np.zeros((2, k))
        self._tgrads = np.zeros((3, k))
        self._prev_phase = np.zeros(k)
        self._g_log = np.zeros(2 * k)
        self._g_tgrad = np.zeros(2 * k)
        self._g_fgrad = np.zeros(2 * k)
        self._g_phase = np.zeros(2 * k)
        self._g_state = np.zeros(2 * k, dtype=np.int8)
        self._heap = np.zeros(2 * k, dtype=np.int64)
        self._order = np.zeros(0, dtype=np.int64)
        self._table = 2.0 * np.pi * np.random.default_rng(seed).random(10 * k + 7)
        self._position = np.zeros(1, dtype=np.int64)  # the table's next entry
        self._state = (
            self._logs,
            self._mags,
            self._tgrads,
            self._prev_phase,
            self._g_log,
            self._g_tgrad,
            self._g_fgrad,
            self._g_phase,
            self._g_state,
            self._heap,
            self._order,
            self._table,
        )

    def process(
        self, magnitude: np.ndarray, out: np.ndarray, reference: np.ndarray | None = None
    ) -> None:
        _rtpghi_step(
            magnitude,
            self.lookahead_frames,
            self.stft.hop,
            self.stft.n_fft,
            self._lambda,
            self._log_tol,
            self._state,
            self._position,
            out,
        )

    def set_previous_spectrum(self, spectrum: np.ndarray) -> None:
        """Replace the phase of the last frame written with that of ``spectrum``.

        Lets an iterative method refine a frame and have RTPGHI integrate the next frame from
        the refined phase (the RTPGHI + GSRTISI-LA combination, Prusa 2017).
        """
        _phase_from_spectrum(spectrum, self._prev_phase)

    def reset(self) -> None:
        """Forget all frames, as if newly constructed."""
        self._logs[:] = np.log(_LOG_FLOOR)
        self._mags[:] = 0.0
        self._tgrads[:] = 0.0
        self._prev_phase[:] = 0.0
        self._position[0] = 0


@hop_kernel
def _phase_from_spectrum(spectrum: np.ndarray, out: np.ndarray) -> None:
    """Window-centre phase of a frame in caminos' frame-start convention."""
    for k in range(spectrum.shape[0]):
        out[k] = np.arctan2(spectrum[k].imag, spectrum[k].real) + np.pi * k


def pghi(
    magnitudes: np.ndarray, stft: StftConfig, tolerance_db: float = -100.0, seed: int = 0
) -> np.ndarray:
    """Offline PGHI over a whole magnitude spectrogram.

    Parameters
    ----------
    magnitudes : ndarray, shape (n_frames, n_bins)
        Linear magnitudes in caminos' framing.
    stft : StftConfig
        Frame settings.
    tolerance_db : float
        Coefficients more than this far below the spectrogram's peak get random phase.
    seed : int
        Seed of those random phases.

    Returns
    -------
    ndarray, shape (n_frames, n_bins), complex128
        Magnitudes with recovered phase.
    """
    mags = np.ascontiguousarray(magnitudes, dtype=np.float64)
    if mags.ndim != 2 or mags.shape[1] != stft.n_bins:
        raise ParameterError(
            f"pghi expects magnitudes of shape (frames, {stft.n_bins}), got {mags.shape}"
        )
    n_frames, n_bins = mags.shape
    lam = gaussian_lambda(stft)
    logs = np.log(np.maximum(mags, _LOG_FLOOR))
    tgrad = np.empty_like(logs)
    for t in range(n_frames):
        _time_gradient(logs[t], stft.hop, stft.n_fft, lam, tgrad[t])
    ds = np.gradient(logs, axis=0) if n_frames > 1 else np.zeros_like(logs)
    fgrad = -lam / (stft.hop * stft.n_fft) * ds
    phase = np.zeros(n_frames * n_bins)
    state = np.zeros(n_frames * n_bins, dtype=np.int8)
    order = np.argsort(-logs.ravel(), kind="stable").astype(np.int64)
    heap = np.zeros(n_frames * n_bins, dtype=np.int64)
    threshold = logs.max() + tolerance_db / 20.0 * np.log(10.0)
    heap_integrate(
        logs.ravel(), tgrad.ravel(), fgrad.ravel(), phase, state, n_bins, threshold, heap, order
    )
    quiet = state == _QUIET
    phase[quiet] = 2.0 * np.pi * np.random.default_rng(seed).random(int(quiet.sum()))
    phase = phase.reshape(n_frames, n_bins) - np.pi * np.arange(n_bins)
    return mags * np.exp(1j * phase)
