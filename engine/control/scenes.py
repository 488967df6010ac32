"""Scenes: the whole control state stored in numbered slots and recalled with a crossfade.

Part of latent navigation (docs/architecture.md). ``/scene/store i`` takes the value of every
control that has one (``Control.get``: latent offsets, follow, noise, gains, phase method, path
speed ...); ``/scene/recall i f`` moves every numeric control from where it is to the stored value
linearly over ``f`` seconds (one step per hop, through a hop hook; each control's own smoothing
then removes the steps), and sets the others (integers, strings) at once. Controls that need slow
work (opening a file, building a phase method) are prepared in the posting thread. Scenes save
to and load from ``patches/scenes/NAME.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from caminos.engine.control.patch_files import (
    PATCHES_FOLDER,
    file_for,
    file_to_read,
    read_json,
    write_json,
)
from caminos.engine.core.controls import Arg, Control, ControlTable
from caminos.engine.core.errors import ControlError

SLOTS = 128
# Positions move by themselves; recalling them would jump a playing file or path backwards.
NOT_STORED = frozenset({"/source/file/pos", "/path/pos"})
FILE_VERSION = 1


def _numeric(control: Control) -> bool:
    return bool(control.args) and all(a.kind == "f" for a in control.args)


class SceneBank:
    """Numbered scenes of one engine and the crossfade that recalls them.

    Parameters
    ----------
    engine : Engine
        Whose registry is stored and recalled; :meth:`controls` and :meth:`on_hop` are wired
        onto it by :func:`caminos.engine.control.surface.attach`.
    folder : path, optional
        Where ``/scene/save`` and ``/scene/load`` go; default ``patches/scenes``.
    """

    def __init__(self, engine: Any, folder: str | Path | None = None) -> None:
        self.engine = engine
        self.folder = Path(folder) if folder is not None else PATCHES_FOLDER / "scenes"
        self.slots: dict[int, dict[str, tuple]] = {}
        self._fades: list[tuple[Control, tuple, tuple, list]] = []  # start, end, now
        self._fade_start = 0.0
        self._fade_hops = 0

    def clear(self) -> None:
        """No stored scene and no fade running."""
        self.slots.clear()
        self._fades = []

    def controls(self) -> ControlTable:
        """The ``/scene/*`` controls, as data."""
        table = ControlTable()
        add = table.add
        slot = Arg("scene", "i", 0, SLOTS - 1)
        add(
            "/scene/store",
            (slot,),
            "store the value of every control in a scene",
            self.store,
            group="scene",
        )
        add(
            "/scene/recall",
            (slot, Arg("seconds", "f", 0.0, 600.0, "s")),
            "recall a scene: numeric controls crossfade over the given seconds, others switch at "
            "once",
            self.recall,
            group="scene",
            prepare=self._prepare_recall,
        )
        add(
            "/scene/save",
            (slot, Arg("name", "s")),
            "write a stored scene to patches/scenes/NAME.json; answers /scene/save s (file)",
            self._save,
            group="scene",
            query=True,
        )
        add(
            "/scene/load",
            (slot, Arg("name", "s")),
            "read patches/scenes/NAME.json into a scene "
            "(a file that fails to parse is reported with its line; nothing changes)",
            self._store,
            group="scene",
            prepare=self._load,
        )
        return table

    def _store(self, loaded: tuple[int, dict[str, tuple]]) -> None:
        slot, scene = loaded
        self.slots[slot] = scene

    def snapshot(self) -> dict[str, tuple]:
        """The current value of every control that has one (except positions)."""
        return {
            c.address: tuple(c.get())
            for c in self.engine.registry
            if c.get is not None and c.address not in NOT_STORED
        }

    def store(self, slot: int) -> None:
        """Store the current state in ``slot`` (DSP thread)."""
        self.slots[slot] = self.snapshot()

    def _prepare_recall(self, slot: int, seconds: float) -> tuple[int, float, dict[str, Any]]:
        """Prepare the slow controls (file, phase method) whose stored value differs from now."""
        prepared: dict[str, Any] = {}
        for address, values in self.slots.get(slot, {}).items():
            if address not in self.engine.registry:
                continue
            control = self.engine.registry[address]
            if control.prepare is None or control.get is None or tuple(control.get()) == values:
                continue
            if control.address == "/source/file/open" and not values[0]:
                continue
            prepared[address] = control.prepare(*values)
        return slot, seconds, prepared

    def recall(self, made: tuple[int, float, dict[str, Any]]) -> None:
        """Start recalling a scene (DSP thread): discrete controls now, numeric ones fade."""
        slot, seconds, prepared = made
        scene = self.slots.get(slot)
        if scene is None:
            raise ControlError(f"/scene/recall: scene {slot} is empty (/scene/store it first)")
        registry = self.engine.registry
        fades = []
        for address, target in scene.items():
            if address not in registry or registry[address].get is None:
                continue
            control = registry[address]
            now = tuple(control.get())
            if now == target:
                continue
            if _numeric(control) and len(now) == len(target):
                fades.append((control, now, target, list(now)))
            elif control.prepare is not None:
                if address in prepared:
                    control.apply(prepared[address])
            else:
                control.apply(*target)
        if not self.engine.clock.ticked:  # an engine never ticked lands on the scene at once,
            for control, start, end, _ in fades:  # on the values the hop clock's last step
                control.apply(*(a + (b - a) for a, b in zip(start, end)))  # reaches
            fades = []
        self._fades = fades
        self._fade_start = float(self.engine.hop_index)
        self._fade_hops = max(round(seconds * self.engine.sample_rate / self.engine.hop), 1)

    def on_hop(self, hop: int) -> None:
        """One step of a running crossfade (DSP thread)."""
        if not self._fades:
            return
        # (floats, not ints: a hop number is an int over 256, an object made; the quotient is
        # the same, both numbers exact)
        u = (hop - self._fade_start + 1.0) / self._fade_hops
        if u > 1.0:  # (not min(): it iterates its arguments, an object made)
            u = 1.0
        fades, k = self._fades, 0
        while k < len(fades):  # (no iterator: nothing allocated on the hop)
            control, start, end, values = fades[k]
            k += 1
            if len(start) == 1:  # most controls: one value
                control.apply(start[0] + u * (end[0] - start[0]))
                continue
            i = 0  # more (a point, a latent vector): into the fade's own list, no generator
            while i < len(values):
                values[i] = start[i] + u * (end[i] - start[i])
                i += 1
            control.apply(*values)
        if u >= 1.0:
            self._fades = []

    def _save(self, slot: int, name: str) -> list[tuple]:
        scene = self.slots.get(slot)
        if scene is None:
            raise ControlError(f"/scene/save: scene {slot} is empty")
        path = file_for(self.folder, "/scene/save", name, ".json")
        write_json(
            path,
            "/scene/save",
            {
                "caminos": "scene",
                "version": FILE_VERSION,
                "name": name,
                "controls": {k: list(v) for k, v in scene.items()},
            },
        )
        return [("/scene/save", str(path))]

    def _load(self, slot: int, name: str) -> tuple[int, dict[str, tuple]]:
        path = file_to_read(self.folder, "/scene/load", name, ".json")
        data = read_json(path, "/scene/load", "scene")
        controls = data.get("controls")
        if not isinstance(controls, dict):
            raise ControlError(
                f'/scene/load: {path}: expected a "controls" table of address: [values]'
            )
        scene = {}
        for address, values in controls.items():
            if not isinstance(values, list):
                raise ControlError(f"/scene/load: {path}: {address}: expected a list of values")
            try:
                scene[address] = self.engine.registry.validate(address, values)
            except ControlError as exc:
                raise ControlError(f"/scene/load: {path}: {exc}") from None
        return slot, scene
