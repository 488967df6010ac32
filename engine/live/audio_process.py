"""The audio process: only the PortAudio stream.

Its callback copies input into one ring and output out of another, counts xruns and rings the
hop clock's doorbell (:mod:`caminos.engine.live.doorbell`): no allocation of buffers, no locks,
no torch, no logging, so it gets the GIL at once (the DSP
process, which holds its own GIL for most of every hop, runs elsewhere).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from caminos.engine.core.ring import SharedCounters, SharedRing
from caminos.engine.live.devices import choose_devices, import_sounddevice
from caminos.engine.live.doorbell import Doorbell
from caminos.engine.live.priority import lock_memory, raise_priority
from caminos.engine.live.shared import AUDIO_COUNTERS, CONTROL_FLAGS, ProcessSetup, failure_file


def _make_callback(
    out_ring: SharedRing, in_ring: SharedRing | None, counters: SharedCounters, doorbell: Doorbell
):
    """The PortAudio callback: copy rings, count, ring the hop clock's doorbell (there is room
    for its next hop); nothing else (no allocation of buffers).

    Underruns count callbacks the engine left short; ``holes`` counts the gaps they make, one per
    run of short callbacks back to back, and ``longest_hole`` the longest run: one stall of the
    hop clock for 50 ms is about eight underruns but one gap a listener hears.
    """
    values = counters.values
    i_calls, i_frames = counters.index("callbacks"), counters.index("frames")
    i_xruns, i_under = counters.index("xruns"), counters.index("underruns")
    i_holes, i_run = counters.index("holes"), counters.index("hole_run")
    i_longest = counters.index("longest_hole")
    i_over = counters.index("overruns")
    i_out_flag = counters.index("output_underflows")
    i_in_flag = counters.index("input_overflows")
    i_first, i_last = counters.index("first_time"), counters.index("last_time")
    clock = time.monotonic

    def callback(indata, outdata, frames, time_info, status):
        now = clock()
        if values[i_calls] == 0.0:
            values[i_first] = now
        values[i_last] = now
        values[i_calls] += 1.0
        values[i_frames] += frames
        if status:  # PortAudio's flags: the host missed a deadline (ours or the server's)
            values[i_xruns] += 1.0
            if status.output_underflow:
                values[i_out_flag] += 1.0
            if status.input_overflow:
                values[i_in_flag] += 1.0
        if in_ring is not None and in_ring.write(indata) < frames:
            values[i_over] += 1.0
        got = out_ring.read_into(outdata)
        if got < frames:
            outdata[got:] = 0.0
            values[i_under] += 1.0
            if values[i_run] == 0.0:  # a new gap in the sound
                values[i_holes] += 1.0
            values[i_run] += 1.0
            if values[i_run] > values[i_longest]:
                values[i_longest] = values[i_run]
        else:
            values[i_run] = 0.0
        doorbell.ring()

    return callback


def stream_main(setup: ProcessSetup) -> None:
    """Body of the audio process: open the stream and keep it until told to stop.

    Exits by itself when the stream stops running (device error); the supervisor starts a new
    audio process then. It never closes a failed stream: with a vanished JACK server,
    PortAudio's abort waits forever, and a process that exits cannot hang.
    """
    raise_priority()
    counters = SharedCounters(AUDIO_COUNTERS, setup.audio_counters)
    control = SharedCounters(CONTROL_FLAGS, setup.control)
    out_ring, in_ring = setup.attach_rings()
    try:
        sd = import_sounddevice()
        devices = choose_devices(setup.config)
        callback = _make_callback(out_ring, in_ring, counters, setup.doorbell)
        common = dict(
            samplerate=setup.config.audio.sample_rate,
            blocksize=setup.config.audio.block_size,
            dtype="float32",
            latency="low",
        )
        if in_ring is not None and devices.input is not None:
            stream = sd.Stream(
                device=(devices.input, devices.output),
                channels=(setup.input_channels, setup.output_channels),
                callback=callback,
                **common,
            )
            control["input_latency_s"], control["output_latency_s"] = stream.latency
        else:
            stream = sd.OutputStream(
                device=devices.output,
                channels=setup.output_channels,
                callback=lambda out, n, t, s: callback(None, out, n, t, s),
                **common,
            )
            control["output_latency_s"] = float(stream.latency)
        lock_memory()
        stream.start()
    except Exception as exc:  # device missing or busy: say why, let the supervisor retry
        Path(failure_file(setup.control)).write_text(f"{type(exc).__name__}: {exc}")
        os._exit(3)
    # Only shared flags are polled here: asking PortAudio about the stream (stream.active) from
    # this thread contends with the callback inside the JACK host and made it late. A failed
    # stream stops calling back, which the supervisor sees and answers by replacing us.
    parent = os.getppid()
    while control["audio_stop"] == 0.0:
        if os.getppid() != parent:
            os._exit(4)
        time.sleep(0.2)
    stream.stop()
    stream.close()
