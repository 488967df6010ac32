"""The many-pitch channels of a frame in TorchScript: pitch slots and free peaks.

A port of :class:`caminos.models.partials.PartialAnalyser` (numba) to tensor operations, so an
exported model measures the same explicit latent channels as :meth:`SpectralVAE.partial_values`
without numba or caminos. Each frame is read alone, as the model reads it (the tracker's state
reset before every frame), so the port is exact in its arithmetic up to the order of float64
sums:

- **slots**: estimate and cancel (:func:`caminos.models.multipitch.track_frame_kernel` with a
  reset state). Saliences are one matrix product per pick (each candidate's interpolated taps
  folded into a (bins, candidates) matrix), every row of the batch at once; a row stops picking
  when its best candidate is under its minimum. The held spectrum of a reset tracker is the
  frame's square-rooted magnitudes, and every presence is 0, so only the "new pitch" minimum
  applies.
- **cancellation** (:func:`caminos.models.multipitch.cancel_partials`): every partial of the
  note at once, its smoothed amplitude spread on the five bins around it with a scatter-add.
- **free peaks** (:func:`caminos.models.partials.pick_peaks`): the largest local maxima of the
  residual (a stable sort keeps the numba loop's order among equals), moved at most two bins
  up the frame's own slope, refined by a parabola through the log magnitudes.

Units: frequencies in bins or Hz as named, magnitudes linear STFT magnitudes, levels in nepers
(natural log).
"""

from __future__ import annotations

import math
from typing import List, Tuple

import numpy as np
import torch
from torch import nn

from caminos.models.export.pitch_ts import OnePitchTracker
from caminos.models.export.rows_ts import stable_mm

MAGNITUDE_FLOOR = 1e-3  # of caminos.models.autoencoder, linear STFT magnitude


def hann_lobe(d: torch.Tensor) -> torch.Tensor:
    """The Hann window's normalised main lobe at ``d`` bins from its centre, 0 beyond 2 bins
    (:func:`caminos.models.pitch.hann_lobe_at` on tensors, float64)."""
    d = torch.abs(d)
    pi_d = math.pi * d
    den = pi_d * (1.0 - d * d)
    tiny = torch.abs(den) < 1e-12
    lobe = torch.abs(torch.sin(pi_d) / torch.where(tiny, 1.0, den))
    lobe = torch.where(tiny, 1.0 - 0.5 * torch.round(d), lobe)
    return torch.where(d < 2.0, lobe, 0.0)


class PartialChannels(nn.Module):
    """Pitch slots and free peaks of magnitude frames, and the latent channels made of them.

    Parameters
    ----------
    salience : Tensor, shape (n_bins, C)
        Each candidate's salience as a linear map of the square-rooted spectrum (the taps of
        :func:`caminos.models.multipitch.salience_taps`, interpolation weights included).
    candidates : Tensor, shape (C,)
        The candidate fundamentals, in Hz.
    settings : Tensor, shape (11,)
        The tracker's settings (:func:`caminos.models.multipitch.track_frame_kernel`).
    partials : int
        Most partials a cancellation reads (the tracker's scratch length).
    slots, peaks : int
        Pitch slots and free peaks per frame.
    has_presence : bool
        Whether the channels include a presence per slot (models with several slots).
    pitch_matrix : Tensor, shape (n_bins, candidates)
        The one-pitch tracker's matrix (:class:`caminos.models.pitch.PitchTracker`): the
        first slot's pitch where no slot is found.
    pitch_grid : tuple of float
        That tracker's first candidate (Hz) and its step (octaves).
    """

    def __init__(
        self,
        salience: torch.Tensor,
        candidates: torch.Tensor,
        settings: torch.Tensor,
        partials: int,
        slots: int,
        peaks: int,
        has_presence: bool,
        pitch_matrix: torch.Tensor,
        pitch_grid: Tuple[float, float],
    ) -> None:
        super().__init__()
        self.register_buffer("salience", salience.double())
        self.register_buffer("candidates", candidates.double())
        self.one_pitch = OnePitchTracker(pitch_matrix, pitch_grid, MAGNITUDE_FLOOR)
        # constants of every call, made once (each tensor operation costs a few microseconds
        # in TorchScript's interpreter, whatever its size)
        self.register_buffer(
            "offsets_f", torch.arange(-2.0, 3.0, dtype=torch.float64), persistent=False
        )
        self.register_buffer(
            "harmonics", torch.arange(1, int(partials) + 1, dtype=torch.float64), persistent=False
        )
        self.register_buffer("slot_index", torch.arange(int(slots))[None, :], persistent=False)
        semitone_step = 12.0 * float(settings[5])
        self.register_buffer(
            "grid",
            (torch.arange(candidates.shape[0], dtype=torch.float64) * semitone_step)[None, :],
            persistent=False,
        )
        values = [float(v) for v in settings.tolist()]
        self.gate = values[0]
        self.bin_hz = values[1]
        self.depth = values[2]
        self.new_relative = values[3]
        self.exclusion = values[4]
        self.log_step = values[5]
        self.later = values[10]
        self.partials = int(partials)
        self.slots = int(slots)
        self.peaks = int(peaks)
        self.has_presence = bool(has_presence)
        self.floor = MAGNITUDE_FLOOR

    def fallback_semitones(self, log_mags: torch.Tensor) -> torch.Tensor:
        """The one-pitch tracker's estimate of each frame, semitones above A0, (batch,)."""
        return self.one_pitch(log_mags)

    def cancel(
        self, f0_bins: torch.Tensor, residual: torch.Tensor, depth: float, rows: torch.Tensor
    ) -> torch.Tensor:
        """``residual`` less ``depth`` times one note's smoothed partials, in the rows where
        ``rows`` is true (:func:`caminos.models.multipitch.cancel_partials`).

        Parameters
        ----------
        f0_bins : Tensor, shape (batch,)
            The note's fundamental, in bins.
        residual : Tensor, shape (batch, n_bins)
            Square-rooted magnitudes, float64.
        depth : float
            Share of the smoothed partials taken out, 0 to 1.
        rows : Tensor of bool, shape (batch,)
            Rows to cancel in; the others are returned as they are.
        """
        if not bool(rows.any()):
            return residual
        lowest = float(torch.where(rows, f0_bins, 1e9).min())
        count = self._partial_count(lowest, residual.shape[1])
        if count < 1:
            return residual
        valid, nearest, norm, inside, lobe, index = self._partials_of(
            f0_bins, rows, count, residual.shape[1]
        )
        return self._take(residual, depth, rows, valid, nearest, norm, inside, lobe, index)

    def cancel_notes(
        self, f0_bins: torch.Tensor, residual: torch.Tensor, depth: float, rows: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`cancel` of several notes one after the other (each reads the residual the
        one before left), with what does not depend on the residual (each partial's bins,
        validity and lobe) computed for every note at once: the same numbers, fewer tensor
        operations.

        Parameters
        ----------
        f0_bins : Tensor, shape (batch, notes)
            Each note's fundamental, in bins.
        residual : Tensor, shape (batch, n_bins)
            Square-rooted magnitudes, float64.
        depth : float
            Share of the smoothed partials taken out, 0 to 1.
        rows : Tensor of bool, shape (batch, notes)
            Rows each note cancels in.
        """
        n = residual.shape[1]
        notes = f0_bins.shape[1]
        active: List[bool] = rows.any(dim=0).tolist()
        lowest: List[float] = torch.where(rows, f0_bins, 1e9).min(dim=0).values.tolist()
        # One count for every note, the largest: a note's partials beyond its own count are
        # invalid in every row it cancels in (their bin is past n - 3), so they take nothing.
        count = 0
        for note in range(notes):
            if active[note]:
                count = max(count, self._partial_count(lowest[note], n))
        if count < 1:
            return residual
        valid, nearest, norm, inside, lobe, index = self._partials_of(f0_bins, rows, count, n)
        for note in range(notes):
            if active[note]:
                residual = self._take(
                    residual,
                    depth,
                    rows[:, note],
                    valid[:, note],
                    nearest[:, note],
                    norm[:, note],
                    inside[:, note],
                    lobe[:, note],
                    index[:, note],
                )
        return residual

    def _partial_count(self, lowest: float, n: int) -> int:
        """Partials cancelled for a lowest fundamental of ``lowest`` bins: up to the
        third-last bin (the kernel's loop stops there), at most the tracker's scratch length."""
        return min(self.partials, int(math.ceil((n - 2.5) / max(lowest, 1e-3))) + 1)

    def _partials_of(
        self, f0_bins: torch.Tensor, rows: torch.Tensor, count: int, n: int
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """What a cancellation needs that does not depend on the residual, for fundamentals
        ``f0_bins`` (..., ) in bins and their ``rows`` (...,): each of the first ``count``
        partials' validity, nearest inner bin and smoothing norm (..., count); whether each of
        the five bins around it is in the frame and its lobe there (..., count, 5); the bins'
        indices (..., count * 5)."""
        position = self.harmonics[:count] * f0_bins[..., None]
        centre = torch.round(position)
        k = torch.clamp(centre, min=1.0).long()
        valid = ((k + 3) <= n) & rows[..., None]
        nearest = torch.clamp(k, 1, n - 2)
        exists = nn.functional.pad(valid.double(), [1, 1])
        norm = 2.0 + exists[..., :-2] + exists[..., 2:]  # a missing neighbour counts 0
        # the five bins around each partial; a valid partial's are below n (its centre is at
        # most n - 3), so only the low edge is checked
        bins = centre[..., None] + self.offsets_f
        inside = valid[..., None] & (bins >= 0.0)
        lobe = hann_lobe(bins - position[..., None])
        index = torch.clamp(bins, 0.0, n - 1.0).long().flatten(-2)
        return valid, nearest, norm, inside, lobe, index

    def _take(
        self,
        residual: torch.Tensor,
        depth: float,
        rows: torch.Tensor,
        valid: torch.Tensor,
        nearest: torch.Tensor,
        norm: torch.Tensor,
        inside: torch.Tensor,
        lobe: torch.Tensor,
        index: torch.Tensor,
    ) -> torch.Tensor:
        """``residual`` (batch, n_bins) less ``depth`` times one note's smoothed partials
        (:meth:`_partials_of`'s, (batch, ...)) in ``rows`` (batch,)."""
        # each partial's amplitude: the largest of the three bins nearest it
        widest = nn.functional.max_pool1d(residual[:, None, :], 3, 1, 1)[:, 0]
        amps = torch.where(valid, widest.gather(1, nearest), 0.0)
        padded = nn.functional.pad(amps, [1, 1])
        total = 2.0 * amps + padded[:, :-2] + padded[:, 2:]  # a missing neighbour's amp is 0
        smooth = torch.where(valid, torch.minimum(amps, total / norm), 0.0)
        value = torch.where(inside, smooth[:, :, None] * lobe, 0.0)
        detected = torch.zeros_like(residual).scatter_add(
            1, index, value.reshape(residual.shape[0], -1)
        )
        cancelled = torch.clamp(residual - depth * detected, min=0.0)
        return torch.where(rows[:, None], cancelled, residual)

    def slots_of(
        self, mags: torch.Tensor, held: torch.Tensor, sounding: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Estimate and cancel: each row's fundamentals (Hz) and saliences in pick order, and
        how many it filled; (batch, slots), (batch, slots), (batch,)."""
        batch = mags.shape[0]
        n_candidates = self.candidates.shape[0]
        f0 = torch.zeros(batch, self.slots, dtype=torch.float64, device=mags.device)
        salience = torch.zeros_like(f0)
        active = sounding.clone()
        filled = torch.zeros(batch, dtype=torch.long, device=mags.device)
        residual = held
        top = torch.zeros(batch, dtype=torch.float64, device=mags.device)
        excluded = torch.zeros(batch, n_candidates, dtype=torch.bool, device=mags.device)
        for i in range(self.slots):
            scores = stable_mm(residual, self.salience)
            if i == 0:
                top = scores.max(dim=1).values
            else:  # candidates near a slot picked before are out
                scores = torch.where(excluded, -math.inf, scores)
            floor = torch.zeros_like(top) if i == 0 else top * self.later ** (i - 1)
            best = torch.argmax(scores, dim=1)
            lo = torch.clamp(best - 1, min=0)
            hi = torch.clamp(best + 1, max=n_candidates - 1)
            three = scores.gather(1, torch.stack([best, lo, hi], dim=1))
            s, left, right = three[:, 0], three[:, 1], three[:, 2]
            ok = active & (s > 0.0) & (s >= floor * self.new_relative)
            inner = (
                (best > 0)
                & (best < n_candidates - 1)
                & torch.isfinite(left)
                & torch.isfinite(right)
            )
            curve = left - 2.0 * s + right
            bend = inner & (curve < 0.0)
            shift = torch.where(
                bend,
                torch.clamp(0.5 * (left - right) / torch.where(bend, curve, -1.0), -0.5, 0.5),
                0.0,
            )
            pitch = self.candidates[0] * torch.pow(2.0, (best.double() + shift) * self.log_step)
            f0[:, i] = torch.where(ok, pitch, f0[:, i])
            salience[:, i] = torch.where(ok, s, salience[:, i])
            filled = filled + ok.long()
            active = ok
            if i + 1 < self.slots:
                picked = 12.0 * torch.log2(torch.clamp(f0[:, i], min=1e-30) / self.candidates[0])
                excluded = excluded | (torch.abs(self.grid - picked[:, None]) < self.exclusion)
                residual = self.cancel(pitch / self.bin_hz, residual, self.depth, ok)
        return f0, salience, filled

    def pick_peaks(
        self, mags: torch.Tensor, residual: torch.Tensor, first_hz: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The largest local maxima of ``residual``, refined on ``mags``: frequencies (bins)
        and linear magnitudes, (batch, peaks) each (:func:`caminos.models.partials.pick_peaks`;
        unfound peaks at the first slot's frequency with magnitude 0)."""
        batch, n = residual.shape
        floor = math.sqrt(self.gate)
        r = residual
        is_peak = torch.zeros_like(r, dtype=torch.bool)
        middle = (r[:, 1:-1] > floor) & (r[:, 1:-1] > r[:, :-2]) & (r[:, 1:-1] >= r[:, 2:])
        is_peak[:, 1:-1] = middle
        keyed = torch.where(is_peak, r, torch.full_like(r, -1.0))
        ordered, order = torch.sort(keyed, dim=1, descending=True, stable=True)
        found = ordered[:, : self.peaks] > -1.0
        k = order[:, : self.peaks]
        for _ in range(2):  # up the frame's own slope, two bins at most
            here = mags.gather(1, k)
            up = mags.gather(1, torch.clamp(k + 1, max=n - 1))
            down = mags.gather(1, torch.clamp(k - 1, min=0))
            go_up = ((k + 2) < n) & (up > here)
            go_down = (~go_up) & (k > 1) & (down > here)
            k = k + go_up.long() - go_down.long()
        a = torch.log(mags.gather(1, torch.clamp(k - 1, min=0)) + self.floor)
        b = torch.log(mags.gather(1, k) + self.floor)
        c = torch.log(mags.gather(1, torch.clamp(k + 1, max=n - 1)) + self.floor)
        curve = a - 2.0 * b + c
        bend = curve < 0.0
        offset = torch.where(
            bend,
            torch.clamp(
                0.5 * (a - c) / torch.where(bend, curve, -torch.ones_like(curve)), -0.5, 0.5
            ),
            torch.zeros_like(curve),
        )
        height = b - 0.25 * (a - c) * offset
        bins = torch.where(
            found, k.double() + offset, (first_hz / self.bin_hz)[:, None].expand(batch, self.peaks)
        )
        level = torch.where(
            found, torch.clamp(torch.exp(height) - self.floor, min=0.0), torch.zeros_like(height)
        )
        return bins, level

    def forward(self, log_mags: torch.Tensor) -> torch.Tensor:
        """The channels of frames, in natural units (batch, J), J in the latent's order.

        Parameters
        ----------
        log_mags : Tensor, shape (batch, n_bins), float32
            ``log(|X| + self.floor)`` of each frame, natural log.

        Returns
        -------
        Tensor, shape (batch, J), float64
            Slot pitches (semitones above A0), presences (0 to 1, with several slots), free
            peaks' frequencies (semitones above A0) and magnitudes (nepers over the frame's
            level), as :meth:`caminos.models.autoencoder.SpectralVAE.partial_values`.
        """
        fallback = 27.5 * torch.pow(2.0, self.fallback_semitones(log_mags).double() / 12.0)
        x = log_mags.double()
        mags = torch.clamp(torch.exp(x) - self.floor, min=0.0)
        finite = torch.isfinite(mags).all(dim=1)
        safe = torch.where(finite[:, None], mags, torch.zeros_like(mags))
        held = torch.sqrt(torch.clamp(safe, min=0.0))
        loudest = safe.max(dim=1).values
        sounding = finite & (loudest >= self.gate)
        f0, salience, filled = self.slots_of(safe, held, sounding)
        # highest salience first, equal ones in pick order; unfilled slots last
        key = torch.where(salience > 0.0, salience, -1.0)
        has = self.slot_index < filled[:, None]
        key = torch.where(has, key, -2.0)
        key, order = torch.sort(key, dim=1, descending=True, stable=True)
        f0 = f0.gather(1, order)
        salience = salience.gather(1, order)
        first = torch.where(filled > 0, f0[:, 0], fallback)
        top = torch.where(salience[:, :1] > 0.0, salience[:, :1], torch.ones_like(salience[:, :1]))
        presence = torch.where(has, torch.clamp(salience / top, max=1.0), torch.zeros_like(f0))
        f0 = torch.where(has, f0, first[:, None].expand(f0.shape[0], self.slots))
        columns = [12.0 * torch.log2(torch.clamp(f0, min=1.0) / 27.5)]
        if self.has_presence:
            columns.append(presence)
        if self.peaks > 0:
            residual = self.cancel_notes(f0 / self.bin_hz, held, 1.0, has)
            bins, level = self.pick_peaks(safe, residual, first)
            log_level = 0.5 * (torch.logsumexp(2.0 * x, dim=1) - math.log(x.shape[1]))
            columns.append(12.0 * torch.log2(torch.clamp(bins, min=0.5) * self.bin_hz / 27.5))
            columns.append(torch.log(level + self.floor) - log_level[:, None])
        return torch.cat(columns, dim=1)


def partial_channels_from(model) -> PartialChannels:
    """The TorchScript twin of a many-pitch :class:`~caminos.models.autoencoder.SpectralVAE`'s
    analysis (its :class:`~caminos.models.partials.PartialAnalyser`'s tables)."""
    shape = model.shape
    n_fft = 2 * (shape.n_bins - 1)
    from caminos.models.multipitch import MultiPitchTracker

    tracker = MultiPitchTracker(n_fft, round(shape.bin_hz * n_fft), slots=shape.pitch_slots)
    index, frac, weight = tracker.taps_index, tracker.taps_frac, tracker.taps_weight
    matrix = np.zeros((shape.n_bins, len(tracker.candidates)))
    columns = np.broadcast_to(np.arange(len(tracker.candidates))[:, None], index.shape)
    np.add.at(matrix, (index, columns), weight * (1.0 - frac))
    np.add.at(matrix, (np.minimum(index + 1, shape.n_bins - 1), columns), weight * frac)
    return PartialChannels(
        torch.as_tensor(matrix),
        torch.as_tensor(tracker.candidates),
        torch.as_tensor(tracker.settings),
        tracker.partials_scratch,
        shape.pitch_slots,
        shape.free_peaks,
        bool(shape.presence_channels),
        model.pitch_matrix.detach().clone(),
        (float(model.pitch_grid[0]), float(model.pitch_grid[1])),
    )
