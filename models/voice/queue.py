"""A bounded single-producer, single-consumer ring of frames for the voice.

The voice's worker thread (producer) writes rows of synthesis parameters or magnitude frames;
the engine's DSP thread (consumer) reads them one hop at a time without locks: the producer only
advances :attr:`FrameRing.written`, the consumer only :attr:`FrameRing.read`, and each is a
plain int whose assignment is atomic under the GIL. Each row carries the generation of the
request that made it, so rows of an interrupted utterance are skipped, never played.
"""

from __future__ import annotations

import threading

import numpy as np


class FrameRing:
    """Ring of ``capacity`` rows of ``width`` float64 values.

    Parameters
    ----------
    capacity : int
        Rows held at most (the producer waits when it is full).
    width : int
        Values per row.
    """

    def __init__(self, capacity: int, width: int) -> None:
        self.capacity = int(capacity)
        self.rows = np.zeros((self.capacity, width))
        self.generation = np.zeros(self.capacity, dtype=np.int64)
        self.written = 0  # rows ever written (producer)
        self.read = 0  # rows ever released (consumer)
        self.changed = threading.Condition()

    def available(self) -> int:
        """Rows written and not yet released."""
        return self.written - self.read

    def row(self, index: int) -> np.ndarray:
        """Row at absolute index ``index`` (a view)."""
        return self.rows[index % self.capacity]

    def generation_of(self, index: int) -> int:
        return int(self.generation[index % self.capacity])

    def release(self, upto: int) -> None:
        """Consumer: rows before absolute index ``upto`` may be overwritten."""
        if upto > self.read:
            self.read = min(upto, self.written)
            if self.changed.acquire(blocking=False):  # never wait on the DSP thread
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
            with self.changed:
                while self.written - self.read >= self.capacity:
                    if not still_wanted():
                        return False
                    self.changed.wait(0.01)
            if not still_wanted():
                return False
            room = self.capacity - (self.written - self.read)
            count = min(room, len(rows) - done)
            for i in range(count):
                slot = (self.written + i) % self.capacity
                self.rows[slot] = rows[done + i]
                self.generation[slot] = generation
            self.written += count
            done += count
            with self.changed:
                self.changed.notify_all()
        return True

    def clear(self) -> None:
        """Forget every row (only when the producer is idle)."""
        self.read = self.written
