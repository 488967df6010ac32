"""Scores: control events with their hops, recorded live and replayed offline to the same samples.

A score is a text file a person can read and write (docs/architecture.md)::

    # caminos score: one control event per line at the hop it applies (hop 0 = the first)
    sample_rate 48000
    hop_size 256
    hop 0 /latent/follow 0.0
    hop 12 /path/play dawn
    hop 375 /latent/axis 0 1.5      # comments run from # to the end of the line
    hop 1875 end

``/engine/record NAME`` (:class:`ScoreRecorder`) writes ``NAME.wav`` (the engine's output, 32-bit
float) and ``NAME.score`` (every control event applied while recording, with its hop counted from
the start of the recording, after hop-0 lines restoring the controls' state when the recording
began later than the engine's first hop); the DSP thread only copies each hop into a preallocated
ring buffer and appends events to a queue, and a writer thread does the file I/O.
:func:`render_score` replays a score through :meth:`Engine.tick` on a virtual clock: a recording
started at an engine's first hop renders to the same samples, bit for bit.

Why this file is longer than 500 lines: the score's text form, its parser (errors named with their
line), the recorder and the player share one event syntax, and change together when it does; the
formatter's layout (one argument per line where a call does not fit) took it from 485 lines to past
500.
"""

from __future__ import annotations

import math
import shlex
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from caminos.engine.control.patch_files import check_name
from caminos.engine.core.controls import Arg, ControlRegistry, ControlTable
from caminos.engine.core.errors import AudioFileError, ControlError
from caminos.engine.dsp.audio_io import AudioWriter

RECORDINGS_FOLDER = Path(__file__).resolve().parents[2] / "recordings"
NOT_SCORED = frozenset({"/engine/record", "/engine/record/stop"})
# Positions that state_after restores in order, after the path or file they belong to.
STATE_SKIPPED = frozenset({"/path/pos"})
RING_SECONDS = 20.0  # output the writer thread may fall behind by before hops are lost
WRITER_POLL_SECONDS = 0.02
# As ``caminos render --score --set render.subtype=FLOAT`` writes: the same samples, bit for bit.
RECORD_SUBTYPE = "FLOAT"
TAIL_SECONDS = 2.0  # rendered after the last event of a score without an ``end`` line
PROGRESS_HOPS = 64  # render_score reports its progress this often, in hops (0.34 s at 48 kHz)


@dataclass(frozen=True)
class ScoreEvent:
    """One line of a score: a control message applied at a hop.

    Attributes
    ----------
    hop : int
        Hop index from the start of the score.
    address : str
    args : tuple
        Converted arguments (float, int or str).
    line : int
        Line number in the file it was read from (0 when it was not read from a file).
    """

    hop: int
    address: str
    args: tuple
    line: int = 0


@dataclass(frozen=True)
class Score:
    """A parsed score.

    Attributes
    ----------
    sample_rate, hop_size : int
        What the score was recorded at; rendering refuses another configuration.
    events : list of ScoreEvent
        In the order they apply (by hop, then by line).
    end_hop : int or None
        Hop at which the recording stopped (``hop N end``), if given.
    """

    sample_rate: int
    hop_size: int
    events: list[ScoreEvent]
    end_hop: int | None = None

    def n_hops(self, tail_hops: int) -> int:
        """Hops to render: up to ``end``, or the last event plus ``tail_hops``."""
        if self.end_hop is not None:
            return self.end_hop
        last = self.events[-1].hop if self.events else 0
        return last + 1 + tail_hops


# ------------------------------------------------------------------------------ text form
def format_value(value: Any) -> str:
    """One argument as score text: floats exactly (``repr``), strings quoted when needed."""
    if isinstance(value, str):
        return shlex.quote(value)
    if isinstance(value, float):  # numpy's floats too, which repr as np.float64(...)
        return repr(float(value))
    return str(int(value))


def format_event(hop: int, address: str, args: tuple) -> str:
    """``hop 120 /latent/axis 0 0.5``."""
    return " ".join([f"hop {hop}", address, *(format_value(a) for a in args)])


def score_header(sample_rate: int, hop_size: int, comment: str = "") -> str:
    """The lines a score starts with."""
    lines = [
        "# caminos score: one control event per line at the hop it applies (hop 0 = the first)"
    ]
    if comment:
        lines.append(f"# {comment}")
    lines += [f"sample_rate {sample_rate}", f"hop_size {hop_size}"]
    return "\n".join(lines) + "\n"


def _convert(token: str, spec: Arg) -> Any:
    if spec.kind == "s":
        return token
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        raise ControlError(f"argument {spec.name}: expected a number, got {token!r}") from None


def parse_score(text: str, registry: ControlRegistry, where: str = "<score>") -> Score:
    """Read a score's text, checking every event against the registry.

    Parameters
    ----------
    text : str
        The score.
    registry : ControlRegistry
        The engine's controls (an engine with navigation, scenes and scores attached).
    where : str
        File name for messages.

    Raises
    ------
    ControlError
        ``FILE:LINE: reason`` for the first bad line: unknown address, bad arguments, a hop
        before the previous line's, a missing header.
    """
    header: dict[str, int] = {}
    events: list[ScoreEvent] = []
    end_hop = None
    for number, raw in enumerate(text.splitlines(), start=1):
        at = f"{where}:{number}"
        try:
            tokens = shlex.split(raw, comments=True)
        except ValueError as exc:
            raise ControlError(f"{at}: {exc}") from None
        if not tokens:
            continue
        if tokens[0] in ("sample_rate", "hop_size"):
            if len(tokens) != 2 or not tokens[1].isdigit() or int(tokens[1]) <= 0:
                raise ControlError(f"{at}: expected '{tokens[0]} N' with a positive integer")
            header[tokens[0]] = int(tokens[1])
            continue
        if tokens[0] != "hop" or len(tokens) < 3 or not tokens[1].isdigit():
            raise ControlError(
                f"{at}: expected 'hop N /address args...' or 'hop N end', got {raw.strip()[:60]!r}"
            )
        if end_hop is not None:
            raise ControlError(f"{at}: no event may follow the 'end' line")
        hop = int(tokens[1])
        if events and hop < events[-1].hop:
            raise ControlError(
                f"{at}: hop {hop} comes before the previous line's hop "
                f"{events[-1].hop}; lines must be in time order"
            )
        if tokens[2] == "end" and len(tokens) == 3:
            end_hop = hop
            continue
        address = tokens[2]
        try:
            control = registry[address]
            specs = control.args
            values = [
                _convert(t, specs[min(i, len(specs) - 1)]) if specs else t
                for i, t in enumerate(tokens[3:])
            ]
            args = control.validate(values)
        except ControlError as exc:
            raise ControlError(f"{at}: {exc}") from None
        events.append(ScoreEvent(hop, address, args, number))
    for key in ("sample_rate", "hop_size"):
        if key not in header:
            raise ControlError(f"{where}: the header line '{key} N' is missing")
    return Score(header["sample_rate"], header["hop_size"], events, end_hop)


def read_score(path: str | Path, registry: ControlRegistry) -> Score:
    """:func:`parse_score` on a file; a missing or unreadable file names itself."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ControlError(f"{path}: cannot read the score ({exc})") from None
    return parse_score(text, registry, str(path))


def load_score(path: str | Path, engine: Any) -> Score:
    """:func:`read_score` against an engine's controls, refusing a score recorded at another
    sample rate or hop size: what ``caminos render --score`` and ``caminos play --score`` (before
    any process starts, and in the control process) both check.

    Raises
    ------
    ControlError
        A bad line (``FILE:LINE: reason``), or another sample rate or hop size (file named).
    """
    score = read_score(path, engine.registry)
    if (score.sample_rate, score.hop_size) != (engine.sample_rate, engine.hop):
        raise ControlError(
            f"{path}: recorded at {score.sample_rate} Hz, hop "
            f"{score.hop_size}; the engine runs at {engine.sample_rate} Hz, hop "
            f"{engine.hop} (set audio.sample_rate and stft.hop to match)"
        )
    return score


# ---------------------------------------------------------------------------- rendering
def render_score(
    score_path: str | Path,
    engine: Any,
    seconds: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Replay a score through an engine's :meth:`~Engine.tick`, as fast as it computes.

    Each event is posted just before its hop (so its ``prepare`` sees the state it saw live)
    and applied at that hop, in the file's order.

    Parameters
    ----------
    score_path : path
        The score.
    engine : Engine
        A fresh engine (hop 0) with navigation, scenes and scores attached
        (:func:`caminos.engine.control.surface.attach`).
    seconds : float, optional
        Length to render; default up to the score's ``end`` line, or two seconds after its
        last event.
    on_progress : callable, optional
        Called as ``on_progress(hops_done, hops_in_all)`` before the first hop and every
        :data:`PROGRESS_HOPS` hops after it, and at the end (a progress bar's feed).

    Returns
    -------
    ndarray, shape (n_hops * hop, channels), float64

    Raises
    ------
    ControlError
        A bad line, a score recorded at another sample rate or hop size, or an event that
        fails on replay (a missing sound file), each naming the file and line.
    """
    score = load_score(score_path, engine)
    hop = engine.hop
    if seconds is not None:
        n_hops = max(math.ceil(seconds * engine.sample_rate / hop), 1)
    else:
        n_hops = score.n_hops(round(TAIL_SECONDS * engine.sample_rate / hop))
    out = np.zeros((n_hops * hop, engine.channels))
    start = engine.hop_index
    events = score.events
    k = 0
    if on_progress is not None:
        on_progress(0, n_hops)
    for h in range(n_hops):
        if on_progress is not None and h and h % PROGRESS_HOPS == 0:
            on_progress(h, n_hops)
        while k < len(events) and events[k].hop <= h:
            event = events[k]
            try:
                engine.post(event.address, *event.args, hop=start + event.hop)
            except ControlError as exc:
                raise ControlError(f"{score_path}:{event.line}: {exc}") from None
            k += 1
        engine.tick(out[h * hop : (h + 1) * hop])
    if on_progress is not None:
        on_progress(n_hops, n_hops)
    return out


# ---------------------------------------------------------------------------- recording
class _Recording:
    """One recording in progress: files, the output ring buffer and the writer thread.

    ``NAME.wav`` holds one channel per engine output channel, in :data:`RECORD_SUBTYPE`,
    written by :class:`~caminos.engine.dsp.audio_io.AudioWriter` as offline renders are:
    WAVE_FORMAT_EXTENSIBLE beyond two channels, with no speaker positions (mask 0). A WAVE
    file ends at 4 GiB: at 48 kHz, about 3 hours of stereo, 45 minutes of 8 channels or 6 of
    64; what is recorded beyond is lost to most readers.
    """

    def __init__(self, name: str, folder: Path, engine: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.wav_path = folder / f"{name}.wav"
        self.score_path = folder / f"{name}.score"
        self.hop = engine.hop
        capacity = max(int(RING_SECONDS * engine.sample_rate / engine.hop), 16)
        self.ring = np.zeros((capacity, engine.hop, engine.channels))
        self.written = 0  # hops the writer has written (writer thread only)
        self.count = 0  # hops the DSP thread has copied (DSP thread only)
        self.lost = 0
        self.start_hop = -1
        self.stop_hop = -1
        self.events: deque[tuple[int, str, tuple]] = deque()
        self.state: list[tuple[str, tuple]] = []  # hop-0 lines: the state when it began
        self.done = threading.Event()
        self.error = ""
        self.discarding = False  # set by discard(): the writer stops and removes both files
        self.wav = AudioWriter(
            self.wav_path,
            engine.sample_rate,
            engine.channels,
            RECORD_SUBTYPE,
            channel_mask=engine.channel_mask,
        )
        self.score = open(self.score_path, "w", encoding="utf-8")
        self.score.write(
            score_header(
                engine.sample_rate,
                engine.hop,
                f"recorded {time.strftime('%Y-%m-%d %H:%M:%S')} with model {engine.hop_model.name}",
            )
        )
        self.thread = threading.Thread(target=self._write, name="caminos-record", daemon=True)
        self.thread.start()

    # DSP thread
    def take(self, hop: int, block: np.ndarray) -> None:
        if self.start_hop < 0 or self.stop_hop >= 0:
            return
        if self.count - self.written >= len(self.ring):
            self.lost += 1  # the writer fell RING_SECONDS behind: a gap rather than a stall
            return
        self.ring[self.count % len(self.ring)] = block
        self.count += 1

    def discard(self, timeout: float = 10.0) -> None:
        """Stop writing and remove both files (a run that ended before its sound was heard
        leaves no recording behind); returns once they are gone, or after ``timeout``."""
        self.discarding = True
        self.done.wait(timeout)

    # writer thread
    def _write(self) -> None:
        try:
            while not self.discarding:
                stopping = self.stop_hop >= 0
                self._drain()
                if stopping:
                    break
                time.sleep(WRITER_POLL_SECONDS)
            if not self.discarding:
                self._drain()
                self.score.write(f"hop {self.stop_hop - self.start_hop} end\n")
        except Exception as exc:  # a full disk: reported in the status, the audio goes on
            self.error = str(exc)
        finally:
            try:
                self.wav.close()  # then its speaker mask
            except Exception as exc:
                self.error = self.error or str(exc)
            self.score.close()
            if self.discarding:
                self.wav_path.unlink(missing_ok=True)
                self.score_path.unlink(missing_ok=True)
            self.done.set()

    def _drain(self) -> None:
        if self.state:
            self.score.write(
                "# the state when recording began (replayed approximately: sources'\n"
                "# positions and phase history are not part of it)\n"
            )
            for address, args in self.state:
                self.score.write(format_event(0, address, args) + "\n")
            self.score.write("# the performance\n")
            self.state = []
        count = self.count
        while self.written < count:
            index = self.written % len(self.ring)
            n = min(count - self.written, len(self.ring) - index)
            self.wav.write(self.ring[index : index + n].reshape(-1, self.ring.shape[2]))
            self.written += n
        while self.events:
            hop, address, args = self.events.popleft()
            self.score.write(format_event(hop - self.start_hop, address, args) + "\n")
        self.score.flush()


class ScoreRecorder:
    """``/engine/record NAME`` and ``/engine/record/stop`` on one engine.

    Parameters
    ----------
    engine : Engine
        Recorded; :meth:`controls`, :meth:`on_event` (each applied event), :meth:`on_output`
        (each hop's output) and :meth:`status` are wired onto it by
        :func:`caminos.engine.control.surface.attach`.
    folder : path, optional
        Where ``NAME.wav`` and ``NAME.score`` go; default ``recordings/`` in the project.
    """

    def __init__(self, engine: Any, folder: str | Path | None = None) -> None:
        self.engine = engine
        self.folder = Path(folder) if folder is not None else RECORDINGS_FOLDER
        self.recording: _Recording | None = None
        self.finished: _Recording | None = None
        self.prepared: list[_Recording] = []  # files open, not begun (their hop not reached)
        # Values at start-up: a recording begun later starts its score with what differs.
        self.defaults = {c.address: tuple(c.get()) for c in engine.registry if c.get is not None}
        self.state_before: list[Callable[[], list[tuple[str, tuple]]]] = []
        self.state_after: list[Callable[[], list[tuple[str, tuple]]]] = []

    def controls(self) -> ControlTable:
        """``/engine/record`` and ``/engine/record/stop``, as data."""
        table = ControlTable()
        table.add(
            "/engine/record",
            (Arg("name", "s"),),
            "record the output to recordings/NAME.wav and every control event "
            "to recordings/NAME.score (replay: caminos render --score)",
            self._start,
            group="engine",
            prepare=self._prepare,
        )
        table.add(
            "/engine/record/stop",
            (),
            "stop recording; the files are complete a moment later",
            self._stop,
            group="engine",
        )
        return table

    def _prepare(self, name: str) -> _Recording:
        check_name("/engine/record", name)
        if self.recording is not None:
            raise ControlError("/engine/record: already recording; /engine/record/stop first")
        try:
            recording = _Recording(name, self.folder, self.engine)
        except AudioFileError as exc:
            raise ControlError(f"/engine/record: {exc}") from None
        except OSError as exc:
            raise ControlError(f"/engine/record: cannot write in {self.folder} ({exc})") from None
        self.prepared.append(recording)
        return recording

    def _start(self, recording: _Recording) -> None:
        if recording in self.prepared:
            self.prepared.remove(recording)
        if self.recording is not None:  # two starts queued: the later one closes at once
            recording.start_hop = recording.stop_hop = self.engine.hop_index
            return
        recording.start_hop = self.engine.hop_index
        if recording.start_hop > 0:
            recording.state = self.state()
        self.recording = recording

    def state(self) -> list[tuple[str, tuple]]:
        """Control events that bring a fresh engine to the current state, as far as controls
        can: definitions (landmarks, paths) from :attr:`state_before`, every control whose
        value differs from start-up, then :attr:`state_after` (a playing path's transport)."""
        events = [e for source in self.state_before for e in source()]
        for control in self.engine.registry:
            if control.get is None or control.address in STATE_SKIPPED:
                continue
            value = tuple(control.get())
            if value != self.defaults.get(control.address, value):
                events.append((control.address, value))
        return events + [e for source in self.state_after for e in source()]

    def _stop(self) -> None:
        recording = self.recording
        if recording is None:
            raise ControlError("/engine/record/stop: not recording")
        recording.stop_hop = self.engine.hop_index
        self.recording = None
        self.finished = recording

    def discard(self, started: bool = True) -> None:
        """Remove the files of recordings prepared but never begun (their ``/engine/record``
        was still queued) and, with ``started``, of the one in progress: what a run that ends
        before its sound was heard calls at shutdown, so that it leaves no recording behind."""
        doomed, self.prepared = self.prepared, []
        if started and self.recording is not None:
            doomed.append(self.recording)
            self.recording = None
        for recording in doomed:
            recording.discard()

    def on_event(self, hop: int, address: str, args: tuple) -> None:
        recording = self.recording
        if recording is not None and address not in NOT_SCORED:
            recording.events.append((hop, address, args))

    def on_output(self, hop: int, block: np.ndarray) -> None:
        recording = self.recording
        if recording is not None:
            recording.take(hop, block)

    def wait(self, timeout: float = 10.0) -> _Recording | None:
        """Wait until the last stopped recording's files are complete; returns it."""
        if self.finished is not None:
            self.finished.done.wait(timeout)
        return self.finished

    def status(self) -> dict[str, Any]:
        """The recorder's part of ``/engine/status``."""
        current = self.recording
        return {
            "recording_to": str(current.wav_path) if current else "",
            "record_lost_hops": current.lost if current else 0,
        }
