"""Control registry and queue: validation names the fault, events apply at their hop in order."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caminos.engine.core.controls import Arg, Control, ControlQueue, ControlRegistry
from caminos.engine.core.errors import ControlError


def _control(address: str = "/x", *args: Arg) -> Control:
    return Control(address, args, "test control", lambda *a: None)


def test_validate_converts_and_names_each_fault() -> None:
    control = _control("/latent/axis", Arg("axis", "i", 0, 15), Arg("offset", "f", -8, 8, "std"))
    assert control.validate((3, 1)) == (3, 1.0)
    assert control.validate((3.0, 0.5)) == (3, 0.5)  # Pd sends integers as floats
    cases = {
        (3,): "expected 2 argument(s)",
        (3.5, 0.0): "argument 1 (axis): expected an integer",
        (16, 0.0): "argument 1 (axis): 16 is out of range [0, 15]",
        (0, math.nan): "argument 2 (offset): expected a finite number",
        (0, "loud"): "argument 2 (offset): expected float",
        (True, 0.0): "expected int",
    }
    for args, message in cases.items():
        with pytest.raises(ControlError, match=r"^/latent/axis: ") as info:
            control.validate(args)
        assert message in str(info.value)


def test_strings_with_choices_and_repeated_arguments() -> None:
    control = _control("/phase/method", Arg("method", "s", choices=("pv", "rtpghi")))
    assert control.validate(("pv",)) == ("pv",)
    with pytest.raises(ControlError, match="expected one of pv, rtpghi"):
        control.validate(("gla",))
    z = _control("/latent/z", Arg("offset", "f", -8, 8, repeat=True))
    assert z.validate((1, 2, 3)) == (1.0, 2.0, 3.0)
    assert z.type_tags == "f…"
    with pytest.raises(ControlError, match="at least 1"):
        z.validate(())


def test_registry_refuses_unknown_and_duplicate_addresses() -> None:
    registry = ControlRegistry()
    registry.add(_control("/a"))
    with pytest.raises(ValueError, match="twice"):
        registry.add(_control("/a"))
    with pytest.raises(ControlError, match="^/b: unknown address"):
        registry.validate("/b", ())
    with pytest.raises(ValueError):
        _control("no-slash")


def test_queue_applies_due_events_in_hop_then_posting_order() -> None:
    queue = ControlQueue()
    queue.post("/late", (), hop=5)
    queue.post("/now1", ())
    queue.post("/past", (), hop=0)
    queue.post("/now2", ())
    now = queue.due(2)
    assert [e.address for e in now] == ["/now1", "/past", "/now2"]
    assert all(e.hop == 2 for e in now)  # immediate and past events land on this hop
    assert queue.due(2) == []  # taken once
    assert queue.due(4) == []
    due = queue.due(5)
    assert [(e.address, e.hop) for e in due] == [("/late", 5)]
    assert queue.pending() == 0


def test_queue_capacity_refuses_instead_of_growing() -> None:
    queue = ControlQueue(capacity=3)
    for _ in range(3):
        queue.post("/a", ())
    with pytest.raises(ControlError, match="queue full"):
        queue.post("/a", ())
    assert queue.refused == 1


def test_posting_from_threads_loses_nothing() -> None:
    queue = ControlQueue()

    def flood(name: str) -> None:
        for i in range(2000):
            queue.post(name, (i,))

    threads = [threading.Thread(target=flood, args=(f"/t{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    got = []
    while any(t.is_alive() for t in threads) or queue.pending():
        got.extend(queue.due(0))
    for t in threads:
        t.join()
    got.extend(queue.due(0))
    assert len(got) == 8000
    for k in range(4):  # each thread's events keep their order
        mine = [e.args[0] for e in got if e.address == f"/t{k}"]
        assert mine == list(range(2000))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(-(10**6), 10**6),
            st.floats(allow_nan=True),
            st.text(max_size=5),
            st.booleans(),
            st.binary(max_size=4),
        ),
        max_size=4,
    )
)
def test_validation_raises_only_control_errors(args: list) -> None:
    control = _control("/p", Arg("a", "i", 0, 10), Arg("b", "f", -1, 1))
    try:
        values = control.validate(args)
    except ControlError:
        return
    assert isinstance(values[0], int) and 0 <= values[0] <= 10
    assert math.isfinite(values[1]) and -1 <= values[1] <= 1
