"""A bounded single-producer, single-consumer ring of frames for the voice.

The voice's worker (producer: a thread offline, its own process live) writes rows of synthesis
parameters or magnitude frames; the engine's DSP thread (consumer) reads them one hop at a time
without locks: the producer only advances :attr:`FrameRing.written`, the consumer only
:attr:`FrameRing.read`. Both counters, and the generation the consumer currently plays, are int64
cells of one state array, in shared memory when the worker is another process (an aligned int64
store is atomic on x86-64 and AArch64, and rows are stored before the counter that publishes
them, as in :mod:`caminos.engine.core.ring`). Each row carries the generation of the request that
made it, so
rows of an interrupted utterance are skipped, never played.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from caminos.engine.core.ring import _SharedBlock

# Cells of the state array.
WRITTEN, READ, GENERATION, DONE = 0, 1, 2, 3
_STATE_CELLS = 8  # one cache line of int64
PRODUCER_POLL_S = 0.002  # how often a producer in another process looks for room


class FrameRing:
    """Ring of ``capacity`` rows of ``width`` float64 values.

    Parameters
    ----------
    capacity : int
        Rows held at most (the producer waits when it is full).
    width : int
        Values per row.
    shared : bool
        Keep the rows and counters in a shared-memory block (:attr:`name`) that a worker process
        attaches to with ``name``; False keeps them in this process (a worker thread).
    name : str, optional
        Attach to the shared ring another process made.

    Attributes
    ----------
    state : ndarray, shape (8,), int64
        ``state[WRITTEN]`` rows ever written (producer), ``state[READ]`` rows ever released
        (consumer), ``state[GENERATION]`` the request the consumer plays now, ``state[DONE]``
        the last request the producer finished or abandoned.
    """

    def __init__(
        self, capacity: int, width: int, shared: bool = False, name: str | None = None
    ) -> None:
        self.capacity = int(capacity)
        self.width = int(width)
        self._block: _SharedBlock | None = None
        if shared or name is not None:
            size = 8 * (_STATE_CELLS + self.capacity + self.capacity * self.width)
            self._block = _SharedBlock(size, name)
            buf = self._block.buffer
            self.state = np.ndarray((_STATE_CELLS,), np.int64, buf, 0)
            self.generation = np.ndarray((self.capacity,), np.int64, buf, 8 * _STATE_CELLS)
            self.rows = np.ndarray(
                (self.capacity, self.width), np.float64, buf, 8 * (_STATE_CELLS + self.capacity)
            )
            if name is None:
                self.state[:] = 0
                self.generation[:] = 0
        else:
            self.state = np.zeros(_STATE_CELLS, dtype=np.int64)
            self.generation = np.zeros(self.capacity, dtype=np.int64)
            self.rows = np.zeros((self.capacity, self.width))
        self.changed = threading.Condition()  # wakes waiters of this process (threads only)

    @property
    def name(self) -> str | None:
        """The shared block's name (None for a ring of this process only)."""
        return self._block.name if self._block is not None else None

    @property
    def written(self) -> int:
        """Rows ever written (producer)."""
        return int(self.state[WRITTEN])

    @property
    def read(self) -> int:
        """Rows ever released (consumer)."""
        return int(self.state[READ])

    def available(self) -> int:
        """Rows written and not yet released."""
        return self.written - self.read

    def wake_producer(self) -> None:
        """Consumer, after releasing rows: wake a producer thread of this process waiting for
        room (never waiting for the lock; a producer in another process polls)."""
        if self._block is None and self.changed.acquire(False):
            try:
                self.changed.notify_all()
            finally:
                self.changed.release()

    def push(self, rows: np.ndarray, generation: int, still_wanted) -> bool:
        """Producer: append ``rows``, waiting for space; stop early when ``still_wanted()`` fails.

        Returns True when every row was written.
        """
        done = 0
        while done < len(rows):
            while self.written - self.read >= self.capacity:
                if not still_wanted():
                    return False
                if self._block is None:
                    with self.changed:
                        if self.written - self.read >= self.capacity:
                            self.changed.wait(0.01)
                else:  # the consumer is in another process: poll
                    time.sleep(PRODUCER_POLL_S)
            if not still_wanted():
                return False
            written = self.written
            count = min(self.capacity - (written - self.read), len(rows) - done)
            for i in range(count):
                slot = (written + i) % self.capacity
                self.rows[slot] = rows[done + i]
                self.generation[slot] = generation
            self.state[WRITTEN] = written + count  # after the rows: publishes them
            done += count
            if self._block is None:
                with self.changed:
                    self.changed.notify_all()
        return True

    def clear(self) -> None:
        """Forget every row (consumer; rows written meanwhile belong to an older generation)."""
        self.state[READ] = self.written

    def close(self) -> None:
        """Detach from the shared block (the creating side frees it)."""
        if self._block is not None:
            self.state = self.generation = self.rows = None  # type: ignore[assignment]
            self._block.close()
            self._block = None
