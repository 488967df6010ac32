"""Latent navigation: landmarks, paths (caminos) and the 2-D map, played on the hop clock.

Feeds the latent mixer's path input (docs/architecture.md): a :class:`Navigator` registers the
``/landmark/*``, ``/path/*``, ``/latent/xy`` and ``/latent/plane`` controls on an engine and, once
per hop (an engine hop hook), writes ``engine.mixer.path_position`` (rotated latent coordinates)
and ``engine.mixer.path_active``. ``/latent/follow 0`` makes the output follow the path alone.
Landmarks are made in the posting thread (:mod:`~caminos.engine.control.landmark_making`); the
paths' geometry is :mod:`~caminos.engine.control.latent_paths`; on the DSP thread only small
arrays are touched, and the per-hop work writes into preallocated buffers.

Why this file is longer than 500 lines: the :class:`Navigator`'s store, player, recording and map
share its per-hop buffers and one table of controls (a third of the file, one argument per line as
the formatter lays them out); the paths' geometry and the making of landmarks are already modules
of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from caminos.engine.clock.latent import STD_BOUND, glide
from caminos.engine.control.landmark_making import FILE_VERSION, LandmarkMaker, rows_of
from caminos.engine.control.map_points import axes_point, plane_point
from caminos.engine.control.map_points import warm_up as warm_up_map_points
from caminos.engine.control.latent_paths import (
    INTERPOLATIONS,
    Landmark,
    LatentPath,
    hop_rate_between,
)
from caminos.engine.control.latent_paths import warm_up as warm_up_paths
from caminos.engine.control.patch_files import (
    PATCHES_FOLDER,
    file_for,
    file_to_read,
    number_rows,
    read_json,
    write_json,
)
from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.core.errors import ControlError
from caminos.engine.core.parameters import Parameter

LOOP_ONCE, LOOP_LOOP, LOOP_PINGPONG = 0, 1, 2
XY_RANGE_STD = 2.0  # /latent/xy on the axes plane: 0 .. 1 spans -2 .. +2 standard deviations
RECORD_SECONDS = 300.0  # longest gesture recording (7 MB of buffer); a longer one stops there


class Navigator:
    """Landmarks, paths, a path player, a gesture recorder and the 2-D map of one engine.

    Parameters
    ----------
    engine : Engine
        Read and driven (its mixer, registry, hop); :meth:`controls`, :meth:`on_hop` and
        :meth:`status` are wired onto it by :func:`caminos.engine.control.surface.attach`.
    folder : path, optional
        Where ``/path/save``, ``/path/load``, ``/landmark/save`` and ``/landmark/load`` read and
        write (``<folder>/<name>.json`` and ``<folder>/<name>.landmark.json``); default
        ``patches/paths``.
    """

    def __init__(self, engine: Any, folder: str | Path | None = None) -> None:
        self.engine = engine
        self.mixer = engine.mixer
        self.std = engine.mixer.std
        self.dims = engine.mixer.dims
        self.folder = Path(folder) if folder is not None else PATCHES_FOLDER / "paths"
        self.hop_seconds = engine.hop / engine.sample_rate
        self.maker = LandmarkMaker(engine, self.folder)  # landmarks made in the posting thread
        self.landmarks: dict[str, Landmark] = {}
        self.paths: dict[str, LatentPath] = {}
        self.path: LatentPath | None = None  # the one the player plays
        self.playing = False
        self.time = 0.0  # seconds along self.path
        self.direction = 1.0  # -1 on the way back of a ping-pong
        self.speed = Parameter(
            "/path/speed",
            Arg("speed", "f", -16.0, 16.0, "x"),
            "playback speed (negative plays backwards)",
            "path",
            1.0,
            smoothed=False,
        )
        self.loop = LOOP_ONCE
        self.interpolation = "linear"
        self.step_seconds = Parameter(
            "/path/step",
            Arg("seconds", "f", 0.0, 600.0, "s"),
            "time between a path's last point and the next one added",
            "path",
            1.0,
            smoothed=False,
        )
        self.xy = (0.5, 0.5)
        self.plane: tuple[str, str, str] = ("", "", "")
        self._plane_points: np.ndarray | None = None  # (3, dims): origin, x end, y end
        self._xy_active = False
        self._target = np.zeros(self.dims)
        self._previous_target = np.zeros(self.dims)
        self._wrapped = False  # the last advance wrapped a loop around
        self._jump = True
        self._started = False
        self._recording: str | None = None
        self._record_buffer = np.zeros((0, self.dims))
        self._record_count = 0
        self._record_start = 0
        self._last_recorded = np.zeros(self.dims)
        self._gesture = np.zeros(self.dims)
        # compiled now, not at the first /latent/xy or path played on the hop clock
        warm_up_map_points()
        warm_up_paths(self.dims)

    # --------------------------------------------------------------------------- per hop
    def on_hop(self, hop: int) -> None:
        """Advance the player (or follow the 2-D map) and record gestures; DSP thread.

        The path position glides to its target through the one-pole smoother
        (``engine.smoothing_ms``): jumps (a path's start, a scrub, the 2-D map, a loop's wrap)
        are smoothed. Along a sound's own trajectory (segments one hop long, as
        ``/path/landmark`` appends a landmark) the target's motion is carried exactly, the
        smoother only closing what a jump left: a landmark replays frame for frame, its attacks
        as sharp as the sound's.
        """
        along_trajectory = False
        if self.path is not None and self.playing and not self._xy_active:
            if self._started:  # the hop a path starts (or is scrubbed) sounds where it was put
                self._started = False
            else:
                before = self.time
                self._advance()
                along_trajectory = self._hop_rate_between(before, self.time)
            np.copyto(self._previous_target, self._target)  # (a slice's view is an object)
            self.path.evaluate(self.time, self.interpolation, self._target)
        if self.mixer.path_active:
            position = self.mixer.path_position
            if self._jump:
                np.copyto(position, self._target)
                self._jump = False
            else:
                if along_trajectory:
                    position += self._target
                    position -= self._previous_target
                glide(position, self._target, self.mixer.coefficient)
        if self._recording is not None:
            self._record(hop)

    def clear(self) -> None:
        """Forget every landmark and path, stop playing and recording, map on axes 0 and 1."""
        self.landmarks.clear()
        self.paths.clear()
        self.path = None
        self._stop()
        self._recording = None
        self._plane_points, self.plane = None, ("", "", "")

    # ----------------------------------------------------- for an engine that is never ticked
    def after_event(self) -> None:
        """While recording, note the gesture (if it changed) at the hop the engine's clock has
        reached, without a tick: an engine that is never ticked (the control process's
        replica) calls this after each event it applies, so a path recorded with
        ``/path/record`` exists there too (its hop clock records in :meth:`on_hop`), and
        ``/path/play`` of it is not refused. The two paths have the same name and shape; only
        the hop clock's is played."""
        if self._recording is not None:
            self._record(self.engine.clock.hops())

    def _stop_untick(self) -> None:
        """``/path/record/stop`` for an engine that is never ticked: the gesture where it is at
        the next hop becomes the path's last point even if unchanged (so the path is never
        empty), then the path is stored."""
        if self._recording is not None:
            self._last_recorded[:] = np.nan
            self._record(self.engine.clock.hops() + 1)
        self._finish_recording()

    def _hop_rate_between(self, t0: float, t1: float) -> bool:
        """True when the player moved from ``t0`` to ``t1`` seconds continuously, within
        segments one hop long (a sound's own trajectory), without a loop's wrap."""
        if self._wrapped or t0 == t1:
            return False
        return hop_rate_between(self.path.times, t0, t1, self.hop_seconds)

    def _advance(self) -> None:
        duration = self.path.seconds
        t = self.time + self.speed.value * self.direction * self.hop_seconds
        self._wrapped = False
        if duration <= 0.0:
            self.time = 0.0
            return
        if self.loop == LOOP_LOOP:
            self._wrapped = not 0.0 <= t < duration
            t %= duration
        elif self.loop == LOOP_PINGPONG:
            while t > duration or t < 0.0:
                t = 2.0 * duration - t if t > duration else -t
                self.direction = -self.direction
        elif (t >= duration and self.speed.value > 0.0) or (t <= 0.0 and self.speed.value < 0.0):
            t = min(max(t, 0.0), duration)
            self.playing = False  # holds the end point until /path/stop
        self.time = t

    def _record(self, hop: int) -> None:
        gesture = self._gesture
        np.multiply(self.mixer.offset_target, self.std, out=gesture)
        if self.mixer.path_active:
            gesture += self._target
        if self._record_count and np.array_equal(gesture, self._last_recorded):
            return
        if self._record_count >= len(self._record_buffer):
            self._finish_recording()
            return
        row = self._record_buffer[self._record_count]
        row[: self.dims] = gesture
        row[self.dims] = (hop - self._record_start) * self.hop_seconds
        self._last_recorded[:] = gesture
        self._record_count += 1

    def _finish_recording(self) -> None:
        name, count = self._recording, self._record_count
        self._recording = None
        if name is None or count == 0:
            return
        rows = self._record_buffer[:count]
        times = rows[:, self.dims] - rows[0, self.dims]
        self.paths[name] = LatentPath(name, rows[:, : self.dims].copy(), times.copy())

    # -------------------------------------------------------------------------- controls
    def controls(self) -> ControlTable:
        """The ``/landmark/*``, ``/path/*`` and ``/latent/xy|plane`` controls, as data."""
        table = ControlTable()
        add = table.add
        dims = self.dims
        std_arg = dict(lo=-STD_BOUND, hi=STD_BOUND, unit="std")
        add(
            "/landmark/add",
            (Arg("name", "s"), Arg("sound", "s")),
            "a landmark from a sound file (its latent trajectory, encoded before it reaches the "
            'hop clock), a .npz from caminos encode, or "live" (a snapshot of the current '
            "latent)",
            self._add_landmark,
            group="landmark",
            prepare=self.maker.from_sound,
        )
        add(
            "/landmark/voice",
            (Arg("name", "s"), Arg("language", "s"), Arg("text", "s")),
            "a landmark from the voice speaking the text in a language (es, en, fr, de, it, pt, "
            "ca, nl): its latent trajectory, rendered and encoded before it reaches the hop "
            'clock; text "babble:N" babbles N asemic words instead',
            self._add_landmark,
            group="landmark",
            prepare=self.maker.from_voice,
        )
        add(
            "/landmark/point",
            (Arg("name", "s"), Arg("offset", "f", repeat=True, **std_arg)),
            f"a landmark at a point given by the first N axes (N <= {dims}), in standard "
            "deviations",
            self._add_landmark,
            group="landmark",
            prepare=self.maker.from_numbers,
        )
        add(
            "/landmark/save",
            (Arg("name", "s"),),
            "write a landmark to patches/paths/NAME.landmark.json; answers /landmark/save s (file)",
            self._save_landmark,
            group="landmark",
            query=True,
        )
        add(
            "/landmark/load",
            (Arg("name", "s"),),
            "read patches/paths/NAME.landmark.json "
            "(a file that fails to parse is reported with its line; nothing changes)",
            self._add_landmark,
            group="landmark",
            prepare=self.maker.load,
        )

        add(
            "/path/new",
            (Arg("path", "s"),),
            "an empty path (replaces one of that name)",
            self._new_path,
            group="path",
        )
        add(
            "/path/point",
            (Arg("path", "s"), Arg("offset", "f", repeat=True, **std_arg)),
            f"append a point (first N axes, N <= {dims}, in standard deviations) /path/step "
            "seconds after the last",
            self._append,
            group="path",
            prepare=self._prepare_point,
        )
        add(
            "/path/landmark",
            (Arg("path", "s"), Arg("landmark", "s")),
            "append a landmark: its trajectory at its own pace (one point per hop), or its "
            "point, /path/step seconds after the last",
            self._append_landmark,
            group="path",
        )
        table.append(self.step_seconds.control())
        add(
            "/path/play",
            (Arg("path", "s"),),
            "play a path from its start (its end when the "
            "speed is negative); set /latent/follow 0 to hear the path alone",
            self._play,
            group="path",
        )
        add(
            "/path/stop",
            (),
            "stop the path; the mix returns to the sources",
            self._stop,
            group="path",
        )
        table.append(self.speed.control())
        add(
            "/path/pos",
            (Arg("position", "f", 0.0, 1.0),),
            "jump to a position along the path (0 start .. 1 end) and sound it (scrub)",
            self._scrub,
            self._position_now,
            "path",
        )
        add(
            "/path/loop",
            (Arg("mode", "i", 0, 2),),
            "0 plays once and holds the end, 1 loops, 2 ping-pongs",
            self._set_loop,
            self._loop_mode,
            "path",
        )
        add(
            "/path/interp",
            (Arg("interpolation", "s", choices=INTERPOLATIONS),),
            "interpolation between points",
            self._set_interpolation,
            self._interpolation,
            "path",
        )
        add(
            "/path/record",
            (Arg("path", "s"),),
            "record incoming gestures (/latent/axis, "
            "/latent/z, /latent/xy, a playing path) into a path, one point per changed hop",
            self._start_recording,
            group="path",
            prepare=self._prepare_recording,
        )
        add(
            "/path/record/stop",
            (),
            "stop recording; the path is ready to play",
            self._finish_recording if self.engine.clock.ticked else self._stop_untick,
            group="path",
        )
        add(
            "/path/save",
            (Arg("path", "s"),),
            "write a path to patches/paths/NAME.json; answers /path/save s (file)",
            self._save_path,
            group="path",
            query=True,
        )
        add(
            "/path/load",
            (Arg("path", "s"),),
            "read patches/paths/NAME.json (a file that "
            "fails to parse is reported with its line; nothing changes)",
            self._set_path,
            group="path",
            prepare=self._load_path,
        )

        add(
            "/latent/xy",
            (Arg("x", "f", 0.0, 1.0), Arg("y", "f", 0.0, 1.0)),
            "position on the 2-D map (the plane of /latent/plane); stops a playing path; "
            "set /latent/follow 0 to hear it alone",
            self._set_xy,
            self._xy_now,
            "latent",
        )
        add(
            "/latent/plane",
            (Arg("origin", "s"), Arg("x", "s"), Arg("y", "s")),
            "the 2-D map's plane through three landmarks (x runs origin to x, y origin to y); "
            f"three empty strings: axes 0 and 1, -{XY_RANGE_STD:g} .. +{XY_RANGE_STD:g} std",
            self._set_plane,
            self._plane_now,
            "latent",
        )
        add(
            "/latent/plane/axes",
            (),
            f"the 2-D map back on axes 0 and 1 (-{XY_RANGE_STD:g} .. "
            f"+{XY_RANGE_STD:g} std), as /latent/plane with three empty strings",
            self._plane_on_axes,
            group="latent",
        )
        return table

    # the controls' handlers
    def _prepare_point(self, name: str, *values_std: float) -> tuple:
        return name, self.maker.point_from_std(values_std)[None, :], None

    def _new_path(self, name: str) -> None:
        self._set_path(LatentPath(name, np.zeros((0, self.dims)), np.zeros(0)))

    def _position_now(self) -> tuple[float]:
        return (self._position(),)

    def _set_loop(self, mode: int) -> None:
        self.loop = mode

    def _loop_mode(self) -> tuple[int]:
        return (self.loop,)

    def _set_interpolation(self, interpolation: str) -> None:
        self.interpolation = interpolation

    def _interpolation(self) -> tuple[str]:
        return (self.interpolation,)

    def _prepare_recording(self, name: str) -> tuple[str, np.ndarray]:
        return name, np.zeros((int(RECORD_SECONDS / self.hop_seconds), self.dims + 1))

    def _xy_now(self) -> tuple[float, float]:
        return self.xy

    def _plane_now(self) -> tuple[str, str, str]:
        return self.plane

    def _plane_on_axes(self) -> None:
        self._set_plane("", "", "")

    # landmarks
    def _add_landmark(self, made: tuple[str, np.ndarray | None, str]) -> None:
        name, points, source = made
        if points is None:  # a live snapshot of the z decoded last hop
            points = self.engine.latent_position.copy()[None, :]
        self.landmarks[name] = Landmark(name, points, source)

    def _save_landmark(self, name: str) -> list[tuple]:
        path = self.maker.save(self._landmark("/landmark/save", name))
        return [("/landmark/save", str(path))]

    def _landmark(self, address: str, name: str) -> Landmark:
        try:
            return self.landmarks[name]
        except KeyError:
            raise ControlError(f"{address}: no landmark named {name!r}") from None

    # paths
    def _set_path(self, path: LatentPath) -> None:
        self.paths[path.name] = path
        if self.path is not None and self.path.name == path.name:
            self.path = path

    def _edit(self, name: str) -> LatentPath:
        path = self.paths.get(name)
        return path if path is not None else LatentPath(name, np.zeros((0, self.dims)), np.zeros(0))

    def _append(self, made: tuple[str, np.ndarray, Any]) -> None:
        name, points, _ = made
        step = self.step_seconds.value
        self._set_path(self._edit(name).appended(points, step, step))

    def _append_landmark(self, name: str, landmark: str) -> None:
        points = self._landmark("/path/landmark", landmark).points
        self._set_path(self._edit(name).appended(points, self.step_seconds.value, self.hop_seconds))

    def _play(self, name: str) -> None:
        path = self.paths.get(name)
        if path is None:
            raise ControlError(f"/path/play: no path named {name!r}")
        if len(path.points) == 0:
            raise ControlError(f"/path/play: path {name!r} has no points")
        self.path = path
        self.direction = 1.0
        self.time = path.seconds if self.speed.value < 0.0 else 0.0
        self.playing = True
        self._started = True
        self._xy_active = False
        self._activate()
        path.evaluate(self.time, self.interpolation, self._target)

    def _stop(self) -> None:
        self.playing = False
        self._xy_active = False
        self.mixer.path_active = False

    def _activate(self) -> None:
        if not self.mixer.path_active:
            self._jump = True  # from silence, start at the point rather than glide to it
            self.mixer.path_active = True

    def _scrub(self, position: float) -> None:
        if self.path is None:
            raise ControlError("/path/pos: no path has been played yet (/path/play)")
        self.time = position * self.path.seconds
        self._started = True
        self._xy_active = False
        self._activate()
        self.path.evaluate(self.time, self.interpolation, self._target)

    @property
    def recording(self) -> str:
        """The name of the path being recorded; empty while not recording."""
        return self._recording or ""

    @property
    def plane_points(self) -> np.ndarray | None:
        """The map's plane: origin, x end, y end, shape (3, dims); None on axes 0 and 1."""
        return self._plane_points

    @property
    def position(self) -> float:
        """Where the player is along its path, 0 (start) .. 1 (end); 0 without a path."""
        return self._position()

    def _position(self) -> float:
        if self.path is None or self.path.seconds <= 0.0:
            return 0.0
        return self.time / self.path.seconds

    def _start_recording(self, made: tuple[str, np.ndarray]) -> None:
        self._recording, self._record_buffer = made
        self._record_count = 0
        self._record_start = self.engine.hop_index

    def _save_path(self, name: str) -> list[tuple]:
        path = self.paths.get(name)
        if path is None:
            raise ControlError(f"/path/save: no path named {name!r}")
        target = file_for(self.folder, "/path/save", name, ".json")
        write_json(
            target,
            "/path/save",
            {
                "caminos": "path",
                "version": FILE_VERSION,
                "name": name,
                "model": self.engine.hop_model.name,
                "times_s": [round(float(t), 6) for t in path.times],
                "points_std": rows_of(path.points / self.std),
            },
        )
        return [("/path/save", str(target))]

    def _load_path(self, name: str) -> LatentPath:
        path = file_to_read(self.folder, "/path/load", name, ".json")
        where = f"/path/load: {path}"
        data = read_json(path, "/path/load", "path")
        rows = number_rows(data.get("points_std"), f"{where}: points_std", self.dims)
        times = data.get("times_s")
        if times is None:
            times = [i * self.step_seconds.value for i in range(len(rows))]
        if (
            not isinstance(times, list)
            or len(times) != len(rows)
            or not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in times)
            or any(b < a for a, b in zip(times, times[1:]))
            or (times and times[0] < 0)
        ):
            raise ControlError(
                f"{where}: times_s: expected {len(rows)} non-decreasing times in "
                "seconds, one per point"
            )
        times = np.asarray(times, dtype=np.float64)
        return LatentPath(name, self.maker.points_from_rows(rows), times - times[0])

    # the 2-D map
    def _set_xy(self, x: float, y: float) -> None:
        self.xy = (x, y)
        self.playing = False
        self._xy_active = True
        # in kernels: a scene fades /latent/xy on the hop clock, where nothing may allocate
        if self._plane_points is None:
            axes_point(x, y, XY_RANGE_STD, self.std, self._target)
        else:
            plane_point(x, y, self._plane_points, self._target)
        self._activate()

    def _set_plane(self, origin: str, x: str, y: str) -> None:
        field = self.engine.field  # the speakers' voices lie on the map's plane
        if not (origin or x or y):
            self._plane_points = None
            field.set_axes_plane()
        else:
            self._plane_points = np.stack(
                [self._landmark("/latent/plane", n).mean for n in (origin, x, y)]
            )
            start, x_end, y_end = self._plane_points
            field.set_plane(x_end - start, y_end - start)
        self.plane = (origin, x, y)

    def definitions(self) -> list[tuple[str, tuple]]:
        """Control events that rebuild the landmarks and paths (for a score begun mid-way):
        point landmarks by value, file landmarks by their file, paths point by point."""
        events: list[tuple[str, tuple]] = []
        for name, landmark in self.landmarks.items():
            if len(landmark.points) == 1:
                events.append(("/landmark/point", (name, *self._std_values(landmark.points[0]))))
            elif landmark.source not in ("live", "numbers"):
                events.append(("/landmark/add", (name, landmark.source)))
        for name, path in self.paths.items():
            events.append(("/path/new", (name,)))
            previous = 0.0
            for point, t in zip(path.points, path.times):
                events.append(("/path/step", (float(t - previous),)))
                events.append(("/path/point", (name, *self._std_values(point))))
                previous = float(t)
        return events

    def transport(self) -> list[tuple[str, tuple]]:
        """Control events that resume a playing path where it is."""
        if self.path is None or not self.playing or self.path.name not in self.paths:
            return []
        return [("/path/play", (self.path.name,)), ("/path/pos", (self._position(),))]

    def _std_values(self, point: np.ndarray) -> list[float]:
        return [float(v) for v in np.clip(point / self.std, -STD_BOUND, STD_BOUND)]

    def status(self) -> dict[str, Any]:
        """The path, the recording, and where a ticking engine's path plays (a replica's clock
        reports the hop clock's)."""
        status = {
            "path": self.path.name if self.path is not None else "",
            "recording": self._recording or "",
        }
        if self.engine.clock.ticked:
            status.update(path_playing=int(self.playing), path_position=self._position())
        return status
