"""Streaming STFT analysis and overlap-add synthesis, with their offline twins.

First and last stage of the spectral flow: sources are cut into windowed frames here, and after
phase recovery the complex frames are overlap-added back into samples here. The streaming classes
accept any block size, allocate nothing after construction and produce exactly the same frames and
samples as the offline functions :func:`stft` and :func:`istft` (tested).

Framing convention (shared by every part of caminos): the signal is preceded by
``n_fft - hop`` zeros; frame ``m`` holds padded samples ``[m*hop, m*hop + n_fft)``, multiplied by
the periodic analysis window, and its FFT is taken with the window's first sample at time 0 of
the FFT (librosa's ``center=False``). Synthesis uses the canonical dual window
``w / sum_k w(n - k*hop)**2``, so analysis followed by synthesis is the identity. The first
complete output sample of input sample ``n`` leaves at ``n + n_fft - hop``: that is the
algorithmic latency of the pair, before any phase-recovery look-ahead.
"""

from __future__ import annotations

import numpy as np
import rocket_fft  # noqa: F401  (registers numpy.fft for numba; r2c/c2r below)
from rocket_fft import c2r, r2c

from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.compiled import hop_kernel

_AXES = np.zeros(1, dtype=np.int64)  # transform along axis 0 of a 1-D frame
_AXES_LAST = np.ones(1, dtype=np.int64)  # transform along axis 1 of a (frames, samples) array


def analysis_window(stft: StftConfig) -> np.ndarray:
    """The periodic analysis window, float64 of length ``n_fft``.

    Periodic (DFT-even) windows sum to a constant under overlap at any hop dividing ``n_fft``,
    which is what overlap-add synthesis needs.
    """
    if stft.window != "hann":  # pragma: no cover - config validation allows only hann
        raise ParameterError(f"window {stft.window!r} is not supported; use 'hann'")
    n = np.arange(stft.n_fft)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / stft.n_fft)


def synthesis_window(stft: StftConfig) -> np.ndarray:
    """The canonical dual of :func:`analysis_window` for overlap-add synthesis.

    ``g = w / sum_k w(n - k*hop)**2``, the window that makes ``istft(stft(x)) == x`` and the
    least-squares inverse of a modified STFT (Griffin & Lim 1984).
    """
    w = analysis_window(stft)
    energy = (w**2).reshape(stft.redundancy, stft.hop).sum(axis=0)
    return w / np.tile(energy, stft.redundancy)


def gaussian_lambda(stft: StftConfig) -> float:
    """Time-frequency ratio ``lambda`` (samples squared) of the Gaussian closest to the window.

    PGHI's phase-gradient relations are exact for ``exp(-pi t**2 / lambda)``; for a Hann window of
    length L, ``lambda = 0.25645 L**2`` (Prusa & Soendergaard 2016, Table 1).
    """
    return 0.25645 * stft.n_fft**2


def latency_samples(stft: StftConfig, lookahead_frames: int = 0) -> int:
    """Algorithmic latency in samples of analysis, phase recovery with look-ahead, and synthesis."""
    return stft.n_fft - stft.hop + lookahead_frames * stft.hop


def n_frames_for(n_samples: int, stft: StftConfig) -> int:
    """Number of frames whose synthesis covers ``n_samples`` input samples completely."""
    return -(-n_samples // stft.hop) + stft.redundancy - 1


def stft(x: np.ndarray, stft: StftConfig) -> np.ndarray:
    """Offline STFT of a mono signal in caminos' framing.

    Parameters
    ----------
    x : ndarray, shape (n_samples,)
        Mono signal.
    stft : StftConfig
        Frame size, hop and window.

    Returns
    -------
    ndarray, shape (n_frames, n_fft // 2 + 1), complex128
        ``n_frames = n_frames_for(n_samples, stft)``; frame ``m`` starts at sample
        ``m*hop - (n_fft - hop)`` of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ParameterError(f"stft expects a mono signal, got shape {x.shape}")
    n_frames = n_frames_for(len(x), stft)
    pad = stft.n_fft - stft.hop
    padded = np.zeros((n_frames - 1) * stft.hop + stft.n_fft)
    padded[pad : pad + len(x)] = x
    frames = np.lib.stride_tricks.sliding_window_view(padded, stft.n_fft)[:: stft.hop]
    return np.fft.rfft(frames * analysis_window(stft), axis=1)


def istft(spectrogram: np.ndarray, stft: StftConfig, length: int | None = None) -> np.ndarray:
    """Offline overlap-add synthesis, the inverse of :func:`stft`.

    Parameters
    ----------
    spectrogram : ndarray, shape (n_frames, n_fft // 2 + 1), complex
        Complex STFT frames in caminos' framing.
    stft : StftConfig
        Frame size, hop and window.
    length : int, optional
        Number of output samples; defaults to everything the frames cover after the padding.

    Returns
    -------
    ndarray, shape (length,), float64
    """
    spectrogram = np.asarray(spectrogram)
    if spectrogram.ndim != 2 or spectrogram.shape[1] != stft.n_bins:
        raise ParameterError(
            f"istft expects frames of {stft.n_bins} bins, got shape {spectrogram.shape}"
        )
    frames = np.fft.irfft(spectrogram, n=stft.n_fft, axis=1) * synthesis_window(stft)
    n_frames = len(frames)
    out = np.zeros((n_frames - 1) * stft.hop + stft.n_fft)
    _overlap_add(frames, stft.hop, out)
    pad = stft.n_fft - stft.hop
    total = len(out) - pad
    if length is None:
        length = total
    result = np.zeros(length)
    keep = min(length, total)
    result[:keep] = out[pad : pad + keep]
    return result


@hop_kernel
def _overlap_add(frames: np.ndarray, hop: int, out: np.ndarray) -> None:
    """Add ``frames[m]`` into ``out`` at ``m*hop``, in place."""
    n_frames, n_fft = frames.shape
    for m in range(n_frames):
        start = m * hop
        for n in range(n_fft):
            out[start + n] += frames[m, n]


@hop_kernel
def _shift_left(buf: np.ndarray, start: int, stop: int) -> None:
    """Move ``buf[start:stop]`` to the front of ``buf`` without a temporary copy."""
    for i in range(stop - start):
        buf[i] = buf[start + i]


@hop_kernel
def _analyze_frame(
    buf: np.ndarray,
    start: int,
    window: np.ndarray,
    scratch: np.ndarray,
    out: np.ndarray,
    axes: np.ndarray,
) -> None:
    """Window ``buf[start:start+n_fft]`` into ``scratch`` and write its real FFT into ``out``."""
    n_fft = window.shape[0]
    for n in range(n_fft):
        scratch[n] = buf[start + n] * window[n]
    r2c(scratch, out, axes, True, 1.0, 1)


@hop_kernel
def _synthesize_frame(
    frame: np.ndarray, window: np.ndarray, scratch: np.ndarray, acc: np.ndarray, axes: np.ndarray
) -> None:
    """Inverse FFT of ``frame``, times the synthesis window, added into ``acc``."""
    n_fft = window.shape[0]
    c2r(frame, scratch, axes, False, 1.0 / n_fft, 1)
    for n in range(n_fft):
        acc[n] += scratch[n] * window[n]


@hop_kernel
def _synthesize_hop(
    frame: np.ndarray,
    window: np.ndarray,
    scratch: np.ndarray,
    acc: np.ndarray,
    out: np.ndarray,
    hop: int,
    axes: np.ndarray,
) -> bool:
    """:func:`_synthesize_frame`, then the first ``hop`` samples of ``acc`` into ``out`` and
    ``acc`` moved that far to the left, zeros coming in; False (and nothing done) when ``out``
    is not ``hop`` samples long."""
    if out.shape[0] != hop:
        return False
    _synthesize_frame(frame, window, scratch, acc, axes)
    n_fft = acc.shape[0]
    for n in range(hop):
        out[n] = acc[n]
    _shift_left(acc, hop, n_fft)
    for n in range(n_fft - hop, n_fft):
        acc[n] = 0.0
    return True


@hop_kernel
def _append_block(
    buf: np.ndarray, cursor: np.ndarray, block: np.ndarray, n: int, most: int
) -> bool:
    """:meth:`StftAnalyzer.push` of the first ``n`` samples of ``block`` on its buffer and
    ``cursor`` (next frame's start, samples held); False, with nothing done, for more than
    ``most`` samples."""
    if n > most or n > block.shape[0]:
        return False
    start, fill = cursor[0], cursor[1]
    if fill + n > buf.shape[0]:  # move what is kept to the front
        _shift_left(buf, start, fill)
        fill -= start
        start = 0
    for i in range(n):
        buf[fill + i] = block[i]
    cursor[0], cursor[1] = start, fill + n
    return True


@hop_kernel
def _next_frame(
    buf: np.ndarray,
    cursor: np.ndarray,
    window: np.ndarray,
    scratch: np.ndarray,
    out: np.ndarray,
    hop: int,
    axes: np.ndarray,
) -> bool:
    """:meth:`StftAnalyzer.pull_frame` on its buffer and ``cursor``."""
    start = cursor[0]
    if cursor[1] - start < window.shape[0]:
        return False
    _analyze_frame(buf, start, window, scratch, out, axes)
    cursor[0] = start + hop
    return True


class StftAnalyzer:
    """Streaming STFT analysis: samples in, in blocks of any size; frames out, one per hop.

    Parameters
    ----------
    stft : StftConfig
        Frame size, hop and window.
    max_block : int
        Largest block :meth:`push` accepts, in samples. Buffers are sized for it once.

    Examples
    --------
    >>> analyzer = StftAnalyzer(StftConfig())
    >>> frame = np.zeros(513, dtype=np.complex128)
    >>> analyzer.push(np.zeros(300))
    >>> analyzer.pull_frame(frame), analyzer.pull_frame(frame)
    (True, False)
    """

    def __init__(self, stft: StftConfig, max_block: int = 8192) -> None:
        self.stft = stft
        self.max_block = int(max_block)
        self._window = analysis_window(stft)
        self._scratch = np.zeros(stft.n_fft)
        # History of n_fft - hop samples, then room for one block and one pending hop.
        self._buf = np.zeros(stft.n_fft + self.max_block + stft.hop)
        # [first sample of the next frame, samples held]: numbers over 256, kept in an array so
        # a hop makes no Python int; zeros stand for the signal before time 0
        self._cursor = np.array([0, stft.n_fft - stft.hop], dtype=np.int64)

    @property
    def latency_samples(self) -> int:
        """Samples from an input sample's arrival until it is in a frame, at the latest."""
        return self.stft.hop - 1

    def reset(self) -> None:
        """Forget all input, as if newly constructed."""
        self._buf[:] = 0.0
        self._cursor[:] = (0, self.stft.n_fft - self.stft.hop)

    def push(self, block: np.ndarray, n: int | None = None) -> None:
        """Append a block of samples (a vector of any length up to ``max_block``), or its first
        ``n`` samples."""
        if not _append_block(
            self._buf, self._cursor, block, len(block) if n is None else n, self.max_block
        ):
            raise ParameterError(
                f"block of {len(block) if n is None else n} samples exceeds "
                f"max_block={self.max_block} (or the {len(block)} given)"
            )

    def pull_frame(self, out: np.ndarray) -> bool:
        """Write the next complex frame into ``out`` (complex128, n_bins); False if none is
        ready."""
        return _next_frame(
            self._buf, self._cursor, self._window, self._scratch, out, self.stft.hop, _AXES
        )


class OverlapAddSynthesizer:
    """Streaming overlap-add synthesis: complex frames in, one hop of samples out per frame.

    Parameters
    ----------
    stft : StftConfig
        Frame size, hop and window; must match the analysis.
    max_pending : int
        Most samples that may wait to be pulled, in samples. Buffers are sized for it once.
    """

    def __init__(self, stft: StftConfig, max_pending: int = 8192) -> None:
        self.stft = stft
        self._window = synthesis_window(stft)
        self._scratch = np.zeros(stft.n_fft)
        self._acc = np.zeros(stft.n_fft)
        self._out = np.zeros(int(max_pending) + stft.hop)
        self._ready = 0

    def reset(self) -> None:
        """Forget all frames, as if newly constructed."""
        self._acc[:] = 0.0
        self._ready = 0

    def push_frame(self, frame: np.ndarray) -> None:
        """Overlap-add one complex frame; makes ``hop`` more samples ready."""
        hop = self.stft.hop
        if self._ready + hop > len(self._out):
            raise ParameterError(f"{self._ready} samples are waiting; pull before pushing more")
        _synthesize_frame(frame, self._window, self._scratch, self._acc, _AXES)
        self._out[self._ready : self._ready + hop] = self._acc[:hop]
        self._ready += hop
        _shift_left(self._acc, hop, self.stft.n_fft)
        self._acc[self.stft.n_fft - hop :] = 0.0

    def synthesize_hop(self, frame: np.ndarray, out: np.ndarray) -> None:
        """:meth:`push_frame` then :meth:`pull` of its ``hop`` samples into ``out``, in one
        compiled call that allocates nothing, for a synthesizer with nothing waiting (the hop
        clock's: one frame in, one hop out, every hop).

        Parameters
        ----------
        frame : ndarray, shape (n_bins,), complex128
        out : ndarray, shape (hop,), float64
            Receives the hop of samples.

        Raises
        ------
        ParameterError
            Samples are waiting to be pulled, or ``out`` is not one hop long.
        """
        if self._ready:
            raise ParameterError(f"{self._ready} samples are waiting; pull them first")
        hop = self.stft.hop
        if out.ndim != 1 or not _synthesize_hop(
            frame, self._window, self._scratch, self._acc, out, hop, _AXES
        ):
            raise ParameterError(f"out must hold one hop ({hop} samples), got {out.shape}")

    def pull(self, out: np.ndarray) -> int:
        """Move up to ``len(out)`` ready samples into ``out``; returns how many were written."""
        n = min(len(out), self._ready)
        out[:n] = self._out[:n]
        _shift_left(self._out, n, self._ready)
        self._ready -= n
        return n
