"""The DSP process: ``Engine.tick()`` once per hop, keeping the output ring ahead of the device.

Built by the supervisor (:class:`caminos.engine.live.supervisor.LivePlayer`) from a
:class:`caminos.engine.live.shared.ProcessSetup`: it builds and warms the
:class:`~caminos.engine.clock.engine.Engine`, keeps the output ring ``buffer_hops`` hops ahead
of the device, fed by the input ring, takes the events the control process sent before each
hop, and publishes its status in shared counters. It runs nothing else that holds the GIL for
long (the voice phrases in a process of its own), under ``SCHED_FIFO`` where permitted.
"""

from __future__ import annotations

import gc
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from caminos.engine.clock.status import TIMING_WINDOW
from caminos.engine.core.ring import SharedArray, SharedCounters
from caminos.engine.live.priority import lock_memory, raise_priority, raise_to_realtime
from caminos.engine.live.shared import (CONTROL_FLAGS, DSP_COUNTERS, EXIT_FAILED, ProcessSetup,
                                        report_failure)

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


def publish_latency(engine, counters: SharedCounters) -> int:
    """The engine's latency (:attr:`~caminos.engine.clock.engine.Engine.latency`, the one place
    it is computed) into the shared counters every reader takes it from; returns the look-ahead
    it was computed with, so the loop publishes again when ``/phase/lookahead`` changes it."""
    latency = engine.latency
    counters["latency_samples"] = latency.algorithmic
    counters["control_latency_samples"] = latency.control_algorithmic
    return engine.phase.lookahead


def _dsp_loop(setup: ProcessSetup, counters: SharedCounters, stop: SharedCounters,
              record: str | None, events, score: bool) -> None:
    # Imported here, not with this module: the supervisor imports it to name the process's
    # body, and must not load the engine's numba (hundreds of MB) with it.
    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.surface import attach
    from caminos.engine.dsp.spectrum_tap import SpectrumTap
    from caminos.engine.dsp.spectrum_writer import SpectrumWriter
    from caminos.engine.live.events import EventReceiver
    from caminos.models.shape import HopModel

    # Threads that remain here (a recording's writer) wait at most 0.5 ms for the GIL.
    sys.setswitchinterval(0.0005)
    config = setup.config
    # each tick's duration, for the status readers' percentiles (they compute them, not this)
    tick_times = SharedArray(TIMING_WINDOW, setup.tick_times)
    # the model's numbers from the supervisor's file: this process imports no torch
    hop_model = HopModel.load(setup.model_file) if setup.model_file else None
    engine = Engine(config, channels=setup.output_channels, startup_events=False, realtime=True,
                    tick_times=tick_times.values, hop_model=hop_model)
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
    out_ring, in_ring = setup.attach_rings()
    hop, sr = engine.hop, engine.sample_rate
    hop_seconds = hop / sr
    in_block = np.zeros((hop, max(setup.input_channels, 1)), dtype=np.float32)
    in_block64 = np.zeros(in_block.shape)  # each channel for the voices that follow it
    out32 = np.zeros((hop, setup.output_channels), dtype=np.float32)
    receiver = EventReceiver(events, engine) if events is not None else None
    spectrum_tap = SpectrumTap(name=setup.spectrum)
    # every voice's latent and place on the map, for the control page
    spectrum = SpectrumWriter(spectrum_tap, config.stft.n_fft, hop, sr,
                              places=engine.field.places)
    latents = engine.voice_positions
    spectrum.warm_up(np.zeros((hop, setup.output_channels))[:, 0], latents)
    counters["pid"] = float(os.getpid())
    stream = engine.voice.stream
    counters["voice"] = float(stream is not None)
    counters["voice_pid"] = float(getattr(stream, "worker_pid", 0))
    navigator = surface.navigator
    if in_ring is not None:  # duplex: output follows input, after buffer_hops hops of silence
        out_ring.write(np.zeros((config.audio.buffer_hops * hop, setup.output_channels),
                                dtype=np.float32))
    parent = os.getppid()
    published_lookahead = publish_latency(engine, counters)
    # Everything built so far (numba, the engine) stays out of the garbage collector's
    # passes: a full pass over it took milliseconds, and events arriving by the thousand make
    # the collector run often. Only what is made from now on is scanned.
    gc.collect()
    gc.freeze()
    counters["realtime"] = float(raise_to_realtime())  # warm: nothing slow left to do
    counters["ready"] = 1.0
    while score and stop["go"] == 0.0 and stop["stop"] == 0.0 and os.getppid() == parent:
        receiver.receive(limit=1 << 30)  # the score's first second, queued before the first hop
        time.sleep(0.005)
    peak = 0.0
    energy = 0.0
    meter_hops = max(1, round(sr / hop / 2))  # the meter covers half a second
    i_hops, i_peak, i_rms = counters.index("hops"), counters.index("peak"), counters.index("rms")
    i_origin, i_file = counters.index("clock_origin"), counters.index("file_seconds")
    i_path, i_playing = counters.index("path_position"), counters.index("path_playing")
    i_applied = counters.index("events_applied")
    applied = engine.counters
    player = engine.player
    values = counters.values
    try:
        while stop["stop"] == 0.0:
            if out_ring.free() < hop or (in_ring is not None and in_ring.available() < hop):
                if os.getppid() != parent:  # the supervisor died: do not linger as an orphan
                    break
                time.sleep(hop_seconds / 8)
                continue
            if in_ring is not None:
                in_ring.read_into(in_block)
                in_block64[:] = in_block
                engine.push_input(in_block64)
            # the hop computed now sounds after what waits in the ring and the device's buffer
            engine.clock_origin = (time.time() + out_ring.available() / sr
                                   + stop["output_latency_s"] - engine.hop_index * hop_seconds)
            values[i_origin] = engine.clock_origin
            if receiver is not None:
                receiver.receive()
            block = engine.tick()
            if engine.phase.lookahead != published_lookahead:  # /phase/lookahead moved it
                published_lookahead = publish_latency(engine, counters)
            out32[:] = block
            out_ring.write(out32)
            mono = block[:, 0]
            spectrum.push(mono, latents)
            peak = max(peak, float(np.abs(block).max()))
            energy += float(np.vdot(mono, mono))
            hops = engine.hop_index
            values[i_file] = player.position / sr
            values[i_path] = navigator.position
            values[i_playing] = navigator.playing
            values[i_applied] = applied["events_applied"]
            values[i_hops] = hops  # last: a query that sees this hop sees its events applied
            if hops % meter_hops == 0:
                values[i_peak] = peak
                values[i_rms] = math.sqrt(energy / (meter_hops * hop))
                peak = energy = 0.0
                _publish_status(engine, counters)
    finally:
        _publish_status(engine, counters)
        if receiver is not None:
            receiver.drain()
        recorder = surface.recorder
        heard = stop["discard"] == 0.0  # else the run failed before the device played a hop
        if heard and recorder.recording is not None:
            engine.post("/engine/record/stop")
            engine.tick()  # applies the stop; this hop is not recorded
            recorder.wait(timeout=60.0)
        recorder.discard(started=not heard)  # and any recording whose hop never came
        engine.close()
        out_ring.close()
        spectrum_tap.close()
        tick_times.close()
        if in_ring is not None:
            in_ring.close()


def _publish_status(engine, counters: SharedCounters) -> None:
    """The engine's counters, copied for the status readers (the tick times are shared as they
    are written; nothing here computes a statistic on the hop clock)."""
    for key, value in engine.counters.items():
        counters[key] = float(value)
    counters["nonfinite"] = float(engine.output.limiter.nonfinite_samples)


# -------------------------------------------------------------------------------- audio process
