"""The shared rings (:class:`caminos.engine.core.ring.SharedRing`) written and read in compiled
calls, for the hop clock.

``SharedRing.write`` and ``read_into`` are Python: their positions are numbers far over 256, so
each call makes int objects and views. The DSP process moves its hop through these kernels
instead, on the ring's own arrays (:attr:`~caminos.engine.core.ring.SharedRing.frames` and
:attr:`~caminos.engine.core.ring.SharedRing.positions`), with the same steps: the frames first,
then the position that publishes them. The core layer keeps its Python methods (the audio
process and the tests use them; it does not load numba).
"""

from __future__ import annotations

import numpy as np

from caminos.engine.dsp.compiled import hop_kernel

_WRITE, _READ = 0, 1  # SharedRing's positions


@hop_kernel
def write_frames(frames: np.ndarray, positions: np.ndarray, block: np.ndarray) -> bool:
    """Append ``block`` (n, channels) to the ring, converted to its float32; False, with
    nothing written, when it has no room for all of it."""
    capacity, n = frames.shape[0], block.shape[0]
    write = positions[_WRITE]
    if n > capacity - (write - positions[_READ]):
        return False
    for i in range(n):
        slot = (write + i) % capacity
        for c in range(block.shape[1]):
            frames[slot, c] = block[i, c]
    positions[_WRITE] = write + n  # after the frames: publishes them
    return True


@hop_kernel
def read_frames(frames: np.ndarray, positions: np.ndarray, out: np.ndarray) -> bool:
    """Move ``len(out)`` frames of the ring into ``out`` (n, channels); False, with nothing
    read, when fewer are there."""
    capacity, n = frames.shape[0], out.shape[0]
    read = positions[_READ]
    if positions[_WRITE] - read < n:
        return False
    for i in range(n):
        slot = (read + i) % capacity
        for c in range(out.shape[1]):
            out[i, c] = frames[slot, c]
    positions[_READ] = read + n
    return True


@hop_kernel
def has_room(frames: np.ndarray, positions: np.ndarray, n: int) -> bool:
    """Whether ``n`` frames can be written without overwriting unread ones."""
    return frames.shape[0] - (positions[_WRITE] - positions[_READ]) >= n


@hop_kernel
def holds(positions: np.ndarray, n: int) -> bool:
    """Whether ``n`` frames are written and not yet read."""
    return positions[_WRITE] - positions[_READ] >= n


@hop_kernel
def frames_held(positions: np.ndarray) -> float:
    """Frames written and not yet read, as a float (a Python int of that size is an object)."""
    return float(positions[_WRITE] - positions[_READ])
