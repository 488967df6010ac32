"""The DSP process's level meter: each hop's peak and energy, in one compiled call.

The control page and the status line show the peak of every channel and the RMS of the first
over the last half second; ``np.abs(block).max()`` made an array of the block every hop (2 KB
at one channel, 16 KB at eight).
"""

from __future__ import annotations

import numpy as np

from caminos.engine.dsp.compiled import hop_kernel

# The cells of the meter's level array: the window's peak and energy (cleared each window),
# and the loudest sample since the run began (never cleared: the run's report).
PEAK, ENERGY, RUN_PEAK = 0, 1, 2


@hop_kernel
def meter(block: np.ndarray, level: np.ndarray) -> None:
    """Take one hop (samples, channels) into ``level``: ``[PEAK]`` the largest magnitude of
    any channel so far, ``[ENERGY]`` plus the sum of the first channel's squares, ``[RUN_PEAK]``
    the largest since the run began."""
    peak, energy = level[PEAK], 0.0
    for i in range(block.shape[0]):
        for c in range(block.shape[1]):
            magnitude = abs(block[i, c])
            if magnitude > peak:
                peak = magnitude
        energy += block[i, 0] * block[i, 0]
    level[PEAK] = peak
    level[ENERGY] += energy
    if peak > level[RUN_PEAK]:
        level[RUN_PEAK] = peak
