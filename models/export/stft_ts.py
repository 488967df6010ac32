"""Streaming STFT analysis and overlap-add synthesis in TorchScript, one state per voice.

The framing of :mod:`caminos.engine.dsp.spectral` (``docs/architecture.md`` section 4): the
signal is preceded by ``n_fft - hop`` zeros, frame ``m`` holds padded samples ``[m hop, m hop +
n_fft)`` times the periodic Hann window, and synthesis overlap-adds ``irfft(frame) * g`` with the
canonical dual window ``g = w / sum_k w(n - k hop)**2``. Analysis keeps the last ``n_fft - hop``
input samples between calls (they start as the padding zeros), synthesis the ``n_fft - hop``
samples that later frames still add to; so a signal cut into blocks of any multiple of the hop
gives the same frames and samples as one call, and the pair delays by ``n_fft - hop`` samples.

Overlap-add sums each output sample's contributions oldest frame first, whether they came in
this call or an earlier one, so the float64 sums do not depend on where the blocks were cut.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def hann(n_fft: int) -> torch.Tensor:
    """The periodic Hann window, float64 of length ``n_fft`` samples."""
    n = torch.arange(n_fft, dtype=torch.float64)
    return 0.5 - 0.5 * torch.cos(2.0 * math.pi * n / n_fft)


def dual_window(n_fft: int, hop: int) -> torch.Tensor:
    """The canonical dual of :func:`hann` for overlap-add at ``hop`` samples."""
    w = hann(n_fft)
    energy = (w * w).reshape(n_fft // hop, hop).sum(dim=0)
    return w / energy.repeat(n_fft // hop)


class StreamingAnalyzer(nn.Module):
    """Blocks of samples to complex STFT frames, keeping the input's tail between calls.

    Parameters
    ----------
    n_fft, hop : int
        Frame length and hop, in samples.
    """

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        self.n_fft = int(n_fft)
        self.hop = int(hop)
        self.register_buffer("window", hann(n_fft))
        self.register_buffer("tail", torch.zeros(1, n_fft - hop, dtype=torch.float64))

    @torch.jit.export
    def reset(self, batch: int) -> None:
        """Forget the past: ``batch`` voices of padding zeros."""
        self.tail = torch.zeros(batch, self.n_fft - self.hop, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Frames of the next block.

        Parameters
        ----------
        x : Tensor, shape (batch, samples)
            The next samples of each voice; ``samples`` a multiple of the hop.

        Returns
        -------
        Tensor, shape (batch, samples // hop, n_fft // 2 + 1), complex128
        """
        if self.tail.shape[0] != x.shape[0]:
            self.reset(x.shape[0])
        signal = torch.cat([self.tail, x.double()], dim=1)
        frames = signal.unfold(1, self.n_fft, self.hop)
        self.tail = signal[:, signal.shape[1] - (self.n_fft - self.hop) :].clone()
        return torch.fft.rfft(frames * self.window, dim=-1)


class StreamingSynthesizer(nn.Module):
    """Complex STFT frames to samples by overlap-add, keeping the unfinished tail.

    Parameters
    ----------
    n_fft, hop : int
        Frame length and hop, in samples.
    """

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        self.n_fft = int(n_fft)
        self.hop = int(hop)
        self.redundancy = n_fft // hop
        self.register_buffer("window", dual_window(n_fft, hop))
        self.register_buffer("tail", torch.zeros(1, n_fft - hop, dtype=torch.float64))

    @torch.jit.export
    def reset(self, batch: int) -> None:
        """Forget the past: ``batch`` voices of silence."""
        self.tail = torch.zeros(batch, self.n_fft - self.hop, dtype=torch.float64)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        """The samples the next frames complete.

        Parameters
        ----------
        spectra : Tensor, shape (batch, frames, n_fft // 2 + 1), complex128

        Returns
        -------
        Tensor, shape (batch, frames * hop), float64
            Output sample ``n`` of the stream is padded position ``n`` of the framing: the
            input's sample ``n - (n_fft - hop)``.
        """
        batch, count = spectra.shape[0], spectra.shape[1]
        if self.tail.shape[0] != batch:
            self.reset(batch)
        frames = torch.fft.irfft(spectra, n=self.n_fft, dim=-1) * self.window
        length = count * self.hop
        out = torch.zeros(
            batch, length + self.n_fft - self.hop, dtype=torch.float64, device=spectra.device
        )
        out[:, : self.n_fft - self.hop] = self.tail
        for r in range(self.redundancy - 1, -1, -1):  # oldest frame's part first
            part = frames[:, :, r * self.hop : (r + 1) * self.hop].reshape(batch, length)
            out[:, r * self.hop : r * self.hop + length] += part
        self.tail = out[:, length:].clone()
        return out[:, :length]
