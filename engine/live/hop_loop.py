"""The hop clock's loop in the DSP process: one tick per hop the device consumes.

:class:`HopLoop` keeps the output ring ``buffer_hops`` hops ahead of the device, fed by the
input ring, takes the events the control process sent before each hop, and publishes its
status in shared counters. A hop allocates nothing (tests/test_dsp_hop.py): the rings are moved
and the level metered in kernels, and every kernel is compiled when the loop is built.

Only the DSP process imports this module (with numba); the supervisor imports
:mod:`caminos.engine.live.dsp_process` to name the process's body, without it.
"""

from __future__ import annotations

import gc
import math
import os
import time

import numpy as np

from caminos.engine.core.ring import SharedCounters
from caminos.engine.live.meter import ENERGY, PEAK, RUN_PEAK, meter
from caminos.engine.live.priority import raise_to_realtime
from caminos.engine.live.ring_kernels import frames_held, has_room, holds, read_frames, write_frames
from caminos.engine.live.shared import ProcessSetup

# With nothing to do, the hop clock waits for the audio callback's doorbell at most this many hops
# (then it looks at the rings and the stop flag again: a stopped stream rings no bell).
IDLE_HOPS = 2


def publish_latency(engine, counters: SharedCounters) -> int:
    """The engine's latency (:attr:`~caminos.engine.clock.engine.Engine.latency`, the one place
    it is computed) into the shared counters every reader takes it from; returns the look-ahead
    it was computed with, so the loop publishes again when ``/phase/lookahead`` changes it."""
    latency = engine.latency
    counters["latency_samples"] = latency.algorithmic
    counters["control_latency_samples"] = latency.control_algorithmic
    return engine.phase.lookahead


class HopLoop:
    """One tick per hop the device consumes, the output ring kept ``buffer_hops`` hops ahead.

    Parameters
    ----------
    setup : ProcessSetup
        The rings' and the spectrum tap's names, the channels.
    engine, surface
        Built and warmed (:func:`_build_engine`).
    counters, stop : SharedCounters
        What this process publishes (``DSP_COUNTERS``) and the supervisor's flags.
    events : multiprocessing connection or None
        The read end of the control process's pipe.
    """

    def __init__(
        self,
        setup: ProcessSetup,
        engine,
        surface,
        counters: SharedCounters,
        stop: SharedCounters,
        events,
    ) -> None:
        from caminos.engine.dsp.spectrum_tap import SpectrumTap
        from caminos.engine.dsp.spectrum_writer import SpectrumWriter
        from caminos.engine.live.events import EventReceiver

        self.engine, self.surface, self.counters, self.stop = engine, surface, counters, stop
        self.out_ring, self.in_ring = setup.attach_rings()
        self.doorbell = setup.doorbell
        hop, sr = engine.hop, engine.sample_rate
        self.hop_seconds = hop / sr
        self.in_block = np.zeros((hop, max(setup.input_channels, 1)), dtype=np.float32)
        self.in_block64 = np.zeros(self.in_block.shape)  # each channel for its voices
        self.out32 = np.zeros((hop, setup.output_channels), dtype=np.float32)
        self.receiver = EventReceiver(events, engine) if events is not None else None
        self.spectrum_tap = SpectrumTap(name=setup.spectrum)
        # every voice's latent and place on the map, for the control page
        self.spectrum = SpectrumWriter(
            self.spectrum_tap, setup.config.stft.n_fft, hop, sr, places=engine.field.places
        )
        self.latents = engine.voice_positions
        self.spectrum.warm_up(np.zeros((hop, setup.output_channels))[:, 0], self.latents)
        counters["pid"] = float(os.getpid())
        stream = engine.voice.stream
        counters["voice"] = float(stream is not None)
        counters["voice_pid"] = float(getattr(stream, "worker_pid", 0))
        if self.in_ring is not None:  # duplex: output follows input, after buffer_hops hops
            self.out_ring.write(
                np.zeros(
                    (setup.config.audio.buffer_hops * hop, setup.output_channels), dtype=np.float32
                )
            )
        self.parent = os.getppid()
        self.lookahead = publish_latency(engine, counters)
        self.meter_hops = max(1, round(sr / hop / 2))  # the meter covers half a second
        self.meter_samples = float(self.meter_hops * hop)
        self.level = np.zeros(3)  # the meter's [peak, energy] this window, the run's peak
        self.mono = engine.buffers.block[:, 0]  # the first channel of every tick's block
        self._output_latency = stop.index("output_latency_s")
        self.status = StatusCopy(engine, counters)
        self._warm_kernels()
        self.index = {
            key: counters.index(key)
            for key in (
                "hops",
                "peak",
                "peak_run",
                "rms",
                "clock_origin",
                "file_seconds",
                "path_position",
                "path_playing",
                "events_applied",
            )
        }
        # Everything built so far (numba, the engine) stays out of the garbage collector's
        # passes: a full pass over it took milliseconds, and events arriving by the thousand
        # make the collector run often. Only what is made from now on is scanned.
        gc.collect()
        gc.freeze()
        counters["realtime"] = float(raise_to_realtime())  # warm: nothing slow left to do
        counters["ready"] = 1.0

    def _warm_kernels(self) -> None:
        """Compile (or load) the hop's own kernels now, on scratch arrays of the hop's kinds,
        not at the first hop on the clock."""
        frames = np.zeros((2 * len(self.out32), self.out32.shape[1]), dtype=np.float32)
        positions = np.zeros(2, dtype=np.int64)
        write_frames(frames, positions, self.out32)
        read_frames(frames, positions, self.out32)
        read_frames(frames[:, :1].copy(), positions, self.in_block)
        has_room(frames, positions, 1)
        holds(positions, 1)
        frames_held(positions)
        meter(np.zeros_like(self.engine.buffers.block), np.zeros(3))

    def wait_for_score(self, score: bool) -> None:
        """With a score, queue its first second before the first hop, until the supervisor
        says go."""
        stop = self.stop
        while score and stop["go"] == 0.0 and stop["stop"] == 0.0 and os.getppid() == self.parent:
            self.receiver.receive(limit=1 << 30)
            time.sleep(0.005)

    def run(self) -> None:
        """Tick whenever the output ring has room for a hop (and the input ring holds one),
        until the supervisor says stop or dies; with nothing to do, sleep until the audio
        callback rings the doorbell (:mod:`caminos.engine.live.doorbell`), at most
        :data:`IDLE_HOPS` hops."""
        flags, stop = self.stop.values, self.stop.index("stop")
        out_ring, in_ring, hop = self.out_ring, self.in_ring, self.engine.hop
        doorbell, idle_s = self.doorbell, IDLE_HOPS * self.hop_seconds
        # the rings' positions read in kernels: nothing is made on the way to a hop
        while flags.item(stop) == 0.0:
            if not has_room(out_ring.frames, out_ring.positions, hop) or (
                in_ring is not None and not holds(in_ring.positions, hop)
            ):
                if os.getppid() != self.parent:  # the supervisor died: do not linger
                    break
                doorbell.wait(idle_s)
                continue
            self._hop()

    def _hop(self) -> None:
        """One hop: input in, events, tick, output out, counters published; nothing allocated
        (tests/test_dsp_hop.py): the rings are moved and the level metered in kernels."""
        engine, values, index = self.engine, self.counters.values, self.index
        in_ring, out_ring = self.in_ring, self.out_ring
        if in_ring is not None:
            read_frames(in_ring.frames, in_ring.positions, self.in_block)
            np.copyto(self.in_block64, self.in_block)
            engine.push_input(self.in_block64)
        # the hop computed now sounds after what waits in the ring and the device's buffer
        engine.clock_origin = (
            time.time()
            + frames_held(out_ring.positions) / engine.sample_rate
            + self.stop.values.item(self._output_latency)
            - engine.hop_index * self.hop_seconds
        )
        values[index["clock_origin"]] = engine.clock_origin
        if self.receiver is not None:
            self.receiver.receive()
        block = engine.tick()
        if engine.phase.lookahead != self.lookahead:  # /phase/lookahead moved it
            self.lookahead = publish_latency(engine, self.counters)
        np.copyto(self.out32, block)
        write_frames(out_ring.frames, out_ring.positions, self.out32)
        self.spectrum.push(self.mono, self.latents)
        meter(block, self.level)
        self._publish_hop()

    def _publish_hop(self) -> None:
        """The hop's counters; every half second the level and the engine's counters."""
        engine, values, index = self.engine, self.counters.values, self.index
        navigator = self.surface.navigator
        hops = engine.hop_index
        values[index["file_seconds"]] = engine.player.position / engine.sample_rate
        values[index["path_position"]] = navigator.position
        values[index["path_playing"]] = navigator.playing
        values[index["events_applied"]] = engine.counters["events_applied"]
        values[index["hops"]] = hops  # last: a query that sees this hop sees its events applied
        if hops % self.meter_hops == 0:
            level = self.level
            values[index["peak"]] = level.item(PEAK)
            values[index["peak_run"]] = level.item(RUN_PEAK)
            values[index["rms"]] = math.sqrt(level.item(ENERGY) / self.meter_samples)
            level[PEAK] = level[ENERGY] = 0.0
            self.status.publish()

    def finish(self) -> None:
        """Publish the last counters, drain the events, end a recording whose sound was heard
        (discard one whose run failed before the device played), close everything."""
        engine = self.engine
        self.status.publish()
        self.counters.values[self.index["peak_run"]] = self.level.item(RUN_PEAK)
        if self.receiver is not None:
            self.receiver.drain()
        recorder = self.surface.recorder
        heard = self.stop["discard"] == 0.0  # else the run failed before a hop was played
        if heard and recorder.recording is not None:
            engine.post("/engine/record/stop")
            engine.tick()  # applies the stop; this hop is not recorded
            recorder.wait(timeout=60.0)
        recorder.discard(started=not heard)  # and any recording whose hop never came
        engine.close()
        self.out_ring.close()
        self.spectrum_tap.close()
        if self.in_ring is not None:
            self.in_ring.close()


class StatusCopy:
    """The engine's counters, copied for the status readers every half second (the tick times
    are shared as they are written; nothing here computes a statistic on the hop clock), by
    index, with nothing allocated."""

    def __init__(self, engine, counters: SharedCounters) -> None:
        self.engine, self.values = engine, counters.values
        self.keys = tuple(engine.counters)  # the engine's counters are fixed at its start
        self.indices = tuple(counters.index(key) for key in self.keys)
        self.nonfinite = counters.index("nonfinite")

    def publish(self) -> None:
        counters, values = self.engine.counters, self.values
        keys, indices, k = self.keys, self.indices, 0  # (three names at once make no tuple)
        while k < len(keys):
            values[indices[k]] = counters[keys[k]]
            k += 1
        values[self.nonfinite] = self.engine.output.limiter.nonfinite_samples


# -------------------------------------------------------------------------------- audio process
