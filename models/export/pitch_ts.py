"""The one-pitch tracker of a frame in TorchScript, for the exported codec and its analysis.

A port of :func:`caminos.models.autoencoder.track_pitch_torch` (subharmonic summation of the
square-rooted magnitudes as one matrix product, the best candidate moved by a parabola through
its neighbours), in float32 as the model runs it. The one-comb model's pitch channel and the
many-pitch analysis's fallback (the first slot's pitch where no slot is found) are this tracker.
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import nn

from caminos.models.export.rows_ts import stable_mm


class OnePitchTracker(nn.Module):
    """Log-magnitude frames to one pitch each, semitones above A0.

    Parameters
    ----------
    pitch_matrix : Tensor, shape (n_bins, candidates)
        The tracker's matrix (:class:`caminos.models.pitch.PitchTracker`).
    pitch_grid : (float, float)
        Its first candidate (Hz) and its step (octaves).
    floor : float
        The magnitude floor of the log-magnitudes (taken off before the square root).
    """

    def __init__(
        self, pitch_matrix: torch.Tensor, pitch_grid: Tuple[float, float], floor: float
    ) -> None:
        super().__init__()
        self.register_buffer("pitch_matrix", pitch_matrix.detach().clone().float())
        self.register_buffer("neighbours", torch.arange(-1, 2), persistent=False)
        self.floor = float(floor)
        self.log_step = float(pitch_grid[1])
        self.offset = math.log2(float(pitch_grid[0]) / 27.5)  # octaves above A0

    def forward(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Each frame's pitch, semitones above A0, (batch,), from (batch, n_bins)."""
        root = torch.sqrt(torch.clamp(torch.exp(log_mags) - self.floor, min=0.0))
        scores = stable_mm(root, self.pitch_matrix)
        n = scores.shape[1]
        best = torch.argmax(scores, dim=1)
        inner = torch.clamp(best, 1, n - 2)
        three = scores.gather(1, inner[:, None] + self.neighbours[None, :])  # inner - 1 .. + 1
        left, centre, right = three[:, 0], three[:, 1], three[:, 2]
        curve = left - 2.0 * centre + right
        bend = curve < 0.0
        shift = torch.where(bend, 0.5 * (left - right) / torch.where(bend, curve, -1.0), 0.0)
        shift = torch.where(best == inner, torch.clamp(shift, -0.5, 0.5), 0.0)
        octaves = (best.to(scores.dtype) + shift) * self.log_step
        return 12.0 * (octaves + self.offset)
