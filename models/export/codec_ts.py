"""The autoencoder's encode and decode as one TorchScript module.

:class:`ScriptCodec` carries a :class:`~caminos.models.autoencoder.SpectralVAE`'s layers and
statistics and computes what :meth:`SpectralVAE.encode` and :meth:`SpectralVAE.decode_log`
compute, with the many-pitch analysis in tensor operations
(:class:`~caminos.models.export.partials_ts.PartialChannels`) instead of numba, and nothing
that needs caminos at run time. Latent coordinates are the model's rotated ones (axis 0 varies
most); log-magnitudes are natural logs of linear STFT magnitudes plus
:data:`~caminos.models.autoencoder.MAGNITUDE_FLOOR`.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from caminos.models.export.partials_ts import MAGNITUDE_FLOOR, PartialChannels, \
    partial_channels_from
from caminos.models.export.rows_ts import stable_linear, stable_mm

MAX_LOG_MAGNITUDE = 12.0  # of caminos.models.autoencoder: exp(12) is above any real STFT bin


def _unused_partials() -> PartialChannels:
    """A placeholder analysis for models without several pitches (never called)."""
    return PartialChannels(torch.zeros(2, 1), torch.ones(1), torch.zeros(11), 1, 1, 0, False,
                           torch.zeros(2, 3), (1.0, 1.0))


class ScriptCodec(nn.Module):
    """Log-magnitude frames to the rotated latent and back, scriptable.

    Build it with :func:`codec_from`.
    """

    def __init__(self, model) -> None:
        super().__init__()
        shape = model.shape
        self.n_bins = int(shape.n_bins)
        self.latent_dim = int(shape.latent_dim)
        self.learned = int(shape.learned_dim)
        self.has_level = bool(shape.level)
        self.has_pitch = bool(shape.pitch)
        self.many = bool(shape.many_pitches)
        self.slots = int(shape.pitch_slots)
        self.peaks = int(shape.free_peaks)
        self.has_presence = bool(shape.presence_channels)
        self.comb_heights = int(shape.comb_heights)
        self.has_spread = bool(shape.comb_bands)
        self.bin_hz = float(shape.bin_hz)
        self.level_index = int(shape.level_index)
        self.slot_index = int(shape.slot_index)
        self.pitch_index = int(shape.pitch_index)
        self.floor = MAGNITUDE_FLOOR
        self.max_log = MAX_LOG_MAGNITUDE
        # the linear layers alone: SiLU follows every encoder layer and every decoder layer
        # but the last (the model's nn.Sequential)
        self.encoder = nn.ModuleList([copy.deepcopy(m) for m in model.encoder
                                      if isinstance(m, nn.Linear)])
        self.to_latent = copy.deepcopy(model.to_latent)
        self.decoder = nn.ModuleList([copy.deepcopy(m) for m in model.decoder
                                      if isinstance(m, nn.Linear)])
        self.decoder_layers = len(self.decoder)
        for name in ("input_mean", "input_std", "latent_center", "latent_rotation", "latent_std"):
            self.register_buffer(name, getattr(model, name).detach().clone().float())
        self.register_buffer("level_stats", model.level_stats.detach().clone().float()
                             if shape.level else torch.tensor([0.0, 1.0]))
        self.register_buffer("pitch_stats", model.pitch_stats.detach().clone().float()
                             if shape.pitch else torch.tensor([36.0, 12.0]))
        self.register_buffer("pitch_matrix", model.pitch_matrix.detach().clone().float()
                             if shape.pitch else torch.zeros(shape.n_bins, 3))
        grid = model.pitch_grid if shape.pitch else (1.0, 1.0)
        self.pitch_first = float(grid[0])
        self.pitch_log_step = float(grid[1])
        self.pitch_offset = math.log2(self.pitch_first / 27.5)
        self.register_buffer("comb_spread", model.comb_spread.detach().clone().float()
                             if shape.comb_bands else torch.zeros(1, 1))
        if self.many:
            mean, std = model.channel_statistics()
            self.register_buffer("channel_mean", mean.detach().clone().float())
            self.register_buffer("channel_std", std.detach().clone().float())
            self.partials = partial_channels_from(model)
        else:
            self.register_buffer("channel_mean", torch.zeros(1))
            self.register_buffer("channel_std", torch.ones(1))
            self.partials = _unused_partials()

    # -- encode --------------------------------------------------------------------------------
    def frame_level(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Each frame's level, the natural log of its RMS magnitude (nepers), (batch,)."""
        return 0.5 * (torch.logsumexp(2.0 * log_mags, dim=-1) - math.log(log_mags.shape[-1]))

    def pitch_semitones(self, log_mags: torch.Tensor) -> torch.Tensor:
        """The one-pitch tracker's pitch of each frame, semitones above A0, (batch,)."""
        return self.partials.fallback_semitones(log_mags) if self.many else \
            self._track(log_mags)

    def _track(self, log_mags: torch.Tensor) -> torch.Tensor:
        root = torch.sqrt(torch.clamp(torch.exp(log_mags) - self.floor, min=0.0))
        scores = stable_mm(root, self.pitch_matrix)
        n = scores.shape[1]
        best = torch.argmax(scores, dim=1)
        inner = torch.clamp(best, 1, n - 2)
        rows = torch.arange(scores.shape[0], device=scores.device)
        left, centre, right = scores[rows, inner - 1], scores[rows, inner], scores[rows, inner + 1]
        curve = left - 2.0 * centre + right
        shift = torch.where(curve < 0.0, 0.5 * (left - right)
                            / torch.where(curve < 0.0, curve, -torch.ones_like(curve)),
                            torch.zeros_like(curve))
        shift = torch.where(best == inner, torch.clamp(shift, -0.5, 0.5), torch.zeros_like(shift))
        octaves = (best.to(scores.dtype) + shift) * self.pitch_log_step
        return 12.0 * (octaves + self.pitch_offset)

    @torch.jit.export
    def encode_raw(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Log-magnitude frames (batch, n_bins) float32 to the unrotated latent (batch, d):
        posterior means, then the level and pitch channels in their standard units."""
        x = log_mags
        level = self.frame_level(x)
        if self.has_level:
            x = x - level[:, None]
        h = (x - self.input_mean) / self.input_std
        for layer in self.encoder:
            h = nn.functional.silu(stable_linear(h, layer.weight, layer.bias))
        h = stable_linear(h, self.to_latent.weight, self.to_latent.bias)
        columns = [h[:, :self.learned]]
        if self.has_level:
            columns.append(((level - self.level_stats[0]) / self.level_stats[1])[:, None])
        if self.many:
            values = self.partials(log_mags).to(h.dtype)
            columns.append((values - self.channel_mean) / self.channel_std)
        elif self.has_pitch:
            columns.append(((self._track(log_mags) - self.pitch_stats[0])
                            / self.pitch_stats[1])[:, None])
        return torch.cat(columns, dim=1)

    @torch.jit.export
    def encode(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Log-magnitude frames (batch, n_bins) float32 to rotated coordinates (batch, d)."""
        return stable_mm(self.encode_raw(log_mags) - self.latent_center, self.latent_rotation)

    # -- decode --------------------------------------------------------------------------------
    def _comb(self, f0_bins: torch.Tensor) -> torch.Tensor:
        """Harmonic combs of Hann main lobes at fundamentals ``f0_bins`` (rows,) in bins,
        (rows, n_bins), 0 to 1 (:func:`caminos.models.autoencoder.harmonic_comb_torch`)."""
        f0 = torch.clamp(f0_bins, min=1.0)[:, None]
        k = torch.arange(self.n_bins, device=f0.device, dtype=f0.dtype)[None, :]
        harmonic = torch.clamp(torch.round(k / f0), min=1.0)
        return self._lobe(k - harmonic * f0)

    def _lobe(self, d: torch.Tensor) -> torch.Tensor:
        """:func:`caminos.models.autoencoder.hann_lobe_torch`."""
        d = torch.abs(d)
        near_one = torch.abs(d - 1.0) < 1e-4
        safe = torch.where(near_one, torch.zeros_like(d), d)
        lobe = torch.abs(torch.sinc(safe) / (1.0 - safe * safe))
        lobe = torch.where(near_one, torch.full_like(d, 0.5), lobe)
        return torch.where(d < 2.0, lobe, torch.zeros_like(d))

    def _semitone_bins(self, semitones: torch.Tensor) -> torch.Tensor:
        return 27.5 * torch.pow(2.0, torch.clamp(semitones, max=200.0) / 12.0) / self.bin_hz

    def _draw(self, log_mags: torch.Tensor, heights: torch.Tensor, values: torch.Tensor,
              level: torch.Tensor) -> torch.Tensor:
        """Every slot's comb and every free peak on the decoded frames
        (:func:`caminos.models.autoencoder.draw_from_values`, in float64 as there)."""
        batch = log_mags.shape[0]
        n = self.n_bins
        dtype = log_mags.dtype
        heights = heights.reshape(batch, self.slots, self.comb_heights).double()
        if self.has_spread:
            heights = stable_mm(heights.reshape(batch * self.slots, self.comb_heights),
                                self.comb_spread.double()).reshape(batch, self.slots, n)
        values = values.double()
        semitones = values[:, :self.slots]
        if self.has_presence:
            gates = torch.clamp(values[:, self.slots:2 * self.slots], 0.0, 1.0)
        else:
            gates = torch.ones_like(semitones)
        start = self.slots + (self.slots if self.has_presence else 0)
        peak_semitones = values[:, start:start + self.peaks]
        peak_log = values[:, start + self.peaks:start + 2 * self.peaks] + level.double()[:, None]
        base = log_mags.double()
        # through Hz and back, as the model rounds it
        f0_bins = self._semitone_bins(semitones).reshape(-1) * self.bin_hz / self.bin_hz
        comb = self._comb(f0_bins).view(batch, self.slots, n)
        raise_ = torch.clamp(nn.functional.softplus(heights) * comb * gates[:, :, None],
                             max=self.max_log)
        out = base + torch.log1p(torch.expm1(raise_).sum(dim=1))
        if self.peaks > 0:
            bins = self._semitone_bins(peak_semitones)
            k = torch.arange(n, device=base.device, dtype=base.dtype)
            lobe = self._lobe(k[None, None, :] - bins[:, :, None])
            peak = torch.exp(torch.clamp(peak_log, max=self.max_log))
            drawn = torch.log(peak[:, :, None] * lobe + self.floor).amax(dim=1)
            out = torch.maximum(out, drawn)
        return out.to(dtype)

    @torch.jit.export
    def decode_raw(self, raw: torch.Tensor) -> torch.Tensor:
        """The unrotated latent (batch, d) to log-magnitude frames (batch, n_bins)
        (:meth:`caminos.models.autoencoder.SpectralVAE._decode_unrotated`)."""
        n = self.n_bins
        out = raw
        for i, layer in enumerate(self.decoder):
            out = stable_linear(out, layer.weight, layer.bias)
            if i + 1 < self.decoder_layers:
                out = nn.functional.silu(out)
        log_mags = out[:, :n] * self.input_std[-n:] + self.input_mean[-n:]
        if self.has_level:
            i = self.level_index
            log_mags = log_mags + (raw[:, i:i + 1] * self.level_stats[1] + self.level_stats[0])
        if self.many:
            values = raw[:, self.slot_index:] * self.channel_std + self.channel_mean
            level = raw[:, self.level_index] * self.level_stats[1] + self.level_stats[0]
            return self._draw(log_mags, out[:, n:], values, level)
        if self.has_pitch:
            semitones = raw[:, self.pitch_index] * self.pitch_stats[1] + self.pitch_stats[0]
            comb = self._comb(27.5 * torch.pow(2.0, semitones / 12.0) / self.bin_hz)
            heights = stable_mm(out[:, n:], self.comb_spread) if self.has_spread else out[:, n:]
            log_mags = log_mags + nn.functional.softplus(heights) * comb
        return log_mags

    @torch.jit.export
    def decode_log(self, z: torch.Tensor) -> torch.Tensor:
        """Rotated coordinates (batch, d) to log-magnitude frames (batch, n_bins)."""
        return self.decode_raw(stable_mm(z, self.latent_rotation.t()) + self.latent_center)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Rotated coordinates (batch, d) to linear magnitudes (batch, n_bins), clamped at
        ``exp(12)`` before the exponential (:func:`caminos.models.autoencoder.linear_magnitude`)."""
        log_mags = self.decode_log(z)
        return torch.clamp(torch.exp(torch.clamp(log_mags, max=self.max_log)) - self.floor,
                           min=0.0)


def codec_from(model) -> ScriptCodec:
    """The scriptable codec of a loaded :class:`~caminos.models.autoencoder.SpectralVAE`
    (evaluation mode, weights copied; the model is left as it is)."""
    codec = ScriptCodec(model)
    codec.eval()
    for parameter in codec.parameters():
        parameter.requires_grad_(False)
    return codec
