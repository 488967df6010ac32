"""The DSP process: ``Engine.tick()`` once per hop, keeping the output ring ahead of the device.

Built by the supervisor (:class:`caminos.engine.live.supervisor.LivePlayer`) from a
:class:`caminos.engine.live.shared.ProcessSetup`: it builds and warms the
:class:`~caminos.engine.clock.engine.Engine`, keeps the output ring ``buffer_hops`` hops ahead
of the device, fed by the input ring, takes the events the control process sent before each
hop, and publishes its status in shared counters. It runs nothing else that holds the GIL for
long (the voice phrases in a process of its own), under ``SCHED_FIFO`` where permitted.
"""

from __future__ import annotations

import sys
from pathlib import Path

from caminos.engine.clock.status import TIMING_WINDOW
from caminos.engine.core.ring import SharedArray, SharedCounters
from caminos.engine.live.priority import lock_memory, raise_priority
from caminos.engine.live.shared import (
    CONTROL_FLAGS,
    DSP_COUNTERS,
    EXIT_FAILED,
    ProcessSetup,
    report_failure,
)


def dsp_main(setup: ProcessSetup, record: str | None, events, score: bool = False) -> None:
    """Body of the DSP process: engine, warm-up, then one tick per hop the device consumes;
    ``events`` is the read end of the control process's pipe (None without it); with
    ``score``, the first hop waits until the control process has queued the score's start."""
    raise_priority()
    counters = SharedCounters(DSP_COUNTERS, setup.dsp_counters)
    stop = SharedCounters(CONTROL_FLAGS, setup.control)
    status = 0
    try:
        _dsp_loop(setup, counters, stop, record, events, score)
    except BaseException as exc:  # one line for the supervisor, which prints it; no traceback
        status = report_failure(setup.dsp_counters, exc)  # the line first: "failed" makes it read
        if status == EXIT_FAILED:
            counters["failed"] = 1.0
    finally:
        counters.close()
        stop.close()
    if status:
        sys.exit(status)


def _dsp_loop(
    setup: ProcessSetup,
    counters: SharedCounters,
    stop: SharedCounters,
    record: str | None,
    events,
    score: bool,
) -> None:
    """Build the engine, then tick until told to stop
    (:class:`~caminos.engine.live.hop_loop.HopLoop`)."""
    from caminos.engine.live.hop_loop import HopLoop  # with numba: not with this module

    # Threads that remain here (a recording's writer) wait at most 0.5 ms for the GIL.
    sys.setswitchinterval(0.0005)
    # each tick's duration, for the status readers' percentiles (they compute them, not this)
    tick_times = SharedArray(TIMING_WINDOW, setup.tick_times)
    try:
        engine, surface = build_engine(setup, tick_times, record, score)
        try:
            loop = HopLoop(setup, engine, surface, counters, stop, events)
        except BaseException:  # nothing will play: leave no recording, stop the voice's process
            surface.recorder.discard()
            engine.close()
            raise
        try:
            loop.wait_for_score(score)
            loop.run()
        finally:
            loop.finish()
    finally:
        tick_times.close()


def build_engine(setup: ProcessSetup, tick_times: SharedArray, record: str | None, score: bool):
    """The engine and its surface, warmed, memory locked, the recording and the start-up file
    posted; returns ``(engine, surface)``. A failure leaves no recording and no voice process."""
    # Imported here, not with this module: the supervisor imports it to name the process's
    # body, and must not load the engine's numba (hundreds of MB) with it.
    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.surface import attach
    from caminos.models.shape import HopModel

    # the model's numbers from the supervisor's file: this process imports no torch
    hop_model = HopModel.load(setup.model_file) if setup.model_file else None
    engine = Engine(
        setup.config,
        channels=setup.output_channels,
        startup_events=False,
        realtime=True,
        tick_times=tick_times.values,
        hop_model=hop_model,
    )
    engine.warm_up()
    lock_memory()
    surface = attach(engine, recordings=Path(record).parent if record else None)
    try:
        if record:  # first, so the score holds the start-up events too
            engine.post("/engine/record", Path(record).name)
        if not score:  # a score holds its own start-up events
            engine.post_startup_events()
    except BaseException:  # nothing will play: leave no recording, stop the voice's process
        surface.recorder.discard()
        engine.close()
        raise
    return engine, surface
