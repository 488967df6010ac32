"""Quality metrics of phase recovery: spectral convergence and log-spectral distance, in dB.

Used by the phase benchmark (``benchmarks/phase.py``) and the tests: an estimate (a signal, or
complex frames synthesised to one, or magnitudes) is compared with the target magnitudes it was
asked to reproduce, always through :func:`engine.spectral.stft` so both sides share window,
``n_fft``, hop and framing.
"""

from __future__ import annotations

import numpy as np

from engine.config import StftConfig
from engine.errors import ParameterError
from engine.spectral import istft, stft as analyze


def estimate_magnitudes(estimate: np.ndarray, stft: StftConfig, n_frames: int,
                        length: int | None = None) -> np.ndarray:
    """Magnitudes of an estimate on the target's frame grid.

    Parameters
    ----------
    estimate : ndarray
        One of: a mono signal, shape (n_samples,), real; complex STFT frames, shape
        (frames, n_bins), which are first synthesised with :func:`engine.spectral.istft` and
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
        raise ParameterError(f"estimate must be a signal (n_samples,) or frames (frames, "
                             f"{stft.n_bins}), got shape {estimate.shape}")
    if len(mags) >= n_frames:
        return mags[:n_frames]
    padded = np.zeros((n_frames, stft.n_bins))
    padded[:len(mags)] = mags
    return padded


def _target(target_magnitudes: np.ndarray, stft: StftConfig) -> np.ndarray:
    target = np.asarray(target_magnitudes, dtype=np.float64)
    if target.ndim != 2 or target.shape[1] != stft.n_bins:
        raise ParameterError(f"target_magnitudes must have shape (frames, {stft.n_bins}), got "
                             f"{target.shape}")
    if np.iscomplexobj(target_magnitudes) or np.any(target < 0) or not np.all(np.isfinite(target)):
        raise ParameterError("target_magnitudes must be real, finite and non-negative")
    return target


def spectral_convergence_db(estimate: np.ndarray, target_magnitudes: np.ndarray,
                            stft: StftConfig, length: int | None = None) -> float:
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


def log_spectral_distance_db(estimate: np.ndarray, target_magnitudes: np.ndarray,
                             stft: StftConfig, floor_db: float = -80.0,
                             length: int | None = None) -> float:
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
