"""Live audio: a sounddevice stream fed by the DSP process through shared-memory rings.

The last stage of the live flow (docs/architecture.md). Separate processes, because the GIL is
the real danger: the DSP process running ``Engine.tick()`` holds the GIL for most of every hop
(Python between the numba and torch calls), and PortAudio's callback thread needs the GIL to run
at all. In one process that contention turns into xruns; here the audio process has nothing else
to do, so its callback gets the GIL at once. Four processes play, under the supervisor:

- **Audio process** (:func:`_stream_main`): the PortAudio stream. Its callback only copies input
  into one ring and output out of another and counts xruns: no allocation of buffers, no locks,
  no torch, no logging.
- **DSP process** (:func:`_dsp_main`): builds the :class:`~caminos.engine.clock.engine.Engine`,
  warms it, and
  keeps the output ring ``buffer_hops`` hops ahead of the device, one ``tick()`` per hop, fed by
  the input ring, taking the events that arrived from the control process before each hop. It
  runs nothing else that holds the GIL for long: the voice phrases in a process of its own
  (:class:`caminos.models.voice.stream.VoiceStream` with ``process=True``).
- **Control process** (:func:`caminos.engine.live.control_process.control_main`): the OSC server,
  validation,
  ``/error`` replies, queries and slow preparation (files, landmarks), sending compact events
  to the DSP process through a pipe it reads without blocking.
- **Voice process** (:class:`caminos.models.voice.stream.VoiceStream`'s worker): phrases into a
  frame ring the DSP process reads.
- **Supervisor** (:class:`LivePlayer`, in the ``caminos play`` process): starts them, watches the
  callbacks, replaces the audio process with backoff when the device fails or disappears, and
  prints status. The installation schedule (:class:`Schedule`) and log live here too.

A missing PortAudio library or device raises :class:`~caminos.engine.core.errors.AudioDeviceError`
listing what
was found and pointing to ``caminos render``; nothing else in caminos imports sounddevice.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import logging.handlers
import math
import multiprocessing as mp
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np

from caminos.engine.core.config import DEFAULT_CONFIG_PATH, Config
from caminos.engine.core.errors import AudioDeviceError, CaminosError
from caminos.engine.core.ring import SharedCounters, SharedRing
from caminos.engine.dsp.spectrum_tap import SpectrumTap, SpectrumWriter
from caminos.engine.live.control_process import ControlSetup, control_main
from caminos.engine.live.shared import (AUDIO_COUNTERS, CONTROL_FLAGS, DSP_COUNTERS,
                                        FRONT_COUNTERS, failure_file, read_failure)

_MCL_CURRENT, _MCL_FUTURE = 1, 2  # mlockall flags (Linux)
RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)  # waits between attempts to reopen a device
STALL_SECONDS = 1.0  # no callback for this long while the stream claims to run: device lost
STARTUP_SECONDS = 5.0  # a new stream's first callback may take this long


def import_sounddevice():
    """Import sounddevice, or explain why live audio is unavailable.

    Raises
    ------
    AudioDeviceError
        The PortAudio library is missing (sounddevice raises ``OSError`` on import then).
    """
    try:
        import sounddevice
    except OSError as exc:
        raise AudioDeviceError(
            f"live audio needs the PortAudio library, which was not found ({exc}). Install it "
            "(Debian: apt-get install libportaudio2). Offline work needs no audio device: "
            "caminos render, reconstruct, morph, train.") from None
    return sounddevice


def describe_devices() -> str:
    """Every host API and device PortAudio finds, for ``caminos devices`` and error messages."""
    sd = import_sounddevice()
    lines = []
    for api_index, api in enumerate(sd.query_hostapis()):
        lines.append(f"host API {api_index}: {api['name']}")
        for index in api["devices"]:
            dev = sd.query_devices(index)
            marks = []
            if index == api["default_output_device"]:
                marks.append("default out")
            if index == api["default_input_device"]:
                marks.append("default in")
            lines.append(f"  {index}: {dev['name']} ({dev['max_input_channels']} in, "
                         f"{dev['max_output_channels']} out, {dev['default_samplerate']:.0f} Hz)"
                         + (f" [{', '.join(marks)}]" if marks else ""))
        if not api["devices"]:
            lines.append("  (no devices)")
    return "\n".join(lines)


def _find_device(sd, wanted: str, host_api: str, kind: str) -> int | None:
    """Index of the device named (or numbered) ``wanted``; the host's default when empty."""
    key = "max_output_channels" if kind == "output" else "max_input_channels"
    devices = sd.query_devices()
    apis = sd.query_hostapis()
    candidates = [i for i, d in enumerate(devices) if d[key] > 0
                  and (not host_api or host_api.lower() in apis[d["hostapi"]]["name"].lower())]
    if wanted.strip().isdigit():
        index = int(wanted)
        return index if index in candidates else None
    if wanted:
        named = [i for i in candidates if wanted.lower() in devices[i]["name"].lower()]
        return named[0] if named else None
    for api in apis:  # a host default among the candidates, the chosen API's first
        if host_api and host_api.lower() not in api["name"].lower():
            continue
        default = api[f"default_{kind}_device"]
        if default in candidates:
            return default
    return candidates[0] if candidates else None


@dataclass
class DeviceChoice:
    """The devices and channel counts a stream opens with."""

    output: int
    input: int | None
    output_channels: int
    input_channels: int
    description: str


def choose_devices(config: Config) -> DeviceChoice:
    """Resolve ``[audio]`` device settings against what PortAudio finds.

    Raises
    ------
    AudioDeviceError
        No output device (or not the one named): the message lists what was found and points
        to offline rendering.
    """
    sd = import_sounddevice()
    audio = config.audio
    output = _find_device(sd, audio.output_device, audio.host_api, "output")
    if output is None:
        wanted = f"output device {audio.output_device!r}" if audio.output_device else \
            "output device"
        api = f" on host API {audio.host_api!r}" if audio.host_api else ""
        raise AudioDeviceError(f"no {wanted}{api} found (audio.output_device, audio.host_api). "
                               f"PortAudio found:\n{describe_devices()}\nWithout a device, "
                               "render offline: caminos render IN -o OUT.wav")
    input_index = None
    input_channels = 0
    if audio.input_channels > 0 and audio.input_device.lower() != "none":
        input_index = _find_device(sd, audio.input_device, audio.host_api, "input")
        if input_index is None and audio.input_device:
            raise AudioDeviceError(f"no input device {audio.input_device!r} found "
                                   f"(audio.input_device); PortAudio found:\n"
                                   f"{describe_devices()}\nUse input_device = \"none\" to play "
                                   "without live input.")
        if input_index is not None:
            input_channels = min(audio.input_channels,
                                 int(sd.query_devices(input_index)["max_input_channels"]))
    out_dev = sd.query_devices(output)
    output_channels = min(audio.channels, int(out_dev["max_output_channels"]))
    text = f"out: {out_dev['name']} ({output_channels} ch)"
    if input_index is not None and input_channels:
        text += f", in: {sd.query_devices(input_index)['name']} ({input_channels} ch)"
    else:
        input_index = None
    return DeviceChoice(output, input_index, output_channels, input_channels, text)


# ---------------------------------------------------------------------------------- DSP process
@dataclass(frozen=True)
class _Shared:
    """What the child processes attach to: the configuration and the shared blocks' names."""

    config: Config
    out_ring: str
    in_ring: str | None
    ring_frames: int
    output_channels: int
    input_channels: int
    audio_counters: str
    dsp_counters: str
    control: str
    spectrum: str

    def attach_rings(self) -> tuple[SharedRing, SharedRing | None]:
        """The output ring and the input ring (None without input), attached by name."""
        out_ring = SharedRing(self.ring_frames, self.output_channels, self.out_ring)
        in_ring = (SharedRing(2 * self.ring_frames, self.input_channels, self.in_ring)
                   if self.in_ring else None)
        return out_ring, in_ring


def raise_priority(niceness: int = -10) -> bool:
    """Ask the OS to run this thread (and threads it starts later) ahead of ordinary work.

    Takes effect where permitted (root, or a raised RLIMIT_NICE as audio groups set); returns
    whether it did. On a shared machine this is what keeps hops on time under outside load.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except (PermissionError, OSError, AttributeError):
        return False
    return True


DSP_REALTIME_PRIORITY = 5  # SCHED_FIFO: above every ordinary process, below JACK's own threads


def raise_to_realtime(priority: int = DSP_REALTIME_PRIORITY) -> bool:
    """Run this thread under the real-time FIFO scheduler where permitted (root, or an
    ``rtprio`` limit as audio groups set); returns whether it did.

    Niceness only weighs a process against others: on a 2-core machine with training jobs, a
    flood of OSC packets being parsed and a voice rendering, the hop clock still waited for a
    core for milliseconds at a time (288 underruns in 60 s of the OSC fuzz at nice -10). A FIFO
    thread runs as soon as it wakes. It sleeps whenever the ring is full, and the kernel keeps 5 %
    of each second for ordinary processes (``sched_rt_runtime_us``) should a tick ever run away.
    Processes started later (the voice's) do not inherit it (``SCHED_RESET_ON_FORK``).
    """
    try:
        policy = os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0)
        os.sched_setscheduler(0, policy, os.sched_param(priority))
    except (PermissionError, OSError, AttributeError):
        return False
    return True


def lock_memory() -> bool:
    """Keep every page of this process in RAM, now and later (``mlockall``); returns whether it
    could. Without it, the kernel may reclaim the pages of code that runs once a hop (this
    machine's proactive reclaim did, every few seconds), and the next callback waits for the disk:
    JACK logged hundreds of "client was not finished" xruns in 30 s that way."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.mlockall(_MCL_CURRENT | _MCL_FUTURE) == 0
    except (OSError, AttributeError):
        return False


def _dsp_main(setup: _Shared, record: str | None, events, score: bool = False) -> None:
    """Body of the DSP process: engine, warm-up, then one tick per hop the device consumes;
    ``events`` is the read end of the control process's pipe (None without it); with
    ``score``, the first hop waits until the control process has queued the score's start."""
    raise_priority()
    counters = SharedCounters(DSP_COUNTERS, setup.dsp_counters)
    stop = SharedCounters(CONTROL_FLAGS, setup.control)
    try:
        _dsp_loop(setup, counters, stop, record, events, score)
    except BaseException as exc:  # reported to the audio process, which prints it
        counters["failed"] = 1.0
        Path(failure_file(setup.dsp_counters)).write_text(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        counters.close()
        stop.close()


def _dsp_loop(setup: _Shared, counters: SharedCounters, stop: SharedCounters,
              record: str | None, events, score: bool) -> None:
    import torch

    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.surface import attach
    from caminos.engine.live.control_process import EventReceiver

    torch.set_num_threads(1)
    # Threads that remain here (a recording's writer) wait at most 0.5 ms for the GIL.
    sys.setswitchinterval(0.0005)
    config = setup.config
    engine = Engine(config, channels=setup.output_channels, startup_events=False, realtime=True)
    engine.warm_up()
    lock_memory()
    surface = attach(engine, recordings=Path(record).parent if record else None)
    if record:  # first, so the score holds the start-up events too
        engine.post("/engine/record", Path(record).name)
    if not score:  # a score holds its own start-up events
        engine.post_startup_events()
    out_ring, in_ring = setup.attach_rings()
    hop, sr = engine.hop, engine.sample_rate
    hop_seconds = hop / sr
    in_block = np.zeros((hop, max(setup.input_channels, 1)), dtype=np.float32)
    in_mono = np.zeros(hop)
    out32 = np.zeros((hop, setup.output_channels), dtype=np.float32)
    receiver = EventReceiver(events, engine) if events is not None else None
    spectrum_tap = SpectrumTap(name=setup.spectrum)
    spectrum = SpectrumWriter(spectrum_tap, config.stft.n_fft, hop, sr)
    latent = engine.latent_position
    spectrum.warm_up(np.zeros((hop, setup.output_channels))[:, 0], latent)
    counters["pid"] = float(os.getpid())
    stream = engine.voice.stream
    counters["voice"] = float(stream is not None)
    counters["voice_pid"] = float(getattr(stream, "worker_pid", 0))
    navigator = surface.navigator
    if in_ring is not None:  # duplex: output follows input, after buffer_hops hops of silence
        out_ring.write(np.zeros((config.audio.buffer_hops * hop, setup.output_channels),
                                dtype=np.float32))
    parent = os.getppid()
    latency = engine.latency
    counters["latency_samples"] = latency.input_to_output
    counters["control_latency_samples"] = latency.control_to_output
    # Everything built so far (torch, numba, the engine) stays out of the garbage collector's
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
                np.mean(in_block, axis=1, out=in_mono)
                engine.input.push(in_mono)
            # the hop computed now sounds after what waits in the ring and the device's buffer
            engine.clock_origin = (time.time() + out_ring.available() / sr
                                   + stop["output_latency_s"] - engine.hop_index * hop_seconds)
            values[i_origin] = engine.clock_origin
            if receiver is not None:
                receiver.receive()
            block = engine.tick()
            out32[:] = block
            out_ring.write(out32)
            spectrum.push(block[:, 0], latent)
            peak = max(peak, float(np.abs(block).max()))
            energy += float(np.vdot(block[:, 0], block[:, 0]))
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
        if record and surface.recorder.recording is not None:
            engine.post("/engine/record/stop")
            engine.tick()  # applies the stop; this hop is not recorded
            surface.recorder.wait(timeout=60.0)
        engine.close()
        out_ring.close()
        spectrum_tap.close()
        if in_ring is not None:
            in_ring.close()


def _publish_status(engine, counters: SharedCounters) -> None:
    status = engine.status()
    for key in ("tick_ms_p50", "tick_ms_p99", "tick_ms_max", "bad_model_frames",
                "control_errors", "events_applied", "cpu_load", "bad_source_frames"):
        counters[key] = float(status[key])
    counters["nonfinite"] = float(status["nonfinite_out"])


# -------------------------------------------------------------------------------- audio process
def _make_callback(out_ring: SharedRing, in_ring: SharedRing | None, counters: SharedCounters):
    """The PortAudio callback: copy rings, count; nothing else (no allocation of buffers)."""
    values = counters.values
    i_calls, i_frames = counters.index("callbacks"), counters.index("frames")
    i_xruns, i_under = counters.index("xruns"), counters.index("underruns")
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

    return callback


@dataclass
class LiveReport:
    """What a live run did: counts, levels and latency, for the status line and tests."""

    seconds: float
    callbacks: int
    expected_callbacks: float
    xruns: int
    underruns: int
    restarts: int
    peak_dbfs: float
    nonfinite: int
    tick_ms_p99: float
    latency: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The report as JSON (``caminos play --report``)."""
        return json.dumps(self.__dict__, indent=1)


def _stream_main(setup: _Shared) -> None:
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
        callback = _make_callback(out_ring, in_ring, counters)
        common = dict(samplerate=setup.config.audio.sample_rate,
                      blocksize=setup.config.audio.block_size, dtype="float32", latency="low")
        if in_ring is not None and devices.input is not None:
            stream = sd.Stream(device=(devices.input, devices.output),
                               channels=(setup.input_channels, setup.output_channels),
                               callback=callback, **common)
            control["input_latency_s"], control["output_latency_s"] = stream.latency
        else:
            stream = sd.OutputStream(device=devices.output, channels=setup.output_channels,
                                     callback=lambda out, n, t, s: callback(None, out, n, t, s),
                                     **common)
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


class LivePlayer:
    """Plays the engine live: a DSP process, an audio process, and this supervisor.

    The supervisor (this object, in the caller's process) starts the DSP process, waits until its
    engine is warm and the output ring is full, then starts the audio process. It watches the
    callbacks' clock: when they stop (device lost, server gone, stream error) it kills the audio
    process and starts another, waiting longer after each failed attempt; the DSP process and
    the engine's state are untouched meanwhile.

    Parameters
    ----------
    config : Config
    record : str, optional
        Path prefix: record from the first hop as ``/engine/record`` does, into ``PREFIX.wav``
        (the engine's output, exactly) and ``PREFIX.score`` (every control event with its hop;
        ``caminos render --score PREFIX.score`` replays it to the same samples).
    osc : bool
        Start the control process with the OSC server (:mod:`caminos.engine.live.control_process`).
    score : str, optional
        A score to play from the first hop (its events land on their hops, as offline).
    loop_score : bool
        Play the score again from its start after its end, forever.
    web : bool
        Serve the control page from the control process (:mod:`caminos.engine.control.web`), on
        ``[web]``'s
        host and port; off loopback a page must present :attr:`web_token`.
    log : logging.Logger, optional
        Where status and restarts are logged (installation mode: a rotating file).
    """

    def __init__(self, config: Config, record: str | None = None, osc: bool = True,
                 log: logging.Logger | None = None, score: str | None = None,
                 loop_score: bool = False, web: bool = False) -> None:
        self.config = config
        sd = import_sounddevice()
        self.devices = choose_devices(config)  # fail now, with the list, if there is none
        sd._terminate()  # the audio process opens its own PortAudio; this one must not linger
        self.record = record
        self.osc = osc
        self.score = score
        self.loop_score = loop_score
        self.web = web
        self.web_token = (config.web.token or secrets.token_urlsafe(18)) if web else ""
        self.log = log or logging.getLogger("caminos.audio")
        hop = config.stft.hop
        self.hop = hop
        self.block_size = config.audio.block_size
        # The ring holds the hops computed ahead plus one device block of slack.
        self.ring_frames = config.audio.buffer_hops * hop + max(self.block_size, hop)
        self.counters = SharedCounters(AUDIO_COUNTERS)
        self.dsp = SharedCounters(DSP_COUNTERS)
        self.control = SharedCounters(CONTROL_FLAGS)
        self.front = SharedCounters(FRONT_COUNTERS)
        self.spectrum = SpectrumTap()
        self.out_ring = SharedRing(self.ring_frames, self.devices.output_channels)
        self.in_ring = (SharedRing(2 * self.ring_frames, self.devices.input_channels)
                        if self.devices.input_channels else None)
        self._shared = _Shared(config, self.out_ring.name,
                               self.in_ring.name if self.in_ring else None, self.ring_frames,
                               self.devices.output_channels, self.devices.input_channels,
                               self.counters.name, self.dsp.name, self.control.name,
                               self.spectrum.name)
        self._context = mp.get_context("spawn")
        self.process: mp.Process | None = None
        self.audio: mp.Process | None = None
        self.controller: mp.Process | None = None
        self._audio_started = 0.0
        self._failures = 0
        self.started = 0.0

    @property
    def stream_latency(self) -> tuple[float, float]:
        """The device's input and output latency in seconds, as PortAudio reports them."""
        return self.control["input_latency_s"], self.control["output_latency_s"]

    # -- lifecycle
    def start(self, timeout: float = 300.0) -> None:
        """Start the DSP process, wait until its engine is warm, then the audio process.

        Raises
        ------
        CaminosError
            The DSP process failed (its error is repeated) or did not get ready in time.
        AudioDeviceError
            The audio process could not open the device.
        """
        control = self.osc or self.score is not None or self.web
        receive, send = self._context.Pipe(duplex=False) if control else (None, None)
        # Not a daemon: it starts the voice's own process.
        self.process = self._context.Process(target=_dsp_main,
                                             args=(self._shared, self.record, receive,
                                                   self.score is not None),
                                             name="caminos-dsp", daemon=False)
        self.process.start()
        if receive is not None:
            receive.close()  # the DSP process has its own copy
        deadline = time.monotonic() + timeout
        while self.dsp["ready"] == 0.0:
            if self.dsp["failed"] or not self.process.is_alive():
                raise CaminosError(f"the DSP process failed: {self._dsp_error()}")
            if time.monotonic() > deadline:
                raise CaminosError(f"the DSP process was not ready after {timeout:.0f} s")
            time.sleep(0.05)
        if send is not None:
            self._start_control(send, deadline)
        while (self.in_ring is None and self.out_ring.free() >= self.hop
               and time.monotonic() < deadline):
            time.sleep(0.005)  # let it fill the ring before the device starts pulling
        self._start_audio()
        while self.counters["callbacks"] == 0.0:
            if not self.audio.is_alive():  # type: ignore[union-attr]
                raise AudioDeviceError(f"the audio stream did not start: {self._audio_error()}")
            if time.monotonic() > deadline:
                raise AudioDeviceError("the audio device called back no sample in "
                                       f"{timeout:.0f} s")
            time.sleep(0.01)
        self.started = time.monotonic()

    def _start_control(self, send, deadline: float) -> None:
        """Start the control process (OSC, a score) once the engine is ready; wait until it
        listens and has queued the score's start."""
        setup = ControlSetup(self.config, self.devices.output_channels, self.dsp.name,
                             self.counters.name, self.control.name, self.front.name,
                             bool(self.dsp["voice"]), self.osc, self.score, self.loop_score,
                             spectrum=self.spectrum.name, web=self.web, web_token=self.web_token)
        self.controller = self._context.Process(target=control_main,
                                                args=(setup, send, os.getpid()),
                                                name="caminos-control", daemon=True)
        self.controller.start()
        send.close()
        while self.front["ready"] == 0.0:
            if self.front["failed"] or not self.controller.is_alive():
                error = read_failure(self.front.name) or (
                    f"it exited with status {self.controller.exitcode}")
                raise CaminosError(f"the control process failed: {error}")
            if time.monotonic() > deadline:
                raise CaminosError("the control process was not ready in time")
            time.sleep(0.05)

    def _dsp_error(self) -> str:
        return read_failure(self.dsp.name) or (
            f"it exited with status {self.process.exitcode if self.process else None}")

    def _audio_error(self) -> str:
        return read_failure(self.control.name) or (
            f"it exited with status {self.audio.exitcode if self.audio else None}")

    def _start_audio(self) -> None:
        self.control["audio_stop"] = 0.0
        self.counters["last_time"] = 0.0
        self.audio = self._context.Process(target=_stream_main, args=(self._shared,),
                                           name="caminos-audio", daemon=True)
        self.audio.start()
        self._audio_started = time.monotonic()

    def _stop_audio(self, graceful: bool) -> None:
        audio, self.audio = self.audio, None
        if audio is None:
            return
        if graceful:
            self.control["audio_stop"] = 1.0
            audio.join(timeout=3.0)
        if audio.is_alive():
            audio.kill()
            audio.join(timeout=3.0)

    def stop(self) -> LiveReport:
        """Stop the audio and DSP processes (the DSP saves any recording); free shared memory."""
        self._stop_audio(graceful=True)
        self.control["stop"] = 1.0
        if self.controller is not None:
            self.controller.join(timeout=10)
            if self.controller.is_alive():
                self.controller.kill()
        report = self.report()
        if self.process is not None:
            self.process.join(timeout=60)
            if self.process.is_alive():
                self.process.kill()
        for shared in (self.out_ring, self.in_ring, self.counters, self.dsp, self.control,
                       self.front, self.spectrum):
            if shared is not None:
                shared.close()
        return report

    # -- supervision
    def healthy(self) -> bool:
        """Whether the audio process runs and its callback was called recently."""
        if self.audio is None or not self.audio.is_alive():
            return False
        last = self.counters["last_time"]
        if last == 0.0:  # a new stream: give the device time to start calling back
            return time.monotonic() - self._audio_started < STARTUP_SECONDS
        return time.monotonic() - last < STALL_SECONDS

    def restart(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Replace a failed audio process, after a wait that grows with each failed attempt."""
        if self.audio is not None and not self.audio.is_alive():
            reason = self._audio_error()
        else:
            reason = "no callback for a second (device or server gone)"
        self._stop_audio(graceful=False)
        wait = RESTART_BACKOFF_S[min(self._failures, len(RESTART_BACKOFF_S) - 1)]
        self.log.warning("audio stream lost (%s); reopening in %.1f s", reason, wait)
        self._failures += 1
        sleep(wait)
        self._start_audio()
        self.counters["restarts"] += 1

    def run(self, seconds: float | None = None, status_every: float = 0.0,
            on_status: Callable[[str], None] = print, schedule: "Schedule | None" = None) -> None:
        """Supervise until ``seconds`` pass (forever when None) or KeyboardInterrupt.

        Restarts the audio process whenever :meth:`healthy` fails; checks the DSP process is
        alive; prints a status line every ``status_every`` seconds; follows ``schedule``
        (installation start/stop times) by stopping and starting the audio process.
        """
        end = None if seconds is None else time.monotonic() + seconds
        next_status = time.monotonic() + status_every
        while end is None or time.monotonic() < end:
            time.sleep(0.1)
            if self.process is not None and not self.process.is_alive():
                raise CaminosError(f"the DSP process stopped: {self._dsp_error()}")
            if schedule is not None and not schedule.on(datetime.now()):
                if self.audio is not None:
                    self.log.info("outside the daily schedule: stream stopped")
                    self._stop_audio(graceful=True)
                continue
            if self.audio is None:
                self.log.info("inside the daily schedule: stream starting")
                self._start_audio()
                continue
            if not self.healthy():
                self.restart()
            elif self.counters["last_time"] > 0.0:
                self._failures = 0  # calling back again: the next failure waits briefly
            if status_every and time.monotonic() >= next_status:
                next_status = max(next_status + status_every, time.monotonic())
                on_status(self.status_line())

    # -- reporting
    def latency_breakdown(self) -> dict[str, float]:
        """Latency in milliseconds: algorithmic, buffering, device, and the two totals."""
        sr = self.config.audio.sample_rate
        algorithmic = 1000.0 * self.dsp["latency_samples"] / sr
        control = 1000.0 * self.dsp["control_latency_samples"] / sr
        ahead = 1000.0 * self.config.audio.buffer_hops * self.hop / sr
        device_out = 1000.0 * self.stream_latency[1]
        device_in = 1000.0 * self.stream_latency[0]
        return {"algorithmic_ms": algorithmic, "buffer_ms": ahead, "device_out_ms": device_out,
                "device_in_ms": device_in,
                "input_to_output_ms": device_in + algorithmic + ahead + device_out,
                "control_to_sound_ms": control + ahead + device_out}

    def status_line(self) -> str:
        """One line: time, CPU of a hop, xruns (the device's flags), underruns (the engine late
        with a hop: a hole in the sound), level, latency, restarts."""
        c, d = self.counters, self.dsp
        lat = self.latency_breakdown()
        peak = d["peak"]
        level = f"{20 * math.log10(peak):6.1f} dBFS" if peak > 0 else "  silent  "
        return (f"{time.monotonic() - self.started:7.1f} s | hop p99 {d['tick_ms_p99']:.2f} ms "
                f"of {1000 * self.hop / self.config.audio.sample_rate:.2f} | xruns "
                f"{int(c['xruns'])} | underruns {int(c['underruns'])} | peak {level} | latency in->out "
                f"{lat['input_to_output_ms']:.1f} ms, control->sound "
                f"{lat['control_to_sound_ms']:.1f} ms | restarts {int(c['restarts'])}")

    def report(self) -> LiveReport:
        """Counts so far (callbacks against those expected over the time they spanned)."""
        c, d = self.counters, self.dsp
        span = max(c["last_time"] - c["first_time"], 0.0)
        block = self.block_size or self.hop
        expected = span * self.config.audio.sample_rate / block + (1 if c["callbacks"] else 0)
        peak = d["peak"]
        return LiveReport(
            seconds=time.monotonic() - self.started if self.started else 0.0,
            callbacks=int(c["callbacks"]), expected_callbacks=expected,
            xruns=int(c["xruns"]), underruns=int(c["underruns"]),
            restarts=int(c["restarts"]),
            peak_dbfs=20 * math.log10(peak) if peak > 0 else -math.inf,
            nonfinite=int(d["nonfinite"]), tick_ms_p99=d["tick_ms_p99"],
            latency=self.latency_breakdown(),
            extra={"hops": int(d["hops"]),
                   "last_callback_age_s": (time.monotonic() - c["last_time"]
                                           if c["last_time"] else math.inf), 
                   "control_errors": int(d["control_errors"] + self.front["control_errors"]),
                   "events_applied": int(d["events_applied"]),
                   "osc_port": int(self.front["osc_port"]),
                   "web_port": int(self.front["web_port"]),
                   "output_underflows": int(c["output_underflows"]),
                   "input_overflows": int(c["input_overflows"]),
                   "devices": self.devices.description,
                   "audio_failures_in_a_row": self._failures})


# ---------------------------------------------------------------------------- installation mode
@dataclass(frozen=True)
class Schedule:
    """A daily on-time window, ``start`` to ``stop`` (``HH:MM``); it may run over midnight."""

    start: str
    stop: str

    def on(self, now: datetime) -> bool:
        """Whether the installation should sound at ``now``."""
        minutes = now.hour * 60 + now.minute
        start = _minutes(self.start)
        stop = _minutes(self.stop)
        if start == stop:
            return True
        if start < stop:
            return start <= minutes < stop
        return minutes >= start or minutes < stop


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def installation_logger(config: Config) -> logging.Logger:
    """A logger writing to ``engine.log_file``, rotated at ``engine.log_max_bytes`` (two files
    kept, so the log's disk use is bounded)."""
    path = Path(config.engine.log_file).expanduser()
    if not path.is_absolute():
        path = DEFAULT_CONFIG_PATH.parent / path
    logger = logging.getLogger("caminos.installation")
    logger.setLevel(logging.INFO)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=config.engine.log_max_bytes,
                                                   backupCount=1)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger
