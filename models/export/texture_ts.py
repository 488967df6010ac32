"""The input's spectral grain on the decoded frames, in TorchScript (``forward`` only).

:mod:`caminos.engine.dsp.texture` on tensors: a frame's *fine structure* is each bin's natural-
log level minus the mean of the bins within 400 Hz around it (the edges extended); each decoded
bin moves by the input's fine structure minus the decoded frame's, clipped to -12 .. +3 dB,
times an amount (0: the decoded frame as it is). The envelope and the partials stay the
decoder's; the noise between them takes the input's grain. As in the engine, the amount is
scaled by ``follow`` and the input's fine structure is moved with the transposition.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Texture(nn.Module):
    """Lays a source's fine structure on decoded frames.

    Parameters
    ----------
    n_fft, sample_rate : int
        Frame length (samples) and rate (Hz), for the moving mean's width.
    floor : float
        Added to linear magnitudes before their logarithm.
    """

    def __init__(self, n_fft: int, sample_rate: int, floor: float) -> None:
        super().__init__()
        from caminos.engine.dsp.texture import texture_limits_nepers, texture_width_bins

        self.width = int(texture_width_bins(n_fft, sample_rate))
        low, high = texture_limits_nepers()
        self.low = float(low)
        self.high = float(high)
        self.floor = float(floor)
        self.n_bins = n_fft // 2 + 1

    def fine(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Fine structure of log-magnitude frames (rows, n_bins), float64, in nepers."""
        half = self.width // 2
        padded = torch.cat(
            [
                log_mags[:, :1].expand(log_mags.shape[0], half),
                log_mags,
                log_mags[:, -1:].expand(log_mags.shape[0], half),
            ],
            dim=1,
        )
        total = torch.cumsum(torch.cat([torch.zeros_like(padded[:, :1]), padded], dim=1), dim=1)
        mean = (total[:, self.width :] - total[:, : -self.width]) / self.width
        return log_mags - mean

    def shift(self, fine: torch.Tensor, semitones: float) -> torch.Tensor:
        """``fine`` moved along frequency by ``semitones`` (bin ``k`` reads ``k / ratio``,
        linearly; bins reading past the last get 0)."""
        n = self.n_bins
        ratio = math.pow(2.0, semitones / 12.0)
        position = torch.arange(n, dtype=torch.float64, device=fine.device) / ratio
        below = torch.floor(position).long()
        inside = below < n - 1
        lower = torch.clamp(below, 0, n - 2)
        fraction = (position - lower.double())[None, :]
        moved = (1.0 - fraction) * fine[:, lower] + fraction * fine[:, lower + 1]
        last = (position == float(n - 1))[None, :]
        moved = torch.where(
            inside[None, :],
            moved,
            torch.where(last, fine[:, n - 1 : n].expand_as(moved), torch.zeros_like(moved)),
        )
        return moved

    def forward(
        self, decoded: torch.Tensor, source_log: torch.Tensor, amount: float, semitones: float
    ) -> torch.Tensor:
        """Decoded linear magnitudes (rows, n_bins) with the source's grain laid on them.

        Parameters
        ----------
        decoded : Tensor, shape (rows, n_bins)
            Linear magnitudes decoded from the source's latent.
        source_log : Tensor, shape (rows, n_bins)
            The source's ``log(magnitude + floor)``, the same frames.
        amount : float
            0 .. 1 (already scaled by follow).
        semitones : float
            The transposition the source's fine structure moves with.
        """
        if amount <= 0.0:
            return decoded
        source = self.fine(source_log.double())
        if semitones != 0.0:
            source = self.shift(source, semitones)
        mags = decoded.double()
        change = torch.clamp(source - self.fine(torch.log(mags + self.floor)), self.low, self.high)
        return (mags * torch.exp(amount * change)).to(decoded.dtype)
