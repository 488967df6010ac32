"""Spectral variational autoencoder: log-magnitude STFT frames to a small latent and back.

The model between analysis and phase recovery (``docs/architecture.md`` sections 1 and 6):
sources' magnitude frames are encoded to ``z``, the latent mixer moves ``z``, and the decoder gives
magnitudes back. Two latent channels are measured rather than learnt, the frame's level and its
pitch (:mod:`caminos.models.pitch`); the decoder adds the level back and raises partials on the
harmonic
comb of the pitch. After training, the latent is rotated so axis 0 carries the most variance, and
each axis is described by the audio descriptors it moves most (:func:`describe_axes`), so a
performer knows what it does.

Why this shape: like CANNe/ANNe, a fully connected network on single magnitude frames (optionally
with a few past frames, which adds no latency); unlike them it is variational, as in Latent Timbre
Synthesis, so points between two sounds decode to in-between spectra; unlike RAVE it works on STFT
frames, so phase recovery and time-stretch stay in the engine and batch-1 encode+decode costs a
fraction of a millisecond on one CPU thread; like DDSP and vschaos2 it takes pitch out of the
learnt latent, so unseen pitches keep their partials.

Why this file is longer than 500 lines: the spectral model and its fused real-time form: encoder,
decoder, the pitch and level channels, the harmonic comb and free peaks drawn in torch, the latent
rotation and statistics, which the training, the export and the hop clock's codec all read.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from caminos.engine.core.config import StftConfig
from caminos.models.shape import (
    MAGNITUDE_FLOOR,
    MAX_LOG_MAGNITUDE,
    TERMS,
    HopModel,
    ModelShape,
    band_interpolation,
    plain_json,
)

DESCRIPTORS = ("loudness_db", "centroid_hz", "flatness_db", "harmonicity")
DESCRIPTOR_WORDS = {  # what a positive change of each descriptor sounds like
    "loudness_db": ("louder", "quieter"),
    "centroid_hz": ("brighter", "darker"),
    "flatness_db": ("noisier", "more tonal"),
    "harmonicity": ("more harmonic", "less harmonic"),
}


def log_magnitude(magnitudes: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """``log(|X| + MAGNITUDE_FLOOR)``, natural log, for numpy arrays or tensors."""
    if isinstance(magnitudes, torch.Tensor):
        return torch.log(magnitudes + MAGNITUDE_FLOOR)
    return np.log(np.asarray(magnitudes) + MAGNITUDE_FLOOR)


def linear_magnitude(log_mags: torch.Tensor) -> torch.Tensor:
    """Decoded natural-log magnitudes back to linear ones: the inverse of :func:`log_magnitude`,
    clamped at :data:`MAX_LOG_MAGNITUDE` before the exponential and at 0 after the floor."""
    return torch.clamp(
        torch.exp(torch.clamp(log_mags, max=MAX_LOG_MAGNITUDE)) - MAGNITUDE_FLOOR, min=0.0
    )


def frame_level(log_mags: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Level of log-magnitude frames: the natural log of their RMS magnitude over bins.

    ``0.5 * log(mean_k exp(2 x_k))`` over the last axis, computed stably; for ``x =
    log(|X| + MAGNITUDE_FLOOR)`` this is ``log(rms_k(|X_k| + floor))``, so a silent frame has
    the floor's level, ``log(1e-3) = -6.9``.
    """
    if isinstance(log_mags, torch.Tensor):
        n = log_mags.shape[-1]
        return 0.5 * (torch.logsumexp(2.0 * log_mags, dim=-1) - float(np.log(n)))
    x = np.asarray(log_mags)
    top = x.max(axis=-1, keepdims=True)
    inner = np.log(np.mean(np.exp(2.0 * (x - top)), axis=-1))
    return top[..., 0] + 0.5 * inner


def harmonic_comb_torch(f0_hz: torch.Tensor, n_bins: int, bin_hz: float) -> torch.Tensor:
    """:func:`caminos.models.pitch.harmonic_comb` for tensors: (batch,) Hz to (batch, n_bins),
    0 to 1."""
    f0_bins = torch.clamp(f0_hz / bin_hz, min=1.0)[:, None]
    k = torch.arange(n_bins, device=f0_hz.device, dtype=f0_hz.dtype)[None, :]
    harmonic = torch.clamp(torch.round(k / f0_bins), min=1.0)
    return hann_lobe_torch(k - harmonic * f0_bins)


def hann_lobe_torch(d: torch.Tensor) -> torch.Tensor:
    """The Hann window's normalised main lobe at ``d`` bins from its centre (0 beyond 2), for
    tensors (:func:`caminos.models.pitch.hann_lobe`)."""
    d = torch.abs(d)
    near_one = torch.abs(d - 1.0) < 1e-4
    safe = torch.where(near_one, torch.zeros_like(d), d)
    lobe = torch.abs(torch.sinc(safe) / (1.0 - safe**2))
    lobe = torch.where(near_one, torch.full_like(d, 0.5), lobe)
    return torch.where(d < 2.0, lobe, torch.zeros_like(d))


def semitones_to_bins(semitones: torch.Tensor, bin_hz: float) -> torch.Tensor:
    """Semitones above A0 to a frequency in bins of ``bin_hz`` Hz."""
    return 27.5 * torch.pow(2.0, torch.clamp(semitones, max=200.0) / 12.0) / bin_hz


def draw_partials_torch(
    log_mags: torch.Tensor,
    heights: torch.Tensor,
    semitones: torch.Tensor,
    gates: torch.Tensor,
    peak_semitones: torch.Tensor,
    peak_log_mags: torch.Tensor,
    bin_hz: float,
) -> torch.Tensor:
    """Raise one harmonic comb per pitch slot and draw the free peaks on decoded spectra.

    Parameters
    ----------
    log_mags : Tensor, shape (batch, n_bins)
        The decoded spectrum's shape and level, natural-log magnitudes.
    heights : Tensor, shape (batch, slots, n_bins)
        Each slot's comb heights before softplus (nepers on a harmonic).
    semitones, gates : Tensor, shape (batch, slots)
        Each slot's pitch (semitones above A0) and the share of its comb drawn (0 to 1).
    peak_semitones, peak_log_mags : Tensor, shape (batch, peaks)
        Each free peak's frequency (semitones above A0) and natural-log magnitude.
    bin_hz : float
        Width of a bin, in Hz.

    Returns
    -------
    Tensor, shape (batch, n_bins)
        ``log(exp(x) * (1 + sum_s (exp(g_s) - 1)))`` with ``g_s = softplus(height) * comb_s *
        gate_s``: each slot multiplies the bins it raises as a one-slot comb would, and bins two
        slots share add their raises as magnitudes add, not as their logarithms (a unison is not
        twice as loud in nepers). Then each peak's main lobe replaces the bins it overtops:
        ``max(that, log(|peak| lobe + floor))``.
    """
    n = heights.shape[2]
    dtype = log_mags.dtype
    # In float64, as the hop path's kernel computes it: sums of exponentials of raises of up to
    # 12 nepers lose a few 1e-4 of a neper to float32 rounding otherwise.
    log_mags, heights, semitones, gates = (
        t.double() for t in (log_mags, heights, semitones, gates)
    )
    peak_semitones, peak_log_mags = peak_semitones.double(), peak_log_mags.double()
    # The combs' places, the gates and the peaks come from the partial analysis, not from the
    # network: no gradient flows through them, so on the CPU the compiled kernels draw them
    # (training's largest share of a step before, in torch operations).
    draw = combs_and_peaks if log_mags.device.type == "cpu" else combs_and_peaks_torch
    gated, drawn = draw(semitones, gates, peak_semitones, peak_log_mags, n, bin_hz)
    raise_ = torch.clamp(torch.nn.functional.softplus(heights) * gated, max=MAX_LOG_MAGNITUDE)
    out = log_mags + torch.log1p(torch.expm1(raise_).sum(dim=1))
    if drawn is not None:
        out = torch.maximum(out, drawn)
    return out.to(dtype)


def combs_and_peaks_torch(
    semitones: torch.Tensor,
    gates: torch.Tensor,
    peak_semitones: torch.Tensor,
    peak_log_mags: torch.Tensor,
    n_bins: int,
    bin_hz: float,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What :func:`draw_partials_torch` draws from the many-pitch channels alone, in torch
    operations on any device: the gated combs (batch, slots, n_bins) and the peaks'
    log-magnitudes (batch, n_bins), None without peaks. Arguments as
    :func:`draw_partials_torch`'s."""
    batch, slots = semitones.shape
    f0_hz = semitones_to_bins(semitones.detach(), bin_hz).reshape(-1) * bin_hz
    combs = harmonic_comb_torch(f0_hz, n_bins, bin_hz).view(batch, slots, n_bins)
    gated = combs * gates.detach()[:, :, None]
    if not peak_semitones.shape[1]:
        return gated, None
    bins = semitones_to_bins(peak_semitones.detach(), bin_hz)
    k = torch.arange(n_bins, device=semitones.device, dtype=semitones.dtype)
    lobe = hann_lobe_torch(k[None, None, :] - bins[:, :, None])
    peak = torch.exp(torch.clamp(peak_log_mags.detach(), max=MAX_LOG_MAGNITUDE))
    return gated, torch.log(peak[:, :, None] * lobe + MAGNITUDE_FLOOR).amax(dim=1)


def combs_and_peaks(
    semitones: torch.Tensor,
    gates: torch.Tensor,
    peak_semitones: torch.Tensor,
    peak_log_mags: torch.Tensor,
    n_bins: int,
    bin_hz: float,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What :func:`draw_partials_torch` draws from the many-pitch channels alone, on the CPU by
    :func:`caminos.models.pitch.gated_combs` and :func:`caminos.models.pitch.peak_lobes`: the
    gated combs and the peaks' log-magnitudes of :func:`combs_and_peaks_torch`, float64 tensors,
    in a seventh to an eleventh of its time (``benchmarks/training.py``). Arguments on the CPU.
    (Shared among threads the rows took no less time: torch's threads still spin after its
    operations.)"""
    # Imported here: the voice's process imports this module and runs no numba.
    from caminos.models.pitch import gated_combs, peak_lobes

    places, shares = _numpy(semitones), _numpy(gates)
    peak_places, peak_levels = _numpy(peak_semitones), _numpy(peak_log_mags)
    batch, slots = places.shape
    combs = np.empty((batch, slots, n_bins))
    lobes = np.empty((batch, n_bins)) if peak_places.shape[1] else None

    gated_combs(places, shares, bin_hz, combs)
    if lobes is not None:
        peak_lobes(peak_places, peak_levels, bin_hz, MAX_LOG_MAGNITUDE, MAGNITUDE_FLOOR, lobes)
    return torch.from_numpy(combs), None if lobes is None else torch.from_numpy(lobes)


def _numpy(values: torch.Tensor) -> np.ndarray:
    """A CPU tensor's numbers as a C-ordered float64 array, outside autograd."""
    return np.ascontiguousarray(values.detach().numpy(), np.float64)


def partial_values_numpy(
    analyser, log_mags: np.ndarray, fallback_hz: np.ndarray, shape: ModelShape, stream: bool = False
) -> np.ndarray:
    """:meth:`SpectralVAE.partial_values` on numpy: current frames' log-magnitudes (batch,
    n_bins) float64 and each frame's one-pitch estimate (Hz) to the channels (batch, J); with
    ``stream``, the frames are consecutive frames of one sound, read as the analyser's stream
    (:meth:`caminos.models.partials.PartialAnalyser.analyse_stream`), else each alone."""
    from caminos.models.partials import channel_values

    mags = np.maximum(np.exp(log_mags) - MAGNITUDE_FLOOR, 0.0)
    analyse = analyser.analyse_stream if stream else analyser.analyse
    f0, presence, peak_bins, peak_mags = analyse(mags, fallback_hz)
    values = np.zeros((len(log_mags), shape.latent_dim - shape.slot_index))
    channel_values(
        frame_level(log_mags),
        f0,
        presence,
        peak_bins,
        peak_mags,
        bool(shape.presence_channels),
        shape.bin_hz,
        values,
    )
    return values


def draw_from_values(
    log_mags: torch.Tensor,
    heights: torch.Tensor,
    values: torch.Tensor,
    level: torch.Tensor,
    shape: ModelShape,
    comb_spread: torch.Tensor | None,
) -> torch.Tensor:
    """:func:`draw_partials_torch` from the many-pitch channels in natural units (batch, J),
    the frame's level (batch,) nepers and the decoder's comb outputs (batch, slots * heights)."""
    heights = heights.reshape(len(heights), shape.pitch_slots, shape.comb_heights).double()
    if comb_spread is not None:
        heights = heights @ comb_spread.double()
    return draw_partials_torch(
        log_mags, heights, *channels_to_draw(values, level, shape), shape.bin_hz
    )


def channels_to_draw(
    values: torch.Tensor, level: torch.Tensor, shape: ModelShape
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The many-pitch channels in natural units (batch, J) and the frame's level (batch,)
    nepers as :func:`draw_partials_torch` takes them: each slot's pitch and gate (batch, slots),
    each free peak's pitch and natural-log magnitude (batch, peaks)."""
    slots, peaks = shape.pitch_slots, shape.free_peaks
    semitones = values[:, :slots]
    gates = (
        torch.clamp(values[:, slots : 2 * slots], 0.0, 1.0)
        if shape.presence_channels
        else torch.ones_like(semitones)
    )
    start = slots + shape.presence_channels
    peak_semitones = values[:, start : start + peaks]
    peak_log = values[:, start + peaks : start + 2 * peaks] + level[:, None]
    return semitones, gates, peak_semitones, peak_log


def stack_context(
    log_mags: np.ndarray, context: int, starts: np.ndarray | None = None
) -> np.ndarray:
    """Stack each frame with its ``context`` past frames, oldest first.

    Parameters
    ----------
    log_mags : ndarray, shape (n_frames, n_bins)
        Log-magnitude frames of one or several files laid end to end.
    context : int >= 0
        Past frames per input.
    starts : ndarray of int, optional
        Index of each file's first frame; past frames never cross into another file (the first
        frame of a file is repeated instead). Defaults to one file.

    Returns
    -------
    ndarray, shape (n_frames, n_bins * (context + 1)), same dtype
    """
    if context == 0:
        return log_mags
    n = len(log_mags)
    starts = np.zeros(1, dtype=np.int64) if starts is None else np.asarray(starts, dtype=np.int64)
    first = np.zeros(n, dtype=np.int64)
    first[starts] = starts
    first = np.maximum.accumulate(first)  # each frame's file start
    index = np.arange(n)
    columns = [log_mags[np.maximum(index - lag, first)] for lag in range(context, -1, -1)]
    return np.concatenate(columns, axis=1)


class SpectralVAE(nn.Module):
    """Variational autoencoder on (normalised) log-magnitude frames.

    Parameters
    ----------
    shape : ModelShape
        Sizes of the network.

    Notes
    -----
    Training uses :meth:`forward` on log-magnitudes. Everything else uses :meth:`encode`
    (log-magnitudes to latent coordinates) and :meth:`decode` (latent coordinates to linear
    magnitudes). Latent coordinates are the posterior means (and, with ``shape.level``, the
    frame's level in its own standard units as the last raw channel), centred and rotated by
    :meth:`set_latent_statistics` so that axis 0 has the largest variance; ``latent_std`` gives
    each axis's standard deviation, the unit of OSC offsets.
    """

    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        self.shape = shape
        widths = (shape.n_inputs, *shape.hidden)
        encoder: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            encoder += [nn.Linear(a, b), nn.SiLU()]
        self.encoder = nn.Sequential(*encoder)
        self.to_latent = nn.Linear(widths[-1], 2 * shape.learned_dim)  # mean and log-variance
        back = (shape.latent_dim, *shape.decoder_widths)
        decoder: list[nn.Module] = []
        for a, b in zip(back[:-1], back[1:]):
            decoder += [nn.Linear(a, b), nn.SiLU()]
        # With a pitch channel the last layer also gives the comb's heights (before softplus).
        decoder.append(nn.Linear(back[-1], shape.n_bins + shape.comb_outputs))
        self.decoder = nn.Sequential(*decoder)
        d = shape.latent_dim
        # Per-bin statistics of the training log-magnitudes (inputs are normalised by them; with
        # shape.level, of the log-magnitudes less each frame's level).
        self.register_buffer("input_mean", torch.zeros(shape.n_inputs))
        self.register_buffer("input_std", torch.ones(shape.n_inputs))
        # Mean and std of the training frames' levels (natural log), the level channel's units.
        if shape.level:
            self.register_buffer("level_stats", torch.tensor([0.0, 1.0]))
        if shape.pitch:
            # Mean and std of the training frames' pitch in semitones above A0, the pitch
            # channel's units; the tracker's matrix is derived from the shape, so it is not saved.
            self.register_buffer("pitch_stats", torch.tensor([36.0, 12.0]))
            from caminos.models.pitch import PitchTracker

            n_fft = 2 * (shape.n_bins - 1)
            tracker = PitchTracker(n_fft, round(shape.bin_hz * n_fft))
            self.register_buffer(
                "pitch_matrix", torch.as_tensor(tracker.matrix_t), persistent=False
            )
            self.pitch_grid = (float(tracker.candidates[0]), float(tracker.log_step))
            if shape.comb_bands:
                lower, weight = band_interpolation(shape.n_bins, shape.comb_bands)
                spread = np.zeros((shape.comb_bands, shape.n_bins), np.float32)
                spread[lower, np.arange(shape.n_bins)] = 1.0 - weight
                spread[lower + 1, np.arange(shape.n_bins)] += weight
                self.register_buffer("comb_spread", torch.as_tensor(spread), persistent=False)
            if shape.many_pitches:
                from caminos.models.partials import PartialAnalyser

                self.partials = PartialAnalyser(
                    n_fft, round(shape.bin_hz * n_fft), shape.pitch_slots, shape.free_peaks
                )
            if shape.free_peaks:
                # Mean and std of the free peaks' magnitudes, nepers over their frame's level.
                self.register_buffer("peak_stats", torch.tensor([-2.0, 2.0]))
        # Latent rotation: coordinates = (mu - latent_center) @ latent_rotation.
        self.register_buffer("latent_center", torch.zeros(d))
        self.register_buffer("latent_rotation", torch.eye(d))
        self.register_buffer("latent_std", torch.ones(d))
        self.register_buffer("explained_variance", torch.full((d,), 1.0 / d))

    # -- training ------------------------------------------------------------------------------
    def set_input_statistics(self, log_mags: np.ndarray) -> None:
        """Fit the input normalisation on training inputs, shape (n, n_inputs)."""
        x = np.asarray(log_mags, dtype=np.float64)
        if self.shape.level:
            level = frame_level(x[:, -self.shape.n_bins :])
            self.level_stats.copy_(
                torch.tensor([level.mean(), max(level.std(), 1e-3)], dtype=self.level_stats.dtype)
            )
            x = x - level[:, None]
        if self.shape.pitch:
            current = torch.as_tensor(
                np.asarray(log_mags)[:, -self.shape.n_bins :], dtype=torch.float32
            )
            with torch.no_grad():
                semitones = self.pitch_semitones(current).numpy().astype(np.float64)
            if self.shape.many_pitches:
                values = self.partial_values(current)
                semitones = values[:, 0]
                if self.shape.free_peaks:
                    relative = values[:, self.shape.peak_level_index - self.shape.slot_index :]
                    self.peak_stats.copy_(
                        torch.tensor(
                            [relative.mean(), max(relative.std(), 1e-3)],
                            dtype=self.peak_stats.dtype,
                        )
                    )
            self.pitch_stats.copy_(
                torch.tensor(
                    [semitones.mean(), max(semitones.std(), 1e-3)], dtype=self.pitch_stats.dtype
                )
            )
        mean = x.mean(axis=0)
        std = np.maximum(x.std(axis=0), 1e-3)
        self.input_mean.copy_(torch.as_tensor(mean, dtype=self.input_mean.dtype))
        self.input_std.copy_(torch.as_tensor(std, dtype=self.input_std.dtype))

    @torch.no_grad()
    def pitch_semitones(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Tracked pitch of each input's current frame, semitones above A0, shape (batch,).

        The same subharmonic summation as :class:`caminos.models.pitch.PitchTracker`, on tensors.
        """
        first, log_step = self.pitch_grid
        return track_pitch_torch(
            log_mags[:, -self.shape.n_bins :], self.pitch_matrix, first, log_step
        )

    @torch.no_grad()
    def partial_values(self, log_mags: torch.Tensor, stream: bool = False) -> np.ndarray:
        """The many-pitch channels of each input's current frame, in natural units, (batch, J).

        Columns in the latent's order from :attr:`ModelShape.slot_index`: slot pitches
        (semitones above A0), presences (0 to 1, with several slots), free peaks' frequencies
        (semitones) and magnitudes (nepers over the frame's level, :func:`frame_level`). Measured
        by :class:`caminos.models.partials.PartialAnalyser`: on each frame alone (training), or,
        with ``stream``, on the inputs as consecutive frames of one sound, continuing the stream
        :meth:`start_stream` began (what the engine hears).
        """
        current = log_mags[:, -self.shape.n_bins :]
        fallback = 27.5 * 2.0 ** (
            self.pitch_semitones(current).cpu().numpy().astype(np.float64) / 12.0
        )
        x = current.detach().cpu().numpy().astype(np.float64)
        return partial_values_numpy(self.partials, x, fallback, self.shape, stream)

    def channel_statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of each many-pitch channel (natural units to the unrotated latent's
        standard units), shape (J,) each, in :meth:`partial_values`' order."""
        shape = self.shape
        mean = (
            [self.pitch_stats[0]] * shape.pitch_slots
            + [torch.tensor(0.0)] * shape.presence_channels
            + [self.pitch_stats[0]] * shape.free_peaks
        )
        std = (
            [self.pitch_stats[1]] * shape.pitch_slots
            + [torch.tensor(1.0)] * shape.presence_channels
            + [self.pitch_stats[1]] * shape.free_peaks
        )
        if shape.free_peaks:
            mean += [self.peak_stats[0]] * shape.free_peaks
            std += [self.peak_stats[1]] * shape.free_peaks
        return (
            torch.stack([torch.as_tensor(m, dtype=torch.float32) for m in mean]),
            torch.stack([torch.as_tensor(v, dtype=torch.float32) for v in std]),
        )

    def level(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Level of each input's current frame (:func:`frame_level`), shape (batch,)."""
        return frame_level(log_mags[:, -self.shape.n_bins :])

    def normalise(self, log_mags: torch.Tensor, level: torch.Tensor | None = None) -> torch.Tensor:
        """Inputs in per-bin standard units (less the current frame's level, with shape.level)."""
        if self.shape.level:
            level = self.level(log_mags) if level is None else level
            log_mags = log_mags - level[:, None]
        return (log_mags - self.input_mean) / self.input_std

    def _posterior(
        self, log_mags: torch.Tensor, stream: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Posterior mean and log-variance of the learned dims, and the scaled explicit channels
        (level, pitch: those the shape has, each (batch,)); ``stream`` as in
        :meth:`partial_values`."""
        level = self.level(log_mags) if self.shape.level else None
        mu, logvar = self.to_latent(self.encoder(self.normalise(log_mags, level))).chunk(2, dim=-1)
        channels = []
        if level is not None:
            channels.append((level - self.level_stats[0]) / self.level_stats[1])
        if self.shape.many_pitches:
            mean, std = self.channel_statistics()
            values = torch.as_tensor(
                self.partial_values(log_mags, stream), dtype=mu.dtype, device=mu.device
            )
            scaled = (values - mean.to(mu.device)) / std.to(mu.device)
            channels.extend(scaled.unbind(dim=1))
        elif self.shape.pitch:
            channels.append(
                (self.pitch_semitones(log_mags) - self.pitch_stats[0]) / self.pitch_stats[1]
            )
        return mu, logvar, channels

    def _decode_unrotated(self, raw: torch.Tensor) -> torch.Tensor:
        """Unrotated latent (batch, latent_dim) to the current frame's log-magnitudes."""
        shape = self.shape
        n = shape.n_bins
        out = self.decoder(raw)
        log_mags = out[:, :n] * self.input_std[-n:] + self.input_mean[-n:]
        if shape.level:
            index = shape.level_index
            log_mags = log_mags + (
                raw[:, index : index + 1] * self.level_stats[1] + self.level_stats[0]
            )
        if shape.many_pitches:
            mean, std = self.channel_statistics()
            values = raw[:, shape.slot_index :] * std.to(raw.device) + mean.to(raw.device)
            level = raw[:, shape.level_index] * self.level_stats[1] + self.level_stats[0]
            return draw_from_values(
                log_mags,
                out[:, n:],
                values,
                level,
                shape,
                self.comb_spread if shape.comb_bands else None,
            )
        if shape.pitch:
            semitones = raw[:, shape.pitch_index] * self.pitch_stats[1] + self.pitch_stats[0]
            f0 = 27.5 * torch.pow(2.0, semitones / 12.0)
            comb = harmonic_comb_torch(f0.detach(), n, shape.bin_hz)
            heights = out[:, n:] @ self.comb_spread if shape.comb_bands else out[:, n:]
            log_mags = log_mags + torch.nn.functional.softplus(heights) * comb
        return log_mags

    def forward(
        self, log_mags: torch.Tensor, sample: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One training pass.

        Parameters
        ----------
        log_mags : Tensor, shape (batch, n_inputs)
            Log-magnitudes (:func:`log_magnitude`), with context stacked.
        sample : bool
            Draw ``z`` from the posterior (training) or take its mean (validation).

        Returns
        -------
        recon : Tensor, shape (batch, n_bins)
            The current frame's log-magnitudes as decoded (natural log, floor included).
        mu, logvar : Tensor, shape (batch, learned_dim)
            Posterior mean and log-variance of the learned dims, in the unrotated latent.
        """
        mu, logvar, channels = self._posterior(log_mags)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        if channels:
            z = torch.cat([z, *(c[:, None] for c in channels)], dim=1)
        return self._decode_unrotated(z), mu, logvar

    def target(self, log_mags: torch.Tensor) -> torch.Tensor:
        """The part of an input that the decoder reproduces (the current frame)."""
        return log_mags[:, -self.shape.n_bins :]

    # -- inference -----------------------------------------------------------------------------
    def start_stream(self) -> None:
        """Begin a new sound for ``stream`` encoding: its next frame is read alone."""
        if self.shape.many_pitches:
            self.partials.reset()

    def encode_raw(self, log_mags: torch.Tensor, stream: bool = False) -> torch.Tensor:
        """Posterior means and explicit channels in the unrotated latent, (batch, latent_dim);
        ``stream`` as in :meth:`partial_values`."""
        mu, _, channels = self._posterior(log_mags, stream)
        return torch.cat([mu, *(c[:, None] for c in channels)], dim=1) if channels else mu

    def encode(self, log_mags: torch.Tensor, stream: bool = False) -> torch.Tensor:
        """Log-magnitudes, shape (batch, n_inputs), to rotated latent coordinates (batch, d);
        ``stream`` as in :meth:`partial_values`."""
        return (self.encode_raw(log_mags, stream) - self.latent_center) @ self.latent_rotation

    def decode_log(self, z: torch.Tensor) -> torch.Tensor:
        """Rotated latent coordinates, shape (batch, d), to log-magnitudes (batch, n_bins)."""
        return self._decode_unrotated(z @ self.latent_rotation.T + self.latent_center)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Rotated latent coordinates, shape (batch, d), to linear magnitudes (batch, n_bins)."""
        return linear_magnitude(self.decode_log(z))

    def set_latent_statistics(self, log_mags: np.ndarray, batch: int = 4096) -> None:
        """Rotate the latent by PCA of the training posterior means; store per-axis statistics.

        Parameters
        ----------
        log_mags : ndarray, shape (n, n_inputs)
            Training inputs (with context stacked when the model has context).
        """
        mu = self.encode_numpy(log_mags, batch=batch, raw=True).astype(np.float64)
        center = mu.mean(axis=0)
        covariance = np.cov(mu - center, rowvar=False)
        variances, vectors = np.linalg.eigh(covariance)
        order = np.argsort(variances)[::-1]
        variances, vectors = np.maximum(variances[order], 0.0), vectors[:, order]
        # A sign convention so the rotation is reproducible: each axis's largest loading positive.
        signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(len(order))])
        vectors = vectors * np.where(signs == 0, 1.0, signs)
        dtype = self.latent_center.dtype
        self.latent_center.copy_(torch.as_tensor(center, dtype=dtype))
        self.latent_rotation.copy_(torch.as_tensor(vectors, dtype=dtype))
        self.latent_std.copy_(torch.as_tensor(np.sqrt(variances) + 1e-8, dtype=dtype))
        total = variances.sum()
        share = variances / total if total > 0 else np.full_like(variances, 1.0 / len(variances))
        self.explained_variance.copy_(torch.as_tensor(share, dtype=dtype))

    @torch.inference_mode()
    def encode_numpy(
        self, log_mags: np.ndarray, batch: int = 4096, raw: bool = False, stream: bool = False
    ) -> np.ndarray:
        """:meth:`encode` over a numpy array in batches; float32 (n, latent_dim). With
        ``stream``, the rows are one sound's frames in order, read as a new stream (what the
        engine hears when it plays the sound); else each frame alone."""
        if stream:
            self.start_stream()
        encode = self.encode_raw if raw else self.encode
        out = self._batched(lambda x: encode(x, stream), log_mags, batch)
        return out if len(out) else np.zeros((0, self.shape.latent_dim), np.float32)

    @torch.inference_mode()
    def decode_numpy(self, z: np.ndarray, batch: int = 4096) -> np.ndarray:
        """:meth:`decode` over a numpy array in batches; float64 magnitudes (n, n_bins)."""
        out = self._batched(self.decode, z, batch).astype(np.float64)
        return out if len(out) else np.zeros((0, self.shape.n_bins))

    def _batched(self, fn, array: np.ndarray, batch: int) -> np.ndarray:
        """Apply a tensor function to ``array`` in batches in eval mode; float32 numpy result."""
        was_training = self.training
        self.eval()
        device = self.input_mean.device
        out = []
        for start in range(0, len(array), batch):
            chunk = torch.as_tensor(
                array[start : start + batch], dtype=torch.float32, device=device
            )
            out.append(fn(chunk).cpu().numpy())
        self.train(was_training)
        return np.concatenate(out) if out else np.zeros((0,), np.float32)


class FusedCodec(nn.Module):
    """The real-time twin of a trained :class:`SpectralVAE`: same numbers, fewer operations.

    Input normalisation, the latent rotation and the output de-normalisation are folded into the
    first and last linear layers, so batch-1 encode+decode is a handful of matrix products and
    element-wise operations (each torch call costs a few microseconds at batch 1, about as much
    as a 256x512 product). The explicit channels add rank-one terms: the frame's level times a
    vector after the first encoder layer, level and tracked pitch times vectors after the latent
    layer, the level read back from ``z`` (a dot product) added to every output bin, and the
    pitch read back from ``z`` setting the harmonic comb. Built by :meth:`from_model`; equal to
    the model to float32 rounding (tested).
    """

    def __init__(
        self,
        encoder: list[tuple[torch.Tensor, torch.Tensor]],
        decoder: list[tuple[torch.Tensor, torch.Tensor]],
        shape: ModelShape,
        terms: dict[str, torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.encoder_weights = nn.ParameterList(
            [nn.Parameter(w, requires_grad=False) for w, _ in encoder]
        )
        self.encoder_biases = nn.ParameterList(
            [nn.Parameter(b, requires_grad=False) for _, b in encoder]
        )
        self.decoder_weights = nn.ParameterList(
            [nn.Parameter(w, requires_grad=False) for w, _ in decoder]
        )
        self.decoder_biases = nn.ParameterList(
            [nn.Parameter(b, requires_grad=False) for _, b in decoder]
        )
        self.shape = shape
        self.n_bins = shape.n_bins
        self.has_level, self.has_pitch = shape.level, shape.pitch
        # level_in (first width), level_latent (d), level_out (d); pitch_latent (d), pitch_out
        # (d), pitch_bias (1); pitch_matrix (bins, candidates), pitch_grid (2).
        for name, value in (terms or {}).items():
            self.register_buffer(name, value.contiguous())
        self.many_pitches = shape.many_pitches
        if shape.many_pitches:
            from caminos.models.partials import PartialAnalyser

            n_fft = 2 * (shape.n_bins - 1)
            self.partials = PartialAnalyser(
                n_fft, round(shape.bin_hz * n_fft), shape.pitch_slots, shape.free_peaks
            )

    @classmethod
    @torch.no_grad()
    def from_model(cls, model: SpectralVAE) -> "FusedCodec":
        """Fold ``model``'s normalisation, channels and latent rotation into its layers."""
        shape = model.shape
        learned, n = shape.learned_dim, shape.n_bins
        enc = [
            (m.weight.detach().clone(), m.bias.detach().clone())
            for m in model.encoder
            if isinstance(m, nn.Linear)
        ]
        w, b = enc[0]
        w = w / model.input_std
        enc[0] = (w, b - w @ model.input_mean)
        rotation, center = model.latent_rotation, model.latent_center
        w_mu = model.to_latent.weight[:learned].detach()
        b_mu = model.to_latent.bias[:learned].detach()
        top = rotation[:learned]  # rows of the rotation that the learned dims feed
        bias = top.T @ b_mu - rotation.T @ center
        terms: dict[str, torch.Tensor] = {}
        shift = model.input_mean[-n:].clone()
        if shape.level:
            mean, std, row = model.level_stats[0], model.level_stats[1], shape.level_index
            terms["level_in"] = -w.sum(dim=1)  # x - level * 1 through the first layer
            terms["level_latent"] = rotation[row] / std
            bias = bias - mean * terms["level_latent"]
            terms["level_out"] = std * rotation[row]  # level = std * (R[L] . z + c[L]) + mean
            shift = shift + std * center[row] + mean
        if shape.many_pitches:
            mean, std = model.channel_statistics()
            rows = rotation[shape.slot_index :]  # (J, d): the channels' rows of the rotation
            terms["channel_latent"] = rows / std[:, None]
            bias = bias - mean @ terms["channel_latent"]
            terms["channel_out"] = std[:, None] * rows
            terms["channel_bias"] = std * center[shape.slot_index :] + mean
            level_mean, level_std = model.level_stats[0], model.level_stats[1]
            terms["level_bias"] = (level_std * center[shape.level_index] + level_mean).reshape(1)
        elif shape.pitch:
            mean, std, row = model.pitch_stats[0], model.pitch_stats[1], shape.pitch_index
            terms["pitch_latent"] = rotation[row] / std
            bias = bias - mean * terms["pitch_latent"]
            terms["pitch_out"] = std * rotation[row]
            terms["pitch_bias"] = (std * center[row] + mean).reshape(1)
        if shape.pitch:  # the one-pitch tracker (a many-pitch model's fallback) and the comb
            terms["pitch_matrix"] = model.pitch_matrix.clone()
            terms["pitch_grid"] = torch.tensor(model.pitch_grid)
            if shape.comb_bands:
                terms["comb_spread"] = model.comb_spread.clone()
        enc.append((top.T @ w_mu, bias))
        dec = [
            (m.weight.detach().clone(), m.bias.detach().clone())
            for m in model.decoder
            if isinstance(m, nn.Linear)
        ]
        w, b = dec[0]
        dec[0] = (w @ rotation, w @ center + b)
        w, b = dec[-1]
        scale = torch.ones(len(b))
        scale[:n] = model.input_std[-n:]
        offset = torch.zeros(len(b))
        offset[:n] = shift
        dec[-1] = (scale[:, None] * w, scale * b + offset)
        return cls(
            [(w.contiguous(), b.contiguous()) for w, b in enc],
            [(w.contiguous(), b.contiguous()) for w, b in dec],
            shape,
            terms,
        )

    def _pitch(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Tracked pitch of the current frames, semitones above A0, (batch,)."""
        return track_pitch_torch(
            log_mags[:, -self.n_bins :],
            self.pitch_matrix,
            float(self.pitch_grid[0]),
            float(self.pitch_grid[1]),
        )

    def start_stream(self) -> None:
        """Begin a new sound for ``stream`` encoding: its next frame is read alone."""
        if self.many_pitches:
            self.partials.reset()

    def encode(self, log_mags: torch.Tensor, stream: bool = False) -> torch.Tensor:
        """Log-magnitudes, shape (batch, n_inputs), to rotated latent coordinates (batch, d).

        With ``stream``, the rows are consecutive frames of one sound, continuing the stream
        :meth:`start_stream` began (the many-pitch channels read as the engine reads them,
        :meth:`SpectralVAE.partial_values`); else each frame alone.
        """
        weights, biases = self.encoder_weights, self.encoder_biases
        h = torch.nn.functional.linear(log_mags, weights[0], biases[0])
        level = frame_level(log_mags[:, -self.n_bins :])[:, None] if self.has_level else None
        if level is not None:
            h = h + level * self.level_in
        for w, b in zip(weights[1:], biases[1:]):
            h = torch.nn.functional.linear(torch.nn.functional.silu(h), w, b)
        if level is not None:
            h = h + level * self.level_latent
        if self.many_pitches:
            fallback = 27.5 * 2.0 ** (self._pitch(log_mags).numpy().astype(np.float64) / 12.0)
            values = partial_values_numpy(
                self.partials,
                log_mags[:, -self.n_bins :].numpy().astype(np.float64),
                fallback,
                self.shape,
                stream,
            )
            h = h + torch.as_tensor(values, dtype=h.dtype) @ self.channel_latent
        elif self.has_pitch:
            h = h + self._pitch(log_mags)[:, None] * self.pitch_latent
        return h

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Rotated latent coordinates, shape (batch, d), to linear magnitudes (batch, n_bins)."""
        out = _dense_stack(z, self.decoder_weights, self.decoder_biases)
        n = self.n_bins
        h = out[:, :n]
        if self.has_level:
            h = h + (z @ self.level_out)[:, None]
        if self.many_pitches:
            # In float64: a peak's place is some 100 semitones read from z, and float32 sums of
            # it differ by 1e-5 semitones with their order (3e-4 bins at the top of the spectrum)
            z64 = z.double()
            values = z64 @ self.channel_out.T.double() + self.channel_bias.double()
            level = z64 @ self.level_out.double() + self.level_bias.double()
            h = draw_from_values(
                h,
                out[:, n:],
                values,
                level,
                self.shape,
                self.comb_spread if self.shape.comb_bands else None,
            )
        elif self.has_pitch:
            semitones = z @ self.pitch_out + self.pitch_bias
            comb = harmonic_comb_torch(
                27.5 * torch.pow(2.0, semitones / 12.0), n, self.shape.bin_hz
            )
            heights = out[:, n:] @ self.comb_spread if self.shape.comb_bands else out[:, n:]
            h = h + torch.nn.functional.softplus(heights) * comb
        return linear_magnitude(h)


def hop_model(
    model: SpectralVAE, name: str = "model", path: str = "", descriptors: dict | None = None
) -> HopModel:
    """What the hop path reads of ``model`` (latent statistics set), as numpy arrays: its fused
    codec's layers and terms (:class:`FusedCodec`), its latent's standard deviations, its
    :func:`level_readout` and :func:`pitch_direction`, computed in torch as the engine always
    has, so every number is the same bit for bit. ``name``, ``path`` and ``descriptors`` are
    its checkpoint's (:meth:`caminos.models.checkpoint.Checkpoint.hop_model`).

    Computed on one of torch's threads: an operation shared among threads computes each part's
    last elements outside its vector loop, and a worker thread's first part can differ by an
    ulp (seen in ``exp``), so the same model would give other numbers in a process with more
    threads, or fresh ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _hop_model(model, name, path, descriptors)
    finally:
        torch.set_num_threads(threads)


def _hop_model(model: SpectralVAE, name: str, path: str, descriptors: dict | None) -> HopModel:
    codec = FusedCodec.from_model(model).eval()
    latent_std = model.latent_std.detach().double().numpy()
    terms = {term: _float32(getattr(codec, term)) for term in TERMS if hasattr(codec, term)}
    numbers = {
        term: float(getattr(codec, term)[0])
        for term in ("level_bias", "pitch_bias")
        if hasattr(codec, term)
    }
    grid = tuple(float(v) for v in codec.pitch_grid) if hasattr(codec, "pitch_grid") else None
    return HopModel(
        model.shape,
        encoder_weights=tuple(_float32(w.T) for w in codec.encoder_weights),
        encoder_biases=tuple(_float32(b) for b in codec.encoder_biases),
        decoder_weights=tuple(_float32(w.T) for w in codec.decoder_weights),
        decoder_biases=tuple(_float32(b) for b in codec.decoder_biases),
        latent_std=latent_std,
        level_readout=level_readout(codec),
        pitch_direction=pitch_direction(model),
        **terms,
        **numbers,
        pitch_grid=grid,
        name=name,
        path=str(path),
        descriptors=plain_json(descriptors or {}),
    )


def _float32(tensor: torch.Tensor) -> np.ndarray:
    """A tensor's values as a float32 C-order array (a copy; the hop path's layout for a
    transposed weight)."""
    return np.ascontiguousarray(tensor.detach().numpy(), dtype=np.float32)


def pitch_direction(model) -> np.ndarray | None:
    """Latent change of a one-semitone transposition of ``model``, or None without pitch channel.

    Moving the rotated latent along row ``P`` of the rotation moves the unrotated latent along
    channel ``P`` alone (the rotation is orthonormal); one semitone is ``1 / pitch_std`` there.
    A many-pitch model moves every pitch slot and free peak (their rows are orthogonal, so the
    sum moves each by one semitone).
    """
    shape = model.shape
    if not shape.pitch:
        return None
    rotation = model.latent_rotation.detach().double().numpy()
    # Every channel in semitones moves: each pitch slot's and each free peak's.
    return rotation[list(shape.semitone_indices)].sum(axis=0) / float(model.pitch_stats[1])


def level_readout(codec) -> np.ndarray | None:
    """How a move of a one-comb model's latent changes its decoded level: ``move . r`` nepers on
    every bin (``codec.level_out``, its level channel's read-back); None for a model without a
    level channel and for a many-pitch model. ``codec`` is a :class:`FusedCodec`.

    A many-pitch model's decoded level also moves with its free peaks' magnitudes and with what
    its learnt shape makes of the channels, and bends across the map, so that no slope follows
    it: its field measures what each voice plays instead
    (:mod:`caminos.engine.clock.level_keeper`).
    """
    if not codec.has_level or codec.shape.many_pitches:
        return None
    return codec.level_out.detach().double().numpy().copy()


def track_pitch_torch(
    log_mags: torch.Tensor, matrix: torch.Tensor, first_hz: float, log_step: float
) -> torch.Tensor:
    """Pitch of log-magnitude frames (batch, n_bins), semitones above A0, by subharmonic
    summation with the tracker's (bins, candidates) ``matrix``
    (:class:`caminos.models.pitch.PitchTracker`
    on tensors)."""
    root = torch.sqrt(torch.clamp(torch.exp(log_mags) - MAGNITUDE_FLOOR, min=0.0))
    return track_scores_torch(root @ matrix, first_hz, log_step)


def track_scores_torch(scores: torch.Tensor, first_hz: float, log_step: float) -> torch.Tensor:
    """Best candidate of each row of subharmonic-summation scores, refined by a parabola, in
    semitones above A0 (the tensor twin of :meth:`caminos.models.pitch.PitchTracker._refine`)."""
    n = scores.shape[1]
    best = torch.argmax(scores, dim=1)
    inner = torch.clamp(best, 1, n - 2)
    rows = torch.arange(len(scores), device=scores.device)
    left, centre, right = scores[rows, inner - 1], scores[rows, inner], scores[rows, inner + 1]
    curve = left - 2.0 * centre + right
    shift = torch.where(
        curve < 0.0,
        0.5 * (left - right) / torch.where(curve < 0.0, curve, -torch.ones_like(curve)),
        torch.zeros_like(curve),
    )
    shift = torch.where(best == inner, torch.clamp(shift, -0.5, 0.5), torch.zeros_like(shift))
    octaves = (best.to(scores.dtype) + shift) * log_step
    return 12.0 * (octaves + float(np.log2(first_hz / 27.5)))


def _dense_stack(h: torch.Tensor, weights, biases) -> torch.Tensor:
    """Linear layers with SiLU between them (none after the last), as the fused codec runs them."""
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases)):
        h = torch.nn.functional.linear(h, w, b)
        if i < last:
            h = torch.nn.functional.silu(h)
    return h


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL divergence of each posterior from N(0, I), in nats, summed over latent dims; (batch,)."""
    return 0.5 * torch.sum(mu.square() + logvar.exp() - 1.0 - logvar, dim=-1)


# -- descriptors -------------------------------------------------------------------------------
def frame_descriptors(
    magnitudes: np.ndarray, stft: StftConfig, sample_rate: int
) -> dict[str, np.ndarray]:
    """Audio descriptors of magnitude frames.

    Parameters
    ----------
    magnitudes : ndarray, shape (n_frames, n_bins)
        Linear STFT magnitudes in caminos' framing.
    stft : StftConfig
        The frames' STFT settings.
    sample_rate : int
        In Hz.

    Returns
    -------
    dict of str to ndarray, shape (n_frames,)
        ``loudness_db``: RMS of the windowed frame in dBFS (Parseval; floor -120 dB);
        ``centroid_hz``: spectral centroid in Hz; ``flatness_db``: spectral flatness (geometric over
        arithmetic mean power) in dB, 0 for white noise, very negative for a pure tone;
        ``harmonicity``: peak of the normalised autocorrelation at lags of 1 to 20 ms (50 Hz to
        1 kHz fundamentals, capped at half a frame), 0 to 1, a proxy for periodicity.
    """
    mags = np.asarray(magnitudes, dtype=np.float64)
    power = mags**2
    n_fft = stft.n_fft
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    weights = np.full(mags.shape[1], 2.0)
    weights[0] = weights[-1] = 1.0
    energy = (power * weights).sum(axis=1) / n_fft  # sum of squared windowed samples
    loudness = 10.0 * np.log10(energy / np.sum(window**2) + 1e-12)
    freqs = np.arange(mags.shape[1]) * sample_rate / n_fft
    total = mags.sum(axis=1)
    centroid = np.where(total > 0, (mags * freqs).sum(axis=1) / np.maximum(total, 1e-30), 0.0)
    eps = 1e-12
    flatness = 10.0 * (np.mean(np.log10(power + eps), axis=1) - np.log10(power.mean(axis=1) + eps))
    autocorr = np.fft.irfft(power, n=n_fft, axis=1)
    lo = max(1, int(sample_rate / 1000.0))
    hi = max(lo + 1, min(int(sample_rate / 50.0), n_fft // 2))
    peak = autocorr[:, lo:hi].max(axis=1)
    harmonicity = np.clip(
        np.where(autocorr[:, 0] > 0, peak / np.maximum(autocorr[:, 0], 1e-30), 0.0), 0.0, 1.0
    )
    return {
        "loudness_db": loudness,
        "centroid_hz": centroid,
        "flatness_db": flatness,
        "harmonicity": harmonicity,
    }


def describe_axes(
    model: SpectralVAE,
    inputs: np.ndarray,
    magnitudes: np.ndarray,
    stft: StftConfig,
    sample_rate: int,
) -> dict:
    """What each latent axis does, in audio descriptors, and descriptor directions in the latent.

    Each axis is swept to -1 and +1 standard deviations from the centre (all other axes at 0),
    the two decoded frames are described with :func:`frame_descriptors`, and the change is
    reported in the descriptor's units and in units of that descriptor's spread over the training
    frames, so that loudness in dB and centroid in Hz compare. Separately, each descriptor of the
    training frames is regressed on their latent coordinates in std units, giving a unit
    direction ("brighter", "louder"...) that a control can move along.

    Parameters
    ----------
    model : SpectralVAE
        With latent statistics set.
    inputs : ndarray, shape (n, n_inputs)
        Training log-magnitude inputs.
    magnitudes : ndarray, shape (n, n_bins)
        Their current frames' linear magnitudes.
    stft, sample_rate
        Settings of the frames.

    Returns
    -------
    dict
        ``axes``: one dict per axis (``axis``, ``std``, ``explained_variance``, ``change``: per
        descriptor change from -1 to +1 std in its units, ``change_in_spread``: the same over the
        descriptor's training standard deviation, ``summary``: words); ``directions``: per
        descriptor ``{"vector": unit vector in std units, "r2": fit quality, "words": [up, down]}``;
        ``spread``: each descriptor's training standard deviation. Plain types only.
    """
    truth = frame_descriptors(magnitudes, stft, sample_rate)
    spread = {name: float(np.std(truth[name])) + 1e-9 for name in DESCRIPTORS}
    d = model.shape.latent_dim
    std = model.latent_std.detach().cpu().numpy().astype(np.float64)
    sweep = np.zeros((2 * d, d))
    for k in range(d):
        sweep[2 * k, k] = -std[k]
        sweep[2 * k + 1, k] = std[k]
    decoded = frame_descriptors(model.decode_numpy(sweep.astype(np.float32)), stft, sample_rate)
    axes = []
    explained = model.explained_variance.detach().cpu().numpy()
    for k in range(d):
        change = {
            name: float(decoded[name][2 * k + 1] - decoded[name][2 * k]) for name in DESCRIPTORS
        }
        relative = {name: change[name] / spread[name] for name in DESCRIPTORS}
        ranked = sorted(DESCRIPTORS, key=lambda name: -abs(relative[name]))
        words = []
        for name in ranked[:2]:
            if abs(relative[name]) >= 0.05:
                up, down = DESCRIPTOR_WORDS[name]
                words.append(f"{up if relative[name] > 0 else down} ({relative[name]:+.2f} sd)")
        axes.append(
            {
                "axis": k,
                "std": float(std[k]),
                "explained_variance": float(explained[k]),
                "change": change,
                "change_in_spread": relative,
                "summary": ", ".join(words) if words else "little audible change",
            }
        )
    z = model.encode_numpy(inputs) / std.astype(np.float32)
    design = np.concatenate([z, np.ones((len(z), 1), np.float32)], axis=1).astype(np.float64)
    directions = {}
    for name in DESCRIPTORS:
        y = (truth[name] - truth[name].mean()) / spread[name]
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        fitted = design @ coef
        r2 = 1.0 - float(np.sum((y - fitted) ** 2) / max(float(np.sum(y**2)), 1e-12))
        vector = coef[:d]
        norm = float(np.linalg.norm(vector))
        directions[name] = {
            "vector": [float(v) for v in (vector / norm if norm > 0 else vector)],
            "r2": r2,
            "words": list(DESCRIPTOR_WORDS[name]),
        }
    return {"axes": axes, "directions": directions, "spread": spread}


def count_parameters(model: nn.Module) -> int:
    """Number of trainable weights."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def measure_latency_us(
    model: SpectralVAE, repeats: int = 2000, warmup: int = 200, fused: bool = True
) -> tuple[float, float]:
    """Batch-1 encode+decode time on the current thread settings, in microseconds (p50, p99).

    ``fused`` times the real-time twin (:class:`FusedCodec`), otherwise the model itself.
    """
    import time

    model.eval()
    x = torch.as_tensor(model.input_mean.detach().cpu().numpy()[None, :], dtype=torch.float32)
    if fused:
        model = FusedCodec.from_model(model)  # type: ignore[assignment]
    times = np.empty(repeats)
    with torch.inference_mode():
        for _ in range(warmup):
            model.decode(model.encode(x))
        for i in range(repeats):
            start = time.perf_counter()
            model.decode(model.encode(x))
            times[i] = time.perf_counter() - start
    p50, p99 = np.percentile(times * 1e6, [50, 99])
    return float(p50), float(p99)
