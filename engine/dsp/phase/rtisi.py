"""RTISI-LA and GSRTISI-LA: streaming iterative phase recovery with a few frames of look-ahead.

Between the magnitude source and overlap-add synthesis: each pushed magnitude frame is iterated
Griffin-Lim style against the frames around it and committed ``lookahead`` hops later; GSRTISI-LA
also refines RTPGHI's estimate in the ``rtpghi+gsrtisi`` combination
(:mod:`caminos.engine.dsp.phase.combined`).

References: Zhu, Beauregard & Wyse, "Real-Time Signal Estimation From Modified Short-Time Fourier
Transform Magnitude Spectra", IEEE TASLP 15(5), 2007 (RTISI-LA, Jacobi updates); Průša,
"Towards High Quality Real-Time Signal Reconstruction from STFT Magnitude" (2017) and the phaseret
library's ``gsrtisila`` (Gauss-Seidel updates).

Buffers, frames oldest first (``R = n_fft / hop``, ``L = R - 1`` committed frames kept so that the
oldest in-progress frame sees all of its overlapping neighbours)::

    index   0 .. L-1          L .. L+lookahead
            committed         in progress (targets in ``mags``; L is committed after this push)

Frame ``i`` starts ``i * hop`` samples into ``ola``, the running overlap-add of every buffered
time-domain frame ``synthesis_window * irfft(C_i)``: exactly what
:class:`caminos.engine.dsp.spectral.OverlapAddSynthesizer` adds, so the committed spectra are
consistent with
what is heard.
"""

from __future__ import annotations

import numpy as np
import rocket_fft  # noqa: F401  (registers the FFT for numba; r2c/c2r below)
from numba import njit
from rocket_fft import c2r, r2c

from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.compiled import COMPLEX128, FLOAT64, hop_kernel, is_kind, misfit
from caminos.engine.dsp.phase.base import StreamingPhase
from caminos.engine.dsp.spectral import analysis_window, synthesis_window

_AXES = np.zeros(1, dtype=np.int64)  # transform along axis 0 of a 1-D frame
# The partial window sum sum_i g*gd falls towards 0 at the newest frame's end (no future frames
# there): below 1e-3 in its last 65 samples at n_fft 1024 / hop 256 (max window gain 38), and in
# the last 321 for the initial estimate (the frame itself absent). The overlay there is about
# signal * sum, so dividing by at least 1e-3 only attenuates those samples, and rounding noise is
# never divided by ~0.
_COMPENSATION_FLOOR = 1e-3
MAX_LOOKAHEAD = 8
# Update orders of the in-progress frames within one iteration.
JACOBI = 0  # all from the previous iterate
GS_OLDEST_FIRST = 1  # Gauss-Seidel, oldest (committed next) frame first
GS_NEWEST_FIRST = 2  # Gauss-Seidel, newest frame first


def compensated_windows(stft: StftConfig, lookahead: int) -> tuple[np.ndarray, np.ndarray]:
    """Analysis windows that undo the missing future frames' share of the overlap-add.

    Re-analysing a partial overlap-add ``sum_i gd_i * y_i`` with the plain window ``g`` would see
    the signal scaled by ``sum_i g*gd`` over the frames present, which is 1 only where every
    overlapping frame is there. Dividing by that partial sum (floored at ``1e-3``) gives the
    window the signal would have had.

    Parameters
    ----------
    stft : StftConfig
        Frame size and hop (samples).
    lookahead : int
        In-progress frames beyond the one committed next (frames).

    Returns
    -------
    iterate : ndarray, shape (lookahead + 1, n_fft), float64
        Window of in-progress frame ``L + j`` during the iterations; every frame up to the newest
        is present. Equal to ``g`` where all neighbours are present.
    initial : ndarray, shape (n_fft,), float64
        Window for the newest frame's initial estimate, when it is not yet in the overlap-add.
    """
    g = analysis_window(stft)
    product = g * synthesis_window(stft)
    n_fft, hop, redundancy = stft.n_fft, stft.hop, stft.redundancy
    lookback = redundancy - 1
    newest = lookback + lookahead

    def window_for(j: int, last_present: int) -> np.ndarray:
        total = np.zeros(n_fft)
        for i in range(j - redundancy + 1, last_present + 1):
            shift = (j - i) * hop  # sample n of frame j is sample n + shift of frame i
            lo, hi = max(0, -shift), min(n_fft, n_fft - shift)
            total[lo:hi] += product[lo + shift : hi + shift]
        return g / np.maximum(total, _COMPENSATION_FLOOR)

    iterate = np.stack([window_for(lookback + j, newest) for j in range(lookahead + 1)])
    return iterate, window_for(newest, newest - 1)


@hop_kernel
def impose_magnitude(spectrum: np.ndarray, magnitude: np.ndarray) -> None:
    """``spectrum = magnitude * spectrum / |spectrum|`` in place; zero phase where it is 0."""
    # Branch-free first pass (0.9 us for 513 bins against 1.8 us with a branch per bin, since it
    # vectorises); bins whose squared norm leaves [1e-300, 1e300] are left alone and fixed after.
    n_bins = spectrum.shape[0]
    n_left = 0
    for k in range(n_bins):
        re = spectrum[k].real
        im = spectrum[k].imag
        power = re * re + im * im
        ok = power > 1e-300 and power < 1e300
        scale = magnitude[k] / np.sqrt(power if ok else 1.0)
        spectrum[k] = complex(re * scale, im * scale) if ok else spectrum[k]
        n_left += 0 if ok else 1
    if n_left == 0:
        return
    for k in range(n_bins):
        re = spectrum[k].real
        im = spectrum[k].imag
        power = re * re + im * im
        if power > 1e-300 and power < 1e300:
            continue
        norm = np.hypot(re, im)  # no overflow or underflow of the square
        if norm > 0.0:
            scale = magnitude[k] / norm
            spectrum[k] = complex(re * scale, im * scale)
        else:
            spectrum[k] = complex(magnitude[k], 0.0)


@hop_kernel
def _project_frame(
    ola: np.ndarray,
    start: int,
    window: np.ndarray,
    magnitude: np.ndarray,
    seg: np.ndarray,
    spectrum: np.ndarray,
    axes: np.ndarray,
) -> None:
    """One Griffin-Lim projection of the frame at ``ola[start:start+n_fft]``.

    Windows the overlap-add there, keeps the FFT's phase with ``magnitude``; writes the
    consistent spectrum into ``spectrum`` and its inverse FFT (not yet windowed) into ``seg``.
    """
    n_fft = window.shape[0]
    for n in range(n_fft):
        seg[n] = ola[start + n] * window[n]
    r2c(seg, spectrum, axes, True, 1.0, 1)
    impose_magnitude(spectrum, magnitude)
    c2r(spectrum, seg, axes, False, 1.0 / n_fft, 1)


@hop_kernel
def replace_in_ola(
    ola: np.ndarray, start: int, frame: np.ndarray, seg: np.ndarray, synthesis: np.ndarray
) -> None:
    """Replace ``frame`` by ``synthesis * seg``, in the overlap-add at ``start`` and in place."""
    for n in range(frame.shape[0]):
        new = seg[n] * synthesis[n]
        ola[start + n] += new - frame[n]
        frame[n] = new


@njit(cache=True, nogil=True, inline="always")
def shift_in(
    frames: np.ndarray,
    spectra: np.ndarray,
    mags: np.ndarray,
    magnitude: np.ndarray,
    ola: np.ndarray,
    hop: int,
) -> None:
    """Shift every buffer one frame towards the past (slot copies, nothing allocated), take the
    newest target ``magnitude`` in, empty the newest frame, and rebuild ``ola``: the overlap-add
    of every frame but the newest."""
    n_total, n_fft = frames.shape
    n_bins = spectra.shape[1]
    n_progress = mags.shape[0]
    newest = n_total - 1
    for i in range(n_total - 1):
        for n in range(n_fft):
            frames[i, n] = frames[i + 1, n]
        for k in range(n_bins):
            spectra[i, k] = spectra[i + 1, k]
    for j in range(n_progress - 1):
        for k in range(n_bins):
            mags[j, k] = mags[j + 1, k]
    for k in range(n_bins):
        mags[n_progress - 1, k] = magnitude[k]
    for n in range(n_fft):
        frames[newest, n] = 0.0
    for n in range(ola.shape[0]):
        ola[n] = 0.0
    for i in range(newest):
        start = i * hop
        for n in range(n_fft):
            ola[start + n] += frames[i, n]


@hop_kernel
def _rtisi_push(
    frames: np.ndarray,
    spectra: np.ndarray,
    mags: np.ndarray,
    ola: np.ndarray,
    pending: np.ndarray,
    pending_spectra: np.ndarray,
    magnitude: np.ndarray,
    initial: np.ndarray,
    use_initial: bool,
    initial_window: np.ndarray,
    iterate_windows: np.ndarray,
    synthesis: np.ndarray,
    hop: int,
    lookback: int,
    iterations: int,
    sweep: int,
    seg: np.ndarray,
    out: np.ndarray,
    axes: np.ndarray,
) -> bool:
    """All the work of one push: shift, initialise the newest frame, iterate, commit the oldest;
    False, with nothing done, when ``magnitude``, ``initial`` or ``out`` is not n_bins long.

    Parameters
    ----------
    frames : ndarray, shape (lookback + lookahead + 1, n_fft), float64
        Time-domain frames, oldest first; updated in place.
    spectra : ndarray, shape (lookback + lookahead + 1, n_bins), complex128
        Their complex spectra.
    mags : ndarray, shape (lookahead + 1, n_bins), float64
        Target magnitudes of the in-progress frames.
    ola : ndarray, shape ((lookback + lookahead) * hop + n_fft,), float64
        Scratch for the overlap-add of ``frames``, rebuilt every push (no drift across pushes).
    pending, pending_spectra : ndarray
        Jacobi scratch: the new in-progress frames before they replace the old ones.
    initial : ndarray, shape (n_bins,), complex128
        The newest frame's given initial spectrum, read when ``use_initial``.
    sweep : int
        ``JACOBI``, ``GS_OLDEST_FIRST`` or ``GS_NEWEST_FIRST``.
    """
    n_total, n_fft = frames.shape
    n_bins = spectra.shape[1]
    if magnitude.shape[0] != n_bins or initial.shape[0] != n_bins or out.shape[0] != n_bins:
        return False
    n_progress = mags.shape[0]
    newest = n_total - 1
    shift_in(frames, spectra, mags, magnitude, ola, hop)

    # Initial estimate of the newest frame: given, or RTISI's phase of the partial reconstruction
    # at its position (zero phase where that is silent).
    new_spectrum = spectra[newest]
    if use_initial:
        for k in range(n_bins):
            new_spectrum[k] = initial[k]
        c2r(new_spectrum, seg, axes, False, 1.0 / n_fft, 1)
    else:
        _project_frame(ola, newest * hop, initial_window, magnitude, seg, new_spectrum, axes)
    replace_in_ola(ola, newest * hop, frames[newest], seg, synthesis)

    for _ in range(iterations):
        if sweep != JACOBI:
            # Each update seen at once by the next frame's; order: see GsRtisiLa._sweep.
            for step in range(n_progress):
                j = n_progress - 1 - step if sweep == GS_NEWEST_FIRST else step
                i = lookback + j
                _project_frame(ola, i * hop, iterate_windows[j], mags[j], seg, spectra[i], axes)
                replace_in_ola(ola, i * hop, frames[i], seg, synthesis)
        else:
            # Jacobi: every in-progress frame from the same previous iterate.
            for j in range(n_progress):
                i = lookback + j
                _project_frame(
                    ola, i * hop, iterate_windows[j], mags[j], pending[j], pending_spectra[j], axes
                )
            for j in range(n_progress):
                i = lookback + j
                replace_in_ola(ola, i * hop, frames[i], pending[j], synthesis)
                for k in range(n_bins):
                    spectra[i, k] = pending_spectra[j, k]

    for k in range(n_bins):
        out[k] = spectra[lookback, k]
    return True


class RtisiLa(StreamingPhase):
    """Real-Time Iterative Spectrogram Inversion with Look-Ahead, Jacobi updates.

    Every push, the in-progress frames are projected ``iterations`` times onto consistency with
    the frames around them (Griffin-Lim restricted to a sliding window of frames), all from the
    previous iterate; the oldest is then committed and stays as context for the next ones.

    Parameters
    ----------
    stft : StftConfig
        Frame size and hop (samples); caminos' framing.
    lookahead : int
        Frames pushed after a frame before it is committed, 0 to 8 (frames); adds
        ``lookahead * hop`` samples of latency.
    iterations : int
        Projections of the in-progress frames per push, at least 1.

    Notes
    -----
    The cost per push is ``iterations * (lookahead + 1) + 1`` projections, each an FFT pair of
    ``n_fft`` points (6.6 us at 1024) and three passes over the frame (about 2 us): at n_fft 1024,
    hop 256, lookahead 2 and 16 iterations, 49 projections take 0.42 ms on an idle core, 8 % of
    the 5.33 ms hop at 48 kHz.
    """

    name = "rtisi-la"
    _sweep = JACOBI

    def __init__(self, stft: StftConfig, lookahead: int = 2, iterations: int = 16) -> None:
        super().__init__(stft)
        if not 0 <= int(lookahead) <= MAX_LOOKAHEAD:
            raise ParameterError(
                f"{self.name}: lookahead must be in [0, {MAX_LOOKAHEAD}] frames, got {lookahead}"
            )
        if int(iterations) < 1:
            raise ParameterError(f"{self.name}: iterations must be at least 1, got {iterations}")
        self.lookahead = int(lookahead)
        self.iterations = int(iterations)
        self.lookahead_frames = self.lookahead
        self.lookback = stft.redundancy - 1
        n_total = self.lookback + self.lookahead + 1
        n_fft, n_bins = stft.n_fft, stft.n_bins
        self._synthesis = synthesis_window(stft)
        self._iterate_windows, self._initial_window = compensated_windows(stft, self.lookahead)
        self._frames = np.zeros((n_total, n_fft))
        self._spectra = np.zeros((n_total, n_bins), dtype=np.complex128)
        self._mags = np.zeros((self.lookahead + 1, n_bins))
        self._ola = np.zeros((n_total - 1) * stft.hop + n_fft)
        self._pending = np.zeros((self.lookahead + 1, n_fft))
        self._pending_spectra = np.zeros((self.lookahead + 1, n_bins), dtype=np.complex128)
        self._seg = np.zeros(n_fft)
        self._no_initial = np.zeros(n_bins, dtype=np.complex128)
        self._newest = self._spectra[n_total - 1]
        self._newest.flags.writeable = False  # a view on the buffer; the kernel still writes it

    def process(
        self, magnitude: np.ndarray, out: np.ndarray, reference: np.ndarray | None = None
    ) -> None:
        """Push one magnitude frame; write the frame pushed ``lookahead`` calls ago into ``out``.

        Parameters
        ----------
        magnitude : ndarray, shape (n_bins,), float64
            Linear magnitudes of the newest frame.
        out : ndarray, shape (n_bins,), complex128
            Receives the committed frame (zeros during the first ``lookahead`` calls).
        reference : ignored
        """
        self._push(magnitude, self._no_initial, False, out)

    def process_initialized(
        self, magnitude: np.ndarray, initial: np.ndarray, out: np.ndarray
    ) -> None:
        """Like :meth:`process`, with the newest frame's first estimate given.

        Parameters
        ----------
        magnitude : ndarray, shape (n_bins,), float64
            Target magnitudes of the newest frame.
        initial : ndarray, shape (n_bins,), complex128
            Its initial complex spectrum (from RTPGHI in ``rtpghi+gsrtisi``), whose magnitude is
            already ``magnitude``; replaces RTISI's partial-reconstruction initialisation.
        out : ndarray, shape (n_bins,), complex128
            Receives the committed frame.
        """
        self._push(magnitude, initial, True, out)

    def newest_spectrum(self) -> np.ndarray:
        """Current estimate of the newest in-progress frame, after the last push.

        Returns
        -------
        ndarray, shape (n_bins,), complex128
            A read-only view into the method's buffer: valid until the next push or reset.
        """
        return self._newest

    def _push(
        self, magnitude: np.ndarray, initial: np.ndarray, use_initial: bool, out: np.ndarray
    ) -> None:
        # The kernel takes 19 arguments on purpose: a 20-argument numba call was measured here
        # to keep about 400 bytes per call for its first ~1100 calls (a bounded cache in the call
        # path, seen by tracemalloc; none with 19 or 21 arguments).
        # The kernel does no bounds checks, and another dtype would compile a new version of it
        # in the audio thread: the dtypes and dimensions are checked here, the lengths by the
        # kernel before it starts (nothing allocated either way).
        if not (
            is_kind(magnitude, FLOAT64, 1)
            and is_kind(initial, COMPLEX128, 1)
            and is_kind(out, COMPLEX128, 1)
            and _rtisi_push(
                self._frames,
                self._spectra,
                self._mags,
                self._ola,
                self._pending,
                self._pending_spectra,
                magnitude,
                initial,
                use_initial,
                self._initial_window,
                self._iterate_windows,
                self._synthesis,
                self.stft.hop,
                self.lookback,
                self.iterations,
                self._sweep,
                self._seg,
                out,
                _AXES,
            )
        ):
            arrays = (
                ("magnitude", magnitude, FLOAT64),
                ("initial", initial, COMPLEX128),
                ("out", out, COMPLEX128),
            )
            raise ParameterError(misfit(self.name, (self.n_bins,), arrays))

    def reset(self) -> None:
        """Forget all frames, as if newly constructed."""
        self._frames[:] = 0.0
        self._spectra[:] = 0.0
        self._mags[:] = 0.0


class GsRtisiLa(RtisiLa):
    """RTISI-LA with Gauss-Seidel updates (Průša 2017; phaseret's ``gsrtisila``).

    Each in-progress frame is projected in turn, and the next frame's projection already sees the
    update. Same parameters, buffers and look-ahead contract as :class:`RtisiLa`; at equal
    iterations it converges further for the same cost.

    Parameters
    ----------
    stft : StftConfig
        Frame size and hop (samples).
    lookahead : int
        Frames pushed after a frame before it is committed, 0 to 8 (frames).
    iterations : int
        Sweeps over the in-progress frames per push, at least 1.
    """

    name = "gsrtisi-la"
    # Sweep order, newest frame first (phaseret's order): the frame committed next is updated
    # last in each sweep, after its newer neighbours. Mean SC over lookahead 1-3 x iterations
    # 4-32 on 2 s at 48 kHz (n_fft 1024, hop 256), newest first / oldest first / Jacobi:
    # tones -25.6 / -24.9 / -24.2 dB, chirp -43.8 / -42.4 / -42.8 dB, noise with clicks
    # -15.4 / -15.6 / -15.2 dB. Oldest first loses to Jacobi on the chirp.
    _sweep = GS_NEWEST_FIRST
