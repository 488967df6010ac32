"""Real-time phase recovery in TorchScript: vectorised RTPGHI, the input's phase, random phase.

**What is built, and why not the heap.** The engine's RTPGHI (:mod:`caminos.engine.dsp.phase.pghi`)
integrates each frame's phase along a max-heap, one bin at a time: about 2 x 513 pops a frame,
each a few scalar operations. TorchScript runs each tensor operation through its interpreter
(a few microseconds each), so a heap of scalar tensors would cost tens of milliseconds a frame,
several times the hop. This module integrates the same phase gradients in whole-frame tensor
operations instead, following what the heap does on a steady partial:

- each local maximum of the frame's log magnitude (a *peak*) advances in time from its own bin
  in the frame before, by the trapezoid of the two frames' time gradients (the heap's first pop
  on a steady partial is the previous frame's peak, which passes its phase forward in time);
- every other bin takes its phase from the peak it climbs to (towards its larger neighbour,
  first peak in that direction), integrating the frequency gradient along the bins between them
  by the trapezoid rule (a cumulative sum over the frame: the heap spreads a peak's phase down
  both of its slopes the same way, larger magnitudes first);
- bins more than the tolerance below the louder of the two frames get a random phase.

Everything that does not depend on the previous frame's phase (logs, both gradients, peaks,
owners, the cumulative sums) is computed for every frame of a call at once; the loop over the
frames is a handful of tensor operations each (0.1 ms a frame here, against the engine's
20 us). Where the two differ is the onset after silence (the heap seeds from the loudest bin of
the quiet frame before; here every peak continues its own bin) and partials crossing: the
measured cost in spectral convergence against the engine's
compiled RTPGHI is in ``docs/export.md``.

Gradients (Prusa & Soendergaard, DAFx-16; caminos' units, phase relative to the window's
centre, ``lambda = 0.25645 n_fft**2`` samples squared)::

    tgrad[k] = 2 pi hop k / n_fft + (hop n_fft / lambda) (s[k+1] - s[k-1]) / 2
    fgrad[k] = -(lambda / (hop n_fft)) (s[m+1] - s[m-1]) / 2              (look-ahead 1)
    fgrad[k] = -(lambda / (hop n_fft)) (3 s[m] - 4 s[m-1] + s[m-2]) / 2   (look-ahead 0)

and frames leave in caminos' frame-start convention, ``phi - pi k``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

LOG_FLOOR = 1e-300  # magnitudes below this count as this (of the engine's RTPGHI)
PGHI, INPUT, RANDOM = 0, 1, 2
METHOD_NAMES = ("pghi", "input", "random")


class StreamingPhase(nn.Module):
    """Phases for magnitude frames, one state per voice, frames in order across calls.

    Parameters
    ----------
    n_fft, hop : int
        Frame length and hop, in samples.
    lookahead : {0, 1}
        Frames of look-ahead: 1 takes the centred time difference for the frequency gradient
        (closer; every frame leaves one hop later), 0 the causal one.
    tolerance_db : float
        Bins this far below the louder of the two frames in play (dB, negative) get random
        phase.
    seed : int
        Seed of the table of random phases.
    """

    def __init__(
        self, n_fft: int, hop: int, lookahead: int = 1, tolerance_db: float = -100.0, seed: int = 0
    ) -> None:
        super().__init__()
        if lookahead not in (0, 1):
            raise ValueError(f"lookahead: expected 0 or 1 frames, got {lookahead}")
        self.n_fft = int(n_fft)
        self.hop = int(hop)
        self.n_bins = n_fft // 2 + 1
        self.lookahead = int(lookahead)
        lam = 0.25645 * n_fft * n_fft
        self.tscale = hop * n_fft / lam * 0.5
        self.fscale = -lam / (hop * n_fft) * 0.5
        self.log_tol = tolerance_db / 20.0 * math.log(10.0)
        self.floor = LOG_FLOOR
        self.log_floor = math.log(LOG_FLOOR)
        self.two_pi = 2.0 * math.pi
        k = torch.arange(self.n_bins, dtype=torch.float64)
        self.register_buffer("base", 2.0 * math.pi * hop / n_fft * k)
        self.register_buffer("centre_shift", math.pi * k)
        self.register_buffer("bins", torch.arange(self.n_bins))
        table = np.random.default_rng(seed).random(10 * self.n_bins + 7) * 2.0 * np.pi
        self.register_buffer("table", torch.as_tensor(table))
        self.register_buffer("logs", torch.zeros(1, 2, self.n_bins, dtype=torch.float64))
        self.register_buffer("mags", torch.zeros(1, 1, self.n_bins, dtype=torch.float64))
        self.register_buffer("refs", torch.zeros(1, 1, self.n_bins, dtype=torch.complex128))
        self.register_buffer("phase", torch.zeros(1, self.n_bins, dtype=torch.float64))
        self.register_buffer("frame", torch.zeros(1, dtype=torch.long))
        self.reset(1)

    @torch.jit.export
    def reset(self, batch: int) -> None:
        """Forget the past: ``batch`` voices that have heard only silence."""
        self.logs = torch.full((batch, 2, self.n_bins), self.log_floor, dtype=torch.float64)
        self.mags = torch.zeros(batch, 1, self.n_bins, dtype=torch.float64)
        self.refs = torch.zeros(batch, 1, self.n_bins, dtype=torch.complex128)
        self.phase = torch.zeros(batch, self.n_bins, dtype=torch.float64)
        self.frame = torch.zeros(1, dtype=torch.long)

    def _time_gradient(self, s: torch.Tensor) -> torch.Tensor:
        """Phase advance per hop (radians) of log-magnitude frames (..., n_bins)."""
        slope = torch.zeros_like(s)
        slope[..., 1:-1] = self.tscale * (s[..., 2:] - s[..., :-2])
        return self.base + slope

    def _random(self, batch: int, count: int) -> torch.Tensor:
        """Random phases of the next ``count`` frames, (batch, count, n_bins): the same for
        every voice, so identical voices stay identical."""
        n = self.n_bins
        frames = self.frame + torch.arange(count, device=self.table.device)
        index = frames[:, None] * n + self.bins[None, :]
        return self.table[index % self.table.shape[0]][None].expand(batch, count, n)

    def forward(self, mags: torch.Tensor, refs: torch.Tensor, method: int) -> torch.Tensor:
        """Complex frames for the next magnitude frames.

        Parameters
        ----------
        mags : Tensor, shape (batch, frames, n_bins)
            Linear magnitudes, in order after those of the call before.
        refs : Tensor, shape (batch, frames, n_bins), complex128
            The input's own frames (the ``input`` method's phase); zeros where there are none.
        method : int
            0 vectorised RTPGHI, 1 the input's phase, 2 random phase.

        Returns
        -------
        Tensor, shape (batch, frames, n_bins), complex128
            With look-ahead 1, frame ``f`` of the output is the frame pushed one frame earlier.
        """
        batch, count = mags.shape[0], mags.shape[1]
        if self.logs.shape[0] != batch:
            self.reset(batch)
        m = mags.double()
        s_new = torch.log(torch.clamp(m, min=self.floor))
        s_all = torch.cat([self.logs, s_new], dim=1)  # frames m0-2, m0-1, m0 ...
        tg_all = self._time_gradient(s_all)
        mag_all = torch.cat([self.mags, m], dim=1)  # frames m0-1, m0 ...
        ref_all = torch.cat([self.refs, refs.to(torch.complex128)], dim=1)
        if self.lookahead == 1:
            cur, prev = s_all[:, 1 : 1 + count], s_all[:, :count]
            tg_cur, tg_prev = tg_all[:, 1 : 1 + count], tg_all[:, :count]
            fgrad = self.fscale * (s_all[:, 2:] - s_all[:, :count])
            out_mag, out_ref = mag_all[:, :count], ref_all[:, :count]
        else:
            cur, prev = s_all[:, 2:], s_all[:, 1 : 1 + count]
            tg_cur, tg_prev = tg_all[:, 2:], tg_all[:, 1 : 1 + count]
            fgrad = self.fscale * (
                3.0 * s_all[:, 2:] - 4.0 * s_all[:, 1 : 1 + count] + s_all[:, :count]
            )
            out_mag, out_ref = mag_all[:, 1:], ref_all[:, 1:]
        top = torch.maximum(cur.amax(dim=2), prev.amax(dim=2))
        quiet = cur <= (top + self.log_tol)[:, :, None]
        noise = self._random(batch, count)
        if method == 1:  # INPUT
            phases = torch.angle(out_ref) + self.centre_shift
        elif method == 2:  # RANDOM
            phases = noise
        else:
            phases = self._integrate(cur, prev, tg_cur, tg_prev, fgrad, quiet, noise)
        phases = phases - self.two_pi * torch.floor(phases / self.two_pi)
        self.phase = phases[:, count - 1].clone()
        self.logs = s_all[:, count:].clone()
        self.mags = mag_all[:, count:].clone()
        self.refs = ref_all[:, count:].clone()
        self.frame = self.frame + count
        return torch.polar(out_mag, phases - self.centre_shift)

    def _integrate(
        self,
        cur: torch.Tensor,
        prev: torch.Tensor,
        tg_cur: torch.Tensor,
        tg_prev: torch.Tensor,
        fgrad: torch.Tensor,
        quiet: torch.Tensor,
        noise: torch.Tensor,
    ) -> torch.Tensor:
        """Vectorised RTPGHI over the frames of one call (shapes (batch, frames, n_bins))."""
        n = self.n_bins
        lowest = torch.full_like(cur[:, :, :1], -math.inf)
        left = torch.cat([lowest, cur[:, :, :-1]], dim=2)
        right = torch.cat([cur[:, :, 1:], lowest], dim=2)
        peak = (cur > left) & (cur >= right)
        index = self.bins.expand_as(cur)
        left_peak = torch.cummax(torch.where(peak, index, torch.full_like(index, -1)), dim=2)[0]
        right_peak = torch.flip(
            torch.cummin(
                torch.flip(torch.where(peak, index, torch.full_like(index, n)), [2]), dim=2
            )[0],
            [2],
        )
        go_right = (right > left) & (right_peak < n)
        owner = torch.where(go_right | (left_peak < 0), right_peak, left_peak)
        owner = torch.where(peak, index, torch.clamp(owner, 0, n - 1))
        steps = 0.5 * (fgrad[:, :, 1:] + fgrad[:, :, :-1])
        total = torch.cat([torch.zeros_like(fgrad[:, :, :1]), torch.cumsum(steps, dim=2)], dim=2)
        along = total - total.gather(2, owner)
        advance = 0.5 * (tg_prev.gather(2, owner) + tg_cur.gather(2, owner)) + along
        phases = torch.empty_like(cur)
        phase = self.phase
        for f in range(cur.shape[1]):
            phase = phase.gather(1, owner[:, f]) + advance[:, f]
            phase = torch.where(quiet[:, f], noise[:, f], phase)
            phase = phase - self.two_pi * torch.floor(phase / self.two_pi)
            phases[:, f] = phase
        return phases
