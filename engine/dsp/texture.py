"""Spectral texture: a source's fine structure in place of the decoded frame's.

The decoder draws each frame's envelope and partials, but not the exact draw of its noise: a
noise bin's level is random from frame to frame (a Rayleigh draw, about 5.6 dB RMS in log
level), so the best any decoder of the latent can do there is the expected level, which phase
recovery turns into a smooth, slightly whispery noise. A frame's *fine structure* is each bin's
log level minus the mean of its neighbours within :data:`TEXTURE_WIDTH_HZ` (its envelope). The
texture replaces the decoded frame's fine structure by the source's: each bin's level moves by
the source's fine structure minus the decoded one's, clipped to [:data:`TEXTURE_LOW_DB`,
:data:`TEXTURE_HIGH_DB`], times an amount (0: the decoded frame as it is). The envelope stays the
decoder's; where both have the same partial nothing moves; the noise between partials takes the
source's grain; a partial the decoder smeared is raised by at most 3 dB, one it drew where the
source has none lowered by at most 12 dB.

It exists only while a source plays through the model (``caminos reconstruct``, the engine with
``/latent/follow`` above 0): a path or landmark replayed from the latent alone has no source and
no texture. The engine scales it by the follow amount and moves the source's fine structure with
``/latent/pitch``.

The kernels are compiled and write into caller buffers, so the engine calls them every hop
without allocating.
"""

from __future__ import annotations

import math

import numpy as np

from caminos.engine.dsp.compiled import hop_kernel

TEXTURE_WIDTH_HZ = 400.0
"""Width of the moving mean that defines a source's envelope, in Hz (9 bins at 1024 points and
48 kHz)."""
TEXTURE_LOW_DB = -12.0
"""Largest cut the texture makes in a bin of the decoded frame, in dB."""
TEXTURE_HIGH_DB = 3.0
"""Largest boost the texture gives a bin of the decoded frame, in dB."""

_NEPERS_PER_DB = math.log(10.0) / 20.0


def texture_width_bins(n_fft: int, sample_rate: int, width_hz: float = TEXTURE_WIDTH_HZ) -> int:
    """The moving mean's width in bins: ``width_hz`` rounded to an odd count of at least 3.

    Parameters
    ----------
    n_fft : int
        FFT size in samples.
    sample_rate : int
        In Hz.
    width_hz : float
        In Hz.
    """
    bins = int(round(width_hz * n_fft / sample_rate))
    return max(3, bins | 1)


@hop_kernel
def fine_structure(
    log_mags: np.ndarray, width: int, low: float, high: float, out: np.ndarray
) -> None:
    """Each bin's natural-log level minus the mean of the ``width`` bins around it, clipped.

    The mean extends the first and last bin beyond the edges (as
    ``scipy.ndimage.uniform_filter1d(..., mode="nearest")``).

    Parameters
    ----------
    log_mags : ndarray, shape (n_bins,)
        Natural-log magnitudes (any float type).
    width : int
        Odd width of the moving mean, in bins.
    low, high : float
        Clip range, in nepers (``dB * ln(10) / 20``).
    out : ndarray, shape (n_bins,), float64
        Receives the texture in nepers.
    """
    n = log_mags.shape[0]
    half = width // 2
    total = 0.0
    for j in range(-half, half + 1):
        total += log_mags[min(max(j, 0), n - 1)]
    for k in range(n):
        value = log_mags[k] - total / width
        out[k] = min(max(value, low), high)
        total += log_mags[min(k + half + 1, n - 1)] - log_mags[max(k - half, 0)]


@hop_kernel
def weighted_mean_rows(rows: np.ndarray, weights: np.ndarray, out: np.ndarray) -> float:
    """The mean of ``rows`` weighted by ``weights`` (rows of weight 0 are skipped), into ``out``.

    Parameters
    ----------
    rows : ndarray, shape (n_rows, n_bins)
        For instance each source's log magnitudes.
    weights : ndarray, shape (n_rows,)
        Non-negative weights.
    out : ndarray, shape (n_bins,), float64
        Receives the mean (unchanged when every weight is 0).

    Returns
    -------
    float
        The sum of the weights.
    """
    total = 0.0
    for i in range(rows.shape[0]):
        total += weights[i]
    if total <= 0.0:
        return 0.0
    out[:] = 0.0
    for i in range(rows.shape[0]):
        share = weights[i] / total
        if share > 0.0:
            for k in range(rows.shape[1]):
                out[k] += share * rows[i, k]
    return total


@hop_kernel
def shift_texture(texture: np.ndarray, ratio: float, out: np.ndarray) -> None:
    """``texture`` moved along frequency by a factor ``ratio`` (bin ``k`` reads bin ``k / ratio``,
    linearly interpolated; bins that read beyond the last one get 0, no texture).

    Parameters
    ----------
    texture : ndarray, shape (n_bins,)
    ratio : float
        Frequency factor, ``2 ** (semitones / 12)``.
    out : ndarray, shape (n_bins,), float64
        Receives the moved texture; must not be ``texture``.
    """
    n = texture.shape[0]
    for k in range(n):
        position = k / ratio
        below = int(position)
        if below >= n - 1:
            out[k] = texture[n - 1] if position == n - 1 else 0.0
        else:
            fraction = position - below
            out[k] = (1.0 - fraction) * texture[below] + fraction * texture[below + 1]


@hop_kernel
def lay_texture(
    decoded: np.ndarray,
    source_fine: np.ndarray,
    amount: float,
    width: int,
    low: float,
    high: float,
    floor: float,
    scratch_log: np.ndarray,
    scratch_fine: np.ndarray,
) -> None:
    """Replace ``decoded``'s fine structure by ``source_fine``, in place.

    Each bin is multiplied by ``exp(amount * clip(source_fine - decoded_fine, low, high))``,
    ``decoded_fine`` being :func:`fine_structure` of ``log(decoded + floor)``.

    Parameters
    ----------
    decoded : ndarray, shape (n_bins,), float64
        Linear magnitudes decoded from the latent; changed in place.
    source_fine : ndarray, shape (n_bins,)
        The source's fine structure in nepers (:func:`fine_structure`, unclipped).
    amount : float
        0 .. 1.
    width : int
        Odd width of the moving mean, in bins.
    low, high : float
        Clip range of each bin's change, in nepers.
    floor : float
        Added to the magnitudes before the logarithm (the source's log magnitudes' floor).
    scratch_log, scratch_fine : ndarray, shape (n_bins,), float64
        Work buffers.
    """
    n = decoded.shape[0]
    for k in range(n):
        scratch_log[k] = math.log(decoded[k] + floor)
    fine_structure(scratch_log, width, -math.inf, math.inf, scratch_fine)
    for k in range(n):
        change = min(max(source_fine[k] - scratch_fine[k], low), high)
        decoded[k] *= math.exp(amount * change)


def texture_limits_nepers(
    low_db: float = TEXTURE_LOW_DB, high_db: float = TEXTURE_HIGH_DB
) -> tuple[float, float]:
    """The clip range in nepers, for :func:`fine_structure`."""
    return low_db * _NEPERS_PER_DB, high_db * _NEPERS_PER_DB


def add_texture(
    decoded: np.ndarray,
    source_log: np.ndarray,
    amount: float,
    n_fft: int,
    sample_rate: int,
    floor: float,
) -> np.ndarray:
    """Frames decoded from a source's latent, with their fine structure replaced by the
    source's (:func:`lay_texture`).

    The offline form of what the engine does each hop (``caminos reconstruct``, benchmarks).

    Parameters
    ----------
    decoded : ndarray, shape (n_frames, n_bins)
        Linear magnitudes decoded from the source's latent.
    source_log : ndarray, shape (n_frames, n_bins)
        The source's natural-log magnitudes (``log(magnitude + floor)``), the same frames.
    amount : float
        0 (none, the decoded frames as they are) .. 1 (the whole clipped change).
    n_fft, sample_rate : int
        The STFT's size in samples and the rate in Hz (for the moving mean's width).
    floor : float
        The floor added to the source's magnitudes before their logarithm.

    Returns
    -------
    ndarray, shape (n_frames, n_bins), float64
        A new array of linear magnitudes.
    """
    decoded = np.asarray(decoded, dtype=np.float64)
    source_log = np.asarray(source_log, dtype=np.float64)
    if decoded.shape != source_log.shape:
        raise ValueError(
            f"decoded frames {decoded.shape} and source frames {source_log.shape} differ in shape"
        )
    out = decoded.copy()
    if amount <= 0.0:
        return out
    width = texture_width_bins(n_fft, sample_rate)
    low, high = texture_limits_nepers()
    source_fine, scratch_log, scratch_fine = (np.empty(decoded.shape[1]) for _ in range(3))
    for frame in range(len(out)):
        fine_structure(source_log[frame], width, -np.inf, np.inf, source_fine)
        lay_texture(
            out[frame],
            source_fine,
            float(amount),
            width,
            low,
            high,
            floor,
            scratch_log,
            scratch_fine,
        )
    return out
