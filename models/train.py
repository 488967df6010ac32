"""Training loop of the spectral autoencoder: corpus frames in, a finished checkpoint out.

Called by ``caminos train autoencoder`` after :mod:`caminos.models.data` has read the folder. Shows
train
and validation loss with a time estimate, stops early when validation stops improving, halves the
batch on out-of-memory, saves a usable checkpoint on Ctrl-C, resumes from a checkpoint, runs under
``torchrun`` with torch.distributed (DDP; gloo on CPU, nccl on CUDA), and finishes every
checkpoint with the latent rotation, axis descriptors, metrics and a loss-curve PNG beside it.

Why this file is longer than 500 lines: the training loop with its settings, losses, validation,
early stopping, budgets, resume and DDP, which share the loop's state.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from caminos.engine.core.config import Config
from caminos.engine.core.errors import CaminosError, CheckpointError
from caminos.models.autoencoder import (
    SpectralVAE,
    count_parameters,
    describe_axes,
    kl_divergence,
    linear_magnitude,
    measure_latency_us,
    stack_context,
)
from caminos.models.augment import random_gain, random_mix, random_stretch, random_transpose
from caminos.models.checkpoint import load_checkpoint, save_checkpoint
from caminos.models.data import Corpus
from caminos.models.shape import MAGNITUDE_FLOOR, MAX_LOG_MAGNITUDE, ModelShape

DB_PER_NEPER = 20.0 / math.log(10.0)  # natural-log magnitude difference to dB


class TrainingError(CaminosError):
    """Training cannot start or continue (bad settings, device missing, resume mismatch)."""


LOSSES = ("spectral", "log_mse")
KEEP_BY = ("survival", "loss")
PARTIAL_RANGE_DB = 40.0  # the top of each frame that partial_weights counts, dB


@dataclass(frozen=True)
class TrainSettings:
    """What to train and how.

    Attributes
    ----------
    latent_dim : int
        Latent dimensions, 8 to 48.
    hidden : tuple of int
        Hidden layer widths of the encoder.
    decoder_hidden : tuple of int
        Hidden layer widths of the decoder; empty mirrors ``hidden``.
    context : int
        Past frames at the input, 0 to 8.
    level : bool
        Take each frame's level out of the learned latent (``ModelShape.level``).
    pitch : bool
        An explicit pitch channel and the decoder's harmonic comb (``ModelShape.pitch``).
    comb_bands : int
        Bands of the comb's heights (``ModelShape.comb_bands``; 0: one per bin).
    pitch_slots : int
        Pitch slots per frame (``ModelShape.pitch_slots``); a model without the pitch or level
        channel has one.
    free_peaks : int
        Free spectral peaks per frame (``ModelShape.free_peaks``); none without the pitch or
        level channel.
    loss : str
        ``spectral``: spectral convergence of the linear magnitudes plus ``log_weight`` times the
        mean absolute natural-log magnitude error (:func:`spectral_loss`), which sees partials;
        ``log_mse``: the squared log-magnitude error of caminos' first models, which spends
        itself on the noise floor.
    log_weight : float
        Weight of the log-magnitude L1 term of the ``spectral`` loss.
    partial_weight : float
        Weight of its partial-weighted log-magnitude L1 term (:func:`partial_weights`: the top
        40 dB of each frame); 0 for the models before it.
    magnitude_power : float
        Power of the magnitudes in its spectral convergence term (1: linear magnitudes).
    keep : str
        Which epoch's weights are kept and what early stopping and the learning-rate decay
        watch: ``survival``, the best partial survival of the validation split through the model
        (:func:`validation_metrics`); ``loss``, the lowest validation loss (the models before
        it). Each of the first ``warmup_epochs`` epochs replaces the kept weights whatever its
        score, so no epoch trained before the KL term reached its full weight is kept.
    beta : float
        Weight of the KL term per bin: ``loss = reconstruction + beta * KL / n_bins``. Larger is
        smoother to walk, blurrier to reconstruct.
    warmup_epochs : int
        Epochs over which ``beta`` ramps up from 0 (avoids an early collapse of the latent).
    epochs : int
        Most epochs (in total, counting those of a resumed checkpoint).
    batch_size : int
        Frames per step (over all processes); halved automatically on out-of-memory.
    learning_rate : float
        Adam step size.
    patience : int
        Stop after this many epochs without a validation improvement (unless
        ``patience_minutes`` is set).
    patience_minutes : float
        Stop after this many minutes of training without a validation improvement, whatever
        the number of epochs (0: count ``patience`` epochs instead). A handful of files makes
        epochs of a second, and epochs then say nothing about how long a model has had.
    epoch_frames : int
        Frames drawn per epoch at least: a small folder's frames are drawn several times over
        (a new permutation each time) so an epoch is long enough for its validation to mean
        something; 0: one pass.
    decay_after : int
        Halve the learning rate after this many epochs without improvement (again every time).
    gain_db : float
        Each training frame is played at a random gain within +-gain_db (uniform in dB), so the
        model learns spectra, not the corpus's levels; 0 disables it.
    transpose_semitones : float
        Each training frame is stretched along frequency by a random amount within
        +-transpose_semitones (:func:`random_transpose`), so a few notes teach the model their
        neighbours' pitches too; 0 disables it (the models before it).
    mix_probability : float
        Share of training frames mixed with another frame of their batch (:func:`random_mix`),
        so the model also hears two sounds at once, as in a chord; 0 disables it.
    stretch_probability : float
        Share of training frames replaced by a frame between them and the next
        (:func:`random_stretch`: a time stretch by frame interpolation); 0 disables it.
    refit_latent : bool
        Rotate and scale the finished latent by PCA of the training data's posterior means
        (:meth:`SpectralVAE.set_latent_statistics`). Off, a fine-tune keeps its base model's
        latent frame (centre, rotation, scale), so landmarks, paths and scenes made with the
        base still point where they did and the new sounds spread over the map one knows.
    seed : int
        Seeds initial weights, shuffling and the posterior noise.
    device : str
        ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (CUDA when present).
    save_every_s : float
        While training, save an improved checkpoint at most this often, in seconds, so a crash
        loses little.
    max_minutes : float
        Stop after the epoch that passes this much training time, in minutes (0: no limit), so a
        training run fits a time budget whatever the machine.
    """

    latent_dim: int = 32
    hidden: tuple[int, ...] = (256, 128)
    decoder_hidden: tuple[int, ...] = (512, 512)
    context: int = 0
    level: bool = True
    pitch: bool = True
    comb_bands: int = 64
    pitch_slots: int = 3
    free_peaks: int = 6
    loss: str = "spectral"
    log_weight: float = 1.0
    partial_weight: float = 1.0
    magnitude_power: float = 1.0
    keep: str = "survival"
    beta: float = 0.01
    warmup_epochs: int = 5
    epochs: int = 200
    batch_size: int = 256
    learning_rate: float = 1e-3
    patience: int = 20
    patience_minutes: float = 0.0
    epoch_frames: int = 0
    decay_after: int = 5
    gain_db: float = 12.0
    transpose_semitones: float = 3.0
    mix_probability: float = 0.0
    stretch_probability: float = 0.0
    refit_latent: bool = True
    seed: int = 0
    device: str = "auto"
    save_every_s: float = 120.0
    max_minutes: float = 0.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise TrainingError(f"loss {self.loss!r}: expected one of {', '.join(LOSSES)}")
        if not (math.isfinite(self.partial_weight) and self.partial_weight >= 0.0):
            raise TrainingError(f"partial_weight {self.partial_weight}: expected 0 or more")
        if self.keep not in KEEP_BY:
            raise TrainingError(f"keep {self.keep!r}: expected one of {', '.join(KEEP_BY)}")
        if not 0.0 < self.magnitude_power <= 2.0:
            raise TrainingError(
                f"magnitude_power {self.magnitude_power}: expected more than 0 and at most 2"
            )
        for name in ("mix_probability", "stretch_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise TrainingError(f"{name} {getattr(self, name)}: expected 0 to 1")
        if not (math.isfinite(self.patience_minutes) and self.patience_minutes >= 0.0):
            raise TrainingError(f"patience_minutes {self.patience_minutes}: expected 0 or more")
        if self.epoch_frames < 0:
            raise TrainingError(f"epoch_frames {self.epoch_frames}: expected 0 or more")

    def to_dict(self) -> dict:
        """Plain types, for a checkpoint."""
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        data["decoder_hidden"] = list(self.decoder_hidden)
        return data


@dataclass
class TrainResult:
    """What a training run did.

    Attributes
    ----------
    path : Path
        The checkpoint written.
    epochs : int
        Epochs completed in total (with those before a resume).
    best_epoch : int
        The epoch whose weights were kept (1-based).
    best_validation_loss : float
        Its validation loss.
    seconds : float
        Training time of this run, in seconds.
    interrupted : bool
        Stopped by Ctrl-C (the checkpoint is still complete and usable).
    stopped_early : bool
        Stopped because validation loss stopped improving.
    metrics : dict
        Final metrics (see :func:`evaluate_metrics`).
    history : dict
        ``train_loss``, ``validation_loss`` and ``validation_survival`` (nan unless kept by
        survival) per epoch.
    start_validation_survival : float
        A fine-tune's starting weights' validation survival (nan otherwise, or unless kept by
        survival); ``best_epoch`` is 0 when no epoch beat them.
    """

    path: Path
    epochs: int
    best_epoch: int
    best_validation_loss: float
    seconds: float
    interrupted: bool = False
    stopped_early: bool = False
    metrics: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    start_validation_survival: float = math.nan


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The torch device for ``cpu``, ``cuda``, ``cuda:N`` or ``auto``; refuses missing CUDA."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainingError(
                f"device {name!r}: CUDA is not available here (torch "
                f"{torch.__version__}); use --device cpu"
            )
        if name == "cuda":
            name = f"cuda:{local_rank}"
    elif name != "cpu":
        raise TrainingError(f"device {name!r}: expected cpu, cuda, cuda:N or auto")
    return torch.device(name)


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank) from the torchrun environment; (0, 1, 0) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return rank, world, local


def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def following_frames(starts: np.ndarray, n_frames: int) -> np.ndarray:
    """Index of the frame after each frame in its file; a file's last frame points at itself.

    Parameters
    ----------
    starts : ndarray of int
        Each file's (or stretch's) first frame, in order.
    n_frames : int
        Frames in all.
    """
    following = np.arange(1, n_frames + 1, dtype=np.int64)
    ends = np.append(np.asarray(starts[1:], np.int64), n_frames) - 1
    following[ends[ends >= 0]] = ends[ends >= 0]
    return following


def epoch_order(n_frames: int, least: int, rng: np.random.Generator) -> np.ndarray:
    """The frames one epoch draws: permutations of all frames, as many as make ``least``.

    Each frame is drawn as often as every other (the last permutation is cut short), so a small
    folder's epoch passes over it several times rather than ending after a few steps.
    """
    passes = max(1, -(-least // max(n_frames, 1)))
    order = np.concatenate([rng.permutation(n_frames) for _ in range(passes)])
    return order[: max(n_frames, least)]


def partial_weights(target_log: torch.Tensor, range_db: float = PARTIAL_RANGE_DB) -> torch.Tensor:
    """How much each bin of each frame counts as a partial, 0 to 1, shape of ``target_log``.

    1 at the frame's loudest bin, falling linearly in dB to 0 at ``range_db`` below it and under:
    the part of the spectrum a listener hears as the sound's partials, where a quieter frame's
    noise floor and the skirts far under its peaks do not count.
    """
    top = target_log.max(dim=1, keepdim=True).values
    span = range_db / DB_PER_NEPER
    return torch.clamp((target_log - (top - span)) / span, 0.0, 1.0)


def spectral_loss(
    decoded_log: torch.Tensor,
    target_log: torch.Tensor,
    log_weight: float = 1.0,
    partial_weight: float = 0.0,
    power: float = 1.0,
) -> torch.Tensor:
    """Per-frame spectral convergence plus weighted log-magnitude L1 terms, shape (batch,).

    ``||y^p - x^p||_2 / ||x^p||_2`` on magnitudes raised to ``power`` ``p``, plus ``log_weight``
    times ``mean_k |ln y_k - ln x_k|``, plus ``partial_weight`` times the same error averaged
    with the weights of :func:`partial_weights`, over the bins of each frame (magnitudes with
    their floor). Spectral convergence on linear magnitudes (``p = 1``) is dominated by the
    loudest partials, which a squared log error spread over all the bins lets the model smear;
    the plain L1 keeps the quiet bins in shape; the partial-weighted L1 holds the partials in
    the top 40 dB of each frame, the quieter ones included, to their level. The decoded
    log-magnitudes are clamped at :data:`~caminos.models.autoencoder.MAX_LOG_MAGNITUDE` before the
    exponential.
    """
    estimate = torch.exp(power * torch.clamp(decoded_log, max=MAX_LOG_MAGNITUDE))
    target = torch.exp(power * target_log)
    convergence = torch.linalg.vector_norm(estimate - target, dim=1) / torch.linalg.vector_norm(
        target, dim=1
    ).clamp_min(1e-8)
    error = (decoded_log - target_log).abs()
    loss = convergence + log_weight * error.mean(dim=1)
    if partial_weight:
        weights = partial_weights(target_log)
        loss = loss + partial_weight * (
            (weights * error).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
        )
    return loss


def reconstruction_loss(
    model: SpectralVAE,
    decoded_log: torch.Tensor,
    target_log: torch.Tensor,
    settings: "TrainSettings",
) -> torch.Tensor:
    """The reconstruction term of ``settings.loss`` (see :class:`TrainSettings`), shape
    (batch,)."""
    if settings.loss == "spectral":
        return spectral_loss(
            decoded_log,
            target_log,
            settings.log_weight,
            settings.partial_weight,
            settings.magnitude_power,
        )
    # log_mse: plain squared log error over the mean per-bin variance of the training frames,
    # the scale of the per-bin normalised error that version-1 models were trained on.
    variance = model.input_std[-model.shape.n_bins :].square().mean()
    return (decoded_log - target_log).square().mean(dim=1) / variance


def _loss_terms(
    model: SpectralVAE,
    recon: torch.Tensor,
    target_log: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float,
    settings: "TrainSettings",
) -> torch.Tensor:
    """Reconstruction plus ``beta`` times the KL per bin, per frame (batch,)."""
    error = reconstruction_loss(model, recon, target_log, settings)
    return error + beta * kl_divergence(mu, logvar) / model.shape.n_bins


def _batch_loss(
    network: torch.nn.Module,
    model: SpectralVAE,
    batch: torch.Tensor,
    beta: float,
    settings: "TrainSettings",
) -> torch.Tensor:
    recon, mu, logvar = network(batch)
    return _loss_terms(model, recon, model.target(batch), mu, logvar, beta, settings)


def train_step(
    network: torch.nn.Module,
    model: SpectralVAE,
    optimizer: torch.optim.Optimizer,
    batch: torch.Tensor,
    beta: float,
    settings: "TrainSettings",
) -> float:
    """One optimiser step on a batch of log-magnitude inputs; returns the batch loss."""
    optimizer.zero_grad(set_to_none=True)
    loss = _batch_loss(network, model, batch, beta, settings).mean()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


@torch.no_grad()
def validation_metrics(
    model: SpectralVAE,
    inputs: torch.Tensor,
    beta: float,
    settings: "TrainSettings | None" = None,
    starts: np.ndarray | None = None,
    batch: int = 4096,
) -> tuple[float, float]:
    """Mean loss over validation frames with the posterior mean (no sampling noise) and, given
    the files' ``starts``, their partial survival through the model, in one pass of the model.

    The survival is :func:`caminos.engine.dsp.metrics.partial_counts` of each file's decoded
    magnitudes (no phase recovery) against its true ones, summed over files: the measure the
    model is chosen by (``TrainSettings.keep``), on the validation split, never on held-out
    sounds.

    Parameters
    ----------
    inputs : Tensor, shape (n, n_inputs)
        Validation log-magnitudes (context stacked), files one after another.
    starts : ndarray of int, optional
        Each file's first frame in ``inputs``; without them the survival is ``nan``.

    Returns
    -------
    loss, survival : float
    """
    from caminos.engine.dsp.metrics import partial_counts

    settings = settings or TrainSettings()
    model.eval()
    total, count = 0.0, 0
    decoded, target = [], []
    for start in range(0, len(inputs), batch):
        x = inputs[start : start + batch]
        recon, mu, logvar = model(x, False)
        true_log = model.target(x)
        total += float(_loss_terms(model, recon, true_log, mu, logvar, beta, settings).sum())
        count += len(x)
        if starts is not None:
            decoded.append(linear_magnitude(recon).cpu().numpy())
            target.append(linear_magnitude(true_log).cpu().numpy())
    model.train()
    survival = math.nan
    if starts is not None:
        estimate, truth = np.concatenate(decoded), np.concatenate(target)
        ends = list(starts[1:]) + [len(truth)]
        kept = partials = 0
        for first, end in zip(starts, ends):
            k, n = partial_counts(estimate[first:end], truth[first:end])
            kept, partials = kept + k, partials + n
        survival = kept / partials if partials else math.nan
    return total / max(count, 1), survival


def validation_loss(
    model: SpectralVAE,
    inputs: torch.Tensor,
    beta: float,
    settings: "TrainSettings | None" = None,
    batch: int = 4096,
) -> float:
    """Mean loss over log-magnitude inputs with the posterior mean (no sampling noise)."""
    return validation_metrics(model, inputs, beta, settings, batch=batch)[0]


def lsd_db(log_true: np.ndarray, log_estimate: np.ndarray) -> float:
    """Mean over frames of the RMS over bins of ``20 log10`` level differences, in dB.

    Both are natural-log magnitudes with :data:`~caminos.models.autoencoder.MAGNITUDE_FLOOR` added
    before the logarithm, so bins below about -108 dB re a full-scale sine count as equal.
    """
    diff = (np.asarray(log_true, np.float64) - np.asarray(log_estimate, np.float64)) * DB_PER_NEPER
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=1))))


class PcaBaseline:
    """Principal-component projection of log-magnitude frames: the linear baseline.

    Parameters
    ----------
    frames : ndarray, shape (n, n_bins)
        Training log-magnitudes.
    n_components : int
        Dimensions kept (the autoencoder's latent size, for a fair comparison).
    """

    def __init__(self, frames: np.ndarray, n_components: int) -> None:
        x = np.asarray(frames, np.float64)
        self.mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        self.components = vt[:n_components].astype(np.float32)  # (k, n_bins)
        self.mean = self.mean.astype(np.float32)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Coordinates, shape (n, k)."""
        return (np.asarray(frames, np.float32) - self.mean) @ self.components.T

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Log-magnitudes, shape (n, n_bins)."""
        return z @ self.components + self.mean

    def reconstruct(self, frames: np.ndarray) -> np.ndarray:
        """Project onto the components and back."""
        return self.decode(self.encode(frames))


def _subsample(n: int, most: int, seed: int) -> np.ndarray:
    if n <= most:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, most, replace=False))


def evaluate_metrics(model: SpectralVAE, corpus: Corpus, seed: int = 0) -> dict:
    """Validation reconstruction in dB, against PCA with the same number of dimensions.

    Returns
    -------
    dict
        ``validation_lsd_db`` (model), ``pca_validation_lsd_db`` (PCA fitted on up to 20000
        training frames), ``lsd_floor``, ``parameters``, ``encode_decode_us_p50`` and ``_p99``
        (batch 1, fused, the current thread count).
    """
    context = model.shape.context
    val = corpus.validation
    inputs = stack_context(val.frames, context, val.starts)
    z = model.encode_numpy(inputs)
    with torch.inference_mode():
        decoded = model.decode_log(torch.as_tensor(z)).numpy()
    pick = _subsample(len(corpus.train), 20000, seed)
    pca = PcaBaseline(corpus.train.frames[pick], model.shape.latent_dim)
    p50, p99 = measure_latency_us(model, repeats=1000, warmup=100)
    return {
        "validation_lsd_db": round(lsd_db(val.frames, decoded), 3),
        "pca_validation_lsd_db": round(lsd_db(val.frames, pca.reconstruct(val.frames)), 3),
        "lsd_floor": f"magnitude + {MAGNITUDE_FLOOR:g} before the log",
        "parameters": count_parameters(model),
        "encode_decode_us_p50": round(p50, 1),
        "encode_decode_us_p99": round(p99, 1),
    }


def finalise(
    model: SpectralVAE, corpus: Corpus, config: Config, seed: int = 0, refit: bool = True
) -> dict:
    """Rotate the latent by PCA of the training means (unless not ``refit``: the model keeps the
    frame it has) and describe the axes; returns descriptors."""
    context = model.shape.context
    pick = _subsample(len(corpus.train), 30000, seed)
    inputs = stack_context(corpus.train.frames, context, corpus.train.starts)[pick]
    if refit:
        model.set_latent_statistics(inputs)
    mags = np.maximum(np.exp(corpus.train.frames[pick].astype(np.float64)) - MAGNITUDE_FLOOR, 0.0)
    return describe_axes(model, inputs, mags, config.stft, config.audio.sample_rate)


def plot_losses(history: dict, path: Path, best_epoch: int) -> None:
    """Write the loss curves (train and validation per epoch) as a PNG, with the validation
    partial survival on a second axis when the epochs were kept by it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_loss"], label="train")
    ax.plot(epochs, history["validation_loss"], label="validation")
    if best_epoch:
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"kept (epoch {best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (reconstruction + KL)")
    ax.set_yscale("log")
    handles, labels = ax.get_legend_handles_labels()
    survival = np.asarray(history.get("validation_survival", []), dtype=np.float64)
    if len(survival) == len(epochs) and np.isfinite(survival).any():
        right = ax.twinx()
        right.plot(epochs, survival, color="tab:green", label="validation partial survival")
        right.set_ylabel("partial survival")
        more_handles, more_labels = right.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.legend(handles, labels, fontsize="small", loc="best", framealpha=0.8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    temporary = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(temporary)
    plt.close(fig)
    os.replace(temporary, path)


def loss_plot_path(checkpoint: str | os.PathLike) -> Path:
    """Where the loss curve of a checkpoint goes: ``NAME-loss.png`` beside it."""
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}-loss.png")


def train_autoencoder(
    corpus: Corpus,
    out: str | os.PathLike,
    config: Config,
    settings: TrainSettings = TrainSettings(),
    *,
    resume: str | os.PathLike | None = None,
    fine_tune: str | os.PathLike | None = None,
    progress: bool = True,
    command: str | None = None,
    on_epoch_end: Callable[[int, float, float], None] | None = None,
) -> TrainResult:
    """Train (or continue training) a spectral VAE and write a finished checkpoint.

    Parameters
    ----------
    corpus : Corpus
        Training and validation frames in ``config``'s STFT settings.
    out : path
        Checkpoint to write; ``NAME-loss.png`` is written beside it.
    config : Config
        Running configuration (STFT settings and sample rate go into the checkpoint).
    settings : TrainSettings
        Model size and optimisation. On resume, the model size comes from the checkpoint and a
        different ``latent_dim``/``hidden``/``context`` is refused.
    resume : path, optional
        A checkpoint written by this function: training continues from its best epoch with its
        optimiser state, up to ``settings.epochs`` epochs in total.
    fine_tune : path, optional
        A finished checkpoint (a shipped model, or one trained before) whose weights and input
        statistics are the starting point for training on ``corpus``: a new optimiser, a new
        epoch count, the KL term at full weight from the first epoch (the latent is already
        regular), and the starting weights scored on the validation split before the first
        epoch, so the result is never kept worse than where it started. The model size comes
        from the checkpoint. Not with ``resume``.
    progress : bool
        Show a progress bar (rank 0 only).
    command : str, optional
        The command line, recorded in the provenance (default: ``sys.argv``).
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(epoch, train_loss, validation_loss)`` after each epoch.

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingError
        Unusable settings, CUDA requested but absent, resume or fine-tune mismatch, both given,
        out of memory at a batch of one.
    CheckpointError
        The resume or fine-tune checkpoint is unreadable or does not match the running
        configuration.

    Notes
    -----
    Under ``torchrun`` (``WORLD_SIZE`` > 1) each process trains on its share of every epoch's
    shuffled frames with DistributedDataParallel; every process evaluates the whole validation
    set (so early stopping agrees everywhere) and only rank 0 writes files.
    """
    if resume is not None and fine_tune is not None:
        raise TrainingError(
            "resume and fine-tune: give one; resume continues a training run, "
            "fine-tune starts a new one from a finished model"
        )
    rank, world, local_rank = _distributed()
    device = resolve_device(settings.device, local_rank)
    out_path = Path(out)
    if rank == 0 and not out_path.parent.is_dir():
        raise TrainingError(f"{out_path}: folder {out_path.parent} does not exist")
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend=backend)
    try:
        return _train(
            corpus,
            out_path,
            config,
            settings,
            resume,
            fine_tune,
            progress and rank == 0,
            command,
            on_epoch_end,
            device,
            rank,
            world,
        )
    finally:
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _train(
    corpus: Corpus,
    out_path: Path,
    config: Config,
    settings: TrainSettings,
    resume: str | os.PathLike | None,
    fine_tune: str | os.PathLike | None,
    progress: bool,
    command: str | None,
    on_epoch_end: Callable[[int, float, float], None] | None,
    device: torch.device,
    rank: int,
    world: int,
) -> TrainResult:
    started = time.monotonic()
    torch.manual_seed(settings.seed)
    state: dict = {}
    previous_seconds = 0.0
    base: dict | None = None  # the model fine-tuned from, for the provenance
    warmup_epochs = settings.warmup_epochs
    started_from = fine_tune if fine_tune is not None else resume
    if started_from is not None:
        loaded = load_checkpoint(started_from, config.stft, config.audio.sample_rate)
        model = loaded.model
        verb = "fine-tune" if fine_tune is not None else "resume"
        for key in ("latent_dim", "context"):
            if getattr(settings, key) != getattr(model.shape, key):
                raise TrainingError(
                    f"{started_from}: the checkpoint has {key}="
                    f"{getattr(model.shape, key)} but {getattr(settings, key)} "
                    f"was asked; leave it out to {verb}, or train a new model"
                )
    if fine_tune is not None:
        base = {
            "path": str(fine_tune),
            "command": loaded.provenance.get("command"),
            "data": loaded.provenance.get("data"),
            "training_seconds": loaded.provenance.get("training_seconds"),
        }
        warmup_epochs = 0
    elif resume is not None:
        if not loaded.training:
            raise CheckpointError(f"{resume}: holds no training state to resume from")
        state = loaded.training
        previous_seconds = float(loaded.provenance.get("training_seconds", 0.0))
    else:
        many = settings.pitch and settings.level  # slots and peaks need both channels
        shape = ModelShape(
            n_bins=config.stft.n_bins,
            latent_dim=settings.latent_dim,
            hidden=tuple(settings.hidden),
            context=settings.context,
            level=settings.level,
            decoder_hidden=tuple(settings.decoder_hidden),
            pitch=settings.pitch,
            comb_bands=settings.comb_bands,
            pitch_slots=settings.pitch_slots if many else 1,
            free_peaks=settings.free_peaks if many else 0,
            bin_hz=config.audio.sample_rate / config.stft.n_fft,
        )
        model = SpectralVAE(shape)
        model.set_input_statistics(
            stack_context(corpus.train.frames, settings.context, corpus.train.starts)
        )
    if corpus.train.frames.shape[1] != model.shape.n_bins:
        raise TrainingError(
            f"corpus frames have {corpus.train.frames.shape[1]} bins, the model "
            f"{model.shape.n_bins}"
        )
    model.to(device)
    model.train()

    def prepare(frames) -> torch.Tensor:
        stacked = stack_context(frames.frames, model.shape.context, frames.starts)
        return torch.as_tensor(stacked, dtype=torch.float32, device=device)

    train_x, val_x = prepare(corpus.train), prepare(corpus.validation)
    following = torch.as_tensor(following_frames(corpus.train.starts, len(train_x)), device=device)
    survival_starts = corpus.validation.starts if settings.keep == "survival" else None

    def validate() -> tuple[float, float]:
        """The model's validation loss and, when kept by it, partial survival."""
        return validation_metrics(model, val_x, settings.beta, settings, survival_starts)

    if len(train_x) < world or len(val_x) == 0:
        raise TrainingError(
            f"too few frames to train: {len(train_x)} training, {len(val_x)} validation"
        )
    network: torch.nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        network = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    # Adam's fused kernel: one pass over the parameters instead of a dozen tensor operations
    # each (1.4 -> 0.5 ms a step for the default model on the 2-core machine).
    optimizer = torch.optim.Adam(
        model.parameters(), lr=settings.learning_rate, fused=device.type in ("cpu", "cuda")
    )
    history: dict[str, list] = {"train_loss": [], "validation_loss": [], "validation_survival": []}
    best_val, best_epoch, since_best = math.inf, 0, 0
    best_score = -math.inf  # what settings.keep maximises: survival, or minus the loss
    if state:
        optimizer.load_state_dict(state["optimizer"])
        history.update({k: list(v) for k, v in state["history"].items()})
        best_val, best_epoch = float(state["best_validation_loss"]), int(state["best_epoch"])
        since_best = int(state["epochs_since_best"])
        best_score = float(state.get("best_score", -best_val))
    if base is not None:
        # The starting weights are the score to beat: a fine-tune never keeps a worse model.
        best_val, start_survival = validate()
        best_score = start_survival if settings.keep == "survival" else -best_val
        base["validation_survival"] = start_survival
        base["validation_loss"] = best_val
    best_state = copy.deepcopy(model.state_dict())
    best_optimizer = copy.deepcopy(optimizer.state_dict())
    batch_size = max(1, settings.batch_size // world)
    first_epoch = len(history["train_loss"])
    interrupted = stopped_early = False
    last_save = last_better = time.monotonic()

    def provenance(elapsed: float) -> dict:
        return {
            "command": command if command is not None else " ".join(sys.argv),
            "data": corpus.summary(),
            "seed": settings.seed,
            "settings": settings.to_dict(),
            "epochs": len(history["train_loss"]),
            "best_epoch": best_epoch,
            "best_validation_loss": best_val,
            "keep": settings.keep,
            "best_validation_survival": (best_score if settings.keep == "survival" else None),
            "training_seconds": round(elapsed, 1),
            "world_size": world,
            "device": str(device),
            "torch": str(torch.__version__),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "fine_tuned_from": base,
        }

    def write(final: bool) -> tuple[dict, dict]:
        """Finish a copy of the best weights and save it; returns (metrics, descriptors)."""
        elapsed = previous_seconds + time.monotonic() - started
        keeper = SpectralVAE(model.shape)
        keeper.load_state_dict(best_state)
        descriptors = finalise(
            keeper, corpus, config, settings.seed, refit=settings.refit_latent or base is None
        )
        metrics = evaluate_metrics(keeper, corpus, settings.seed) if final else {}
        info = provenance(elapsed)
        info["metrics"] = metrics
        info["finished"] = final
        training = {
            "optimizer": best_optimizer,
            "history": history,
            "best_validation_loss": best_val,
            "best_epoch": best_epoch,
            "epochs_since_best": since_best,
            "best_score": best_score,
        }
        save_checkpoint(
            out_path, keeper, config.stft, config.audio.sample_rate, descriptors, info, training
        )
        return metrics, descriptors

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(
            total=settings.epochs,
            initial=first_epoch,
            unit="epoch",
            desc="training",
            dynamic_ncols=True,
        )
    epoch = first_epoch
    try:
        for epoch in range(first_epoch, settings.epochs):
            torch.manual_seed(settings.seed * 100003 + epoch)  # same noise on resume
            beta = settings.beta * min(1.0, (epoch + 1) / max(1, warmup_epochs))
            order = epoch_order(
                len(train_x), settings.epoch_frames, np.random.default_rng([settings.seed, epoch])
            )
            share = len(order) // world
            order = order[rank::world][:share]
            total, count, start = 0.0, 0, 0
            while start < share:
                index = torch.as_tensor(order[start : start + batch_size], device=device)
                try:
                    batch = train_x[index]
                    if settings.stretch_probability > 0:
                        batch = random_stretch(
                            batch, train_x[following[index]], settings.stretch_probability
                        )
                    if settings.gain_db > 0:
                        batch = random_gain(batch, settings.gain_db)
                    if settings.transpose_semitones > 0:
                        batch = random_transpose(
                            batch, model.shape.n_bins, settings.transpose_semitones
                        )
                    if settings.mix_probability > 0:
                        batch = random_mix(batch, settings.mix_probability)
                    loss = train_step(network, model, optimizer, batch, beta, settings)
                except Exception as exc:
                    if not _is_out_of_memory(exc) or world > 1:
                        raise
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                    if batch_size == 1:
                        raise TrainingError(
                            "out of memory even at a batch of one frame; use a "
                            "smaller model or another device"
                        ) from None
                    batch_size //= 2
                    if bar is not None:
                        bar.write(f"out of memory: batch size halved to {batch_size * world}")
                    continue
                total += loss * len(index)
                count += len(index)
                start += len(index)
            train_loss = total / max(count, 1)
            val_loss, survival = validate()
            history["train_loss"].append(train_loss)
            history["validation_loss"].append(val_loss)
            history["validation_survival"].append(survival)
            score = survival if settings.keep == "survival" else -val_loss
            # Warm-up epochs use a smaller beta, so their losses are not comparable to later
            # ones, and their latents are less regular: each replaces the one before.
            if score > best_score or epoch < warmup_epochs:
                best_val, best_epoch, since_best = val_loss, epoch + 1, 0
                best_score = score
                best_state = copy.deepcopy(model.state_dict())
                best_optimizer = copy.deepcopy(optimizer.state_dict())
                last_better = time.monotonic()
            else:
                since_best += 1
                if settings.decay_after and since_best % settings.decay_after == 0:
                    for group in optimizer.param_groups:
                        group["lr"] *= 0.5
            if bar is not None:
                bar.set_postfix(
                    train=f"{train_loss:.4f}",
                    val=f"{val_loss:.4f}",
                    survival=f"{survival:.3f}",
                    best=f"@{best_epoch}",
                    batch=batch_size * world,
                )
                bar.update(1)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, train_loss, val_loss)
            if (
                rank == 0
                and since_best == 0
                and (time.monotonic() - last_save > settings.save_every_s)
            ):
                write(final=False)
                last_save = time.monotonic()
            if settings.patience_minutes:
                waited = time.monotonic() - last_better
                if since_best and waited > 60.0 * settings.patience_minutes:
                    stopped_early = True
                    break
            elif since_best >= settings.patience:
                stopped_early = True
                break
            if settings.max_minutes and time.monotonic() - started > 60.0 * settings.max_minutes:
                if bar is not None:
                    bar.write(f"time budget of {settings.max_minutes:g} min reached")
                break
    except KeyboardInterrupt:
        interrupted = True
        if bar is not None:
            bar.write("interrupted: saving the best weights so far")
    finally:
        if bar is not None:
            bar.close()
    if not history["train_loss"]:
        best_state = copy.deepcopy(model.state_dict())  # interrupted in the first epoch
    metrics: dict = {}
    if rank == 0:
        model.cpu()
        metrics, _ = write(final=True)
        if history["train_loss"]:
            plot_losses(history, loss_plot_path(out_path), best_epoch)
    return TrainResult(
        path=out_path,
        epochs=len(history["train_loss"]),
        best_epoch=best_epoch,
        best_validation_loss=best_val,
        seconds=time.monotonic() - started,
        interrupted=interrupted,
        stopped_early=stopped_early,
        metrics=metrics,
        history=history,
        start_validation_survival=(base or {}).get("validation_survival", math.nan),
    )
