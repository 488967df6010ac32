"""What the live processes share by name: the layout of their shared counters, the setup each
child attaches to (:class:`ProcessSetup`), and where a child process that fails leaves its last
error for the supervisor to report.

The supervisor (:class:`caminos.engine.live.supervisor.LivePlayer`), the DSP and audio processes
(:mod:`caminos.engine.live.dsp_process`, :mod:`caminos.engine.live.audio_process`) and the control
process (:mod:`caminos.engine.live.control_process`) each open the same blocks of
:class:`caminos.engine.core.ring.SharedCounters` with these names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from caminos.engine.core.config import Config
from caminos.engine.core.ring import SharedRing

# Counters the audio callback writes (audio process) and those the DSP process writes.

AUDIO_COUNTERS = ("callbacks", "frames", "xruns", "output_underflows", "input_overflows",
                  "underruns", "overruns", "first_time", "last_time", "restarts")
DSP_COUNTERS = ("ready", "failed", "hops", "peak", "rms", "nonfinite", "tick_ms_p50",
                "tick_ms_p99", "tick_ms_max", "bad_model_frames", "control_errors",
                "events_applied", "latency_samples", "control_latency_samples", "clock_origin",
                "cpu_load", "bad_source_frames", "file_seconds", "path_position",
                "path_playing", "pid", "voice", "voice_pid", "realtime")
# Counters the control process writes, and the flags the supervisor raises for its children.
FRONT_COUNTERS = ("ready", "failed", "osc_port", "pid", "control_errors", "events_sent",
                  "web_port")
CONTROL_FLAGS = ("stop", "audio_stop", "input_latency_s", "output_latency_s", "go")


def failure_file(name: str) -> str:
    """Where a child process leaves its last error, named after a shared block it uses."""
    return os.path.join(os.environ.get("TMPDIR", "/tmp"), f"caminos-{name}.err")


def read_failure(name: str) -> str:
    """The error a child process left under ``name`` (removed once read), or ``""``."""
    path = Path(failure_file(name))
    if not path.exists():
        return ""
    text = path.read_text()
    path.unlink()
    return text


@dataclass(frozen=True)
class ProcessSetup:
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
