"""The hop clock as the other processes of ``caminos play`` see it: what it publishes.

The DSP process ticks the engine and publishes its hop, tick times, levels, counters and latency
in shared memory (:data:`~caminos.engine.live.shared.DSP_COUNTERS`); the audio process its
device's xruns, underruns, restarts and latencies. :class:`PublishedClock` reads them as a
:class:`~caminos.engine.clock.status.Clock`: the control process's replica is built with one (its
``/engine/status`` and timetags), and the supervisor's status line and the control page read the
same, through :func:`~caminos.engine.clock.status.measured_status`.
"""

from __future__ import annotations

import time
from typing import Mapping

import numpy as np

from caminos.engine.clock.latency import Latency
from caminos.engine.clock.status import TickTimes, Measured
from caminos.engine.core.ring import SharedCounters


class PublishedClock:
    """A :class:`~caminos.engine.clock.status.Clock` read from the shared counters of a live run.

    Parameters
    ----------
    dsp, audio, control : SharedCounters
        What the DSP process, the audio process and the supervisor publish
        (:data:`~caminos.engine.live.shared.DSP_COUNTERS`, ``AUDIO_COUNTERS``,
        ``CONTROL_FLAGS``: the device's latencies).
    front : SharedCounters
        What the control process publishes (:data:`~caminos.engine.live.shared.FRONT_COUNTERS`):
        its ``pid``.
    refused : mapping
        Where the control side counts the messages it refused before they reached the hop
        clock (its ``control_errors``): in the control process, the replica's own counters; in
        the supervisor, ``front``, where the control process copies them.
    sample_rate : int
        In Hz.
    hop : int
        Hop size, in samples.
    buffer_samples : int
        Samples computed ahead of the device (``audio.buffer_hops * hop``).
    tick_times : ndarray, shape (TIMING_WINDOW,), optional
        The DSP process's recent tick durations in seconds (a
        :class:`~caminos.engine.core.ring.SharedArray`'s values); without them, no tick times.
    """

    ticked = False

    def __init__(
        self,
        dsp: SharedCounters,
        audio: SharedCounters,
        control: SharedCounters,
        front: SharedCounters,
        refused: Mapping[str, float],
        sample_rate: int,
        hop: int,
        buffer_samples: int,
        tick_times: np.ndarray | None = None,
    ) -> None:
        self.dsp, self.audio, self.control, self.front = dsp, audio, control, front
        self.refused = refused
        self.tick_times = tick_times
        self.sample_rate, self.hop, self.buffer_samples = sample_rate, hop, buffer_samples

    def origin(self) -> float | None:
        origin = self.dsp["clock_origin"]
        return None if origin == 0.0 else origin

    def hops(self) -> int:
        return int(self.dsp["hops"])

    def latency(self) -> Latency:
        """The latency as the DSP process computed it (it publishes again when the look-ahead
        changes), with buffering and the device's latencies."""
        dsp, control = self.dsp, self.control
        engine = Latency.from_totals(
            dsp["latency_samples"], dsp["control_latency_samples"], self.sample_rate
        )
        return engine.live(
            self.buffer_samples, control["input_latency_s"], control["output_latency_s"]
        )

    def measure(self) -> Measured:
        dsp, audio = self.dsp, self.audio
        counts = {
            "bad_model_frames": int(dsp["bad_model_frames"]),
            "bad_source_frames": int(dsp["bad_source_frames"]),
            "control_errors": int(dsp["control_errors"]) + int(self.refused["control_errors"]),
            "events_applied": int(dsp["events_applied"]),
            "nonfinite_out": int(dsp["nonfinite"]),
            "xruns": int(audio["xruns"]),
            "underruns": int(audio["underruns"]),
            "restarts": int(audio["restarts"]),
        }
        ticks = self.ticks()
        first = audio["first_time"]
        live = {
            "path_position": dsp["path_position"],
            "path_playing": int(dsp["path_playing"]),
            "dsp_pid": int(dsp["pid"]),
            "osc_pid": int(self.front["pid"]),
            "voice_pid": int(dsp["voice_pid"]),
            "phase_fallbacks": int(self.front["phase_fallbacks"]),
            "clock_origin": repr(dsp["clock_origin"]),
        }  # text: an OSC float has 7 digits
        return Measured(
            self.hops(),
            self.hop / self.sample_rate,
            ticks,
            self.latency(),
            counts,
            peak=dsp["peak"],
            rms=dsp["rms"],
            uptime_s=time.monotonic() - first if first > 0 else 0.0,
            live=live,
        )

    def ticks(self) -> TickTimes:
        """Statistics of the hop clock's recent tick durations, computed here (a copy of the
        window the DSP process writes, one value a hop)."""
        if self.tick_times is None:
            return TickTimes()
        count = min(self.hops(), len(self.tick_times))
        return TickTimes.of(self.tick_times[:count].copy(), self.hop / self.sample_rate)

    # the hop clock's values that controls answer with (``/engine/get``)
    def file_seconds(self) -> tuple[float]:
        """Where the file player is, in seconds: ``/source/file/pos``'s value."""
        return (self.dsp["file_seconds"],)

    def path_position(self) -> tuple[float]:
        """Where the path player is, 0 .. 1: ``/path/pos``'s value."""
        return (self.dsp["path_position"],)
