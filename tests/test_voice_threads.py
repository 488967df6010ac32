"""A field's phase recovery on several threads (engine.phase_threads): the same samples."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from caminos.engine.clock.engine import Engine
from caminos.engine.clock.voice_threads import VoiceThreads
from caminos.engine.core.config import load_config
from caminos.engine.core.errors import ConfigError
from tests.test_field import DEMO, start_file


def test_every_voice_runs_once_a_hop_in_contiguous_groups() -> None:
    threads = VoiceThreads(7, 3, "test")
    try:
        assert [list(g) for g in threads.groups] == [[0, 1], [2, 3, 4], [5, 6]]
        for _ in range(50):
            seen: list[tuple[int, str]] = []
            lock = threading.Lock()

            def job(voice: int) -> None:
                with lock:
                    seen.append((voice, threading.current_thread().name))

            threads.run(job)
            assert sorted(v for v, _ in seen) == list(range(7))
            names = {v: name for v, name in seen}
            assert names[0] == names[1] == threading.current_thread().name  # the hop's own
            assert names[2] == names[4] == "caminos-test-1" and names[6] == "caminos-test-2"
    finally:
        threads.close()


def test_a_helpers_error_is_raised_on_the_hops_thread_and_the_next_hop_runs() -> None:
    threads = VoiceThreads(4, 2, "test")
    try:

        def failing(voice: int) -> None:
            if voice == 3:
                raise ValueError("voice 3 failed")

        with pytest.raises(ValueError, match="voice 3 failed"):
            threads.run(failing)
        done = []
        threads.run(done.append)
        assert sorted(done) == [0, 1, 2, 3]
    finally:
        threads.close()


def test_helpers_start_at_the_first_hop_and_close_ends_them_idempotently() -> None:
    threads = VoiceThreads(3, 3, "closing")
    assert not [t for t in threading.enumerate() if t.name.startswith("caminos-closing-")]
    threads.run(lambda voice: None)
    helpers = [t for t in threading.enumerate() if t.name.startswith("caminos-closing-")]
    assert len(helpers) == 2
    threads.close()
    threads.close()
    assert not any(t.is_alive() for t in helpers)
    with pytest.raises(RuntimeError, match="after close"):
        threads.run(lambda voice: None)


def test_one_thread_or_one_voice_starts_no_helper() -> None:
    before = threading.active_count()
    for voices, count in ((4, 1), (1, 4)):
        threads = VoiceThreads(voices, count, "alone")
        assert threads.threads == 1 and threading.active_count() == before
        done = []
        threads.run(done.append)
        assert done == list(range(voices))


def _render(threads: int) -> np.ndarray:
    engine = Engine(
        load_config(
            overrides={
                "audio.channels": 4,
                "field.layout": "ring-4",
                "field.spread": 1.0,
                "field.decorrelate": 1.0,
                "field.wander": 0.3,
                "engine.phase_threads": threads,
            }
        ),
        voice=False,
    )
    try:
        assert (engine.phase_threads is None) == (threads == 1)
        start_file(engine, DEMO)
        blocks = []
        for hop in range(240):
            if hop == 100:  # a method switch: each voice crossfades on its own thread
                engine.post("/phase/method", "rtpghi")
            blocks.append(engine.tick().copy())
        return np.concatenate(blocks)
    finally:
        engine.close()


def test_a_field_sounds_the_same_bit_for_bit_on_one_or_several_threads() -> None:
    one = _render(1)
    assert np.abs(one).max() > 0.01
    assert np.array_equal(_render(2), one)
    assert np.array_equal(_render(4), one)


def test_an_engine_built_and_never_ticked_holds_no_helper_thread() -> None:
    before = {t.ident for t in threading.enumerate()}
    engine = Engine(
        load_config(
            overrides={"audio.channels": 4, "field.layout": "ring-4", "engine.phase_threads": 4}
        ),
        voice=False,
    )
    try:
        assert engine.phase_threads is not None and engine.phase_threads.threads == 4
        assert not [t for t in threading.enumerate() if t.ident not in before]
    finally:
        engine.close()


def test_phase_threads_out_of_range_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="engine.phase_threads"):
        load_config(overrides={"engine.phase_threads": 0})
