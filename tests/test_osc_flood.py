"""A flood from one OSC client never holds up another client's messages (issue 21).

The receiving thread reads everything the kernel holds and sorts it onto the clients' lanes;
``/engine/status`` and ``/engine/get`` from a client with nothing waiting are answered at once;
a lane that holds too much drops its own client's datagrams, counted. A client is made "busy"
without timing: its lane runs a query that blocks until the test releases it.
"""

from __future__ import annotations

import select
import socket
import threading

import pytest
from pythonosc.osc_message import OscMessage

from caminos.engine.clock.engine import Engine
from caminos.engine.control.osc.messages import RECEIVE_BATCH, DatagramReader, encode_message
from caminos.engine.control.osc.server import DATAGRAM_OVERHEAD, OscServer
from caminos.engine.control.surface import attach
from caminos.engine.core.config import OscConfig, load_config
from caminos.engine.core.controls import ControlTable

HOLD = "/test/hold"  # a query that blocks its lane until released
WHERE = "/test/where"  # /engine/get of it answers the name of the thread that answered
REPLY_TIMEOUT_S = 10.0  # bounds a failing test only
MALFORMED = [
    b"hello, not OSC",
    b"/latent/axis\x00\x00\x00\x00,if",
    b"/latent/noise\x00\x00\x00,x\x00\x00\x00\x00\x00\x01",
    b"#bundle\x00" + b"\x00" * 8 + b"\x00\x00\x00\x40/a\x00\x00",
]


class Hold:
    """The handler of :data:`HOLD`: tells when a lane has entered it, and keeps that lane there
    until :meth:`release`."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def __call__(self) -> list[tuple]:
        self.entered.set()
        if not self.released.wait(REPLY_TIMEOUT_S):
            raise RuntimeError(f"{HOLD} was never released")
        return [(HOLD, 1)]

    def release(self) -> None:
        self.released.set()


class Holds:
    """The handler registered at :data:`HOLD` (once per engine): runs the current test's
    :class:`Hold`."""

    def __init__(self) -> None:
        self.current = Hold()

    def __call__(self) -> list[tuple]:
        return self.current()


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = Engine(load_config())
    attach(
        engine,
        patches=tmp_path_factory.mktemp("patches"),
        recordings=tmp_path_factory.mktemp("recordings"),
    )
    return engine


@pytest.fixture(scope="module")
def holds(engine):
    """:data:`HOLD` and :data:`WHERE` registered on the module's engine."""
    holds = Holds()
    table = ControlTable()
    table.add(HOLD, (), "blocks the lane handling it until the test releases it", holds, query=True)
    table.add(
        WHERE,
        (),
        "its value is the name of the thread reading it",
        lambda: None,
        get=lambda: (threading.current_thread().name,),
    )
    for control in table:
        engine.registry.add(control)
    return holds


@pytest.fixture
def hold(holds):
    """A fresh :class:`Hold` behind :data:`HOLD`, released at the end whatever happens, so no
    lane stays blocked."""
    hold = holds.current = Hold()
    yield hold
    hold.release()


@pytest.fixture
def server(engine, hold):
    with OscServer(engine, OscConfig(port=0)) as server:
        yield server


class Client:
    """A UDP peer on loopback, on a port of its own."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(REPLY_TIMEOUT_S)
        self.target = ("127.0.0.1", port)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def receive(self, until: str) -> list[OscMessage]:
        """Replies up to and including the first whose address is ``until``."""
        replies = [OscMessage(self.sock.recvfrom(65536)[0])]
        while replies[-1].address != until:
            replies.append(OscMessage(self.sock.recvfrom(65536)[0]))
        return replies

    def ask(self, address: str, *args) -> OscMessage:
        self.send(encode_message(address, args))
        return self.receive(address)[-1]

    def wait_errors(self, count: int) -> None:
        """Read this client's replies until ``count`` ``/error`` answers have come: each bad
        datagram is counted before its answer is sent."""
        seen = 0
        while seen < count:
            try:
                seen += OscMessage(self.sock.recvfrom(65536)[0]).address == "/error"
            except TimeoutError:
                pytest.fail(f"{seen} /error answers of {count} came", pytrace=False)

    def hold(self, hold: Hold) -> None:
        """Send :data:`HOLD` and return once this client's lane is blocked in it."""
        self.send(encode_message(HOLD, ()))
        assert hold.entered.wait(REPLY_TIMEOUT_S), "the lane never ran the held query"

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def clients(server):
    made: list[Client] = []

    def make() -> Client:
        made.append(Client(server.port))
        return made[-1]

    yield make
    for client in made:
        client.close()


def _status(reply: OscMessage) -> dict:
    flat = list(reply.params)
    return dict(zip(flat[::2], flat[1::2]))


def test_a_query_is_answered_while_another_clients_flood_waits(server, hold, clients):
    flooder, quiet = clients(), clients()
    flooder.hold(hold)
    before = dict(server.counters)
    flood = 100
    for k in range(flood):
        flooder.send(MALFORMED[k % len(MALFORMED)])
    status = _status(quiet.ask("/engine/status"))  # read after the flood, in the kernel's order
    assert status["osc_malformed"] == before["osc_malformed"]  # none of the flood handled yet
    hold.release()
    flooder.wait_errors(flood)
    assert server.counters["osc_malformed"] - before["osc_malformed"] == flood
    assert server.counters["osc_errors_answered"] - before["osc_errors_answered"] == flood
    assert server.counters["osc_dropped"] == before["osc_dropped"]


def test_quick_queries_are_answered_at_once_and_in_each_clients_order(server, hold, clients):
    client, fence = clients(), clients()
    reply = client.ask("/engine/get", WHERE)
    assert list(reply.params) == [WHERE, "caminos-osc"]  # the receiving thread: nothing queued
    client.hold(hold)
    client.send(encode_message("/engine/get", (WHERE,)))  # behind the held query on its lane
    fence.ask("/engine/status")  # read after the /engine/get: that one is queued by now
    hold.release()
    replies = client.receive("/engine/get")
    assert [r.address for r in replies] == [HOLD, "/engine/get"]
    assert list(replies[-1].params) == [WHERE, "caminos-osc-lane"]


def test_a_lane_holding_too_much_drops_its_own_clients_datagrams_counted(engine, hold):
    bad = MALFORMED[0]
    kept, dropped = 5, 7
    limit = (
        len(encode_message(HOLD, ())) + DATAGRAM_OVERHEAD + kept * (len(bad) + DATAGRAM_OVERHEAD)
    )
    with OscServer(engine, OscConfig(port=0), lane_bytes=limit) as server:
        flooder, quiet = Client(server.port), Client(server.port)
        try:
            flooder.hold(hold)
            for _ in range(kept + dropped):
                flooder.send(bad)
            for _ in range(3):  # a well-behaved client is never dropped
                assert quiet.ask("/engine/get", "/latent/follow").params[0] == "/latent/follow"
            assert server.counters["osc_dropped"] == dropped  # read before the quiet queries
            assert server.counters["osc_malformed"] == 0
            hold.release()
            flooder.wait_errors(kept)
            assert server.counters["osc_malformed"] == kept
            assert server.counters["osc_dropped"] == dropped
        finally:
            flooder.close()
            quiet.close()


def test_a_lane_must_hold_at_least_one_datagram(engine):
    with pytest.raises(ValueError, match="lane_bytes"):
        OscServer(engine, OscConfig(port=0), lane_bytes=DATAGRAM_OVERHEAD)


@pytest.mark.parametrize("batched", [True, False])
def test_the_reader_gives_every_datagram_in_order_with_its_sender(batched):
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as one,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as two,
    ):
        for bound in (sock, one, two):
            bound.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sent = []
        for k in range(RECEIVE_BATCH + 36):
            peer = (one, two)[k % 3 == 0]
            data = bytes([k % 256]) * (k % 50) if k != 7 else b"x" * 65507  # the largest
            peer.sendto(data, sock.getsockname())
            sent.append((data, peer.getsockname()))
        reader = DatagramReader(sock, batched=batched)
        got = []
        while len(got) < len(sent):
            assert select.select([sock], [], [], REPLY_TIMEOUT_S)[0], "a datagram never came"
            read = reader.read()
            assert len(read) <= RECEIVE_BATCH
            got += read
        assert got == sent
        assert reader.read() == []


def test_the_reader_refuses_a_socket_it_cannot_read():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as stream:
        with pytest.raises(ValueError, match="IPv4 UDP socket"):
            DatagramReader(stream)
