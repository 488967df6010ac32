"""The machine shared between the workers of ``pytest -n``: real-time tests play alone.

The live JACK tests (``tests/test_live_jack.py``, the ``xdist_group("real-time")``) play in real
time and count the hops the engine was late with. On a 2-core machine the other worker's tests
(training, renders: torch on both cores) slow every tick through the shared caches and memory:
under a torch load the 30 s play's tick p99 went from 3.0 to 4.2 ms of a 5.33 ms hop, and
full suites failed live tests with 3 to 6 underruns that the same tests, alone, never had. A
user's machine plays caminos without a test suite beside it; so a real-time test holds the
machine alone, and the others wait for it.

A readers-writer lock across the workers' processes, on two files (``flock``): every other test
holds the main file shared; a real-time test holds it exclusively. A real-time test waiting for
the lock first takes the gate, which every test passes through before it takes its shared hold,
so tests that keep starting on the other worker cannot keep it waiting forever.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REAL_TIME_GROUP = "real-time"  # the xdist group of the tests that play in real time
GATE = "machine-gate.lock"
MAIN = "machine.lock"


@contextmanager
def _locked(path: Path, mode: int) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def sharing(folder: Path) -> Iterator[None]:
    """Hold the machine shared with the other workers' ordinary tests (waits while a real-time
    test holds it or waits for it)."""
    with _locked(folder / GATE, fcntl.LOCK_EX):
        fd = os.open(folder / MAIN, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        yield
    finally:
        os.close(fd)


@contextmanager
def alone(folder: Path) -> Iterator[None]:
    """Hold the machine alone: waits until every test running on the other workers has ended;
    none starts until this one ends."""
    with _locked(folder / GATE, fcntl.LOCK_EX), _locked(folder / MAIN, fcntl.LOCK_EX):
        yield
