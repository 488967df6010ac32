"""Property tests: random and malformed packets never escape, never change the sound's finiteness,
and every bad one is answered."""

from __future__ import annotations

import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage

from caminos.engine.clock.engine import Engine
from caminos.engine.control.osc.messages import encode_message
from caminos.engine.control.osc.server import OscServer
from caminos.engine.control.surface import attach
from caminos.engine.core.config import OscConfig, load_config
from tests.conftest import ticking

SENDER = ("127.0.0.1", 40000)


@pytest.fixture(scope="module")
def rendering(tmp_path_factory):
    """An engine ticking in a thread, and a server (not bound: packets go to handle())."""
    engine = Engine(load_config())
    attach(
        engine,
        patches=tmp_path_factory.mktemp("patches"),
        recordings=tmp_path_factory.mktemp("recordings"),
    )
    server = OscServer(engine, OscConfig(port=0))
    with ticking(engine) as finite:
        yield engine, server, finite
    assert all(finite)


ADDRESSES = st.sampled_from(
    [
        "/latent/axis",
        "/latent/z",
        "/latent/xy",
        "/latent/follow",
        "/out/gain",
        "/path/speed",
        "/path/interp",
        "/scene/store",
        "/phase/iterations",
        "/nowhere",
        "/latent",
        "/",
        "//x",
    ]
)
VALUES = st.one_of(
    st.integers(-(2**31), 2**31 - 1), st.floats(width=32), st.text(max_size=12), st.booleans()
)
MESSAGES = st.tuples(ADDRESSES, st.lists(VALUES, max_size=20))


def _errors(replies):
    return sum(OscMessage(data).address == "/error" for data, _ in replies)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200))
def test_random_bytes_are_answered_never_raised(rendering, data):
    engine, server, _ = rendering
    before = engine.counters["control_errors"]
    replies = server.handle(data, SENDER)  # raises nothing, by the property
    errors = _errors(replies)
    assert engine.counters["control_errors"] - before == errors


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    messages=st.lists(MESSAGES, min_size=1, max_size=5), timed=st.booleans(), cut=st.integers(0, 64)
)
def test_random_messages_and_bundles_are_answered_or_applied(rendering, messages, timed, cut):
    engine, server, _ = rendering
    packets = []
    for address, args in messages:
        try:
            packets.append(encode_message(address, args))
        except Exception:
            continue
    if not packets:
        return
    if timed:
        builder = OscBundleBuilder(0)
        for p in packets:
            builder.add_content(OscMessage(p))
        packets = [builder.build().dgram]
    if cut:  # truncate the last packet: malformed on purpose
        packets[-1] = packets[-1][: max(len(packets[-1]) - cut, 0)]
    for data in packets:
        before = engine.counters["control_errors"]
        replies = server.handle(data, SENDER)
        assert engine.counters["control_errors"] - before == _errors(replies)


def test_the_engine_kept_rendering(rendering):
    """The hops rendered beside the fuzz were finite; the ticking thread, which competes for the
    GIL with the fuzzing one, is waited for until it has rendered 20 hops (its hop count)."""
    engine, server, finite = rendering
    assert finite.wait_for(20, timeout=120.0)  # the ticking thread's own count of hops
    assert len(finite) >= 20 and all(finite)
    assert server.counters["osc_internal_errors"] == 0
    assert engine.status()["nonfinite_out"] == 0


@pytest.fixture(scope="module")
def bound(rendering):
    engine, _, _ = rendering
    with OscServer(engine, OscConfig(port=0)) as server:
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.bind(("127.0.0.1", 0))
        client.settimeout(2.0)
        yield engine, server, client
        client.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.one_of(
        st.binary(max_size=120),
        st.tuples(ADDRESSES, st.lists(VALUES, max_size=6)).map(lambda m: _encode_or_garbage(*m)),
    )
)
def test_over_loopback_every_bad_packet_is_answered(bound, data):
    """Random datagrams over real UDP, then a query as a fence: the /error replies before the
    fence's answer are exactly the errors counted for the datagram."""
    engine, server, client = bound
    before = server.counters["osc_errors_answered"]
    client.sendto(data, ("127.0.0.1", server.port))
    client.sendto(encode_message("/engine/get", ("/latent/follow",)), ("127.0.0.1", server.port))
    errors = 0
    while True:
        reply = OscMessage(client.recvfrom(65536)[0])
        if reply.address == "/engine/get":
            break
        assert reply.address == "/error" and isinstance(reply.params[1], str)
        errors += 1
    assert server.counters["osc_errors_answered"] - before == errors
    assert server.receiving


def _encode_or_garbage(address, args):
    try:
        return encode_message(address, args)
    except Exception:
        return b"\x00garbage"
