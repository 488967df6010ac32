"""Eight speakers live with and without the overload watch, and a picture of the holes over time.

Runs ``benchmarks/engine.py``'s live cases ``field_8`` (the overload watch on, as ``caminos
play`` starts by default: fewer iterations first, then ``pv``), ``field_8_to_pv`` (the watch
with one step, straight to ``pv``) and ``field_8_unwatched`` (no watch) in one run, each beside
a bare stream on the same JACK dummy server, prints their table, and with ``--png`` draws the
engine's underruns over time for each (read from ``/engine/status`` every 50 ms), a mark where
the watch stepped the phase recovery down.

    python benchmarks/overload.py --seconds 60 --png docs/images/overload-field8.png
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.engine import measure_live, print_live  # noqa: E402

CASES = ("field_8", "field_8_to_pv", "field_8_unwatched")


def draw(rows: list[dict], path: str) -> None:
    """Underruns over time for each case; the watch's steps down marked on its curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.4), dpi=110)
    marked = False  # the steps' legend entry, once
    colours = {"field_8": "#1f77b4", "field_8_to_pv": "#2ca02c", "field_8_unwatched": "#d62728"}
    labels = {
        "field_8": "watch on (default): iterations halved to 4, then pv",
        "field_8_to_pv": "watch straight to pv",
        "field_8_unwatched": "watch off",
    }
    for row in rows:
        times = [t for t, _, _ in row["timeline"]]
        holes = [u - row["timeline"][0][1] for _, u, _ in row["timeline"]]
        label = f"{labels[row['case']]}: {holes[-1] if holes else 0} underruns"
        ax.plot(times, holes, color=colours[row["case"]], label=label)
        steps = [
            (t, u - row["timeline"][0][1])
            for (t, u, f), (_, _, before) in zip(row["timeline"][1:], row["timeline"])
            if f > before
        ]
        if steps:
            ax.scatter(
                *zip(*steps),
                marker="v",
                s=60,
                color="black",
                zorder=3,
                label="the watch steps down" if not marked else None,
            )
            marked = True
    ax.set_xlabel("seconds since the measure began")
    ax.set_ylabel("engine underruns (holes)")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_title("Eight speakers, default phase recovery, 2-core machine")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--png", metavar="PATH", help="draw the underruns over time")
    parser.add_argument("--json", metavar="PATH", help="write the rows (with timelines)")
    args = parser.parse_args(argv)
    if shutil.which("jackd") is None:
        print("jackd not installed: the live cases need it", file=sys.stderr)
        return 2
    rows = []
    for case in CASES:
        rows.append(measure_live(case, args.seconds, []))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "timeline"}), flush=True)
    print_live(rows)
    if args.png:
        draw(rows, args.png)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
