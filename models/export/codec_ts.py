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
from typing import List

import torch
from torch import nn

from caminos.models.export.partials_ts import (
    MAGNITUDE_FLOOR,
    PartialChannels,
    partial_channels_from,
)
from caminos.models.export.pitch_ts import OnePitchTracker
from caminos.models.export.rows_ts import stable_linear, stable_mm

MAX_LOG_MAGNITUDE = 12.0  # of caminos.models.autoencoder: exp(12) is above any real STFT bin
CHORD_MOST = 4  # of caminos.engine.clock.codec: chord intervals drawn above the first slot


def _unused_partials() -> PartialChannels:
    """A placeholder analysis for models without several pitches (never called)."""
    return PartialChannels(
        torch.zeros(2, 1),
        torch.ones(1),
        torch.zeros(11),
        1,
        1,
        0,
        False,
        torch.zeros(2, 3),
        (1.0, 1.0),
    )


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
        self.encoder = nn.ModuleList(
            [copy.deepcopy(m) for m in model.encoder if isinstance(m, nn.Linear)]
        )
        self.to_latent = copy.deepcopy(model.to_latent)
        self.decoder = nn.ModuleList(
            [copy.deepcopy(m) for m in model.decoder if isinstance(m, nn.Linear)]
        )
        self.decoder_layers = len(self.decoder)
        for name in ("input_mean", "input_std", "latent_center", "latent_rotation", "latent_std"):
            self.register_buffer(name, getattr(model, name).detach().clone().float())
        self.register_buffer(
            "level_stats",
            model.level_stats.detach().clone().float() if shape.level else torch.tensor([0.0, 1.0]),
        )
        self.register_buffer(
            "pitch_stats",
            model.pitch_stats.detach().clone().float()
            if shape.pitch
            else torch.tensor([36.0, 12.0]),
        )
        self.one_pitch = OnePitchTracker(
            model.pitch_matrix if shape.pitch else torch.zeros(shape.n_bins, 3),
            (float(model.pitch_grid[0]), float(model.pitch_grid[1])) if shape.pitch else (1.0, 1.0),
            MAGNITUDE_FLOOR,
        )
        self.register_buffer(
            "comb_spread",
            model.comb_spread.detach().clone().float() if shape.comb_bands else torch.zeros(1, 1),
        )
        if self.many:
            mean, std = model.channel_statistics()
            self.register_buffer("channel_mean", mean.detach().clone().float())
            self.register_buffer("channel_std", std.detach().clone().float())
            self.partials = partial_channels_from(model)
        else:
            self.register_buffer("channel_mean", torch.zeros(1))
            self.register_buffer("channel_std", torch.ones(1))
            self.partials = _unused_partials()
        # The decoder's drawing controls, as the engine's FrameCodec (/latent/pitches,
        # /latent/chord): how many slots are drawn, and the chord's intervals (semitones
        # above the first slot; the first ``chord_count`` entries are drawn).
        self.drawn_slots = self.slots
        self.register_buffer("slot_gain", torch.ones(self.slots, dtype=torch.float64))
        self.register_buffer("chord", torch.zeros(CHORD_MOST, dtype=torch.float64))
        self.chord_count = 0
        # every bin's index, made once (each tensor operation costs a few microseconds in
        # TorchScript's interpreter, whatever its size)
        self.register_buffer(
            "bin_index", torch.arange(self.n_bins, dtype=torch.float64), persistent=False
        )

    # -- drawing controls ----------------------------------------------------------------------
    @torch.jit.export
    def set_drawn_slots(self, count: int) -> None:
        """Draw the first ``count`` pitch slots (at least 1; more than the model has draws them
        all), the others not (:meth:`caminos.engine.clock.codec.FrameCodec.set_pitch_slots`)."""
        count = max(1, count)
        self.drawn_slots = min(count, self.slots)
        gain = (torch.arange(self.slots) < count).to(torch.float64)
        self.slot_gain.copy_(gain)

    @torch.jit.export
    def set_chord(self, semitones: List[float]) -> None:
        """Draw one more comb per interval (semitones above the first slot, with its heights
        and gate), at most :data:`CHORD_MOST`; 0 (a unison) draws none; an empty list: no chord
        (:meth:`caminos.engine.clock.codec.FrameCodec.set_chord`).

        As the engine, the intervals are written before their count (nn~ calls a setter while
        its thread may be running a method), so a call that reads them between two writes
        draws at most the old count of written intervals.
        """
        values: List[float] = []
        for v in semitones:
            if v != 0.0 and len(values) < self.chord.shape[0]:
                values.append(float(v))
        self.chord_count = min(self.chord_count, len(values))
        for i, v in enumerate(values):
            self.chord[i] = v
        self.chord_count = len(values)

    @torch.jit.export
    def chord_intervals(self) -> List[float]:
        """The intervals drawn, semitones; empty: no chord."""
        return [float(self.chord[i]) for i in range(self.chord_count)]

    # -- encode --------------------------------------------------------------------------------
    def frame_level(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Each frame's level, the natural log of its RMS magnitude (nepers), (batch,)."""
        return 0.5 * (torch.logsumexp(2.0 * log_mags, dim=-1) - math.log(log_mags.shape[-1]))

    def pitch_semitones(self, log_mags: torch.Tensor) -> torch.Tensor:
        """The one-pitch tracker's pitch of each frame, semitones above A0, (batch,)."""
        return self.one_pitch(log_mags)

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
        columns = [h[:, : self.learned]]
        if self.has_level:
            columns.append(((level - self.level_stats[0]) / self.level_stats[1])[:, None])
        if self.many:
            values = self.partials(log_mags).to(h.dtype)
            columns.append((values - self.channel_mean) / self.channel_std)
        elif self.has_pitch:
            columns.append(
                ((self.one_pitch(log_mags) - self.pitch_stats[0]) / self.pitch_stats[1])[:, None]
            )
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
        k = self.bin_index.to(f0.dtype)[None, :]
        harmonic = torch.clamp(torch.round(k / f0), min=1.0)
        return self._lobe(k - harmonic * f0)

    def _lobe(self, d: torch.Tensor) -> torch.Tensor:
        """:func:`caminos.models.autoencoder.hann_lobe_torch`."""
        d = torch.abs(d)
        near_one = torch.abs(d - 1.0) < 1e-4
        safe = torch.where(near_one, 0.0, d)
        lobe = torch.abs(torch.sinc(safe) / (1.0 - safe * safe))
        lobe = torch.where(near_one, 0.5, lobe)
        return torch.where(d < 2.0, lobe, 0.0)

    def _semitone_bins(self, semitones: torch.Tensor) -> torch.Tensor:
        return 27.5 * torch.pow(2.0, torch.clamp(semitones, max=200.0) / 12.0) / self.bin_hz

    def _draw(
        self,
        log_mags: torch.Tensor,
        heights: torch.Tensor,
        values: torch.Tensor,
        level: torch.Tensor,
    ) -> torch.Tensor:
        """Every slot's comb and every free peak on the decoded frames
        (:func:`caminos.models.autoencoder.draw_from_values`, in float64 as there)."""
        batch = log_mags.shape[0]
        n = self.n_bins
        dtype = log_mags.dtype
        heights = heights.reshape(batch, self.slots, self.comb_heights).double()
        if self.has_spread:
            heights = stable_mm(
                heights.reshape(batch * self.slots, self.comb_heights), self.comb_spread.double()
            ).reshape(batch, self.slots, n)
        values = values.double()
        semitones = values[:, : self.slots]
        if self.has_presence:
            gates = torch.clamp(values[:, self.slots : 2 * self.slots], 0.0, 1.0)
        else:
            gates = torch.ones_like(semitones)
        start = self.slots + (self.slots if self.has_presence else 0)
        peak_semitones = values[:, start : start + self.peaks]
        peak_log = values[:, start + self.peaks : start + 2 * self.peaks] + level.double()[:, None]
        base = log_mags.double()
        slots = self.slots
        if self.drawn_slots < self.slots:  # /latent/pitches: the first slots alone
            gates = gates * self.slot_gain[None, :]
        # through Hz and back, as the model rounds it
        f0_bins = self._semitone_bins(semitones).reshape(-1) * self.bin_hz / self.bin_hz
        if self.chord_count > 0:  # /latent/chord: the first slot again at each interval
            count = self.chord_count
            slots = self.slots + count
            chord = self._chord_bins(semitones[:, 0], count)
            f0_bins = torch.cat([f0_bins.view(batch, self.slots), chord], dim=1).reshape(-1)
            heights = torch.cat([heights, heights[:, :1].expand(batch, count, n)], dim=1)
            gates = torch.cat([gates, gates[:, :1].expand(batch, count)], dim=1)
        comb = self._comb(f0_bins).view(batch, slots, n)
        raise_ = torch.clamp(
            nn.functional.softplus(heights) * comb * gates[:, :, None], max=self.max_log
        )
        out = base + torch.log1p(torch.expm1(raise_).sum(dim=1))
        if self.peaks > 0:
            bins = self._semitone_bins(peak_semitones)
            k = self.bin_index
            lobe = self._lobe(k[None, None, :] - bins[:, :, None])
            peak = torch.exp(torch.clamp(peak_log, max=self.max_log))
            drawn = torch.log(peak[:, :, None] * lobe + self.floor).amax(dim=1)
            out = torch.maximum(out, drawn)
        return out.to(dtype)

    def _chord_bins(self, first: torch.Tensor, count: int) -> torch.Tensor:
        """Fundamentals (rows, count) in bins of the chord's combs above the first slot's
        pitch ``first`` (rows,) semitones, within 1 to ``n_bins`` bins as the engine's kernel
        clamps them (:func:`caminos.engine.clock.codec.draw_slots_and_peaks`)."""
        semitones = first.double()[:, None] + self.chord[:count][None, :]
        return torch.clamp(self._semitone_bins(semitones), 1.0, float(self.n_bins))

    def _one_comb_chord(
        self, log_mags: torch.Tensor, heights: torch.Tensor, semitones: torch.Tensor
    ) -> torch.Tensor:
        """A one-comb model's comb and the chord's: ``log(exp(x) (1 + sum_c (exp(g_c) - 1)))``
        with ``g_c = min(softplus(heights) comb_c, 12)``, in float64, as the engine draws a
        one-comb model's chord (one slot, gate 1)."""
        batch, n = log_mags.shape[0], self.n_bins
        count = self.chord_count
        first = torch.clamp(self._semitone_bins(semitones.double()), 1.0, float(n))
        f0_bins = torch.cat([first[:, None], self._chord_bins(semitones, count)], dim=1)
        comb = self._comb(f0_bins.reshape(-1)).view(batch, 1 + count, n)
        raise_ = torch.clamp(
            nn.functional.softplus(heights.double())[:, None, :] * comb, max=self.max_log
        )
        out = log_mags.double() + torch.log1p(torch.expm1(raise_).sum(dim=1))
        return out.to(log_mags.dtype)

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
            log_mags = log_mags + (raw[:, i : i + 1] * self.level_stats[1] + self.level_stats[0])
        if self.many:
            values = raw[:, self.slot_index :] * self.channel_std + self.channel_mean
            level = raw[:, self.level_index] * self.level_stats[1] + self.level_stats[0]
            return self._draw(log_mags, out[:, n:], values, level)
        if self.has_pitch:
            semitones = raw[:, self.pitch_index] * self.pitch_stats[1] + self.pitch_stats[0]
            heights = stable_mm(out[:, n:], self.comb_spread) if self.has_spread else out[:, n:]
            if self.chord_count > 0:
                return self._one_comb_chord(log_mags, heights, semitones)
            comb = self._comb(27.5 * torch.pow(2.0, semitones / 12.0) / self.bin_hz)
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
        return torch.clamp(torch.exp(torch.clamp(log_mags, max=self.max_log)) - self.floor, min=0.0)


def codec_from(model) -> ScriptCodec:
    """The scriptable codec of a loaded :class:`~caminos.models.autoencoder.SpectralVAE`
    (evaluation mode, weights copied; the model is left as it is)."""
    codec = ScriptCodec(model)
    codec.eval()
    for parameter in codec.parameters():
        parameter.requires_grad_(False)
    return codec
