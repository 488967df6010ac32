"""The control surface's composition root: every control beyond the engine's core in one call.

:func:`attach` wires navigation, scenes, score recording, the queries and MIDI learn onto one
:class:`caminos.engine.clock.engine.Engine`; nothing else in the control layer builds or wires
subsystems. It sits between the engine and its players (the OSC server, ``caminos play``'s
control process, ``caminos render --score`` through :func:`render_score_file`): whatever plays
an engine attaches the same controls, so a score recorded live replays offline and
``docs/osc.md`` lists what a performer can send.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from caminos.engine.clock.engine import Engine
from caminos.engine.control.group_render import render_in_groups, voice_groups
from caminos.engine.control.midi_map import MidiMap
from caminos.engine.control.navigation import Navigator
from caminos.engine.control.queries import query_controls
from caminos.engine.control.scenes import SceneBank
from caminos.engine.control.voice_paths import VoicePaths
from caminos.engine.control.score import ScoreRecorder, render_score
from caminos.engine.core.config import progress_disable
from caminos.engine.core.errors import CaminosError
from caminos.engine.core.layouts import field_layout
from caminos.engine.dsp.audio_io import check_output_format, write_audio_atomic


@dataclass(frozen=True)
class Surface:
    """What :func:`attach` added to an engine."""

    navigator: Navigator
    scenes: SceneBank
    recorder: ScoreRecorder
    voice_paths: VoicePaths | None
    midi: MidiMap


def attach(
    engine: Any, patches: str | Path | None = None, recordings: str | Path | None = None
) -> Surface:
    """Register landmarks, paths, the 2-D map, scenes, recording, the queries and the MIDI
    mappings (``/midi/*``, read from ``midi.json`` when first used) on ``engine``.

    Parameters
    ----------
    engine : Engine
        A freshly built engine.
    patches : path, optional
        Folder holding ``paths/``, ``scenes/`` and ``midi.json``; default ``[paths] patches``
        of the engine's configuration.
    recordings : path, optional
        Where ``/engine/record`` writes; default ``[paths] recordings``.
    """
    paths = engine.config.paths
    folder = Path(patches) if patches is not None else paths.folder("patches")
    navigator = Navigator(engine, folder / "paths")
    _register(engine, navigator.controls())
    engine.hop_hooks.append(navigator.on_hop)
    engine.extra_status.append(navigator.status)
    voice_paths = None
    if not engine.mono:  # one voice per channel: each may play a path of its own
        voice_paths = VoicePaths(engine, navigator)
        _register(engine, voice_paths.controls())
        engine.hop_hooks.append(voice_paths.on_hop)
    scenes = SceneBank(engine, folder / "scenes")
    _register(engine, scenes.controls())
    engine.hop_hooks.append(scenes.on_hop)
    recorder = ScoreRecorder(
        engine, recordings if recordings is not None else paths.folder("recordings")
    )
    _register(engine, recorder.controls())
    engine.recorders.append(recorder.on_event)
    engine.output_hooks.append(recorder.on_output)
    engine.extra_status.append(recorder.status)
    recorder.state_before.append(navigator.definitions)
    recorder.state_after.append(navigator.transport)
    _register(engine, query_controls(engine))
    midi = MidiMap(engine.registry, folder)
    _register(engine, midi.controls())
    return Surface(navigator, scenes, recorder, voice_paths, midi)


def attach_osc(engine: Any, server: Any) -> None:
    """Wire an OSC server onto ``engine``: on an engine without the surface, :func:`attach`
    first (every address of ``docs/osc.md``); the server's counters in the status; its
    ``/osc/reply_port`` (once per engine, whatever the number of servers)."""
    engine.extra_status.append(server.status)
    if "/engine/list" not in engine.registry:
        attach(engine)
    if "/osc/reply_port" not in engine.registry:
        _register(engine, server.controls())


def attach_midi(engine: Any, midi: Any) -> None:
    """Wire a MIDI input (:class:`caminos.engine.control.midi.MidiInput`) onto ``engine``: its
    counters in the status."""
    engine.extra_status.append(midi.status)


def _register(engine: Any, controls: Any) -> None:
    for control in controls:
        engine.registry.add(control)


def render_score_file(
    score_path: str | Path,
    out_path: str | Path,
    config: Any,
    seconds: float | None = None,
    jobs: int = 1,
    progress: bool | None = None,
) -> str:
    """``caminos render --score SCORE -o OUT``: a fresh engine replays the score into a file.

    With ``jobs`` above 1 (0: one per core), the field's voices are rendered in that many
    processes, each a group of the room's channels, and limited together here
    (:mod:`~caminos.engine.control.group_render`): the same samples, sooner where cores are
    free. The mono layout renders in one process.

    ``progress``: a progress bar on stderr (True) or none (False); ``None`` shows one on a
    terminal when ``render.progress`` is set and the render is at least 5 s of sound.

    Returns
    -------
    str
        One line: what was written, its length, the real-time factor and the processes used.

    Raises
    ------
    AudioFileError
        ``out_path`` cannot hold the engine's channels in ``render.subtype`` (a ``.flac`` of
        more than 8 channels, an unknown extension, a missing folder): refused before the
        score is replayed.
    ParameterError
        ``jobs`` out of 0 .. 64.
    """
    check_output_format(out_path, config.audio.channels, config.render.subtype)  # before the work
    groups = voice_groups(config, jobs)
    started = time.perf_counter()
    bar = _ScoreProgress(config, progress)
    try:
        if len(groups) > 1:
            samples = render_in_groups(
                score_path, config, seconds, groups, render_group_to_file, bar.update
            )
        else:
            samples = _replay(score_path, config, seconds, bar.update, limit=True)
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    sample_rate = config.audio.sample_rate
    mask = None
    if Path(out_path).suffix.lower() == ".wav":
        mask = field_layout(config)[0].output_mask(config.audio.channels)
    write_audio_atomic(out_path, samples, sample_rate, config.render.subtype, channel_mask=mask)
    length = len(samples) / sample_rate
    processes = f", {len(groups)} processes" if len(groups) > 1 else ""
    return (
        f"{out_path}: {length:.2f} s from {score_path} "
        f"({length / max(elapsed, 1e-9):.1f}x real time{processes})"
    )


def _replay(
    score_path: str | Path,
    config: Any,
    seconds: float | None,
    on_progress: Callable[[int, int], None],
    limit: bool,
) -> np.ndarray:
    """A fresh engine for ``config`` (with the safety limiter or, for one group of a room,
    without it) and the surface replay the score; returns its samples (hops * hop, channels)."""
    # no start-up events: the score holds them
    engine = Engine(config, startup_events=False, limit=limit)
    attach(engine)
    try:
        return render_score(score_path, engine, seconds, on_progress)
    finally:
        engine.close()


class _ScoreProgress:
    """A progress bar in seconds of sound, fed ``update(hops_done, hops)``; opened once the
    score's length is known, under the rule of file renders (:func:`progress_disable`)."""

    def __init__(self, config: Any, progress: bool | None) -> None:
        self.hop_seconds = config.stft.hop / config.audio.sample_rate
        self.render = config.render
        self.progress = progress
        self.hidden = False
        self.bar: tqdm | None = None

    def update(self, done: int, hops: int) -> None:
        if self.hidden:
            return
        if self.bar is None:
            disable = progress_disable(self.render, hops * self.hop_seconds, self.progress)
            if disable is True:
                self.hidden = True
                return
            self.bar = tqdm(
                total=round(hops * self.hop_seconds, 2),
                desc="render score",
                unit="s",
                disable=disable,
                leave=False,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s "
                "[{elapsed}<{remaining}]",
            )
        self.bar.n = round(done * self.hop_seconds, 2)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def render_group_to_file(
    score_path: str | Path, config: Any, seconds: float | None, out_path: str, connection: Any
) -> None:
    """One process of :func:`render_score_file` with ``jobs``: a fresh engine for one channel
    group (``config``'s ``field.first_channel`` and ``field.voices``), without the limiter,
    replays the score; its samples are saved to ``out_path`` (:func:`numpy.save`) and
    ``("done", "")`` sent on ``connection``, or the error's class name and message."""
    try:
        samples = _replay(
            score_path,
            config,
            seconds,
            lambda done, hops: connection.send(("progress", done, hops)),
            limit=False,
        )
        np.save(out_path, samples)
    except CaminosError as exc:
        connection.send((type(exc).__name__, str(exc)))
    except KeyboardInterrupt:  # Ctrl-C reaches every process of the terminal: the parent says it
        return
    else:
        connection.send(("done", ""))
    finally:
        connection.close()
