"""MIDI to control latency: a CC sent on a JACK MIDI port until its event is posted on the engine.

Starts its own ``jackd -d dummy`` (a unique server name, stopped by its pid), opens a virtual
JACK MIDI output with python-rtmidi, and a :class:`caminos.engine.control.midi.MidiInput` on it
in this process, learnt to ``/latent/noise``. Each CC is timed from ``send_message`` until the
input has handled it (the event is queued on the engine). The reference measured in the same
run is JACK's own period, when JACK delivers MIDI: the ratio says how much the mapping adds to
what the MIDI transport costs anyway.

Run: ``.venv/bin/python benchmarks/midi.py [--count 400] [--period 256]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RATE = 48000


def start_jack(name: str, period: int) -> subprocess.Popen:
    """``jackd -n NAME -d dummy`` at 48 kHz and ``period`` frames; returns when it answers."""
    process = subprocess.Popen(
        ["jackd", "-n", name, "-d", "dummy", "-r", str(SAMPLE_RATE), "-p", str(period)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    subprocess.run(["jack_wait", "-w", "-t", "15"], capture_output=True, check=False)
    return process


def measure(count: int) -> np.ndarray:
    """Seconds from each CC sent to its event posted, ``count`` of them."""
    import rtmidi

    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.midi import MidiInput
    from caminos.engine.control.surface import attach
    from caminos.engine.core.config import MidiConfig, load_config

    engine = Engine(load_config(), startup_events=False, voice=False)
    surface = attach(engine, patches=tempfile.mkdtemp(prefix="caminos-midi-bench-"))
    out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="bench")
    out.open_virtual_port("out")
    times = np.zeros(count)
    try:
        with MidiInput(engine, surface.midi, MidiConfig(input="bench:out", api="jack")) as midi:
            engine.post("/midi/learn", "/latent/noise")
            out.send_message([0xB0, 7, 0])  # the CC that teaches
            if not midi.wait_handled(1, 10):
                raise RuntimeError("the MIDI input received nothing in 10 s")
            for i in range(count):
                started = time.perf_counter()
                out.send_message([0xB0, 7, 1 + i % 126])
                if not midi.wait_handled(2 + i, 10):
                    raise RuntimeError(f"CC {i} was not handled in 10 s")
                times[i] = time.perf_counter() - started
                engine.queue.clear()  # nothing ticks here: keep the queue empty
    finally:
        out.close_port()
        out.delete()
        engine.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=400, help="CCs timed (default 400)")
    parser.add_argument(
        "--period", type=int, default=256, help="JACK period in frames (default 256)"
    )
    args = parser.parse_args()
    if shutil.which("jackd") is None:
        print("jackd is not installed (scripts/setup.sh --test installs it)", file=sys.stderr)
        return 2
    name = f"caminos-midi-bench-{os.getpid()}"
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1")
    jack = start_jack(name, args.period)
    try:
        ms = 1000.0 * measure(args.count)
    finally:
        jack.terminate()
        jack.wait(10)
    period_ms = 1000.0 * args.period / SAMPLE_RATE
    print("| measure | CC to event (ms) | JACK period (ms) | ratio |")
    print("|---|---|---|---|")
    for label, value in (
        ("median", np.median(ms)),
        ("p99", np.percentile(ms, 99)),
        ("max", ms.max()),
    ):
        print(f"| {label} | {value:.2f} | {period_ms:.2f} | {value / period_ms:.2f} |")
    print(f"{len(ms)} CCs, dummy driver at {SAMPLE_RATE} Hz, {args.period} frames")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
