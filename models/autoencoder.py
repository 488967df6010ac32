"""Spectral variational autoencoder: log-magnitude STFT frames to a small latent and back.

The model between analysis and phase recovery (DESIGN.md section 1): sources' magnitude frames are
encoded to ``z``, the latent mixer moves ``z``, and the decoder gives magnitudes back. After
training, the latent is rotated so axis 0 carries the most variance, and each axis is described by
the audio descriptors it moves most (:func:`describe_axes`), so a performer knows what it does.

Why this shape (see ``docs/architecture.md``): like CANNe/ANNe, a fully connected network on single
magnitude frames (optionally with a few past frames, which adds no latency); unlike them it is
variational, as in Latent Timbre Synthesis, so points between two sounds decode to in-between
spectra; unlike RAVE it works on STFT frames, so phase recovery and time-stretch stay in the
engine and batch-1 encode+decode costs tens of microseconds on one CPU thread.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from engine.config import StftConfig
from engine.errors import ParameterError

# Magnitude floor added before the logarithm, in linear STFT magnitude units. A full-scale sine
# gives a peak bin of n_fft/4 = 256 at n_fft = 1024, so 1e-3 sits 108 dB below it: quieter detail
# is noise the model should not spend capacity on.
MAGNITUDE_FLOOR = 1e-3

DESCRIPTORS = ("loudness_db", "centroid_hz", "flatness_db", "harmonicity")
DESCRIPTOR_WORDS = {  # what a positive change of each descriptor sounds like
    "loudness_db": ("louder", "quieter"),
    "centroid_hz": ("brighter", "darker"),
    "flatness_db": ("noisier", "more tonal"),
    "harmonicity": ("more harmonic", "less harmonic"),
}


@dataclass(frozen=True)
class ModelShape:
    """Hyper-parameters that fix the network's weights' shapes.

    Attributes
    ----------
    n_bins : int
        Frequency bins per frame, ``n_fft // 2 + 1``.
    latent_dim : int
        Latent dimensions, 8 to 32.
    hidden : tuple of int
        Widths of the hidden layers of the encoder; the decoder mirrors them.
    context : int
        Past frames stacked before the current one at the input (0 = the frame alone). Past
        frames only, so context adds no latency.
    """

    n_bins: int = 513
    latent_dim: int = 16
    hidden: tuple[int, ...] = (512, 256)
    context: int = 0

    def __post_init__(self) -> None:
        if not 8 <= self.latent_dim <= 32:
            raise ParameterError(f"latent_dim must be in 8..32, got {self.latent_dim}")
        if not 0 <= self.context <= 8:
            raise ParameterError(f"context must be in 0..8 frames, got {self.context}")
        if self.n_bins < 2 or not self.hidden or min(self.hidden) < 1:
            raise ParameterError(f"bad model shape: n_bins={self.n_bins}, hidden={self.hidden}")

    @property
    def n_inputs(self) -> int:
        """Input width: ``n_bins * (context + 1)``."""
        return self.n_bins * (self.context + 1)

    def to_dict(self) -> dict:
        """Plain types, for a checkpoint."""
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ModelShape":
        """Inverse of :meth:`to_dict`."""
        return cls(n_bins=int(data["n_bins"]), latent_dim=int(data["latent_dim"]),
                   hidden=tuple(int(h) for h in data["hidden"]), context=int(data["context"]))


def log_magnitude(magnitudes: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """``log(|X| + MAGNITUDE_FLOOR)``, natural log, for numpy arrays or tensors."""
    if isinstance(magnitudes, torch.Tensor):
        return torch.log(magnitudes + MAGNITUDE_FLOOR)
    return np.log(np.asarray(magnitudes) + MAGNITUDE_FLOOR)


def stack_context(log_mags: np.ndarray, context: int, starts: np.ndarray | None = None) -> np.ndarray:
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
    Training uses :meth:`forward` on normalised inputs. Everything else uses :meth:`encode`
    (log-magnitudes to latent coordinates) and :meth:`decode` (latent coordinates to linear
    magnitudes). Latent coordinates are the posterior means, centred and rotated by
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
        self.to_latent = nn.Linear(widths[-1], 2 * shape.latent_dim)  # mean and log-variance
        back = (shape.latent_dim, *reversed(shape.hidden))
        decoder: list[nn.Module] = []
        for a, b in zip(back[:-1], back[1:]):
            decoder += [nn.Linear(a, b), nn.SiLU()]
        decoder.append(nn.Linear(back[-1], shape.n_bins))
        self.decoder = nn.Sequential(*decoder)
        d = shape.latent_dim
        # Per-bin statistics of the training log-magnitudes (inputs are normalised by them).
        self.register_buffer("input_mean", torch.zeros(shape.n_inputs))
        self.register_buffer("input_std", torch.ones(shape.n_inputs))
        # Latent rotation: coordinates = (mu - latent_center) @ latent_rotation.
        self.register_buffer("latent_center", torch.zeros(d))
        self.register_buffer("latent_rotation", torch.eye(d))
        self.register_buffer("latent_std", torch.ones(d))
        self.register_buffer("explained_variance", torch.full((d,), 1.0 / d))

    # -- training ------------------------------------------------------------------------------
    def set_input_statistics(self, log_mags: np.ndarray) -> None:
        """Fit the per-bin input normalisation on training inputs, shape (n, n_inputs)."""
        mean = log_mags.mean(axis=0)
        std = np.maximum(log_mags.std(axis=0), 1e-3)
        self.input_mean.copy_(torch.as_tensor(mean, dtype=self.input_mean.dtype))
        self.input_std.copy_(torch.as_tensor(std, dtype=self.input_std.dtype))

    def normalise(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Inputs in per-bin standard units."""
        return (log_mags - self.input_mean) / self.input_std

    def forward(self, x: torch.Tensor, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor,
                                                                     torch.Tensor]:
        """One training pass on normalised inputs.

        Parameters
        ----------
        x : Tensor, shape (batch, n_inputs)
            Normalised log-magnitudes (:meth:`normalise`).
        sample : bool
            Draw ``z`` from the posterior (training) or take its mean (validation).

        Returns
        -------
        recon : Tensor, shape (batch, n_bins)
            The current frame's normalised log-magnitudes as decoded.
        mu, logvar : Tensor, shape (batch, latent_dim)
            Posterior mean and log-variance, in the unrotated latent.
        """
        mu, logvar = self.to_latent(self.encoder(x)).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        return self.decoder(z), mu, logvar

    def target(self, x: torch.Tensor) -> torch.Tensor:
        """The part of a normalised input that the decoder reproduces (the current frame)."""
        return x[:, -self.shape.n_bins:]

    # -- inference -----------------------------------------------------------------------------
    def encode_raw(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Posterior means in the unrotated latent, shape (batch, latent_dim)."""
        h = self.encoder(self.normalise(log_mags))
        return self.to_latent(h)[:, :self.shape.latent_dim]

    def encode(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Log-magnitudes, shape (batch, n_inputs), to rotated latent coordinates (batch, d)."""
        return (self.encode_raw(log_mags) - self.latent_center) @ self.latent_rotation

    def decode_log(self, z: torch.Tensor) -> torch.Tensor:
        """Rotated latent coordinates, shape (batch, d), to log-magnitudes (batch, n_bins)."""
        raw = z @ self.latent_rotation.T + self.latent_center
        n = self.shape.n_bins
        return self.decoder(raw) * self.input_std[-n:] + self.input_mean[-n:]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Rotated latent coordinates, shape (batch, d), to linear magnitudes (batch, n_bins)."""
        return torch.clamp(torch.exp(self.decode_log(z)) - MAGNITUDE_FLOOR, min=0.0)

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
    def encode_numpy(self, log_mags: np.ndarray, batch: int = 4096, raw: bool = False) -> np.ndarray:
        """:meth:`encode` over a numpy array in batches; float32 (n, latent_dim)."""
        out = self._batched(self.encode_raw if raw else self.encode, log_mags, batch)
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
            chunk = torch.as_tensor(array[start:start + batch], dtype=torch.float32, device=device)
            out.append(fn(chunk).cpu().numpy())
        self.train(was_training)
        return np.concatenate(out) if out else np.zeros((0,), np.float32)


class FusedCodec(nn.Module):
    """The real-time twin of a trained :class:`SpectralVAE`: same numbers, fewer operations.

    Input normalisation, the latent rotation and the output de-normalisation are folded into the
    first and last linear layers, so batch-1 encode+decode is six matrix products and a handful
    of element-wise operations (each torch call costs a few microseconds at batch 1, about as much
    as a 256x512 product). Built by :meth:`from_model`; equal to the model to float32 rounding
    (tested).
    """

    def __init__(self, encoder: list[tuple[torch.Tensor, torch.Tensor]],
                 decoder: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        super().__init__()
        self.encoder_weights = nn.ParameterList(
            [nn.Parameter(w, requires_grad=False) for w, _ in encoder])
        self.encoder_biases = nn.ParameterList(
            [nn.Parameter(b, requires_grad=False) for _, b in encoder])
        self.decoder_weights = nn.ParameterList(
            [nn.Parameter(w, requires_grad=False) for w, _ in decoder])
        self.decoder_biases = nn.ParameterList(
            [nn.Parameter(b, requires_grad=False) for _, b in decoder])

    @classmethod
    @torch.no_grad()
    def from_model(cls, model: SpectralVAE) -> "FusedCodec":
        """Fold ``model``'s normalisation and latent rotation into its linear layers."""
        d, n = model.shape.latent_dim, model.shape.n_bins
        enc = [(m.weight.detach().clone(), m.bias.detach().clone())
               for m in model.encoder if isinstance(m, nn.Linear)]
        w, b = enc[0]
        w = w / model.input_std
        enc[0] = (w, b - w @ model.input_mean)
        rotation, center = model.latent_rotation, model.latent_center
        w_mu = model.to_latent.weight[:d].detach()
        b_mu = model.to_latent.bias[:d].detach()
        enc.append((rotation.T @ w_mu, rotation.T @ (b_mu - center)))
        dec = [(m.weight.detach().clone(), m.bias.detach().clone())
               for m in model.decoder if isinstance(m, nn.Linear)]
        w, b = dec[0]
        dec[0] = (w @ rotation, w @ center + b)
        w, b = dec[-1]
        scale, shift = model.input_std[-n:], model.input_mean[-n:]
        dec[-1] = (scale[:, None] * w, scale * b + shift)
        return cls([(w.contiguous(), b.contiguous()) for w, b in enc],
                   [(w.contiguous(), b.contiguous()) for w, b in dec])

    def encode(self, log_mags: torch.Tensor) -> torch.Tensor:
        """Log-magnitudes, shape (batch, n_inputs), to rotated latent coordinates (batch, d)."""
        return _dense_stack(log_mags, self.encoder_weights, self.encoder_biases)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Rotated latent coordinates, shape (batch, d), to linear magnitudes (batch, n_bins)."""
        h = _dense_stack(z, self.decoder_weights, self.decoder_biases)
        return torch.clamp(torch.exp(h) - MAGNITUDE_FLOOR, min=0.0)


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
def frame_descriptors(magnitudes: np.ndarray, stft: StftConfig, sample_rate: int) -> dict[str, np.ndarray]:
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
    harmonicity = np.clip(np.where(autocorr[:, 0] > 0, peak / np.maximum(autocorr[:, 0], 1e-30),
                                   0.0), 0.0, 1.0)
    return {"loudness_db": loudness, "centroid_hz": centroid, "flatness_db": flatness,
            "harmonicity": harmonicity}


def describe_axes(model: SpectralVAE, inputs: np.ndarray, magnitudes: np.ndarray, stft: StftConfig,
                  sample_rate: int) -> dict:
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
        change = {name: float(decoded[name][2 * k + 1] - decoded[name][2 * k]) for name in DESCRIPTORS}
        relative = {name: change[name] / spread[name] for name in DESCRIPTORS}
        ranked = sorted(DESCRIPTORS, key=lambda name: -abs(relative[name]))
        words = []
        for name in ranked[:2]:
            if abs(relative[name]) >= 0.05:
                up, down = DESCRIPTOR_WORDS[name]
                words.append(f"{up if relative[name] > 0 else down} ({relative[name]:+.2f} sd)")
        axes.append({"axis": k, "std": float(std[k]), "explained_variance": float(explained[k]),
                     "change": change, "change_in_spread": relative,
                     "summary": ", ".join(words) if words else "little audible change"})
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
        directions[name] = {"vector": [float(v) for v in (vector / norm if norm > 0 else vector)],
                            "r2": r2, "words": list(DESCRIPTOR_WORDS[name])}
    return {"axes": axes, "directions": directions, "spread": spread}


def count_parameters(model: nn.Module) -> int:
    """Number of trainable weights."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def measure_latency_us(model: SpectralVAE, repeats: int = 2000, warmup: int = 200,
                       fused: bool = True) -> tuple[float, float]:
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

