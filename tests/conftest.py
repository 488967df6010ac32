"""Shared fixtures: a seeded random generator, sound-file writers, the default configuration."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
import soundfile as sf

from engine.config import Config, load_config

SAMPLE_RATE = 48_000  # Hz, the default of config.toml


def sine(frequency_hz: float, seconds: float, sample_rate: int = SAMPLE_RATE,
         amplitude: float = 0.5) -> np.ndarray:
    """A sine wave, float64 of ``round(seconds * sample_rate)`` samples."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return amplitude * np.sin(2 * np.pi * frequency_hz * t)


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

    def write(name: str, samples: np.ndarray, sample_rate: int = SAMPLE_RATE,
              subtype: str = "FLOAT") -> Path:
        path = tmp_path / name
        sf.write(path, samples, sample_rate, subtype=subtype)
        return path

    return write


@pytest.fixture
def sine_file(write_sound: Callable[..., Path]) -> Path:
    """One second of a 440 Hz sine at -6 dBFS, mono, 48 kHz, float samples."""
    return write_sound("sine.wav", sine(440.0, 1.0))


@contextmanager
def ticking(engine) -> Iterator[list[bool]]:
    """Tick ``engine`` in a thread as fast as it goes while the block runs; yields a list that
    gets, per hop, whether every output sample was finite."""
    stop = threading.Event()
    finite: list[bool] = []

    def render() -> None:
        while not stop.is_set():
            finite.append(bool(np.isfinite(engine.tick()).all()))

    thread = threading.Thread(target=render)
    thread.start()
    try:
        yield finite
    finally:
        stop.set()
        thread.join()
