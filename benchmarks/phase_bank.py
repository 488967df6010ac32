"""A field's phase recovery voice by voice against the voices as one bank, in the same run.

The phase stage (:class:`caminos.engine.clock.phase_stage.PhaseStage`) of a field of ``N`` voices,
each voice a different stretch of the demo's magnitudes, pushed one hop at a time for every voice
on one thread: once with one method per voice (``separate``: how a field played before the bank,
and how the mono layout's one voice still plays), once with the voices as one bank, pushed in one
compiled call (``bank``: :mod:`caminos.engine.dsp.phase.rtisi_bank`). The two stages alternate
hop by hop, so both see the same machine. Printed per method and voice count: the hop's time
(p50, p99, in microseconds and as a share of the 5.33 ms hop at 256 samples and 48 kHz) and the
ratio of separate to bank (above 1: the bank is faster).

    python benchmarks/phase_bank.py --voices 1,2,4,8 --hops 1500
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread: the timings mean one core

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from caminos.engine.clock.phase_stage import PhaseStage
from caminos.engine.core.config import load_config
from caminos.engine.dsp.audio_io import read_audio
from caminos.engine.dsp.spectral import stft

DEMO = ROOT / "patches" / "demo" / "demo.wav"
WARM_HOPS = 50


def demo_magnitudes(config) -> np.ndarray:
    """The demo's first channel as magnitude frames, (frames, bins)."""
    audio, _ = read_audio(DEMO, config.audio.sample_rate)
    return np.abs(stft(np.ascontiguousarray(audio[:, 0]), config.stft))


def _stage(config, method: str, voices: int, banked: bool) -> PhaseStage:
    eng = config.engine
    return PhaseStage(
        config.stft,
        config.phase,
        method,
        eng.lookahead,
        eng.iterations,
        0,
        seed_offsets=range(voices),
        banked=banked,
    )


def measure(config, method: str, voices: int, hops: int, frames: np.ndarray) -> dict:
    """Both stages, alternating hop by hop; the row of this method and voice count."""
    stages = {"separate": _stage(config, method, voices, False)}
    stages["bank"] = _stage(config, method, voices, True)
    n_bins, hop = config.stft.n_bins, config.stft.hop
    magnitudes = np.zeros((voices, n_bins))
    rows = tuple(magnitudes)
    refs = tuple(np.zeros((voices, n_bins), dtype=np.complex128))
    out = tuple(np.zeros((voices, hop)))
    group = range(voices)
    starts = [(len(frames) * k) // voices for k in range(voices)]  # each voice its own stretch
    times = {name: np.zeros(hops) for name in stages}
    for i in range(WARM_HOPS + hops):
        for k, start in enumerate(starts):
            magnitudes[k] = frames[(start + i) % len(frames)]
        for name, stage in stages.items():
            t0 = time.perf_counter()
            stage.process_group(group, magnitudes, rows, refs, out, 0.0)
            stage.end_hop()
            if i >= WARM_HOPS:
                times[name][i - WARM_HOPS] = time.perf_counter() - t0
    hop_us = 1e6 * hop / config.audio.sample_rate
    row: dict = {"method": method, "voices": voices}
    for name, t in times.items():
        row[f"{name}_p50_us"] = float(np.percentile(t, 50) * 1e6)
        row[f"{name}_p99_us"] = float(np.percentile(t, 99) * 1e6)
    row["hop_us"] = hop_us
    row["ratio_p50"] = row["separate_p50_us"] / row["bank_p50_us"]
    row["ratio_p99"] = row["separate_p99_us"] / row["bank_p99_us"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voices", default="1,2,4,8", help="voice counts, comma-separated")
    parser.add_argument(
        "--methods",
        default="gsrtisi-la,rtpghi+gsrtisi",
        help="methods with a bank, comma-separated (default: the live and the offline default)",
    )
    parser.add_argument("--hops", type=int, default=1500, help="hops timed per stage")
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    args = parser.parse_args()
    config = load_config()
    frames = demo_magnitudes(config)
    rows = []
    print(
        f"{'method':<16}{'voices':>7}{'separate p50':>14}{'p99':>8}{'bank p50':>10}{'p99':>8}"
        f"{'% hop p50/p99':>16}{'ratio p50':>11}{'p99':>7}"
    )
    for method in args.methods.split(","):
        for voices in (int(v) for v in args.voices.split(",")):
            row = measure(config, method, voices, args.hops, frames)
            rows.append(row)
            share = (
                f"{100 * row['bank_p50_us'] / row['hop_us']:.1f}/"
                f"{100 * row['bank_p99_us'] / row['hop_us']:.1f}"
            )
            print(
                f"{method:<16}{voices:>7}{row['separate_p50_us']:>12.0f}us"
                f"{row['separate_p99_us']:>6.0f}us{row['bank_p50_us']:>8.0f}us"
                f"{row['bank_p99_us']:>6.0f}us{share:>16}{row['ratio_p50']:>11.2f}"
                f"{row['ratio_p99']:>7.2f}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
