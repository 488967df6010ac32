"""A stage's voices split over helper threads, one hop at a time.

A field's phase recovery is half of a hop at eight voices, one compiled kernel per voice that
releases the GIL (``nogil``), each voice with its own state. So with more cores than the
audio needs, the voices can be cut into contiguous groups: the hop's own thread runs the
first group, one helper thread each of the others, all from the same buffers, and the hop goes
on when every group is done. The samples are those of one thread, bit for bit: no voice reads
another's state, and every voice runs the same code in the same order.

The helpers start at the first hop, so an engine built and never ticked (the control process's
replica, a score's check before a live run) holds no thread. The hand-off is two plain locks
per helper and hop, used as signals (the hop's thread releases a
helper's ``go``, the helper releases its ``done``), in the DSP process, never in the audio
callback; a helper sleeps on its ``go`` between hops and spends no CPU there. (A
``threading.Barrier``, written in Python over a condition, took about 50 us a hand-off here.)
"""

from __future__ import annotations

import threading
from typing import Callable


class VoiceThreads:
    """Runs a job for every voice of a hop, the voices in contiguous groups, one per thread.

    Parameters
    ----------
    voices : int
        Voices of the engine.
    threads : int
        Threads in all, the hop's own included (at most one per voice; 1: no helper).
    name : str
        The stage's name, in the helper threads' names.
    """

    def __init__(self, voices: int, threads: int, name: str) -> None:
        threads = max(1, min(int(threads), int(voices)))
        bounds = [round(i * voices / threads) for i in range(threads + 1)]
        self.groups = tuple(range(bounds[i], bounds[i + 1]) for i in range(threads))
        self.name = name
        self._job: Callable | None = None
        self._per_group = False
        self._error: BaseException | None = None
        self._stopping = False
        self._helpers: list[tuple[threading.Thread, threading.Lock, threading.Lock]] = []

    def _start_helpers(self) -> None:
        """One helper thread per group after the first, each waiting on its ``go`` lock."""
        for index, group in enumerate(self.groups[1:], start=1):
            go, done = threading.Lock(), threading.Lock()
            go.acquire()
            done.acquire()
            helper = threading.Thread(
                target=self._serve,
                args=(group, go, done),
                name=f"caminos-{self.name}-{index}",
                daemon=True,
            )
            helper.start()
            self._helpers.append((helper, go, done))

    @property
    def threads(self) -> int:
        """Threads that run the voices, the hop's own included."""
        return len(self.groups)

    def run(self, job: Callable[[int], None]) -> None:
        """Call ``job(voice)`` for every voice, the groups at once; return when all are done.

        An exception in a helper's group is raised here, once every group has finished.
        """
        self._run(job, False)

    def run_groups(self, job: Callable[[range], None]) -> None:
        """Call ``job(group)`` once for every group of voices (a ``range``), the groups at once;
        return when all are done (a job that pushes its group's voices in one call)."""
        self._run(job, True)

    def _run(self, job: Callable, per_group: bool) -> None:
        if self._stopping:
            raise RuntimeError("VoiceThreads.run after close")
        if len(self.groups) == 1:
            _play(job, per_group, self.groups[0])
            return
        if not self._helpers:
            self._start_helpers()
        self._job, self._per_group = job, per_group
        for _, go, _ in self._helpers:
            go.release()
        try:
            _play(job, per_group, self.groups[0])
        finally:
            for _, _, done in self._helpers:
                done.acquire()
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _serve(self, group: range, go: threading.Lock, done: threading.Lock) -> None:
        while True:
            go.acquire()
            if self._stopping:
                return
            try:
                _play(self._job, self._per_group, group)
            except BaseException as exc:  # handed to the hop's thread, which raises it
                self._error = exc
            done.release()

    def close(self) -> None:
        """Let the helper threads end and wait for them (between hops); idempotent."""
        if self._stopping:
            return
        self._stopping = True
        for helper, go, _ in self._helpers:
            go.release()
            helper.join()


def _play(job: Callable, per_group: bool, group: range) -> None:
    """``job(group)``, or ``job(voice)`` for every voice of the group."""
    if per_group:
        job(group)
        return
    for voice in group:
        job(voice)
