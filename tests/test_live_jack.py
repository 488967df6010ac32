"""caminos play through a real audio server: JACK with its dummy driver (docs/architecture.md).

Each test runs ``caminos play`` as its own process against ``jackd -d dummy -r 48000 -p 256``, as a
performer would, and reads its JSON report: callback counts against the clock, xruns, level,
recovery when the server disappears, and a live recording replayed offline to the same samples.
The JACK server is the tests' own, named (``JACK_DEFAULT_SERVER``), so a server someone else runs
on the machine is never touched; each test stops only the process it started.
CI installs jackd2 and libportaudio2 (scripts/setup.sh --test); elsewhere these tests skip
without them.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmarks.live import REFERENCE_STREAM
from benchmarks.stall_probe import probe_results, start_probes
from tests.machine_share import REAL_TIME_GROUP
from tests.waiting import FolderChanges, Lines, until_answered

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "patches" / "demo" / "demo.wav"
CAMINOS = [sys.executable, "-m", "caminos.engine"]
RATE, HOP = 48000, 256  # the dummy server's rate; the engine's hop (config.toml)

pytestmark = [
    pytest.mark.skipif(
        shutil.which("jackd") is None and not os.environ.get("CI"),
        reason="jackd not installed (scripts/setup.sh --test installs it)",
    ),
    # One worker of ``pytest -n`` plays these one after another, in real time, each with the
    # machine to itself: the other workers wait (tests/machine_share.py).
    pytest.mark.xdist_group(REAL_TIME_GROUP),
]


SERVER_NAME = f"caminos-test-{os.getpid()}"  # JACK_DEFAULT_SERVER of every client below


class JackServer:
    """``jackd -n SERVER_NAME -d dummy`` at 48 kHz, 256 frames, its messages kept in a file;
    ``playback`` output ports (the dummy driver's default: 2).

    A server that does not answer ``jack_wait`` within 15 s is stopped, never left behind:
    once, in a full suite, a server refused the waiting client ("Cannot connect client
    socket") and, left running under the worker's server name, answered the next tests in its
    place with its two ports. It is then started once more; a second failure fails the test.
    """

    ATTEMPTS = 2

    def __init__(self, log: Path, playback: int = 2) -> None:
        self.log = log
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1", JACK_DEFAULT_SERVER=SERVER_NAME)
        for attempt in range(self.ATTEMPTS):
            self.process = self._start(env, playback)
            waited = subprocess.run(
                ["jack_wait", "-w", "-t", "15"], capture_output=True, text=True, env=env
            )
            if "server is available" in waited.stdout:
                return
            self.stop()
        raise AssertionError(
            f"jackd did not serve after {self.ATTEMPTS} starts: {waited.stdout}{waited.stderr}\n"
            + log.read_text(errors="replace")
        )

    def _start(self, env: dict, playback: int) -> subprocess.Popen:
        with open(self.log, "ab") as out:
            return subprocess.Popen(
                ["jackd", "-n", SERVER_NAME, "-d", "dummy", "-r", "48000", "-p", "256"]
                + ["-P", str(playback)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def jackd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request):
    """The tests' own JACK dummy server for one test (the device-loss test stops and restarts
    it); every process the test starts finds it through ``JACK_DEFAULT_SERVER``. A test marked
    ``@pytest.mark.playback(N)`` gets N output ports (2 otherwise)."""
    monkeypatch.setenv("JACK_DEFAULT_SERVER", SERVER_NAME)
    monkeypatch.setenv("JACK_NO_AUDIO_RESERVATION", "1")
    marker = request.node.get_closest_marker("playback")
    server = JackServer(tmp_path / "jackd.log", playback=marker.args[0] if marker else 2)
    yield server
    if server.process.poll() is None:
        server.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _onsets(x: np.ndarray, rate: int) -> np.ndarray:
    """Sample indices where ``x`` first rises over a tenth of its peak, at least 0.5 s apart."""
    above = np.flatnonzero(np.abs(x) > 0.1 * np.abs(x).max())
    found = [above[0]]
    for i in above[1:]:
        if i - found[-1] > rate // 2:
            found.append(i)
    return np.array(found)


def _click_offsets_ms(clicks: np.ndarray, out: np.ndarray, rate: int) -> np.ndarray:
    """Milliseconds from each click to the first output onset in the half second after it.

    Pairing by order would be wrong whenever the recording starts between a click and its output:
    the output of a click played before the recording is then the first onset of ``out`` and every
    pair is off by one click (seen in CI: offsets of -960 ms). Clicks without an output burst in
    the half second after them are left out.
    """
    offsets = []
    for click in clicks:
        after = out[(out >= click) & (out < click + rate // 2)]
        if len(after):
            offsets.append(1000.0 * (after[0] - click) / rate)
    return np.array(offsets)


class Play:
    """``caminos play`` in a subprocess; :meth:`wait_playing` returns once its stream runs."""

    def __init__(self, tmp_path: Path, seconds: float, *extra: str, file: bool = True) -> None:
        self.report_path = tmp_path / "report.json"
        sound = ["--file", str(DEMO)] if file else []
        self.process = subprocess.Popen(
            CAMINOS
            + [
                "play",
                *sound,
                "--seconds",
                str(seconds),
                "--report",
                str(self.report_path),
                "--status-every",
                "0",
                *extra,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = Lines(self.process.stdout)

    @property
    def lines(self) -> list[str]:
        """What it has printed so far, line by line."""
        return self.output.lines

    def wait_playing(self, timeout: float = 120.0) -> None:
        playing = self.output.wait(
            lambda lines: any(line.startswith("playing at") for line in lines), timeout
        )
        if not playing:
            self.process.kill()
            pytest.fail("caminos play did not start:\n" + "".join(self.lines))

    def wait_line(self, text: str, timeout: float = 30.0) -> str:
        """The first line it has printed (or prints within ``timeout``) that holds ``text``."""
        return self.output.wait_for_text(text, timeout)

    def finish(self, timeout: float = 120.0) -> dict:
        code = self.process.wait(timeout=timeout)
        self.output.join(5)
        assert code == 0, "".join(self.lines)
        return json.loads(self.report_path.read_text())


class Reference:
    """What the machine alone does to real-time work beside the engine, for the same seconds: a
    bare PortAudio stream writing silence (what it does to a JACK client: this 2-core virtual
    machine stalls clients now and then) and a stall probe on every core (how long a real-time
    thread on each core waited: benchmarks/stall_probe.py)."""

    def __init__(self, seconds: float, channels: int = 2) -> None:
        self.stream = subprocess.Popen(
            [sys.executable, "-c", REFERENCE_STREAM, str(seconds), str(channels)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.probes = start_probes(seconds)

    def result(self) -> dict:
        """The bare stream's counts (``callbacks``, ``xruns``, ``expected``) and the probes'
        ``stalls_ms``, of every core together."""
        out, err = self.stream.communicate(timeout=120)
        assert self.stream.returncode == 0, err
        seen = probe_results(self.probes)
        return dict(json.loads(out), stalls_ms=sorted(sum(seen["stalls_ms"].values(), [])))


def _check_sound(report: dict) -> None:
    assert report["nonfinite"] == 0
    assert -40.0 < report["peak_dbfs"] <= -0.3 + 1e-6  # sounding, never past the ceiling


def _allowed_underruns(report: dict, reference: dict, max_xruns: int) -> int:
    """Underruns the machine accounts for: as many as the bare stream's xruns (at least
    ``max_xruns``), and for every stall of a core longer than the engine's slack (its buffer
    less a tick at p99) as many hops as the stall lasted.

    A stall of a virtual machine's core keeps the hop clock on it from running while a JACK
    client on the other core plays on: seen in CI, 9 underruns of a 30 s play beside a bare
    stream with 2 xruns. A stall of ``s`` ms empties the buffer of at most ``ceil(s / hop)``
    hops; a stall shorter than the slack empties none.
    """
    hop_ms = 1000.0 * HOP / RATE
    slack_ms = report["latency"]["buffer_ms"] - report["tick_ms_p99"]
    stalls = [s for s in reference["stalls_ms"] if s > slack_ms]
    return max(max_xruns, reference["xruns"]) + sum(math.ceil(s / hop_ms) for s in stalls)


def _check_healthy(report: dict, reference: dict, max_xruns: int = 2) -> None:
    """At most ``max_xruns`` xruns of the engine's own and callbacks on time, beyond what the
    machine did to the bare stream and the stall probes beside it in the same seconds.

    The engine's own: ``underruns``, the DSP process late with a hop. With two hops of buffer
    that takes a stall of more than 10 ms, which the bare stream, with no buffer at all, feels
    as an xrun too when it stalls its core; a stall of the hop clock's core alone only the
    probes see (:func:`_allowed_underruns`). PortAudio's xrun flags and lost callbacks are
    compared with the bare stream's likewise: on a quiet machine both are near zero (0 to 3 in
    30 s here); when this virtual machine stalls, a client writing silence sees as many.
    """
    print("engine:", json.dumps(report), "\nthe machine beside it:", json.dumps(reference))
    _check_sound(report)
    allowed = _allowed_underruns(report, reference, max_xruns)
    assert report["underruns"] <= allowed, (report, reference)
    assert report["xruns"] <= max_xruns + 2 * reference["xruns"], (report, reference)
    lost = max(1.0 - reference["callbacks"] / reference["expected"], 0.0)
    assert report["callbacks"] >= (0.99 - 2 * lost) * report["expected_callbacks"], (
        report,
        reference,
    )
    assert report["callbacks"] <= 1.01 * report["expected_callbacks"], report


def test_plays_30_seconds_through_jack(jackd, tmp_path: Path) -> None:
    play = Play(tmp_path, 30, "--no-osc")
    play.wait_playing()
    reference = Reference(29)  # the bare stream beside the whole play
    report = play.finish()
    _check_healthy(report, reference.result())
    assert report["seconds"] >= 29.5
    assert report["latency"]["algorithmic_ms"] == pytest.approx(1000 * (768 + 256 + 72) / 48000)


def test_plays_while_a_second_process_floods_controls(jackd, tmp_path: Path) -> None:
    port = _free_port()
    play = Play(tmp_path, 20, "--set", f"osc.port={port}", "--record", str(tmp_path / "live"))
    play.wait_playing()
    reference = Reference(19)  # the bare stream beside the whole play, not just the flood
    flood = subprocess.run(
        [sys.executable, "-c", _FLOOD, str(port), str(round(15 * RATE / HOP)), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert flood.returncode == 0, flood.stderr
    sent = int(flood.stdout.split()[0])
    report = play.finish()
    _check_healthy(report, reference.result())
    assert sent > 15 * 1000  # over 1,000 messages a second for 15 s of hops
    # the engine applied them (valid ones) and counted the invalid tenth
    assert report["extra"]["events_applied"] > 0.8 * sent
    assert report["extra"]["control_errors"] >= sent // 10 - 5


# A controller flooding the engine for HOPS hops of its clock: 20 messages every 2 hops (1,875 a
# second), paced by the hops the engine has played, which its recording shows as it grows (the
# recording's writer writes every few hops: the messages come in bursts at the same rate), not by
# the flood's own clock.
_FLOOD = """
import math, socket, sys
from pathlib import Path
from pythonosc.osc_message import OscMessage
from caminos.engine.control.osc.messages import encode_message
from tests.test_live_jack import _recorded_hops
from tests.waiting import FolderChanges
port, hops, folder = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
sock.settimeout(10.0)
engine = ("127.0.0.1", port)

def send(address, *args):
    sock.sendto(encode_message(address, args), engine)

def taken():
    # the reply comes after every message sent before it (one client's messages keep their
    # order): the flood never runs ahead of the control process
    send("/engine/status")
    while OscMessage(sock.recvfrom(65536)[0]).address != "/engine/status":
        pass  # the /error answers

def played():
    return _recorded_hops(folder / "live.wav")

sent = 0
with FolderChanges(folder) as changes:
    start = changes.wait_until(played, 10.0, "the recording's first hops")
    for batch in range(hops // 2):
        due = start + 2 * batch
        changes.wait_until(lambda: played() >= due, 10.0, f"hop {due}")
        for k in range(20):
            i = sent + k
            if i % 10 == 9:
                send("/latent/axis", 99, 0.0)  # out of range: answered, counted
            elif i % 2:
                send("/latent/axis", i % 8, math.sin(i / 50.0))
            else:
                send("/latent/noise", 0.2 + 0.1 * math.sin(i / 70.0))
        sent += 20
        taken()
print(sent)
"""


def _recorded_hops(wav: Path, channels: int = 2) -> int:
    """Hops a live recording (``--record``: float samples, written hop by hop from the first)
    holds so far, its header (under a hop's bytes) left out: the DSP process's hop count, read
    without a control process."""
    try:
        size = wav.stat().st_size
    except FileNotFoundError:
        return 0
    return size // (HOP * channels * 4) - 1


def test_recovers_when_the_server_goes_away_and_returns(jackd, tmp_path: Path) -> None:
    # No control process (it would take a second to stop, which the report's age of the last
    # callback would count): the recording is the hop counter.
    play = Play(tmp_path, 25, "--no-osc", "--record", str(tmp_path / "live"))
    play.wait_playing()
    hops = round(4 * RATE / HOP)
    with FolderChanges(tmp_path) as changes:
        changes.wait_until(
            lambda: _recorded_hops(tmp_path / "live.wav") >= hops,
            30,
            f"{hops} hops (four seconds) played",
        )
    jackd.stop()
    play.wait_line("audio stream lost")  # the supervisor noticed the server gone
    restarted = JackServer(tmp_path / "jackd-again.log")
    try:
        report = play.finish()
    finally:
        restarted.stop()
    assert report["restarts"] >= 1, "".join(play.lines)
    # callbacks kept coming after the restart, up to the end
    assert report["extra"]["last_callback_age_s"] < 1.0
    assert report["callbacks"] > (25 - 12) * 48000 / 256
    assert report["nonfinite"] == 0


def test_live_recording_renders_offline_to_the_same_samples(jackd, tmp_path: Path) -> None:
    port = _free_port()
    prefix = tmp_path / "live"
    play = Play(tmp_path, 8, "--record", str(prefix), "--set", f"osc.port={port}")
    play.wait_playing()
    client = Client(port)
    changes = FolderChanges(tmp_path)
    try:
        hop = client.status()["hop"]
        for address, args in [
            ("/latent/axis", [0, 1.5]),
            ("/latent/noise", [0.3]),
            ("/source/file/speed", [0.5]),
            ("/phase/method", ["rtpghi"]),
            ("/out/gain", [-6.0]),
        ]:
            hop += 150  # an event every 150 hops (0.8 s)
            client.wait_hop(hop, changes)
            client.send(address, *args)
    finally:
        client.close()
        changes.close()
    report = play.finish()
    _check_sound(report)
    score = (tmp_path / "live.score").read_text()
    assert "/latent/axis 0 1.5" in score and "/phase/method rtpghi" in score
    offline = tmp_path / "offline.wav"
    rendered = subprocess.run(
        CAMINOS
        + [
            "render",
            "--score",
            str(tmp_path / "live.score"),
            "-o",
            str(offline),
            "--set",
            "render.subtype=FLOAT",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rendered.returncode == 0, rendered.stderr
    live, _ = sf.read(tmp_path / "live.wav", dtype="float32")
    again, _ = sf.read(offline, dtype="float32")
    assert live.shape == again.shape and np.abs(live).max() > 0.01
    assert np.array_equal(live, again)


def test_measured_input_to_output_latency_matches_the_reported_one(jackd, tmp_path: Path) -> None:
    """Clicks from jack_metro into the live input, recorded beside the engine's output."""
    play = Play(tmp_path, 14, "--no-osc", file=False)
    play.wait_playing()
    # JACK's own event monitor (line-buffered) prints each client and port as it registers
    monitor = subprocess.Popen(
        ["stdbuf", "-oL", "jack_evmon"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    events = Lines(monitor.stdout)
    metro = None
    try:
        events.wait_for_text("Graph reordered", 10)  # the monitor is a client: it sees the rest
        metro = subprocess.Popen(
            ["jack_metro", "-b", "60", "-f", "880", "-A", "0.5", "-D", "40", "-n", "metro"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        events.wait_until(
            lambda lines: any(
                "Client metro registered" in line
                and any(later.startswith("Port") and "registered" in later for later in after)
                for line, after in ((ln, lines[i + 1 :]) for i, ln in enumerate(lines))
            ),
            10,
            "jack_metro's port",
        )
        subprocess.run(
            ["jack_disconnect", "system:capture_1", "PortAudio:in_0"], capture_output=True
        )
        connected = subprocess.run(
            ["jack_connect", "metro:60_bpm", "PortAudio:in_0"], capture_output=True, text=True
        )
        assert connected.returncode == 0, connected.stderr
        recording = tmp_path / "latency.wav"
        subprocess.run(
            ["jack_rec", "-f", str(recording), "-d", "5", "metro:60_bpm", "PortAudio:out_0"],
            capture_output=True,
            timeout=30,
            check=True,
        )
    finally:
        if metro is not None:
            metro.kill()
        monitor.terminate()
        monitor.wait(timeout=10)
    report = play.finish()
    samples, rate = sf.read(recording)
    clicks, out = _onsets(samples[:, 0], rate), _onsets(samples[:, 1], rate)
    offsets_ms = _click_offsets_ms(clicks, out, rate)
    assert len(offsets_ms) >= 3, (clicks.tolist(), out.tolist())
    # The fastest click is the engine's own path: a cycle in which this VM made the client late
    # delivers its output a cycle later (seen: 42 ms instead of 37 once in CI).
    print("click to output, ms:", offsets_ms.round(2).tolist())
    measured_ms = float(offsets_ms.min())
    # jack_rec sees our output in the cycle we write it: no device latency on this path
    expected_ms = report["latency"]["algorithmic_ms"] + report["latency"]["buffer_ms"]
    hop_ms = 1000.0 * 256 / 48000
    # A click comes out of the spectral path with its attack spread over the synthesis window
    # (some of it before the stated latency, as pre-echo), in a shape that depends on the model:
    # the version-2 autoencoder reaches a tenth of the peak 2.4 ms later than version 1 did (39.4
    # against 37.1 ms here) while the bursts' energy centroids come out at the same time (means
    # 42.4 and 42.7 ms), so the engine's latency is unchanged. The attack allowance is that
    # 2.4 ms, rounded up to 3; the first arrival cannot be used instead, the pre-echo makes it
    # earlier than the stated latency by up to a frame.
    attack_ms = 3.0
    assert expected_ms - 1.0 <= measured_ms <= expected_ms + hop_ms + attack_ms, (
        measured_ms,
        expected_ms,
    )


class Client:
    """An OSC client on its own UDP port, reading the engine's replies to it."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(10.0)

    def send(self, address: str, *args) -> None:
        from caminos.engine.control.osc.messages import encode_message

        self.socket.sendto(encode_message(address, args), self.target)

    def send_at(self, wall_time: float, address: str, *args) -> None:
        """A bundle timetagged ``wall_time`` (Unix seconds) holding one message."""
        from pythonosc.osc_bundle_builder import OscBundleBuilder
        from pythonosc.osc_message_builder import OscMessageBuilder

        message = OscMessageBuilder(address=address)
        for value in args:
            message.add_arg(value)
        bundle = OscBundleBuilder(wall_time)
        bundle.add_content(message.build())
        self.socket.sendto(bundle.build().dgram, self.target)

    def reply(self, address: str) -> list:
        """The next reply to ``address`` (others are skipped)."""
        from pythonosc.osc_message import OscMessage

        while True:
            data, _ = self.socket.recvfrom(65536)
            message = OscMessage(data)
            if message.address == address:
                return list(message.params)

    def status(self) -> dict:
        self.send("/engine/status")
        flat = self.reply("/engine/status")
        return dict(zip(flat[::2], flat[1::2]))

    def wait_hop(self, hop: int, changes: FolderChanges, timeout: float = 30.0) -> int:
        """Return the engine's hop counter once it has reached ``hop``, asking again each time
        the folder of the engine's recording changes (its writer writes every few hops)."""
        return changes.wait_until(
            lambda: (lambda now: now if now >= hop else None)(self.status()["hop"]),
            timeout,
            f"the engine's hop {hop}",
        )

    def close(self) -> None:
        self.socket.close()


def _score_hops(score: str, address: str) -> list[tuple[int, str]]:
    """``(hop, rest of the line)`` of every event of ``address`` in a score's text."""
    found = []
    for line in score.splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[0] == "hop" and parts[2] == address:
            found.append((int(parts[1]), parts[3] if len(parts) > 3 else ""))
    return found


def test_voice_and_controls_run_beside_the_hop_clock(jackd, tmp_path: Path) -> None:
    """The voice and the OSC server work in processes of their own; events still land on their
    hop; a long /landmark/voice from one client does not hold up another client's messages."""
    port = _free_port()
    prefix = tmp_path / "live"
    play = Play(tmp_path, 40, "--record", str(prefix), "--set", f"osc.port={port}")
    play.wait_playing()
    performer, other = Client(port), Client(port)
    changes = FolderChanges(tmp_path)  # the recording's: hops played, the score written
    try:
        status = performer.status()
        pids = {status["dsp_pid"], status["osc_pid"], status["voice_pid"], play.process.pid}
        assert len(pids) == 4 and 0 not in pids, status
        performer.send("/voice/babble", 40)
        # Controls naming what does not exist are answered, not only counted.
        for address, args in [
            ("/path/play", ("nowhere",)),
            ("/scene/recall", (99, 1.0)),
            ("/voice/say", ("",)),
        ]:
            performer.send(address, *args)
            error = performer.reply("/error")
            assert error[0] == address, error
        # A timetagged event lands on the hop that sounds at its time.
        status = performer.status()
        when = time.time() + 0.5
        performer.send_at(when, "/latent/axis", 3, 1.25)
        expected_hop = math.floor((when - float(status["clock_origin"])) * 48000 / 256)
        performer.wait_hop(expected_hop + 1, changes)  # its hop has sounded
        # A voice landmark takes seconds to render in the control process.
        counted = performer.status()["osc_messages"]  # the messages it has taken, this one too
        other.send("/landmark/voice", "long", "es", "babble:300")
        asked = []

        def landmark_taken() -> bool:  # each status query counts itself, the landmark one more
            asked.append(1)
            return performer.status()["osc_messages"] > counted + len(asked)

        until_answered(landmark_taken, 10, "the control process to take /landmark/voice")
        sent = []  # (hop computed when the performer sent it, x)
        for i in range(8):
            x = 0.1 + 0.1 * i
            hop = performer.status()["hop"]
            performer.send("/latent/xy", x, 0.5)
            sent.append((hop, x))
            performer.wait_hop(hop + 47, changes)  # the next one 47 hops (a quarter second) later
        changes.wait_until(
            lambda: "/landmark/voice" in (tmp_path / "live.score").read_text(),
            120,
            "the voice landmark in the live score",
        )
    finally:
        performer.close()
        other.close()
        changes.close()
    play.process.send_signal(signal.SIGINT)
    report = play.finish()
    _check_sound(report)
    score = (tmp_path / "live.score").read_text()
    axis = [hop for hop, rest in _score_hops(score, "/latent/axis") if rest == "3 1.25"]
    assert len(axis) == 1 and abs(axis[0] - expected_hop) <= 1, (axis, expected_hop)
    xy = {round(float(rest.split()[0]), 3): hop for hop, rest in _score_hops(score, "/latent/xy")}
    delays = [xy[round(x, 3)] - hop for hop, x in sent]
    print("hops from the /engine/status before each /latent/xy to its hop:", delays)
    landmark = _score_hops(score, "/landmark/voice")
    # The landmark was still rendering while the performer's messages went through.
    assert landmark and landmark[0][0] > max(xy.values()), (landmark, xy)
    assert sorted(delays)[len(delays) // 2] <= 2, delays


def test_installation_mode_logs_status_lines(jackd, tmp_path: Path) -> None:
    log = tmp_path / "installation.log"
    play = Play(
        tmp_path,
        6,
        "--no-osc",
        "--installation",
        "--set",
        "engine.status_every=1",
        "--set",
        f"engine.log_file={json.dumps(str(log))}",
    )
    report = play.finish()
    _check_sound(report)
    lines = [line for line in log.read_text().splitlines() if "| hop p99" in line]
    assert len(lines) >= 4, log.read_text()
    assert all(
        " | xruns " in line and " | underruns " in line and "| restarts " in line for line in lines
    )


# The live runs compared with an offline render of the score they played: the overload watch
# (engine/live/overload.py) would add its switches to what plays if this machine ran late.
NO_OVERLOAD_WATCH = ("--set", 'engine.overload_phase=""', "--set", "engine.overload_iterations=0")


def test_a_score_played_live_records_what_it_renders_offline(jackd, tmp_path: Path) -> None:
    """caminos play --score --loop: every event on its hop, the first pass the same samples as
    caminos render --score, the next passes the events again, one score length later."""
    score = tmp_path / "piece.score"
    score.write_text(
        f"sample_rate 48000\nhop_size 256\nhop 0 /source/file/open {DEMO}\n"
        "hop 0 /source/file/play 1\nhop 40 /latent/axis 0 1.5\n"
        "hop 100 /latent/noise 0.3\nhop 160 /phase/method rtpghi\n"
        "hop 220 /source/file/speed 0.5\nhop 300 /out/gain -6.0\nhop 400 end\n"
    )
    prefix = tmp_path / "live"
    play = Play(
        tmp_path,
        8,
        "--no-osc",
        "--score",
        str(score),
        "--loop",
        "--record",
        str(prefix),
        *NO_OVERLOAD_WATCH,
        file=False,
    )
    report = play.finish()
    _check_sound(report)
    recorded = (tmp_path / "live.score").read_text()
    hops = [hop for hop, rest in _score_hops(recorded, "/latent/axis") if rest == "0 1.5"]
    assert hops[:3] == [40, 440, 840], recorded
    offline = tmp_path / "offline.wav"
    rendered = subprocess.run(
        CAMINOS
        + ["render", "--score", str(score), "-o", str(offline), "--set", "render.subtype=FLOAT"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rendered.returncode == 0, rendered.stderr
    live, _ = sf.read(tmp_path / "live.wav", dtype="float32")
    again, _ = sf.read(offline, dtype="float32")
    assert len(again) == 400 * 256 and len(live) > 2 * len(again)
    assert np.abs(again).max() > 0.01
    assert np.array_equal(live[: len(again)], again)


def test_a_hop_clock_running_late_steps_the_phase_recovery_down_and_tries_again(
    jackd, tmp_path: Path
) -> None:
    """The DSP process stopped for a moment leaves the device without hops: the overload watch
    (engine/live/overload.py) steps the phase recovery down its ladder, to
    engine.overload_iterations (here 8, one step), and when the hop clock is stopped again, to
    engine.overload_phase; the status, /engine/get and the live score say so; then it tries
    each step above again, one at a time."""
    port = _free_port()
    play = Play(
        tmp_path,
        14,
        "--set",
        f"osc.port={port}",
        "--set",
        "engine.overload_retry_s=2",
        "--set",
        "engine.overload_iterations=8",  # one step of iterations (16 to 8), then pv
        "--record",
        str(tmp_path / "live"),
        "--status-every",
        "0.5",
    )
    play.wait_playing()
    client = Client(port)
    changes = FolderChanges(tmp_path)

    def playing() -> tuple[str, int]:
        client.send("/engine/get", "/phase/method")
        method = client.reply("/engine/get")[1]
        client.send("/engine/get", "/phase/iterations")
        return method, client.reply("/engine/get")[1]

    def stop_the_hop_clock() -> None:
        """Stopped until the audio process has counted three hops it did not get."""
        status = client.status()
        pid = int(status["dsp_pid"])
        os.kill(pid, signal.SIGSTOP)
        try:
            until_answered(
                lambda: client.status()["underruns"] >= status["underruns"] + 3,
                5,
                "three underruns while the DSP process is stopped",
            )
        finally:
            os.kill(pid, signal.SIGCONT)

    try:
        # the watch decides on half a second of hops, the first one settled
        client.wait_hop(round(2.5 * RATE / HOP), changes)
        chosen = playing()
        assert chosen == ("gsrtisi-la", 16) and client.status()["phase_fallbacks"] == 0
        stop_the_hop_clock()
        play.wait_line("stepped down to gsrtisi-la with 8 iterations", 10)
        assert playing() == ("gsrtisi-la", 8) and client.status()["phase_fallbacks"] == 1
        # the next decision waits for half a second of the new step's hops
        client.wait_hop(int(client.status()["hop"]) + round(0.6 * RATE / HOP), changes)
        stop_the_hop_clock()
        play.wait_line("stepped down to pv", 10)
        assert playing() == ("pv", 8) and client.status()["phase_fallbacks"] == 2
        play.wait_line("| phase fallbacks 2", 10)  # in the status lines from now on
        play.wait_line("phase recovery back up to gsrtisi-la with 8 iterations", 10)
        play.wait_line("phase recovery back to the chosen setting", 10)
        assert playing() == chosen, "".join(play.lines)
    finally:
        client.close()
        changes.close()
    report = play.finish()
    # (a machine busy with other tests may make the default run late again after the try)
    assert report["extra"]["phase_fallbacks"] >= 2, "".join(play.lines)
    # each stop of the hop clock is one gap in the sound, three hops at least
    hop_ms = 1000.0 * HOP / RATE
    assert report["extra"]["holes"] >= 2 and report["extra"]["longest_hole_ms"] >= 3 * hop_ms
    assert report["underruns"] >= 6 and report["extra"]["holes"] < report["underruns"], report
    score = (tmp_path / "live.score").read_text()
    methods = [rest for _, rest in _score_hops(score, "/phase/method")]
    iterations = [rest for _, rest in _score_hops(score, "/phase/iterations")]
    assert methods[:2] == ["pv", "gsrtisi-la"], methods
    assert iterations[:2] == ["8", "16"], iterations


FIELD = ["--set", "field.spread=1", "--set", "field.wander=0.3", "--set", "field.decorrelate=0.7"]


@pytest.mark.playback(4)
def test_four_voices_record_live_what_they_render_offline(jackd, tmp_path: Path) -> None:
    """A quad field played live from a score records, channel for channel, the samples
    caminos render --score gives (each voice its own phase state, seed and walk)."""
    score = tmp_path / "field.score"
    score.write_text(
        f"sample_rate 48000\nhop_size 256\nhop 0 /source/file/open {DEMO}\n"
        "hop 0 /source/file/play 1\nhop 40 /field/spin 40\n"
        "hop 120 /channel/2/xy 1 -1\nhop 200 /channel/3/gain 0.5\n"
        "hop 260 /field/spread 2\nhop 400 end\n"
    )
    field = ["--set", "audio.channels=4", "--set", 'field.layout="quad"', *FIELD]
    play = Play(
        tmp_path,
        4,
        "--no-osc",
        "--score",
        str(score),
        "--record",
        str(tmp_path / "live"),
        *field,
        *NO_OVERLOAD_WATCH,
        file=False,
    )
    report = play.finish()
    _check_sound(report)
    offline = tmp_path / "offline.wav"
    rendered = subprocess.run(
        CAMINOS
        + [
            "render",
            "--score",
            str(score),
            "-o",
            str(offline),
            "--set",
            "render.subtype=FLOAT",
            *field,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rendered.returncode == 0, rendered.stderr
    live, _ = sf.read(tmp_path / "live.wav", dtype="float32")
    again, _ = sf.read(offline, dtype="float32")
    assert live.shape[1] == again.shape[1] == 4 and len(again) == 400 * 256
    assert sf.info(offline).format == "WAVEX"  # quad: the speaker mask written
    assert min(np.abs(again[:, c]).max() for c in range(4)) > 0.01
    assert not np.array_equal(again[:, 0], again[:, 1])  # four voices, not one copied
    assert np.array_equal(live[: len(again)], again)


@pytest.mark.playback(8)
def test_eight_speakers_play_a_path_each_while_the_voice_babbles(jackd, tmp_path: Path) -> None:
    """Eight output ports, a ring of eight voices each on its own path, the voice babbling:
    the engine keeps time as a bare eight-channel stream beside it does.

    What is tested is the plumbing (eight ports, a path per voice, the voice, no error), with
    the headroom of the phase vocoder (`pv`, the cheapest phase recovery that still follows the
    partials) and six hops of buffer (32 ms), on a 2-core machine where the voice's own
    process, JACK and the control process share the other core (the suite's other worker waits
    meanwhile: tests/machine_share.py). With three hops, `pv` had 7 underruns in 16 s
    once on the EPYC in a full suite (the bare stream 1 xrun), its ticks within the hop (p99
    4.78 ms of 5.33): the holes were stalls of the whole machine longer than 16 ms. How many
    voices fit a hop with each method is a benchmark's question (benchmarks/engine.py
    --channels 8 --phase-method rtpghi; --live --cases field_8): on a 2-core Intel Xeon eight
    voices took 68 % of a hop at p50 with `rtpghi` and this test passed with it four runs in
    five; on a 2-core AMD EPYC (512 KB of L2 a core: the decoder's 2.5 MB of weights and eight
    voices' phase state do not stay in it) `rtpghi` takes 70 % at p50 and 118 % at p99, and
    the test failed with it every time (8 to 160 underruns in 16 s), while `pv` takes 45 % and
    70 %. Measured again on the EPYC (2026-12-07, the many-pitch default): offline, `pv` takes
    40 % at p50 and 66 % at p99, but the voices' paths move them where the decoder draws more
    combs, and live ticks here reach 95 to 98 % of the hop at p99 (five runs alone, no hole);
    two runs in seven of this test alone failed, one with a p99 of 6.46 ms and 6 underruns, the
    bare stream beside it none (docs/benchmarks.md, "The hop's Python glue and the live tests
    under a parallel suite")."""
    port = _free_port()
    seconds = 12
    play = Play(
        tmp_path,
        seconds + 4,
        "--set",
        f"osc.port={port}",
        "--set",
        "audio.channels=8",
        "--set",
        'field.layout="ring-8"',
        *FIELD,
        "--set",
        'engine.phase_method="pv"',
        "--set",
        "audio.buffer_hops=6",
    )
    play.wait_playing()
    from pythonosc.udp_client import SimpleUDPClient

    client = SimpleUDPClient("127.0.0.1", port)  # one client: its messages keep their order
    for k in range(8):
        name = f"v{k + 1}"
        client.send_message("/path/new", name)
        for step in range(5):
            angle = 2 * math.pi * (step / 4 + k / 8)
            client.send_message("/path/point", [name, 1.5 * math.cos(angle), 1.5 * math.sin(angle)])
        client.send_message(f"/channel/{k + 1}/follow", 0.5)
        client.send_message(f"/channel/{k + 1}/path/play", name)
    client.send_message("/voice/babble", 10000)
    reference = Reference(seconds, channels=8)
    report = play.finish()
    _check_healthy(report, reference.result())
    assert report["extra"]["control_errors"] == 0, report
