"""RTISI-LA and GSRTISI-LA for many voices at once: one compiled call a hop for a group of voices.

A field of speakers runs one phase recovery per voice (:mod:`caminos.engine.clock.phase_stage`).
Each voice's push is ``iterations * (lookahead + 1) + 1`` projections, and each projection is an
FFT pair of ``n_fft`` points: about three quarters of the push's time. The FFT library (pocketfft,
through rocket-fft) transforms the rows of a 2-D array together, several rows in the lanes of one
vector register, so the same projection of every voice of a group costs less than as many
single transforms. :class:`RtisiBank` keeps every voice's buffers with a leading voice axis and
runs the voices' pushes in lockstep, projection by projection; each voice's arithmetic is the
single-voice method's (:mod:`caminos.engine.dsp.phase.rtisi`), in the same order. Eight voices of
``gsrtisi-la`` take 1.27x less time at the median and 1.37x less at p99 than eight single-voice
methods, two voices 1.12x; one voice is 14 % slower (``benchmarks/phase_bank.py``).

Every row goes through the same multi-row transform, whatever the group's size: its samples do
not depend on which voices share its group, nor on how many (a group of one included), so a
field splits its voices over threads or processes and keeps its samples bit for bit (tested).
The multi-row transform rounds differently from the single-row one in the last bit, so a bank's
row is not bit-identical to :class:`~caminos.engine.dsp.phase.rtisi.GsRtisiLa`: mostly equal to
about 1e-12 of the frame, but the iterations can carry the difference into another phase as
consistent as the first (tested by the spectral convergence). The mono layout's one voice keeps
the single-voice method, and its samples.
"""

from __future__ import annotations

import numpy as np
import rocket_fft  # noqa: F401  (registers the FFT for numba; r2c/c2r below)
from rocket_fft import c2r, r2c

from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.compiled import (
    COMPLEX128,
    FLOAT64,
    hop_kernel,
    is_c_matrix,
    is_kind,
    misfit,
)
from caminos.engine.dsp.phase.rtisi import (
    GS_NEWEST_FIRST,
    JACOBI,
    MAX_LOOKAHEAD,
    compensated_windows,
    impose_magnitude,
    replace_in_ola,
    shift_in,
)
from caminos.engine.dsp.spectral import synthesis_window

_ROW_AXES = np.ones(1, dtype=np.int64)  # transform along axis 1: each row of a (voices, n) block
# settings' slots (an int64 array, so the kernel takes 19 arguments: see RtisiLa._push)
_HOP, _LOOKBACK, _ITERATIONS, _SWEEP = 0, 1, 2, 3


# Inside the kernel, the rows' buffers travel together: ``state`` is (frames, spectra, mags,
# ola), each with a leading row axis; ``scratch`` is (seg, spectrum, axes), the projections'
# scratch rows and the FFT's axis. Tuples made on the compiled side cost nothing.


@hop_kernel
def _project_rows(
    ola: np.ndarray,
    start: int,
    window: np.ndarray,
    mags: np.ndarray,
    j: int,
    scratch: tuple,
    first: int,
    stop: int,
) -> None:
    """One Griffin-Lim projection of frame ``ola[r, start:start+n_fft]`` for rows ``first`` to
    ``stop - 1``, with target ``mags[r, j]``: the consistent spectra into ``spectrum[r]``, their
    inverse FFTs (not yet windowed) into ``seg[r]``; one multi-row FFT each way."""
    seg, spectrum, axes = scratch
    n_fft = window.shape[0]
    for r in range(first, stop):
        for n in range(n_fft):
            seg[r, n] = ola[r, start + n] * window[n]
    r2c(seg[first:stop], spectrum[first:stop], axes, True, 1.0, 1)
    for r in range(first, stop):
        impose_magnitude(spectrum[r], mags[r, j])
    c2r(spectrum[first:stop], seg[first:stop], axes, False, 1.0 / n_fft, 1)


@hop_kernel
def _keep_projection(state: tuple, i: int, synthesis: np.ndarray, hop: int, scratch, first, stop):
    """Each row's projection of frame ``i`` (in ``scratch``) becomes the frame: its spectrum,
    and its windowed samples in place of the old ones in the overlap-add."""
    frames, spectra, _, ola = state
    seg, spectrum, _ = scratch
    for r in range(first, stop):
        for k in range(spectra.shape[2]):
            spectra[r, i, k] = spectrum[r, k]
        replace_in_ola(ola[r], i * hop, frames[r, i], seg[r], synthesis)


@hop_kernel
def _start_newest(
    state: tuple,
    initial: np.ndarray,
    use_initial: bool,
    initial_window: np.ndarray,
    synthesis: np.ndarray,
    hop: int,
    scratch: tuple,
    first: int,
    stop: int,
) -> None:
    """Each row's newest frame after the shift: its given estimate, or RTISI's phase of the
    partial reconstruction (the row's magnitude is last in ``mags``), into the overlap-add."""
    frames, _, mags, ola = state
    seg, spectrum, axes = scratch
    newest = frames.shape[1] - 1
    if use_initial:
        for r in range(first, stop):
            for k in range(spectrum.shape[1]):
                spectrum[r, k] = initial[r, k]
        c2r(spectrum[first:stop], seg[first:stop], axes, False, 1.0 / frames.shape[2], 1)
    else:
        last = mags.shape[1] - 1
        _project_rows(ola, newest * hop, initial_window, mags, last, scratch, first, stop)
    _keep_projection(state, newest, synthesis, hop, scratch, first, stop)


@hop_kernel
def _sweep_jacobi(
    state: tuple,
    pending: np.ndarray,
    pending_spectra: np.ndarray,
    iterate_windows: np.ndarray,
    synthesis: np.ndarray,
    hop: int,
    lookback: int,
    scratch: tuple,
    first: int,
    stop: int,
) -> None:
    """One Jacobi iteration of the rows' in-progress frames, all from the previous iterate."""
    frames, spectra, mags, ola = state
    seg, spectrum, _ = scratch
    n_bins, n_fft = spectra.shape[2], frames.shape[2]
    for j in range(mags.shape[1]):
        i = lookback + j
        _project_rows(ola, i * hop, iterate_windows[j], mags, j, scratch, first, stop)
        for r in range(first, stop):
            for n in range(n_fft):
                pending[r, j, n] = seg[r, n]
            for k in range(n_bins):
                pending_spectra[r, j, k] = spectrum[r, k]
    for j in range(mags.shape[1]):
        i = lookback + j
        for r in range(first, stop):
            replace_in_ola(ola[r], i * hop, frames[r, i], pending[r, j], synthesis)
            for k in range(n_bins):
                spectra[r, i, k] = pending_spectra[r, j, k]


@hop_kernel
def _sweep_gauss_seidel(
    state: tuple,
    iterate_windows: np.ndarray,
    synthesis: np.ndarray,
    hop: int,
    lookback: int,
    newest_first: bool,
    scratch: tuple,
    first: int,
    stop: int,
) -> None:
    """One Gauss-Seidel iteration: each in-progress frame in turn, the next seeing its update
    (newest first, or oldest first)."""
    _, _, mags, ola = state
    n_progress = mags.shape[1]
    for step in range(n_progress):
        j = n_progress - 1 - step if newest_first else step
        i = lookback + j
        _project_rows(ola, i * hop, iterate_windows[j], mags, j, scratch, first, stop)
        _keep_projection(state, i, synthesis, hop, scratch, first, stop)


@hop_kernel
def _bank_push(
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
    settings: np.ndarray,
    seg: np.ndarray,
    spectrum: np.ndarray,
    out: np.ndarray,
    first: int,
    stop: int,
    axes: np.ndarray,
) -> bool:
    """One push of rows ``first`` to ``stop - 1``: the single-voice push
    (:func:`caminos.engine.dsp.phase.rtisi._rtisi_push`) of every row, projection by projection;
    False, with nothing done, when ``magnitude``, ``initial`` or ``out`` is not C-contiguous of
    shape (rows, n_bins).

    Buffers are the single-voice method's with a leading row axis; ``seg`` (rows, n_fft) and
    ``spectrum`` (rows, n_bins) are scratch; ``settings`` holds hop, look-back, iterations and
    the sweep order.
    """
    rows, n_bins = spectra.shape[0], spectra.shape[2]
    if not (
        is_c_matrix(magnitude, rows, n_bins)
        and is_c_matrix(initial, rows, n_bins)
        and is_c_matrix(out, rows, n_bins)
    ):
        return False
    hop, lookback = settings[_HOP], settings[_LOOKBACK]
    iterations, sweep = settings[_ITERATIONS], settings[_SWEEP]
    state, scratch = (frames, spectra, mags, ola), (seg, spectrum, axes)
    for r in range(first, stop):
        shift_in(frames[r], spectra[r], mags[r], magnitude[r], ola[r], hop)
    _start_newest(state, initial, use_initial, initial_window, synthesis, hop, scratch, first, stop)
    for _ in range(iterations):
        if sweep == JACOBI:
            _sweep_jacobi(
                state,
                pending,
                pending_spectra,
                iterate_windows,
                synthesis,
                hop,
                lookback,
                scratch,
                first,
                stop,
            )
        else:
            newest_first = sweep == GS_NEWEST_FIRST
            _sweep_gauss_seidel(
                state, iterate_windows, synthesis, hop, lookback, newest_first, scratch, first, stop
            )
    for r in range(first, stop):
        for k in range(spectra.shape[2]):
            out[r, k] = spectra[r, lookback, k]
    return True


class RtisiBank:
    """RTISI-LA (Jacobi) or GSRTISI-LA (Gauss-Seidel) for ``voices`` voices, each with its own
    frames, pushed together in groups of rows.

    Parameters
    ----------
    stft : StftConfig
        Frame size and hop (samples).
    voices : int
        Rows (voices) held, at least 1.
    lookahead : int
        Frames pushed after a frame before it is committed, 0 to 8 (frames).
    iterations : int
        Sweeps over the in-progress frames per push, at least 1.
    sweep : int
        :data:`~caminos.engine.dsp.phase.rtisi.GS_NEWEST_FIRST` (``gsrtisi-la``, the default)
        or :data:`~caminos.engine.dsp.phase.rtisi.JACOBI` (``rtisi-la``).

    Attributes
    ----------
    name : str
        ``gsrtisi-la`` or ``rtisi-la``.
    lookahead_frames : int
        As :attr:`~caminos.engine.dsp.phase.base.StreamingPhase.lookahead_frames`.
    newest_rows : tuple of ndarray
        Each row's newest in-progress spectrum (read-only views, valid until the next push):
        what RTPGHI integrates from in ``rtpghi+gsrtisi``.
    """

    def __init__(
        self,
        stft: StftConfig,
        voices: int,
        lookahead: int = 2,
        iterations: int = 16,
        sweep: int = GS_NEWEST_FIRST,
    ) -> None:
        if int(voices) < 1:
            raise ParameterError(f"a phase bank needs at least one voice, got {voices}")
        if not 0 <= int(lookahead) <= MAX_LOOKAHEAD:
            raise ParameterError(
                f"rtisi bank: lookahead must be in [0, {MAX_LOOKAHEAD}] frames, got {lookahead}"
            )
        if int(iterations) < 1:
            raise ParameterError(f"rtisi bank: iterations must be at least 1, got {iterations}")
        if sweep not in (JACOBI, GS_NEWEST_FIRST):
            raise ParameterError(f"rtisi bank: unknown sweep order {sweep}")
        self.stft = stft
        self.name = "rtisi-la" if sweep == JACOBI else "gsrtisi-la"
        self.voices = int(voices)
        self.lookahead_frames = int(lookahead)
        self.n_bins = stft.n_bins
        lookback = stft.redundancy - 1
        n_total = lookback + self.lookahead_frames + 1
        n_fft, n_bins, rows = stft.n_fft, stft.n_bins, self.voices
        progress = self.lookahead_frames + 1
        self._settings = np.array([stft.hop, lookback, int(iterations), sweep], dtype=np.int64)
        self._synthesis = synthesis_window(stft)
        self._iterate_windows, self._initial_window = compensated_windows(
            stft, self.lookahead_frames
        )
        self._frames = np.zeros((rows, n_total, n_fft))
        self._spectra = np.zeros((rows, n_total, n_bins), dtype=np.complex128)
        self._mags = np.zeros((rows, progress, n_bins))
        self._ola = np.zeros((rows, (n_total - 1) * stft.hop + n_fft))
        self._pending = np.zeros((rows, progress, n_fft))
        self._pending_spectra = np.zeros((rows, progress, n_bins), dtype=np.complex128)
        self._seg = np.zeros((rows, n_fft))
        self._spectrum = np.zeros((rows, n_bins), dtype=np.complex128)
        self._no_initial = np.zeros((rows, n_bins), dtype=np.complex128)
        newest = []
        for row in self._spectra:
            view = row[n_total - 1]
            view.flags.writeable = False  # a view on the buffer; the kernel still writes it
            newest.append(view)
        self.newest_rows = tuple(newest)

    @property
    def iterations(self) -> int:
        """Sweeps per push; set it between pushes (``/phase/iterations``)."""
        return int(self._settings[_ITERATIONS])

    @iterations.setter
    def iterations(self, value: int) -> None:
        if int(value) < 1:
            raise ParameterError(f"{self.name}: iterations must be at least 1, got {value}")
        self._settings[_ITERATIONS] = int(value)

    def process_rows(
        self,
        first: int,
        stop: int,
        magnitudes: np.ndarray,
        out: np.ndarray,
        initial: np.ndarray | None = None,
    ) -> None:
        """Push the newest frame of rows ``first`` to ``stop - 1``; write each row's committed
        frame (pushed ``lookahead_frames`` calls ago) into its row of ``out``.

        Parameters
        ----------
        first, stop : int
            The rows (voices) pushed, ``0 <= first < stop <= voices``; other rows are untouched.
        magnitudes : ndarray, shape (voices, n_bins), float64
            Linear magnitudes of the newest frames, one row per voice.
        out : ndarray, shape (voices, n_bins), complex128
            Receives the committed frames of the rows pushed.
        initial : ndarray, shape (voices, n_bins), complex128, optional
            The newest frames' first estimates (RTPGHI's in ``rtpghi+gsrtisi``), whose
            magnitudes are already ``magnitudes``; by default RTISI's own initialisation.
        """
        # The kernel does no bounds checks, and another dtype would compile a new version of it
        # on the hop clock: the dtypes and dimensions are checked here, the shapes and the
        # layout by the kernel before it starts (nothing allocated either way).
        if not 0 <= first < stop <= self.voices:
            raise ParameterError(
                f"{self.name} bank: rows {first} to {stop - 1} are outside 0 .. {self.voices - 1}"
            )
        given = initial is not None
        if not given:
            initial = self._no_initial
        if not (
            is_kind(magnitudes, FLOAT64, 2)
            and is_kind(out, COMPLEX128, 2)
            and is_kind(initial, COMPLEX128, 2)
            and _bank_push(
                self._frames,
                self._spectra,
                self._mags,
                self._ola,
                self._pending,
                self._pending_spectra,
                magnitudes,
                initial,
                given,
                self._initial_window,
                self._iterate_windows,
                self._synthesis,
                self._settings,
                self._seg,
                self._spectrum,
                out,
                first,
                stop,
                _ROW_AXES,
            )
        ):
            arrays = (
                ("magnitudes", magnitudes, FLOAT64),
                ("out", out, COMPLEX128),
                ("initial", initial, COMPLEX128),
            )
            shape = (self.voices, self.n_bins)
            raise ParameterError(misfit(f"{self.name} bank", shape, arrays, "C-contiguous "))

    def push_rows(
        self, first: int, stop: int, magnitudes: np.ndarray, magnitude_rows, out: np.ndarray
    ) -> None:
        """:meth:`process_rows` with RTISI's own initialisation: the bank interface every
        method with a bank has (``magnitude_rows``, the same rows as views, is not read)."""
        self.process_rows(first, stop, magnitudes, out)

    def reset(self) -> None:
        """Forget every row's frames, as if newly constructed."""
        self._frames[:] = 0.0
        self._spectra[:] = 0.0
        self._mags[:] = 0.0
