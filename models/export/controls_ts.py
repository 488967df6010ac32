"""The latent controls of an exported model, per hop, in TorchScript.

The engine's latent mixer (:class:`caminos.engine.clock.latent.LatentMixer`) for one source and
no path::

    z' = follow * z + std * (offset + walk) + pitch * d

``z`` the rotated latent, ``std`` each axis's standard deviation, ``offset`` the per-axis
offsets and ``walk`` a mean-reverting random walk (Ornstein-Uhlenbeck, stationary standard
deviation ``noise``), both in standard deviations, and ``pitch * d`` a transposition in
semitones along every semitone channel of the model (``d``: the latent change of one
semitone). Every control moves a target; the value used follows it with a one-pole smoother
stepped once per hop (20 ms at hop 256 and 48 kHz), so a control change from a patch never
jumps. The walk's Gaussian steps come from a counter-based hash of (seed, hop, voice, axis),
so a stream cut into any blocks walks the same way, and each voice of a batch its own way.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NOISE_RATE = 0.05  # per-hop innovation of the walk (of the engine's mixer)


class LatentControls(nn.Module):
    """Smoothed controls and the noise walk of one method's stream, one walk per voice.

    Parameters
    ----------
    std : Tensor, shape (d,)
        Each latent axis's standard deviation (rotated units).
    direction : Tensor, shape (d,)
        Latent change of a one-semitone transposition (zeros for a model without pitch).
    coefficient : float
        Per-hop smoothing coefficient, 0 to 1 (1: no smoothing).
    """

    def __init__(self, std: torch.Tensor, direction: torch.Tensor, coefficient: float) -> None:
        super().__init__()
        d = int(std.shape[0])
        self.dims = d
        self.coefficient = float(coefficient)
        self.rate = NOISE_RATE
        self.innovation = math.sqrt(NOISE_RATE * (2.0 - NOISE_RATE))
        self.register_buffer("std", std.detach().clone().double())
        self.register_buffer("direction", direction.detach().clone().double())
        # smoothed values: follow, noise, pitch, then the d offsets
        self.register_buffer(
            "value", torch.cat([torch.tensor([1.0, 0.0, 0.0]), torch.zeros(d)]).double()
        )
        self.register_buffer("walk", torch.zeros(1, d, dtype=torch.float64))
        self.register_buffer("hop", torch.zeros(1, dtype=torch.long))

    @torch.jit.export
    def reset(self, batch: int) -> None:
        """A new stream of ``batch`` voices: no walk, hop 0 (the controls' values stay)."""
        self.walk = torch.zeros(batch, self.dims, dtype=torch.float64)
        self.hop = torch.zeros(1, dtype=torch.long)

    @torch.jit.export
    def jump(self, target: torch.Tensor) -> None:
        """Set every control's value to its target at once (no glide): a fresh start."""
        self.value = target.clone()

    def _gaussian(self, seed: int, batch: int) -> torch.Tensor:
        """Standard normal draws for this hop, (batch, d), from a hash of (seed, hop, voice,
        axis): splitmix-style integer mixing, two 24-bit uniforms, Box-Muller."""
        voice = torch.arange(batch, dtype=torch.long)[:, None]
        axis = torch.arange(self.dims, dtype=torch.long)[None, :]
        x = ((self.hop * 1000003 + voice) * 1009 + axis) * 2654435761 + seed * 40503 + 12345
        x = x ^ (x >> 31)
        x = x * 6364136223846793005
        x = x ^ (x >> 29)
        x = x * 1442695040888963407
        x = x ^ (x >> 32)
        u1 = ((x & 16777215).double() + 1.0) / 16777216.0
        u2 = ((x >> 24) & 16777215).double() / 16777216.0
        return torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)

    def forward(self, z: torch.Tensor, target: torch.Tensor, seed: int) -> torch.Tensor:
        """The controlled latent of the next frames.

        Parameters
        ----------
        z : Tensor, shape (batch, frames, d), float32
            Rotated latent coordinates, one row per hop.
        target : Tensor, shape (3 + d,), float64
            Targets: follow (0 to 1), noise (std units), pitch (semitones), offsets (std units).
        seed : int
            Seed of the noise walk.

        Returns
        -------
        Tensor, shape (batch, frames, d), float32
        """
        batch, count = z.shape[0], z.shape[1]
        if self.walk.shape[0] != batch:
            self.reset(batch)
        settled = bool(torch.equal(self.value, target))
        if settled and float(target[1]) == 0.0 and not bool(self.walk.abs().gt(0.0).any()):
            self.hop = self.hop + count
            follow, pitch = float(target[0]), float(target[2])
            offsets = self.std * target[3:]
            if follow == 1.0 and pitch == 0.0 and not bool(offsets.ne(0.0).any()):
                return z
            shift = (offsets + pitch * self.direction).to(z.dtype)
            return z * follow + shift
        rows = []
        for f in range(count):
            difference = target - self.value
            close = difference.abs() < 1e-9
            self.value = torch.where(close, target, self.value + self.coefficient * difference)
            noise = float(self.value[1])
            if noise > 0.0 or bool(self.walk.abs().gt(0.0).any()):
                self.walk = self.walk * (
                    1.0 - self.rate
                ) + noise * self.innovation * self._gaussian(seed, batch)
            self.hop = self.hop + 1
            shift = self.std * (self.value[3:] + self.walk) + self.value[2] * self.direction
            rows.append(z[:, f].double() * self.value[0] + shift)
        return torch.stack(rows, dim=1).to(z.dtype)
