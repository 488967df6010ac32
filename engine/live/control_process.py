"""The control process: OSC, validation, ``/error`` replies, queries and slow preparation, live.

Between the OSC clients and the hop clock (:mod:`caminos.engine.live.dsp_process`). Everything a
control message costs in Python (parsing, pattern matching, validation, replies, reading a sound
file, encoding a landmark, rendering ``/landmark/voice``) runs here, in a process of its own, so
none of it holds the GIL that :meth:`caminos.engine.clock.engine.Engine.tick` needs. The hop clock
receives compact, already-validated events through a pipe it reads without blocking at each hop
(:mod:`caminos.engine.live.events`) and applies them at their hop.

To validate and prepare as the engine would, this process keeps a *replica*: an engine built from
the same configuration with the same controls, never ticked, to which every event is applied as it
is forwarded (:func:`build_replica`). A control whose ``apply`` refuses (a path, landmark or scene
that does not exist, an empty ``/voice/say``) is answered with ``/error`` here and never reaches
the hop clock. Queries read the replica for values set by controls, and its clock
(:class:`~caminos.engine.live.published.PublishedClock`) for what only the DSP and audio processes
know: the hop, tick times, positions, xruns, latency.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from caminos.engine.core.config import STREAMING_PHASE_METHODS, Config
from caminos.engine.core.errors import ControlError
from caminos.engine.clock.status import TIMING_WINDOW
from caminos.engine.core.ring import SharedArray, SharedCounters
from caminos.engine.live.events import ForwardingQueue
from caminos.engine.live.overload import OverloadPolicy, OverloadWatch, phase_ladder
from caminos.engine.live.shared import (
    AUDIO_COUNTERS,
    CONTROL_FLAGS,
    DSP_COUNTERS,
    EXIT_FAILED,
    FRONT_COUNTERS,
    report_failure,
)


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
    tick_times: str = ""  # the DSP process's tick durations (a SharedArray); "" = none
    model_file: str = ""  # the model's numbers (engine/live/model_file.py); "" = the checkpoint


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


def control_engine(config: Config, channels: int, voice: bool, **engine_options: Any):
    """An engine with every control a live run accepts: the surface's (paths, scenes,
    recording, queries) and, with ``voice``, the voice's, without a voice process of its own.

    The control process's replica (:func:`build_replica`, which passes the clock, registry,
    queue and counters of its job in ``engine_options``), and what ``caminos play --score``
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

    engine = Engine(config, channels=channels, startup_events=False, voice=False, **engine_options)
    surface = attach(engine)
    if voice:
        from caminos.models.voice.settings import VoiceSettings, voice_controls

        for control in voice_controls(VoiceSettings(config, seed=config.engine.seed)):
            engine.registry.add(control)
    return engine, surface


def _plays_no_sound() -> None:
    """``/engine/record/stop`` in the replica: the recording is the hop clock's."""


def build_replica(
    setup: ControlSetup,
    connection,
    front: SharedCounters,
    dsp: SharedCounters,
    audio: SharedCounters,
    control: SharedCounters,
    tick_times: SharedArray | None = None,
):
    """The replica engine with every control, whose posts go to the hop clock.

    Built for its job: its clock is what the DSP and audio processes publish
    (:class:`~caminos.engine.live.published.PublishedClock`: its ``status()``, its timetags,
    the positions ``/engine/get`` answers), its queue applies each event at once and forwards it
    (:class:`ForwardingQueue`), recording is the hop clock's (the replica only checks the name),
    and gestures are recorded after each event (the replica is never ticked).

    Returns
    -------
    Engine
        Never ticked.
    """
    from caminos.engine.clock.engine import engine_counters
    from caminos.engine.control.patch_files import check_name
    from caminos.engine.core.controls import ControlRegistry
    from caminos.engine.live.published import PublishedClock
    from caminos.models.shape import HopModel

    config = setup.config
    counters = engine_counters()
    clock = PublishedClock(
        dsp,
        audio,
        control,
        front,
        counters,
        config.audio.sample_rate,
        config.stft.hop,
        config.audio.buffer_hops * config.stft.hop,
        tick_times.values if tick_times is not None else None,
    )
    registry = ControlRegistry(
        overrides={
            "/engine/record": {"prepare": None, "apply": partial(check_name, "/engine/record")},
            "/engine/record/stop": {"apply": _plays_no_sound},
            "/source/file/pos": {"get": clock.file_seconds},
            "/path/pos": {"get": clock.path_position},
        }
    )
    queue = ForwardingQueue(registry, connection, front)
    # the model's numbers from the supervisor's file: torch loads only to encode a landmark
    hop_model = HopModel.load(setup.model_file) if setup.model_file else None
    replica, surface = control_engine(
        config,
        setup.channels,
        setup.voice,
        clock=clock,
        registry=registry,
        queue=queue,
        counters=counters,
        hop_model=hop_model,
    )
    queue.after_apply.append(surface.navigator.after_event)
    # The engine's start-up file, as the DSP process opened it (applied here, not forwarded);
    # a score holds its own start-up events.
    if setup.score is None:
        for address, args in replica.startup_events():
            replica.apply_now(address, *args)
    replica.surface = surface
    return replica


def overload_watch(
    config: Config,
    replica,
    dsp: SharedCounters,
    audio: SharedCounters,
    front: SharedCounters,
    ticks: SharedArray | None,
) -> OverloadWatch | None:
    """The watch that steps the phase recovery down while the hop clock runs late
    (:mod:`caminos.engine.live.overload`), counting in ``front`` how often it did
    (``phase_fallbacks``), how far down it plays (``phase_fallen``: 0 the chosen setting) and
    what (``phase_step_method``, the method's index in the streaming methods, and
    ``phase_step_iterations``); None with neither ``engine.overload_phase`` nor
    ``engine.overload_iterations``."""
    engine = config.engine
    if not (engine.overload_phase or engine.overload_iterations) or ticks is None:
        return None
    ladder = phase_ladder(engine.overload_phase, engine.overload_iterations)
    policy = OverloadPolicy(ladder, engine.overload_retry_s)

    def counted(setting: tuple) -> None:
        method, iterations = setting
        front["phase_step_method"] = float(STREAMING_PHASE_METHODS.index(method))
        front["phase_step_iterations"] = float(iterations)
        front["phase_fallbacks"] = float(policy.fallbacks)
        front["phase_fallen"] = float(policy.step)

    return OverloadWatch(
        replica,
        policy,
        ticks.values,
        lambda: dsp["hops"],
        lambda: audio["underruns"],
        config.stft.hop / config.audio.sample_rate,
        on_switch=counted,
    )


def control_main(setup: ControlSetup, connection, parent: int) -> None:
    """Body of the control process: the replica and the OSC server until told to stop."""

    front = SharedCounters(FRONT_COUNTERS, setup.front_counters)
    dsp = SharedCounters(DSP_COUNTERS, setup.dsp_counters)
    audio = SharedCounters(AUDIO_COUNTERS, setup.audio_counters)
    flags = SharedCounters(CONTROL_FLAGS, setup.flags)
    ticks = SharedArray(TIMING_WINDOW, setup.tick_times) if setup.tick_times else None
    server = web = midi = None
    status = 0
    try:
        from caminos.engine.control.osc.server import OscServer

        # Lanes of several clients share this process's GIL: a short switch interval lets a
        # quick message through while another lane renders a voice landmark.
        sys.setswitchinterval(0.0005)
        front["pid"] = float(os.getpid())
        replica = build_replica(setup, connection, front, dsp, audio, flags, ticks)
        # What lives as long as the process stays out of the collector's full passes (100 ms
        # over the replica's objects, which would stall the OSC receive thread), as in the DSP
        # process; only what is made from now on is scanned.
        gc.collect()
        gc.freeze()
        score = (
            ScorePlayer(replica, setup.score, setup.loop_score, lambda: dsp["hops"])
            if setup.score
            else None
        )
        if score is not None:
            score.feed()  # the first second is queued before the hop clock starts
            flags["go"] = 1.0
        if setup.osc:
            server = OscServer(replica, setup.config.osc).start()
            front["osc_port"] = float(server.port)
        if setup.web:
            from caminos.engine.control.web.server import WebServer

            web = WebServer(
                replica, setup.config.web, setup.web_token, spectrum=setup.spectrum
            ).start()
            front["web_port"] = float(web.port)
        if setup.config.midi.input:
            from caminos.engine.control.midi import MidiInput

            midi = MidiInput(replica, replica.surface.midi, setup.config.midi).start()
        watch = overload_watch(setup.config, replica, dsp, audio, front, ticks)
        front["ready"] = 1.0
        while flags["stop"] == 0.0 and os.getppid() == parent:
            time.sleep(FEED_SECONDS)
            if score is not None:
                score.feed()
            if watch is not None:
                watch.check(time.monotonic())
            front["control_errors"] = float(replica.counters["control_errors"])
        front["control_errors"] = float(replica.counters["control_errors"])
    except BaseException as exc:  # one line for the supervisor, which prints it; no traceback
        status = report_failure(setup.front_counters, exc)  # the line first: "failed" makes it read
        if status == EXIT_FAILED:
            front["failed"] = 1.0
    finally:
        if midi is not None:
            midi.stop()
        if web is not None:
            web.stop()
        if server is not None:
            server.stop()
        connection.close()
        for shared in (front, dsp, audio, flags, ticks):
            if shared is not None:
                shared.close()
    if status:
        sys.exit(status)
