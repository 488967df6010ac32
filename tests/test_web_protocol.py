"""The control page without a browser: message parsing, rate limit, Origin, Host and token
checks (engine/control/web/protocol.py), the page's snapshots (engine/control/web/state.py) with
the field of voices on the map, the spectrum tap (engine/dsp/spectrum_tap.py), and the server
itself against an engine ticking in a thread."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc

import numpy as np
import pytest

from caminos.engine.control.web.protocol import (
    MAX_MESSAGE_BYTES,
    RateLimiter,
    check_host,
    check_origin,
    check_token,
    parse_message,
)
from caminos.engine.control.web.state import (
    MapProjection,
    PageState,
    axis_words,
    changes,
    field_on_map,
)
from caminos.engine.core.config import WebConfig, config_from_mapping
from caminos.engine.core.errors import ControlError
from caminos.engine.dsp.spectrum_tap import FRAMES, MAX_VOICES, SpectrumTap, band_edges
from caminos.engine.dsp.spectrum_writer import SpectrumWriter
from tests.conftest import ticking

aiohttp = pytest.importorskip("aiohttp")


# ----------------------------------------------------------------------------- messages
def test_a_message_is_an_address_and_its_arguments() -> None:
    assert parse_message('{"address": "/latent/xy", "args": [0.25, 1]}') == (
        "/latent/xy",
        (0.25, 1),
    )
    assert parse_message('{"address": "/path/stop"}') == ("/path/stop", ())
    assert parse_message('{"address": "/voice/say", "args": ["hola"]}') == ("/voice/say", ("hola",))


@pytest.mark.parametrize(
    "text, words",
    [
        (b'{"address": "/a"}', "binary frame"),
        ("not json", "not valid JSON"),
        ("[1, 2]", "a JSON object, got list"),
        ('{"args": [1]}', "address must be a string"),
        ('{"address": "latent/xy"}', "starting with /"),
        ('{"address": "/latent/xy", "args": 3}', "args must be a list"),
        ('{"address": "/latent/xy", "args": [true, 1]}', "argument 1 must be a number or a string"),
        ('{"address": "/latent/xy", "args": [[1], 1]}', "argument 1 must be a number"),
        ('{"address": "/latent/xy", "args": [NaN, 1]}', "NaN is not a number"),
        ('{"address": "/latent/xy", "args": [1e999, 1]}', "argument 1 must be finite"),
        ('{"address": "/latent/xy", "args": [1, 1], "hop": 4}', "unknown field(s) 'hop'"),
        ('{"address": "/latent/z", "args": [' + ",".join(["0"] * 40) + "]}", "at most 32"),
        ('{"address": "/voice/say", "args": ["' + "a" * MAX_MESSAGE_BYTES + '"]}', "at most 4096"),
    ],
)
def test_a_bad_message_is_refused_with_what_was_wrong(text, words: str) -> None:
    with pytest.raises(ControlError) as caught:
        parse_message(text)
    assert words in str(caught.value), str(caught.value)


def test_the_rate_limiter_lets_a_burst_through_then_the_sustained_rate() -> None:
    limiter = RateLimiter(rate=100.0, burst=10)
    passed = sum(limiter.allow(0.0) for _ in range(50))
    assert passed == 10 and limiter.refused == 40
    # one second later: a hundred more tokens, capped at the burst
    assert sum(limiter.allow(1.0) for _ in range(50)) == 10
    # a little under the sustained rate every message passes
    assert all(limiter.allow(1.0 + (i + 1) / 95.0) for i in range(200))


@pytest.mark.parametrize(
    "origin, host, refused",
    [
        (None, "127.0.0.1:8080", None),  # a program, not a web page
        ("http://127.0.0.1:8080", "127.0.0.1:8080", None),
        ("http://LOCALHOST:8080", "localhost:8080", None),
        ("http://evil.example", "127.0.0.1:8080", "another site"),
        ("http://127.0.0.1:9999", "127.0.0.1:8080", "another site"),
        ("null", "127.0.0.1:8080", "not a web page's origin"),
        ("http://127.0.0.1:8080", None, "no Host"),
    ],
)
def test_origin_must_be_the_page_s_own(origin, host, refused) -> None:
    reason = check_origin(origin, host)
    assert (reason is None) if refused is None else (refused in reason), reason


def test_on_loopback_only_loopback_host_names_are_served() -> None:
    assert check_host("127.0.0.1:8080", loopback=True) is None
    assert check_host("localhost:8080", loopback=True) is None
    assert check_host("[::1]:8080", loopback=True) is None
    assert "not this machine's loopback" in check_host("rebind.example:8080", loopback=True)
    assert "no Host" in check_host(None, loopback=True)
    assert check_host("192.168.1.5:8080", loopback=False) is None


def test_the_token_is_needed_only_when_one_is_expected() -> None:
    assert check_token(None, "") is None
    assert "needs the token" in check_token(None, "secret")
    assert check_token("wrong", "secret") == "wrong token"
    assert check_token("secret", "secret") is None


def test_web_config_knows_loopback() -> None:
    assert WebConfig().loopback
    assert not WebConfig(host="0.0.0.0").loopback
    assert config_from_mapping({"web": {"port": 0}}).web.port == 0


def test_caminos_play_prints_the_page_s_address_and_off_loopback_a_qr_code() -> None:
    from caminos.engine.live.play import web_lines

    assert web_lines(config_from_mapping({}), 8080, "unused") == [
        "control page: http://127.0.0.1:8080/"
    ]
    lines = web_lines(config_from_mapping({"web": {"host": "192.168.1.20"}}), 8081, "tok")
    assert lines[0].startswith("control page: http://192.168.1.20:8081/?token=tok")
    qr = lines[1:]
    # a version-2 code at least (25 modules) with its quiet zone, two modules per line
    assert len(qr) >= 14 and len({len(line) for line in qr}) == 1
    assert set("".join(qr)) <= {" ", "\u2588", "\u2580", "\u2584"} and "\u2588" in "".join(qr)


# ------------------------------------------------------------------------ spectrum tap
def test_the_spectrum_tap_shows_a_sine_in_its_band_at_its_level() -> None:
    tap = SpectrumTap(dims=4)
    try:
        writer = SpectrumWriter(tap, 1024, 256, 48000)
        assert writer.every_hops == 12  # 15.6 frames a second
        t = np.arange(256)
        latent = np.array([1.0, -2.0, 0.5, 0.25, 9.0])
        for i in range(4 * writer.every_hops):
            writer.push(0.5 * np.sin(2 * np.pi * 1000.0 * (t + 256 * i) / 48000), latent)
        count, levels, latents, places = tap.since(0)
        assert count == 4 and levels.shape == (4, tap.bands)
        band = np.searchsorted(writer.edges, 1000.0 * 1024 / 48000, side="right") - 1
        assert int(np.argmax(levels[-1])) == band
        assert levels[-1, band] == pytest.approx(-6.0, abs=1.0)  # half scale: -6 dBFS
        # one voice: its latent's first axes, and no place (no field given)
        assert latents.shape == (4, 1, 4) and places.shape == (4, 1, 2)
        assert np.array_equal(latents[-1, 0], latent[:4].astype(np.float32))
        assert not places.any()
        assert tap.since(count)[1].shape == (0, tap.bands)
    finally:
        tap.close()


def test_a_reader_far_behind_gets_the_newest_frames_in_order() -> None:
    tap = SpectrumTap(dims=1)
    try:
        writer = SpectrumWriter(tap, 1024, 256, 48000)
        for i in range((FRAMES + 10) * writer.every_hops):
            writer.push(np.zeros(256), np.array([float(i // writer.every_hops)]))
        count, _, latents, _ = tap.since(0)
        assert count == FRAMES + 10
        assert len(latents) == FRAMES - 1  # the oldest row may be being written: skipped
        assert np.array_equal(latents[:, 0, 0], np.arange(11, FRAMES + 10))
    finally:
        tap.close()


def test_every_voice_s_latent_and_place_go_through_and_a_reader_learns_the_shape() -> None:
    tap = SpectrumTap(dims=3, voices=8)
    reader = None
    try:

        def places(out: np.ndarray) -> None:  # as LatentField.places: the voices' rows only
            out[:3] = [[1.0, 0.0], [0.0, -1.0], [0.5, 0.25]]

        writer = SpectrumWriter(tap, 1024, 256, 48000, places=places)
        latents = np.arange(15.0).reshape(3, 5)  # 3 voices of the 8 the tap holds, 5 axes
        for _ in range(writer.every_hops):
            writer.push(np.zeros(256), latents)
        reader = SpectrumTap(name=tap.name)  # attached by name: the shape is the block's
        assert (reader.bands, reader.dims, reader.frames, reader.voices) == (
            tap.bands,
            3,
            tap.frames,
            8,
        )
        assert reader.used == 3
        count, _, got, where = reader.since(0)
        assert count == 1 and got.shape == (1, 3, 3) and where.shape == (1, 3, 2)
        assert np.array_equal(got[0], latents[:, :3].astype(np.float32))
        assert np.array_equal(where[0], [[1.0, 0.0], [0.0, -1.0], [0.5, 0.25]])
        newest_latents, newest_places = reader.latest()
        assert np.array_equal(newest_latents, got[0]) and np.array_equal(newest_places, where[0])
        with pytest.raises(ValueError, match=f"1 .. {MAX_VOICES} voices"):
            SpectrumTap(voices=MAX_VOICES + 1)
    finally:
        if reader is not None:
            reader.close()
        tap.close()


def test_the_spectrum_writer_allocates_nothing_per_hop() -> None:
    from caminos.engine.clock.field import LatentField
    from caminos.engine.core.layouts import load_layout

    voices = 8
    tap = SpectrumTap(voices=voices)
    try:
        field = LatentField(
            load_layout("ring-8", voices).offsets(),
            range(1, voices + 1),
            voices,
            np.ones(16),
            0.1,
            256 / 48000,
            spread=1.0,
            spin=90.0,
        )
        writer = SpectrumWriter(tap, 1024, 256, 48000, places=field.places)
        block = np.zeros((256, 2))
        latent = np.zeros((voices, 16))
        writer.warm_up(block[:, 0], latent)
        assert tap.count == 0
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(10 * writer.every_hops):
                writer.push(block[:, 0], latent)
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert after - before < 1024, after - before
        assert tap.count == 10 and tap.used == voices
        assert np.abs(tap.latest()[1]).max() == pytest.approx(1.0)  # ring-8 at spread 1
    finally:
        tap.close()


def test_band_edges_cover_the_spectrum_with_no_empty_band() -> None:
    edges = band_edges(1024, 48000)
    assert edges[-1] == 513 and np.all(np.diff(edges) >= 1) and len(edges) == 65
    with pytest.raises(ValueError, match="need more than"):
        band_edges(64, 48000)


# ------------------------------------------------------------------------ the page's state
def test_axis_words_name_both_ends_of_an_axis() -> None:
    descriptors = {
        "axes": [
            {
                "change_in_spread": {
                    "centroid_hz": 0.8,
                    "loudness_db": -0.3,
                    "flatness_db": 0.01,
                    "harmonicity": 0.0,
                }
            }
        ]
    }
    words = axis_words(descriptors, 2)
    assert words[0] == {"axis": 0, "plus": ["brighter", "quieter"], "minus": ["darker", "louder"]}
    assert words[1] == {"axis": 1, "plus": [], "minus": []}


def test_the_map_projection_inverts_xy_on_the_axes_and_on_a_plane() -> None:
    std = np.array([2.0, 0.5, 1.0])
    projection = MapProjection(std)
    # /latent/xy 0.75 0.25 on the axes plane puts the target at +1 std, -1 std (2 std span)
    assert projection.project(np.array([2.0 * 1.0, -0.5 * 1.0, 3.0])) == pytest.approx((0.75, 0.25))
    origin, x_end, y_end = np.eye(3)
    projection.set_plane(np.stack([origin, x_end, y_end]))
    point = origin + 0.3 * (x_end - origin) + 0.6 * (y_end - origin)
    assert projection.project(point) == pytest.approx((0.3, 0.6))


def test_the_field_on_the_map_is_its_centre_each_voice_and_each_speaker_s_place() -> None:
    std = np.array([2.0, 0.5, 1.0])
    projection = MapProjection(std)
    plane = np.array([[2.0, 0.0, 0.0], [0.0, 0.5, 0.0]])  # one std along axes 0 and 1
    centre = np.array([0.0, 0.0, 0.3])
    places = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]])  # std on the plane
    wander = np.array([[0.0, 0.5, 0.0], [0.0, -0.5, 0.0], [0.0, 0.0, 0.0]])  # sums to 0
    latents = centre + places @ plane + wander
    field = field_on_map(projection, latents, places, plane)
    # one std is a quarter of the map (it spans -2 .. 2 std)
    assert field["centre"] == pytest.approx([0.5, 0.5])
    assert np.allclose(field["ring"], [[0.75, 0.5], [0.25, 0.5], [0.5, 1.0]])
    assert np.allclose(field["voices"], [[0.75, 0.75], [0.25, 0.25], [0.5, 1.0]])
    # one voice with no place (the mono layout): the centre is that voice
    single = field_on_map(projection, latents[:1], np.zeros((1, 2)), plane)
    assert single["centre"] == single["voices"][0] == single["ring"][0]


def test_changes_hold_only_what_differs() -> None:
    old = {"values": {"/a": [1], "/b": [2]}, "meters": {"x": 1}, "paths": []}
    new = {"values": {"/a": [1], "/b": [3]}, "meters": {"x": 1}, "paths": [["p", 1.0, 2]]}
    assert changes(old, new) == {"values": {"/b": [3]}, "paths": [["p", 1.0, 2]]}
    assert changes(new, new) == {}


# ------------------------------------------------------------------------------ the server
@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.surface import attach
    from caminos.engine.core.config import load_config

    engine = Engine(load_config(), startup_events=False, voice=False)
    # what it saves (MIDI mappings) goes to a folder of the tests' own
    engine.surface = attach(engine, patches=tmp_path_factory.mktemp("patches"))
    yield engine
    engine.close()


def test_the_snapshot_holds_the_layout_the_voices_on_the_map_and_the_field_s_values(engine):
    assert engine.voices == 2 and engine.layout.name == "stereo"  # the default: 2 channels
    tap = SpectrumTap(voices=engine.channels)
    attached = SpectrumTap(name=tap.name)
    try:
        writer = SpectrumWriter(
            tap, engine.stft.n_fft, engine.hop, engine.sample_rate, places=engine.field.places
        )
        from_tap = PageState(engine, spectrum=attached)
        engine.post("/field/spread", 1.0)
        engine.post("/field/rotate", 90.0)
        for _ in range(2000):  # until both have glided to their targets
            writer.push(engine.tick()[:, 0], engine.voice_positions)
            if engine.field.spread.value == 1.0 and engine.field.rotate.value == 90.0:
                break
        for _ in range(writer.every_hops):
            writer.push(engine.tick()[:, 0], engine.voice_positions)
        state = PageState(engine)  # without a tap: from the engine itself
        assert state.hello()["layout"] == {
            "name": "stereo",
            "speakers": 2,
            "voices": 2,
            "mono": False,
            "channels": [1, 2],
            "labels": ["L", "R"],
        }
        snapshot = state.snapshot()
        assert snapshot["values"]["/field/spread"] == [1.0]
        assert snapshot["values"]["/field/rotate"] == [90.0]
        assert {
            "/field/spin",
            "/field/wander",
            "/field/decorrelate",
            "/channel/2/gain",
            "/channel/2/xy",
        } <= set(snapshot["values"])
        field = snapshot["field"]
        # L (+y) and R (-y) turned a quarter counter-clockwise: L to the left of the centre,
        # R to the right, one std (a quarter of the map) away; the voices at their places
        (cx, cy), ring = field["centre"], field["ring"]
        assert np.allclose(ring, [[cx - 0.25, cy], [cx + 0.25, cy]], atol=1e-4)
        assert np.allclose(field["voices"], ring, atol=1e-4)
        # the DSP process's tap says the same
        assert from_tap.snapshot()["field"] == field
        frames = from_tap.spectrum_frames()
        assert frames is not None and frames["xy"][-1] == field["centre"]
    finally:
        attached.close()
        tap.close()
        engine.post("/field/spread", engine.config.field.spread)
        engine.post("/field/rotate", engine.config.field.rotate)
        engine.tick()


def _serve(engine, **web):
    from caminos.engine.control.web.server import WebServer

    config = WebConfig(**{"port": 0, **web})
    return WebServer(engine, config, token="sesame" if not config.loopback else "").start()


async def _receive(socket, kind: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads((await socket.receive(timeout=deadline - time.monotonic())).data)
        if message["type"] == kind:
            return message


async def _until(socket, test, timeout: float = 5.0) -> dict:
    """The first state message for which ``test(message)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        message = await _receive(socket, "state", deadline - time.monotonic())
        if test(message):
            return message


def test_pages_stay_in_step_and_bad_messages_are_answered(engine) -> None:
    server = _serve(engine)
    url = f"http://127.0.0.1:{server.port}"

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            async with (
                session.ws_connect(f"{url}/ws") as one,
                session.ws_connect(f"{url}/ws", headers={"Origin": url}) as two,
            ):
                hello = await _receive(one, "hello")
                assert {"/latent/xy", "/scene/recall"} <= {c["address"] for c in hello["controls"]}
                assert len(hello["axes"]) == engine.dims and hello["bands_hz"]
                first = await _receive(two, "state")
                assert first["full"] and first["values"]["/latent/noise"] == [0.0]
                errors = engine.counters["control_errors"]
                # every change from one page shows on the other, in order (how soon is
                # benchmarks/web.py's page update latency, not a test's)
                for i in range(10):
                    value = round(0.05 * (i + 1), 2)
                    await one.send_str(json.dumps({"address": "/latent/noise", "args": [value]}))
                    await _until(two, lambda m: m.get("values", {}).get("/latent/noise") == [value])
                await one.send_str(json.dumps({"address": "/latent/noise", "args": [0.7]}))
                await _until(two, lambda m: m.get("values", {}).get("/latent/noise") == [0.7])
                # the field's sliders: a page's spread reaches the engine and the other page;
                # both know the layout and see every voice on the map
                assert hello["layout"]["voices"] == engine.voices == 2
                assert len(first["field"]["voices"]) == len(first["field"]["ring"]) == 2
                await one.send_str(json.dumps({"address": "/field/spread", "args": [1.5]}))
                await _until(two, lambda m: m.get("values", {}).get("/field/spread") == [1.5])
                assert engine.field.spread.target == 1.5
                # the same validation as OSC, answered to the sender only
                await one.send_str(json.dumps({"address": "/latent/axis", "args": [99, 0.0]}))
                error = await _receive(one, "error")
                assert error["address"] == "/latent/axis" and "out of range" in error["reason"]
                await one.send_str(json.dumps({"address": "/engine/status"}))
                assert "a query" in (await _receive(one, "error"))["reason"]
                await one.send_str("{")
                assert "not valid JSON" in (await _receive(one, "error"))["reason"]
                assert engine.counters["control_errors"] >= errors + 1
                # a change made elsewhere (OSC posts to the same engine) shows on the pages
                engine.post("/out/gain", -12.0)
                await _until(one, lambda m: m.get("values", {}).get("/out/gain") == [-12.0])

    try:
        with ticking(engine):
            asyncio.run(run())
    finally:
        server.stop()
        engine.post("/latent/noise", 0.0)
        engine.post("/out/gain", 0.0)
        engine.post("/field/spread", engine.config.field.spread)
        engine.tick()


def test_a_page_arms_midi_learn_and_sees_what_a_controller_learnt(engine) -> None:
    server = _serve(engine)
    url = f"http://127.0.0.1:{server.port}"
    midi = engine.surface.midi

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{url}/ws") as page:
                hello = await _receive(page, "hello")
                assert "/midi/learn" in {c["address"] for c in hello["controls"]}
                first = await _receive(page, "state")
                assert first["midi"] == {"armed": None, "mappings": []}
                # the learn button beside the axis 1 slider
                await page.send_str(
                    json.dumps({"address": "/midi/learn", "args": ["/latent/axis", 1]})
                )
                while True:  # the page sees learning armed (and is not refused)
                    message = json.loads((await page.receive(timeout=5.0)).data)
                    assert message["type"] != "error", message["reason"]
                    if message.get("midi", {}).get("armed") == ["/latent/axis", 1]:
                        break
                assert midi.armed is not None and midi.armed.given == (1,)
                # a knob moved on the MIDI controller (what MidiInput hands the mappings)
                assert midi.receive("cc", 1, 7, 0) == []
                learnt = await _until(page, lambda m: m.get("midi", {}).get("mappings"))
                assert learnt["midi"] == {
                    "armed": None,
                    "mappings": [["CC 7 on channel 1", "/latent/axis", 1]],
                }
                # refused like any message, answered to the page
                await page.send_str(json.dumps({"address": "/midi/learn", "args": ["/latent/xy"]}))
                error = await _receive(page, "error")
                assert "give x to drive y" in error["reason"], error

    try:
        asyncio.run(run())
    finally:
        server.stop()
        midi.forget()


def test_a_flood_from_a_page_is_rate_limited_and_counted(engine) -> None:
    server = _serve(engine)
    url = f"http://127.0.0.1:{server.port}"

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{url}/ws") as page:
                await _receive(page, "hello")
                for i in range(1000):
                    await page.send_str(
                        json.dumps({"address": "/latent/axis", "args": [i % 4, 0.001 * (i % 100)]})
                    )
                error = await _receive(page, "error")
                assert "rate limited" in error["reason"], error
                # The server reads a page's messages in order and answers the close after the
                # thousand: once it has, it has handled every one of them.
                await page.close()
                assert page.close_code == 1000, page.close_code

    try:
        with ticking(engine):
            asyncio.run(run())
        assert server.counters["web_messages"] == 1000
        assert server.counters["web_refused"] >= 500
        assert engine.status()["web_refused"] == server.counters["web_refused"]
    finally:
        server.stop()
        engine.post("/latent/z", *([0.0] * engine.dims))
        engine.tick()


def test_off_loopback_the_token_is_needed_and_a_foreign_origin_is_refused(engine) -> None:
    server = _serve(engine, host="0.0.0.0")
    url = f"http://127.0.0.1:{server.port}"
    assert server.url("10.0.0.2") == f"http://10.0.0.2:{server.port}/?token=sesame"

    async def run() -> None:
        # a browser keeps cookies of an address like 127.0.0.1; aiohttp's client only when told
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            for path in ("/", "/app.js", "/ws", "/?token=wrong", "/ws?token=wrong"):
                async with session.get(url + path) as response:
                    assert response.status == 403, path
                    assert "Forbidden" in await response.text()
            async with session.get(url + "/?token=sesame") as response:
                assert response.status == 200 and '<canvas id="map"' in await response.text()
            # the page's cookie carries the token for its scripts and its WebSocket
            async with session.get(url + "/app.js") as response:
                assert response.status == 200
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"{url}/ws", headers={"Origin": "http://evil.example"})
            assert refused.value.status == 403
            async with session.ws_connect(f"{url}/ws", headers={"Origin": url}) as page:
                assert (await _receive(page, "hello"))["type"] == "hello"

    try:
        asyncio.run(run())
        assert server.counters["web_forbidden"] == 6
    finally:
        server.stop()


def test_on_loopback_a_rebinding_host_name_is_refused(engine) -> None:
    server = _serve(engine)
    url = f"http://127.0.0.1:{server.port}"

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/", headers={"Host": "rebind.example"}) as response:
                assert response.status == 403
                assert "loopback" in await response.text()
            async with session.get(url + "/") as response:
                assert response.status == 200

    try:
        asyncio.run(run())
    finally:
        server.stop()


def test_a_busy_port_is_named(engine) -> None:
    server = _serve(engine)
    try:
        with pytest.raises(ControlError, match=f"cannot listen on 127.0.0.1:{server.port}"):
            _serve(engine, port=server.port)
    finally:
        server.stop()
