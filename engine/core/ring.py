"""A single-producer, single-consumer ring buffer of audio frames in shared memory.

Between the DSP worker (producer of output, consumer of input) and the audio callback, which may
live in another process (:mod:`caminos.engine.live.dsp_process`). Reading and writing are slice
copies into preallocated arrays; neither side ever waits on a lock. Positions are two int64 counters
that only grow: the producer alone writes ``write``, the consumer alone writes ``read``. An aligned
int64 store is atomic on x86-64 and AArch64, and the data is stored before the counter that
publishes it, so the other side never sees a frame before it is complete (x86 keeps stores in order;
this is why the counters are plain int64 in the same shared block).
"""

from __future__ import annotations

from multiprocessing import shared_memory

import numpy as np

_WRITE, _READ = 0, 1
_HEADER_BYTES = 64  # two counters, padded to a cache line


class _SharedBlock:
    """A shared-memory block this process created (and frees) or attached to by name."""

    def __init__(self, size: int, name: str | None) -> None:
        self._owner = name is None
        self._shm = shared_memory.SharedMemory(name=name, create=name is None, size=size)
        self.name = self._shm.name

    @property
    def buffer(self) -> memoryview:
        """The block's bytes, for arrays laid over them."""
        return self._shm.buf

    def close(self) -> None:
        """Detach; the creating side also frees the memory."""
        self._release_views()
        self._shm.close()
        if self._owner:
            try:
                self._shm.unlink()
            except FileNotFoundError:
                pass

    def _release_views(self) -> None:
        """Drop the arrays that view the block (the block cannot close while they live)."""


class SharedRing(_SharedBlock):
    """Frames of ``channels`` float32 samples in a shared-memory ring.

    Parameters
    ----------
    capacity : int
        Frames the ring holds.
    channels : int
        Samples per frame.
    name : str, optional
        Attach to an existing ring made by another process (its :attr:`name`); by default a new
        one is created.
    """

    def __init__(self, capacity: int, channels: int, name: str | None = None) -> None:
        self.capacity = int(capacity)
        self.channels = int(channels)
        super().__init__(_HEADER_BYTES + 4 * self.capacity * max(self.channels, 1), name)
        buf = self._shm.buf
        self._pos = np.ndarray((2,), dtype=np.int64, buffer=buf, offset=0)
        self._data = np.ndarray(
            (self.capacity, max(self.channels, 1)),
            dtype=np.float32,
            buffer=buf,
            offset=_HEADER_BYTES,
        )
        if self._owner:
            self._pos[:] = 0
            self._data[:] = 0.0

    @property
    def frames(self) -> np.ndarray:
        """The ring's frames, (capacity, channels) float32, for a compiled reader or writer
        (:mod:`caminos.engine.live.ring_kernels`): the same steps as :meth:`write` and
        :meth:`read_into`."""
        return self._data

    @property
    def positions(self) -> np.ndarray:
        """``[frames ever written, frames ever read]``, int64, beside :attr:`frames`."""
        return self._pos

    def available(self) -> int:
        """Frames written and not yet read."""
        return int(self._pos[_WRITE] - self._pos[_READ])

    def free(self) -> int:
        """Frames that can be written without overwriting unread ones."""
        return self.capacity - self.available()

    def write(self, block: np.ndarray) -> int:
        """Append up to ``len(block)`` frames (shape (n, channels)); returns how many fit."""
        write = int(self._pos[_WRITE])
        n = min(len(block), self.capacity - (write - int(self._pos[_READ])))
        if n <= 0:
            return 0
        start = write % self.capacity
        first = min(n, self.capacity - start)
        self._data[start : start + first] = block[:first]
        if first < n:
            self._data[: n - first] = block[first:n]
        self._pos[_WRITE] = write + n
        return n

    def read_into(self, out: np.ndarray) -> int:
        """Move up to ``len(out)`` frames into ``out`` (shape (n, channels)); returns how many."""
        read = int(self._pos[_READ])
        n = min(len(out), int(self._pos[_WRITE]) - read)
        if n <= 0:
            return 0
        start = read % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._data[start : start + first]
        if first < n:
            out[first:n] = self._data[: n - first]
        self._pos[_READ] = read + n
        return n

    def _release_views(self) -> None:
        self._pos = self._data = None  # type: ignore[assignment]


class SharedArray(_SharedBlock):
    """A float64 array in shared memory, written by one process and read by others (the hop
    clock's recent tick durations: the DSP process writes one a hop, the status readers take
    their percentiles where they run).

    Parameters
    ----------
    length : int
        Values held.
    name : str, optional
        Attach to an array another process made (its :attr:`name`); by default a new one, zeroed.
    """

    def __init__(self, length: int, name: str | None = None) -> None:
        super().__init__(8 * max(int(length), 1), name)
        self.values = np.ndarray((int(length),), dtype=np.float64, buffer=self._shm.buf)
        if self._owner:
            self.values[:] = 0.0

    def _release_views(self) -> None:
        self.values = None  # type: ignore[assignment]


class SharedCounters(_SharedBlock):
    """A few float64 counters in shared memory, each written by one side only (statistics)."""

    def __init__(self, names: tuple[str, ...], name: str | None = None) -> None:
        self.names = names
        self._index = {n: i for i, n in enumerate(names)}
        super().__init__(8 * max(len(names), 1), name)
        self.values = np.ndarray((len(names),), dtype=np.float64, buffer=self._shm.buf)
        if self._owner:
            self.values[:] = 0.0

    def index(self, key: str) -> int:
        """Position of a counter, to write ``values[i]`` without a dictionary look-up."""
        return self._index[key]

    def __getitem__(self, key: str) -> float:
        return float(self.values[self._index[key]])

    def __setitem__(self, key: str, value: float) -> None:
        self.values[self._index[key]] = value

    def as_dict(self) -> dict[str, float]:
        """Every counter by name."""
        return {n: float(self.values[i]) for i, n in enumerate(self.names)}

    def _release_views(self) -> None:
        self.values = None  # type: ignore[assignment]
