"""Offline score renders of a field split over processes: ``caminos render --score --jobs``.

One score (the demo playing, every voice wandering and decorrelated at spread 1, the room
spinning) rendered to a file for each field size and each process count, timed from the call to
the written file (process start-up, model loading and the limiter's pass over the joined
channels included), in one run. Columns: seconds of sound per second of wall time (``x real
time``), the speed-up over the same field in one process, and whether the file equals the
one-process file sample for sample. The mono layout's one-process render is the reference row.

    python benchmarks/render_jobs.py                        # 8 voices, 1 and 2 processes, 30 s
    python benchmarks/render_jobs.py --voices 4,8 --jobs 1,2,4 --seconds 60
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "patches" / "demo" / "demo.wav"
HOP = 256
SAMPLE_RATE = 48000


def field_score(path: Path, seconds: float, field: bool = True) -> Path:
    """The benchmark's score: the demo looping through a field that spins, each voice wandering
    and decorrelated, one voice moved and one turned down on the way; without ``field``, the
    demo alone (the mono layout has no field controls)."""
    hops = round(seconds * SAMPLE_RATE / HOP)
    lines = [f'hop 0 /source/file/open "{DEMO}"', "hop 0 /source/file/play 1"]
    if field:
        lines += [
            "hop 0 /field/spread 1",
            "hop 0 /field/wander 0.3",
            "hop 0 /field/decorrelate 1",
            "hop 40 /field/spin 20",
            "hop 200 /channel/2/xy 0.5 -0.5",
            "hop 400 /channel/1/gain 0.5",
        ]
    lines.append(f"hop {hops} end")
    path.write_text(f"sample_rate {SAMPLE_RATE}\nhop_size {HOP}\n" + "\n".join(lines) + "\n")
    return path


def overrides(voices: int) -> dict:
    """The field of ``voices`` in the layout that channel count gets by default (1: mono)."""
    from caminos.engine.core.layouts import default_layout_name

    layout = default_layout_name(voices)
    return {"audio.channels": voices, "field.layout": layout, "render.subtype": "FLOAT"}


def timed_render(score: Path, out: Path, voices: int, jobs: int) -> float:
    """Seconds from the call to the written file."""
    from caminos.engine.control.surface import render_score_file
    from caminos.engine.core.config import load_config

    config = load_config(overrides=overrides(voices))
    started = time.perf_counter()
    render_score_file(score, out, config, jobs=jobs)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voices", default="8", help="field sizes, comma-separated (default 8)")
    parser.add_argument("--jobs", default="1,2", help="process counts (default 1,2)")
    parser.add_argument("--seconds", type=float, default=30.0, help="score length (default 30)")
    args = parser.parse_args(argv)
    voice_counts = [int(v) for v in args.voices.split(",")]
    job_counts = [int(j) for j in args.jobs.split(",")]
    print(f"{os.cpu_count()} cores; {args.seconds:g} s score; the demo through every voice")
    print(f"{'case':<22}{'wall s':>9}{'x real time':>13}{'speed-up':>10}{'same samples':>14}")
    with tempfile.TemporaryDirectory() as folder:
        score = field_score(Path(folder) / "field.score", args.seconds)
        mono = field_score(Path(folder) / "mono.score", args.seconds, field=False)
        wall = timed_render(mono, Path(folder) / "mono.wav", 1, 1)
        print(f"{'mono, 1 process':<22}{wall:>9.2f}{args.seconds / wall:>12.1f}x{'':>10}{'':>14}")
        for voices in voice_counts:
            first = None
            for jobs in job_counts:
                out = Path(folder) / f"v{voices}-j{jobs}.wav"
                wall = timed_render(score, out, voices, jobs)
                samples, _ = sf.read(out)
                if first is None:
                    first = (wall, samples)
                same = "yes" if np.array_equal(samples, first[1]) else "NO"
                print(
                    f"{f'{voices} voices, {jobs} proc.':<22}{wall:>9.2f}"
                    f"{args.seconds / wall:>12.1f}x{first[0] / wall:>9.2f}x{same:>14}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
