"""Shared fixtures: a seeded random generator, sound-file writers, the default configuration."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
import soundfile as sf

from caminos.engine.core.config import Config, load_config
from tests.machine_share import REAL_TIME_GROUP, alone, sharing
from tests.waiting import timed_out

SAMPLE_RATE = 48_000  # Hz, the default of config.toml


def sine(
    frequency_hz: float, seconds: float, sample_rate: int = SAMPLE_RATE, amplitude: float = 0.5
) -> np.ndarray:
    """A sine wave, float64 of ``round(seconds * sample_rate)`` samples."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return amplitude * np.sin(2 * np.pi * frequency_hz * t)


@pytest.fixture(scope="session", autouse=True)
def own_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``$XDG_CACHE_HOME`` for this run (and every process it starts): the caches caminos keeps
    there (frames, hop models) neither come from nor fill the developer's own."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        yield folder


@pytest.fixture(autouse=True)
def machine_share(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Under ``pytest -n``, a real-time test holds the machine alone and every other test shares
    it (:mod:`tests.machine_share`); in one process, nothing to share."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    folder = tmp_path_factory.getbasetemp().parent  # the same for every worker of the run
    group = request.node.get_closest_marker("xdist_group")
    real_time = group is not None and REAL_TIME_GROUP in group.args
    with alone(folder) if real_time else sharing(folder):
        yield


@pytest.fixture
def rng() -> np.random.Generator:
    """A random generator seeded the same in every test."""
    return np.random.default_rng(1234)


@pytest.fixture
def config() -> Config:
    """The project's ``config.toml`` (its defaults)."""
    return load_config()


@pytest.fixture
def write_sound(tmp_path: Path) -> Callable[..., Path]:
    """Write samples to a sound file in the test's folder; returns its path.

    Call as ``write_sound("name.wav", samples, sample_rate=48000, subtype="FLOAT")``; samples of
    shape (n,) or (n, channels).
    """

    def write(
        name: str, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, subtype: str = "FLOAT"
    ) -> Path:
        path = tmp_path / name
        sf.write(path, samples, sample_rate, subtype=subtype)
        return path

    return write


@pytest.fixture
def sine_file(write_sound: Callable[..., Path]) -> Path:
    """One second of a 440 Hz sine at -6 dBFS, mono, 48 kHz, float samples."""
    return write_sound("sine.wav", sine(440.0, 1.0))


class Rendered(list):
    """Per hop rendered, whether every output sample was finite; :meth:`wait_for` waits on the
    count (the rendering thread notifies each hop)."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def add(self, finite: bool) -> None:
        with self.changed:
            self.append(finite)
            self.changed.notify_all()

    def wait_for(self, hops: int, timeout: float) -> bool:
        """Whether ``hops`` hops were rendered within ``timeout`` seconds."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self) >= hops, timeout)

    def wait_until(self, check: Callable[[], object], timeout_s: float, what: str) -> object:
        """Check after every hop rendered until ``check`` returns something true (the engine's
        values change at the start of a hop), and return it; fail the test, naming ``what``,
        when ``timeout_s`` seconds pass first."""
        value = None

        def ready() -> bool:
            nonlocal value
            value = check()
            return bool(value)

        with self.changed:
            if not self.changed.wait_for(ready, timeout_s):
                timed_out(what, timeout_s)
        return value


@contextmanager
def ticking(engine) -> Iterator[Rendered]:
    """Tick ``engine`` in a thread as fast as it goes while the block runs; yields a
    :class:`Rendered` that gets, per hop, whether every output sample was finite."""
    stop = threading.Event()
    finite = Rendered()

    def render() -> None:
        while not stop.is_set():
            finite.add(bool(np.isfinite(engine.tick()).all()))

    thread = threading.Thread(target=render)
    thread.start()
    try:
        yield finite
    finally:
        stop.set()
        thread.join()


POSITIONS = frozenset({"/source/file/pos", "/path/pos"})  # they move by themselves


def control_values(engine) -> dict[str, tuple]:
    """The value of every control that has one (positions aside), to restore later
    (:func:`restore`)."""
    return {
        c.address: tuple(c.get())
        for c in engine.registry
        if c.get is not None and c.address not in POSITIONS
    }


def restore(engine, values: dict[str, tuple], surface=None) -> None:
    """Bring an engine that tests share back to the state ``values`` were taken in: controls at
    those values, no events waiting, hop 0, and (with the ``surface`` attached to it) no
    landmarks, paths, path playing, recording of gestures or stored scenes; so a test sees the
    state it sets up, not what the previous test left."""
    engine.queue.clear()
    for control in engine.registry:
        value = values.get(control.address)
        if value is None or control.get is None or tuple(control.get()) == value:
            continue
        if control.address == "/source/file/open":
            engine.player.file = None  # no file: nothing to prepare
        elif control.prepare is not None:
            control.apply(control.prepare(*value))
        else:
            control.apply(*value)
    if surface is not None:
        surface.navigator.clear()
        surface.scenes.clear()
    engine.reset()
    engine.mixer.reset()


def restore_by_events(
    engine, values: dict[str, tuple], rendered: Rendered, timeout_s: float = 5.0
) -> None:
    """:func:`restore` for an engine that a thread is ticking, counting its hops in ``rendered``:
    the values are posted as events (prepared here, applied at the start of the next hop) and
    this waits two hops, by which every one of them has been applied, then checks they were."""
    waiting = []
    for control in engine.registry:
        value = values.get(control.address)
        if value is None or control.get is None or control.address == "/source/file/open":
            continue
        if tuple(control.get()) != value:
            engine.post(control.address, *value)
            waiting.append((control, value))
    if waiting:
        # A hop under way when the events were posted may have taken its events already; the
        # one after it applies them.
        hops = len(rendered) + 2
        assert rendered.wait_for(hops, timeout_s), f"the engine did not reach hop {hops}"
    left = [(c.address, tuple(c.get()), v) for c, v in waiting if tuple(c.get()) != v]
    assert not left, f"the engine did not apply the restore: {left}"
