"""The OSC server over real loopback: replies, errors, allow-list, bundles on the hop clock."""

from __future__ import annotations

import logging
import socket
import time

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from caminos.engine.clock.engine import Engine
from caminos.engine.control.osc.messages import MalformedPacket, encode_message, parse_packet
from caminos.engine.control.osc.server import OscServer
from caminos.engine.control.surface import attach
from caminos.engine.core.config import OscConfig, load_config
from caminos.engine.core.errors import ControlError
from tests.conftest import control_values, restore, ticking


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    engine = Engine(load_config())
    surface = attach(
        engine,
        patches=tmp_path_factory.mktemp("patches"),
        recordings=tmp_path_factory.mktemp("recordings"),
    )
    return engine, surface, control_values(engine)


@pytest.fixture(autouse=True)
def restored(shared):
    """Every test starts from the module engine's start-up state."""
    engine, surface, values = shared
    restore(engine, values, surface)


@pytest.fixture
def engine(shared):
    return shared[0]


@pytest.fixture(scope="module")
def server(shared):
    with OscServer(shared[0], OscConfig(port=0)) as server:
        yield server


class Client:
    """A UDP peer on loopback that sends datagrams and collects the replies."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)
        self.target = ("127.0.0.1", port)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def ask(self, address: str, *args, until: str | None = None) -> list[OscMessage]:
        """Send a message; return replies up to one whose address is ``until`` (default: one)."""
        self.send(encode_message(address, args))
        return self.receive(until)

    def sync(self) -> None:
        """Return once the server has handled everything this client sent before: a client's
        datagrams are handled in order, so the reply to a query sent now comes after them."""
        replies = self.ask("/engine/get", "/latent/follow")
        assert replies[-1].address == "/engine/get", replies

    def receive(self, until: str | None = None) -> list[OscMessage]:
        replies = []
        while True:
            data, _ = self.sock.recvfrom(65536)
            replies.append(OscMessage(data))
            if until is None or replies[-1].address == until:
                return replies


@pytest.fixture
def client(server):
    client = Client(server.port)
    yield client
    client.sock.close()


def bundle(time_tag: float, *messages: tuple) -> bytes:
    builder = OscBundleBuilder(time_tag)
    for address, *args in messages:
        message = OscMessageBuilder(address=address)
        for a in args:
            message.add_arg(a)
        builder.add_content(message.build())
    return builder.build().dgram


# --------------------------------------------------------------------------------- parsing
def test_parse_packet_flattens_nested_bundles_in_order():
    inner = OscBundleBuilder(2_000_000_000.5)
    inner.add_content(OscMessageBuilder("/b").build())
    outer = OscBundleBuilder(0)  # immediately
    outer.add_content(OscMessageBuilder("/a").build())
    outer.add_content(inner.build())
    outer.add_content(OscMessageBuilder("/c").build())
    parsed = parse_packet(outer.build().dgram)
    assert [(t, a) for t, a, _ in parsed] == [
        (None, "/a"),
        (pytest.approx(2_000_000_000.5), "/b"),
        (None, "/c"),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"/latent/axis\x00\x00\x00\x00,if",
        b"#bundle\x00",
        b"#bundle\x00" + b"\x00" * 8 + b"\x00\x00\x00\x40/a\x00\x00",
    ],
)
def test_parse_packet_refuses_malformed(data):
    with pytest.raises(MalformedPacket):
        parse_packet(data)


# --------------------------------------------------------------------------- over loopback
def test_message_changes_the_engine_at_the_next_hop(engine, client):
    client.ask("/osc/reply_port", 0)  # replies back to this socket
    client.send(encode_message("/latent/axis", (3, 1.25)))
    client.sync()  # the message is queued
    assert engine.queue.pending() == 1
    hop = engine.hop_index
    engine.tick()
    assert engine.mixer.offset_target[3] == 1.25
    reply = client.ask("/engine/get", "/latent/z")[0]
    assert reply.address == "/engine/get" and reply.params[0] == "/latent/z"
    assert reply.params[1 + 3] == pytest.approx(1.25)
    assert engine.hop_index == hop + 1


@pytest.mark.parametrize(
    "address, args, reason",
    [
        ("/latent/nothing", (1.0,), "unknown address"),
        ("/latent/axis", (0,), "expected 2 argument"),
        ("/latent/axis", ("zero", 0.5), "expected int"),
        ("/latent/axis", (0, float("nan")), "finite"),
        ("/latent/axis", (0, 99.0), "out of range"),
        ("/latent/axis", (99, 0.5), "out of range"),
        ("/phase/method", ("fast",), "expected one of"),
        ("/engine/get", ("/path/stop",), "no value"),
    ],
)
def test_bad_message_is_answered_counted_and_changes_nothing(engine, client, address, args, reason):
    before = engine.status()["control_errors"]
    offsets = engine.mixer.offset_target.copy()
    reply = client.ask(address, *args)[0]
    assert reply.address == "/error"
    assert reply.params[0] == address and reason in reply.params[1]
    assert engine.status()["control_errors"] == before + 1
    engine.tick()
    np.testing.assert_array_equal(engine.mixer.offset_target, offsets)


def test_malformed_packet_is_answered_and_counted(engine, server, client):
    before = server.counters["osc_malformed"]
    client.send(b"\x01\x02garbage")
    reply = client.receive()[0]
    assert reply.address == "/error" and reply.params[0] == "" and "OSC" in reply.params[1]
    assert server.counters["osc_malformed"] == before + 1


def test_list_answers_every_address_with_types_and_docs(engine, client):
    replies = client.ask("/engine/list", until="/engine/list/done")
    rows = {r.params[0]: r.params[1:] for r in replies[:-1]}
    assert replies[-1].params == [len(engine.registry)]
    assert set(rows) == {c.address for c in engine.registry}
    tags, signature, doc = rows["/latent/axis"]
    assert tags == "if" and f"0 .. {engine.dims - 1}" in signature and "std" in signature and doc


def test_status_answers_key_value_pairs(engine, client):
    params = client.ask("/engine/status")[0].params
    status = dict(zip(params[::2], params[1::2]))
    assert status["sample_rate"] == 48000 and status["model"] == engine.checkpoint.name
    assert {"xruns", "cpu_load", "latency_ms", "control_errors", "osc_malformed"} <= set(status)


def test_allow_list_refuses_other_clients(engine):
    with OscServer(engine, OscConfig(port=0, allow="10.1.2.3")) as guarded:
        client = Client(guarded.port)
        client.sock.settimeout(0.3)
        client.send(encode_message("/latent/axis", (0, 0.5)))
        with pytest.raises(socket.timeout):
            client.receive()
        client.sock.close()
        assert guarded.counters["osc_refused"] == 1


def test_reply_port_is_per_server_and_only_for_osc_clients(engine, server):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(2.0)
    with OscServer(engine, OscConfig(port=0)) as second:
        client = Client(second.port)
        client.send(encode_message("/osc/reply_port", (listener.getsockname()[1],)))
        assert OscMessage(listener.recvfrom(65536)[0]).params == [listener.getsockname()[1]]
        assert second.reply_ports == {"127.0.0.1": listener.getsockname()[1]}
        assert (
            "127.0.0.1" not in server.reply_ports
            or server.reply_ports["127.0.0.1"] != listener.getsockname()[1]
        )
        client.sock.close()
    listener.close()
    with pytest.raises(ControlError, match="only an OSC client"):
        engine.post("/osc/reply_port", 9001)


def test_a_busy_port_is_refused_by_name(engine, server):
    with pytest.raises(ControlError, match=f"127.0.0.1:{server.port}"):
        OscServer(engine, OscConfig(port=server.port)).start()


def test_configured_reply_port(engine):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(2.0)
    with OscServer(engine, OscConfig(port=0, reply_port=listener.getsockname()[1])) as other:
        Client(other.port).send(encode_message("/engine/get", ("/latent/follow",)))
        reply = OscMessage(listener.recvfrom(65536)[0])
    listener.close()
    assert reply.address == "/engine/get" and reply.params[0] == "/latent/follow"


def test_timetagged_bundle_applies_at_the_hop_it_names_in_order(engine, server, client):
    applied = []
    engine.recorders.append(lambda hop, address, args: applied.append((hop, address, args)))
    try:
        hop_seconds = engine.hop / engine.sample_rate
        engine.clock_origin = time.time() - engine.hop_index * hop_seconds
        target = engine.hop_index + 40
        when = engine.clock_origin + (target + 0.5) * hop_seconds
        client.send(
            bundle(
                when, ("/latent/axis", 0, 0.5), ("/latent/axis", 0, -0.5), ("/latent/noise", 0.0)
            )
        )
        client.send(encode_message("/latent/axis", (1, 0.25)))  # immediate: the next hop
        client.sync()  # all four are queued
        assert engine.queue.pending() == 4
        start = engine.hop_index
        for _ in range(45):
            engine.tick()
    finally:
        engine.clock_origin = None
        engine.recorders.pop()
    assert applied[0] == (start, "/latent/axis", (1, 0.25))
    assert applied[1:] == [
        (target, "/latent/axis", (0, 0.5)),
        (target, "/latent/axis", (0, -0.5)),
        (target, "/latent/noise", (0.0,)),
    ]
    assert engine.mixer.offset_target[0] == -0.5


def test_server_survives_a_flood_while_the_engine_renders(engine, server):
    """Mixed good and bad packets from one peer while a thread ticks: every bad one answered."""
    client = Client(server.port)
    errors_before = server.counters["osc_errors_answered"]
    bad = 0
    with ticking(engine) as finite:
        for i in range(300):
            if i % 3 == 0:
                client.send(encode_message("/latent/axis", (i % 16, 100.0)))
                bad += 1
            elif i % 3 == 1:
                client.send(bytes([i % 256]) * (i % 40))
                bad += 1
            else:
                client.send(encode_message("/latent/axis", (i % 16, 0.0)))
        errors = 0
        client.sock.settimeout(2.0)
        while errors < bad:
            if OscMessage(client.sock.recvfrom(65536)[0]).address == "/error":
                errors += 1
    client.sock.close()
    assert errors == bad
    assert server.counters["osc_errors_answered"] - errors_before == bad
    assert all(finite) and len(finite) > 0
    assert server.receiving


def test_address_patterns_reach_every_matching_address(engine, client):
    from caminos.engine.control.osc.addresses import match_addresses

    addresses = [c.address for c in engine.registry]
    assert match_addresses("/source/*/gain", addresses) == [
        "/source/file/gain",
        "/source/input/gain",
        "/source/voice/gain",
    ]
    assert match_addresses("/path/{play,stop}", addresses) == ["/path/play", "/path/stop"]
    assert match_addresses("/latent/[xz]", addresses) == ["/latent/z"]
    assert match_addresses("/latent/[!z]y", addresses) == ["/latent/xy"]
    assert match_addresses("/p?th/loop", addresses) == ["/path/loop"]
    client.send(encode_message("/source/*/gain", (0.5,)))
    client.send(encode_message("/latent/freeze", (True,)))  # OSC true: 1
    reply = client.ask("/nothing/*", 1.0)[0]
    assert reply.address == "/error" and "matches no address" in reply.params[1]
    engine.tick()
    assert [engine.get(f"/source/{s}/gain") for s in ("file", "input", "voice")] == [(0.5,)] * 3
    assert engine.get("/latent/freeze") == (1,)
    engine.post("/latent/freeze", 0)
    for source in ("file", "input", "voice"):
        engine.post(f"/source/{source}/gain", 1.0)
    engine.tick()


def test_an_unreadable_argument_type_is_refused_and_summarised_once_a_second(engine, caplog):
    bad = b"/latent/noise\x00\x00\x00,x\x00\x00\x00\x00\x00\x01"  # type x does not exist
    with OscServer(engine, OscConfig(port=0)) as server, caplog.at_level(logging.WARNING):
        client = Client(server.port)
        for _ in range(50):
            client.send(bad)
            reply = client.receive()[0]
            assert reply.address == "/error" and "Unhandled parameter type" in reply.params[1]
        client.sock.close()
        assert server.counters["osc_malformed"] == 50
    messages = [r.getMessage() for r in caplog.records]
    assert not any(m.startswith("Unhandled parameter type") for m in messages)
    summaries = [m for m in messages if "malformed packet" in m]
    assert 1 <= len(summaries) <= 2, messages  # 50 packets in well under two seconds
