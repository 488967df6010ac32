"""The control process's side of live playing: events prepared in one process, applied at their
hop in another (engine/live/control_process.py, engine/live/events.py), with the real pipe,
shared memory and engines."""

from __future__ import annotations

import multiprocessing as mp
import os

import numpy as np
import pytest

from caminos.engine.clock.engine import Engine
from caminos.engine.control.surface import attach
from caminos.engine.core.errors import ControlError
from caminos.engine.core.ring import SharedCounters
from caminos.engine.live.shared import AUDIO_COUNTERS, CONTROL_FLAGS, DSP_COUNTERS, FRONT_COUNTERS
from caminos.engine.live.control_process import ControlSetup, build_replica
from caminos.engine.live.events import (
    PIPE_ATOMIC_BYTES,
    SHM_DIR,
    EventReceiver,
    decode_event,
    encode_event,
)


def test_large_arrays_travel_through_shared_memory_and_are_freed() -> None:
    here, there = mp.Pipe(duplex=False)
    samples = np.random.default_rng(0).standard_normal((3, 40_000))
    data, shared = encode_event(
        12, "/x", (1, "a"), {"samples": samples, "small": np.ones(3)}, False
    )
    assert len(shared) == 1 and len(data) < 2_000  # the big array is not in the pickle
    assert (SHM_DIR / shared[0]).exists()
    there.send_bytes(data)
    hop, address, args, payload, local = decode_event(here.recv_bytes())
    assert (hop, address, args, local) == (12, "/x", (1, "a"), False)
    np.testing.assert_array_equal(payload["samples"], samples)
    np.testing.assert_array_equal(payload["small"], np.ones(3))
    assert not (SHM_DIR / shared[0]).exists()  # mapped, then unlinked by the receiver


def test_a_long_event_goes_through_a_file_so_the_pipe_never_holds_half_of_one() -> None:
    payload = [np.full(500, float(i)) for i in range(20)]  # 80 KB in arrays below SHARE_BYTES
    data, shared = encode_event(3, "/y", (), payload, False)
    assert len(data) <= PIPE_ATOMIC_BYTES and len(shared) == 1
    hop, _, _, again, _ = decode_event(data)
    assert hop == 3 and all(np.array_equal(a, b) for a, b in zip(again, payload))
    assert not (SHM_DIR / shared[0]).exists()


@pytest.fixture(scope="module")
def linked(request):
    """A replica (the control process's engine) whose posts reach a real engine through a
    pipe, as in caminos play, both in this process."""
    from caminos.engine.core.config import load_config

    config = load_config()
    receive, send = mp.Pipe(duplex=False)
    dsp, audio, front, flags = (
        SharedCounters(DSP_COUNTERS),
        SharedCounters(AUDIO_COUNTERS),
        SharedCounters(FRONT_COUNTERS),
        SharedCounters(CONTROL_FLAGS),
    )
    front["pid"] = float(os.getpid())  # as the control process publishes it
    engine = Engine(config, voice=False)
    attach(engine)
    setup = ControlSetup(
        config, config.audio.channels, dsp.name, audio.name, "", front.name, voice=False
    )
    replica = build_replica(setup, send, front, dsp, audio, flags)
    yield replica, engine, EventReceiver(receive, engine), dsp, audio
    for shared in (dsp, audio, front, flags):
        shared.close()


def test_events_reach_the_engine_and_apply_at_their_hop(linked, sine_file) -> None:
    replica, engine, receiver, _, _ = linked
    start = engine.hop_index
    replica.post("/latent/axis", 2, 1.5, hop=start + 3)
    replica.post("/source/file/open", str(sine_file))  # the file is read here, by the replica
    assert receiver.receive() == 2
    engine.tick()
    assert engine.player.file is not None and engine.player.file.n_samples == 48_000
    assert engine.mixer.offset_target[2] == 0.0
    engine.tick()
    engine.tick()
    assert engine.mixer.offset_target[2] == 0.0
    engine.tick()  # hop start + 3
    assert engine.mixer.offset_target[2] == 1.5


def test_a_control_naming_what_does_not_exist_is_refused_before_the_hop_clock(linked) -> None:
    replica, engine, receiver, _, _ = linked
    applied, errors = engine.counters["events_applied"], engine.counters["control_errors"]
    for address, args in [
        ("/path/play", ("nowhere",)),
        ("/latent/plane", ("a", "b", "c")),
        ("/scene/recall", (77, 1.0)),
        ("/path/landmark", ("p", "missing")),
    ]:
        with pytest.raises(ControlError, match=address):
            replica.post(address, *args)
    assert receiver.receive() == 0
    replica.post("/landmark/point", "here", 1.0, -1.0)
    replica.post("/path/new", "walk")
    replica.post("/path/landmark", "walk", "here")
    replica.post("/path/play", "walk")
    assert receiver.receive() == 4
    engine.tick()
    assert engine.counters["events_applied"] == applied + 4
    assert engine.counters["control_errors"] == errors  # the hop clock refused nothing
    assert engine.mixer.path_active


def test_status_and_clock_come_from_the_engines_processes(linked) -> None:
    replica, _, _, dsp, audio = linked
    dsp["hops"] = 1234
    dsp["pid"] = 42
    audio["xruns"] = 3
    audio["underruns"] = 2
    status = replica.status()
    assert status["hop"] == 1234 and status["xruns"] == 3 and status["underruns"] == 2
    assert status["dsp_pid"] == 42 and status["osc_pid"] == os.getpid()
    assert replica.hop_for_time(1000.0) == -1  # no clock yet
    dsp["clock_origin"] = 1000.0
    assert replica.hop_for_time(1000.0 + 10 * 256 / 48000 + 1e-6) == 10


def test_voice_requests_that_cannot_speak_are_refused_before_the_hop_clock() -> None:
    from caminos.engine.core.config import load_config

    config = load_config()
    receive, send = mp.Pipe(duplex=False)
    blocks = [
        SharedCounters(names)
        for names in (DSP_COUNTERS, AUDIO_COUNTERS, FRONT_COUNTERS, CONTROL_FLAGS)
    ]
    dsp, audio, front, flags = blocks
    try:
        setup = ControlSetup(config, 2, dsp.name, audio.name, "", front.name, voice=True)
        replica = build_replica(setup, send, front, dsp, audio, flags)
        for address, args in [
            ("/voice/say", ("",)),
            ("/voice/say", ("   ",)),
            ("/voice/mix", ("zz:1",)),
            ("/voice/mix", ("es:x",)),
            ("/voice/mix", ("es:0",)),
        ]:
            with pytest.raises(ControlError, match=address):
                replica.post(address, *args)
        assert not receive.poll()
        replica.post("/voice/mix", "es:1,fr:0.5")
        replica.post("/voice/say", "hola")
        assert replica.get("/voice/mix") == ("es:1,fr:0.5",)
        assert EventReceiver(receive, Engine(config, voice=False)).receive() == 2
    finally:
        for block in blocks:
            block.close()


def test_a_burst_of_events_is_taken_a_few_per_hop(linked) -> None:
    from caminos.engine.live.events import EVENTS_PER_HOP

    replica, engine, receiver, _, _ = linked
    for i in range(EVENTS_PER_HOP + 4):
        replica.post("/latent/noise", 0.01 * i)
    assert receiver.receive() == EVENTS_PER_HOP  # the rest wait: no hop is made late by a burst
    assert receiver.receive() == 4
    engine.tick()
    assert engine.mixer.noise.target == pytest.approx(0.01 * (EVENTS_PER_HOP + 3))


def test_events_left_at_shutdown_leave_no_files_behind(linked, sine_file) -> None:
    replica, engine, receiver, _, _ = linked
    before = set(SHM_DIR.glob("caminos-*"))
    replica.post("/source/file/open", str(sine_file))  # its samples travel through /dev/shm
    replica.post("/phase/method", "rtpghi")  # a long event: through a file too
    assert len(set(SHM_DIR.glob("caminos-*")) - before) >= 2
    assert receiver.drain() == 2
    assert set(SHM_DIR.glob("caminos-*")) - before == set()


def test_a_gesture_recorded_live_is_a_path_on_both_sides(linked) -> None:
    """The replica is never ticked; it records gestures as events arrive, so /path/play of a
    path drawn on the control page (or sent over OSC) is not refused."""
    replica, engine, receiver, dsp, _ = linked
    dsp["hops"] = 90
    replica.post("/path/record", "drawn")
    for i, x in enumerate((0.2, 0.4, 0.6, 0.8)):
        dsp["hops"] = 100 + 10 * i
        replica.post("/latent/xy", x, 0.5)
    replica.post("/path/record/stop")
    replica.post("/path/play", "drawn")  # refused before the fix: no path named 'drawn'
    mine = replica.surface.navigator.paths["drawn"]
    # from the hop recording started to the hop after the last gesture (the end point)
    assert len(mine.points) >= 4 and mine.seconds == pytest.approx(41 * 256 / 48000)
    while receiver.receive(limit=1):  # one event a hop, as a drawing hand sends them
        engine.tick()
    navigator = engine.hop_hooks[0].__self__
    assert "drawn" in navigator.paths and navigator.playing
