"""OSC benchmark: messages per second the server sustains while the engine renders in real time,
and control-to-sound latency (message sent to the first changed output sample).

Usage::

    .venv/bin/python benchmarks/osc.py --json benchmarks/data/osc.json [--seconds 5]
        [--rates 0,1000,5000,10000] [--realtime | --live]

One process holds the engine, its OSC server and a DSP thread paced against the wall clock like
a sound card: hop ``k`` must be computed before ``start + (k + buffer_hops) * hop`` seconds (the
device buffer of ``audio.buffer_hops`` hops), or it counts as an xrun. A second process (this
script with ``--sender``) floods ``/latent/axis`` messages at a given rate and, every 0.4 s,
probes the latency: it sends ``/out/gain 0`` to an engine playing at -96 dB and notes the time;
the DSP thread finds the first output sample that rises above the quiet level and notes when
that sample sounds (its hop's playback time). The difference is the control-to-sound latency:
network, server, waiting for the hop, the hop itself, the limiter's look-ahead and the device
buffer. Rows: ``{case, messages_per_s, xruns, control_to_sound_ms_p50, control_to_sound_ms_p99}``
plus the sender's rate, lost datagrams and the number of probes. ``--live`` floods
``caminos play`` itself through JACK's dummy driver instead and reads its report (xruns as the
live player counts them; latency not measured there).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROBE_PERIOD_S = 0.4  # a probe turns the gain up, then down 0.15 s later, every 0.4 s
PROBE_ON_S = 0.15
LOUD = 1e-5  # a sample above this after a quiet hop is "changed": the probed sound peaks near
#             6e-3 at 0 dB, so about 1e-7 at -96 dB; the first ramped hop crosses 1e-5 within
#             a few samples
QUIET = 5e-6  # a hop whose peak is below this is quiet again


# ------------------------------------------------------------------------------ sender
def sender(port: int, rate: float, seconds: float) -> None:
    """Flood /latent/axis at ``rate`` messages/s and probe /out/gain; print a JSON report."""
    import os

    from caminos.engine.control.osc.messages import encode_message

    try:  # an ordinary program, whatever the engine's priority
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (PermissionError, AttributeError):
        pass
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = ("127.0.0.1", port)
    flood = [encode_message("/latent/axis", (i % 8, 0.01 * (i % 5))) for i in range(40)]
    up = encode_message("/out/gain", (0.0,))
    down = encode_message("/out/gain", (-96.0,))
    start = time.time()
    sent = 0
    probes = []
    next_probe, probe_up = start + 0.2, False
    while True:
        now = time.time()
        if now - start >= seconds:
            break
        if now >= next_probe:
            if not probe_up:
                sock.sendto(up, target)
                probes.append(time.time())
                probe_up, next_probe = True, next_probe + PROBE_ON_S
            else:
                sock.sendto(down, target)
                probe_up, next_probe = False, next_probe + PROBE_PERIOD_S - PROBE_ON_S
        due = int((now - start) * rate)
        while sent < due:
            try:
                sock.sendto(flood[sent % len(flood)], target)
            except OSError:  # the kernel's send buffer is full: try again next round
                break
            sent += 1
        time.sleep(0.0005)
    sock.sendto(down, target)
    print(json.dumps({"sent": sent, "seconds": time.time() - start, "probes": probes}))


# ------------------------------------------------------------------------- paced engine
class PacedDsp:
    """Ticks the engine against the wall clock, counts xruns and finds the probes' rises."""

    def __init__(self, engine, buffer_hops: int) -> None:
        self.engine = engine
        self.buffer_hops = buffer_hops
        self.hop_s = engine.hop / engine.sample_rate
        self.xruns = 0
        self.rises: list[float] = []
        self.late: list[tuple[float, float]] = []  # per xrun: (woke late by, tick took), ms
        self.quiet = True
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="paced-dsp")

    def start(self) -> "PacedDsp":
        self.thread.start()
        return self

    def _run(self) -> None:
        engine, hop_s, sr = self.engine, self.hop_s, self.engine.sample_rate
        start = time.time()
        # hop k sounds at device_start + k * hop_s; it may be computed buffer_hops hops earlier
        device_start = start + self.buffer_hops * hop_s
        engine.clock_origin = device_start
        k = 0
        while not self.stop.is_set():
            wake = device_start + (k - self.buffer_hops) * hop_s
            delay = wake - time.time()
            if delay > 0:
                time.sleep(delay)
            woke = time.time()
            block = engine.tick()
            done = time.time()
            if done > device_start + k * hop_s:
                self.xruns += 1
                engine.counters["xruns"] += 1
                # why: the thread woke late (the machine was busy, or the GIL held elsewhere)
                # or the tick itself ran long
                self.late.append((1000.0 * (woke - max(wake, 0.0)), 1000.0 * (done - woke)))
            peak = float(np.abs(block[:, 0]).max())
            if self.quiet and peak > LOUD:
                first = int(np.argmax(np.abs(block[:, 0]) > LOUD))
                self.rises.append(device_start + (k * engine.hop + first) / sr)
                self.quiet = False
            elif not self.quiet and peak < QUIET:
                self.quiet = True
            k += 1


def _major_faults() -> int:
    """Page faults of this process that had to read from disk (each can stall a thread for
    milliseconds: a sign of memory pressure from outside, not of the engine's work)."""
    with open("/proc/self/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[9])


def latencies(probes: list[float], rises: list[float]) -> list[float]:
    """Match each probe with the first rise after it (within a probe period), in ms."""
    out = []
    rises = sorted(rises)
    for t in probes:
        later = [r for r in rises if t <= r < t + PROBE_PERIOD_S]
        if later:
            out.append(1000.0 * (later[0] - t))
    return out


def run(seconds: float, rates: list[float], realtime: bool = False) -> list[dict]:
    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.osc.server import OscServer
    from caminos.engine.control.surface import attach
    from caminos.engine.core.config import load_config

    import torch

    torch.set_num_threads(1)  # as the live DSP worker does: no pool of spinning threads
    config = load_config()
    engine = Engine(config)
    attach(engine)
    engine.warm_up()
    server = OscServer(engine, config.osc.__class__(port=0)).start()
    # a steady sound to probe: the path's one point, heard alone, at -96 dB until a probe
    for address, *args in [
        ("/path/point", "bench", 1.0, -0.5),
        ("/path/play", "bench"),
        ("/latent/follow", 0.0),
        ("/out/gain", -96.0),
    ]:
        engine.post(address, *args)
    dsp = PacedDsp(engine, config.audio.buffer_hops).start()
    time.sleep(0.5)
    rows = []
    try:
        for rate in rates:
            before = server.counters["osc_messages"]
            xruns, rises, late = dsp.xruns, len(dsp.rises), len(dsp.late)
            faults = _major_faults()
            done = subprocess.run(
                [sys.executable, __file__, "--sender", str(server.port), str(rate), str(seconds)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            # (no preexec_fn, so Python spawns with vfork: a fork of a process holding torch
            # would stall its threads for milliseconds while the page tables are copied)
            time.sleep(0.3)  # the last probe's rise
            report = json.loads(done.stdout)
            handled = server.counters["osc_messages"] - before
            measured = latencies(report["probes"], dsp.rises[rises:])
            rows.append(
                {
                    "case": (f"flood_{int(rate)}_per_s" if rate else "idle")
                    + ("_realtime" if realtime else ""),
                    "messages_per_s": round(handled / report["seconds"], 1),
                    "xruns": dsp.xruns - xruns,
                    "control_to_sound_ms_p50": round(float(np.percentile(measured, 50)), 2)
                    if measured
                    else None,
                    "control_to_sound_ms_p99": round(float(np.percentile(measured, 99)), 2)
                    if measured
                    else None,
                    "sent_per_s": round(report["sent"] / report["seconds"], 1),
                    "lost": report["sent"] + 2 * len(report["probes"]) + 1 - handled,
                    "probes": len(measured),
                    "major_page_faults": _major_faults() - faults,
                    "xrun_woke_late_ms_max": round(
                        max((w for w, _ in dsp.late[late:]), default=0), 2
                    ),
                    "xrun_tick_ms_max": round(max((t for _, t in dsp.late[late:]), default=0), 2),
                    "hop_ms": round(1000 * dsp.hop_s, 3),
                    "device_buffer_ms": round(1000 * dsp.hop_s * config.audio.buffer_hops, 3),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    finally:
        dsp.stop.set()
        dsp.thread.join()
        server.stop()
    return rows


def run_live(seconds: float, rates: list[float]) -> list[dict]:
    """The same floods against ``caminos play`` itself, through JACK's dummy driver (48 kHz,
    256 frames): xruns as the live player counts them (DSP worker, audio process, OSC server
    beside the engine). Latency is not measured here (the output is not visible); the row
    carries the player's stated control-to-sound latency instead."""
    import os
    import shutil

    if shutil.which("jackd") is None:
        raise SystemExit("osc.py --live: jackd is not installed (scripts/setup.sh --test)")
    from benchmarks.live import start_jackd, stop_jackd

    jackd = start_jackd(f"caminos-bench-osc-{os.getpid()}")  # its own server; only it stops
    rows = []
    try:
        for rate in rates:
            rows.append(_live_case(seconds, rate))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        stop_jackd(jackd)
    return rows


def _live_case(seconds: float, rate: float) -> dict:
    import tempfile

    from benchmarks.live import free_port

    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        report_path = Path(folder) / "report.json"
        play = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "caminos.engine",
                "play",
                "--file",
                str(ROOT / "patches" / "demo" / "demo.wav"),
                "--seconds",
                str(seconds + 3),
                "--report",
                str(report_path),
                "--status-every",
                "0",
                "--set",
                f"osc.port={port}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = []
        for line in play.stdout:  # type: ignore[union-attr]
            output.append(line)
            if line.startswith("playing at"):
                break
        time.sleep(1.0)
        done = subprocess.run(
            [sys.executable, __file__, "--sender", str(port), str(rate), str(seconds)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        output.append(play.communicate(timeout=120)[0])
        if not report_path.exists():
            raise SystemExit("osc.py --live: caminos play wrote no report:\n" + "".join(output))
        report = json.loads(report_path.read_text())
    sent = json.loads(done.stdout)
    return {
        "case": f"live_jack_flood_{int(rate)}_per_s" if rate else "live_jack_idle",
        "messages_per_s": round(report["extra"]["events_applied"] / sent["seconds"], 1),
        "xruns": report["xruns"] + report["underruns"],
        "control_to_sound_ms_p50": None,
        "control_to_sound_ms_p99": None,
        "control_to_sound_ms_stated": round(report["latency"]["control_to_sound_ms"], 2),
        "sent_per_s": round(sent["sent"] / sent["seconds"], 1),
        "callbacks": report["callbacks"],
        "expected_callbacks": round(report["expected_callbacks"]),
        "tick_ms_p99": round(report["tick_ms_p99"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per case")
    parser.add_argument(
        "--rates", default="0,1000,5000,10000", help="flood rates in messages/s, comma-separated"
    )
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="run the engine's threads under SCHED_FIFO (as an audio host runs "
        "its DSP thread; needs root or rtprio), so other processes on a "
        "loaded machine do not cause the xruns",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="flood caminos play itself through JACK's dummy driver instead "
        "(needs jackd and libportaudio2)",
    )
    parser.add_argument(
        "--sender", nargs=3, metavar=("PORT", "RATE", "SECONDS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.sender:
        sender(int(args.sender[0]), float(args.sender[1]), float(args.sender[2]))
        return 0
    if args.realtime:
        import os

        try:  # threads started from here on inherit the policy
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))
        except (PermissionError, AttributeError) as exc:
            print(
                f"osc.py: --realtime not available ({exc}); running at normal priority",
                file=sys.stderr,
            )
    rates = [float(r) for r in args.rates.split(",")]
    rows = run_live(args.seconds, rates) if args.live else run(args.seconds, rates, args.realtime)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
