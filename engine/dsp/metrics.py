"""Quality metrics: spectral convergence, log-spectral distance (dB) and partial survival.

Used by the phase benchmark (``benchmarks/phase.py``) and the tests: an estimate (a signal, or
complex frames synthesised to one, or magnitudes) is compared with the target magnitudes it was
asked to reproduce, always through :func:`caminos.engine.dsp.spectral.stft` so both sides share
window,
``n_fft``, hop and framing.
"""

from __future__ import annotations

import math

import numpy as np

from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.spectral import istft, stft as analyze


def estimate_magnitudes(
    estimate: np.ndarray, stft: StftConfig, n_frames: int, length: int | None = None
) -> np.ndarray:
    """Magnitudes of an estimate on the target's frame grid.

    Parameters
    ----------
    estimate : ndarray
        One of: a mono signal, shape (n_samples,), real; complex STFT frames, shape
        (frames, n_bins), which are first synthesised with
        :func:`caminos.engine.dsp.spectral.istft` and
        analysed again (an inconsistent spectrogram's own magnitudes would equal any target, so
        only the sound it makes is measured); or linear magnitudes, shape (frames, n_bins), real,
        used as they are.
    stft : StftConfig
        Frame settings of the target.
    n_frames : int
        Frames of the target; the estimate is cut to this many or padded with silent frames.
    length : int, optional
        Samples to synthesise complex frames to, in samples (the original signal's length); by
        default everything the frames cover, ``frames * hop``.

    Returns
    -------
    ndarray, shape (n_frames, n_bins), float64
    """
    estimate = np.asarray(estimate)
    if estimate.ndim == 1:
        if np.iscomplexobj(estimate):
            raise ParameterError("a 1-D estimate must be a real signal, got complex samples")
        mags = np.abs(analyze(estimate, stft))
    elif estimate.ndim == 2 and estimate.shape[1] == stft.n_bins:
        if np.iscomplexobj(estimate):
            mags = np.abs(analyze(istft(estimate, stft, length=length), stft))
        else:
            mags = np.asarray(estimate, dtype=np.float64)
    else:
        raise ParameterError(
            f"estimate must be a signal (n_samples,) or frames (frames, "
            f"{stft.n_bins}), got shape {estimate.shape}"
        )
    if len(mags) >= n_frames:
        return mags[:n_frames]
    padded = np.zeros((n_frames, stft.n_bins))
    padded[: len(mags)] = mags
    return padded


def _target(target_magnitudes: np.ndarray, stft: StftConfig) -> np.ndarray:
    target = np.asarray(target_magnitudes, dtype=np.float64)
    if target.ndim != 2 or target.shape[1] != stft.n_bins:
        raise ParameterError(
            f"target_magnitudes must have shape (frames, {stft.n_bins}), got {target.shape}"
        )
    if np.iscomplexobj(target_magnitudes) or np.any(target < 0) or not np.all(np.isfinite(target)):
        raise ParameterError("target_magnitudes must be real, finite and non-negative")
    return target


def spectral_convergence_db(
    estimate: np.ndarray, target_magnitudes: np.ndarray, stft: StftConfig, length: int | None = None
) -> float:
    """Spectral convergence ``20 log10(||abs(STFT(x_hat)) - S||_F / ||S||_F)``, in dB.

    Lower is better: -inf for a perfect estimate, 0 dB when the error is as large as the target
    (silence, or twice the target), about -5 to -10 dB for random phase.

    Parameters
    ----------
    estimate : ndarray
        A signal, complex frames or magnitudes; see :func:`estimate_magnitudes`.
    target_magnitudes : ndarray, shape (n_frames, n_bins)
        The linear magnitudes ``S`` the estimate was asked to reproduce, in caminos' framing.
    stft : StftConfig
        Frame settings of ``S``; the estimate is analysed with the same.
    length : int, optional
        Samples to synthesise complex frames to, in samples.

    Returns
    -------
    float
        In dB; ``-inf`` when the estimate matches exactly, ``nan`` for an all-zero target.

    Examples
    --------
    >>> cfg = StftConfig()
    >>> S = np.abs(analyze(np.random.default_rng(0).standard_normal(4800), cfg))
    >>> round(spectral_convergence_db(2 * S, S, cfg), 6)
    0.0
    """
    target = _target(target_magnitudes, stft)
    mags = estimate_magnitudes(estimate, stft, len(target), length)
    ref = np.linalg.norm(target)
    if ref == 0.0:
        return float("nan")
    err = np.linalg.norm(mags - target)
    if err == 0.0:
        return float("-inf")
    return float(20.0 * np.log10(err / ref))


def log_spectral_distance_db(
    estimate: np.ndarray,
    target_magnitudes: np.ndarray,
    stft: StftConfig,
    floor_db: float = -80.0,
    length: int | None = None,
) -> float:
    """Log-spectral distance: mean over frames of the RMS over bins of the level error, in dB.

    ``LSD = mean_m sqrt(mean_k (20 log10((|X[m,k]| + f) / (S[m,k] + f)))**2)`` with the floor
    ``f = max(S) * 10**(floor_db / 20)``: bins far below the target's loudest (silence, the skirts
    of the window) then count as equal instead of dominating the mean with huge ratios of
    nothing to nothing. Lower is better: 0 dB for a perfect estimate, 6.02 dB for one twice too
    loud everywhere (when ``S`` stays well above the floor).

    Parameters
    ----------
    estimate : ndarray
        A signal, complex frames or magnitudes; see :func:`estimate_magnitudes`.
    target_magnitudes : ndarray, shape (n_frames, n_bins)
        The linear magnitudes ``S`` the estimate was asked to reproduce.
    stft : StftConfig
        Frame settings of ``S``.
    floor_db : float
        The floor relative to the target's peak magnitude, in dB (< 0); default -80 dB.
    length : int, optional
        Samples to synthesise complex frames to, in samples.

    Returns
    -------
    float
        In dB, >= 0; ``nan`` for an all-zero target.
    """
    if not floor_db < 0.0:
        raise ParameterError(f"floor_db must be negative (dB below the peak), got {floor_db}")
    target = _target(target_magnitudes, stft)
    mags = estimate_magnitudes(estimate, stft, len(target), length)
    peak = target.max(initial=0.0)
    if peak == 0.0:
        return float("nan")
    floor = peak * 10.0 ** (floor_db / 20.0)
    level_error = 20.0 * np.log10((mags + floor) / (target + floor))
    return float(np.mean(np.sqrt(np.mean(level_error**2, axis=1))))


def partial_survival(
    estimate: np.ndarray,
    target_magnitudes: np.ndarray,
    stft: StftConfig,
    frame_range_db: float = 30.0,
    peak_range_db: float = 40.0,
    tolerance_db: float = 6.0,
    length: int | None = None,
) -> float:
    """Share of the target's spectral peaks (partials) that the estimate keeps, 0 to 1.

    In the target's loud frames (frame energy within ``frame_range_db`` of the loudest frame's),
    every local maximum over frequency within ``peak_range_db`` of its frame's largest magnitude
    is a partial. A partial survives when the estimate's magnitude at its bin or at one of the
    two neighbouring bins is at most ``tolerance_db`` below the target's. A smeared partial (its
    energy spread over many bins) or one moved by two bins or more does not survive; one that is
    merely quieter by less than the tolerance does. Louder output is not penalised here: read it
    beside :func:`log_spectral_distance_db` and :func:`spectral_convergence_db`.

    Parameters
    ----------
    estimate : ndarray
        A signal, complex frames or magnitudes; see :func:`estimate_magnitudes`.
    target_magnitudes : ndarray, shape (n_frames, n_bins)
        The input's linear magnitudes, in caminos' framing (n_fft 1024, hop 256 by default).
    stft : StftConfig
        Frame settings of the target.
    frame_range_db, peak_range_db, tolerance_db : float
        The three thresholds above, in dB (positive).
    length : int, optional
        Samples to synthesise complex frames to, in samples.

    Returns
    -------
    float
        Surviving partials over all partials of all loud frames; ``nan`` when the target has
        none (silence).
    """
    if min(frame_range_db, peak_range_db, tolerance_db) <= 0.0:
        raise ParameterError("frame_range_db, peak_range_db and tolerance_db must be positive")
    target = _target(target_magnitudes, stft)
    mags = estimate_magnitudes(estimate, stft, len(target), length)
    survived, total = partial_counts(mags, target, frame_range_db, peak_range_db, tolerance_db)
    return float(survived / total) if total else float("nan")


def partial_counts(
    estimate_magnitudes: np.ndarray,
    target_magnitudes: np.ndarray,
    frame_range_db: float = 30.0,
    peak_range_db: float = 40.0,
    tolerance_db: float = 6.0,
) -> tuple[int, int]:
    """Surviving partials and all partials, as :func:`partial_survival` counts them.

    Both arguments are linear magnitudes of the same shape (n_frames, n_bins); the counts can
    be summed over files to pool them.
    """
    target = np.asarray(target_magnitudes, dtype=np.float64)
    mags = np.asarray(estimate_magnitudes, dtype=np.float64)
    energy = np.sum(target**2, axis=1)
    if energy.max(initial=0.0) <= 0.0:
        return 0, 0
    loud = energy >= energy.max() * 10.0 ** (-frame_range_db / 10.0)
    target, mags = target[loud], mags[loud]
    centre = target[:, 1:-1]
    is_peak = (centre > target[:, :-2]) & (centre >= target[:, 2:])
    is_peak &= centre >= target.max(axis=1, keepdims=True) * 10.0 ** (-peak_range_db / 20.0)
    nearby = np.maximum(np.maximum(mags[:, :-2], mags[:, 1:-1]), mags[:, 2:])
    kept = is_peak & (nearby >= centre * 10.0 ** (-tolerance_db / 20.0))
    return int(kept.sum()), int(is_peak.sum())


def held_partial_jitter_db(
    estimate_magnitudes: np.ndarray,
    target_magnitudes: np.ndarray,
    frame_range_db: float = 30.0,
    peak_range_db: float = 40.0,
    held_db: float = 1.0,
) -> tuple[float, int]:
    """How much an estimate's partials flicker where the target's hold steady, in dB.

    A *held partial* is a bin that is a spectral peak of the target (as in
    :func:`partial_counts`: a local maximum within ``peak_range_db`` of its frame's loudest
    bin, in frames within ``frame_range_db`` of the loudest frame) in two consecutive frames,
    its level changing by less than ``held_db`` between them. For each, the estimate's level
    change at the same bin over the same two frames is compared with the target's; the result
    is the root mean square of the difference (0: the estimate moves exactly as the source).

    Parameters
    ----------
    estimate_magnitudes, target_magnitudes : ndarray, shape (n_frames, n_bins)
        Linear magnitudes, frame for frame.

    Returns
    -------
    jitter_db : float
        RMS frame-to-frame level error over held partials, dB (nan without any).
    count : int
        Held partials measured (to pool files: sum ``count * jitter_db**2``).
    """
    target = np.asarray(target_magnitudes, dtype=np.float64)
    mags = np.asarray(estimate_magnitudes, dtype=np.float64)
    if len(target) < 2:
        return math.nan, 0
    energy = np.sum(target**2, axis=1)
    if energy.max(initial=0.0) <= 0.0:
        return math.nan, 0
    loud = energy >= energy.max() * 10.0 ** (-frame_range_db / 10.0)
    centre = target[:, 1:-1]
    is_peak = (centre > target[:, :-2]) & (centre >= target[:, 2:])
    is_peak &= centre >= target.max(axis=1, keepdims=True) * 10.0 ** (-peak_range_db / 20.0)
    is_peak &= loud[:, None]
    target_db = 20.0 * np.log10(centre + 1e-12)
    mags_db = 20.0 * np.log10(mags[:, 1:-1] + 1e-12)
    target_step = np.diff(target_db, axis=0)
    held = is_peak[:-1] & is_peak[1:] & (np.abs(target_step) < held_db)
    count = int(held.sum())
    if count == 0:
        return math.nan, 0
    error = np.diff(mags_db, axis=0)[held] - target_step[held]
    return float(np.sqrt(np.mean(error**2))), count
