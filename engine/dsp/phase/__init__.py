"""Phase recovery: magnitude frames back to complex STFT frames.

Streaming methods (one frame in, one frame out, fixed look-ahead) serve the real-time engine and
offline rendering alike; offline methods see the whole spectrogram and serve rendering only.
:func:`make_streaming` builds a streaming method by name, :func:`reconstruct` runs any method over
a whole magnitude spectrogram.

| name             | kind      | look-ahead (frames)   | module                      |
|------------------|-----------|-----------------------|-----------------------------|
| rtpghi           | streaming | 0 or 1                | :mod:`caminos.engine.dsp.phase.pghi`    |
| rtisi-la         | streaming | 0..8                  | :mod:`caminos.engine.dsp.phase.rtisi`   |
| gsrtisi-la       | streaming | 0..8                  | :mod:`caminos.engine.dsp.phase.rtisi`   |
| rtpghi+gsrtisi   | streaming | 0..8                  | :mod:`caminos.engine.dsp.phase.combined`|
| pv               | streaming | 0                     | :mod:`caminos.engine.dsp.phase.vocoder` |
| input            | streaming | 0                     | :mod:`caminos.engine.dsp.phase.simple`  |
| random           | streaming | 0                     | :mod:`caminos.engine.dsp.phase.simple`  |
| pghi             | offline   | whole file            | :mod:`caminos.engine.dsp.phase.pghi`    |
| fgla             | offline   | whole file            |
:mod:`caminos.engine.dsp.phase.griffin_lim` |
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from caminos.engine.core.config import (
    OFFLINE_PHASE_METHODS,
    STREAMING_PHASE_METHODS,
    PhaseConfig,
    StftConfig,
)
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.phase.base import StreamingPhase

STREAMING_METHODS = STREAMING_PHASE_METHODS  # the names' one list is the configuration's
OFFLINE_METHODS = OFFLINE_PHASE_METHODS


def make_streaming(
    method: str, stft: StftConfig, phase: PhaseConfig | None = None, **overrides: object
) -> StreamingPhase:
    """Build a streaming phase-recovery method by name.

    Parameters
    ----------
    method : str
        One of :data:`STREAMING_METHODS`.
    stft : StftConfig
        Frame settings of the magnitudes that will be pushed.
    phase : PhaseConfig, optional
        Look-ahead, iterations, tolerance and seed; defaults to ``PhaseConfig()``.
    **overrides
        Replace single :class:`PhaseConfig` values (``lookahead=1``, ``iterations=8``).

    Notes
    -----
    ``rtpghi`` uses ``min(lookahead, 1)`` frames of look-ahead (its gradient needs at most one);
    ``pv``, ``input`` and ``random`` use none.
    """
    phase = phase or PhaseConfig()
    params = {
        "lookahead": phase.lookahead,
        "iterations": phase.iterations,
        "tolerance_db": phase.tolerance_db,
        "seed": phase.seed,
    }
    unknown = set(overrides) - set(params)
    if unknown:
        raise ParameterError(
            f"unknown phase parameter(s) {sorted(unknown)}; expected {sorted(params)}"
        )
    params.update(overrides)  # type: ignore[arg-type]
    lookahead, iterations = int(params["lookahead"]), int(params["iterations"])
    tolerance_db, seed = float(params["tolerance_db"]), int(params["seed"])
    if method == "rtpghi":
        from caminos.engine.dsp.phase.pghi import RtPghi

        return RtPghi(stft, lookahead=min(lookahead, 1), tolerance_db=tolerance_db, seed=seed)
    if method == "rtisi-la":
        from caminos.engine.dsp.phase.rtisi import RtisiLa

        return RtisiLa(stft, lookahead=lookahead, iterations=iterations)
    if method == "gsrtisi-la":
        from caminos.engine.dsp.phase.rtisi import GsRtisiLa

        return GsRtisiLa(stft, lookahead=lookahead, iterations=iterations)
    if method == "rtpghi+gsrtisi":
        from caminos.engine.dsp.phase.combined import PghiGsRtisi

        return PghiGsRtisi(
            stft, lookahead=lookahead, iterations=iterations, tolerance_db=tolerance_db, seed=seed
        )
    if method == "pv":
        from caminos.engine.dsp.phase.vocoder import PhaseVocoder

        return PhaseVocoder(stft)
    if method == "input":
        from caminos.engine.dsp.phase.simple import InputPhase

        return InputPhase(stft)
    if method == "random":
        from caminos.engine.dsp.phase.simple import RandomPhase

        return RandomPhase(stft, seed=seed)
    if method in OFFLINE_METHODS:
        raise ParameterError(
            f"phase method {method!r} works offline only (whole file); streaming "
            f"methods are {', '.join(STREAMING_METHODS)}"
        )
    raise ParameterError(
        f"unknown phase method {method!r}; expected one of "
        f"{', '.join(STREAMING_METHODS + OFFLINE_METHODS)}"
    )


# The RTISI family: the methods with iterations (``/phase/iterations``), and those with a
# many-voice bank (their iterations are what a bank shares out).
ITERATIVE_METHODS = ("rtisi-la", "gsrtisi-la", "rtpghi+gsrtisi")
BANK_METHODS = ITERATIVE_METHODS


def make_bank(method: str, stft: StftConfig, phases, lookahead: int, iterations: int):
    """A streaming method for several voices at once, pushed a group of voices in one compiled
    call (:mod:`caminos.engine.dsp.phase.rtisi_bank`), or None for a method without one.

    Parameters
    ----------
    method : str
        One of :data:`STREAMING_METHODS`; those of :data:`BANK_METHODS` have a bank.
    stft : StftConfig
        Frame settings.
    phases : sequence of PhaseConfig
        One per voice: its tolerance and seed.
    lookahead, iterations : int
        The same for every voice (frames; iterations per frame).

    Returns
    -------
    RtisiBank, PghiGsRtisiBank or None
        Each has ``name``, ``voices``, ``lookahead_frames``, a settable ``iterations``,
        ``push_rows(first, stop, magnitudes, magnitude_rows, out)`` and ``reset()``.
    """
    if method not in BANK_METHODS:
        return None
    if method == "rtpghi+gsrtisi":
        from caminos.engine.dsp.phase.combined import PghiGsRtisiBank

        return PghiGsRtisiBank(
            stft,
            [phase.seed for phase in phases],
            lookahead=lookahead,
            iterations=iterations,
            tolerance_db=phases[0].tolerance_db,
        )
    from caminos.engine.dsp.phase.rtisi import GS_NEWEST_FIRST, JACOBI
    from caminos.engine.dsp.phase.rtisi_bank import RtisiBank

    sweep = JACOBI if method == "rtisi-la" else GS_NEWEST_FIRST
    return RtisiBank(stft, len(phases), lookahead=lookahead, iterations=iterations, sweep=sweep)


def run_streaming(
    method: StreamingPhase,
    magnitudes: np.ndarray,
    reference: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Drive a streaming method over a whole spectrogram and align its output.

    The method's look-ahead is flushed with silent frames, so output frame ``m`` belongs to input
    frame ``m``.

    Parameters
    ----------
    method : StreamingPhase
        A freshly built or reset method.
    magnitudes : ndarray, shape (n_frames, n_bins)
        Linear magnitudes.
    reference : ndarray, shape (n_frames, n_bins), complex, optional
        The source's analysis frames, for methods that read them.
    progress : callable, optional
        Called with a number of frames done, every few dozen frames (a progress bar's update).
    """
    every = 64  # frames between progress calls
    n_frames, n_bins = magnitudes.shape
    mags = np.ascontiguousarray(magnitudes, dtype=np.float64)
    out = np.zeros((n_frames, n_bins), dtype=np.complex128)
    frame = np.zeros(n_bins, dtype=np.complex128)
    silence = np.zeros(n_bins)
    delay = method.lookahead_frames
    for m in range(n_frames + delay):
        ref = None
        if reference is not None and m < n_frames:
            ref = reference[m]
        method.process(mags[m] if m < n_frames else silence, frame, ref)
        if m >= delay:
            out[m - delay] = frame
        if progress is not None and m < n_frames and (m + 1) % every == 0:
            progress(every)
    if progress is not None:
        progress(n_frames % every)
    return out


def reconstruct(
    magnitudes: np.ndarray,
    method: str,
    stft: StftConfig,
    phase: PhaseConfig | None = None,
    reference: np.ndarray | None = None,
    **overrides: object,
) -> np.ndarray:
    """Recover a complex spectrogram from magnitudes with any method, streaming or offline.

    Parameters
    ----------
    magnitudes : ndarray, shape (n_frames, n_bins)
        Linear magnitudes in caminos' framing.
    method : str
        A name from :data:`STREAMING_METHODS` or :data:`OFFLINE_METHODS`.
    stft : StftConfig
        Frame settings of ``magnitudes``.
    phase : PhaseConfig, optional
        Method parameters; ``offline_iterations`` sets fgla's iteration count.
    reference : ndarray, optional
        The source's analysis frames, for ``input``.
    **overrides
        As for :func:`make_streaming`; ``iterations`` also sets fgla's count.

    Returns
    -------
    ndarray, shape (n_frames, n_bins), complex128
    """
    phase = phase or PhaseConfig()
    magnitudes = np.asarray(magnitudes, dtype=np.float64)
    if magnitudes.ndim != 2 or magnitudes.shape[1] != stft.n_bins:
        raise ParameterError(
            f"expected magnitudes of shape (frames, {stft.n_bins}), got {magnitudes.shape}"
        )
    if method == "pghi":
        from caminos.engine.dsp.phase.pghi import pghi

        return pghi(
            magnitudes, stft, tolerance_db=float(overrides.get("tolerance_db", phase.tolerance_db))
        )
    if method == "fgla":
        from caminos.engine.dsp.phase.griffin_lim import fgla
        from caminos.engine.dsp.phase.pghi import pghi

        n_iter = int(overrides.get("iterations", phase.offline_iterations))  # type: ignore[arg-type]
        initial = pghi(magnitudes, stft, tolerance_db=phase.tolerance_db)
        return fgla(magnitudes, stft, n_iter=n_iter, initial=initial)
    streaming = make_streaming(method, stft, phase, **overrides)
    if streaming.uses_reference and reference is None:
        raise ParameterError(
            f"phase method {method!r} needs the source's own phase, and this source has none"
        )
    return run_streaming(streaming, magnitudes, reference)
