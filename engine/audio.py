"""Live audio: a sounddevice stream fed by a DSP worker process through shared-memory rings.

The last stage of the live flow (DESIGN.md sections 1 and 3). Two processes, because the GIL is
the real danger: a DSP worker running ``Engine.tick()`` holds the GIL for most of every hop
(Python between the numba and torch calls), and PortAudio's callback thread needs the GIL to run
at all. In one process that contention turns into xruns; here the audio process has nothing else
to do, so its callback gets the GIL at once.

- **Audio process** (:class:`LivePlayer`): the PortAudio stream. Its callback only copies input
  into one ring and output out of another and counts xruns: no allocation of buffers, no locks,
  no torch, no logging. The main thread watches the stream, restarts it with backoff when the
  device fails or disappears, and prints status.
- **DSP process** (:func:`_dsp_main`): builds the :class:`~engine.engine.Engine`, warms it, and
  keeps the output ring ``buffer_hops`` hops ahead of the device, one ``tick()`` per hop, fed by
  the input ring. Control (OSC, when it runs) lives there too, beside the engine it controls.

A missing PortAudio library or device raises :class:`~engine.errors.AudioDeviceError` listing what
was found and pointing to ``caminos render``; nothing else in caminos imports sounddevice.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import math
import multiprocessing as mp
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.config import DEFAULT_CONFIG_PATH, Config
from engine.errors import AudioDeviceError, CaminosError
from engine.ring import SharedCounters, SharedRing

# Counters the audio callback writes (audio process) and those the DSP process writes.
AUDIO_COUNTERS = ("callbacks", "frames", "xruns", "underruns", "overruns", "first_time",
                  "last_time", "restarts")
DSP_COUNTERS = ("ready", "failed", "hops", "peak", "rms", "nonfinite", "tick_ms_p50",
                "tick_ms_p99", "tick_ms_max", "bad_model_frames", "control_errors",
                "events_applied", "latency_samples", "control_latency_samples", "osc_port")
RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)  # waits between attempts to reopen a device
STALL_SECONDS = 1.0  # no callback for this long while the stream claims to run: device lost


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
            "an output device"
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
class _DspSetup:
    config: Config
    out_ring: str
    in_ring: str | None
    ring_frames: int
    output_channels: int
    input_channels: int
    dsp_counters: str
    stop_flag: str
    record: str | None
    record_seconds: float
    osc: bool


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


def _dsp_main(setup: _DspSetup) -> None:
    """Body of the DSP process: engine, warm-up, then one tick per hop the device consumes."""
    raise_priority()
    counters = SharedCounters(DSP_COUNTERS, setup.dsp_counters)
    stop = SharedCounters(("stop", "output_latency_s"), setup.stop_flag)
    try:
        _dsp_loop(setup, counters, stop)
    except BaseException as exc:  # reported to the audio process, which prints it
        counters["failed"] = 1.0
        Path(_failure_file(setup.dsp_counters)).write_text(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        counters.close()
        stop.close()


def _failure_file(name: str) -> str:
    return os.path.join(os.environ.get("TMPDIR", "/tmp"), f"caminos-dsp-{name}.err")


def _dsp_loop(setup: _DspSetup, counters: SharedCounters, stop: SharedCounters) -> None:
    import torch

    from engine.engine import Engine

    torch.set_num_threads(1)
    config = setup.config
    engine = Engine(config, channels=setup.output_channels)
    engine.warm_up()
    out_ring = SharedRing(setup.ring_frames, setup.output_channels, setup.out_ring)
    in_ring = (SharedRing(setup.ring_frames, setup.input_channels, setup.in_ring)
               if setup.in_ring else None)
    hop, sr = engine.hop, engine.sample_rate
    hop_seconds = hop / sr
    in_block = np.zeros((hop, max(setup.input_channels, 1)), dtype=np.float32)
    in_mono = np.zeros(hop)
    out32 = np.zeros((hop, setup.output_channels), dtype=np.float32)
    recorder = _Recorder(engine, setup.record, setup.record_seconds) if setup.record else None
    server = _start_osc(engine, config) if setup.osc else None
    if server is not None:
        counters["osc_port"] = float(server.port)
    if in_ring is not None:  # duplex: output follows input, after buffer_hops hops of silence
        out_ring.write(np.zeros((config.audio.buffer_hops * hop, setup.output_channels),
                                dtype=np.float32))
    latency = engine.latency
    counters["latency_samples"] = latency.input_to_output
    counters["control_latency_samples"] = latency.control_to_output
    counters["ready"] = 1.0
    peak = 0.0
    energy = 0.0
    meter_hops = max(1, round(sr / hop / 2))  # the meter covers half a second
    i_hops, i_peak, i_rms = counters.index("hops"), counters.index("peak"), counters.index("rms")
    values = counters.values
    try:
        while stop["stop"] == 0.0:
            if out_ring.free() < hop or (in_ring is not None and in_ring.available() < hop):
                time.sleep(hop_seconds / 8)
                continue
            if in_ring is not None:
                in_ring.read_into(in_block)
                np.mean(in_block, axis=1, out=in_mono)
                engine.input.push(in_mono)
            # the hop computed now sounds after what waits in the ring and the device's buffer
            engine.clock_origin = (time.time() + out_ring.available() / sr
                                   + stop["output_latency_s"] - engine.hop_index * hop_seconds)
            block = engine.tick()
            out32[:] = block
            out_ring.write(out32)
            if recorder is not None:
                recorder.add(block)
            peak = max(peak, float(np.abs(block).max()))
            energy += float(np.vdot(block[:, 0], block[:, 0]))
            hops = engine.hop_index
            values[i_hops] = hops
            if hops % meter_hops == 0:
                values[i_peak] = peak
                values[i_rms] = math.sqrt(energy / (meter_hops * hop))
                peak = energy = 0.0
                _publish_status(engine, counters)
    finally:
        _publish_status(engine, counters)
        if server is not None:
            server.stop()
        if recorder is not None:
            recorder.save()
        out_ring.close()
        if in_ring is not None:
            in_ring.close()


def _publish_status(engine, counters: SharedCounters) -> None:
    status = engine.status()
    for key in ("tick_ms_p50", "tick_ms_p99", "tick_ms_max", "bad_model_frames",
                "control_errors", "events_applied"):
        counters[key] = float(status[key])
    counters["nonfinite"] = float(status["nonfinite_out"])


def _start_osc(engine, config: Config):
    """The OSC server beside the engine, when the OSC module is installed."""
    try:
        from engine.osc import OscServer  # type: ignore[attr-defined]
    except ImportError:
        return None
    return OscServer(engine, config.osc).start()


class _Recorder:
    """Keeps a live run's output hops and applied control events, for comparison offline.

    Memory is bounded by ``seconds``; hops past it are dropped (and said so in the saved file).
    Files are written when the run ends, never on the hop path.
    """

    def __init__(self, engine, prefix: str, seconds: float) -> None:
        self.engine = engine
        self.prefix = prefix
        self.max_hops = int(seconds * engine.sample_rate / engine.hop)
        self.blocks = np.zeros((self.max_hops, engine.hop, engine.channels), dtype=np.float64)
        self.count = 0
        self.events: list[tuple[int, str, tuple]] = []
        engine.recorders.append(self._event)

    def _event(self, hop: int, address: str, args: tuple) -> None:
        if hop < self.max_hops:
            self.events.append((hop, address, args))

    def add(self, block: np.ndarray) -> None:
        if self.count < self.max_hops:
            self.blocks[self.count] = block
            self.count += 1

    def save(self) -> None:
        from engine.audio_io import write_audio_atomic

        samples = self.blocks[:self.count].reshape(-1, self.engine.channels)
        write_audio_atomic(f"{self.prefix}.wav", samples, self.engine.sample_rate, "FLOAT")
        Path(f"{self.prefix}.events.json").write_text(json.dumps(
            {"sample_rate": self.engine.sample_rate, "hop": self.engine.hop, "hops": self.count,
             "events": [[h, a, list(v)] for h, a, v in self.events]}, indent=1))


# -------------------------------------------------------------------------------- audio process
def _make_callback(out_ring: SharedRing, in_ring: SharedRing | None, counters: SharedCounters):
    """The PortAudio callback: copy rings, count; nothing else (no allocation of buffers)."""
    values = counters.values
    i_calls, i_frames = counters.index("callbacks"), counters.index("frames")
    i_xruns, i_under = counters.index("xruns"), counters.index("underruns")
    i_over = counters.index("overruns")
    i_first, i_last = counters.index("first_time"), counters.index("last_time")
    clock = time.monotonic

    def callback(indata, outdata, frames, time_info, status):
        now = clock()
        if values[i_calls] == 0.0:
            values[i_first] = now
        values[i_last] = now
        values[i_calls] += 1.0
        values[i_frames] += frames
        if status:
            values[i_xruns] += 1.0
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


class LivePlayer:
    """Plays the engine live: a DSP worker process and a PortAudio stream, restarted on failure.

    Parameters
    ----------
    config : Config
    record : str, optional
        Path prefix: at the end write ``PREFIX.wav`` (the engine's output, exactly) and
        ``PREFIX.events.json`` (every applied control event with its hop).
    record_seconds : float
        Most seconds kept for ``record``.
    osc : bool
        Start the OSC server in the DSP process (when :mod:`engine.osc` is present).
    log : logging.Logger, optional
        Where status and restarts are logged (installation mode: a rotating file).
    """

    def __init__(self, config: Config, record: str | None = None, record_seconds: float = 600.0,
                 osc: bool = True, log: logging.Logger | None = None) -> None:
        self.config = config
        self.sd = import_sounddevice()
        self.devices = choose_devices(config)
        self.record = record
        self.record_seconds = record_seconds
        self.osc = osc
        self.log = log or logging.getLogger("caminos.audio")
        hop = config.stft.hop
        self.hop = hop
        self.block_size = config.audio.block_size
        # The ring holds the hops computed ahead plus one device block of slack.
        self.ring_frames = config.audio.buffer_hops * hop + max(self.block_size, hop)
        self.counters = SharedCounters(AUDIO_COUNTERS)
        self.dsp = SharedCounters(DSP_COUNTERS)
        self.control = SharedCounters(("stop", "output_latency_s"))
        self.out_ring = SharedRing(self.ring_frames, self.devices.output_channels)
        self.in_ring = (SharedRing(self.ring_frames * 2, self.devices.input_channels)
                        if self.devices.input_channels else None)
        self.stream = None
        self.process: mp.Process | None = None
        self.started = 0.0
        self.stream_latency = (0.0, 0.0)

    # -- lifecycle
    def start(self, timeout: float = 300.0) -> None:
        """Start the DSP process, wait until its engine is warm, then open the stream.

        Raises
        ------
        CaminosError
            The DSP process failed (its error is repeated) or did not get ready in time.
        """
        setup = _DspSetup(self.config, self.out_ring.name,
                          self.in_ring.name if self.in_ring else None, self.ring_frames,
                          self.devices.output_channels, self.devices.input_channels,
                          self.dsp.name, self.control.name, self.record, self.record_seconds,
                          self.osc)
        raise_priority()  # before PortAudio starts its threads, which inherit it
        context = mp.get_context("spawn")
        self.process = context.Process(target=_dsp_main, args=(setup,), name="caminos-dsp",
                                       daemon=True)
        self.process.start()
        deadline = time.monotonic() + timeout
        while self.dsp["ready"] == 0.0:
            if self.dsp["failed"] or not self.process.is_alive():
                raise CaminosError(f"the DSP process failed: {self._dsp_error()}")
            if time.monotonic() > deadline:
                raise CaminosError(f"the DSP process was not ready after {timeout:.0f} s")
            time.sleep(0.05)
        while (self.in_ring is None and self.out_ring.free() >= self.hop
               and time.monotonic() < deadline):
            time.sleep(0.005)  # let it fill the ring before the device starts pulling
        self._open_stream()
        self.started = time.monotonic()

    def _dsp_error(self) -> str:
        path = Path(_failure_file(self.dsp.name))
        if path.exists():
            text = path.read_text()
            path.unlink()
            return text
        code = self.process.exitcode if self.process else None
        return f"it exited with status {code}"

    def _open_stream(self) -> None:
        sd, dev = self.sd, self.devices
        callback = _make_callback(self.out_ring, self.in_ring, self.counters)
        common = dict(samplerate=self.config.audio.sample_rate, blocksize=self.block_size,
                      dtype="float32", latency="low")
        if self.in_ring is not None:
            stream = sd.Stream(device=(dev.input, dev.output),
                               channels=(dev.input_channels, dev.output_channels),
                               callback=callback, **common)
            self.stream_latency = tuple(stream.latency)  # type: ignore[assignment]
        else:
            stream = sd.OutputStream(device=dev.output, channels=dev.output_channels,
                                     callback=lambda out, n, t, s: callback(None, out, n, t, s),
                                     **common)
            self.stream_latency = (0.0, float(stream.latency))
        self.control["output_latency_s"] = self.stream_latency[1]
        stream.start()
        self.stream = stream

    def _close_stream(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # a stream whose device vanished may fail to close; drop it
                pass

    def stop(self) -> LiveReport:
        """Close the stream, stop the DSP process (it saves any recording), free shared memory."""
        self._close_stream()
        report = self.report()
        self.control["stop"] = 1.0
        if self.process is not None:
            self.process.join(timeout=30)
            if self.process.is_alive():
                self.process.terminate()
        for shared in (self.out_ring, self.in_ring, self.counters, self.dsp, self.control):
            if shared is not None:
                shared.close()
        return report

    # -- supervision
    def healthy(self) -> bool:
        """Whether the stream runs and its callback was called recently."""
        if self.stream is None or not self.stream.active:
            return False
        last = self.counters["last_time"]
        return last == 0.0 or time.monotonic() - last < STALL_SECONDS

    def restart(self, sleep: Callable[[float], None] = time.sleep,
                attempts: int | None = None) -> bool:
        """Close the failed stream and reopen it, waiting longer after each failed attempt.

        PortAudio is re-initialised before each attempt so that a device (or JACK server) that
        came back is found again. Returns True once a stream runs; False after ``attempts``.
        """
        self._close_stream()
        tries = 0
        while attempts is None or tries < attempts:
            wait = RESTART_BACKOFF_S[min(tries, len(RESTART_BACKOFF_S) - 1)]
            tries += 1
            sleep(wait)
            try:
                self.sd._terminate()
                self.sd._initialize()
                self.devices = choose_devices(self.config)
                self.counters["last_time"] = 0.0
                self._open_stream()
            except Exception as exc:  # device still missing: try again later
                self.log.warning("audio device not back yet (attempt %d): %s", tries, exc)
                continue
            self.counters["restarts"] += 1
            self.log.info("audio stream restarted after %d attempt(s): %s", tries,
                          self.devices.description)
            return True
        return False

    def run(self, seconds: float | None = None, status_every: float = 0.0,
            on_status: Callable[[str], None] = print, schedule: "Schedule | None" = None) -> None:
        """Supervise until ``seconds`` pass (forever when None) or KeyboardInterrupt.

        Restarts the stream whenever :meth:`healthy` fails; checks the DSP process is alive;
        prints a status line every ``status_every`` seconds; follows ``schedule`` (installation
        start/stop times) by closing and reopening the stream.
        """
        end = None if seconds is None else time.monotonic() + seconds
        next_status = time.monotonic() + status_every
        while end is None or time.monotonic() < end:
            time.sleep(0.1)
            if self.process is not None and not self.process.is_alive():
                raise CaminosError(f"the DSP process stopped: {self._dsp_error()}")
            if schedule is not None and not schedule.on(datetime.now()):
                if self.stream is not None:
                    self.log.info("outside the daily schedule: stream stopped")
                    self._close_stream()
                continue
            if schedule is not None and self.stream is None:
                self.log.info("inside the daily schedule: stream starting")
                self.restart(attempts=None)
                continue
            if not self.healthy():
                self.log.warning("audio stream failed or device lost; restarting")
                self.restart()
            if status_every and time.monotonic() >= next_status:
                next_status += status_every
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
        """One line: time, CPU of a hop, xruns, level, latency."""
        c, d = self.counters, self.dsp
        lat = self.latency_breakdown()
        peak = d["peak"]
        level = f"{20 * math.log10(peak):6.1f} dBFS" if peak > 0 else "  silent  "
        return (f"{time.monotonic() - self.started:7.1f} s | hop p99 {d['tick_ms_p99']:.2f} ms "
                f"of {1000 * self.hop / self.config.audio.sample_rate:.2f} | xruns "
                f"{int(c['xruns'] + c['underruns'])} | peak {level} | latency in->out "
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
            extra={"hops": int(d["hops"]), "control_errors": int(d["control_errors"]),
                   "events_applied": int(d["events_applied"]), "osc_port": int(d["osc_port"]),
                   "devices": self.devices.description})


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
