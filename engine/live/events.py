"""Events between the control process and the hop clock: one pipe, bytes, no waiting.

The control process's replica applies each event and forwards it (:class:`ForwardingQueue`); the
DSP process takes what has arrived at each hop without blocking (:class:`EventReceiver`) and
applies it at its hop. An event travels as one pickle of at most :data:`PIPE_ATOMIC_BYTES`
(:func:`encode_event`, :func:`decode_event`); large arrays in a payload (a sound file's samples),
and an event larger than that, travel through a file in ``/dev/shm`` that the receiving side maps
and unlinks, so the hop clock never unpickles them.
"""

from __future__ import annotations

import io
import itertools
import math
import mmap
import os
import pickle
import queue
import select
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from caminos.engine.core.controls import ControlQueue
from caminos.engine.core.errors import ControlError
from caminos.engine.core.ring import SharedCounters

# Controls prepared and applied only where the hop clock runs: recording needs its output.
LOCAL_CONTROLS = frozenset({"/engine/record", "/engine/record/stop"})
SHARE_BYTES = 1 << 16  # arrays this large or larger travel through /dev/shm, not the pipe
# A pipe write up to PIPE_BUF bytes arrives whole, so the hop clock, which reads once poll() says
# something is there, never waits for the rest; a longer event goes through a /dev/shm file.
PIPE_ATOMIC_BYTES = 4096
_IN_FILE = b"@"  # an event in a file: this, then the file's name (a pickle starts with \x80)
SHM_DIR = Path("/dev/shm")
_names = itertools.count()


def _share_array(array: np.ndarray) -> tuple[str, str, tuple[int, ...]]:
    """Copy ``array`` into a new file under ``/dev/shm``; returns what :func:`_attach_array`
    needs. The receiving side unlinks the file once it has mapped it."""
    name = f"caminos-{os.getpid()}-{next(_names)}-{time.monotonic_ns()}"
    array = np.ascontiguousarray(array)
    fd = os.open(SHM_DIR / name, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.ftruncate(fd, array.nbytes)
        with mmap.mmap(fd, array.nbytes) as block:
            view = np.frombuffer(block, dtype=array.dtype, count=array.size)
            view[:] = array.reshape(-1)
            del view
    finally:
        os.close(fd)
    return name, array.dtype.str, array.shape


def _attach_array(name: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """The array :func:`_share_array` wrote, mapped without a copy; its file is unlinked."""
    path = SHM_DIR / name
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        block = mmap.mmap(fd, size)
    finally:
        os.close(fd)
        os.unlink(path)
    return np.frombuffer(block, dtype=np.dtype(dtype), count=math.prod(shape)).reshape(shape)


class _Pickler(pickle.Pickler):
    """Pickles an event; large arrays go to shared memory (their names are kept in ``shared``)."""

    def __init__(self, file) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared: list[str] = []

    def reducer_override(self, obj: Any) -> Any:
        if (
            isinstance(obj, np.ndarray)
            and obj.nbytes >= SHARE_BYTES
            and obj.dtype.kind in "biufc"
            and SHM_DIR.is_dir()
        ):
            args = _share_array(obj)
            self.shared.append(args[0])
            return _attach_array, args
        return NotImplemented


def encode_event(
    hop: int, address: str, args: tuple, payload: Any, local: bool
) -> tuple[bytes, list[str]]:
    """One event as bytes for the pipe (at most :data:`PIPE_ATOMIC_BYTES`), and the
    shared-memory files it refers to."""
    buffer = io.BytesIO()
    pickler = _Pickler(buffer)
    pickler.dump((int(hop), address, tuple(args), payload, bool(local)))
    data = buffer.getvalue()
    if len(data) > PIPE_ATOMIC_BYTES and SHM_DIR.is_dir():
        name, _, _ = _share_array(np.frombuffer(data, dtype=np.uint8))
        return _IN_FILE + name.encode(), pickler.shared + [name]
    return data, pickler.shared


def decode_event(data: bytes) -> tuple[int, str, tuple, Any, bool]:
    """The event :func:`encode_event` made: ``(hop, address, args, payload, local)``."""
    if data[:1] == _IN_FILE:
        path = SHM_DIR / data[1:].decode()
        try:
            data = path.read_bytes()
        finally:
            path.unlink()
    return pickle.loads(data)


def _unlink(names: list[str]) -> None:
    for name in names:
        try:
            os.unlink(SHM_DIR / name)
        except OSError:
            pass


EVENTS_PER_HOP = 16  # at most this many events are taken from the pipe before a hop


class EventReceiver:
    """The hop clock's end of the event pipe: takes what arrived, never waits.

    Parameters
    ----------
    connection : multiprocessing.connection.Connection
        The read end of the pipe the control process writes.
    engine : Engine
        Where events go. A local event (``/engine/record``, whose ``prepare`` opens files: 17 ms
        once in a flood) is posted by a thread of this process, started here, so the hop clock
        only ever unpickles.
    """

    def __init__(self, connection, engine: Any) -> None:
        self.connection = connection
        self.engine = engine
        # Whether an event waits, asked of the kernel each hop: Connection.poll() builds a
        # selector and its lists every call (about 1.2 KB a hop), a poll object made once nothing.
        self._waiting = select.poll()
        self._waiting.register(connection.fileno(), select.POLLIN)
        self._local: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(
            target=self._post_local, name="caminos-local-controls", daemon=True
        ).start()

    def receive(self, limit: int = EVENTS_PER_HOP) -> int:
        """Queue up to ``limit`` events that have arrived (call once per hop, before
        :meth:`~caminos.engine.clock.engine.Engine.tick`); returns how many. Under a flood the rest
        wait in
        the pipe for the next hops, so a burst of events never makes one hop late."""
        connection, engine = self.connection, self.engine
        count = 0
        # (a closed end reads as waiting, and its recv_bytes ends the loop)
        while count < limit and connection is not None and self._waiting.poll(0):
            try:
                hop, address, args, payload, local = decode_event(connection.recv_bytes())
            except (EOFError, OSError):  # the control process ended
                self.connection = None
                break
            count += 1
            if address not in engine.registry:
                engine.count_error(f"{address}: not available in this engine")
            elif local:
                self._local.put((hop, address, args))
            else:
                engine.queue.post(address, args, hop, payload)
        return count

    def drain(self) -> int:
        """Read and drop what is left in the pipe (at shutdown), so the ``/dev/shm`` files of
        events never applied are unlinked too; returns how many."""
        count = 0
        while self.connection is not None:
            try:
                if not self.connection.poll():
                    break
                decode_event(self.connection.recv_bytes())  # unlinks the event's files
            except (EOFError, OSError):
                break
            count += 1
        return count

    def _post_local(self) -> None:
        while True:
            hop, address, args = self._local.get()
            try:
                self.engine.post(address, *args, hop=hop)
            except ControlError:
                pass  # counted by post


class ForwardingQueue(ControlQueue):
    """The replica's queue: each event is applied to the replica and sent to the hop clock.

    Applying first is what lets a control that names something missing be refused with
    ``/error`` before anything reaches the hop clock; :attr:`lock` keeps the replica's order and
    the pipe's the same when several clients post at once (the hop clock never takes it), and
    lets a reader (the control page's snapshots) see the replica between two events.

    Parameters
    ----------
    registry : ControlRegistry
        The replica's controls, which apply each event.
    connection : multiprocessing connection
        The pipe to the hop clock (:class:`EventReceiver` at its other end).
    counters : SharedCounters, optional
        Where ``events_sent`` is counted.

    Attributes
    ----------
    after_apply : list of callable
        Called without arguments, under the lock, after each event is applied (the navigator's
        :meth:`~caminos.engine.control.navigation.Navigator.after_event`).
    """

    def __init__(self, registry: Any, connection, counters: SharedCounters | None = None) -> None:
        super().__init__()
        self.registry = registry
        self.connection = connection
        self.counters = counters
        self.lock = threading.Lock()
        self.after_apply: list = []

    def post(self, address: str, args: tuple, hop: int = -1, payload: Any = None) -> None:
        local = address in LOCAL_CONTROLS
        data, shared = encode_event(hop, address, args, payload, local)
        control = self.registry[address]
        with self.lock:
            try:
                if control.prepare is not None:
                    control.apply(payload)
                else:
                    control.apply(*args)
            except Exception:  # a refusal (VoiceError and kin): Engine.post names and counts it
                _unlink(shared)
                raise
            for after in self.after_apply:
                after()
            try:
                self.connection.send_bytes(data)
            except (OSError, ValueError) as exc:
                _unlink(shared)
                raise ControlError(f"{address}: the engine is not running ({exc})") from None
            if self.counters is not None:
                self.counters.values[self.counters.index("events_sent")] += 1
