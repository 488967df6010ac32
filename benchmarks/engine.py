"""Engine benchmark: cost of one hop of the whole chain, offline render speed, xruns on JACK.

Rows (``--json PATH`` writes them; a table is printed either way):

- ``default`` / ``hop128``: the shipped model and default config at hop 256 and 128, the demo
  playing through the file player with latent noise moving; per-hop wall time as a fraction of
  the hop's duration (p50, p99, max), the same in thread CPU time (``cpu_*``: on a shared
  machine, wall-clock tails mostly measure other processes), and ``render_rtf``, the offline
  speed as a multiple of real time.
- ``rtpghi``: the same with the cheapest method that integrates phase (RTPGHI, look-ahead 1).
- ``phase_only``: the live phase method alone on the same frames: the reference measured in the
  same run, so ``ratio_to_phase`` says what the rest of the chain costs on top of it.
- ``jack_idle`` / ``jack_load``: ``caminos play`` for ``--seconds`` on ``jackd -d dummy`` (when
  installed), without and with one busy process per core; ``jack_reference_*``: a bare PortAudio
  stream writing silence under the same conditions, so xruns of the server and machine are told
  apart from the engine's.

    python benchmarks/engine.py --json engine.json             # about 5 minutes
    python benchmarks/engine.py --seconds 10 --no-jack         # the per-hop rows only
    python benchmarks/engine.py --no-jack --compare-model old.pt   # beside another model
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread: the per-hop timings mean one core

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.config import load_config  # noqa: E402
from engine.engine import Engine  # noqa: E402

DEMO = ROOT / "patches" / "demo" / "demo.wav"


def _fractions(seconds: np.ndarray, hop_seconds: float, prefix: str = "") -> dict:
    p50, p99 = np.percentile(seconds, [50, 99])
    return {f"{prefix}p50_fraction": p50 / hop_seconds, f"{prefix}p99_fraction": p99 / hop_seconds,
            f"{prefix}max_fraction": seconds.max() / hop_seconds}


def measure_chain(case: str, hop: int, seconds: float, model: str | None = None,
                  **overrides: object) -> tuple[dict, np.ndarray]:
    """Tick the default engine over ``seconds`` of the demo; returns its row and the decoded
    magnitude frames (for the phase-only reference). ``overrides``: ``engine.*`` keys;
    ``model``: another checkpoint than the configured one."""
    config = load_config(overrides={"stft.hop": hop,
                                    **({"model.checkpoint": model} if model else {}),
                                    **{f"engine.{k}": v for k, v in overrides.items()}})
    engine = Engine(config)
    engine.warm_up()
    engine.post("/source/file/open", str(DEMO))
    engine.post("/source/file/play", 1)
    engine.post("/latent/noise", 0.3)
    hops = int(seconds * config.audio.sample_rate / hop)
    wall = np.empty(hops)
    cpu = np.empty(hops)
    frames = np.empty((hops, engine.n_bins))
    started = time.perf_counter()
    for i in range(hops):
        t0, c0 = time.perf_counter(), time.thread_time()
        engine.tick()
        cpu[i] = time.thread_time() - c0
        wall[i] = time.perf_counter() - t0
        frames[i] = engine._decoded
    elapsed = time.perf_counter() - started
    hop_seconds = hop / config.audio.sample_rate
    row = {"case": case, "hop": hop, **_fractions(wall, hop_seconds),
           **_fractions(cpu, hop_seconds, "cpu_"),
           "render_rtf": hops * hop_seconds / elapsed, "xruns": None, "seconds": seconds,
           "phase_method": config.engine.phase_method, "lookahead": config.engine.lookahead}
    return row, frames


def measure_phase_only(frames: np.ndarray, hop: int, seconds: float) -> dict:
    """The live phase method alone (its own overlap-add included) on the chain's frames."""
    from engine.phase_stage import PhaseStage

    config = load_config(overrides={"stft.hop": hop})
    eng = config.engine
    stage = PhaseStage(config.stft, config.phase, eng.phase_method, eng.lookahead, eng.iterations,
                       0)
    out = np.zeros(hop)
    reference = np.zeros(config.stft.n_bins, dtype=np.complex128)
    for frame in frames[:16]:
        stage.process(frame, reference, out)
    stage.reset()
    wall = np.empty(len(frames))
    cpu = np.empty(len(frames))
    started = time.perf_counter()
    for i, frame in enumerate(frames):
        t0, c0 = time.perf_counter(), time.thread_time()
        stage.process(frame, reference, out)
        cpu[i] = time.thread_time() - c0
        wall[i] = time.perf_counter() - t0
    elapsed = time.perf_counter() - started
    hop_seconds = hop / config.audio.sample_rate
    return {"case": "phase_only", "hop": hop, **_fractions(wall, hop_seconds),
            **_fractions(cpu, hop_seconds, "cpu_"),
            "render_rtf": len(frames) * hop_seconds / elapsed, "xruns": None, "seconds": seconds,
            "phase_method": eng.phase_method, "lookahead": eng.lookahead}


# ---------------------------------------------------------------------------------------- JACK
_REFERENCE_STREAM = """
import sys, time, json
import sounddevice as sd
seconds = float(sys.argv[1])
counts = {"callbacks": 0, "xruns": 0}
def callback(outdata, frames, t, status):
    counts["callbacks"] += 1
    if status:
        counts["xruns"] += 1
    outdata.fill(0)
with sd.OutputStream(samplerate=48000, blocksize=256, channels=2, dtype="float32",
                     latency="low", callback=callback):
    time.sleep(seconds)
print(json.dumps(counts))
"""

_BUSY = "while True: pass"


def _jackd() -> subprocess.Popen:
    subprocess.run(["pkill", "-x", "jackd"], capture_output=True)
    time.sleep(0.5)
    process = subprocess.Popen(["jackd", "-d", "dummy", "-r", "48000", "-p", "256"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    subprocess.run(["jack_wait", "-w", "-t", "15"], capture_output=True)
    return process


def measure_jack(seconds: float, load: bool) -> list[dict]:
    """``caminos play`` and a bare reference stream on JACK dummy, with or without load."""
    busy = [subprocess.Popen([sys.executable, "-c", _BUSY]) for _ in range(os.cpu_count() or 1)
            ] if load else []
    server = _jackd()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            report_path = Path(tmp) / "report.json"
            subprocess.run([sys.executable, "-m", "engine", "play", "--file", str(DEMO),
                            "--seconds", str(seconds), "--no-osc", "--status-every", "0",
                            "--report", str(report_path)], cwd=ROOT, check=True,
                           capture_output=True, timeout=seconds + 300)
            report = json.loads(report_path.read_text())
        suffix = "load" if load else "idle"
        rows.append({"case": f"jack_{suffix}", "hop": 256, "p50_fraction": None,
                     "p99_fraction": None, "max_fraction": None, "render_rtf": None,
                     "xruns": report["xruns"] + report["underruns"],
                     "engine_underruns": report["underruns"], "callbacks": report["callbacks"],
                     "expected_callbacks": round(report["expected_callbacks"]),
                     "tick_ms_p99": report["tick_ms_p99"], "seconds": seconds})
        reference = subprocess.run([sys.executable, "-c", _REFERENCE_STREAM, str(seconds)],
                                   capture_output=True, text=True, timeout=seconds + 60,
                                   check=True)
        counts = json.loads(reference.stdout)
        rows.append({"case": f"jack_reference_{suffix}", "hop": 256, "p50_fraction": None,
                     "p99_fraction": None, "max_fraction": None, "render_rtf": None,
                     "xruns": counts["xruns"], "callbacks": counts["callbacks"],
                     "seconds": seconds})
    finally:
        for process in busy:
            process.kill()
        server.terminate()
        server.wait(timeout=10)
    return rows


def _cell(row: dict, key: str, scale: float = 100.0, fmt: str = "{:7.1f}%") -> str:
    """One column of the printed table (a dash where the row has no value)."""
    value = row.get(key)
    return " " + (fmt.format(value * scale) if value is not None else f"{'-':>7} ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="seconds per JACK run and of demo per hop measurement (default 60)")
    parser.add_argument("--no-jack", action="store_true", help="skip the JACK rows")
    parser.add_argument("--compare-model", metavar="CHECKPOINT", action="append", default=[],
                        help="also the whole chain at hop 256 with this checkpoint (a row "
                             "named after its file), measured in the same run")
    args = parser.parse_args(argv)

    rows = []
    for case, hop in (("default", 256), ("hop128", 128)):
        row, frames = measure_chain(case, hop, min(args.seconds, 20.0))
        rows.append(row)
        phase = measure_phase_only(frames, hop, min(args.seconds, 20.0))
        phase["case"] = f"phase_only_{hop}"
        rows.append(phase)
        row["ratio_to_phase"] = row["p50_fraction"] / phase["p50_fraction"]
    row, _ = measure_chain("rtpghi", 256, min(args.seconds, 20.0), phase_method="rtpghi")
    rows.append(row)
    for other in args.compare_model:
        row, _ = measure_chain(f"model_{Path(other).stem}", 256, min(args.seconds, 20.0),
                               model=str(Path(other).resolve()))
        rows.append(row)
    if not args.no_jack:
        if shutil.which("jackd") is None:
            print("jackd not installed: JACK rows skipped", file=sys.stderr)
        else:
            rows += measure_jack(args.seconds, load=False)
            rows += measure_jack(args.seconds, load=True)

    print(f"{'case':<22}{'hop':>5}{'p50':>8}{'p99':>8}{'max':>8}{'cpu p99':>9}{'rtf':>8}"
          f"{'xruns':>7}")
    for row in rows:
        print(f"{row['case']:<22}{row['hop']:>5}{_cell(row, 'p50_fraction')}"
              f"{_cell(row, 'p99_fraction')}{_cell(row, 'max_fraction')}"
              f"{_cell(row, 'cpu_p99_fraction')}{_cell(row, 'render_rtf', 1.0, '{:7.1f}x')}"
              f"{row['xruns'] if row['xruns'] is not None else '-':>7}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
