"""How long the machine keeps a real-time thread from running, core by core.

A virtual machine's cores stop now and then while the host runs something else (steal time),
one core at a time: a bare JACK stream on the other core hears nothing of it, while the hop clock
on the stopped core is late with as many hops as the stop lasts. Live tests and benchmarks read
the engine's underruns against what this probe saw in the same seconds.

One probe process per core, pinned to it, under ``SCHED_FIFO`` one step above the hop clock
(:data:`caminos.engine.live.priority.DSP_REALTIME_PRIORITY`) and its memory locked: it sleeps
:data:`PERIOD_S` at a time and notes every wake-up later than :data:`NOTED_OVER_MS`. Nothing that
would not also keep the hop clock waiting can delay it: not ordinary processes, not the hop
clock itself; only the audio server's threads (microseconds), interrupts and the machine.

Run ``python -m benchmarks.stall_probe SECONDS`` for every core at once: prints JSON
``{"realtime": bool, "stalls_ms": {core: [ms, ...]}}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from caminos.engine.live.priority import DSP_REALTIME_PRIORITY, lock_memory

PERIOD_S = 0.002  # the probe's sleep: 500 wake-ups a second, about 1 % of a core
NOTED_OVER_MS = 2.0  # wake-ups later than this are noted (ms)
PROBE_PRIORITY = DSP_REALTIME_PRIORITY + 1


def probe_core(core: int, seconds: float) -> dict:
    """Sleep :data:`PERIOD_S` at a time on ``core`` for ``seconds``; the late wake-ups.

    Returns
    -------
    dict
        ``core``; ``realtime``: whether it ran under ``SCHED_FIFO`` (without it, the probe also
        waits for ordinary processes, as the hop clock then does); ``stalls_ms``: how late each
        wake-up later than :data:`NOTED_OVER_MS` was, in milliseconds.
    """
    os.sched_setaffinity(0, {core})
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(PROBE_PRIORITY))
        realtime = True
    except OSError:
        realtime = False
    lock_memory()
    noted_over = NOTED_OVER_MS / 1000.0
    stalls: list[float] = []
    clock = time.monotonic
    before = clock()
    end = before + seconds
    while before < end:
        time.sleep(PERIOD_S)
        now = clock()
        late = now - before - PERIOD_S
        if late > noted_over:
            stalls.append(round(1000.0 * late, 3))
        before = now
    return {"core": core, "realtime": realtime, "stalls_ms": stalls}


def start_probes(seconds: float) -> list[subprocess.Popen]:
    """One probe process per core this process may run on, each for ``seconds``."""
    return [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.stall_probe", "--core", str(core), str(seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        for core in sorted(os.sched_getaffinity(0))
    ]


def probe_results(probes: list[subprocess.Popen], timeout: float = 120.0) -> dict:
    """What the probes of :func:`start_probes` saw: ``realtime`` (all of them under
    ``SCHED_FIFO``) and ``stalls_ms`` (core, as text, to its late wake-ups in ms).

    Raises
    ------
    RuntimeError
        A probe failed (with what it wrote on stderr).
    """
    stalls, realtime = {}, True
    for probe in probes:
        out, err = probe.communicate(timeout=timeout)
        if probe.returncode != 0:
            raise RuntimeError(f"stall probe failed ({probe.returncode}): {err}")
        seen = json.loads(out)
        stalls[str(seen["core"])] = seen["stalls_ms"]
        realtime = realtime and seen["realtime"]
    return {"realtime": realtime, "stalls_ms": stalls}


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "--core":
        print(json.dumps(probe_core(int(argv[1]), float(argv[2]))))
        return 0
    if len(argv) != 1:
        print("usage: python -m benchmarks.stall_probe SECONDS", file=sys.stderr)
        return 2
    print(json.dumps(probe_results(start_probes(float(argv[0])))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
