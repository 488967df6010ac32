"""The doorbell the audio callback rings for the hop clock (engine/live/doorbell.py): rings wake
one wait and are cleared by it, across a spawned process, with an eventfd or a pipe, and ringing
allocates nothing. Through JACK: every test of tests/test_live_jack.py plays with it."""

from __future__ import annotations

import multiprocessing
import os
import tracemalloc

import pytest

from caminos.engine.live.doorbell import DRAIN_BYTES, Doorbell


@pytest.fixture(params=["eventfd", "pipe"])
def bell(request, monkeypatch: pytest.MonkeyPatch):
    """A doorbell of each kind this machine can make (the pipe is what macOS gets)."""
    if request.param == "eventfd" and not hasattr(os, "eventfd"):
        pytest.skip("no eventfd here")
    if request.param == "pipe":
        monkeypatch.delattr(os, "eventfd", raising=False)
    bell = Doorbell()
    yield bell
    bell.close()


def test_a_ring_wakes_one_wait_and_many_rings_wake_one(bell: Doorbell) -> None:
    assert not bell.wait(0.0)
    bell.ring()
    assert bell.wait(10.0)
    assert not bell.wait(0.0)  # the wait cleared it
    for _ in range(3 * DRAIN_BYTES + 5):  # more than one read of the pipe takes
        bell.ring()
    assert bell.wait(10.0)
    assert not bell.wait(0.0)


def test_a_bell_never_rung_for_a_long_while_still_rings_without_error(bell: Doorbell) -> None:
    for _ in range(100_000):  # past a pipe's 64 KB: the bell is ringing already
        bell.ring()
    assert bell.wait(10.0) and not bell.wait(0.0)


def test_ringing_allocates_nothing(bell: Doorbell) -> None:
    bell.ring()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(1000):
            bell.ring()
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert peak < 256, peak  # tracemalloc's own bookkeeping at most
    assert bell.wait(10.0)


def _ring_when_told(bell: Doorbell, go, done) -> None:
    go.wait(30)
    bell.ring()
    done.wait(30)
    bell.close()


def test_a_spawned_process_rings_the_bell_handed_to_it(bell: Doorbell) -> None:
    """As the supervisor hands it to the audio and DSP processes: in the spawn arguments."""
    context = multiprocessing.get_context("spawn")
    go, done = context.Event(), context.Event()
    child = context.Process(target=_ring_when_told, args=(bell, go, done))
    child.start()
    try:
        assert not bell.wait(0.0)
        go.set()
        assert bell.wait(30.0)  # the deadline only bounds a failing test
    finally:
        done.set()
        child.join(30)
    assert child.exitcode == 0


def test_the_benchmark_sets_the_doorbell_beside_polling(capsys: pytest.CaptureFixture) -> None:
    """benchmarks/doorbell.py: both modes measured in one run, then their ratios."""
    from benchmarks.doorbell import main

    assert main(["--seconds", "0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:3]}
    assert set(rows) == {"poll", "doorbell"}
    assert all(int(row[0]) > 0 for row in rows.values())  # hops seen by each
    assert lines[3].startswith("doorbell / poll: p50 ")
