"""What the live processes share by name: the layout of their shared counters, and where a
child process that fails leaves its last error for the supervisor to report.

The supervisor (:class:`caminos.engine.live.audio.LivePlayer`), the DSP and audio processes
(:mod:`caminos.engine.live.audio`) and the control process
(:mod:`caminos.engine.live.control_process`) each open the same blocks of
:class:`caminos.engine.core.ring.SharedCounters` with these names.
"""

from __future__ import annotations

import os
from pathlib import Path

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
