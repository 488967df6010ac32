"""How soon the hop clock hears that the ring has room: the doorbell against polling.

A spawned process plays the audio callback: every hop (256 samples at 48 kHz, 5.33 ms) it
stamps the time into shared memory and, for the doorbell, rings it
(:class:`caminos.engine.live.doorbell.Doorbell`). This process plays the idle hop clock, as
``HopLoop.run`` waits: either on the doorbell (at most two hops), or, as before, looking at a
shared flag and sleeping an eighth of a hop between looks. Printed for each, in the same run: the
delay from the stamp to the moment the waiting process sees it (p50, p99, max, in microseconds),
its wake-ups a second and the CPU it spent waiting, as a share of one core; then the ratios.

    python benchmarks/doorbell.py --seconds 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from caminos.engine.core.ring import SharedArray
from caminos.engine.live.doorbell import Doorbell

HOP_S = 256 / 48000  # the hop's duration, seconds
STAMP, FLAG, STOP = 0, 1, 2  # the shared array's slots


def caller(name: str, bell: Doorbell | None, seconds: float) -> None:
    """Every hop: stamp the time, set the flag, ring (the audio callback's part)."""
    shared = SharedArray(3, name)
    values = shared.values
    start = time.monotonic()
    k = 0
    while time.monotonic() - start < seconds:
        k += 1
        time.sleep(max(0.0, start + k * HOP_S - time.monotonic()))
        values[STAMP] = time.monotonic()
        values[FLAG] = 1.0
        if bell is not None:
            bell.ring()
    values[STOP] = 1.0
    if bell is not None:
        bell.ring()
    shared.close()


def measure(mode: str, seconds: float) -> dict:
    """One mode ("doorbell" or "poll"): delays seen, wake-ups and CPU of the waiting side."""
    shared = SharedArray(3)
    values = shared.values
    bell = Doorbell() if mode == "doorbell" else None
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=caller, args=(shared.name, bell, seconds))
    child.start()
    delays, wakeups = [], 0
    cpu0, wall0 = time.process_time(), time.monotonic()
    while values[STOP] == 0.0:
        if values[FLAG] == 0.0:
            wakeups += 1
            if bell is not None:
                bell.wait(2 * HOP_S)
            else:
                time.sleep(HOP_S / 8)
            continue
        delays.append(time.monotonic() - values[STAMP])
        values[FLAG] = 0.0
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    child.join(30)
    if bell is not None:
        bell.close()
    shared.close()
    us = 1e6 * np.array(delays[10:])  # the start-up hops aside
    return {
        "mode": mode,
        "hops": len(us),
        "p50_us": float(np.percentile(us, 50)),
        "p99_us": float(np.percentile(us, 99)),
        "max_us": float(us.max()),
        "wakeups_per_s": wakeups / wall,
        "cpu_percent": 100.0 * cpu / wall,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per mode")
    args = parser.parse_args(argv)
    rows = [measure("poll", args.seconds), measure("doorbell", args.seconds)]
    print(
        f"{'mode':10} {'hops':>6} {'p50 us':>8} {'p99 us':>8} {'max us':>8} "
        f"{'wakeups/s':>10} {'cpu %':>6}"
    )
    for r in rows:
        print(
            f"{r['mode']:10} {r['hops']:6d} {r['p50_us']:8.0f} {r['p99_us']:8.0f} "
            f"{r['max_us']:8.0f} {r['wakeups_per_s']:10.0f} {r['cpu_percent']:6.2f}"
        )
    poll, bell = rows
    print(
        f"doorbell / poll: p50 {bell['p50_us'] / poll['p50_us']:.2f}x, "
        f"p99 {bell['p99_us'] / poll['p99_us']:.2f}x, "
        f"wake-ups {bell['wakeups_per_s'] / poll['wakeups_per_s']:.2f}x, "
        f"cpu {bell['cpu_percent'] / poll['cpu_percent']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
