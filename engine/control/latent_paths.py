"""Landmarks and latent paths: named places and timed trajectories in the latent space.

Data and geometry only, no engine: a :class:`Landmark` is a point or a trajectory (one point per
hop); a :class:`LatentPath` is points at times in seconds, evaluated at any time by linear,
Catmull-Rom or spherical interpolation into a caller's buffer (the path player does so once per
hop, :class:`caminos.engine.control.navigation.Navigator`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

INTERPOLATIONS = ("linear", "cubic", "spherical")


@dataclass(frozen=True)
class Landmark:
    """A named place in the latent space: one point or a trajectory (one point per hop).

    Attributes
    ----------
    name : str
    points : ndarray, shape (n, dims), float64
        Rotated latent coordinates (not std units); ``n == 1`` for a point.
    source : str
        Where it came from: a sound file, ``live`` or ``numbers``.
    """

    name: str
    points: np.ndarray
    source: str

    @property
    def mean(self) -> np.ndarray:
        """The trajectory's mean point, shape (dims,)."""
        return self.points.mean(axis=0)


@dataclass(frozen=True)
class LatentPath:
    """An ordered list of latent points with the time of each, in seconds from the first.

    Attributes
    ----------
    name : str
    points : ndarray, shape (n, dims), float64
        Rotated latent coordinates.
    times : ndarray, shape (n,), float64
        Non-decreasing times in seconds; ``times[0] == 0``.
    """

    name: str
    points: np.ndarray
    times: np.ndarray

    @property
    def seconds(self) -> float:
        """Duration in seconds (0 for fewer than two points)."""
        return float(self.times[-1]) if len(self.times) else 0.0

    def appended(self, points: np.ndarray, gap: float, spacing: float) -> "LatentPath":
        """A new path with ``points`` added: the first ``gap`` seconds after the current last
        point, the others ``spacing`` seconds apart."""
        start = self.seconds + gap if len(self.times) else 0.0
        times = start + spacing * np.arange(len(points))
        return LatentPath(
            self.name, np.vstack([self.points, points]), np.concatenate([self.times, times])
        )

    def segment_at(self, t: float) -> int:
        """Index of the segment (points ``i`` to ``i + 1``) that holds time ``t``, in seconds."""
        n = len(self.times)
        if n < 2:
            return 0
        return min(max(int(np.searchsorted(self.times, t, side="right")) - 1, 0), n - 2)

    def evaluate(self, t: float, interpolation: str, out: np.ndarray) -> np.ndarray:
        """The point at time ``t`` (seconds, clamped to the path), written into ``out``.

        ``linear`` joins points by straight segments; ``cubic`` by a Catmull-Rom spline through
        every point; ``spherical`` turns the direction from the origin (the mean sound) along a
        great circle and moves the distance linearly, so a path between two timbres keeps its
        intensity instead of passing near the mean sound.
        """
        points, times = self.points, self.times
        n = len(points)
        if n == 0:
            out[:] = 0.0
            return out
        if n == 1 or t <= 0.0:
            out[:] = points[0]
            return out
        if t >= times[-1]:
            out[:] = points[-1]
            return out
        i = self.segment_at(t)
        span = times[i + 1] - times[i]
        u = (t - times[i]) / span if span > 0.0 else 1.0
        a, b = points[i], points[i + 1]
        if interpolation == "cubic":
            p0 = points[i - 1] if i > 0 else a
            p3 = points[i + 2] if i + 2 < n else b
            u2, u3 = u * u, u * u * u
            # Catmull-Rom basis: passes through a at u = 0 and b at u = 1.
            out[:] = 0.5 * (
                (-u3 + 2 * u2 - u) * p0
                + (3 * u3 - 5 * u2 + 2) * a
                + (-3 * u3 + 4 * u2 + u) * b
                + (u3 - u2) * p3
            )
        elif interpolation == "spherical":
            _slerp(a, b, u, out)
        else:
            np.subtract(b, a, out=out)
            out *= u
            out += a
        return out


def _slerp(a: np.ndarray, b: np.ndarray, u: float, out: np.ndarray) -> None:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-12 or nb < 1e-12:
        np.subtract(b, a, out=out)
        out *= u
        out += a
        return
    cosine = min(max(float(np.dot(a, b)) / (na * nb), -1.0), 1.0)
    omega = math.acos(cosine)
    if omega < 1e-6:
        wa, wb = 1.0 - u, u
    else:
        wa = math.sin((1.0 - u) * omega) / math.sin(omega)
        wb = math.sin(u * omega) / math.sin(omega)
    radius = (1.0 - u) * na + u * nb
    np.multiply(a, wa * radius / na, out=out)
    out += (wb * radius / nb) * b
