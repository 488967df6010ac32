"""A doorbell from the audio process to the hop clock: rung after every block the callback takes.

The DSP process computes a hop whenever the output ring has room for one (and the input ring
holds one). Before, with nothing to do, it slept an eighth of a hop and looked again: 1,500
wake-ups a second at 48 kHz and hop 256, each costing a core a few microseconds, and a hop
started up to 0.67 ms after room appeared. Now the audio callback rings after it has read its
block from the output ring (and written its input), and the DSP process, with nothing to do,
sleeps until the bell rings or a timeout passes (it still checks the stop flag then).

Ringing is one non-blocking write to a file descriptor the callback holds: on Linux an eventfd (a
kernel counter: rings add up and one wait clears them; it cannot fill in practice, 2**64 - 2
rings); elsewhere a pipe, whose full buffer (the DSP process not waiting for a long while) only
means the bell is already ringing. Nothing is allocated and nothing can block in the callback.
The bell crosses into the spawned processes with the process setup (its descriptor is handed to
each child as a connection's is).
"""

from __future__ import annotations

import os
import select
from multiprocessing import reduction

DRAIN_BYTES = 4096  # what one read takes from the pipe's rings (one byte a ring)


class Doorbell:
    """Rung by one process, waited on by another.

    Create it before spawning the processes that share it, and pass it to them in their
    arguments.
    """

    def __init__(self) -> None:
        if hasattr(os, "eventfd"):
            self._read_fd = self._write_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:  # a pipe: macOS and the BSDs
            self._read_fd, self._write_fd = os.pipe()
            os.set_blocking(self._read_fd, False)
            os.set_blocking(self._write_fd, False)
        self._poll: select.poll | None = None

    def ring(self) -> None:
        """Ring: wake the waiting process (or let its next wait return at once). For the audio
        callback: one non-blocking write."""
        try:
            if self._read_fd == self._write_fd:
                os.eventfd_write(self._write_fd, 1)
            else:
                os.write(self._write_fd, b"\x01")
        except BlockingIOError:  # the pipe is full: the bell rings already
            pass

    def wait(self, timeout_s: float) -> bool:
        """Wait until the bell has rung since the last wait, or ``timeout_s`` seconds pass;
        clears the rings. Returns whether it had rung."""
        if self._poll is None:
            self._poll = select.poll()
            self._poll.register(self._read_fd, select.POLLIN)
        if not self._poll.poll(max(0, round(1000 * timeout_s))):
            return False
        try:
            if self._read_fd == self._write_fd:
                os.eventfd_read(self._read_fd)
            else:
                while len(os.read(self._read_fd, DRAIN_BYTES)) == DRAIN_BYTES:
                    pass
        except BlockingIOError:  # another wait took the rings first
            pass
        return True

    def close(self) -> None:
        """Close this process's descriptors (the others keep theirs)."""
        os.close(self._read_fd)
        if self._write_fd != self._read_fd:
            os.close(self._write_fd)

    def __reduce__(self):
        """Pickled for a spawned child: its descriptors travel as a connection's do."""
        single = self._read_fd == self._write_fd  # an eventfd
        write = None if single else reduction.DupFd(self._write_fd)
        return (_attach, (reduction.DupFd(self._read_fd), write))


def _attach(read, write) -> Doorbell:
    """The doorbell in a child process, from the descriptors handed to it (``write`` None:
    one eventfd for both)."""
    bell = Doorbell.__new__(Doorbell)
    bell._read_fd = read.detach()
    bell._write_fd = bell._read_fd if write is None else write.detach()
    bell._poll = None
    return bell
