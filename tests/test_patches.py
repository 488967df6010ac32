"""The shipped control patches against a running engine: oscsend/oscdump, Pure Data and
SuperCollider run headless for real; the Max patch is checked as Max JSON against the registry."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from caminos.engine.clock.engine import Engine
from caminos.engine.control.osc.docs import documented_engine
from caminos.engine.control.osc.server import OscServer
from caminos.engine.core.config import OscConfig, load_config
from caminos.engine.core.controls import ControlRegistry
from caminos.engine.control.osc.messages import encode_message
from tests.conftest import Rendered, control_values, restore_by_events
from tests.waiting import Lines, timed_out

PATCHES = Path(__file__).resolve().parent.parent / "patches"


def needs(program: str) -> pytest.MarkDecorator:
    """Skip a test when ``program`` is not installed (``scripts/setup.sh --test`` installs it)."""
    return pytest.mark.skipif(shutil.which(program) is None, reason=f"{program} is not installed")


@pytest.fixture(scope="module")
def live_engine(tmp_path_factory):
    """An engine ticking in real time in a thread, with the OSC server on a free port; and the
    :class:`Rendered` hops it has ticked, to wait on.

    Real time, as an audio device would clock it (hop ``i`` sounds at ``clock_origin + i *
    hop / sample_rate``): the peers send timetagged bundles, which land on the hop their
    wall-clock time names. The wait is that clock's, not a wait for a state; the tests wait
    on hops (:meth:`Rendered.wait_for`) or on the engine's values.
    """
    engine = Engine(load_config())
    engine.warm_up()
    server = OscServer(engine, OscConfig(port=0)).start()
    stop = threading.Event()
    hop_seconds = engine.hop / engine.sample_rate
    rendered = Rendered()

    def run():
        engine.clock_origin = time.time()
        while not stop.is_set():
            rendered.add(bool(np.isfinite(engine.tick()).all()))
            stop.wait(engine.clock_origin + engine.hop_index * hop_seconds - time.time())

    thread = threading.Thread(target=run)
    thread.start()
    engine.defaults = control_values(engine)
    yield engine, server, rendered
    stop.set()
    thread.join()
    server.stop()
    assert all(rendered)


@pytest.fixture
def live(live_engine):
    """The module's live engine, its controls back at their start-up values for this test; with
    its server and its :class:`Rendered` hops."""
    engine, server, rendered = live_engine
    restore_by_events(engine, engine.defaults, rendered)
    return live_engine


@pytest.fixture(scope="module")
def registry() -> ControlRegistry:
    return documented_engine().registry


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(output: Lines, port: int, timeout_s: float) -> None:
    """Return once the process printing ``output`` (oscdump, which prints every message it
    receives) prints a probe sent to UDP ``port``: it is listening there. A probe not printed
    within 0.1 s is sent again (UDP to a port nobody holds yet is lost)."""
    probe = encode_message("/caminos/probe", ())
    deadline = time.monotonic() + timeout_s
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        while True:
            sock.sendto(probe, ("127.0.0.1", port))
            if output.wait(lambda lines: any("/caminos/probe" in ln for ln in lines), 0.1):
                return
            if time.monotonic() >= deadline:
                timed_out(f"oscdump to listen on port {port}", timeout_s, "".join(output.lines))


# ------------------------------------------------------------------------------ liblo
@needs("oscsend")
@needs("oscdump")
def test_oscsend_changes_the_engine_and_oscdump_reads_the_reply(live):
    engine, server, rendered = live
    reply_port = free_port()
    dump = subprocess.Popen(["oscdump", "-L", str(reply_port)], stdout=subprocess.PIPE, text=True)
    output = Lines(dump.stdout)
    try:
        wait_listening(output, reply_port, 10)

        def send(*arguments: str) -> None:
            subprocess.run(
                ["oscsend", "127.0.0.1", str(server.port), *arguments], check=True, timeout=10
            )

        # oscsend sends from a new port each time: ask for replies on oscdump's port
        send("/osc/reply_port", "i", str(reply_port))
        send("/latent/axis", "if", "5", "-1.25")
        rendered.wait_until(lambda: engine.mixer.offset_target[5] == -1.25, 2, "/latent/axis 5")
        send("/engine/get", "s", "/latent/z")
        send("/latent/axis", "if", "5", "nan")
        output.wait_until(
            lambda lines: {"/engine/get", "/error"} <= {w for ln in lines for w in ln.split()[:2]},
            10,
            "oscdump to print the reply and the error",
        )
    finally:
        dump.terminate()
        dump.wait(timeout=5)
        output.join(5)
        out = "".join(output.lines)
        server.reply_ports.clear()
    assert "/engine/get s" in out and '"/latent/z"' in out and "-1.250000" in out
    assert "/error ss" in out and "finite" in out
    assert engine.mixer.offset_target[5] == -1.25  # the bad message changed nothing


# ---------------------------------------------------------------------------- Pure Data
@needs("pd")
def test_pd_patch_plays_the_engine_and_reads_replies(live):
    engine, server, _ = live
    reply_port = free_port()
    done = subprocess.run(
        [
            "pd",
            "-nogui",
            "-nosound",
            "-stderr",
            "-path",
            str(PATCHES / "pd"),
            "-send",
            f"go {server.port} {reply_port}",
            str(PATCHES / "pd" / "test" / "caminos-test.pd"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    log = done.stdout + done.stderr
    server.reply_ports.clear()
    assert done.returncode == 0, log
    assert engine.mixer.offset_target[0] == 0.5
    assert engine.get("/latent/follow") == (0.25,)
    assert engine.get("/path/interp") == ("cubic",)
    assert "caminos-reply: engine get /latent/follow 0.25" in log
    assert "caminos-reply: error /latent/axis" in log
    hop = int(re.search(r"caminos-status-hop: (\d+)", log).group(1))
    assert hop > 0
    assert "caminos-status-cpu:" in log


@needs("pd")
def test_pd_main_patch_pad_and_controls_reach_the_engine(live):
    """caminos.pd itself, opened as an abstraction: its 2-D pad (moved by [s caminos-pad-set],
    read back by its poll) and a control sent through [s caminos] change the engine."""
    engine, server, rendered = live
    done = subprocess.run(
        [
            "pd",
            "-nogui",
            "-nosound",
            "-stderr",
            "-path",
            str(PATCHES / "pd"),
            "-send",
            f"go {server.port}",
            str(PATCHES / "pd" / "test" / "caminos-main-test.pd"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # (its own start-up connects to 9000 and listens on 9001; those may be busy here)
    assert "couldn't create" not in done.stderr, done.stderr
    rendered.wait_until(lambda: engine.get("/latent/xy") == (0.25, 0.75), 2, "/latent/xy")
    assert engine.mixer.offset_target[2] == 1.5
    # the field's spread slider, and channel 2's number box, gain, mute and xy
    rendered.wait_until(lambda: engine.get("/channel/2/xy") == (0.5, -0.5), 2, "/channel/2/xy")
    assert engine.get("/field/spread") == (1.25,)
    assert engine.get("/channel/2/gain") == (0.5,) and engine.get("/channel/2/mute") == (1,)
    assert engine.get("/channel/1/gain") == (1.0,) and engine.get("/channel/1/mute") == (0,)
    engine.post("/path/stop")  # the pad started the map; silence it for the other tests


@needs("pd")
def test_pd_patches_load_without_errors():
    for patch in ("caminos.pd", "caminos-osc.pd", "caminos-status.pd"):
        done = subprocess.run(
            [
                "pd",
                "-nogui",
                "-nosound",
                "-stderr",
                "-path",
                str(PATCHES / "pd"),
                "-send",
                "pd quit",
                str(PATCHES / "pd" / patch),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        log = done.stdout + done.stderr
        errors = [
            line
            for line in log.splitlines()
            if "error" in line
            and not any(w in line for w in ("listen", "bind", "connect", "Address"))
        ]
        assert done.returncode == 0 and "couldn't create" not in log and not errors, log


CHANNEL_IN_ADDRESS = re.compile(r"\\?\$\d+|%l?[di]")  # Pd's $1, Max's sprintf %ld, SC's %


def _validate(registry: ControlRegistry, text: str, where: str) -> None:
    """An OSC message written in a patch (``/latent/axis 0 $1``) against the registry, with
    each ``$n`` replaced by a value its argument accepts, and a channel number built into the
    address (``/channel/$1/gain $2``, ``/channel/%ld/gain %f``) by channel 1."""
    address, *args = text.split()
    address = CHANNEL_IN_ADDRESS.sub("1", address)
    assert address in registry, f"{where}: {address} is not a caminos address"
    control = registry[address]
    values = []
    for i, token in enumerate(args):
        spec = control.args[min(i, len(control.args) - 1)] if control.args else None
        assert spec is not None, f"{where}: {address} takes no arguments"
        if token.startswith(("$", "\\$", "%")):
            values.append("x" if spec.kind == "s" else (spec.lo if spec.lo is not None else 0.0))
        elif spec.kind == "s":
            values.append(token)
        else:
            values.append(float(token))
    control.validate(values)


def test_pd_messages_match_the_registry(registry):
    text = (PATCHES / "pd" / "caminos.pd").read_text()
    sent = [
        part.strip()[len("caminos ") :]
        for box in re.findall(r"^#X msg \d+ \d+ (.*);$", text, flags=re.M)
        for part in box.split("\\;")
        if part.strip().startswith("caminos /")
    ]
    assert len(sent) > 30
    for message in sent:
        _validate(registry, message.replace("\\$", "$"), "caminos.pd")
    covered = {CHANNEL_IN_ADDRESS.sub("K", m.replace("\\$", "$").split()[0]) for m in sent}
    assert {
        "/field/spread",
        "/field/rotate",
        "/field/spin",
        "/field/wander",
        "/field/decorrelate",
        "/channel/K/gain",
        "/channel/K/mute",
        "/channel/K/xy",
        "/latent/pitch",
        "/latent/pitches",
        "/latent/chord",
    } <= covered, covered
    harness = (PATCHES / "pd" / "test" / "caminos-test.pd").read_text()
    for box in re.findall(r"#X msg \d+ \d+ (/.*?);\n", harness):
        for message in box.split(" \\, "):
            if "99" not in message:  # the harness's deliberate out-of-range axis
                _validate(registry, message.replace("\\$", "$"), "caminos-test.pd")


# ------------------------------------------------------------------------ SuperCollider
@needs("sclang")
def test_sclang_script_plays_the_engine_and_reads_replies(live):
    engine, server, _ = live
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QTWEBENGINE_DISABLE_SANDBOX="1")
    applied = []
    engine.recorders.append(lambda hop, address, args: applied.append((hop, address, args)))
    try:
        done = subprocess.run(
            [
                "sclang",
                "-D",
                str(PATCHES / "supercollider" / "test" / "caminos-test.scd"),
                str(server.port),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    finally:
        engine.recorders.pop()
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert engine.mixer.offset_target[1] == 0.75
    assert engine.get("/path/loop") == (2,)
    assert engine.get("/field/spread") == (1.5,) and engine.get("/field/rotate") == (30.0,)
    assert engine.get("/field/wander") == (0.25,) and engine.get("/field/decorrelate") == (0.5,)
    assert engine.get("/channel/2/gain") == (0.5,) and engine.get("/channel/2/mute") == (1,)
    assert engine.get("/channel/2/xy") == (0.25, -0.5)
    assert engine.get("/channel/1/offset")[:3] == (0.5, -0.25, 0.0)
    assert engine.get("/latent/chord") == (4.0, 7.0)
    assert "caminos-value follow 0.5" in log
    assert "caminos-errors 1" in log and "caminos error: /latent/axis" in log
    assert int(re.search(r"caminos-status hop (\d+)", log).group(1)) > 0
    # the bundle sent with 0.25 s of latency lands about 47 hops after the messages before it
    # (less when a loaded machine delays those immediate ones; never sooner than its time)
    hops = {args[0]: hop for hop, address, args in applied if address == "/latent/axis"}
    waited = (hops[2] - hops[1]) * engine.hop / engine.sample_rate
    assert 0.1 <= waited <= 0.3, waited


@needs("sclang")
def test_sclang_gui_opens_offscreen_and_plays_the_engine(live):
    engine, server, _ = live
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QTWEBENGINE_DISABLE_SANDBOX="1")
    done = subprocess.run(
        [
            "sclang",
            "-D",
            str(PATCHES / "supercollider" / "test" / "caminos-gui-test.scd"),
            str(server.port),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0 and "ERROR" not in log, log[-3000:]
    assert "caminos-gui: window open" in log
    assert engine.get("/latent/xy") == (pytest.approx(0.2), pytest.approx(0.6))
    assert engine.mixer.offset_target[3] == pytest.approx(0.75 * 6 - 3)
    assert engine.get("/field/spread") == (pytest.approx(2.0),)
    assert engine.get("/channel/2/gain") == (pytest.approx(0.5),)
    assert engine.get("/channel/2/mute") == (1,) and engine.get("/channel/1/mute") == (0,)
    assert engine.get("/channel/2/xy") == (pytest.approx(1.5), pytest.approx(-1.5))
    assert int(re.search(r"caminos-gui-status hop (\d+)", log).group(1)) > 0  # read back
    engine.post("/path/stop")


def test_supercollider_messages_match_the_registry(registry):
    text = (PATCHES / "supercollider" / "caminos.scd").read_text()
    addresses = set(re.findall(r"msg\('(/[a-z/_]+)'", text))
    assert len(addresses) > 20
    assert {
        "/field/spread",
        "/field/rotate",
        "/field/spin",
        "/field/wander",
        "/field/decorrelate",
        "/latent/pitch",
        "/latent/pitches",
        "/latent/chord",
    } <= addresses
    # a channel's addresses are built from its number: channelAddress(k, "gain")
    template = re.search(r'channelAddress: \{.*"(/channel/%/)"', text).group(1)
    controls = set(re.findall(r'channelAddress\(k, "([a-z/]+)"\)', text))
    assert {"gain", "mute", "xy"} <= controls
    addresses |= {template.replace("%", "1") + control for control in controls}
    assert addresses <= {c.address for c in registry}, addresses - {c.address for c in registry}


# -------------------------------------------------------------------------------- Max
def test_max_patch_is_valid_and_matches_the_registry(registry):
    patch = json.loads((PATCHES / "max" / "caminos.maxpat").read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patch["boxes"]}
    assert len(boxes) == len(patch["boxes"]), "duplicate box ids"
    for line in patch["lines"]:
        (source, outlet), (target, inlet) = (
            line["patchline"]["source"],
            line["patchline"]["destination"],
        )
        assert source in boxes and target in boxes
        assert 0 <= outlet < boxes[source]["numoutlets"], line
        assert 0 <= inlet < boxes[target]["numinlets"], line
    objects = [b["text"].split()[0] for b in boxes.values() if b["maxclass"] == "newobj"]
    assert "udpsend" in objects and "udpreceive" in objects
    send = next(b for b in boxes.values() if b.get("text", "").startswith("udpsend"))
    assert send["text"].split()[1:] == ["127.0.0.1", str(load_config().osc.port)]
    messages = [b["text"] for b in boxes.values() if b["maxclass"] == "message"]
    sent = [m.strip() for text in messages for m in text.split(",")]
    # a channel's messages: [sprintf /channel/%ld/gain %f], its number in the hot left inlet
    formats = [
        b["text"].split(maxsplit=1)[1]
        for b in boxes.values()
        if b["maxclass"] == "newobj" and b["text"].startswith("sprintf ")
    ]
    for text in formats:
        box = next(b for b in boxes.values() if b.get("text") == f"sprintf {text}")
        assert box["numinlets"] == text.count("%"), text
    for message in sent + formats:
        _validate(registry, message, "caminos.maxpat")
    covered = {CHANNEL_IN_ADDRESS.sub("K", m.split()[0]) for m in sent + formats}
    for needed in (
        "/latent/xy",
        "/latent/axis",
        "/path/play",
        "/path/stop",
        "/scene/recall",
        "/voice/say",
        "/engine/status",
        "/field/spread",
        "/field/rotate",
        "/field/spin",
        "/field/wander",
        "/field/decorrelate",
        "/channel/K/gain",
        "/channel/K/mute",
        "/channel/K/xy",
        "/latent/pitch",
        "/latent/pitches",
        "/latent/chord",
    ):
        assert needed in covered, needed
