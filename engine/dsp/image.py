"""The stereo (or multichannel) image of a source kept through the model: per band, the level
differences between its channels.

Each channel of a source is encoded and decoded on its own, and the model's envelope error
differs from channel to channel: through the model alone, a stereo recording's third-octave level
differences between channels came out 2 dB off at the median worst band, 4.7 dB at worst
(``benchmarks/field.py``). The correction measures, every hop, each channel's envelope error:
the band levels (the power of ``width`` bins around each bin, in log units) of the channel's
own latent decoded, less those of the channel itself; it removes from each channel the part of
its error that the source's other channels do not share (its error minus the channels' mean
error), so the decoded channels differ by what the source's channels differ by, while the error
they share, and so the model's own sound, stays. A voice takes the correction of the channels
it follows, weighted as it follows them, so the field's places (spread, offsets) still move each
voice's timbre on top.

Band levels are powers (the mean of the squared magnitudes over the band, as a band meter and
the ear read noise), not means of log levels: where the model draws a few strong peaks over a
weak floor, a mean of logs weighs the floor as much as the peaks, and the correction missed by
up to 1 dB in a band of a stereo noise (``tests/test_field.py``; measured in
``docs/benchmarks.md``, "Many speakers").

The kernels write into caller buffers: the engine calls them every hop without allocating.
"""

from __future__ import annotations

import math

import numpy as np

from caminos.engine.dsp.compiled import hop_kernel

IMAGE_WIDTH_HZ = 250.0
"""Width of the band around each bin whose power is a channel's envelope here, in Hz (5 bins at
1024 points and 48 kHz): about a third of an octave at 800 Hz."""
IMAGE_LIMIT_DB = 12.0
"""Largest correction of a bin, either way, in dB."""
IMAGE_TIME_S = 0.1
"""Time constant of the correction's smoothing from hop to hop, in seconds."""


@hop_kernel
def envelope_error(
    decoded: np.ndarray,
    floor: float,
    source_log: np.ndarray,
    width: int,
    scratch: np.ndarray,
    envelope: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out`` = the band level of ``log(decoded + floor)`` less the band level of
    ``source_log``, in nepers (natural-log units): each bin's band level is the power of the
    ``width`` bins around it (:func:`band_levels`), as the ear and a band meter read it, so a few
    strong partials weigh as they sound; ``scratch`` and ``envelope`` are (n_bins,) buffers."""
    for k in range(decoded.shape[0]):
        scratch[k] = math.log(decoded[k] + floor)
    band_levels(scratch, width, envelope, out)
    band_levels(source_log, width, scratch, envelope)
    for k in range(out.shape[0]):
        out[k] -= envelope[k]


@hop_kernel
def band_levels(log_mags: np.ndarray, width: int, powers: np.ndarray, out: np.ndarray) -> None:
    """Half the log of the mean of ``exp(2 * log_mags)`` over the ``width`` bins around each
    bin (the first and last bin extended beyond the edges, as the texture's moving mean,
    :func:`caminos.engine.dsp.texture.fine_structure`):
    each bin's band level, in nepers. ``powers`` (n_bins,) is scratch, another buffer than
    ``out``."""
    n = log_mags.shape[0]
    half = width // 2
    top = np.float64(log_mags[0])  # float64 throughout, whatever the input's type
    for k in range(n):
        top = max(top, np.float64(log_mags[k]))
    for k in range(n):  # relative to the loudest bin: no overflow
        powers[k] = math.exp(2.0 * (np.float64(log_mags[k]) - top))
    # each window summed on its own (5 bins at the defaults): no running sum that would
    # leave rounding noise where a quiet band follows a loud one
    for k in range(n):
        total = 0.0
        for j in range(k - half, k + half + 1):
            total += powers[min(max(j, 0), n - 1)]
        out[k] = top + 0.5 * math.log(max(total / width, 1e-300))


@hop_kernel
def update_corrections(
    errors: np.ndarray,
    first: int,
    count: int,
    coefficient: float,
    limit: float,
    corrections: np.ndarray,
) -> None:
    """For rows ``first .. first + count - 1`` (one source's channels): each row's error less
    the rows' mean error, negated and clipped to ``limit`` nepers, followed by ``corrections``'
    rows with a one-pole step of ``coefficient``."""
    n_bins = errors.shape[1]
    for k in range(n_bins):
        mean = 0.0
        for r in range(first, first + count):
            mean += errors[r, k]
        mean /= count
        for r in range(first, first + count):
            target = min(max(mean - errors[r, k], -limit), limit)
            corrections[r, k] += coefficient * (target - corrections[r, k])


@hop_kernel
def apply_image(
    decoded: np.ndarray, corrections: np.ndarray, weights: np.ndarray, amount: float
) -> None:
    """Multiply ``decoded`` (linear magnitudes) by ``exp(amount * c)``, ``c`` the mean of the
    rows of ``corrections`` weighted by ``weights`` (a voice's weight of each source channel)."""
    total = 0.0
    for r in range(weights.shape[0]):
        total += weights[r]
    if total <= 0.0 or amount <= 0.0:
        return
    for k in range(decoded.shape[0]):
        c = 0.0
        for r in range(weights.shape[0]):
            if weights[r] > 0.0:
                c += weights[r] * corrections[r, k]
        if c != 0.0:
            decoded[k] *= math.exp(amount * c / total)


def image_width_bins(n_fft: int, sample_rate: int, width_hz: float = IMAGE_WIDTH_HZ) -> int:
    """:data:`IMAGE_WIDTH_HZ` in bins, odd, at least 3."""
    bins = int(round(width_hz * n_fft / sample_rate))
    return max(3, bins | 1)
