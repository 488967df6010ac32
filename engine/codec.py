"""The autoencoder on the hop path: the fused codec's layers as numpy products into fixed buffers.

Stages three and five of ``Engine.tick()``. :class:`models.autoencoder.FusedCodec` folds the
model's normalisation and latent rotation into its layers; this runs the same layers with
``np.matmul(..., out=)`` and in-place SiLU, so a hop allocates nothing for the model and pays no
torch dispatch (about 10 us per call at batch 1 here, twelve calls a hop). Equal to the torch
codec to float32 rounding (tested).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit

from models.autoencoder import MAGNITUDE_FLOOR, MAX_LOG_MAGNITUDE, FusedCodec


_EXP_LIMIT = 80.0  # exp(80) = 5.5e34 fits float32 (max 3.4e38); larger arguments would overflow


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().numpy(), dtype=np.float32)


@njit(cache=True, nogil=True)
def _comb_at(k: int, f0_bins: float) -> float:
    """The Hann main lobe at bin ``k`` of the nearest harmonic (the first at least) of
    ``f0_bins``: :func:`models.pitch.hann_lobe` of the distance, one bin at a time."""
    harmonic = max(np.round(k / f0_bins), 1.0)
    d = abs(k - harmonic * f0_bins)
    if d >= 2.0:
        return 0.0
    den = np.pi * d * (1.0 - d * d)
    if abs(den) < 1e-12:
        return 1.0 - 0.5 * np.round(d)  # the limits: 1 at d = 0, 0.5 at d = 1
    return abs(np.sin(np.pi * d) / den)


@njit(cache=True, nogil=True)
def _softplus(x: float) -> float:
    return max(x, 0.0) + np.log1p(np.exp(-abs(x)))


@njit(cache=True, nogil=True)
def add_comb_per_bin(h: np.ndarray, heights: np.ndarray, f0_bins: float) -> None:
    """``h[k] += softplus(heights[k]) * comb_k(f0)`` in one pass, allocation-free (hop path)."""
    for k in range(h.shape[0]):
        lobe = _comb_at(k, f0_bins)
        if lobe > 0.0:
            h[k] += _softplus(heights[k]) * lobe


@njit(cache=True, nogil=True)
def add_comb_banded(h: np.ndarray, bands: np.ndarray, lower: np.ndarray, weight: np.ndarray,
                    f0_bins: float) -> None:
    """:func:`add_comb_per_bin` with heights interpolated between band centres
    (:func:`models.autoencoder.band_interpolation`)."""
    for k in range(h.shape[0]):
        lobe = _comb_at(k, f0_bins)
        if lobe > 0.0:
            i = lower[k]
            height = bands[i] + weight[k] * (bands[i + 1] - bands[i])
            h[k] += _softplus(height) * lobe


class _Stack:
    """Dense layers with SiLU between them, for a fixed batch size, into preallocated rows."""

    def __init__(self, weights, biases, batch: int) -> None:
        self.weights = [np.ascontiguousarray(w.detach().numpy().T, dtype=np.float32)
                        for w in weights]  # (inputs, outputs): x @ W^T as x @ this
        self.biases = [b.detach().numpy().astype(np.float32) for b in biases]
        self.outputs = [np.zeros((batch, w.shape[1]), dtype=np.float32) for w in self.weights]
        self.scratch = [np.zeros((batch, w.shape[1]), dtype=np.float32) for w in self.weights]

    def run(self, x: np.ndarray, first_extra: np.ndarray | None = None) -> np.ndarray:
        """``x`` (batch, inputs) float32 through every layer; returns the last output buffer.

        ``first_extra`` (batch, first width), when given, is added to the first layer's output
        before its SiLU (the level term of a model with a level channel).
        """
        h = x
        last = len(self.weights) - 1
        for i, (w, b, out, tmp) in enumerate(zip(self.weights, self.biases, self.outputs,
                                                 self.scratch, strict=True)):
            np.matmul(h, w, out=out)
            out += b
            if i == 0 and first_extra is not None:
                out += first_extra
            if i < last:  # SiLU: out * sigmoid(out) = out / (1 + exp(-out))
                np.negative(out, out=tmp)
                np.minimum(tmp, _EXP_LIMIT, out=tmp)  # silu(-80) is 0 to float32 anyway
                np.exp(tmp, out=tmp)
                tmp += 1.0
                np.divide(out, tmp, out=out)
            h = out
        return h


class FrameCodec:
    """Encode a batch of log-magnitude frames and decode one latent, allocation-free.

    Parameters
    ----------
    codec : FusedCodec
        The model's real-time form.
    batch : int
        Rows of every :meth:`encode` call (the engine's number of sources).
    """

    def __init__(self, codec: FusedCodec, batch: int) -> None:
        with torch.no_grad():
            self._encoder = _Stack(codec.encoder_weights, codec.encoder_biases, batch)
            self._decoder = _Stack(codec.decoder_weights, codec.decoder_biases, 1)
        self.latent_dim = self._encoder.weights[-1].shape[1]
        self.n_bins = int(codec.n_bins)
        self._z = np.zeros((1, self.latent_dim), dtype=np.float32)
        self.has_level, self.has_pitch = bool(codec.has_level), bool(codec.has_pitch)
        n = self.n_bins
        self._first = np.zeros((batch, self._encoder.weights[0].shape[1]), dtype=np.float32)
        self._latent_term = np.zeros((batch, self.latent_dim), dtype=np.float32)
        self._level = np.zeros((batch, 1), dtype=np.float32)
        self._mags = np.zeros((batch, n), dtype=np.float32)
        self._power = np.zeros((batch, n), dtype=np.float32)
        if self.has_level:  # the rank-one level terms (see FusedCodec)
            self._level_in = _numpy(codec.level_in)
            self._level_latent = _numpy(codec.level_latent)
            self._level_out = _numpy(codec.level_out)
        if self.has_pitch:
            self._pitch_latent = _numpy(codec.pitch_latent)
            self._pitch_out = _numpy(codec.pitch_out)
            self._pitch_bias = float(codec.pitch_bias[0])
            self._pitch_matrix = _numpy(codec.pitch_matrix)
            first, self._log_step = (float(v) for v in codec.pitch_grid)
            self._first_octave = float(np.log2(first / 27.5))
            self._scores = np.zeros((batch, self._pitch_matrix.shape[1]), dtype=np.float32)
            self._semitones = np.zeros((batch, 1), dtype=np.float32)
            self._bin_hz = float(codec.shape.bin_hz)
            self._bands = int(codec.shape.comb_bands)
            if self._bands:
                from models.autoencoder import band_interpolation
                self._band_lower, self._band_weight = band_interpolation(n, self._bands)

    def _frame_level(self, mags: np.ndarray) -> np.ndarray:
        """:func:`models.autoencoder.frame_level` of each row, into (batch, 1), from ``mags``, the
        rows' ``exp(log_mags)`` (``|X| + floor``): half the log of their mean square."""
        np.multiply(mags, mags, out=self._power)
        np.mean(self._power, axis=1, keepdims=True, out=self._level)
        np.log(self._level, out=self._level)
        self._level *= 0.5
        return self._level

    def _pitch(self, mags: np.ndarray) -> np.ndarray:
        """Tracked pitch of each row, semitones above A0, into (batch, 1), from ``mags``, the rows'
        ``exp(log_mags)``."""
        np.subtract(mags, MAGNITUDE_FLOOR, out=self._power)
        np.maximum(self._power, 0.0, out=self._power)
        np.sqrt(self._power, out=self._power)
        np.matmul(self._power, self._pitch_matrix, out=self._scores)
        scores = self._scores
        last = scores.shape[1] - 2
        for row in range(len(scores)):  # a parabola through the best candidate and neighbours
            best = int(np.argmax(scores[row]))
            shift = 0.0
            if 1 <= best <= last:
                left, centre, right = scores[row, best - 1], scores[row, best], scores[row, best + 1]
                curve = left - 2.0 * centre + right
                if curve < 0.0:
                    shift = min(max(0.5 * (left - right) / curve, -0.5), 0.5)
            self._semitones[row, 0] = 12.0 * ((best + shift) * self._log_step + self._first_octave)
        return self._semitones

    def encode(self, log_mags: np.ndarray, out: np.ndarray) -> None:
        """Log-magnitudes (batch, n_inputs) float32 to latents ``out`` (batch, latent_dim)."""
        if not (self.has_level or self.has_pitch):
            out[:] = self._encoder.run(log_mags)
            return
        mags = self._mags
        np.exp(log_mags[:, -self.n_bins:], out=mags)  # once, for both channels
        first = None
        if self.has_level:
            level = self._frame_level(mags)
            np.multiply(level, self._level_in, out=self._first)
            first = self._first
        out[:] = self._encoder.run(log_mags, first)
        if self.has_level:
            np.multiply(level, self._level_latent, out=self._latent_term)
            out += self._latent_term
        if self.has_pitch:
            np.multiply(self._pitch(mags), self._pitch_latent, out=self._latent_term)
            out += self._latent_term

    def _add_comb(self, z: np.ndarray, heights: np.ndarray, h: np.ndarray) -> None:
        """``h += softplus(heights) * comb(f0)`` with f0 read from ``z`` (see FusedCodec)."""
        semitones = float(np.dot(z, self._pitch_out)) + self._pitch_bias
        if not (math.isfinite(semitones) and np.isfinite(heights[0])):
            h += math.nan  # a broken model frame: the engine counts it and plays silence
            return
        f0_bins = min(max(27.5 * 2.0 ** (min(semitones, 200.0) / 12.0) / self._bin_hz, 1.0),
                      float(self.n_bins))
        if self._bands:
            add_comb_banded(h, heights, self._band_lower, self._band_weight, f0_bins)
        else:
            add_comb_per_bin(h, heights, f0_bins)

    def decode(self, z: np.ndarray, out: np.ndarray) -> None:
        """One latent (latent_dim,) to linear magnitudes ``out`` (n_bins,), float64."""
        self._z[0] = z
        full = self._decoder.run(self._z)[0]
        h = full[:self.n_bins]
        if self.has_level:
            h += float(np.dot(self._z[0], self._level_out))
        if self.has_pitch:
            self._add_comb(self._z[0], full[self.n_bins:], h)
        np.minimum(h, MAX_LOG_MAGNITUDE, out=h)  # no overflow from a wild latent; NaN stays NaN
        np.exp(h, out=h)
        h -= MAGNITUDE_FLOOR
        np.maximum(h, 0.0, out=h)
        out[:] = h
