"""The autoencoder on the hop path: the fused codec's layers as numpy products into fixed buffers.

Stages three and five of ``Engine.tick()``. :class:`models.autoencoder.FusedCodec` folds the
model's normalisation and latent rotation into its layers; this runs the same layers with
``np.matmul(..., out=)`` and in-place SiLU, so a hop allocates nothing for the model and pays no
torch dispatch (about 10 us per call at batch 1 here, twelve calls a hop). Equal to the torch
codec to float32 rounding (tested).
"""

from __future__ import annotations

import numpy as np
import torch

from models.autoencoder import MAGNITUDE_FLOOR, FusedCodec


_EXP_LIMIT = 80.0  # exp(80) = 5.5e34 fits float32 (max 3.4e38); larger arguments would overflow


class _Stack:
    """Dense layers with SiLU between them, for a fixed batch size, into preallocated rows."""

    def __init__(self, weights, biases, batch: int) -> None:
        self.weights = [np.ascontiguousarray(w.detach().numpy().T, dtype=np.float32)
                        for w in weights]  # (inputs, outputs): x @ W^T as x @ this
        self.biases = [b.detach().numpy().astype(np.float32) for b in biases]
        self.outputs = [np.zeros((batch, w.shape[1]), dtype=np.float32) for w in self.weights]
        self.scratch = [np.zeros((batch, w.shape[1]), dtype=np.float32) for w in self.weights]

    def run(self, x: np.ndarray) -> np.ndarray:
        """``x`` (batch, inputs) float32 through every layer; returns the last output buffer."""
        h = x
        last = len(self.weights) - 1
        for i, (w, b, out, tmp) in enumerate(zip(self.weights, self.biases, self.outputs,
                                                 self.scratch, strict=True)):
            np.matmul(h, w, out=out)
            out += b
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
        self.n_bins = self._decoder.weights[-1].shape[1]
        self._z = np.zeros((1, self.latent_dim), dtype=np.float32)

    def encode(self, log_mags: np.ndarray, out: np.ndarray) -> None:
        """Log-magnitudes (batch, n_inputs) float32 to latents ``out`` (batch, latent_dim)."""
        out[:] = self._encoder.run(log_mags)

    def decode(self, z: np.ndarray, out: np.ndarray) -> None:
        """One latent (latent_dim,) to linear magnitudes ``out`` (n_bins,), float64."""
        self._z[0] = z
        h = self._decoder.run(self._z)[0]
        np.minimum(h, _EXP_LIMIT, out=h)  # no overflow warning from a wild latent; NaN stays NaN
        np.exp(h, out=h)
        h -= MAGNITUDE_FLOOR
        np.maximum(h, 0.0, out=h)
        out[:] = h
