"""What the control page shows, read from the control process: the registry's description, a
snapshot of every value, the map (with the field of voices), the MIDI mappings and the learning
armed, the meters, and the spectrum frames.

Between the replica engine (:func:`caminos.engine.live.control_process.build_replica`), whose
status is what the DSP and audio processes publish, and the page's server
(:mod:`caminos.engine.control.web.server`), which sends what changed since the last snapshot to
every page. Reading only (nothing here posts a control), so a change made over OSC, by a score
or by another page shows on every page the same way.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any

import numpy as np

from caminos.engine.control.navigation import XY_RANGE_STD
from caminos.engine.dsp.spectrum_tap import SpectrumTap, band_centres_hz, band_edges

# Values that move by themselves; the page gets them with the meters, not as control values.
MOVING = frozenset({"/source/file/pos", "/path/pos"})
DIGITS = 5  # values are rounded to this many decimals, so only real changes are sent


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DIGITS) if math.isfinite(value) else None
    if isinstance(value, (np.floating, np.integer)):
        return _round(value.item())
    return value


METERS = {
    "peak_dbfs": "peak_dbfs",
    "rms_dbfs": "rms_dbfs",
    "cpu_load": "cpu_load",
    "tick_ms_p50": "tick_ms_p50",
    "tick_ms_p99": "tick_ms_p99",
    "xruns": "xruns",
    "underruns": "underruns",
    "restarts": "restarts",
    "phase_fallbacks": "phase_fallbacks",  # caminos play only (engine/live/overload.py)
    "control_errors": "control_errors",
    "latency_in_out_ms": "latency_ms",
    "latency_control_ms": "control_latency_ms",
    "path_position": "path_position",
    "path_playing": "path_playing",
}
"""The page's meters, by the status key each shows."""


def describe_controls(registry: Any) -> list[dict[str, Any]]:
    """Every control as the page needs it to build sliders and menus: address, group, doc,
    whether it is a query, and its arguments (name, kind, range, unit, choices, repeat)."""
    described = []
    for control in registry:
        described.append(
            {
                "address": control.address,
                "group": control.group,
                "doc": control.doc,
                "query": control.query,
                "value": control.get is not None,
                "args": [
                    {
                        "name": a.name,
                        "kind": a.kind,
                        "lo": a.lo,
                        "hi": a.hi,
                        "unit": a.unit,
                        "choices": list(a.choices) if a.choices else None,
                        "repeat": a.repeat,
                    }
                    for a in control.args
                ],
            }
        )
    return described


def axis_words(descriptors: dict[str, Any], dims: int) -> list[dict[str, Any]]:
    """Each latent axis's words at its two ends (``brighter`` / ``darker``), from the model's
    descriptor analysis: the two descriptors a +1 std step moves most (by at least 0.05 of
    their spread), as :func:`caminos.models.autoencoder.describe_axes` ranks them."""
    from caminos.models.autoencoder import DESCRIPTOR_WORDS

    found = descriptors.get("axes", []) if isinstance(descriptors, dict) else []
    axes = []
    for k in range(dims):
        plus: list[str] = []
        minus: list[str] = []
        if k < len(found):
            relative = found[k].get("change_in_spread", {})
            ranked = sorted(relative, key=lambda name: -abs(relative[name]))
            for name in ranked[:2]:
                if abs(relative[name]) >= 0.05 and name in DESCRIPTOR_WORDS:
                    up, down = DESCRIPTOR_WORDS[name]
                    plus.append(up if relative[name] > 0 else down)
                    minus.append(down if relative[name] > 0 else up)
        axes.append({"axis": k, "plus": plus, "minus": minus})
    return axes


class MapProjection:
    """Latent points onto the 2-D map of ``/latent/xy``: axes 0 and 1 (-2 .. +2 std as 0 .. 1),
    or the plane of three landmarks (least squares onto origin -> x, origin -> y)."""

    def __init__(self, std: np.ndarray) -> None:
        self.std = np.asarray(std, dtype=np.float64)
        self.points: np.ndarray | None = None
        self._basis: np.ndarray | None = None

    def set_plane(self, points: np.ndarray | None) -> None:
        """The plane's origin, x end and y end (rows, latent units), or None for the axes."""
        if points is None:
            self.points = self._basis = None
            return
        self.points = np.array(points, dtype=np.float64)
        self._basis = np.linalg.pinv(
            np.stack([self.points[1] - self.points[0], self.points[2] - self.points[0]], axis=1)
        )

    def project(self, z: np.ndarray) -> tuple[float, float]:
        """``(x, y)`` of a latent point on the map (outside 0 .. 1 when it is off the map)."""
        z = np.asarray(z, dtype=np.float64)
        if self._basis is None:
            x = (z[0] / self.std[0] / XY_RANGE_STD + 1.0) / 2.0
            y = (z[1] / self.std[1] / XY_RANGE_STD + 1.0) / 2.0 if len(z) > 1 else 0.5
            return float(x), float(y)
        n = min(len(z), self._basis.shape[1])
        x, y = self._basis[:, :n] @ (z[:n] - self.points[0, :n])
        return float(x), float(y)


def field_on_map(
    projection: MapProjection, latents: np.ndarray, places: np.ndarray, plane: np.ndarray
) -> dict[str, Any]:
    """The field of voices on the map: its centre, each voice, each speaker's place.

    Parameters
    ----------
    projection : MapProjection
        The map's current projection.
    latents : ndarray, shape (voices, dims)
        Each voice's latent as decoded (rotated coordinates, latent units).
    places : ndarray, shape (voices, 2)
        Each voice's place on the map's plane (latent std along its two directions):
        :meth:`caminos.engine.clock.field.LatentField.places`.
    plane : ndarray, shape (2, dims)
        The latent change of one std along the plane's x and y
        (:attr:`caminos.engine.clock.field.LatentField.plane`).

    Returns
    -------
    dict
        ``centre`` ``[x, y]``: the voices' mean less their mean place (the shared latent every
        ``/latent/*`` control moves, up to the mean of the voices' own offsets and wander);
        ``voices`` ``[[x, y], ...]``: where each voice is; ``ring`` ``[[x, y], ...]``: each
        speaker's place around the centre at the current spread and rotation (with the
        channel's own ``/channel/K/xy``); all in map units (0 .. 1 across the map).
    """
    centre, latents, offsets = _centre(latents, places, plane)

    def point(z: np.ndarray) -> list:
        return [_round(v) for v in projection.project(z)]

    return {
        "centre": point(centre),
        "voices": [point(z) for z in latents],
        "ring": [point(centre + offset) for offset in offsets],
    }


def _centre(
    latents: np.ndarray, places: np.ndarray, plane: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The field's centre (latent units), the latents on the plane's axes, and each place in
    latent units (see :func:`field_on_map`)."""
    latents = np.asarray(latents, dtype=np.float64)
    dims = min(latents.shape[1], plane.shape[1])
    offsets = np.asarray(places, dtype=np.float64) @ plane[:, :dims]
    latents = latents[:, :dims]
    return latents.mean(axis=0) - offsets.mean(axis=0), latents, offsets


def layout_of(replica: Any) -> dict[str, Any]:
    """The speaker layout as the page shows it: its name, the voices this instance computes,
    and each voice's room channel (from 1) and label."""
    layout = replica.layout
    voices = int(replica.voices)
    channels = [int(c) for c in replica.room_channels[:voices]]
    labels = [layout.labels[c - 1] if c - 1 < len(layout.labels) else str(c) for c in channels]
    return {
        "name": layout.name,
        "speakers": int(layout.n_speakers),
        "voices": voices,
        "mono": bool(replica.mono),
        "channels": channels,
        "labels": labels,
    }


class PageState:
    """Snapshots of the replica and the shared counters for the page.

    Parameters
    ----------
    replica : Engine
        The control process's replica (its ``surface`` attached), whose values the controls'
        ``get`` read and whose status the meters show (live, what the DSP and audio processes
        publish); its queue's ``lock`` (when it has one) is held while reading, so a snapshot
        never sees half of an event.
    spectrum : SpectrumTap, optional
        The DSP process's spectrum frames, with every voice's latent and place; without it the
        field is read from the replica itself (an engine that ticks in this process).
    """

    def __init__(self, replica: Any, spectrum: SpectrumTap | None = None) -> None:
        self.replica = replica
        self.spectrum = spectrum
        self.navigator = replica.surface.navigator
        self.scenes = replica.surface.scenes
        self.midi = replica.surface.midi
        self.projection = MapProjection(self.navigator.std)
        self._plane: tuple | None = None
        self._places = np.zeros((replica.voices, 2))
        self._seen = spectrum.count if spectrum is not None else 0
        config = replica.config
        self.edges = band_edges(
            config.stft.n_fft, replica.sample_rate, spectrum.bands if spectrum is not None else 64
        )

    def hello(self) -> dict[str, Any]:
        """The first message to a page: what it needs to build itself."""
        replica = self.replica
        return {
            "type": "hello",
            "controls": describe_controls(replica.registry),
            "axes": axis_words(replica.hop_model.descriptors, replica.dims),
            "dims": int(replica.dims),
            "model": replica.hop_model.name,
            "sample_rate": int(replica.sample_rate),
            "hop": int(replica.hop),
            "bands_hz": band_centres_hz(self.edges, replica.config.stft.n_fft, replica.sample_rate),
            "xy_range_std": XY_RANGE_STD,
            "layout": layout_of(replica),
        }

    def snapshot(self) -> dict[str, Any]:
        """Every value the page shows, keyed so that :func:`changes` can compare two."""
        lock = getattr(self.replica.queue, "lock", None) or nullcontext()
        with lock:
            values = {
                c.address: [_round(v) for v in c.get()]
                for c in self.replica.registry
                if c.get is not None and c.address not in MOVING
            }
            nav = self.navigator
            plane = tuple(nav.plane)
            if plane != self._plane:
                self._plane = plane
                self.projection.set_plane(nav.plane_points)
            landmarks = sorted(
                (name, self.projection.project(mark.mean)) for name, mark in nav.landmarks.items()
            )
            paths = sorted(
                (name, round(float(path.seconds), 3), len(path.points))
                for name, path in nav.paths.items()
            )
            current = nav.path.name if nav.path is not None else ""
            recording = nav.recording
            scenes = sorted(self.scenes.slots)
            field = self.field()
        return {
            "values": values,
            "landmarks": [[n, _round(x), _round(y)] for n, (x, y) in landmarks],
            "paths": [list(p) for p in paths],
            "path": current,
            "recording": recording,
            "scenes": scenes,
            "field": field,
            "midi": self.midi.snapshot(),
            "meters": self.meters(),
        }

    def field(self) -> dict[str, Any]:
        """The field of voices on the map now (:func:`field_on_map`): from the newest spectrum
        frame, or from the replica when there is no tap; empty before the first frame."""
        if self.spectrum is not None:
            latest = self.spectrum.latest()
            if latest is None:
                return {}
            latents, places = latest
        else:
            latents = np.array(self.replica.voice_positions)
            self.replica.field.places(self._places)
            places = self._places
        return field_on_map(
            self.projection, latents[:, : self.replica.dims], places, self.replica.field.plane
        )

    def meters(self) -> dict[str, Any]:
        """Output level, CPU per hop, xruns and underruns, latency, uptime, restarts, errors: the
        replica's status (:func:`caminos.engine.clock.status.measured_status`, the numbers
        ``/engine/status`` and the status line show), under the page's names."""
        status = self.replica.status()
        meters = {page: status.get(key) for page, key in METERS.items()}
        meters = {k: (_round(v) if isinstance(v, float) else v) for k, v in meters.items()}
        meters["hop_ms"] = _round(1000.0 * self.replica.hop / self.replica.sample_rate)
        meters["uptime_s"] = int(status["uptime_s"])
        return meters  # the hop and the file's position move every hop: the page needs neither

    def spectrum_frames(self) -> dict[str, Any] | None:
        """The spectrum frames published since the last call, as a ``spectrum`` message (levels
        in whole dBFS, and where the field's centre was on the map at each frame), or None
        when there are none."""
        if self.spectrum is None:
            return None
        count, levels, latents, places = self.spectrum.since(self._seen)
        self._seen = count
        if not len(levels):
            return None
        plane = self.replica.field.plane
        dims = self.replica.dims
        return {
            "type": "spectrum",
            "frames": np.rint(levels).astype(int).tolist(),
            "xy": [
                [_round(v) for v in self.projection.project(_centre(z[:, :dims], p, plane)[0])]
                for z, p in zip(latents, places)
            ],
        }


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What differs between two snapshots, one level deep into ``values`` and ``meters``
    (a key that holds the same as before is left out)."""
    out: dict[str, Any] = {}
    for key, value in new.items():
        if key in ("values", "meters"):
            before = old.get(key, {})
            diff = {k: v for k, v in value.items() if before.get(k) != v}
            if diff:
                out[key] = diff
        elif old.get(key) != value:
            out[key] = value
    return out
