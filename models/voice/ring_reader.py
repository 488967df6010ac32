"""The voice's consumer side of the frame ring, one hop at a time, in compiled calls.

:class:`~caminos.models.voice.stream.VoiceStream` reads one row of its
:class:`~caminos.models.voice.queue.FrameRing` every hop on the hop clock. The bookkeeping
(skipping rows of an interrupted request, waiting for the row an interpolation needs, releasing
what was read) works on the ring's counters, numbers far over 256 that Python would make an
object for each time; here it runs in two kernels on the ring's own arrays, and the position is
a float64 cell, so a hop allocates nothing.

Only the consumer imports this module (and numba with it): a worker process that phrases rows
never does.
"""

from __future__ import annotations

import numpy as np

from caminos.engine.dsp.compiled import hop_kernel
from caminos.models.voice.queue import DONE, GENERATION, READ, WRITTEN, FrameRing

# What RingReader.take found.
SILENT, WAITING, TAKEN = 0, 1, 2
_SKIPPED = 3  # silent, and the rows of older requests released from a full ring


class RingReader:
    """The consumer's position in a ring and its two steps per hop.

    Parameters
    ----------
    ring : FrameRing
        Its ``state``, ``generation`` and ``rows`` arrays are read (and ``state[READ]`` written)
        by the kernels.
    """

    def __init__(self, ring: FrameRing) -> None:
        self.ring = ring
        self.cursor = np.zeros(1)  # the position, in rows (fractional)
        _warm_up(ring.width)

    @property
    def position(self) -> float:
        """The position in rows (fractional)."""
        return self.cursor.item(0)

    @position.setter
    def position(self, value: float) -> None:
        self.cursor[0] = value

    def take(self, requested: int, pending: bool, row: np.ndarray, after: np.ndarray) -> int:
        """The row at the position, of the request now playing (``state[GENERATION]``), into
        ``row``; between two rows, interpolated (``after`` is scratch).

        Rows of an older request are skipped (the position moves past them). Returns
        :data:`TAKEN`; :data:`SILENT` when nothing of the request is written (the position and
        the read counter moved to what was written); :data:`WAITING` when the next row the
        interpolation needs is still to come while the producer works on the request:
        ``requested`` is the last request sent to a worker process, whose ``DONE`` cell tells;
        -1 for a worker thread, whose state ``pending`` gives.
        """
        ring = self.ring
        found = _take(
            ring.state, ring.generation, ring.rows, self.cursor, requested, pending, row, after
        )
        if found == _SKIPPED:
            self._released()
            return SILENT
        return found

    def advance(self, rows: float) -> None:
        """Move the position on by ``rows`` and release the rows before it (at most those
        written); a producer thread waiting for room in a full ring is woken."""
        if _advance(self.ring.state, self.ring.capacity, self.cursor, rows):
            self._released()

    def plays(self, generation: int) -> bool:
        """Whether ``generation`` is the request now playing (``state[GENERATION]``)."""
        return _plays(self.ring.state, generation)

    def holds_request(self) -> bool:
        """Whether a row of the request now playing is written from the position on."""
        return _holds_request(self.ring.state, self.ring.generation, self.cursor)

    def short_of(self, rows: int) -> bool:
        """Whether fewer than ``rows`` rows are written from the position on."""
        return _short_of(self.ring.state, self.cursor, rows)

    def _released(self) -> None:
        """Rows of a full ring were released: wake its producer, which waits for room. Only
        then: a notification makes objects."""
        self.ring.wake_producer()


def _warm_up(width: int) -> None:
    """Compile (or load) every kernel here on a ring of its own, so the first sound on the hop
    clock compiles nothing."""
    ring, cursor, row = FrameRing(2, width), np.zeros(1), np.zeros(width)
    _take(ring.state, ring.generation, ring.rows, cursor, -1, False, row, np.zeros(width))
    _advance(ring.state, ring.capacity, cursor, 0.0)
    _short_of(ring.state, cursor, 2)
    _plays(ring.state, 0)
    _holds_request(ring.state, ring.generation, cursor)


@hop_kernel
def _first_of_request(generations: np.ndarray, generation: int, index: int, written: int) -> int:
    """The first row from ``index`` on, of the ``written``, that belongs to request
    ``generation``; -1 when none does."""
    capacity = generations.shape[0]
    while index < written:
        if generations[index % capacity] == generation:
            return index
        index += 1
    return -1


@hop_kernel
def _take(
    state: np.ndarray,
    generations: np.ndarray,
    rows: np.ndarray,
    cursor: np.ndarray,
    requested: int,
    pending: bool,
    row: np.ndarray,
    after: np.ndarray,
) -> int:
    """:meth:`RingReader.take` on the ring's arrays."""
    capacity, generation = generations.shape[0], state[GENERATION]
    index, written = int(cursor[0]), state[WRITTEN]
    current = _first_of_request(generations, generation, index, written)
    if current < 0:  # nothing of this request: what is there is skipped
        if index < written:
            cursor[0] = float(written)
            read = state[READ]
            if written > read:
                state[READ] = written
                if written - read >= capacity:
                    return _SKIPPED
        return SILENT
    if current != index:  # rows of an interrupted request: skip them
        cursor[0] = float(current)
        index = current
    fraction = cursor[0] - index
    following = index + 1
    has_following = following < state[WRITTEN] and generations[following % capacity] == generation
    if fraction > 0.0 and not has_following:
        working = pending if requested < 0 else requested == generation and state[DONE] < requested
        if working:  # the worker has not written the next row yet
            return WAITING
        fraction = 0.0
    slot = index % capacity
    if fraction > 0.0:
        later = following % capacity
        for j in range(row.shape[0]):  # numpy's three steps, to the bit
            row[j] = rows[slot, j] * (1.0 - fraction)
            after[j] = rows[later, j] * fraction
            row[j] += after[j]
    else:
        for j in range(row.shape[0]):
            row[j] = rows[slot, j]
    return TAKEN


@hop_kernel
def _advance(state: np.ndarray, capacity: int, cursor: np.ndarray, rows: float) -> bool:
    """:meth:`RingReader.advance`; True when rows were released from a full ring."""
    cursor[0] += rows
    written, read = state[WRITTEN], state[READ]
    upto = min(int(cursor[0]), written)
    if upto > read:
        state[READ] = min(upto, state[WRITTEN])
        return written - read >= capacity
    return False


@hop_kernel
def _short_of(state: np.ndarray, cursor: np.ndarray, rows: int) -> bool:
    """:meth:`RingReader.short_of`."""
    return state[WRITTEN] < int(cursor[0]) + rows


@hop_kernel
def _plays(state: np.ndarray, generation: int) -> bool:
    """:meth:`RingReader.plays`."""
    return state[GENERATION] == generation


@hop_kernel
def _holds_request(state: np.ndarray, generations: np.ndarray, cursor: np.ndarray) -> bool:
    """:meth:`RingReader.holds_request`."""
    index = int(cursor[0])
    return _first_of_request(generations, state[GENERATION], index, state[WRITTEN]) >= 0
