"""One status for every reader: what the hop clock measured, turned into the same numbers.

The hop clock runs in one place and is read in several: offline, the engine reads its own ticks
(:class:`OwnClock`); in ``caminos play`` the DSP and audio processes publish what they measured
in shared memory and the control process's replica, the control page and the supervisor's status
line read it there (:class:`caminos.engine.live.published.PublishedClock`). Both kinds of clock
answer :meth:`measure` with one :class:`Measured`, and :func:`measured_status` is the one
function that turns it into status keys and latencies, so ``/engine/status``, the page's meters,
the status line and the installation log show the same numbers, and all of them move when
``/phase/lookahead`` changes the latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from caminos.engine.clock.latency import Latency

TIMING_WINDOW = 4096
"""Hops of tick durations the status's percentiles cover (22 s at 5.3 ms)."""
COUNTS = (
    "bad_model_frames",
    "bad_source_frames",
    "control_errors",
    "events_applied",
    "nonfinite_out",
    "xruns",
    "underruns",
    "restarts",
)
"""The counters every status holds, whichever clock measured them."""


@dataclass(frozen=True)
class TickTimes:
    """Statistics of the recent ticks' durations.

    Attributes
    ----------
    p50_ms, p99_ms, max_ms : float
        Median, 99th percentile and largest tick duration, in milliseconds.
    cpu_load : float
        Mean tick duration over the hop's duration (1.0: the hop clock has no time to spare).
    """

    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    cpu_load: float = 0.0

    @classmethod
    def of(cls, seconds: np.ndarray, hop_seconds: float) -> "TickTimes":
        """The statistics of tick durations ``seconds`` (in seconds) of hops ``hop_seconds``
        long; zeros before the first tick."""
        if not len(seconds):
            return cls()
        p50, p99 = np.percentile(seconds, (50, 99))
        return cls(
            1000.0 * float(p50),
            1000.0 * float(p99),
            1000.0 * float(seconds.max()),
            float(seconds.mean()) / hop_seconds,
        )


@dataclass(frozen=True)
class Measured:
    """What the hop clock and the audio device measured, at one moment.

    Attributes
    ----------
    hops : int
        Hops computed.
    hop_seconds : float
        Duration of a hop, in seconds.
    ticks : TickTimes
        The recent ticks' durations.
    latency : Latency
        Delays as they are now (with buffering and the device's when live).
    counts : dict of str to int
        Every key of :data:`COUNTS`.
    peak, rms : float
        Output level of the last published block, linear (0 when nothing measured it).
    uptime_s : float
        Seconds since the device's first callback; 0 offline.
    live : dict
        What only a live run knows: the path player's ``path_position`` and ``path_playing``,
        the processes' ids (``dsp_pid``, ``osc_pid``, ``voice_pid``), ``clock_origin``.
    """

    hops: int
    hop_seconds: float
    ticks: TickTimes
    latency: Latency
    counts: dict[str, int]
    peak: float = 0.0
    rms: float = 0.0
    uptime_s: float = 0.0
    live: dict[str, Any] = field(default_factory=dict)


class Clock(Protocol):
    """What an engine asks of the clock that ticks it (see the module's docstring)."""

    ticked: bool
    """True when the engine this clock serves is the one that ticks (it records gestures and
    fades scenes hop by hop); False for a replica that only mirrors it."""

    def origin(self) -> float | None:
        """Wall time (``time.time()`` seconds) at which hop 0 sounds; None without a device."""

    def hops(self) -> int:
        """Hops computed so far."""

    def measure(self) -> Measured:
        """The numbers as they are now."""


def level_dbfs(level: float) -> float | None:
    """A linear level in dBFS; None for silence (no level to show)."""
    return 20.0 * math.log10(level) if level > 0.0 else None


def measured_status(measured: Measured) -> dict[str, Any]:
    """The status keys of a measurement: the one place they are computed.

    Returns
    -------
    dict
        ``hop``, ``seconds``, ``tick_ms_p50``, ``tick_ms_p99``, ``tick_ms_max``, ``cpu_load``,
        ``latency_ms`` (input to output) and ``control_latency_ms`` (a control to its sound),
        both with buffering and the device's latencies when live, and their parts
        (``latency_algorithmic_ms``, ``latency_buffer_ms``, ``latency_device_in_ms``,
        ``latency_device_out_ms``), every counter of :data:`COUNTS`, ``peak_dbfs`` and
        ``rms_dbfs`` (None for silence), ``uptime_s``, and what only a live run knows.
    """
    latency = measured.latency
    ticks = measured.ticks
    return {
        "hop": measured.hops,
        "seconds": measured.hops * measured.hop_seconds,
        "tick_ms_p50": ticks.p50_ms,
        "tick_ms_p99": ticks.p99_ms,
        "tick_ms_max": ticks.max_ms,
        "cpu_load": ticks.cpu_load,
        "latency_ms": latency.ms(latency.input_to_output),
        "control_latency_ms": latency.ms(latency.control_to_output),
        "latency_algorithmic_ms": latency.ms(latency.algorithmic),
        "latency_buffer_ms": latency.ms(latency.buffer),
        "latency_device_in_ms": latency.ms(latency.device_in),
        "latency_device_out_ms": latency.ms(latency.device_out),
        **{key: int(measured.counts[key]) for key in COUNTS},
        "peak_dbfs": level_dbfs(measured.peak),
        "rms_dbfs": level_dbfs(measured.rms),
        "uptime_s": measured.uptime_s,
        **measured.live,
    }


class OwnClock:
    """The clock of an engine that ticks itself (offline, tests, the DSP process): its own
    tick durations and counters, its algorithmic latency, no device.

    Parameters
    ----------
    engine : Engine
        Read at each call (``hop_index``, ``tick_seconds()``, ``counters``, ``latency``,
        ``clock_origin``, ``output``).
    """

    ticked = True

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def origin(self) -> float | None:
        return self.engine.clock_origin

    def hops(self) -> int:
        return int(self.engine.hop_index)

    def ticks(self) -> TickTimes:
        """The recent ticks' statistics."""
        engine = self.engine
        return TickTimes.of(engine.tick_seconds(), engine.hop / engine.sample_rate)

    def measure(self) -> Measured:
        engine = self.engine
        limiter = engine.output.limiter
        counts = {key: 0 for key in COUNTS}
        counts.update(engine.counters)
        counts["nonfinite_out"] = limiter.nonfinite_samples
        return Measured(
            self.hops(), engine.hop / engine.sample_rate, self.ticks(), engine.latency, counts
        )
