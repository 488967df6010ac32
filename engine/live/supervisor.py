"""Live audio: a sounddevice stream fed by the DSP process through shared-memory rings.

The last stage of the live flow (docs/architecture.md). Separate processes, because the GIL is
the real danger: the DSP process running ``Engine.tick()`` holds the GIL for most of every hop
(Python between the numba calls), and PortAudio's callback thread needs the GIL to run
at all. In one process that contention turns into xruns; here the audio process has nothing else
to do, so its callback gets the GIL at once. Four processes play, under the supervisor:

- **Audio process** (:func:`stream_main`): the PortAudio stream. Its callback only copies input
  into one ring and output out of another and counts xruns: no allocation of buffers, no locks,
  no torch, no logging.
- **DSP process** (:func:`dsp_main`): builds the :class:`~caminos.engine.clock.engine.Engine`
  from the model's numbers (:class:`~caminos.engine.live.model_file.ModelFile`, no torch),
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

import json
import logging
import logging.handlers
import math
import multiprocessing as mp
import os
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable

from caminos.engine.clock.status import TIMING_WINDOW, measured_status
from caminos.engine.core.config import Config
from caminos.engine.core.errors import AudioDeviceError, CaminosError
from caminos.engine.core.ring import SharedArray, SharedCounters, SharedRing
from caminos.engine.dsp.spectrum_tap import SpectrumTap
from caminos.engine.live.audio_process import stream_main
from caminos.engine.live.control_process import ControlSetup, control_main
from caminos.engine.live.devices import choose_devices, import_sounddevice
from caminos.engine.live.doorbell import Doorbell
from caminos.engine.live.dsp_process import dsp_main
from caminos.engine.live.model_file import HopModelCache, ModelFile, default_cache_dir
from caminos.engine.live.overload import StepLog
from caminos.engine.live.published import PublishedClock
from caminos.engine.live.schedule import Schedule
from caminos.engine.live.shared import (
    AUDIO_COUNTERS,
    CONTROL_FLAGS,
    DSP_COUNTERS,
    FRONT_COUNTERS,
    ProcessSetup,
    read_failure,
)

RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)  # waits between attempts to reopen a device
STALL_SECONDS = 1.0  # no callback for this long while the stream claims to run: device lost
STARTUP_SECONDS = 5.0  # a new stream's first callback may take this long


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

    def __init__(
        self,
        config: Config,
        record: str | None = None,
        osc: bool = True,
        log: logging.Logger | None = None,
        score: str | None = None,
        loop_score: bool = False,
        web: bool = False,
    ) -> None:
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
        self.step_log = StepLog(self.front, config.engine.overload_retry_s, self.log)
        self.tick_times = SharedArray(TIMING_WINDOW)  # the DSP process writes one a hop
        # what every reader of a live run's status reads (the control process builds the same)
        self.clock = PublishedClock(
            self.dsp,
            self.counters,
            self.control,
            self.front,
            self.front,
            config.audio.sample_rate,
            hop,
            config.audio.buffer_hops * hop,
            self.tick_times.values,
        )
        self.spectrum = SpectrumTap(voices=self.devices.output_channels)  # a voice each
        self.out_ring = SharedRing(self.ring_frames, self.devices.output_channels)
        self.in_ring = (
            SharedRing(2 * self.ring_frames, self.devices.input_channels)
            if self.devices.input_channels
            else None
        )
        self._shared = ProcessSetup(
            config,
            self.out_ring.name,
            self.in_ring.name if self.in_ring else None,
            self.ring_frames,
            self.devices.output_channels,
            self.devices.input_channels,
            self.counters.name,
            self.dsp.name,
            self.control.name,
            self.spectrum.name,
            self.tick_times.name,
            doorbell=Doorbell(),
        )
        self._context = mp.get_context("spawn")
        # the model's numbers for the DSP and control processes
        self.model_file = ModelFile(HopModelCache(default_cache_dir()))
        self.process: mp.Process | None = None
        self.audio: mp.Process | None = None
        self.controller: mp.Process | None = None
        self._audio_started = 0.0
        self._audio_stopped_at: float | None = None  # monotonic time the audio process ended
        self._failures = 0
        self.started = 0.0

    # -- lifecycle
    def start(self, timeout: float = 300.0) -> None:
        """Compute the model's numbers (:class:`~caminos.engine.live.model_file.ModelFile`),
        start the DSP process, wait until its engine is warm, then the audio process.

        Raises
        ------
        CheckpointError
            The checkpoint could not be read.
        CaminosError
            The DSP process failed (its error is repeated) or did not get ready in time.
        AudioDeviceError
            The audio process could not open the device.
        """
        self._shared = replace(self._shared, model_file=self.model_file.write(self.config))
        control = self.osc or self.score is not None or self.web
        receive, send = self._context.Pipe(duplex=False) if control else (None, None)
        # Not a daemon: it starts the voice's own process.
        self.process = self._context.Process(
            target=dsp_main,
            args=(self._shared, self.record, receive, self.score is not None),
            name="caminos-dsp",
            daemon=False,
        )
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
        while (
            self.in_ring is None
            and self.out_ring.free() >= self.hop
            and time.monotonic() < deadline
        ):
            time.sleep(0.005)  # let it fill the ring before the device starts pulling
        self._start_audio()
        while self.counters["callbacks"] == 0.0:
            if not self.audio.is_alive():  # type: ignore[union-attr]
                raise AudioDeviceError(f"the audio stream did not start: {self._audio_error()}")
            if time.monotonic() > deadline:
                raise AudioDeviceError(f"the audio device called back no sample in {timeout:.0f} s")
            time.sleep(0.01)
        self.started = time.monotonic()

    def _start_control(self, send, deadline: float) -> None:
        """Start the control process (OSC, a score) once the engine is ready; wait until it
        listens and has queued the score's start."""
        setup = ControlSetup(
            self.config,
            self.devices.output_channels,
            self.dsp.name,
            self.counters.name,
            self.control.name,
            self.front.name,
            bool(self.dsp["voice"]),
            self.osc,
            self.score,
            self.loop_score,
            spectrum=self.spectrum.name,
            web=self.web,
            web_token=self.web_token,
            tick_times=self.tick_times.name,
            model_file=self._shared.model_file,
        )
        self.controller = self._context.Process(
            target=control_main,
            args=(setup, send, os.getpid()),
            name="caminos-control",
            daemon=True,
        )
        self.controller.start()
        send.close()
        while self.front["ready"] == 0.0:
            if self.front["failed"] or not self.controller.is_alive():
                error = read_failure(self.front.name) or (
                    f"it exited with status {self.controller.exitcode}"
                )
                raise CaminosError(f"the control process failed: {error}")
            if time.monotonic() > deadline:
                raise CaminosError("the control process was not ready in time")
            time.sleep(0.05)

    def _dsp_error(self) -> str:
        return read_failure(self.dsp.name) or (
            f"it exited with status {self.process.exitcode if self.process else None}"
        )

    def _audio_error(self) -> str:
        return read_failure(self.control.name) or (
            f"it exited with status {self.audio.exitcode if self.audio else None}"
        )

    def _start_audio(self) -> None:
        self.control["audio_stop"] = 0.0
        self.counters["last_time"] = 0.0
        self.audio = self._context.Process(
            target=stream_main, args=(self._shared,), name="caminos-audio", daemon=True
        )
        self.audio.start()
        self._audio_started = time.monotonic()
        self._audio_stopped_at = None

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
        self._audio_stopped_at = time.monotonic()

    def stop(self) -> LiveReport:
        """Stop the audio and DSP processes (the DSP saves any recording, or removes it when
        the device never played a hop); free shared memory."""
        self._stop_audio(graceful=True)
        if self.counters["callbacks"] == 0.0:  # failed before the device played a hop
            self.control["discard"] = 1.0  # so the DSP process leaves no --record files
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
        for shared in (
            self.out_ring,
            self.in_ring,
            self.counters,
            self.dsp,
            self.control,
            self.front,
            self.spectrum,
            self.tick_times,
        ):
            if shared is not None:
                shared.close()
        self._shared.doorbell.close()
        self.model_file.remove()
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

    def run(
        self,
        seconds: float | None = None,
        status_every: float = 0.0,
        on_status: Callable[[str], None] = print,
        schedule: "Schedule | None" = None,
    ) -> None:
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
            self.step_log.check()
            if status_every and time.monotonic() >= next_status:
                next_status = max(next_status + status_every, time.monotonic())
                on_status(self.status_line())

    # -- reporting
    def latency_breakdown(self) -> dict[str, float]:
        """Latency in milliseconds (:meth:`caminos.engine.clock.latency.Latency.breakdown_ms`):
        the engine's as the DSP process publishes it now, buffering, the device's, the totals."""
        return self.clock.latency().breakdown_ms()

    def status_line(self) -> str:
        """One line of the status every reader shows
        (:func:`caminos.engine.clock.status.measured_status`): time, CPU of a hop, xruns (the
        device's flags), underruns (the engine late with a hop: a hole in the sound), level,
        latency, restarts; and, once the overload watch has stepped the phase recovery down,
        how often."""
        status = measured_status(self.clock.measure())
        peak = status["peak_dbfs"]
        level = f"{peak:6.1f} dBFS" if peak is not None else "  silent  "
        fallbacks = status["phase_fallbacks"]
        return (
            f"{status['uptime_s']:7.1f} s | hop p99 {status['tick_ms_p99']:.2f} ms "
            f"of {1000 * self.hop / self.config.audio.sample_rate:.2f} | xruns "
            f"{status['xruns']} | underruns {status['underruns']} | peak {level} | "
            f"latency in->out {status['latency_ms']:.1f} ms, control->sound "
            f"{status['control_latency_ms']:.1f} ms | restarts {status['restarts']}"
            + (f" | phase fallbacks {fallbacks}" if fallbacks else "")
        )

    def report(self) -> LiveReport:
        """Counts so far (callbacks against those expected over the time they spanned)."""
        c, d = self.counters, self.dsp
        span = max(c["last_time"] - c["first_time"], 0.0)
        block = self.block_size or self.hop
        rate = self.config.audio.sample_rate
        expected = span * rate / block + (1 if c["callbacks"] else 0)
        peak = d["peak_run"]  # the whole run's, not the meter's last half second
        return LiveReport(
            seconds=time.monotonic() - self.started if self.started else 0.0,
            callbacks=int(c["callbacks"]),
            expected_callbacks=expected,
            xruns=int(c["xruns"]),
            underruns=int(c["underruns"]),
            restarts=int(c["restarts"]),
            peak_dbfs=20 * math.log10(peak) if peak > 0 else -math.inf,
            nonfinite=int(d["nonfinite"]),
            tick_ms_p99=self.clock.ticks().p99_ms,
            latency=self.latency_breakdown(),
            extra={
                "hops": int(d["hops"]),
                # at the moment the audio stopped, once it has: joining the other
                # processes afterwards is not an age of the stream
                "last_callback_age_s": (
                    (self._audio_stopped_at or time.monotonic()) - c["last_time"]
                    if c["last_time"]
                    else math.inf
                ),
                "control_errors": int(d["control_errors"] + self.front["control_errors"]),
                "events_applied": int(d["events_applied"]),
                "osc_port": int(self.front["osc_port"]),
                "phase_fallbacks": int(self.front["phase_fallbacks"]),
                "web_port": int(self.front["web_port"]),
                "realtime": bool(d["realtime"]),  # the hop clock under SCHED_FIFO
                "holes": int(c["holes"]),  # gaps in the sound: runs of underruns
                "longest_hole_ms": 1000.0 * c["longest_hole"] * block / rate,
                "output_underflows": int(c["output_underflows"]),
                "input_overflows": int(c["input_overflows"]),
                "devices": self.devices.description,
                "audio_failures_in_a_row": self._failures,
            },
        )


# ---------------------------------------------------------------------------- installation mode
