"""Waiting in tests on what the code under test (or a peer) exposes, never on a sleep.

Each wait wakes on an event and checks its condition again: a reply over OSC
(:func:`until_answered`), a line another process prints (:class:`Lines`), a file written in a
folder (:class:`FolderChanges`, Linux's inotify), or, in process, a hop the engine renders
(:class:`tests.conftest.Rendered`). The deadline of each wait only bounds a failing test; a
passing one returns as soon as its condition holds, so the suite runs no slower than the code.
"""

from __future__ import annotations

import ctypes
import os
import select
import threading
import time
from pathlib import Path
from typing import IO, Callable, TypeVar

import pytest

T = TypeVar("T")

# inotify(7): the events of a watched folder that mean a file in it has new contents
IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x002, 0x008, 0x080, 0x100


def timed_out(what: str, timeout_s: float, detail: str = "") -> None:
    """Fail the test: ``what`` did not happen within ``timeout_s`` seconds."""
    pytest.fail(
        f"timed out after {timeout_s:g} s waiting for {what}" + (f"\n{detail}" if detail else ""),
        pytrace=False,
    )


def until_answered(ask: Callable[[], T], timeout_s: float, what: str) -> T:
    """Ask again until the answer is true, and return it.

    ``ask`` must block until the code under test answers (a query over OSC and its reply, a
    subprocess that runs to its end): the answers set the pace, with nothing slept between them.
    Fails the test, naming ``what``, when ``timeout_s`` seconds pass first.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        answer = ask()
        if answer:
            return answer
        if time.monotonic() >= deadline:
            timed_out(what, timeout_s, f"the last answer: {answer!r}")


class Lines:
    """The lines another process writes to a text stream, collected by a thread as they come.

    Waits wake at each line and when the stream ends.

    Parameters
    ----------
    stream : text file
        The process's stdout (``text=True``), read to its end.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self.ended = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                with self._changed:
                    self.lines.append(line)
                    self._changed.notify_all()
        finally:
            with self._changed:
                self.ended = True
                self._changed.notify_all()

    def wait(self, find: Callable[[list[str]], T], timeout_s: float) -> T | None:
        """What ``find`` returns from the lines so far once it is true, or None when
        ``timeout_s`` seconds pass or the stream ends first."""
        found = None

        def ready() -> bool:
            nonlocal found
            found = find(self.lines)
            return bool(found) or self.ended

        with self._changed:
            self._changed.wait_for(ready, timeout_s)
        return found or None

    def wait_until(self, find: Callable[[list[str]], T], timeout_s: float, what: str) -> T:
        """:meth:`wait`, failing the test (naming ``what``, with the lines) if nothing is found."""
        found = self.wait(find, timeout_s)
        if not found:
            ended = "the stream ended; " if self.ended else ""
            timed_out(what, timeout_s, f"{ended}its lines:\n" + "".join(self.lines))
        return found

    def wait_for_text(self, text: str, timeout_s: float) -> str:
        """The first line that holds ``text``, printed or to be printed within ``timeout_s``."""
        return self.wait_until(
            lambda lines: next((line for line in lines if text in line), None),
            timeout_s,
            f"a line with {text!r}",
        )

    def join(self, timeout_s: float) -> None:
        """Wait for the reading thread, which ends with the stream."""
        self._thread.join(timeout_s)


class FolderChanges:
    """Wakes whenever a file in ``folder`` is created, written, closed or moved in (inotify).

    For what another process only shows through files: a recording growing hop by hop, a score
    being written. Use as a context manager (it holds a file descriptor).
    """

    def __init__(self, folder: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        mask = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
        if libc.inotify_add_watch(fd, os.fsencode(folder), mask) < 0:
            error = ctypes.get_errno()
            os.close(fd)
            raise OSError(error, f"inotify_add_watch failed on {folder}")
        self._fd = fd

    def wait_until(self, check: Callable[[], T], timeout_s: float, what: str) -> T:
        """Check after every change in the folder until ``check`` returns something true, and
        return it; fail the test, naming ``what``, when ``timeout_s`` seconds pass first."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = check()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out(what, timeout_s)
            readable, _, _ = select.select([self._fd], [], [], left)
            if readable:
                self._drain()

    def _drain(self) -> None:
        try:
            while os.read(self._fd, 65536):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> FolderChanges:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
