"""The control process: OSC, validation, ``/error`` replies, queries and slow preparation, live.

Between the OSC clients and the hop clock (:mod:`caminos.engine.live.dsp_process`).
Everything a
control message costs in Python (parsing, pattern matching, validation, replies, reading a sound
file, encoding a landmark, rendering ``/landmark/voice``) runs here, in a process of its own, so
none of it holds the GIL that :meth:`caminos.engine.clock.engine.Engine.tick` needs. The hop clock
receives
compact, already-validated events through a pipe it reads without blocking at each hop
(:class:`EventReceiver`) and applies them at their hop, as before.

To validate and prepare as the engine would, this process keeps a *replica*: an engine built from
the same configuration with the same controls, never ticked, to which every event is applied as it
is forwarded. A control whose ``apply`` refuses (a path, landmark or scene that does not exist, an
empty ``/voice/say``) is answered with ``/error`` here and never reaches the hop clock. Queries
read the replica for values set by controls, and what the DSP and audio processes publish in
shared memory (:class:`~caminos.engine.core.ring.SharedCounters`) for what only they know: the hop,
tick times,
positions, xruns. Large arrays in a payload (a sound file's samples) travel through a file in
``/dev/shm`` that the DSP process maps and unlinks, so the hop clock never unpickles them.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import mmap
import os
import pickle
import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from caminos.engine.core.config import Config
from caminos.engine.core.controls import ControlQueue
from caminos.engine.core.errors import ControlError
from caminos.engine.core.ring import SharedCounters
from caminos.engine.live.shared import (AUDIO_COUNTERS, CONTROL_FLAGS, DSP_COUNTERS,
                                        EXIT_FAILED, FRONT_COUNTERS, report_failure)

# Counters the control process writes (the supervisor and queries read them).
# Controls prepared and applied only where the hop clock runs: recording needs its output.
LOCAL_CONTROLS = frozenset({"/engine/record", "/engine/record/stop"})
SHARE_BYTES = 1 << 16  # arrays this large or larger travel through /dev/shm, not the pipe
# A pipe write up to PIPE_BUF bytes arrives whole, so the hop clock, which reads once poll() says
# something is there, never waits for the rest; a longer event goes through a /dev/shm file.
PIPE_ATOMIC_BYTES = 4096
_IN_FILE = b"@"  # an event in a file: this, then the file's name (a pickle starts with \x80)
SHM_DIR = Path("/dev/shm")
_names = itertools.count()


# ------------------------------------------------------------------------------- transport
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
        if (isinstance(obj, np.ndarray) and obj.nbytes >= SHARE_BYTES and obj.dtype.kind in "biufc"
                and SHM_DIR.is_dir()):
            args = _share_array(obj)
            self.shared.append(args[0])
            return _attach_array, args
        return NotImplemented


def encode_event(hop: int, address: str, args: tuple, payload: Any,
                 local: bool) -> tuple[bytes, list[str]]:
    """One event as bytes for the pipe (at most :data:`PIPE_ATOMIC_BYTES`), and the
    shared-memory files it refers to."""
    import io

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
        self._local: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._post_local, name="caminos-local-controls",
                         daemon=True).start()

    def receive(self, limit: int = EVENTS_PER_HOP) -> int:
        """Queue up to ``limit`` events that have arrived (call once per hop, before
        :meth:`~caminos.engine.clock.engine.Engine.tick`); returns how many. Under a flood the rest
        wait in
        the pipe for the next hops, so a burst of events never makes one hop late."""
        connection, engine = self.connection, self.engine
        count = 0
        while count < limit and connection is not None and connection.poll():
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
    """

    def __init__(self, engine: Any, connection, counters: SharedCounters | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.connection = connection
        self.counters = counters
        self.lock = threading.Lock()
        self.after_apply: list = []  # called, under the lock, after each event is applied

    def post(self, address: str, args: tuple, hop: int = -1, payload: Any = None) -> None:
        local = address in LOCAL_CONTROLS
        data, shared = encode_event(hop, address, args, payload, local)
        control = self.engine.registry[address]
        with self.lock:
            try:
                if control.prepare is not None:
                    control.apply(payload)
                else:
                    control.apply(*args)
            except ControlError:
                _unlink(shared)
                raise
            except Exception as exc:  # VoiceError and other refusals of a control's apply
                _unlink(shared)
                raise ControlError(f"{address}: {exc}") from None
            # the replica plays no sound: a scene's crossfade lands on its values at once
            for hook in self.engine.hop_hooks:
                if getattr(hook, "__name__", "") == "on_hop" and hasattr(hook.__self__, "slots"):
                    hook(2**62)
            for after in self.after_apply:
                after()
            try:
                self.connection.send_bytes(data)
            except (OSError, ValueError) as exc:
                _unlink(shared)
                raise ControlError(f"{address}: the engine is not running ({exc})") from None
            if self.counters is not None:
                self.counters.values[self.counters.index("events_sent")] += 1


# ---------------------------------------------------------------------------- the process
@dataclass(frozen=True)
class ControlSetup:
    """What the control process attaches to: configuration, the shared blocks' names, whether
    the engine has a voice, and what it serves (OSC, a score to play, the control page with the
    token a page off loopback must present)."""

    config: Config
    channels: int
    dsp_counters: str
    audio_counters: str
    flags: str
    front_counters: str
    voice: bool
    osc: bool = True
    score: str | None = None
    loop_score: bool = False
    spectrum: str = ""
    web: bool = False
    web_token: str = ""


SCORE_LEAD_SECONDS = 1.0  # a score's events are sent this far ahead of the hop clock
FEED_SECONDS = 0.05  # how often the control process sends the next ones


class ScorePlayer:
    """Plays a score live: its events are posted to the replica with their hops, up to
    :data:`SCORE_LEAD_SECONDS` ahead of the hop the DSP process has reached, so each is queued
    on the hop clock before its hop and lands on it exactly, as an offline render does.

    Parameters
    ----------
    replica : Engine
        The control process's replica (its posts go to the hop clock).
    path : path
        The score (:mod:`caminos.engine.control.score`).
    loop : bool
        Start again after the score's end (its ``end`` line, or two seconds after its last
        event), forever.
    reached : callable
        Returns the hop the DSP process has computed up to.

    Raises
    ------
    ControlError
        A bad score, or one recorded at another sample rate or hop size (file and line named).
    """

    def __init__(self, replica: Any, path: str, loop: bool, reached) -> None:
        from caminos.engine.control.score import TAIL_SECONDS, load_score

        self.replica = replica
        self.score = load_score(path, replica)
        self.path = path
        self.loop = loop
        self.reached = reached
        self.length = self.score.n_hops(round(TAIL_SECONDS * replica.sample_rate / replica.hop))
        self.lead = round(SCORE_LEAD_SECONDS * replica.sample_rate / replica.hop)
        self.offset = 0
        self.index = 0

    def feed(self) -> None:
        """Post the events due up to the lead ahead of the hop clock."""
        events = self.score.events
        horizon = int(self.reached()) + self.lead
        while events:
            if self.index == len(events):
                if not self.loop:
                    return
                self.offset += self.length
                self.index = 0
            event = events[self.index]
            hop = self.offset + event.hop
            if hop > horizon:
                return
            self.index += 1
            try:
                self.replica.post(event.address, *event.args, hop=hop)
            except ControlError:
                pass  # counted in control_errors; the rest of the score plays on


def _record_gestures_in(replica: Any, navigator: Any, hop) -> None:
    """Let the never-ticked replica record gestures as the hop clock does, so a path recorded
    with ``/path/record`` exists on both sides and ``/path/play`` of it is not refused.

    The hop clock records one point per hop in which the gesture changed; the replica records one
    after each event it applies while recording (at the hop the DSP process has reached), and the
    gesture where it is when recording stops, so its path is never empty. The two paths have the
    same name and shape; only the hop clock's is played.
    """
    controls = replica.registry._controls
    controls["/path/record/stop"] = dataclasses.replace(
        controls["/path/record/stop"], apply=lambda: navigator.stop_recording_at(hop() + 1))
    replica.queue.after_apply.append(lambda: navigator.record_event(hop()))


def control_engine(config: Config, channels: int, voice: bool):
    """An engine with every control a live run accepts: the surface's (paths, scenes,
    recording, queries) and, with ``voice``, the voice's, without a voice process of its own.

    The control process's replica (:func:`build_replica`), and what ``caminos play --score``
    checks the score against before any process starts
    (:func:`caminos.engine.live.preflight.check_play`), so both refuse the same lines.

    Returns
    -------
    engine : Engine
        Built and never ticked.
    surface : Surface
        What :func:`caminos.engine.control.surface.attach` registered on it.
    """
    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.surface import attach

    engine = Engine(config, channels=channels, startup_events=False, voice=False)
    surface = attach(engine)
    if voice:
        from caminos.models.voice.stream import VoiceSettings, voice_controls

        for control in voice_controls(VoiceSettings(config, seed=config.engine.seed)):
            engine.registry.add(control)
    return engine, surface


def build_replica(setup: ControlSetup, connection, front: SharedCounters | None,
                  dsp: SharedCounters, audio: SharedCounters):
    """The replica engine with every control, whose posts go to the hop clock.

    Returns
    -------
    Engine
        Never ticked; its ``status()`` merges what the DSP and audio processes publish, its
        ``hop_for_time`` reads the DSP's clock.
    """
    from caminos.engine.control.patch_files import check_name

    config = setup.config
    replica, surface = control_engine(config, setup.channels, setup.voice)
    # The engine's start-up file, as the DSP process opened it (applied here, not forwarded);
    # a score holds its own start-up events.
    if setup.score is None:
        replica.post_startup_events()
        for event in replica.queue.due(0):
            replica._apply(event)
    controls = replica.registry._controls
    controls["/engine/record"] = dataclasses.replace(
        controls["/engine/record"], prepare=None,
        apply=lambda name: check_name("/engine/record", name))
    controls["/engine/record/stop"] = dataclasses.replace(controls["/engine/record/stop"],
                                                          apply=lambda: None)
    controls["/source/file/pos"] = dataclasses.replace(
        controls["/source/file/pos"], get=lambda: (dsp["file_seconds"],))
    controls["/path/pos"] = dataclasses.replace(controls["/path/pos"],
                                                get=lambda: (dsp["path_position"],))
    replica.queue = ForwardingQueue(replica, connection, front)
    _record_gestures_in(replica, surface.navigator, lambda: int(dsp["hops"]))
    sample_rate, hop = replica.sample_rate, replica.hop

    def hop_for_time(wall_time: float) -> int:
        origin = dsp["clock_origin"]
        if origin == 0.0:
            return -1
        return max(int(math.floor((wall_time - origin) * sample_rate / hop)), -1)

    own_status = replica.status

    def status() -> dict[str, Any]:
        merged = own_status()
        hops = int(dsp["hops"])
        merged.update(
            hop=hops, seconds=hops * hop / sample_rate, tick_ms_p50=dsp["tick_ms_p50"],
            tick_ms_p99=dsp["tick_ms_p99"], tick_ms_max=dsp["tick_ms_max"],
            cpu_load=dsp["cpu_load"], bad_model_frames=int(dsp["bad_model_frames"]),
            bad_source_frames=int(dsp["bad_source_frames"]),
            control_errors=int(dsp["control_errors"]) + replica.counters["control_errors"],
            events_applied=int(dsp["events_applied"]), nonfinite_out=int(dsp["nonfinite"]),
            xruns=int(audio["xruns"]), underruns=int(audio["underruns"]),
            restarts=int(audio["restarts"]), path_position=dsp["path_position"],
            path_playing=int(dsp["path_playing"]), dsp_pid=int(dsp["pid"]),
            osc_pid=os.getpid(), voice_pid=int(dsp["voice_pid"]),
            clock_origin=repr(dsp["clock_origin"]))  # text: an OSC float has 7 digits
        return merged

    replica.hop_for_time = hop_for_time
    replica.status = status
    replica.surface = surface
    return replica


def control_main(setup: ControlSetup, connection, parent: int) -> None:
    """Body of the control process: the replica and the OSC server until told to stop."""

    front = SharedCounters(FRONT_COUNTERS, setup.front_counters)
    dsp = SharedCounters(DSP_COUNTERS, setup.dsp_counters)
    audio = SharedCounters(AUDIO_COUNTERS, setup.audio_counters)
    flags = SharedCounters(CONTROL_FLAGS, setup.flags)
    server = web = None
    status = 0
    try:
        import torch

        from caminos.engine.control.osc.server import OscServer

        torch.set_num_threads(1)
        # Lanes of several clients share this process's GIL: a short switch interval lets a
        # quick message through while another lane renders a voice landmark.
        sys.setswitchinterval(0.0005)
        replica = build_replica(setup, connection, front, dsp, audio)
        score = (ScorePlayer(replica, setup.score, setup.loop_score, lambda: dsp["hops"])
                 if setup.score else None)
        if score is not None:
            score.feed()  # the first second is queued before the hop clock starts
            flags["go"] = 1.0
        if setup.osc:
            server = OscServer(replica, setup.config.osc).start()
            front["osc_port"] = float(server.port)
        if setup.web:
            from caminos.engine.control.web.server import WebServer

            web = WebServer(replica, setup.config.web, setup.web_token, dsp=dsp, audio=audio,
                            flags=flags, spectrum=setup.spectrum).start()
            front["web_port"] = float(web.port)
        front["pid"] = float(os.getpid())
        front["ready"] = 1.0
        while flags["stop"] == 0.0 and os.getppid() == parent:
            time.sleep(FEED_SECONDS)
            if score is not None:
                score.feed()
            front["control_errors"] = float(replica.counters["control_errors"])
        front["control_errors"] = float(replica.counters["control_errors"])
    except BaseException as exc:  # one line for the supervisor, which prints it; no traceback
        status = report_failure(setup.front_counters, exc)  # the line first: "failed" makes it read
        if status == EXIT_FAILED:
            front["failed"] = 1.0
    finally:
        if web is not None:
            web.stop()
        if server is not None:
            server.stop()
        connection.close()
        for shared in (front, dsp, audio, flags):
            shared.close()
    if status:
        sys.exit(status)
