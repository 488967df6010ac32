"""Control page benchmark: pages dragging on the map beside an OSC flood, through ``caminos play
--web`` on JACK's dummy driver; xruns, control-to-sound latency and page update latency.

Usage::

    .venv/bin/python benchmarks/web.py --json benchmarks/data/web.json [--seconds 20]
        [--flood 1000]

One ``caminos play --web --record`` (the demo file, OSC on, a one-point path heard alone at
-96 dB) on the benchmark's own named JACK dummy server (48 kHz, 256 frames) plays four cases in
turn, each for ``--seconds`` beside a bare PortAudio stream writing silence (its xruns are what
the machine alone does to a client):

- ``bare_stream``: nothing sent; the row's ``xruns`` are the bare streams' of every case summed.
- ``osc``: an OSC flood of ``/latent/axis`` (``--flood`` messages a second, from another
  process) and probes sent over OSC: the reference.
- ``web_1`` / ``web_4``: the same flood, and one or four pages (WebSocket clients, as the page's
  script speaks: ``docs/web.md``) each dragging ``/latent/xy`` at 60 messages a second, as a
  finger does; the probes are sent by the first page over its WebSocket.

A probe turns ``/out/gain`` up to 0 dB, then down again 0.15 s later, every 0.4 s; the first
recorded output sample that rises above the quiet level after it, placed on the wall clock by
the engine's ``clock_origin`` (``/engine/status``, polled twice a second: when hop 0 sounds,
device latency included), gives its control-to-sound latency. A page's update latency is the
time from a value being sent (a probe's gain, a page's ``/latent/xy``) to a ``state`` message
holding it on a page (every page, including the one that sent it; in ``osc`` one page only
watches). Rows: ``{case, clients, messages_per_s, xruns, control_to_sound_ms_p50,
control_to_sound_ms_p99, page_update_ms_p99}`` plus ``bare_xruns``, probes and updates counted;
``xruns`` are the engine's xruns and underruns in the case (``/engine/status`` before and after),
and ``messages_per_s`` the events the engine applied per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.live import REFERENCE_STREAM, OscClient, free_port, start_jackd, stop_jackd

DEMO = ROOT / "patches" / "demo" / "demo.wav"
JACK_SERVER = f"caminos-bench-web-{os.getpid()}"  # the benchmark's own server; only it is stopped
PROBE_PERIOD_S = 0.4
PROBE_ON_S = 0.15
LOUD = 1e-5  # as benchmarks/osc.py: a sample above this after a quiet hop is the probe's rise
QUIET = 5e-6
DRAG_PER_S = 60.0  # one /latent/xy per animation frame, as the page sends while dragged

_FLOOD = """
import math, socket, sys, time
sys.path.insert(0, sys.argv[4])
from caminos.engine.control.osc.messages import encode_message
port, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
packets = [encode_message("/latent/axis", (2 + i % 6, 0.5 * math.sin(i / 40.0)))
           for i in range(240)]
start, sent = time.monotonic(), 0
while time.monotonic() - start < seconds:
    due = int((time.monotonic() - start) * rate)
    while sent < due:
        sock.sendto(packets[sent % len(packets)], ("127.0.0.1", port))
        sent += 1
    time.sleep(0.002)
print(sent)
"""


class Probes:
    """Send times of the probes (wall clock) and of every value sent, for the latencies."""

    def __init__(self) -> None:
        self.up: list[float] = []
        self.sent: dict[tuple, float] = {}  # (address, value) -> time.time() it was sent
        self.updates: list[float] = []  # page update latencies, s, one per page and value
        self._seen: set[tuple] = set()

    def seen(self, page: int, values: dict) -> None:
        now = time.time()
        for address in ("/out/gain", "/latent/xy"):
            if address in values:
                key = (address, tuple(values[address]))
                sent = self.sent.get(key)
                if sent is not None and (page, key, sent) not in self._seen:
                    self._seen.add((page, key, sent))
                    self.updates.append(now - sent)


async def _page(
    url: str,
    index: int,
    drag: bool,
    probes: Probes,
    stop: asyncio.Event,
    prober: bool,
    osc: OscClient | None,
) -> int:
    """One page: reads every state message (update latencies), drags if asked, sends the
    probes if it is the prober (or over ``osc`` when given); returns the messages it sent."""
    import aiohttp

    sent = 0
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as socket_:

            async def read() -> None:
                async for message in socket_:
                    data = json.loads(message.data)
                    if data["type"] == "state":
                        probes.seen(index, data.get("values", {}))

            reader = asyncio.get_running_loop().create_task(read())
            start = time.monotonic()
            next_drag, next_probe, probe_up = start, start + 0.2, False
            k = 0
            while not stop.is_set():
                now = time.monotonic()
                if drag and now >= next_drag:
                    k += 1
                    phase = k / DRAG_PER_S * 0.7 + index
                    x = round(0.5 + 0.35 * math.cos(phase) + 1e-4 * index, 4)
                    y = round(0.5 + 0.35 * math.sin(phase), 4)
                    probes.sent[("/latent/xy", (x, y))] = time.time()
                    await socket_.send_str(json.dumps({"address": "/latent/xy", "args": [x, y]}))
                    sent += 1
                    next_drag += 1.0 / DRAG_PER_S
                if prober and now >= next_probe:
                    gain = -96.0 if probe_up else 0.0
                    if not probe_up:
                        probes.up.append(time.time())
                        probes.sent[("/out/gain", (0.0,))] = probes.up[-1]
                    if osc is not None:
                        osc.send("/out/gain", gain)
                    else:
                        await socket_.send_str(json.dumps({"address": "/out/gain", "args": [gain]}))
                        sent += 1
                    next_probe += PROBE_ON_S if not probe_up else PROBE_PERIOD_S - PROBE_ON_S
                    probe_up = not probe_up
                await asyncio.sleep(0.002)
            if osc is not None:
                osc.send("/out/gain", -96.0)
            else:
                await socket_.send_str(json.dumps({"address": "/out/gain", "args": [-96.0]}))
            reader.cancel()
    return sent


async def _pages(
    url: str, clients: int, seconds: float, probes: Probes, osc: OscClient | None
) -> int:
    stop = asyncio.Event()
    count = max(clients, 1)  # the osc case has one page that only watches
    tasks = [
        asyncio.get_running_loop().create_task(
            _page(url, i, clients > 0, probes, stop, i == 0, osc)
        )
        for i in range(count)
    ]
    await asyncio.sleep(seconds)
    stop.set()
    return sum(await asyncio.gather(*tasks))


def rises(samples: np.ndarray, hop: int) -> list[int]:
    """Sample indices where the output first rises above :data:`LOUD` after a quiet hop."""
    found, quiet = [], True
    for start in range(0, len(samples) - hop + 1, hop):
        block = np.abs(samples[start : start + hop])
        peak = float(block.max())
        if quiet and peak > LOUD:
            found.append(start + int(np.argmax(block > LOUD)))
            quiet = False
        elif not quiet and peak < QUIET:
            quiet = True
    return found


def latencies(probes: list[float], rise_times: list[float]) -> list[float]:
    """Each probe matched with the first rise after it (within a probe period), in ms."""
    out = []
    for t in probes:
        later = [r for r in rise_times if t <= r < t + PROBE_PERIOD_S]
        if later:
            out.append(1000.0 * (later[0] - t))
    return out


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def run(seconds: float, flood: float) -> list[dict]:
    import soundfile as sf

    jackd = start_jackd(JACK_SERVER)
    play = None
    cases: list[dict] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            osc_port, web_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
            prefix = Path(tmp) / "live"
            total = 4 * (seconds + 3) + 20
            play = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "caminos.engine",
                    "play",
                    "--web",
                    "--file",
                    str(DEMO),
                    "--seconds",
                    str(total),
                    "--status-every",
                    "0",
                    "--record",
                    str(prefix),
                    "--set",
                    f"osc.port={osc_port}",
                    "--set",
                    f"web.port={web_port}",
                    "--set",
                    f"paths.patches={json.dumps(tmp)}",
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for line in play.stdout:  # type: ignore[union-attr]
                if line.startswith("playing at"):
                    break
            else:
                raise SystemExit("benchmarks/web.py: caminos play did not start")
            import threading

            threading.Thread(target=play.stdout.read, daemon=True).start()  # type: ignore
            osc = OscClient(osc_port)
            for address, *args in [
                ("/path/point", "bench", 1.0, -0.5),
                ("/path/play", "bench"),
                ("/latent/follow", 0.0),
                ("/out/gain", -96.0),
            ]:
                osc.send(address, *args)
            time.sleep(1.0)
            url = f"http://127.0.0.1:{web_port}/ws"
            for case, clients, flooding in (
                ("bare_stream", 0, False),
                ("osc", 0, True),
                ("web_1", 1, True),
                ("web_4", 4, True),
            ):
                cases.append(_case(case, clients, flooding, seconds, flood, osc, url, osc_port))
                print(
                    json.dumps(
                        {k: v for k, v in cases[-1].items() if k not in ("probes_up", "origins")}
                    ),
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(1.0)
            play.wait(timeout=total + 120)
            samples, rate = sf.read(str(prefix) + ".wav", dtype="float64")
    finally:
        if play is not None and play.poll() is None:
            play.kill()
        stop_jackd(jackd)
    mono = samples[:, 0] if samples.ndim > 1 else samples
    origins = sorted(o for c in cases for o in c.pop("origins"))
    rise_times = [_sounds_at(n / rate, origins) for n in rises(mono, 256)]
    rows = []
    bare_total = sum(c["bare_xruns"] for c in cases)
    for c in cases:
        up = c.pop("probes_up")
        measured = latencies(up, rise_times) if c["case"] != "bare_stream" else []
        if c["case"] == "bare_stream":
            c.update(xruns_engine=c["xruns"], xruns=bare_total)
        c.update(
            control_to_sound_ms_p50=_percentile(measured, 50),
            control_to_sound_ms_p99=_percentile(measured, 99),
            probes=len(measured),
        )
        rows.append(c)
    return rows


def _sounds_at(offset: float, origins: list[tuple[float, float]]) -> float:
    """Wall time at which the output sample ``offset`` seconds from the first sounds, by the
    engine's ``clock_origin`` as published nearest that time (the device's sample clock and the
    wall clock drift apart by milliseconds a minute, so one origin for the whole run would not
    do)."""
    guess = origins[-1][1] + offset
    when, origin = min(origins, key=lambda pair: abs(pair[0] - guess))
    return origin + offset


class _Origins:
    """Polls ``/engine/status`` twice a second from its own OSC client: ``(time, clock_origin)``
    pairs."""

    def __init__(self, port: int) -> None:
        import threading

        self.pairs: list[tuple[float, float]] = []
        self._osc = OscClient(port)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            status = self._osc.status()
            self.pairs.append((time.time(), float(status["clock_origin"])))
            self._stop.wait(0.5)

    def stop(self) -> list[tuple[float, float]]:
        self._stop.set()
        self._thread.join()
        self._osc.close()
        return self.pairs


def _case(
    case: str,
    clients: int,
    flooding: bool,
    seconds: float,
    flood: float,
    osc: OscClient,
    url: str,
    osc_port: int,
) -> dict:
    before = osc.status()
    origins = _Origins(osc_port)
    reference = subprocess.Popen(
        [sys.executable, "-c", REFERENCE_STREAM, str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    flooder = (
        subprocess.Popen(
            [sys.executable, "-c", _FLOOD, str(osc_port), str(flood), str(seconds), str(ROOT)],
            stdout=subprocess.PIPE,
            text=True,
        )
        if flooding
        else None
    )
    probes = Probes()
    started = time.monotonic()
    page_messages = 0
    if case == "bare_stream":
        time.sleep(seconds)
    else:
        page_messages = asyncio.run(
            _pages(url, clients, seconds, probes, osc if clients == 0 else None)
        )
    elapsed = time.monotonic() - started
    flooded = int(flooder.communicate(timeout=60)[0]) if flooder is not None else 0
    bare = json.loads(reference.communicate(timeout=60)[0])
    time.sleep(0.5)  # the last events applied
    after = osc.status()
    polled = origins.stop()
    applied = int(after["events_applied"]) - int(before["events_applied"])
    return {
        "case": case,
        "clients": clients,
        "messages_per_s": round(applied / elapsed, 1),
        "xruns": (
            int(after["xruns"])
            - int(before["xruns"])
            + int(after["underruns"])
            - int(before["underruns"])
        ),
        "bare_xruns": int(bare["xruns"]),
        "page_update_ms_p99": _percentile([1000 * u for u in probes.updates], 99),
        "page_update_ms_p50": _percentile([1000 * u for u in probes.updates], 50),
        "page_updates": len(probes.updates),
        "osc_sent_per_s": round(flooded / elapsed, 1),
        "page_sent_per_s": round(page_messages / elapsed, 1),
        "probes_up": probes.up,
        "origins": polled,
    }


def print_table(rows: list[dict]) -> None:
    """The rows as the table of docs/benchmarks.md."""
    print(
        "| case | pages | messages/s applied | xruns + underruns | bare stream xruns | "
        "control→sound p50 / p99 ms | page update p50 / p99 ms |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        c2s = (
            f"{r['control_to_sound_ms_p50']} / {r['control_to_sound_ms_p99']}"
            if r["control_to_sound_ms_p50"] is not None
            else "-"
        )
        page = (
            f"{r['page_update_ms_p50']} / {r['page_update_ms_p99']}"
            if r["page_update_ms_p99"] is not None
            else "-"
        )
        print(
            f"| `{r['case']}` | {r['clients']} | {r['messages_per_s']} | {r['xruns']} | "
            f"{r['bare_xruns']} | {c2s} | {page} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="write the rows as JSON (to PATH, or to stdout without one)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per case")
    parser.add_argument(
        "--flood", type=float, default=1000.0, help="OSC messages a second beside the pages"
    )
    args = parser.parse_args(argv)
    if shutil.which("jackd") is None:
        print(
            "benchmarks/web.py: jackd is not installed (scripts/setup.sh --test)", file=sys.stderr
        )
        return 2
    rows = run(args.seconds, args.flood)
    if args.json == "-":
        print(json.dumps(rows, indent=1))
    else:
        print_table(rows)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
