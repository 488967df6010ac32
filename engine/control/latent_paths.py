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
from numba import njit

from caminos.engine.clock.latent import glide
from caminos.engine.dsp.compiled import hop_kernel

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
        return self.times.item(-1) if len(self.times) else 0.0  # (no numpy scalar made)

    def appended(self, points: np.ndarray, gap: float, spacing: float) -> "LatentPath":
        """A new path with ``points`` added: the first ``gap`` seconds after the current last
        point, the others ``spacing`` seconds apart."""
        start = self.seconds + gap if len(self.times) else 0.0
        times = start + spacing * np.arange(len(points))
        return LatentPath(
            self.name, np.vstack([self.points, points]), np.concatenate([self.times, times])
        )

    def evaluate(self, t: float, interpolation: str, out: np.ndarray) -> np.ndarray:
        """The point at time ``t`` (seconds, clamped to the path), written into ``out``.

        ``linear`` joins points by straight segments; ``cubic`` by a Catmull-Rom spline through
        every point; ``spherical`` turns the direction from the origin (the mean sound) along a
        great circle and moves the distance linearly, so a path between two timbres keeps its
        intensity instead of passing near the mean sound.
        """
        _evaluate(self.points, self.times, float(t), _MODES.get(interpolation, 0), out)
        return out


_MODES = {"linear": 0, "cubic": 1, "spherical": 2}  # LatentPath.evaluate's, as _evaluate's


@hop_kernel
def _segment(times: np.ndarray, t: float) -> int:
    """Index of the segment (points ``i`` to ``i + 1``) of a path with point ``times``
    (seconds) that holds time ``t``."""
    n = times.shape[0]
    if n < 2:
        return 0
    return min(max(np.searchsorted(times, t, side="right") - 1, 0), n - 2)


@hop_kernel
def _evaluate(points: np.ndarray, times: np.ndarray, t: float, mode: int, out: np.ndarray) -> None:
    """:meth:`LatentPath.evaluate` compiled, allocation-free (a path player calls it every hop):
    ``mode`` 0 linear, 1 Catmull-Rom, 2 spherical. Each number is computed in the order the
    numpy expressions before it computed it (the norms and the cosine through BLAS, as
    ``np.dot``), so a path plays the same to the bit."""
    n = points.shape[0]
    if n == 0:
        out[:] = 0.0
        return
    if n == 1 or t <= 0.0:
        _copy(points[0], out)
        return
    if t >= times[n - 1]:
        _copy(points[n - 1], out)
        return
    i = _segment(times, t)
    span = times[i + 1] - times[i]
    u = (t - times[i]) / span if span > 0.0 else 1.0
    a, b = points[i], points[i + 1]
    if mode == 1:
        p0 = points[i - 1] if i > 0 else a
        p3 = points[i + 2] if i + 2 < n else b
        u2, u3 = u * u, u * u * u
        # Catmull-Rom basis: passes through a at u = 0 and b at u = 1.
        w0 = -u3 + 2 * u2 - u
        w1 = 3 * u3 - 5 * u2 + 2
        w2 = -3 * u3 + 4 * u2 + u
        w3 = u3 - u2
        for j in range(out.shape[0]):
            out[j] = 0.5 * (((w0 * p0[j] + w1 * a[j]) + w2 * b[j]) + w3 * p3[j])
        return
    if mode == 2:
        na, nb = math.sqrt(np.dot(a, a)), math.sqrt(np.dot(b, b))
        if na >= 1e-12 and nb >= 1e-12:
            cosine = min(max(np.dot(a, b) / (na * nb), -1.0), 1.0)
            omega = math.acos(cosine)
            if omega < 1e-6:
                wa, wb = 1.0 - u, u
            else:
                wa = math.sin((1.0 - u) * omega) / math.sin(omega)
                wb = math.sin(u * omega) / math.sin(omega)
            radius = (1.0 - u) * na + u * nb
            scale_a, scale_b = wa * radius / na, wb * radius / nb
            for j in range(out.shape[0]):
                out[j] = a[j] * scale_a
                out[j] += scale_b * b[j]
            return
    for j in range(out.shape[0]):  # linear (and spherical through the origin)
        out[j] = (b[j] - a[j]) * u + a[j]


@njit(cache=True, nogil=True, inline="always")
def _copy(source: np.ndarray, out: np.ndarray) -> None:
    """``out[:] = source`` element by element (a kernel without numba's runtime may not copy
    an array through a temporary)."""
    for j in range(out.shape[0]):
        out[j] = source[j]


@hop_kernel
def glide_row(
    positions: np.ndarray, row: int, target: np.ndarray, coefficient: float, jump: bool
) -> None:
    """:func:`glide` of ``positions[row]`` (with ``jump``: set to ``target``), without a view
    made in Python."""
    if jump:
        _copy(target, positions[row])
    else:
        glide(positions[row], target, coefficient)


@hop_kernel
def hop_rate_between(times: np.ndarray, t0: float, t1: float, hop_seconds: float) -> bool:
    """Whether every segment of a path with point ``times`` (seconds) from the one holding
    ``t0`` to the one holding ``t1`` lasts one hop (within 1e-9 s): a sound's own trajectory,
    which a player carries exactly (:func:`_segment`'s segments)."""
    first, last = _segment(times, t0), _segment(times, t1)
    if first > last:
        first, last = last, first
    for i in range(first, last + 1):
        if abs((times[i + 1] - times[i]) - hop_seconds) > 1e-9:
            return False
    return True


def warm_up(dims: int) -> None:
    """Compile (or load) the path players' kernels now, on a path of two points: a path's first
    play is applied on the hop clock, where a first compile made a hole in the sound (1.3 to
    2.2 s with numba's cache empty, eight voices each starting a path)."""
    points, times, out = np.zeros((2, dims)), np.array([0.0, 1.0]), np.zeros(dims)
    for mode in _MODES.values():
        _evaluate(points, times, 0.5, mode, out)
    hop_rate_between(times, 0.25, 0.5, 0.25)
    glide_row(points, 0, out, 0.5, False)
