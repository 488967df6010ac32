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
import sys
from dataclasses import dataclass
from pathlib import Path

from caminos.engine.core.config import Config
from caminos.engine.core.errors import CaminosError
from caminos.engine.core.ring import SharedRing
from caminos.engine.live.doorbell import Doorbell

# Counters the audio callback writes (audio process) and those the DSP process writes (its tick
# durations go to a SharedArray of their own: the readers take the percentiles, not the hop clock).
AUDIO_COUNTERS = (
    "callbacks",
    "frames",
    "xruns",
    "output_underflows",
    "input_overflows",
    "underruns",
    "holes",  # runs of underruns back to back: the gaps a listener hears, however long
    "hole_run",  # underruns back to back up to the last callback (0 once it was whole)
    "longest_hole",  # the longest such run, in callbacks
    "overruns",
    "first_time",
    "last_time",
    "restarts",
)
DSP_COUNTERS = (
    "ready",
    "failed",
    "hops",
    "peak",  # the last half second's (the meter)
    "peak_run",  # the loudest sample since the run began (the report)
    "rms",
    "nonfinite",
    "bad_model_frames",
    "control_errors",
    "events_applied",
    "latency_samples",
    "control_latency_samples",
    "clock_origin",
    "bad_source_frames",
    "file_seconds",
    "path_position",
    "path_playing",
    "pid",
    "voice",
    "voice_pid",
    "realtime",
)
# Counters the control process writes, and the flags the supervisor raises for its children.
FRONT_COUNTERS = (
    "ready",
    "failed",
    "osc_port",
    "pid",
    "control_errors",
    "events_sent",
    "web_port",
    "phase_fallbacks",  # how often the overload watch stepped the phase recovery down
    "phase_fallen",  # how far down its ladder the engine plays (0: the chosen setting)
    "phase_step_method",  # what the watch last posted: the method's index in the streaming
    "phase_step_iterations",  # methods, and the iterations
)
# "discard": the run ends before its sound was heard; the DSP process removes its recording.
CONTROL_FLAGS = ("stop", "audio_stop", "input_latency_s", "output_latency_s", "go", "discard")
EXIT_FAILED = 1  # a child process's status when it failed and left its error for the supervisor
DEBUG_ENV = "CAMINOS_DEBUG"  # set (to anything but "" or 0): a child's traceback on stderr too


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


def report_failure(name: str, exc: BaseException) -> int:
    """Leave a child process's error for the supervisor (:func:`read_failure`), as one line.

    A :class:`~caminos.engine.core.errors.CaminosError` is a refusal with a message written for
    the user (a bad score line, a missing file): its message alone. Anything else is a bug or
    a failure of the system: its type and message, with the traceback kept in a log file that
    the line names (and on stderr too when ``CAMINOS_DEBUG`` is set). Ctrl-C, which reaches
    every process of the terminal, leaves nothing: the supervisor stops them all.

    Returns
    -------
    int
        The status the child exits with: :data:`EXIT_FAILED`, or 130 after Ctrl-C.
    """
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, CaminosError):
        line = str(exc)
    else:
        import traceback

        text = "".join(traceback.format_exception(exc))
        log = Path(failure_file(name)).with_suffix(".log")
        line = f"{type(exc).__name__}: {exc}"
        try:
            log.write_text(text)
            line += f" (traceback in {log})"
        except OSError:
            pass
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            sys.stderr.write(text)
    Path(failure_file(name)).write_text(" ".join(line.split("\n")))
    return EXIT_FAILED


@dataclass(frozen=True)
class ProcessSetup:
    """What the child processes attach to: the configuration, the shared blocks' names, and
    the model's numbers (:mod:`caminos.engine.live.model_file`; "": the DSP process computes
    them from the checkpoint, with torch)."""

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
    tick_times: str
    doorbell: Doorbell  # rung by the audio callback, waited on by the hop clock
    model_file: str = ""

    def attach_rings(self) -> tuple[SharedRing, SharedRing | None]:
        """The output ring and the input ring (None without input), attached by name."""
        out_ring = SharedRing(self.ring_frames, self.output_channels, self.out_ring)
        in_ring = (
            SharedRing(2 * self.ring_frames, self.input_channels, self.in_ring)
            if self.in_ring
            else None
        )
        return out_ring, in_ring
