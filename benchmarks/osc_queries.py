"""OSC queries under a flood: how long a quiet client waits for ``/engine/status`` while another
client floods the server.

Usage::

    .venv/bin/python benchmarks/osc_queries.py [--packets 16000] [--rate 0] [--rounds 5]
        [--kinds malformed,valid] [--live] [--json PATH]

Three cases, one after another, against one server:

- ``reference``: the quiet client alone, asking ``/engine/status`` every 20 ms for
  ``--reference-seconds`` (2 s): the same query's latency with no flood, measured in the same run.
- ``flood_malformed``: a second client (another process, another UDP port) sends ``--packets``
  malformed packets (random bytes, truncated messages, an unknown type tag, broken bundles), as
  fast as the kernel takes them (``--rate 0``: 200,000 to 600,000 a second here) or at ``--rate``
  packets a second, while the quiet client keeps asking every 20 ms; ``--rounds`` such floods
  one after another, their queries pooled.
- ``flood_valid``: the same with valid ``/latent/axis i f`` messages.

A round lasts from its first flood packet until a reply to the quiet client shows the flood's
final count (``osc_malformed`` or ``osc_messages``: the whole flood, or what the kernel did not
drop, once it has stopped growing for a second; at most ``--max-seconds``); only queries sent
in that window count. Each query waits for its reply (at most 1 s: then it is lost) before the
next is sent. Rows: ``{case, queries, answered, lost, p50_ms, p99_ms, max_ms,
p99_vs_reference, rounds, flood_sent, flood_rate, flood_sent_per_s, flood_counted,
drained_s}``: ``flood_counted`` below ``flood_sent`` means the kernel dropped packets (the
socket's receive buffer was full); ``flood_sent_per_s`` and ``drained_s`` (from a flood's first
packet to the reply that shows it all counted) are medians over the rounds.

The server is, by default, an :class:`~caminos.engine.control.osc.server.OscServer` in this
process on an engine built as ``benchmarks/osc.py`` builds one but never ticked, whose queue
keeps no event (:class:`InProcessServer`), with the control process's GIL switch interval
(0.5 ms): the control process of ``caminos play`` serves OSC on a replica that is never ticked
either and forwards every event at once. ``--live`` measures ``caminos play`` itself (the demo
file, through the benchmark's own ``jackd -d dummy``), its control process included. The
flooding and the quiet clients are processes of their own (this script with ``--flood`` and
``--probe``), so that neither shares the server's GIL.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

QUERY_EVERY_S = 0.02  # the quiet client asks /engine/status this often
REPLY_TIMEOUT_S = 1.0  # a query unanswered this long is lost
PACE_S = 0.0005  # a paced flood sends what is due, then sleeps this long
STILL_S = 1.0  # a flood whose count has not grown for this long is over
FLOOD_DELAY_S = 0.3  # the flood starts this long after the quiet client
PLAY_SECONDS = 3600  # --live: caminos play is stopped when the cases are done
SWITCH_INTERVAL_S = 0.0005  # the control process's sys.setswitchinterval
MALFORMED = [
    b"hello, not OSC",
    b"/latent/axis\x00\x00\x00\x00,if",  # truncated: the arguments are missing
    b"/latent/noise\x00\x00\x00,x\x00\x00\x00\x00\x00\x01",  # an unknown type tag
    b"#bundle\x00" + b"\x00" * 8 + b"\x00\x00\x00\x40/a\x00\x00",  # an element cut short
]


# ------------------------------------------------------------------------------ clients
def flood_packets(kind: str, count: int) -> list[bytes]:
    """The flood's datagrams: malformed ones, or valid ``/latent/axis`` messages."""
    from caminos.engine.control.osc.messages import encode_message

    if kind == "malformed":
        rng = np.random.default_rng(21)
        packets = list(MALFORMED) + [
            bytes(rng.integers(0, 256, 8 + 4 * k, dtype=np.uint8)) for k in range(8)
        ]
    elif kind == "valid":
        packets = [encode_message("/latent/axis", (k % 8, 0.01 * (k % 5))) for k in range(40)]
    else:
        raise SystemExit(f"osc_queries.py: unknown flood kind {kind!r} (malformed, valid)")
    return [packets[k % len(packets)] for k in range(count)]


def flood(port: int, kind: str, count: int, rate: float, start: float) -> None:
    """Send ``count`` packets of ``kind`` from one socket from monotonic time ``start``, at
    ``rate`` a second (0: as fast as the kernel takes them); print what was sent as JSON."""
    packets = flood_packets(kind, count)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # /error replies: dropped
        target = ("127.0.0.1", port)
        time.sleep(max(start - time.monotonic(), 0.0))
        began = time.monotonic()
        sent = 0
        while sent < count:
            due = count if rate <= 0 else min(int((time.monotonic() - began) * rate) + 1, count)
            while sent < due:
                try:
                    sock.sendto(packets[sent], target)
                    sent += 1
                except (BlockingIOError, ConnectionRefusedError):  # the send buffer is full
                    break
            if sent < count:
                time.sleep(PACE_S)
        print(json.dumps({"sent": sent, "began": began, "ended": time.monotonic()}))


def probe(port: int, seconds: float, until_key: str, until_count: int) -> None:
    """Ask ``/engine/status`` every 20 ms for ``seconds``, or until a reply shows ``until_key``
    grown by ``until_count`` past the first reply's (then stop); print the queries as JSON:
    ``[sent (monotonic s), round trip (s, None when lost), value of until_key]``."""
    from pythonosc.osc_message import OscMessage

    from caminos.engine.control.osc.messages import encode_message

    query = encode_message("/engine/status", ())
    rows = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        target = ("127.0.0.1", port)

        def ask() -> tuple[float | None, int]:
            sent = time.monotonic()
            sock.sendto(query, target)
            sock.settimeout(REPLY_TIMEOUT_S)
            try:
                while True:
                    message = OscMessage(sock.recvfrom(65536)[0])
                    if message.address == "/engine/status":
                        flat = list(message.params)
                        status = dict(zip(flat[::2], flat[1::2]))
                        return time.monotonic() - sent, int(status.get(until_key, 0))
            except socket.timeout:  # lost; a late reply must not answer the next query
                sock.setblocking(False)
                try:
                    while True:
                        sock.recvfrom(65536)
                except BlockingIOError:
                    return None, -1

        _, base = ask()  # the first query starts the client's lane: not timed
        began = time.monotonic()
        k = 0
        while time.monotonic() - began < seconds:
            time.sleep(max(began + k * QUERY_EVERY_S - time.monotonic(), 0.0))
            sent = time.monotonic()
            trip, value = ask()
            k += 1
            own = k if until_key == "osc_messages" else 0  # the queries are messages too
            rows.append([sent, trip, value - base - own if value >= 0 else -1])
            if until_count and _drained(rows, until_count):
                break
    print(json.dumps(rows))


def _drained(rows: list[list], count: int) -> bool:
    """Whether the flood is over: all ``count`` packets counted, or the count has not grown
    for :data:`STILL_S` since it first grew (the kernel dropped the rest)."""
    counts = [r[2] for r in rows if r[1] is not None]
    if not counts or counts[-1] >= count:
        return bool(counts)
    still = round(STILL_S / QUERY_EVERY_S)
    return counts[-1] > 0 and len(counts) > still and counts[-still - 1] == counts[-1]


# ------------------------------------------------------------------------------ servers
class InProcessServer:
    """An OSC server in this process on a never-ticked engine, as the control process runs it.

    The control process's replica forwards each event to the hop clock's process at once and
    keeps none; here each event is counted and dropped (:func:`forwarding_queue`), so a flood's
    events neither pile up nor live long enough to load the garbage collector (a full collection
    over the engine's objects takes about 100 ms here).
    """

    def __init__(self) -> None:
        from caminos.engine.clock.engine import Engine
        from caminos.engine.control.osc.server import OscServer
        from caminos.engine.control.surface import attach
        from caminos.engine.core.config import load_config

        import torch

        torch.set_num_threads(1)
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        config = load_config()
        self.engine = Engine(config)
        attach(self.engine)
        self.engine.queue = forwarding_queue()
        self.server = OscServer(self.engine, config.osc.__class__(port=0)).start()
        self.port = self.server.port

    def close(self) -> None:
        self.server.stop()


def forwarding_queue():
    """A control queue that counts each event posted (``forwarded``) and keeps none."""
    from caminos.engine.core.controls import ControlQueue

    class ForwardingQueue(ControlQueue):
        forwarded = 0

        def post(self, address: str, args: tuple, hop: int = -1, payload=None) -> None:
            self.forwarded += 1

    return ForwardingQueue()


class LiveServer:
    """``caminos play`` of the demo through the benchmark's own JACK dummy server."""

    def __init__(self) -> None:
        import os
        import shutil

        if shutil.which("jackd") is None:
            raise SystemExit(
                "osc_queries.py --live: jackd is not installed (scripts/setup.sh --test)"
            )
        from benchmarks.live import free_port, start_jackd

        self.jackd = start_jackd(f"caminos-bench-queries-{os.getpid()}")
        self.port = free_port()
        self.play = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "caminos.engine",
                "play",
                "--file",
                str(ROOT / "patches" / "demo" / "demo.wav"),
                "--seconds",
                str(PLAY_SECONDS),
                "--status-every",
                "0",
                "--set",
                f"osc.port={self.port}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in self.play.stdout:  # type: ignore[union-attr]
            if line.startswith("playing at"):
                break
        else:
            self.close()
            raise SystemExit("osc_queries.py --live: caminos play did not start")

    def close(self) -> None:
        from benchmarks.live import stop_jackd

        if self.play.poll() is None:
            self.play.terminate()
            try:
                self.play.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.play.kill()
                self.play.communicate()
        stop_jackd(self.jackd)


# -------------------------------------------------------------------------------- cases
def _script(*args: object) -> list[str]:
    return [sys.executable, __file__, *map(str, args)]


def _round(port: int, kind: str, packets: int, rate: float, max_s: float) -> dict:
    """One flood and the quiet client's queries from its first packet until a reply shows its
    final count: their round trips (ms, None when lost), packets sent and counted, and the
    seconds until then."""
    key = "osc_malformed" if kind == "malformed" else "osc_messages"
    start = time.monotonic() + FLOOD_DELAY_S + 1.0  # after both have started
    prober = subprocess.Popen(
        _script("--probe", port, max_s, key, packets), stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    flooder = subprocess.Popen(
        _script("--flood", port, kind, packets, rate, start),
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    sent = json.loads(flooder.communicate(timeout=max_s + 60)[0])
    rows = json.loads(prober.communicate(timeout=max_s + 60)[0])
    window = [r for r in rows if r[0] >= sent["began"]]
    counted = max((r[2] for r in window), default=0)
    end = next(
        (k for k, r in enumerate(window) if r[1] is not None and r[2] >= counted), len(window) - 1
    )
    window = window[: end + 1]
    last = window[-1] if window else None
    return {
        "trips": [None if r[1] is None else 1000.0 * r[1] for r in window],
        "sent": sent["sent"],
        "counted": counted,
        "sent_per_s": sent["sent"] / max(sent["ended"] - sent["began"], 1e-9),
        "drained": last[0] + last[1] - sent["began"] if last and last[1] is not None else None,
    }


def run_case(
    port: int,
    kind: str | None,
    packets: int,
    rate: float,
    rounds: int,
    reference_s: float,
    max_s: float,
) -> dict:
    """One case: the quiet client's queries alone (``kind`` None), or beside ``rounds``
    floods one after another, their queries pooled."""
    if kind is None:
        done = subprocess.run(
            _script("--probe", port, reference_s, "osc_messages", 0),
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        measured = [
            {
                "trips": [None if r[1] is None else 1000.0 * r[1] for r in json.loads(done.stdout)],
                "sent": 0,
                "counted": 0,
                "sent_per_s": 0.0,
                "drained": None,
            }
        ]
    else:
        measured = [_round(port, kind, packets, rate, max_s) for _ in range(rounds)]
    all_trips = [t for m in measured for t in m["trips"]]
    trips = np.array([t for t in all_trips if t is not None])
    drained = [m["drained"] for m in measured if m["drained"] is not None]
    return {
        "case": f"flood_{kind}" if kind else "reference",
        "queries": len(all_trips),
        "answered": len(trips),
        "lost": len(all_trips) - len(trips),
        "p50_ms": round(float(np.percentile(trips, 50)), 2) if len(trips) else None,
        "p99_ms": round(float(np.percentile(trips, 99)), 2) if len(trips) else None,
        "max_ms": round(float(trips.max()), 2) if len(trips) else None,
        "rounds": len(measured) if kind else 0,
        "flood_sent": sum(m["sent"] for m in measured),
        "flood_rate": rate,
        "flood_sent_per_s": round(float(np.median([m["sent_per_s"] for m in measured]))),
        "flood_counted": sum(m["counted"] for m in measured),
        "drained_s": round(float(np.median(drained)), 3) if drained else None,
    }


def run(
    packets: int,
    rate: float,
    rounds: int,
    kinds: list[str],
    live: bool,
    reference_s: float,
    max_s: float,
) -> list[dict]:
    """The reference, then each flood, against one server; ratios against the reference."""
    server = LiveServer() if live else InProcessServer()
    rows = []
    try:
        for kind in [None, *kinds]:
            row = run_case(server.port, kind, packets, rate, rounds, reference_s, max_s)
            row["server"] = "caminos_play" if live else "in_process"
            reference = rows[0]["p99_ms"] if rows else row["p99_ms"]
            row["p99_vs_reference"] = (
                round(row["p99_ms"] / reference, 2) if row["p99_ms"] and reference else None
            )
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        server.close()
    return rows


def print_table(rows: list[dict]) -> None:
    """The rows as the table of ``docs/benchmarks.md``."""
    print(
        "\n| case | queries answered / sent | p50 / p99 / max ms | p99 vs reference | "
        "floods | sent per s (median) | flood packets sent / counted | drained s (median) |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        times = f"{r['p50_ms']} / {r['p99_ms']} / {r['max_ms']}" if r["answered"] else "-"
        flood_text = f"{r['flood_sent']:,} / {r['flood_counted']:,}" if r["flood_sent"] else "-"
        rate = f"{r['flood_sent_per_s']:,}" if r["flood_sent"] else "-"
        print(
            f"| `{r['case']}` | {r['answered']} / {r['queries']} | {times} | "
            f"{r['p99_vs_reference']} | {r['rounds'] or '-'} | {rate} | {flood_text} | "
            f"{r['drained_s'] or '-'} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=16000, help="packets in each flood")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="flood packets a second (0: as fast as the kernel takes them)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="floods per case, one after another (their queries pooled)",
    )
    parser.add_argument(
        "--kinds",
        default="malformed,valid",
        help="floods to run, comma-separated: malformed, valid",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="measure caminos play through JACK's dummy driver instead",
    )
    parser.add_argument(
        "--reference-seconds", type=float, default=2.0, help="seconds of queries with no flood"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=30.0, help="longest a flood round lasts, in seconds"
    )
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    parser.add_argument("--flood", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--probe", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.flood:
        port, kind, count, rate, start = args.flood
        flood(int(port), kind, int(count), float(rate), float(start))
        return 0
    if args.probe:
        port, seconds, key, count = args.probe
        probe(int(port), float(seconds), key, int(count))
        return 0
    kinds = [k for k in args.kinds.split(",") if k]
    rows = run(
        args.packets,
        args.rate,
        args.rounds,
        kinds,
        args.live,
        args.reference_seconds,
        args.max_seconds,
    )
    print_table(rows)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
