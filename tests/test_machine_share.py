"""The lock that lets a real-time test hold the machine alone (tests/machine_share.py)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tests.machine_share import GATE, MAIN, alone, sharing


def _can_lock(path: Path, mode: int) -> bool:
    """Whether another holder could take ``path`` in ``mode`` now (without waiting)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_ordinary_tests_share_the_machine_and_keep_a_real_time_test_waiting(tmp_path: Path) -> None:
    with sharing(tmp_path):
        assert _can_lock(tmp_path / MAIN, fcntl.LOCK_SH)  # another worker's test starts too
        assert not _can_lock(tmp_path / MAIN, fcntl.LOCK_EX)  # a real-time test waits
        assert _can_lock(tmp_path / GATE, fcntl.LOCK_EX)  # the gate is passed, not held
    assert _can_lock(tmp_path / MAIN, fcntl.LOCK_EX)


def test_a_real_time_test_holds_the_machine_alone(tmp_path: Path) -> None:
    with alone(tmp_path):
        assert not _can_lock(tmp_path / MAIN, fcntl.LOCK_SH)
        assert not _can_lock(tmp_path / GATE, fcntl.LOCK_EX)  # no test starts meanwhile
    assert _can_lock(tmp_path / MAIN, fcntl.LOCK_SH) and _can_lock(tmp_path / GATE, fcntl.LOCK_EX)
