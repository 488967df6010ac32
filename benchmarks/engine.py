"""Engine benchmark: cost of one hop of the whole chain, offline render speed, xruns on JACK.

Rows (``--json PATH`` writes them; a table is printed either way):

- ``default`` / ``hop128``: the shipped model and default config at hop 256 and 128, the demo
  playing through the file player with latent noise moving; per-hop wall time as a fraction of
  the hop's duration (p50, p99, max), the same in thread CPU time (``cpu_*``: on a shared
  machine, wall-clock tails mostly measure other processes), and ``render_rtf``, the offline
  speed as a multiple of real time.
- ``rtpghi``: the same with the cheapest method that integrates phase (RTPGHI, look-ahead 1).
- ``no_texture``: the default chain with ``model.texture`` 0 (the model alone, no source grain).
- ``phase_only``: the live phase method alone on the same frames: the reference measured in the
  same run, so ``ratio_to_phase`` says what the rest of the chain costs on top of it.
- ``--channels 1,2 --units``: each unit of the hop timed on its own for each voice count.
- ``--channels 1,2,8``: only the field rows, ``voices_N``: N voices (1: the mono layout, one
  channel; 2: stereo; 4: quad; else ring-N) at spread 1 with wander and decorrelation on,
  ``p99_vs_mono`` their p99 over the same run's ``voices_1``; ``--phase-method`` adds the rows
  again with another live method (what a larger field may need).
- ``jack_idle`` / ``jack_load``: ``caminos play`` for ``--seconds`` on ``jackd -d dummy`` (when
  installed), without and with one busy process per core; ``jack_reference_*``: a bare PortAudio
  stream writing silence under the same conditions, so xruns of the server and machine are told
  apart from the engine's.
- ``--live``: ``caminos play`` (demo file, OSC on) while something else happens, each case beside
  a bare PortAudio stream on the same JACK server in the same seconds, with ``/engine/status``
  asked every 50 ms from another client (its round trip, p50 and p99): ``idle`` (nothing),
  ``voice_babble`` (the voice babbling all the time), ``voice_say`` (a sentence every 2 s),
  ``osc_fuzz`` (2,000 random and malformed packets a second, mixed with valid messages to every
  address, those setting the engine's own cost kept within the defaults: :data:`FUZZ_LIMITS`) and
  ``all`` (the three at once, with 5,000 packets a second). The JACK server is the benchmark's own,
  named (``JACK_DEFAULT_SERVER``); only it is stopped.

    python benchmarks/engine.py --json engine.json             # about 5 minutes
    python benchmarks/engine.py --seconds 10 --no-jack         # the per-hop rows only
    python benchmarks/engine.py --no-jack --compare-model old.pt   # beside another model
    python benchmarks/engine.py --live --seconds 60 --json live.json   # about 8 minutes
    python benchmarks/engine.py --channels 1,2,8 --seconds 20   # the field's cost per voice
    python benchmarks/engine.py --channels 1,2 --units --seconds 10  # per unit of the hop
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread: the per-hop timings mean one core

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from caminos.engine.core.config import load_config
from caminos.engine.core.layouts import default_layout_name
from caminos.engine.clock.engine import Engine
from benchmarks.live import REFERENCE_STREAM, free_port, start_jackd, stop_jackd

DEMO = ROOT / "patches" / "demo" / "demo.wav"


def _fractions(seconds: np.ndarray, hop_seconds: float, prefix: str = "") -> dict:
    p50, p99 = np.percentile(seconds, [50, 99])
    return {
        f"{prefix}p50_fraction": p50 / hop_seconds,
        f"{prefix}p99_fraction": p99 / hop_seconds,
        f"{prefix}max_fraction": seconds.max() / hop_seconds,
    }


def field_overrides(voices: int) -> dict:
    """The configuration of a field of ``voices`` (1: the mono layout on one channel): spread
    1 std, each voice wandering and decorrelated, so every per-voice stage runs."""
    if voices == 1:
        return {"audio.channels": 1, "field.layout": "mono"}
    return {
        "audio.channels": voices,
        "field.layout": default_layout_name(voices),
        "field.spread": 1.0,
        "field.wander": 0.3,
        "field.decorrelate": 1.0,
    }


def demo_engine(config) -> Engine:
    """An engine for ``config``, warm, the demo playing through the file player with the latent
    noise moving: what every per-hop row measures."""
    engine = Engine(config)
    engine.warm_up()
    engine.post("/source/file/open", str(DEMO))
    engine.post("/source/file/play", 1)
    engine.post("/latent/noise", 0.3)
    return engine


def measure_chain(
    case: str,
    hop: int,
    seconds: float,
    model: str | None = None,
    texture: float | None = None,
    voices: int = 1,
    **overrides: object,
) -> tuple[dict, np.ndarray]:
    """Tick the engine over ``seconds`` of the demo; returns its row and the first voice's
    decoded magnitude frames (for the phase-only reference). ``overrides``: ``engine.*`` keys;
    ``model``: another checkpoint than the configured one; ``texture``: another
    ``model.texture``; ``voices``: the field (:func:`field_overrides`; 1, the mono layout on one
    channel, is the chain as it was before the field)."""
    config = load_config(
        overrides={
            "stft.hop": hop,
            **field_overrides(voices),
            **({"model.checkpoint": model} if model else {}),
            **({"model.texture": texture} if texture is not None else {}),
            **{f"engine.{k}": v for k, v in overrides.items()},
        }
    )
    engine = demo_engine(config)
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
        frames[i] = engine.decoded_frames[0]
    elapsed = time.perf_counter() - started
    hop_seconds = hop / config.audio.sample_rate
    row = {
        "case": case,
        "hop": hop,
        **_fractions(wall, hop_seconds),
        **_fractions(cpu, hop_seconds, "cpu_"),
        "render_rtf": hops * hop_seconds / elapsed,
        "xruns": None,
        "seconds": seconds,
        "phase_method": config.engine.phase_method,
        "lookahead": config.engine.lookahead,
        "voices": engine.voices,
    }
    engine.close()
    return row, frames


def measure_phase_only(frames: np.ndarray, hop: int, seconds: float) -> dict:
    """The live phase method alone (its own overlap-add included) on the chain's frames."""
    from caminos.engine.clock.phase_stage import PhaseStage

    config = load_config(overrides={"stft.hop": hop})
    eng = config.engine
    stage = PhaseStage(
        config.stft, config.phase, eng.phase_method, eng.lookahead, eng.iterations, 0
    )
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
    return {
        "case": "phase_only",
        "hop": hop,
        **_fractions(wall, hop_seconds),
        **_fractions(cpu, hop_seconds, "cpu_"),
        "render_rtf": len(frames) * hop_seconds / elapsed,
        "xruns": None,
        "seconds": seconds,
        "phase_method": eng.phase_method,
        "lookahead": eng.lookahead,
    }


# ---------------------------------------------------------------------------------------- JACK
_BUSY = "while True: pass"


JACK_SERVER = f"caminos-bench-{os.getpid()}"  # the benchmark's own server; only it is stopped


def measure_jack(seconds: float, load: bool) -> list[dict]:
    """``caminos play`` and a bare reference stream on JACK dummy, with or without load."""
    busy = (
        [subprocess.Popen([sys.executable, "-c", _BUSY]) for _ in range(os.cpu_count() or 1)]
        if load
        else []
    )
    server = start_jackd(JACK_SERVER)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            report_path = Path(tmp) / "report.json"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "caminos.engine",
                    "play",
                    "--file",
                    str(DEMO),
                    "--seconds",
                    str(seconds),
                    "--no-osc",
                    "--status-every",
                    "0",
                    "--report",
                    str(report_path),
                ],
                cwd=ROOT,
                check=True,
                capture_output=True,
                timeout=seconds + 300,
            )
            report = json.loads(report_path.read_text())
        suffix = "load" if load else "idle"
        rows.append(
            {
                "case": f"jack_{suffix}",
                "hop": 256,
                "p50_fraction": None,
                "p99_fraction": None,
                "max_fraction": None,
                "render_rtf": None,
                "xruns": report["xruns"] + report["underruns"],
                "engine_underruns": report["underruns"],
                "callbacks": report["callbacks"],
                "expected_callbacks": round(report["expected_callbacks"]),
                "tick_ms_p99": report["tick_ms_p99"],
                "seconds": seconds,
            }
        )
        reference = subprocess.run(
            [sys.executable, "-c", REFERENCE_STREAM, str(seconds)],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
        counts = json.loads(reference.stdout)
        rows.append(
            {
                "case": f"jack_reference_{suffix}",
                "hop": 256,
                "p50_fraction": None,
                "p99_fraction": None,
                "max_fraction": None,
                "render_rtf": None,
                "xruns": counts["xruns"],
                "callbacks": counts["callbacks"],
                "seconds": seconds,
            }
        )
    finally:
        for process in busy:
            process.kill()
        stop_jackd(server)
    return rows


# ------------------------------------------------------------------------------- live cases
LIVE_CASES = (
    "idle",
    "voice_babble",
    "voice_say",
    "osc_fuzz",
    "all",
    "field_8",
    "field_8_unwatched",
    "field_8_pv",
    "field_8_to_pv",
)
FIELD_VOICES = 8  # the field_8 case: a ring of 8 speakers, a path per voice, the voice babbling
SENTENCES = (
    "el viento mueve las hojas del camino",
    "la luz cae despacio sobre el agua",
    "nadie sabe de donde viene este sonido",
    "una voz lejana cuenta los pasos",
)
STATUS_EVERY_S = 0.05
# Valid fuzz values for the settings that set the engine's own cost stay within the defaults:
# 200 iterations per frame at look-ahead 8 cost 20 ms a hop however the message arrived (a first
# run without these limits measured that, not the control traffic).
FUZZ_LIMITS = {"/phase/iterations": (1, 16), "/phase/lookahead": (0, 1)}

_FUZZ = """
import json, random, socket, struct, sys, time
port, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
with open(sys.argv[4]) as f:
    controls = json.load(f)
rng = random.Random(7)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
sock.setblocking(False)
NAMES = ["a", "b", "walk", "still", "live", "dawn"]

def pad(b):
    return b + b"\\0" * (4 - len(b) % 4)

def message(address, args):
    tags, data = ",", b""
    for a in args:
        if isinstance(a, str):
            tags += "s"; data += pad(a.encode())
        elif isinstance(a, int):
            tags += "i"; data += struct.pack(">i", a)
        else:
            tags += "f"; data += struct.pack(">f", a)
    return pad(address.encode()) + pad(tags.encode()) + data

def value(spec):
    kind, lo, hi, choices = spec
    if kind == "s":
        return rng.choice(choices) if choices else rng.choice(NAMES)
    lo = -1.0 if lo is None else lo
    hi = lo + 2.0 if hi is None else hi
    if kind == "i":
        return rng.randint(int(lo), int(min(hi, lo + 1000)))
    return rng.uniform(lo, min(hi, lo + 1000.0))

def valid():
    address, specs, repeat = rng.choice(controls)
    args = [value(s) for s in specs]
    if repeat:
        args += [value(specs[-1]) for _ in range(rng.randint(0, 2))]
    return message(address, args)

def malformed():
    kind = rng.randrange(5)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    if kind == 1:
        good = valid()
        return good[:rng.randrange(1, len(good))]
    if kind == 2:
        return pad(b"/latent/noise") + pad(b",x") + b"\\0\\0\\0\\1"
    if kind == 3:
        return b"#bundle\\0" + bytes(8) + struct.pack(">i", 1000) + b"/x"
    return message(rng.choice(controls)[0], [rng.choice([1, 2.5, "z", float("nan")])
                                              for _ in range(rng.randrange(4))])

sent, start = 0, time.monotonic()
while time.monotonic() - start < seconds:
    for _ in range(max(int(rate / 100), 1)):
        data = valid() if rng.random() < 0.5 else malformed()
        try:
            sock.sendto(data, ("127.0.0.1", port))
            sent += 1
        except (BlockingIOError, OSError):
            pass
    try:
        while True:
            sock.recvfrom(65536)  # replies: drop them
    except (BlockingIOError, OSError):
        pass
    next_batch = start + (sent / rate)
    time.sleep(max(next_batch - time.monotonic(), 0.0))
print(sent)
"""


def _fuzz_controls() -> list:
    """Every address a client may send, with its arguments' kinds and ranges, for the fuzzer
    (not /osc/reply_port: it would send the status prober's replies elsewhere)."""
    from caminos.engine.control.osc.docs import documented_engine

    rows = []
    for control in documented_engine().registry:
        if control.query or control.address == "/osc/reply_port":
            continue
        lo, hi = FUZZ_LIMITS.get(control.address, (None, None))
        specs = [
            (
                a.kind,
                a.lo if lo is None else lo,
                a.hi if hi is None else hi,
                list(a.choices) if a.choices else None,
            )
            for a in control.args
        ]
        rows.append((control.address, specs, bool(control.args and control.args[-1].repeat)))
    return rows


class _StatusProbe:
    """Asks ``/engine/status`` every 50 ms from its own socket; keeps each round trip, and
    ``timeline``: (seconds since the start, underruns, phase fallbacks) at each reply."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.round_trips: list[float] = []
        self.timeline: list[tuple[float, int, int]] = []
        self.lost = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "_StatusProbe":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from pythonosc.osc_message import OscMessage

        from caminos.engine.control.osc.messages import encode_message

        query = encode_message("/engine/status", ())
        start = time.perf_counter()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(1.0)
            while not self._stop.is_set():
                sent = time.perf_counter()
                sock.sendto(query, ("127.0.0.1", self.port))
                try:
                    reply = OscMessage(sock.recvfrom(65536)[0])
                    while reply.address != "/engine/status":
                        reply = OscMessage(sock.recvfrom(65536)[0])
                    self.round_trips.append(time.perf_counter() - sent)
                    status = dict(zip(reply.params[::2], reply.params[1::2]))
                    self.timeline.append(
                        (
                            sent - start,
                            int(status["underruns"]),
                            int(status.get("phase_fallbacks", 0)),
                        )
                    )
                except (socket.timeout, OSError):
                    self.lost += 1
                time.sleep(max(STATUS_EVERY_S - (time.perf_counter() - sent), 0.0))


def _send(port: int, address: str, *args) -> None:
    _send_all(port, [(address, *args)])


def _send_all(port: int, messages: list[tuple]) -> None:
    """Messages from one socket, so they keep their order (one client, one lane)."""
    from caminos.engine.control.osc.messages import encode_message

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for address, *args in messages:
            sock.sendto(encode_message(address, args), ("127.0.0.1", port))


def measure_live(case: str, seconds: float, controls: list) -> dict:
    """One live case: ``caminos play`` with its load, beside a bare stream, status probed.

    ``field_8``: eight output ports, a ring of eight voices (spread 1, wander, decorrelation),
    each on its own slow path, the voice babbling; the bare stream writes eight channels too.
    ``field_8_unwatched``: the same without the overload watch (``engine.overload_phase = ""``
    and ``engine.overload_iterations = 0``): what the machine does with the chosen phase
    recovery whatever it costs. ``field_8_pv``: the same with the phase vocoder chosen from the
    start (``engine.phase_method = "pv"``). ``field_8_to_pv``: the watch with one step, straight
    to ``pv`` (``engine.overload_iterations = 0``, the watch before its ladder).
    """
    field_case = case.startswith("field_8")
    channels = FIELD_VOICES if field_case else 2
    field = (
        [
            "--set",
            f"audio.channels={channels}",
            "--set",
            f'field.layout="ring-{channels}"',
            "--set",
            "field.spread=1",
            "--set",
            "field.wander=0.3",
            "--set",
            "field.decorrelate=1",
        ]
        if field_case
        else []
    )
    if case == "field_8_unwatched":
        field += ["--set", 'engine.overload_phase=""', "--set", "engine.overload_iterations=0"]
    if case == "field_8_to_pv":
        field += ["--set", "engine.overload_iterations=0"]
    if case == "field_8_pv":
        field += ["--set", 'engine.phase_method="pv"']
    server = start_jackd(JACK_SERVER, playback=channels)
    play = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            report_path = Path(tmp) / "report.json"
            play = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "caminos.engine",
                    "play",
                    "--file",
                    str(DEMO),
                    "--seconds",
                    str(seconds + 4),
                    "--status-every",
                    "0",
                    "--report",
                    str(report_path),
                    "--set",
                    f"osc.port={port}",
                    "--set",
                    f"paths.recordings={json.dumps(tmp)}",
                    "--set",
                    f"paths.patches={json.dumps(tmp)}",
                    *field,
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
                raise RuntimeError("caminos play did not start")
            threading.Thread(target=play.stdout.read, daemon=True).start()  # type: ignore
            time.sleep(1.0)
            reference = subprocess.Popen(
                [sys.executable, "-c", REFERENCE_STREAM, str(seconds), str(channels)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            status = _StatusProbe(port).start()
            fuzz = None
            if case in ("osc_fuzz", "all"):
                rate = 5000.0 if case == "all" else 2000.0
                table = Path(tmp) / "controls.json"
                table.write_text(json.dumps(controls))
                fuzz = subprocess.Popen(
                    [sys.executable, "-c", _FUZZ, str(port), str(rate), str(seconds), str(table)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
            if case in ("voice_babble", "all") or field_case:
                _send(port, "/voice/babble", 10000)
            if field_case:
                messages = []
                for k in range(channels):  # a slow circle of its own for each voice
                    name = f"v{k + 1}"
                    messages.append(("/path/new", name))
                    for step in range(5):
                        angle = 2 * np.pi * (step / 4 + k / channels)
                        messages.append(
                            (
                                "/path/point",
                                name,
                                1.5 * float(np.cos(angle)),
                                1.5 * float(np.sin(angle)),
                            )
                        )
                    messages += [
                        (f"/channel/{k + 1}/follow", 0.5),
                        (f"/channel/{k + 1}/path/play", name),
                    ]
                _send_all(port, messages)
            started = time.monotonic()
            said = 0
            while time.monotonic() - started < seconds:
                if case in ("voice_say", "all"):
                    _send(port, "/voice/say", SENTENCES[said % len(SENTENCES)])
                    said += 1
                    if case == "all" and said % 8 == 0:
                        _send(port, "/voice/babble", 10000)  # the fuzz may have stopped it
                time.sleep(2.0)
            status.stop()
            sent = int(fuzz.communicate(timeout=60)[0]) if fuzz is not None else 0
            counts = json.loads(reference.communicate(timeout=60)[0])
            play.wait(timeout=seconds + 120)
            report = json.loads(report_path.read_text())
    finally:
        if play is not None and play.poll() is None:
            play.kill()
        stop_jackd(server)
    trips = np.array(status.round_trips) * 1000.0
    return {
        "case": case,
        "seconds": seconds,
        "engine_underruns": report["underruns"],
        "xruns": report["xruns"],
        "bare_xruns": counts["xruns"],
        "callbacks": report["callbacks"],
        "expected_callbacks": round(report["expected_callbacks"]),
        "bare_callbacks": counts["callbacks"],
        "status_p50_ms": float(np.percentile(trips, 50)) if len(trips) else None,
        "status_p99_ms": float(np.percentile(trips, 99)) if len(trips) else None,
        "status_max_ms": float(trips.max()) if len(trips) else None,
        "status_lost": status.lost,
        "packets_sent": sent,
        "sentences": said,
        "events_applied": report["extra"]["events_applied"],
        "control_errors": report["extra"]["control_errors"],
        "tick_ms_p99": report["tick_ms_p99"],
        "phase_fallbacks": report["extra"]["phase_fallbacks"],
        "timeline": status.timeline,
    }


def print_live(rows: list[dict]) -> None:
    """The live cases as the table of docs/benchmarks.md."""
    print(
        "| case | engine underruns | xruns | bare stream xruns | callbacks / expected | "
        "/engine/status p50 / p99 / max ms (lost) | packets sent | events applied | "
        "tick p99 ms | phase fallbacks |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        status = (
            f"{r['status_p50_ms']:.1f} / {r['status_p99_ms']:.1f} / "
            f"{r['status_max_ms']:.1f} ({r['status_lost']})"
            if r["status_p50_ms"] is not None
            else "-"
        )
        print(
            f"| `{r['case']}` | {r['engine_underruns']} | {r['xruns']} | {r['bare_xruns']} | "
            f"{r['callbacks']} / {r['expected_callbacks']} | {status} | "
            f"{r['packets_sent'] or '-'} | {r['events_applied']} | {r['tick_ms_p99']:.2f} | "
            f"{r['phase_fallbacks']} |"
        )


def _cell(row: dict, key: str, scale: float = 100.0, fmt: str = "{:7.1f}%") -> str:
    """One column of the printed table (a dash where the row has no value)."""
    value = row.get(key)
    return " " + (fmt.format(value * scale) if value is not None else f"{'-':>7} ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    parser.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="seconds per JACK run and of demo per hop measurement (default 60)",
    )
    parser.add_argument("--no-jack", action="store_true", help="skip the JACK rows")
    parser.add_argument(
        "--compare-model",
        metavar="CHECKPOINT",
        action="append",
        default=[],
        help="also the whole chain at hop 256 with this checkpoint (a row "
        "named after its file), measured in the same run",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="only the live cases (JACK): the voice, an OSC fuzz, both, each beside a bare stream",
    )
    parser.add_argument(
        "--channels",
        metavar="N,N,...",
        help="only the field rows: these voice counts (1 is the mono layout)",
    )
    parser.add_argument(
        "--phase-method",
        metavar="METHOD",
        help="with --channels: the rows again with this live phase method",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        metavar="N",
        help="with --channels: the rows again with engine.iterations = N (the overload "
        "watch's first step down)",
    )
    parser.add_argument(
        "--phase-threads",
        type=int,
        default=1,
        metavar="N",
        help="with --channels: the rows again with engine.phase_threads = N",
    )
    parser.add_argument(
        "--units",
        action="store_true",
        help="with --channels: each unit of the hop timed on its own (p50 and p99, us), "
        "one column per voice count: where a larger field's time goes",
    )
    parser.add_argument(
        "--cases",
        default=",".join(LIVE_CASES),
        help=f"with --live: which, comma-separated (default {','.join(LIVE_CASES)})",
    )
    args = parser.parse_args(argv)

    if args.live:
        if shutil.which("jackd") is None:
            print("jackd not installed: the live cases need it", file=sys.stderr)
            return 2
        controls = _fuzz_controls()
        live_rows = []
        for case in args.cases.split(","):
            if case not in LIVE_CASES:
                parser.error(f"--cases: unknown case {case!r}; known: {', '.join(LIVE_CASES)}")
            live_rows.append(measure_live(case, args.seconds, controls))
            shown = {k: v for k, v in live_rows[-1].items() if k != "timeline"}
            print(json.dumps(shown), flush=True)
        print_live(live_rows)
        if args.json:
            Path(args.json).write_text(json.dumps(live_rows, indent=1))
        return 0

    if args.channels and args.units:
        counts = [int(n) for n in args.channels.split(",")]
        columns = {n: measure_units(n, min(args.seconds, 20.0)) for n in counts}
        print_units(columns)
        if args.json:
            Path(args.json).write_text(json.dumps({str(n): c for n, c in columns.items()}))
        return 0

    if args.channels:
        rows = measure_field(
            [int(n) for n in args.channels.split(",")],
            min(args.seconds, 20.0),
            args.phase_method,
            args.phase_threads,
            args.iterations,
        )
        print_rows(rows, extra="p99_vs_mono")
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
        return 0

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
    row, _ = measure_chain("no_texture", 256, min(args.seconds, 20.0), texture=0.0)
    rows.append(row)
    for other in args.compare_model:
        row, _ = measure_chain(
            f"model_{Path(other).stem}",
            256,
            min(args.seconds, 20.0),
            model=str(Path(other).resolve()),
        )
        rows.append(row)
    if not args.no_jack:
        if shutil.which("jackd") is None:
            print("jackd not installed: JACK rows skipped", file=sys.stderr)
        else:
            rows += measure_jack(args.seconds, load=False)
            rows += measure_jack(args.seconds, load=True)

    print_rows(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def measure_field(
    counts: list[int],
    seconds: float,
    method: str | None,
    threads: int = 1,
    iterations: int | None = None,
) -> list[dict]:
    """``voices_N`` rows for each count (with ``method``: again with that live phase method;
    with ``threads`` above 1: again with ``engine.phase_threads`` that many; with
    ``iterations``: again with ``engine.iterations`` that many), each with ``p99_vs_mono``, its
    p99 over the same run's one-voice p99."""
    rows = []
    variants: list[tuple[str, dict]] = [("", {})]
    if method:
        variants.append((f"_{method}", {"phase_method": method}))
    if threads > 1:
        variants.append((f"_threads{threads}", {"phase_threads": threads}))
    if iterations:
        variants.append((f"_iterations{iterations}", {"iterations": iterations}))
    for suffix, overrides in variants:
        for voices in counts:
            row, _ = measure_chain(
                f"voices_{voices}{suffix}", 256, seconds, voices=voices, **overrides
            )
            rows.append(row)
    mono = next((r for r in rows if r["voices"] == 1), None)  # the default method's
    for row in rows:
        row["p99_vs_mono"] = row["p99_fraction"] / mono["p99_fraction"] if mono else None
    return rows


def measure_units(voices: int, seconds: float) -> dict[str, tuple[float, float]]:
    """Each unit of ``Engine.tick`` timed on its own over ``seconds`` of the demo through a
    field of ``voices`` (:func:`field_overrides`, the latent noise moving, as
    :func:`measure_chain`): ``{unit: (p50, p99)}`` in microseconds, and ``"hop"``, their sum
    a hop. The units run in the tick's order on the tick's buffers, the hop hooks first."""
    config = load_config(overrides={"stft.hop": 256, **field_overrides(voices)})
    engine = demo_engine(config)
    for _ in range(50):
        engine.tick()  # the events applied, the file sounding
    names = [type(unit).__name__ for unit in engine.units]
    hops = int(seconds * config.audio.sample_rate / 256)
    times = np.zeros((hops, len(names)))
    buffers = engine.buffers
    for i in range(hops):
        buffers.index = engine.hop_index
        for hook in engine.hop_hooks:
            hook(buffers.index)
        for u, unit in enumerate(engine.units):
            t0 = time.perf_counter()
            unit.process(buffers)
            times[i, u] = time.perf_counter() - t0
        engine.hop_index += 1
    engine.close()
    times *= 1e6
    column = {
        name: (float(np.median(times[:, u])), float(np.percentile(times[:, u], 99)))
        for u, name in enumerate(names)
    }
    total = times.sum(axis=1)
    column["hop"] = (float(np.median(total)), float(np.percentile(total, 99)))
    return column


def print_units(columns: dict[int, dict[str, tuple[float, float]]]) -> None:
    """Units as rows, voice counts as columns: p50 / p99 in microseconds (- where the unit is
    not built: the field and image units with the mono layout)."""
    names = list(max(columns.values(), key=len))  # the tick's order, "hop" last
    print(f"{'unit (p50 / p99, us)':<22}" + "".join(f"{f'{n} voices':>18}" for n in columns))
    for name in names:
        cells = [
            f"{column[name][0]:8.0f} /{column[name][1]:6.0f}" if name in column else "-"
            for column in columns.values()
        ]
        print(f"{name:<22}" + "".join(f"{cell:>18}" for cell in cells))


def print_rows(rows: list[dict], extra: str | None = None) -> None:
    """The rows as a table: fractions of the hop's duration, real-time factor, xruns."""
    print(
        f"{'case':<26}{'hop':>5}{'p50':>8}{'p99':>8}{'max':>8}{'cpu p99':>9}{'rtf':>8}"
        f"{'xruns':>7}" + (f"{extra:>13}" if extra else "")
    )
    for row in rows:
        print(
            f"{row['case']:<26}{row['hop']:>5}{_cell(row, 'p50_fraction')}"
            f"{_cell(row, 'p99_fraction')}{_cell(row, 'max_fraction')}"
            f"{_cell(row, 'cpu_p99_fraction')}{_cell(row, 'render_rtf', 1.0, '{:7.1f}x')}"
            f"{row['xruns'] if row['xruns'] is not None else '-':>7}"
            + (f"{_cell(row, extra, 1.0, '{:12.2f}x')}" if extra else "")
        )


if __name__ == "__main__":
    sys.exit(main())
