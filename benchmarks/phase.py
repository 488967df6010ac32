"""Phase-recovery benchmark: quality (SC, LSD) and cost per frame of every method, in one run.

Runs each method of ``engine.phase`` (and configurations of its look-ahead and iterations) over
the corpus of ``benchmarks/corpus.py``, clean and perturbed, next to librosa's Fast Griffin-Lim
measured in the same run, and writes one JSON row per signal x target x configuration.

    python benchmarks/phase.py --json phase.json          # full grid, about 8 min on one core
    python benchmarks/phase.py --quick                    # 1 s excerpts, default settings only
"""

from __future__ import annotations

import os

# Single-threaded everything, set before numpy/numba load, so per-frame timings are comparable
# (rocket-fft already runs one thread per transform).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.corpus import (
    PERTURBATIONS,
    SAMPLE_RATE,
    TARGETS,
    load_corpus,
    perturb,
    signal_names,
)
from caminos.engine.core.config import PhaseConfig, StftConfig
from caminos.engine.dsp.metrics import log_spectral_distance_db, spectral_convergence_db
from caminos.engine.dsp.phase import OFFLINE_METHODS, STREAMING_METHODS, make_streaming, reconstruct
from caminos.engine.dsp.spectral import istft, stft as analyze

REFERENCES = ("fgla32", "fgla100")  # librosa.griffinlim, random start, 32 / 100 iterations
ALL_METHODS = STREAMING_METHODS + OFFLINE_METHODS + REFERENCES
TAKES_LOOKAHEAD = ("rtpghi", "rtisi-la", "gsrtisi-la", "rtpghi+gsrtisi")
TAKES_ITERATIONS = ("rtisi-la", "gsrtisi-la", "rtpghi+gsrtisi")

# The default grid: (lookahead frames, iterations per frame) per method. The 3 x 3 grids of the
# two GSRTISI variants are most of the run time (cost grows with (lookahead + 1) * iterations).
GRID: dict[str, list[tuple[int | None, int | None]]] = {
    "rtpghi": [(0, None), (1, None)],
    "rtisi-la": [(2, 16)],
    "gsrtisi-la": [(la, it) for la in (1, 2, 3) for it in (8, 16, 32)],
    "rtpghi+gsrtisi": [(la, it) for la in (1, 2, 3) for it in (8, 16, 32)],
    "pv": [(0, None)],
    "input": [(0, None)],
    "random": [(0, None)],
    "pghi": [(None, None)],
    "fgla": [(None, PhaseConfig().offline_iterations)],
    "fgla32": [(None, 32)],
    "fgla100": [(None, 100)],
}
# Perturbed targets run the grid's 16-iteration column only (all look-aheads): the full grid on
# all four targets would take about 25 min on one core, and how iterations trade against cost
# is already clear from the clean targets. --full-perturbed runs everything.
PERTURBED_ITERATIONS = (16,)
QUICK_SECONDS = 1.0


@dataclass(frozen=True)
class Spec:
    """One configuration of one method: a row per signal and target."""

    method: str
    lookahead: int | None
    iterations: int | None

    @property
    def label(self) -> str:
        parts = [self.method]
        if self.lookahead is not None and self.method in TAKES_LOOKAHEAD:
            parts.append(f"la{self.lookahead}")
        if self.iterations is not None and self.method in TAKES_ITERATIONS:
            parts.append(f"it{self.iterations}")
        return " ".join(parts)


def build_grid(
    methods: list[str], quick: bool, lookaheads: list[int] | None, iterations: list[int] | None
) -> list[Spec]:
    """Configurations to run, in the order of ``methods``.

    ``--lookahead`` / ``--iterations`` replace the grid's values for the methods that take them;
    ``--quick`` keeps only the engine's defaults (``PhaseConfig``: look-ahead 2, 16 iterations;
    rtpghi look-ahead 1).
    """
    default = PhaseConfig()
    specs: list[Spec] = []
    for method in methods:
        grid = GRID[method]
        if quick and method in TAKES_LOOKAHEAD:
            it = default.iterations if method in TAKES_ITERATIONS else None
            grid = [(min(default.lookahead, 1) if method == "rtpghi" else default.lookahead, it)]
        if lookaheads is not None and method in TAKES_LOOKAHEAD:
            grid = [
                (la, it)
                for la in lookaheads
                for it in sorted({g[1] for g in grid}, key=lambda v: v or 0)
            ]
        if iterations is not None and method in TAKES_ITERATIONS:
            grid = [(la, it) for la in sorted({g[0] for g in grid}) for it in iterations]
        if method == "rtpghi":  # its gradient needs at most one frame of look-ahead
            grid = sorted({(min(la, 1), it) for la, it in grid})
        for la, it in grid:
            specs.append(Spec(method, la, it))
    return specs


# --------------------------------------------------------------------------- running one method


def _time_streaming(
    spec: Spec, stft: StftConfig, mags: np.ndarray, reference: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Run a streaming method frame by frame, timing every ``process()`` call.

    Same loop as :func:`caminos.engine.dsp.phase.run_streaming` (look-ahead flushed with silent
    frames,
    output aligned to its input frame). A throwaway instance first runs a few frames so numba's
    compilation and first-call costs stay out of the timings.

    Returns
    -------
    frames : ndarray, shape (n_frames, n_bins), complex128
    ns : ndarray, shape (2, n_frames + lookahead), int64
        Nanoseconds of each call: wall clock (``perf_counter_ns``), then this thread's CPU time
        (``thread_time_ns``), which leaves out the time other processes held the core.
    lookahead : int
        The look-ahead the method actually uses, in frames.
    """
    overrides = {}
    if spec.lookahead is not None:
        overrides["lookahead"] = spec.lookahead
    if spec.iterations is not None:
        overrides["iterations"] = spec.iterations
    warm = make_streaming(spec.method, stft, **overrides)
    scratch = np.zeros(stft.n_bins, dtype=np.complex128)
    for m in range(min(len(mags), 16)):
        warm.process(mags[m], scratch, reference[m])
    phase = make_streaming(spec.method, stft, **overrides)
    n_frames, n_bins = mags.shape
    out = np.zeros((n_frames, n_bins), dtype=np.complex128)
    frame = np.zeros(n_bins, dtype=np.complex128)
    silence = np.zeros(n_bins)
    delay = phase.lookahead_frames
    ns = np.empty((2, n_frames + delay), dtype=np.int64)
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for m in range(n_frames + delay):
        mag = mags[m] if m < n_frames else silence
        ref = reference[m] if m < n_frames else None
        cpu_start = cpu_clock()
        start = clock()
        phase.process(mag, frame, ref)
        ns[0, m] = clock() - start
        ns[1, m] = cpu_clock() - cpu_start
        if m >= delay:
            out[m - delay] = frame
    return out, ns, delay


def _librosa_fgla(mags: np.ndarray, stft: StftConfig, n_iter: int, length: int) -> np.ndarray:
    """librosa's FGLA from a random start, brought into caminos' framing.

    Our frames are librosa's ``center=False`` frames of the signal preceded by ``n_fft - hop``
    zeros, so ``S`` is passed as it is and those first samples are dropped from the result.
    """
    import librosa

    y = librosa.griffinlim(
        mags.T,
        n_iter=n_iter,
        hop_length=stft.hop,
        win_length=stft.n_fft,
        n_fft=stft.n_fft,
        window="hann",
        center=False,
        momentum=0.99,
        init="random",
        random_state=0,
    )
    y = y[stft.n_fft - stft.hop :][:length]
    return np.pad(y, (0, length - len(y)))


def _run_offline(spec: Spec, stft: StftConfig, mags: np.ndarray, length: int) -> np.ndarray:
    """Signal of ``length`` samples recovered by an offline method or a reference."""
    if spec.method in REFERENCES:
        return _librosa_fgla(mags, stft, int(spec.iterations), length)
    overrides = {} if spec.iterations is None else {"iterations": spec.iterations}
    return istft(reconstruct(mags, spec.method, stft, **overrides), stft, length=length)


_WARMED: set[str] = set()


def run_one(
    spec: Spec, stft: StftConfig, x: np.ndarray, target: np.ndarray, reference: np.ndarray
) -> dict:
    """Measure one configuration on one target; returns the row (without signal and target)."""
    row = {"method": spec.method, "lookahead_frames": spec.lookahead, "iterations": spec.iterations}
    if spec.method in STREAMING_METHODS:
        frames, ns, delay = _time_streaming(spec, stft, target, reference)
        row["lookahead_frames"] = delay
        estimate = istft(frames, stft, length=len(x))
        p50, p99 = (float(v) for v in np.percentile(ns[0] / 1e3, [50, 99]))
        cpu50, cpu99 = (float(v) for v in np.percentile(ns[1] / 1e3, [50, 99]))
    else:
        if spec.method not in _WARMED:  # first-call costs (numba cache load, librosa import)
            _run_offline(spec, stft, target[:32], 32 * stft.hop)
            _WARMED.add(spec.method)
        cpu_start = time.thread_time_ns()
        start = time.perf_counter_ns()
        estimate = _run_offline(spec, stft, target, len(x))
        elapsed = time.perf_counter_ns() - start
        cpu_elapsed = time.thread_time_ns() - cpu_start
        ns = np.array([[elapsed / len(target)], [cpu_elapsed / len(target)]])
        p50 = p99 = float(ns[0, 0] / 1e3)
        cpu50 = cpu99 = float(ns[1, 0] / 1e3)
    row.update(
        sc_db=spectral_convergence_db(estimate, target, stft),
        lsd_db=log_spectral_distance_db(estimate, target, stft),
        us_per_frame_p50=p50,
        us_per_frame_p99=p99,
        cpu_us_per_frame_p50=cpu50,
        cpu_us_per_frame_p99=cpu99,
    )
    return row, ns


# --------------------------------------------------------------------------- tables


def _fmt(value: float | None, width: int, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return f"{'-' if value is None else value:>{width}}"
    return f"{value:>{width}.{digits}f}"


ROW_HEADER = (
    f"{'signal':14s} {'target':16s} {'method':26s} {'SC dB':>8s} {'LSD dB':>8s} "
    f"{'p50 us':>9s} {'p99 us':>9s} {'p99 cpu':>9s}"
)


def format_row(row: dict) -> str:
    label = Spec(row["method"], row["lookahead_frames"], row["iterations"]).label
    if row.get("skipped"):
        return f"{row['signal']:14s} {row['target']:16s} {label:26s} skipped: {row['skipped']}"
    return (
        f"{row['signal']:14s} {row['target']:16s} {label:26s} {_fmt(row['sc_db'], 8)} "
        f"{_fmt(row['lsd_db'], 8)} {_fmt(row['us_per_frame_p50'], 9, 1)} "
        f"{_fmt(row['us_per_frame_p99'], 9, 1)} {_fmt(row['cpu_us_per_frame_p99'], 9, 1)}"
    )


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summarize(rows: list[dict], timings: dict[str, list[np.ndarray]], stft: StftConfig) -> str:
    """Summary tables: mean quality per configuration, differences to the references, cost."""
    done = [r for r in rows if not r.get("skipped")]
    labels = list(
        dict.fromkeys(Spec(r["method"], r["lookahead_frames"], r["iterations"]).label for r in done)
    )
    by = {}
    for r in done:
        label = Spec(r["method"], r["lookahead_frames"], r["iterations"]).label
        by[(label, r["signal"], r["target"])] = r
    keys = sorted({(r["signal"], r["target"]) for r in done})

    def mean_of(label: str, field: str, targets: tuple[str, ...]) -> float | None:
        return _mean(
            [by[(label, s, t)][field] for s, t in keys if t in targets and (label, s, t) in by]
        )

    def delta(label: str, ref: str, targets: tuple[str, ...]) -> float | None:
        return _mean(
            [
                by[(label, s, t)]["sc_db"] - by[(ref, s, t)]["sc_db"]
                for s, t in keys
                if t in targets and (label, s, t) in by and (ref, s, t) in by
            ]
        )

    hop_us = stft.hop / SAMPLE_RATE * 1e6
    clean, pert = ("clean",), PERTURBATIONS
    lines = [
        "",
        "Quality: mean over signals (SC, LSD in dB; lower is better). dSC = method minus "
        "reference on the same signals and targets, same run (negative: better).",
        f"{'method':26s} {'SC clean':>9s} {'SC pert':>8s} {'LSD cln':>8s} {'LSD prt':>8s} "
        f"{'dSC100 c':>9s} {'dSC100 p':>9s} {'dSC32 c':>8s} {'dSC32 p':>8s}",
    ]
    for label in labels:
        lines.append(
            f"{label:26s} {_fmt(mean_of(label, 'sc_db', clean), 9)} "
            f"{_fmt(mean_of(label, 'sc_db', pert), 8)} {_fmt(mean_of(label, 'lsd_db', clean), 8)} "
            f"{_fmt(mean_of(label, 'lsd_db', pert), 8)} {_fmt(delta(label, 'fgla100', clean), 9)} "
            f"{_fmt(delta(label, 'fgla100', pert), 9)} {_fmt(delta(label, 'fgla32', clean), 8)} "
            f"{_fmt(delta(label, 'fgla32', pert), 8)}"
        )
    lines += [
        "",
        "Cost per frame (us): wall clock and this thread's CPU time; share of the hop.",
        f"{'method':26s} {'look-ahead':>10s} {'p50 wall':>9s} {'p99 wall':>9s} "
        f"{'p50 cpu':>8s} {'p99 cpu':>8s} {'p99w/hop':>9s} {'p99c/hop':>9s}",
    ]
    for label in labels:
        pooled = np.concatenate(timings[label], axis=1) / 1e3
        p50, p99 = np.percentile(pooled[0], [50, 99])
        c50, c99 = np.percentile(pooled[1], [50, 99])
        la = next(
            r["lookahead_frames"]
            for r in done
            if Spec(r["method"], r["lookahead_frames"], r["iterations"]).label == label
        )
        la_text = "file" if la is None else f"{la} fr {la * stft.hop / SAMPLE_RATE * 1e3:.1f} ms"
        lines.append(
            f"{label:26s} {la_text:>10s} {_fmt(p50, 9, 1)} {_fmt(p99, 9, 1)} "
            f"{_fmt(c50, 8, 1)} {_fmt(c99, 8, 1)} {_fmt(100 * p99 / hop_us, 8, 1)}% "
            f"{_fmt(100 * c99 / hop_us, 8, 1)}%"
        )
    lines += [
        "",
        f"p50/p99: percentiles over all frames of all runs of the configuration "
        f"(offline methods: total time / frames); p99/hop: p99 as a share of the hop, "
        f"{hop_us:.0f} us ({stft.hop} samples at {SAMPLE_RATE} Hz). Wall-clock p99 includes "
        f"time other processes held the core; CPU time does not.",
        "",
        "Mean SC per target (dB):",
        f"{'method':26s} " + " ".join(f"{t:>16s}" for t in TARGETS),
    ]
    for label in labels:
        lines.append(
            f"{label:26s} " + " ".join(_fmt(mean_of(label, "sc_db", (t,)), 16) for t in TARGETS)
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the rows to PATH")
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=ALL_METHODS,
        default=list(ALL_METHODS),
        metavar="METHOD",
        help=f"methods to run (default all: {' '.join(ALL_METHODS)})",
    )
    parser.add_argument(
        "--signals",
        nargs="+",
        choices=signal_names(),
        metavar="SIGNAL",
        help=f"signals (default all: {' '.join(signal_names())})",
    )
    parser.add_argument(
        "--targets",
        nargs="+",
        choices=TARGETS,
        default=list(TARGETS),
        metavar="TARGET",
        help=f"targets (default all: {' '.join(TARGETS)})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_SECONDS:g} s excerpts and only the default settings",
    )
    parser.add_argument(
        "--lookahead",
        nargs="+",
        type=int,
        metavar="FRAMES",
        help="look-ahead values for the methods that take one (replaces the grid)",
    )
    parser.add_argument(
        "--iterations",
        nargs="+",
        type=int,
        metavar="N",
        help="iterations per frame for rtisi-la, gsrtisi-la, rtpghi+gsrtisi",
    )
    parser.add_argument(
        "--full-perturbed",
        action="store_true",
        help="run the whole iteration grid on perturbed targets too (default: "
        f"iterations {', '.join(map(str, PERTURBED_ITERATIONS))} only there)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbations")
    return parser.parse_args(argv)


def _finite(row: dict) -> dict:
    """The row with non-finite numbers (an exact match's -inf SC) as null: strict JSON."""
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stft = StftConfig()
    specs = build_grid(args.methods, args.quick, args.lookahead, args.iterations)
    corpus = load_corpus(args.signals, QUICK_SECONDS if args.quick else None)
    rows: list[dict] = []
    timings: dict[str, list[np.ndarray]] = {}
    broken: dict[str, str] = {}
    started = time.perf_counter()
    print(
        f"n_fft {stft.n_fft}, hop {stft.hop}, {SAMPLE_RATE} Hz; {len(corpus)} signals x "
        f"{len(args.targets)} targets x {len(specs)} configurations",
        flush=True,
    )
    print(ROW_HEADER, flush=True)
    for sig in corpus:
        analysis = analyze(sig.samples, stft)
        clean = np.abs(analysis)
        for target_name in args.targets:
            target = perturb(clean, target_name, sig.name, args.seed)
            for spec in specs:
                if (
                    target_name != "clean"
                    and not args.full_perturbed
                    and args.iterations is None
                    and spec.method in TAKES_ITERATIONS
                    and spec.iterations not in PERTURBED_ITERATIONS
                ):
                    continue
                base = {"signal": sig.name, "target": target_name}
                if spec.label in broken:
                    row = {
                        **base,
                        "method": spec.method,
                        "lookahead_frames": spec.lookahead,
                        "iterations": spec.iterations,
                        "skipped": broken[spec.label],
                    }
                else:
                    try:
                        result, ns = run_one(spec, stft, sig.samples, target, analysis)
                        row = {**base, **result}
                        label = Spec(
                            row["method"], row["lookahead_frames"], row["iterations"]
                        ).label
                        timings.setdefault(label, []).append(ns)
                    except ImportError as exc:  # module not written yet
                        broken[spec.label] = f"not available ({exc})"
                        row = {
                            **base,
                            "method": spec.method,
                            "lookahead_frames": spec.lookahead,
                            "iterations": spec.iterations,
                            "skipped": broken[spec.label],
                        }
                    except Exception as exc:  # noqa: BLE001 - one broken method must not end the run
                        traceback.print_exc(file=sys.stderr)
                        broken[spec.label] = f"error: {type(exc).__name__}: {exc}"
                        row = {
                            **base,
                            "method": spec.method,
                            "lookahead_frames": spec.lookahead,
                            "iterations": spec.iterations,
                            "skipped": broken[spec.label],
                        }
                rows.append(row)
                print(format_row(row), flush=True)
    print(summarize(rows, timings, stft))
    print(f"\n{len(rows)} rows in {time.perf_counter() - started:.0f} s", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([_finite(r) for r in rows], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
