"""The 2-D map's points in the latent space (``/latent/xy``), computed in compiled kernels.

A scene fades ``/latent/xy`` on the hop clock, one point a hop, where nothing may allocate: these
write the point into the navigator's target buffer with the same products and sums, in the same
order, as the numpy expressions they replace, so a fade lands on the same numbers.
"""

from __future__ import annotations

import numpy as np

from caminos.engine.dsp.compiled import hop_kernel


@hop_kernel
def axes_point(x: float, y: float, range_std: float, std: np.ndarray, out: np.ndarray) -> None:
    """The point ``(x, y)`` (0 .. 1 each) on the plane of the first two axes: ``out[0]`` and
    ``out[1]`` at ``(2 x - 1) * range_std`` standard deviations ``std`` of their axes, the
    other dimensions 0."""
    for i in range(out.shape[0]):
        out[i] = 0.0
    out[0] = (2.0 * x - 1.0) * range_std * std[0]
    if out.shape[0] > 1:
        out[1] = (2.0 * y - 1.0) * range_std * std[1]


@hop_kernel
def plane_point(x: float, y: float, points: np.ndarray, out: np.ndarray) -> None:
    """The point ``(x, y)`` on the plane of three landmarks (``points``: origin, x end, y end,
    rows): ``origin + x (x_end - origin) + y (y_end - origin)``."""
    for i in range(out.shape[0]):
        origin = points[0, i]
        out[i] = origin + x * (points[1, i] - origin) + y * (points[2, i] - origin)


def warm_up() -> None:
    """Compile (or load) both kernels now, on scratch buffers: the first ``/latent/xy`` is
    applied on the hop clock."""
    out, points = np.zeros(2), np.zeros((3, 2))
    axes_point(0.5, 0.5, 1.0, np.ones(2), out)
    plane_point(0.5, 0.5, points, out)
