"""Memory of ``caminos play``'s process tree: RSS, PSS and USS of every process, by role.

Usage::

    .venv/bin/python benchmarks/memory.py [--play-seconds 3] [--runs 1] [--json PATH]
        [--set SECTION.KEY=VALUE ...] [--no-reference]

Starts ``caminos play`` at the defaults (``config.toml``: two channels, the voice, OSC) against
a JACK dummy server of its own (48 kHz, 256 frames), waits until the engine's hop counter in
``/engine/status`` has passed ``--play-seconds`` of output, then reads every process of the tree
from ``/proc``: its role (``supervisor``, ``dsp``, ``control``, ``voice``, ``audio``, or
``resource_tracker`` for multiprocessing's helper), and from ``/proc/PID/smaps_rollup`` its
resident set (RSS), proportional set (PSS: shared pages divided among the processes that map
them, so the PSS sum is what the tree costs the machine), unique set (USS: private pages) and
locked pages (``mlockall``); ``JACK shm`` is the RSS of the JACK server's shared memory that the
process maps (libjack's, the same in any JACK client). ``torch`` and ``numba`` say whether
``libtorch`` and ``llvmlite`` are mapped (``/proc/PID/maps``).

Before caminos starts, the same is measured for references, one at a time, on the same server:
bare interpreters (``python -c "import numpy"``, ``python -c "import torch"``) and a PortAudio
stream of silence, so the numbers read as ratios against what the interpreter, torch and a JACK
client alone cost. With ``--runs N`` everything is measured N times and each value is the
median: file-backed pages mapped by fault-around depend on what the page cache holds, so one
run may be tens of MB off. Sizes are in MB (10^6 bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
from collections import deque
from dataclasses import asdict, dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.live import OscClient, free_port, start_jackd, stop_jackd

JACK_SERVER = f"caminos-memory-{os.getpid()}"
RATE, HOP = 48000, 256  # the dummy server's rate; the engine's hop (config.toml)
START_TIMEOUT_S = 300.0  # caminos play warms its engine and the voice before it plays
STOP_TIMEOUT_S = 120  # after Ctrl-C, caminos play stops in about 80 s at most (its own joins)
STOP_TAIL_LINES = 300  # lines of its output kept to report a stop that did not come
# A PortAudio stream of silence on the benchmark's JACK server, ready once it has called back.
_STREAM = """
import threading
import sounddevice as sd
called = threading.Event()
def callback(outdata, frames, t, status):
    outdata.fill(0)
    called.set()
stream = sd.OutputStream(samplerate=48000, blocksize=256, channels=2, dtype="float32",
                         latency="low", callback=callback)
stream.start()
if not called.wait(30):
    raise SystemExit("no callback in 30 s")
"""
# Reference processes: code run by a bare interpreter, which then says "ready" and waits.
REFERENCES = {
    "python + numpy": "import numpy",
    "python + torch": "import numpy, torch",
    "PortAudio stream on JACK": _STREAM,
}
_WAIT = "\nimport sys\nprint('ready', flush=True)\nsys.stdin.read()\n"
_SIZES = ("rss", "pss", "uss", "locked", "jack_shm")


@dataclass
class ProcessMemory:
    """One process's memory, in MB (10^6 bytes), and what it has loaded."""

    role: str
    pid: int
    rss: float
    pss: float
    uss: float
    locked: float
    jack_shm: float
    torch: bool
    numba: bool


def read_memory(pid: int, role: str) -> ProcessMemory:
    """RSS, PSS, USS (private clean + private dirty) and locked memory of ``pid`` from
    ``/proc/PID/smaps_rollup``; the RSS of its mappings of JACK's shared memory
    (``/dev/shm/jack*``, from ``/proc/PID/smaps``); whether it maps libtorch and llvmlite.

    Raises
    ------
    FileNotFoundError
        The process has ended.
    """
    sizes: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            sizes[key] = int(parts[0]) * 1024 / 1e6
    jack = 0.0
    in_jack = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if parts and not parts[0].endswith(":"):  # a mapping's header: range perms ... path
            in_jack = len(parts) > 5 and parts[5].startswith("/dev/shm/jack")
        elif in_jack and parts[0] == "Rss:":
            jack += int(parts[1]) * 1024 / 1e6
    maps = Path(f"/proc/{pid}/maps").read_text()
    return ProcessMemory(
        role,
        pid,
        round(sizes["Rss"], 1),
        round(sizes["Pss"], 1),
        round(sizes["Private_Clean"] + sizes["Private_Dirty"], 1),
        round(sizes.get("Locked", 0.0), 1),
        round(jack, 1),
        "libtorch" in maps,
        "llvmlite" in maps,
    )


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first, then theirs), from
    ``/proc/PID/task/TID/children``."""
    found: list[int] = []
    queue = [pid]
    while queue:
        tasks = Path(f"/proc/{queue.pop(0)}/task")
        if not tasks.is_dir():
            continue
        for task in tasks.iterdir():
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.append(child)
                    queue.append(child)
    return found


def role_of(pid: int, status: dict) -> str:
    """A process's role in the tree: by the pids ``/engine/status`` names (``dsp_pid``,
    ``osc_pid``, ``voice_pid``), else by its command line: multiprocessing's resource tracker,
    or ``audio`` for the other process multiprocessing spawned (the supervisor's)."""
    named = {
        int(status.get("dsp_pid", 0)): "dsp",
        int(status.get("osc_pid", 0)): "control",
        int(status.get("voice_pid", 0)): "voice",
    }
    if pid in named:
        return named[pid]
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    if "resource_tracker" in command:
        return "resource_tracker"
    if "spawn_main" in command:
        return "audio"
    return "other"


def measure_reference(code: str, label: str) -> ProcessMemory:
    """A bare interpreter running ``code`` then waiting, measured alone."""
    process = subprocess.Popen(
        [sys.executable, "-c", code + _WAIT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        if process.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise SystemExit(f"benchmarks/memory.py: the reference {label!r} did not start")
        return read_memory(process.pid, label)
    finally:
        process.stdin.close()  # type: ignore[union-attr]
        process.wait(timeout=30)


def _wait_status(osc: OscClient, hops: int, play: subprocess.Popen) -> dict:
    """``/engine/status`` once its hop counter has reached ``hops`` (asked again after each
    reply; a lost reply is asked again after the client's timeout)."""
    while True:
        if play.poll() is not None:
            raise SystemExit("benchmarks/memory.py: caminos play stopped before it had played")
        try:
            status = osc.status()
        except socket.timeout:
            continue
        if status["hop"] >= hops:
            return status


def measure_tree(play_seconds: float, overrides: list[str] = ()) -> list[ProcessMemory]:
    """Start ``caminos play`` (on the JACK server this process's clients find), wait until it
    has played ``play_seconds`` of output, read its tree, stop it with Ctrl-C as a performer
    does; returns the supervisor's row, then its descendants'.

    Raises
    ------
    SystemExit
        caminos play did not start, or stopped before it had played.
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "caminos.engine",
        "play",
        "--status-every",
        "0",
        "--seconds",
        str(START_TIMEOUT_S + play_seconds + 60),
        "--set",
        f"osc.port={port}",
    ]
    for override in overrides:
        command += ["--set", override]
    play = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        lines: list[str] = []
        for line in play.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("playing at"):
                break
        else:
            raise SystemExit("benchmarks/memory.py: caminos play did not start:\n" + "".join(lines))
        # the rest of its output, its last lines kept to say why if it does not stop
        tail: deque[str] = deque(maxlen=STOP_TAIL_LINES)
        threading.Thread(target=tail.extend, args=(play.stdout,), daemon=True).start()
        osc = OscClient(port)
        try:
            status = _wait_status(osc, round(play_seconds * RATE / HOP), play)
        finally:
            osc.close()
        rows = [read_memory(play.pid, "supervisor")]
        for pid in descendants(play.pid):
            try:
                rows.append(read_memory(pid, role_of(pid, status)))
            except FileNotFoundError:
                continue  # ended between the listing and the reading
        play.send_signal(signal.SIGINT)
        try:
            play.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise SystemExit(
                f"benchmarks/memory.py: caminos play did not stop {STOP_TIMEOUT_S} s "
                "after Ctrl-C; its last lines:\n" + "".join(tail)
            ) from None
        return rows
    finally:
        if play.poll() is None:
            play.kill()
            play.wait()


def run(
    play_seconds: float, overrides: list[str], references: bool
) -> tuple[list[ProcessMemory], list[ProcessMemory]]:
    """One measurement on a JACK dummy server of its own: the references (unless not
    ``references``), then the tree of ``caminos play``."""
    jackd = start_jackd(JACK_SERVER)
    try:
        refs = (
            [measure_reference(code, label) for label, code in REFERENCES.items()]
            if references
            else []
        )
        return refs, measure_tree(play_seconds, overrides)
    finally:
        stop_jackd(jackd)


def total(rows: list[ProcessMemory], label: str) -> ProcessMemory:
    """The sum of ``rows`` as one row (pid 0; torch and numba where any row has them)."""
    return ProcessMemory(
        label,
        0,
        *(round(sum(getattr(r, k) for r in rows), 1) for k in _SIZES),
        any(r.torch for r in rows),
        any(r.numba for r in rows),
    )


def medians(runs: list[list[ProcessMemory]]) -> list[ProcessMemory]:
    """Per role (in the first run's order), the median of each size over the runs that have
    it; the pid and what it loaded from the last of them."""
    rows = []
    for role in dict.fromkeys(r.role for r in runs[0]):
        seen = [r for rows_ in runs for r in rows_ if r.role == role]
        last = seen[-1]
        rows.append(
            ProcessMemory(
                role,
                last.pid,
                *(round(statistics.median(getattr(r, k) for r in seen), 1) for k in _SIZES),
                last.torch,
                last.numba,
            )
        )
    return rows


def _dicts(rows: list[ProcessMemory]) -> list[dict]:
    return [asdict(r) for r in rows]


def print_table(references: list[ProcessMemory], rows: list[ProcessMemory]) -> None:
    """A Markdown table: the references, then the tree and its sum, with each RSS as a
    multiple of the bare numpy interpreter's."""
    unit = references[0].rss if references else 0.0
    print(
        "| process | pid | RSS MB | PSS MB | USS MB | locked MB | JACK shm MB | torch | numba "
        "| RSS / bare |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in [*references, *rows, total(rows, "caminos play (sum)")]:
        ratio = f"{r.rss / unit:.1f}" if unit else "-"
        print(
            f"| {r.role} | {r.pid or ''} | {r.rss:.1f} | {r.pss:.1f} | {r.uss:.1f} | "
            f"{r.locked:.1f} | {r.jack_shm:.1f} | {'yes' if r.torch else 'no'} | "
            f"{'yes' if r.numba else 'no'} | {ratio} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--play-seconds",
        type=float,
        default=3.0,
        help="seconds of output the engine plays before the tree is read",
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="measure this many times and report medians"
    )
    parser.add_argument("--json", metavar="PATH", help="also write every run's rows as JSON")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a configuration override for caminos play (repeatable); none measures the defaults",
    )
    parser.add_argument("--no-reference", action="store_true", help="skip the reference processes")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    if shutil.which("jackd") is None:
        print(
            "benchmarks/memory.py: jackd is not installed (scripts/setup.sh --test)",
            file=sys.stderr,
        )
        return 2
    measured = [
        run(args.play_seconds, args.overrides, not args.no_reference) for _ in range(args.runs)
    ]
    references = medians([refs for refs, _ in measured]) if not args.no_reference else []
    rows = medians([tree for _, tree in measured])
    if args.runs > 1:
        sums = [total(tree, "sum") for _, tree in measured]
        print(
            "sums of the runs, RSS / PSS MB: "
            + ", ".join(f"{s.rss:.0f} / {s.pss:.0f}" for s in sums)
        )
    print_table(references, rows)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                {
                    "units": "MB",
                    "fields": [f.name for f in fields(ProcessMemory)],
                    "runs": [
                        {
                            "references": _dicts(refs),
                            "processes": _dicts(tree),
                            "sum": asdict(total(tree, "sum")),
                        }
                        for refs, tree in measured
                    ],
                    "median": {
                        "references": _dicts(references),
                        "processes": _dicts(rows),
                        "sum": asdict(total(rows, "sum")),
                    },
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
