"""The autoencoder on the hop path: the fused codec's layers in two compiled calls per hop.

Stages three and five of ``Engine.tick()``. :class:`caminos.models.autoencoder.FusedCodec` folds
the model's normalisation and latent rotation into its layers, and
:class:`caminos.models.shape.HopModel` holds their numbers as numpy arrays; this runs the same
layers in numba kernels (:func:`encode_frames`, :func:`decode_frames`) that write into buffers
made once, so a hop allocates nothing for the model, pays no torch dispatch (about 10 us per call
at batch 1 here) and no numpy call per element-wise step (about 1 us each, some forty a hop
before). The matrix products go to BLAS through ``np.dot``. Equal to the torch codec to float32
rounding (tested). Nothing here imports torch.

Why this file is longer than 500 lines: the hop path's twin of the model: the compiled kernels
(partial analysis, drawing, dense layers) sit beside the codec that calls them, so the one file to
keep equal to the torch codec is this one.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from caminos.engine.core.errors import CheckpointError
from caminos.engine.dsp.compiled import dot_into, hop_kernel
from caminos.models.partials import channel_values
from caminos.models.pitch import (
    comb_at,
    hann_lobe_at,
    lobe_span,
    refined_candidate,
    semitones_in_bins,
)
from caminos.models.shape import MAGNITUDE_FLOOR, MAX_LOG_MAGNITUDE, HopModel, band_interpolation


# SiLU's exponential never sees more than this: exp(80) = 5.5e34 fits float32 (max 3.4e38), and
# silu(-80) is 0 to float32 anyway.
_EXP_LIMIT = np.float32(80.0)
_ONE = np.float32(1.0)
_NO_ARRAY = np.zeros(0, np.float32)  # a channel the model lacks
_NO_INDEX = np.zeros(0, np.int64)


@njit(cache=True, nogil=True, inline="always")
def _comb_f0_bins(semitones: float, bin_hz: float, n_bins: int) -> float:
    """A comb's fundamental in bins: :func:`~caminos.models.pitch.semitones_in_bins` kept
    within 1 .. ``n_bins``."""
    return min(max(semitones_in_bins(semitones, bin_hz), 1.0), float(n_bins))


@hop_kernel
def _softplus(x: float) -> float:
    return max(x, 0.0) + np.log1p(np.exp(-abs(x)))


@hop_kernel
def add_comb_per_bin(h: np.ndarray, heights: np.ndarray, f0_bins: float) -> None:
    """``h[k] += softplus(heights[k]) * comb_k(f0)`` in one pass, allocation-free (hop path)."""
    for k in range(h.shape[0]):
        lobe = comb_at(k, f0_bins)
        if lobe > 0.0:
            h[k] += _softplus(heights[k]) * lobe


@hop_kernel
def add_comb_banded(
    h: np.ndarray, bands: np.ndarray, lower: np.ndarray, weight: np.ndarray, f0_bins: float
) -> None:
    """:func:`add_comb_per_bin` with heights interpolated between band centres
    (:func:`caminos.models.shape.band_interpolation`)."""
    for k in range(h.shape[0]):
        lobe = comb_at(k, f0_bins)
        if lobe > 0.0:
            i = lower[k]
            height = bands[i] + weight[k] * (bands[i + 1] - bands[i])
            h[k] += _softplus(height) * lobe


def make_layers(weights, biases, batch: int) -> tuple[tuple, tuple, tuple]:
    """Dense layers for a fixed batch size from ``(inputs, outputs)`` weights and their biases
    (:class:`~caminos.models.shape.HopModel`'s): tuples of the weights as (inputs, outputs)
    float32 in C order (the given arrays themselves when they are so already, not copies), the
    biases, and an output buffer (batch, outputs) per layer, as :func:`run_layers` reads them.

    Plain tuples of arrays, not named tuples: numba's dispatcher keeps a little memory per call
    for a named tuple argument, which would grow over an engine's millions of hops.
    """
    ws = tuple(np.ascontiguousarray(w, dtype=np.float32) for w in weights)
    bs = tuple(np.ascontiguousarray(b, dtype=np.float32) for b in biases)
    return with_batch((ws, bs, ()), batch)


def with_batch(layers: tuple[tuple, tuple, tuple], batch: int) -> tuple[tuple, tuple, tuple]:
    """The same layers (:func:`make_layers`), their weights and biases shared, not copied, with
    output buffers for another batch size: the decoder of one row beside the batch's holds no
    second copy of the weights (2.6 MB of float32 for the default model's decoder)."""
    ws, bs, _ = layers
    return ws, bs, tuple(np.zeros((batch, w.shape[1]), np.float32) for w in ws)


@hop_kernel
def run_layers(
    x: np.ndarray,
    weights: tuple,
    biases: tuple,
    outputs: tuple,
    first_extra: np.ndarray,
    use_extra: bool,
    active: np.ndarray,
) -> None:
    """``x`` (batch, inputs) float32 through every layer (``x @ weights[i] + biases[i]`` into
    ``outputs[i]``, SiLU between them), row by row: the result is in ``outputs[-1]``.

    ``first_extra`` (batch, first width) is added to the first layer's output before its SiLU
    when ``use_extra`` (the level term of a model with a level channel). Rows whose ``active``
    value (batch,) is 0 are left as they were.

    Each row is its own matrix product, so a row's result never depends on the batch around
    it (BLAS sums in another order for other batch sizes): a voice sounds the same, bit for
    bit, in a field of any size and on any instance of a room split in channel groups, and a
    source channel's latent does not depend on which other channels sound.
    """
    h = x
    last = len(weights) - 1
    for i in range(last + 1):
        out = outputs[i]
        bias = biases[i]
        for row in range(out.shape[0]):
            if active[row] == 0.0:
                continue
            dot_into(h[row : row + 1], weights[i], out[row : row + 1])
            for j in range(out.shape[1]):
                v = out[row, j] + bias[j]
                if i == 0 and use_extra:
                    v += first_extra[row, j]
                if i < last:  # SiLU: v * sigmoid(v) = v / (1 + exp(-v))
                    v = v / (_ONE + np.exp(min(-v, _EXP_LIMIT)))
                out[row, j] = v
        h = out


class EncoderState(NamedTuple):
    """What :func:`encode_frames` reads and the scratch it writes, made once per batch size;
    passed field by field (``*state``)."""

    weights: tuple  # of (inputs, outputs) float32, see make_layers
    biases: tuple
    outputs: tuple
    active: np.ndarray  # (batch,) control: rows to encode (0: the row's latent is 0)
    has_level: bool
    has_pitch: bool
    level_in: np.ndarray  # (first width,): the level through the first layer
    level_latent: np.ndarray  # (d,): the level into the latent
    pitch_latent: np.ndarray  # (d,): the tracked pitch (semitones above A0) into the latent
    pitch_matrix: np.ndarray  # (bins, candidates): subharmonic summation
    first_octave: float  # octaves of the first candidate above A0
    log_step: float  # octaves between candidates
    root: np.ndarray  # (batch, bins) scratch: sqrt of the magnitudes
    scores: np.ndarray  # (batch, candidates) scratch
    first_extra: np.ndarray  # (batch, first width) scratch
    level: np.ndarray  # (batch,) scratch: each row's level, nepers


@hop_kernel
def _frame_levels(
    mags: np.ndarray, root: np.ndarray, level: np.ndarray, with_root: bool, active: np.ndarray
) -> None:
    """Each row's level (:func:`caminos.models.autoencoder.frame_level`: half the log of the mean
    square of ``mags``, nepers) into ``level``, and, when ``with_root``, the square roots of its
    magnitudes above the floor (the pitch tracker's input) into ``root``. ``mags`` (batch,
    n_bins) are the current frames' linear magnitudes with the floor, ``exp(log_mags)``."""
    n_bins = mags.shape[1]
    for row in range(mags.shape[0]):
        if active[row] == 0.0:
            continue
        power = 0.0
        for k in range(n_bins):
            mag = mags[row, k]
            power += mag * mag
            if with_root:
                root[row, k] = np.sqrt(max(mag - MAGNITUDE_FLOOR, 0.0))
        level[row] = 0.5 * np.log(power / n_bins)


@hop_kernel
def _refined_semitones(scores: np.ndarray, row: int, first_octave: float, log_step: float) -> float:
    """The best candidate of one row of scores, moved by a parabola through its neighbours, in
    semitones above A0 (:func:`caminos.models.pitch.refined_candidate`)."""
    return 12.0 * (refined_candidate(scores[row]) * log_step + first_octave)


@hop_kernel
def encode_frames(log_mags: np.ndarray, mags: np.ndarray, out: np.ndarray, state: tuple) -> None:
    """:func:`encode_rows` with an :class:`EncoderState` as one plain tuple (``tuple(state)``):
    numba's dispatcher takes up to 16 arguments from Python without allocating (232 bytes a
    call at 20, 296 at 32), and a plain tuple of them as one argument costs nothing; a
    namedtuple would take its slow path."""
    encode_rows(log_mags, mags, out, *state)


@hop_kernel
def encode_rows(
    log_mags: np.ndarray,
    mags: np.ndarray,
    out: np.ndarray,
    weights: tuple,
    biases: tuple,
    outputs: tuple,
    active: np.ndarray,
    has_level: bool,
    has_pitch: bool,
    level_in: np.ndarray,
    level_latent: np.ndarray,
    pitch_latent: np.ndarray,
    pitch_matrix: np.ndarray,
    first_octave: float,
    log_step: float,
    root: np.ndarray,
    scores: np.ndarray,
    first_extra: np.ndarray,
    level: np.ndarray,
) -> None:
    """Log-magnitudes (batch, n_inputs) float32 to latents ``out`` (batch, d), allocation-free;
    ``mags`` (batch, n_bins) are the current frames' ``exp(log_mags)`` (read by the level and
    pitch channels), the other arguments an :class:`EncoderState`'s fields. Rows whose
    ``active`` value is 0 are not encoded: their latents are 0."""
    if has_level or has_pitch:
        _frame_levels(mags, root, level, has_pitch, active)
    if has_level:
        for row in range(log_mags.shape[0]):
            for j in range(level_in.shape[0]):
                first_extra[row, j] = level[row] * level_in[j]
    run_layers(log_mags, weights, biases, outputs, first_extra, has_level, active)
    z = outputs[-1]
    # A many-pitch model reads the one-pitch tracker's scores only for a frame the analysis
    # finds no pitch in (its fallback, models.partials), and takes them then from ``root``.
    one_pitch = has_pitch and pitch_latent.shape[0] > 0
    if one_pitch:
        for row in range(root.shape[0]):  # one product a row, as the layers
            if active[row] != 0.0:
                dot_into(root[row : row + 1], pitch_matrix, scores[row : row + 1])
    for row in range(out.shape[0]):
        if active[row] == 0.0:
            for j in range(out.shape[1]):
                out[row, j] = 0.0
            continue
        semitones = 0.0
        if one_pitch:
            semitones = _refined_semitones(scores, row, first_octave, log_step)
        for j in range(out.shape[1]):
            v = z[row, j]
            if has_level:
                v += level[row] * level_latent[j]
            if one_pitch:
                v += semitones * pitch_latent[j]
            out[row, j] = v


class DecoderState(NamedTuple):
    """What :func:`decode_frames` reads and the scratch it writes, made once per batch size;
    passed field by field."""

    weights: tuple
    biases: tuple
    outputs: tuple
    n_bins: int
    has_level: bool
    has_pitch: bool
    level_out: np.ndarray  # (d,): the level read back from z
    pitch_out: np.ndarray  # (d,): the pitch (semitones above A0) read back from z
    pitch_bias: float
    bin_hz: float
    band_lower: np.ndarray  # (bins,) int: each bin's lower comb band (empty: a height per bin)
    band_weight: np.ndarray  # (bins,): the upper band's share
    z_rows: np.ndarray  # (batch, d) float32 scratch
    many: bool  # several pitch slots or free peaks (a version-3 model)
    channel_out: np.ndarray  # (J, d): the many-pitch channels read back from z
    channel_bias: np.ndarray  # (J,)
    level_bias: float  # the level, nepers: z . level_out + level_bias
    has_presence: bool  # the slots have presence channels
    peaks: int  # free peaks
    width: int  # comb heights per slot
    slot_gain: np.ndarray  # (slots,) control: 1 draws the slot, 0 not (/latent/pitches)
    chord: np.ndarray  # (CHORD_MOST,) control: semitones above the first slot
    chord_count: np.ndarray  # (1,) int control: chord intervals drawn (/latent/chord)
    values: np.ndarray  # (J,) scratch
    slot_semitones: np.ndarray  # (slots,) scratch
    gates: np.ndarray  # (slots,) scratch
    peak_semitones: np.ndarray  # (peaks,) scratch
    peak_logs: np.ndarray  # (peaks,) scratch
    acc: np.ndarray  # (bins,) scratch
    every_row: np.ndarray  # (batch,) ones: run_layers' ``active``, every latent is decoded


@njit(cache=True, nogil=True, inline="always")
def _read_channels(z_row: np.ndarray, state: DecoderState) -> bool:
    """A many-pitch model's channels of one latent ``z_row`` (d,) into ``state.values`` (natural
    units), and from them each slot's pitch (semitones above A0) and drawn share and each free
    peak's pitch and log magnitude (nepers) into their scratch; False when a channel is not
    finite (the row is then not drawn)."""
    values, finite = state.values, True
    for j in range(values.shape[0]):  # float64 sums, as the torch codec's (numba's
        v = np.float64(state.channel_bias[j])  # float() keeps a float32 a float32)
        for i in range(z_row.shape[0]):
            v += np.float64(z_row[i]) * np.float64(state.channel_out[j, i])
        values[j] = v
        finite = finite and math.isfinite(v)
    if not finite:
        return False
    slots, peaks = state.slot_semitones.shape[0], state.peaks
    level = state.level_bias
    for i in range(z_row.shape[0]):
        level += np.float64(z_row[i]) * np.float64(state.level_out[i])
    for s in range(slots):
        gate = min(max(values[slots + s], 0.0), 1.0) if state.has_presence else 1.0
        state.slot_semitones[s] = values[s]
        state.gates[s] = gate * state.slot_gain[s]
    start = slots + (slots if state.has_presence else 0)
    for p in range(peaks):
        state.peak_semitones[p] = values[start + p]
        state.peak_logs[p] = values[start + peaks + p] + level
    return True


@njit(cache=True, nogil=True, inline="always")
def _draw(h: np.ndarray, heights: np.ndarray, state: DecoderState, slots: int, peaks: int) -> None:
    """:func:`draw_slots_and_peaks` of the first ``slots`` slots and ``peaks`` free peaks held in
    ``state``'s scratch, with the chord the control set, on the row ``h``."""
    draw_slots_and_peaks(
        h,
        heights,
        state.width,
        state.slot_semitones[:slots],
        state.gates[:slots],
        state.chord,
        state.chord_count[0],
        state.peak_semitones[:peaks],
        state.peak_logs[:peaks],
        state.bin_hz,
        state.band_lower,
        state.band_weight,
        state.acc,
    )


@njit(cache=True, nogil=True, inline="always")
def _draw_one_comb(
    h: np.ndarray, heights: np.ndarray, z_row: np.ndarray, offset: float, state: DecoderState
) -> float:
    """A one-pitch model's comb (and the chord's) on the row ``h``; returns ``offset``, or NaN
    when the pitch or the heights are not finite."""
    semitones = np.dot(z_row, state.pitch_out) + state.pitch_bias
    if not (math.isfinite(semitones) and math.isfinite(heights[0])):
        return math.nan
    if state.chord_count[0] > 0:
        state.slot_semitones[0] = semitones
        state.gates[0] = 1.0
        _draw(h, heights, state, 1, 0)
        return offset
    f0_bins = _comb_f0_bins(semitones, state.bin_hz, state.n_bins)
    if state.band_lower.shape[0]:
        add_comb_banded(h, heights, state.band_lower, state.band_weight, f0_bins)
    else:
        add_comb_per_bin(h, heights, f0_bins)
    return offset


@hop_kernel
def decode_frames(z: np.ndarray, out: np.ndarray, fields: tuple) -> None:
    """Latents ``z`` (batch, d) to linear magnitudes ``out`` (batch, n_bins) in one pass of the
    layers, allocation-free; ``fields`` is the :class:`DecoderState` of this batch size as one
    plain tuple (a namedtuple argument takes numba's slow path from Python, and the fields
    spread, 30 arguments, numba's dispatcher took with an allocation a call; the state is
    made again inside).

    A non-finite latent or decoder output gives NaN magnitudes in its row (the engine counts
    the frame and plays silence there); a finite one never overflows (log-magnitudes clipped at
    ``MAX_LOG_MAGNITUDE``).
    """
    state = DecoderState(*fields)
    n, z_rows = state.n_bins, state.z_rows
    for row in range(z.shape[0]):
        for j in range(z.shape[1]):
            z_rows[row, j] = z[row, j]
    # row by row: a row's numbers never depend on the batch around it
    run_layers(z_rows, state.weights, state.biases, state.outputs, z_rows, False, state.every_row)
    full = state.outputs[-1]
    for row in range(z.shape[0]):
        offset = 0.0
        if state.has_level:
            offset = np.dot(z_rows[row], state.level_out)
        h, heights = full[row, :n], full[row, n:]
        if state.many:
            if math.isfinite(heights[0]) and _read_channels(z_rows[row], state):
                for k in range(n):  # the level first: a peak replaces bins it overtops
                    h[k] += offset
                offset = 0.0
                _draw(h, heights, state, state.slot_semitones.shape[0], state.peaks)
            else:
                offset = math.nan
        elif state.has_pitch:
            offset = _draw_one_comb(h, heights, z_rows[row], offset, state)
        _write_magnitudes(h, offset, out[row])


@njit(cache=True, nogil=True, inline="always")
def _write_magnitudes(h: np.ndarray, offset: float, out: np.ndarray) -> None:
    """Log-magnitudes ``h`` plus ``offset`` to linear magnitudes in ``out``, less the floor
    and never below 0; clipped at ``MAX_LOG_MAGNITUDE`` (a NaN stays NaN)."""
    for k in range(out.shape[0]):
        v = h[k] + offset
        if v > MAX_LOG_MAGNITUDE:  # NaN stays NaN
            v = MAX_LOG_MAGNITUDE
        v = np.exp(v) - MAGNITUDE_FLOOR
        if v < 0.0:
            v = 0.0
        out[k] = v


@hop_kernel
def clean_magnitudes(
    mags: np.ndarray, clean: np.ndarray, fallback_hz: np.ndarray, active: np.ndarray
) -> None:
    """The analyser's inputs: ``mags`` (with the floor) less the floor, at least 0, into
    ``clean``; ``fallback_hz`` NaN, the one-pitch estimate being taken only where the analysis
    needs it (:meth:`~caminos.models.partials.PartialAnalyser.analyse_into`). A row whose
    ``active`` value is 0 is silence (nothing to analyse) at A0."""
    for row in range(mags.shape[0]):
        if active[row] == 0.0:
            for k in range(mags.shape[1]):
                clean[row, k] = 0.0
            fallback_hz[row] = 27.5
            continue
        for k in range(mags.shape[1]):
            clean[row, k] = max(mags[row, k] - MAGNITUDE_FLOOR, 0.0)
        fallback_hz[row] = math.nan


@hop_kernel
def add_partial_channels(
    z: np.ndarray, values: np.ndarray, channel_latent: np.ndarray, active: np.ndarray
) -> None:
    """``z += values @ channel_latent``, allocation-free: each row's many-pitch channels in
    natural units (``values`` (batch, J), :func:`caminos.models.partials.channel_values`) into
    its latent ``z`` (batch, d); rows whose ``active`` value is 0 are left alone."""
    for row in range(z.shape[0]):
        if active[row] == 0.0:
            continue
        for i in range(z.shape[1]):
            v = 0.0
            for c in range(values.shape[1]):
                v += values[row, c] * channel_latent[c, i]
            z[row, i] += v


@hop_kernel
def _slot_heights(
    bands: np.ndarray, slot: int, width: int, lower: np.ndarray, weight: np.ndarray, k: int
) -> float:
    """Slot ``slot``'s comb height at bin ``k`` (before softplus): its band values
    ``bands[slot * width:(slot + 1) * width]`` interpolated (or one per bin when ``lower`` is
    empty)."""
    base = slot * width
    if lower.shape[0] == 0:
        return bands[base + k]
    i = lower[k]
    return bands[base + i] + weight[k] * (bands[base + i + 1] - bands[base + i])


# A slot whose comb raises no bin by more than this (nepers: 8.7e-6 dB) is not drawn: a single
# note's frame draws one slot and gates the others at 1e-8 to 1e-7 of a comb, which cost two
# thirds of the drawing (eight voices: about 0.4 ms a hop on the 2-core machine) for no bin
# moved by more than this. A raise g adds expm1(g) to the bin's sum and log1p of the sum to the
# bin, whose slope is at most 1: leaving the slot out moves no bin by more than expm1(g).
_NEGLIGIBLE_RAISE = 1e-6


@hop_kernel
def _largest_raise(bands: np.ndarray, slot: int, width: int, gate: float) -> float:
    """``expm1`` of the most slot ``slot`` raises any bin (nepers, before the cap): its comb's
    largest height, through softplus (which keeps the order), at a lobe's peak of 1, times its
    gate. Interpolated heights lie between two band values, so none is above the largest."""
    base = slot * width
    top = bands[base]
    for i in range(base + 1, base + width):
        top = max(top, bands[i])
    return np.expm1(_softplus(top) * gate)


@hop_kernel
def draw_slots_and_peaks(
    h: np.ndarray,
    bands: np.ndarray,
    width: int,
    slot_semitones,
    gates: np.ndarray,
    chord: np.ndarray,
    chord_count: int,
    peak_semitones: np.ndarray,
    peak_log_mags: np.ndarray,
    bin_hz: float,
    lower: np.ndarray,
    weight: np.ndarray,
    acc: np.ndarray,
) -> None:
    """Raise one comb per slot (and per chord interval) and draw the free peaks on ``h``.

    :func:`caminos.models.autoencoder.draw_partials_torch` for one frame, allocation-free:
    ``h`` (n_bins,) natural-log magnitudes, changed in place. ``bands`` holds every slot's comb
    heights (``width`` each); ``slot_semitones`` and ``gates`` (slots,) each slot's pitch and
    drawn share (0 draws nothing, and a slot that would raise no bin by more than
    ``_NEGLIGIBLE_RAISE`` nepers is left out). Each of the first ``chord_count`` entries of
    ``chord`` (semitones) draws one more comb that far above the first slot, with its heights
    and gate (``/latent/chord``). ``peak_semitones`` and ``peak_log_mags`` (peaks,): the free
    peaks.
    ``acc`` (n_bins,) is scratch.
    """
    n = h.shape[0]
    acc[:] = 0.0
    slots = slot_semitones.shape[0]
    for s in range(slots + chord_count):
        slot = s if s < slots else 0
        gate = gates[slot]
        if not gate > _NEGLIGIBLE_RAISE or _largest_raise(bands, slot, width, gate) <= (
            _NEGLIGIBLE_RAISE
        ):
            continue
        semitones = slot_semitones[slot]
        if s >= slots:
            semitones += chord[s - slots]
        f0_bins = _comb_f0_bins(semitones, bin_hz, n)
        for k in range(n):
            lobe = comb_at(k, f0_bins)
            if lobe > 0.0:
                g = min(
                    _softplus(_slot_heights(bands, slot, width, lower, weight, k)) * lobe * gate,
                    MAX_LOG_MAGNITUDE,
                )
                acc[k] += np.expm1(g)
    for k in range(n):
        if acc[k] > 0.0:
            h[k] += np.log1p(acc[k])
    for p in range(peak_semitones.shape[0]):
        centre = semitones_in_bins(peak_semitones[p], bin_hz)
        peak = np.exp(min(peak_log_mags[p], MAX_LOG_MAGNITUDE))
        first, last = lobe_span(centre, n)
        for k in range(first, last + 1):
            drawn = np.log(peak * hann_lobe_at(k - centre) + MAGNITUDE_FLOOR)
            if drawn > h[k]:
                h[k] = drawn


CHORD_MOST = 4  # intervals /latent/chord draws above the first slot, at most


def _term(model: HopModel, name: str) -> np.ndarray:
    """One of ``model``'s channel terms as float32 in C order (the array itself when it is so).

    Raises
    ------
    CheckpointError
        The model's shape has the channel but its numbers lack the term.
    """
    value = getattr(model, name)
    if value is None:
        raise CheckpointError(
            f"{model.path or model.name}: the model has no {name}, which its shape needs"
        )
    return np.ascontiguousarray(value, dtype=np.float32)


def _number(model: HopModel, name: str):
    """One of ``model``'s numbers (a float, or the pitch grid's pair), as :func:`_term`."""
    value = getattr(model, name)
    if value is None:
        raise CheckpointError(
            f"{model.path or model.name}: the model has no {name}, which its shape needs"
        )
    return value


class FrameCodec:
    """Encode a batch of log-magnitude frames and decode a batch of latents, allocation-free.

    Parameters
    ----------
    model : HopModel
        The model's numbers (``Checkpoint.hop_model()``, or :meth:`HopModel.load` of a file).
    batch : int
        Rows of every :meth:`encode` call (the engine's source channels).
    decode_batch : int
        Rows of every :meth:`decode_batch` call (the engine's voices, one per output channel).
    """

    def __init__(self, model: HopModel, batch: int, decode_batch: int = 1) -> None:
        self.batch = batch  # rows of every encode (EncodeUnit sizes its buffers by it)
        encoder = make_layers(model.encoder_weights, model.encoder_biases, batch)
        decoder = make_layers(model.decoder_weights, model.decoder_biases, decode_batch)
        self.latent_dim = d = encoder[0][-1].shape[1]
        shape = model.shape
        self.n_bins = n = int(shape.n_bins)
        self.has_level, self.has_pitch = bool(shape.level), bool(shape.pitch)
        self.many = bool(shape.many_pitches)
        self.pitch_slots = int(shape.pitch_slots) if self.has_pitch else 0
        self.decoder_weights = decoder[0]  # (inputs, outputs) float32, read every hop
        level_in = level_latent = level_out = _NO_ARRAY
        pitch_latent = pitch_out = pitch_matrix = _NO_ARRAY
        pitch_bias = first_octave = log_step = level_bias = 0.0
        band_lower, band_weight = _NO_INDEX, _NO_ARRAY
        channel_latent = channel_out = np.zeros((0, d), np.float32)
        channel_bias = _NO_ARRAY
        if self.has_level:  # the rank-one level terms (see FusedCodec)
            level_in, level_latent = _term(model, "level_in"), _term(model, "level_latent")
            level_out = _term(model, "level_out")
        if self.many:
            channel_latent = _term(model, "channel_latent")
            channel_out = _term(model, "channel_out")
            channel_bias = _term(model, "channel_bias")
            level_bias = float(_number(model, "level_bias"))
            pitch_out = np.zeros(d, np.float32)  # the encoder reads the scores alone
        elif self.has_pitch:
            pitch_latent, pitch_out = _term(model, "pitch_latent"), _term(model, "pitch_out")
            pitch_bias = float(_number(model, "pitch_bias"))
        if self.has_pitch:
            pitch_matrix = _term(model, "pitch_matrix")
            first, log_step = (float(v) for v in _number(model, "pitch_grid"))
            first_octave = math.log2(first / 27.5)
            if shape.comb_bands:
                band_lower, weight = band_interpolation(n, int(shape.comb_bands))
                band_weight = weight.astype(np.float32)
        candidates = pitch_matrix.shape[1] if self.has_pitch else 0
        first_width = encoder[0][0].shape[1]
        self._active = np.ones(batch)  # rows to encode (encode's ``active``)
        self._encoder = EncoderState(
            *encoder,
            self._active,
            self.has_level,
            self.has_pitch,
            level_in if self.has_level else np.zeros(first_width, np.float32),
            level_latent,
            pitch_latent,
            pitch_matrix if self.has_pitch else np.zeros((n, 0), np.float32),
            first_octave,
            log_step,
            np.zeros((batch, n), np.float32),
            np.zeros((batch, candidates), np.float32),
            np.zeros((batch, first_width), np.float32),
            np.zeros(batch, np.float32),
        )
        self._encoder_fields = tuple(self._encoder)  # what the kernel takes: a plain tuple
        self._mags = np.zeros((batch, n))  # exp(log_mags) for callers that pass no mags
        if self.many:  # the analyser of pitch slots and free peaks, and its inputs
            from caminos.models.partials import PartialAnalyser

            n_fft = 2 * (n - 1)
            self._analyser = PartialAnalyser(
                n_fft, round(shape.bin_hz * n_fft), shape.pitch_slots, shape.free_peaks, batch=batch
            )
            self._clean = np.zeros((batch, n))
            self._fallback_hz = np.zeros(batch)
            # the encoder's one-pitch tracker, for the frames the analysis finds no pitch in
            state = self._encoder
            self._one_pitch_tracker = (
                state.root,
                state.pitch_matrix,
                state.scores,
                np.array([state.first_octave, state.log_step]),
            )
            self._values_in = np.zeros((batch, len(channel_latent)))
            self._channel_latent = channel_latent.astype(np.float64)
        # Controls the decoder reads every hop (set from the control thread between hops).
        slots = max(self.pitch_slots, 1)
        self.slot_gain = np.ones(slots)
        self.chord = np.zeros(CHORD_MOST)
        self.chord_count = np.zeros(1, np.int64)
        width = int(shape.comb_heights) if self.has_pitch else 0
        peaks = int(shape.free_peaks) if self.has_pitch else 0

        def decoder_state(layers: tuple, rows: int) -> DecoderState:
            return DecoderState(
                *layers,
                n,
                self.has_level,
                self.has_pitch,
                level_out,
                pitch_out,
                pitch_bias,
                float(shape.bin_hz),
                band_lower,
                band_weight,
                np.zeros((rows, d), np.float32),
                self.many,
                channel_out,
                channel_bias,
                level_bias,
                bool(shape.presence_channels),
                peaks,
                width,
                self.slot_gain,
                self.chord,
                self.chord_count,
                np.zeros(len(channel_out)),
                np.zeros(slots),
                np.zeros(slots),
                np.zeros(peaks),
                np.zeros(peaks),
                np.zeros(n),
                np.ones(rows),
            )

        self._decoder = decoder_state(decoder, decode_batch)
        self._decoder_fields = tuple(self._decoder)  # what the kernel takes: a plain tuple
        # one row: decode() of any latent, beside the batch, with the batch's weights
        self._single = decoder_state(with_batch(decoder, 1), 1)
        self._single_fields = tuple(self._single)
        self._z_one = np.zeros((1, self.latent_dim))
        self._out_one = np.zeros((1, n))
        self._z_one_row, self._out_one_row = self._z_one[0], self._out_one[0]  # views made once

    def set_pitch_slots(self, count: int) -> None:
        """Draw the first ``count`` pitch slots (1 to the model's), the others not
        (``/latent/pitches``); more than the model has draws them all."""
        count = max(1, int(count))
        for k in range(len(self.slot_gain)):
            self.slot_gain[k] = 1.0 if k < count else 0.0

    def pitch_slots_drawn(self) -> int:
        """How many pitch slots the decoder draws (:meth:`set_pitch_slots`)."""
        return int(np.count_nonzero(self.slot_gain))

    def set_chord(self, semitones) -> None:
        """Draw one more comb per interval (semitones above the first slot, at most
        :data:`CHORD_MOST`; 0, a unison, draws none), with the first slot's heights
        (``/latent/chord``); none: no chord.

        The intervals are written before their count, so a hop that reads them between two
        writes draws the old count of valid intervals.
        """
        values = [float(v) for v in semitones if float(v) != 0.0][:CHORD_MOST]
        self.chord_count[0] = min(int(self.chord_count[0]), len(values))
        for i, v in enumerate(values):
            self.chord[i] = v
        self.chord_count[0] = len(values)

    def chord_intervals(self) -> tuple[float, ...]:
        """The intervals :meth:`set_chord` draws, semitones; empty: no chord."""
        return tuple(float(v) for v in self.chord[: int(self.chord_count[0])])

    def encode(
        self,
        log_mags: np.ndarray,
        out: np.ndarray,
        mags: np.ndarray | None = None,
        active: np.ndarray | None = None,
    ) -> None:
        """Log-magnitudes (batch, n_inputs) float32, C order, to latents ``out`` (batch, d).

        ``mags`` (batch, n_bins) float64, when the caller has them, are the current frames'
        linear magnitudes with the floor (``exp`` of the last ``n_bins`` columns): the engine
        passes those it took the log of, so the hop does not take the exponential back.
        ``active`` (batch,): rows whose value is 0 are not encoded and get latent 0 (the
        channels of the sources that do not sound this hop); by default every row is.
        A row's latent never depends on the other rows. Each row is a stream of the many-pitch
        analysis: its frames are read in order, one a call (a row that does not sound starts
        its stream again; :meth:`restart_streams` starts them all again).
        """
        if mags is None:
            mags = self._mags
            np.exp(log_mags[:, -self.n_bins :], out=mags)
        if active is None:
            self._active.fill(1.0)
        else:
            np.copyto(self._active, active)
        encode_frames(log_mags, mags, out, self._encoder_fields)
        if self.many:
            state = self._encoder
            clean_magnitudes(mags, self._clean, self._fallback_hz, self._active)
            analyser = self._analyser
            analyser.analyse_into(
                self._clean, self._fallback_hz, self._active, self._one_pitch_tracker
            )
            channel_values(
                state.level,
                analyser.f0,
                analyser.presence,
                analyser.peak_bins,
                analyser.peak_mags,
                analyser.slots > 1,
                analyser.bin_hz,
                self._values_in,
            )
            add_partial_channels(out, self._values_in, self._channel_latent, self._active)

    def restart_streams(self) -> None:
        """Start every row's stream of the many-pitch analysis again: the next frame each row
        encodes is read alone (:class:`~caminos.models.partials.PartialAnalyser`)."""
        if self.many:
            self._analyser.reset()

    def decode_batch(self, z: np.ndarray, out: np.ndarray) -> None:
        """Latents (decode_batch, latent_dim) to linear magnitudes ``out`` (decode_batch,
        n_bins), float64, in one pass of the layers."""
        decode_frames(z, out, self._decoder_fields)

    def decode(self, z: np.ndarray, out: np.ndarray) -> None:
        """One latent (latent_dim,) to linear magnitudes ``out`` (n_bins,), float64; the same
        numbers as that row of :meth:`decode_batch`."""
        np.copyto(self._z_one_row, z)
        decode_frames(self._z_one, self._out_one, self._single_fields)
        np.copyto(out, self._out_one_row)
