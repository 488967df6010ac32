"""Every control beyond the engine's core in one call: navigation, scenes, scores, queries.

Sits between :class:`caminos.engine.clock.engine.Engine` and its players (the OSC server, ``caminos play``,
``caminos render --score``): whatever plays an engine attaches the same controls, so a score
recorded live replays offline and ``docs/osc.md`` lists what a performer can send.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from caminos.engine.control.navigation import Navigator
from caminos.engine.control.osc import register_queries
from caminos.engine.control.scenes import SceneBank
from caminos.engine.control.score import ScoreRecorder


@dataclass(frozen=True)
class Surface:
    """What :func:`attach` added to an engine."""

    navigator: Navigator
    scenes: SceneBank
    recorder: ScoreRecorder


def attach(engine: Any, patches: str | Path | None = None,
           recordings: str | Path | None = None) -> Surface:
    """Register landmarks, paths, the 2-D map, scenes, recording and the queries on ``engine``.

    Parameters
    ----------
    engine : Engine
        A freshly built engine.
    patches : path, optional
        Folder holding ``paths/`` and ``scenes/``; default ``[paths] patches`` of the engine's
        configuration.
    recordings : path, optional
        Where ``/engine/record`` writes; default ``[paths] recordings``.
    """
    paths = engine.config.paths
    folder = Path(patches) if patches is not None else paths.folder("patches")
    navigator = Navigator(engine, folder / "paths")
    scenes = SceneBank(engine, folder / "scenes")
    recorder = ScoreRecorder(engine, recordings if recordings is not None
                             else paths.folder("recordings"))
    recorder.state_before.append(navigator.definitions)
    recorder.state_after.append(navigator.transport)
    register_queries(engine)
    return Surface(navigator, scenes, recorder)
