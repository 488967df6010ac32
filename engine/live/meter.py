"""The DSP process's level meter: each hop's peak and energy, in one compiled call.

The control page and the status line show the peak of every channel and the RMS of the first
over the last half second; ``np.abs(block).max()`` made an array of the block every hop (2 KB
at one channel, 16 KB at eight).
"""

from __future__ import annotations

import numpy as np

from caminos.engine.dsp.compiled import hop_kernel

PEAK, ENERGY = 0, 1  # the cells of the meter's level array


@hop_kernel
def meter(block: np.ndarray, level: np.ndarray) -> None:
    """Take one hop (samples, channels) into ``level``: ``[PEAK]`` the largest magnitude of
    any channel so far, ``[ENERGY]`` plus the sum of the first channel's squares."""
    peak, energy = level[PEAK], 0.0
    for i in range(block.shape[0]):
        for c in range(block.shape[1]):
            magnitude = abs(block[i, c])
            if magnitude > peak:
                peak = magnitude
        energy += block[i, 0] * block[i, 0]
    level[PEAK] = peak
    level[ENERGY] += energy
