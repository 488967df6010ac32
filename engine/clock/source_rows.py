"""The sources' rows each hop, compiled: each row's weight in the latent mix, and each voice's
weights of the rows it follows (:class:`caminos.engine.clock.units.SourcesUnit`).

The same arithmetic as the Python loop they replace, which made a view of a row and an
iterator or two for every source, row and voice each hop.
"""

from __future__ import annotations

import math

import numpy as np

from caminos.engine.dsp.compiled import all_finite, hop_kernel


@hop_kernel
def weigh_rows(
    mags: np.ndarray,
    refs: np.ndarray,
    rows: np.ndarray,
    row_sounding: np.ndarray,
    base: int,
    count: int,
    sounding: int,
    gain: float,
    full_weight_energy: float,
) -> int:
    """Weigh one source's ``count`` rows of ``mags`` (rows, bins) from ``base``: the first
    ``sounding`` hold frames (their analysis frames in ``refs``).

    A sounding row's weight is ``gain`` times its frame's energy against
    ``full_weight_energy`` (the sum of squares, as BLAS ``ddot``), at most ``gain``; a silent
    row's frame and reference are zeroed, and so are a frame holding NaN or infinity (weight
    0), counted in the result.

    Returns
    -------
    int
        Rows whose frame held NaN or infinity.
    """
    bad = 0
    for r in range(count):
        row = base + r
        rows[row] = 0.0
        row_sounding[row] = 1.0 if r < sounding else 0.0
        mag = mags[row]
        if r >= sounding or not all_finite(mag):
            mag[:] = 0.0
            refs[row][:] = 0.0
            bad += 0 if r >= sounding else 1
            continue
        energy = np.dot(mag, mag)
        rows[row] = gain * min(1.0, math.sqrt(energy / full_weight_energy))
    return bad


@hop_kernel
def follow_rows(
    weights: np.ndarray,
    rows: np.ndarray,
    voice_index: np.ndarray,
    base: int,
    sounding: int,
    references: np.ndarray,
    refs: np.ndarray,
    has_reference: bool,
    referenced: int,
) -> int:
    """Each voice's weight of the one row of this source it follows (its room index modulo
    the ``sounding`` rows), and its reference frame from that row when the source has one and
    no source before it gave the voice one (a bit a voice in ``referenced``).

    Returns
    -------
    int
        ``referenced`` with the voices given a reference here.
    """
    for k in range(weights.shape[0]):
        row = base + voice_index[k] % sounding
        weights[k, row] = rows[row]
        if rows[row] > 0.0 and has_reference and not (referenced >> k) & 1:
            for j in range(references.shape[1]):
                references[k, j] = refs[row, j]
            referenced |= 1 << k
    return referenced
