"""A score rendered by several processes at once, each playing a group of the room's voices.

``caminos render --score SCORE --jobs N`` splits the voices of a field (one per output channel)
into ``N`` contiguous channel groups, the way several machines share one room
(``field.first_channel``, ``field.voices``), and renders each group in a process of its own
from the same score. Every group renders exactly its columns of the whole room (a voice's seeds
follow its room channel, the sources' rows are sized by the room, the encoder and the decoder
multiply row by row), up to the output's safety limiter, which links all the channels: so the
groups render without it (``Engine(limit=False)``), and this process joins their columns and
runs the one limiter over the room, hop by hop, as a single engine would. The file is the one a
single process writes, sample for sample (tested). The voices' own work (decode, texture, phase
recovery) divides among the processes; what every voice shares (the sources, their encode, a
multichannel source's image) each process repeats.

The mono layout (one voice copied to every channel) is one group whatever ``N``.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from caminos.engine.core import errors
from caminos.engine.core.config import Config
from caminos.engine.core.errors import CaminosError, ParameterError
from caminos.engine.core.layouts import default_layout_name, field_layout
from caminos.engine.dsp.output import OutputChain

MAX_JOBS = 64  # processes at most (one voice each at 64 channels)


@dataclasses.dataclass(frozen=True)
class VoiceGroup:
    """One group of a room's voices: ``count`` output channels from column ``start`` of this
    caminos's output (counted from 0), which are the room's speakers from ``first_channel``
    (counted from 1)."""

    start: int
    count: int
    first_channel: int

    @property
    def stop(self) -> int:
        """The column after the group's last."""
        return self.start + self.count

    def describe(self) -> str:
        """``channels 3-4`` (the room's speakers, from 1)."""
        last = self.first_channel + self.count - 1
        if last == self.first_channel:
            return f"channel {last}"
        return f"channels {self.first_channel}-{last}"


def voice_groups(config: Config, jobs: int) -> list[VoiceGroup]:
    """The channel groups of ``config``'s output for ``jobs`` processes (0: one per core of
    this machine): contiguous, sizes differing by one at most, never more groups than voices;
    one group with the mono layout.

    Raises
    ------
    ParameterError
        ``jobs`` below 0 or above :data:`MAX_JOBS`.
    ConfigError
        The field's layout does not fit the output (:func:`field_layout`).
    """
    if not 0 <= int(jobs) <= MAX_JOBS:
        raise ParameterError(f"--jobs {jobs}: expected 1 to {MAX_JOBS} processes (0: one per core)")
    jobs = int(jobs) or min(os.cpu_count() or 1, MAX_JOBS)
    layout, first, voices = field_layout(config)
    channels = config.audio.channels
    if layout.name == "mono":
        return [VoiceGroup(0, channels, first + 1)]
    n_groups = min(int(jobs), voices)
    base, extra = divmod(voices, n_groups)
    groups, start = [], 0
    for g in range(n_groups):
        count = base + (1 if g < extra else 0)
        groups.append(VoiceGroup(start, count, first + 1 + start))
        start += count
    return groups


def group_config(config: Config, group: VoiceGroup) -> Config:
    """``config`` for the process that renders ``group``: the same room (layout, field, score),
    ``field.first_channel`` and ``field.voices`` set to the group and ``audio.channels`` to its
    size. The default layout (``field.layout = ""``, chosen by the channel count) is named, since
    a group's channel count is not the room's."""
    layout = config.field.layout or default_layout_name(config.audio.channels)
    field = dataclasses.replace(
        config.field, layout=layout, first_channel=group.first_channel, voices=group.count
    )
    audio = dataclasses.replace(config.audio, channels=group.count)
    return dataclasses.replace(config, field=field, audio=audio)


def _error_class(name: str) -> type[Exception]:
    """The caminos error class called ``name`` (a worker's error, raised again here)."""
    found = getattr(errors, name, None)
    if isinstance(found, type) and issubclass(found, CaminosError):
        return found
    return RuntimeError


def render_in_groups(
    score_path: str | Path,
    config: Config,
    seconds: float | None,
    groups: list[VoiceGroup],
    render_group: Callable[..., None],
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Render a score with one process per group, join the columns and limit them together.

    Parameters
    ----------
    score_path : path
        The score every group replays.
    config : Config
        The whole output's configuration.
    seconds : float, optional
        Length to render (:func:`caminos.engine.control.score.render_score`).
    groups : list of VoiceGroup
        From :func:`voice_groups`; they cover the output's channels in order.
    render_group : callable
        ``render_group(score_path, config, seconds, out_path, connection)``, a module-level
        function (the processes are spawned): renders the score with a fresh, unlimited engine
        for ``config`` (``Engine(limit=False)``), sends ``("progress", hops_done, hops)`` on
        ``connection`` as it goes, saves the samples (hops * hop, channels) float64 with
        :func:`numpy.save` to ``out_path`` and sends ``("done", "")``, or ``(error class name,
        message)``.
    on_progress : callable, optional
        ``on_progress(hops_done, hops)``: the slowest group's progress, as it comes.

    Returns
    -------
    ndarray, shape (n_hops * hop, channels), float64
        What one engine with every channel would have rendered.

    Raises
    ------
    CaminosError
        A group's error (a bad score line, a missing file), raised again with its message.
    RuntimeError
        A group's process ended without a result (its exit code named).
    """
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="caminos-render-") as folder:
        workers = []
        try:
            for g, group in enumerate(groups):
                receive, send = context.Pipe(duplex=False)
                path = Path(folder) / f"group{g}.npy"
                process = context.Process(
                    target=render_group,
                    args=(score_path, group_config(config, group), seconds, str(path), send),
                    name=f"caminos-render-{group.describe().replace(' ', '-')}",
                    daemon=True,
                )
                process.start()
                send.close()  # the child holds its end: a child that dies closes the pipe
                workers.append((group, process, receive, path))
            results = _collect(workers, on_progress)
        finally:
            for _, process, receive, _ in workers:
                if process.is_alive():
                    process.terminate()
                process.join()
                receive.close()
        return _join_and_limit(results, groups, config)


def _collect(
    workers: list[tuple[VoiceGroup, Any, Any, Path]], on_progress: Callable[[int, int], None] | None
) -> list[np.ndarray]:
    """Every group's samples, in the groups' order, once its process has sent them; the
    slowest group's progress passed on meanwhile; a group's error raised again."""
    results: list[np.ndarray | None] = [None] * len(workers)
    done = [0] * len(workers)
    waiting = {receive: g for g, (_, _, receive, _) in enumerate(workers)}
    while waiting:
        for receive in multiprocessing.connection.wait(list(waiting)):
            g = waiting[receive]
            group, process, _, path = workers[g]
            try:
                message = receive.recv()
            except EOFError:
                process.join()
                raise RuntimeError(
                    f"caminos render --jobs: the process rendering {group.describe()} ended "
                    f"without a result (exit code {process.exitcode})"
                ) from None
            kind = message[0]
            if kind == "progress":
                done[g] = message[1]
                if on_progress is not None:
                    on_progress(min(done), message[2])
            elif kind == "done":
                results[g] = np.load(path, mmap_mode="r")
                del waiting[receive]
            else:
                raise _error_class(kind)(message[1])
    return results  # type: ignore[return-value]


def _join_and_limit(
    results: list[np.ndarray], groups: list[VoiceGroup], config: Config
) -> np.ndarray:
    """The groups' columns side by side, limited hop by hop with the limiter a single engine
    runs (:class:`OutputChain`'s, linked across every channel)."""
    if len({len(r) for r in results}) > 1:  # every group replays the same score: never
        lengths = ", ".join(f"{g.describe()} {len(r)}" for g, r in zip(groups, results))
        raise RuntimeError(f"caminos render --jobs: groups of different lengths: {lengths}")
    n = len(results[0])
    channels = groups[-1].stop
    out = np.empty((n, channels))
    for group, samples in zip(groups, results):
        out[:, group.start : group.stop] = samples
    hop = config.stft.hop
    output = OutputChain(config.audio.sample_rate, channels, config, block=hop)
    for start in range(0, n, hop):
        output.limit(out[start : start + hop])
    return out
