"""The autoencoder's commands: train, encode, reconstruct, morph, map.

Outermost layer over :mod:`caminos.models.data`, :mod:`caminos.models.train` and
:mod:`caminos.models.checkpoint`:
:func:`register` adds the subcommands to ``caminos``'s argument parser, each handler takes the
parsed arguments and returns an exit status, and every failure is a
:class:`~caminos.engine.core.errors.CaminosError` whose message names the file. ``python -m
caminos.engine.cli.model``
runs them on their own (and under ``torchrun`` for distributed training).

Why this file is longer than 500 lines: every model subcommand (train, encode, reconstruct, morph,
map), each a parser and a body of a few dozen lines; the small-data training defaults and its
report are here because only this command applies them.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from caminos.engine.cli.options import (
    EXIT_INTERRUPTED,
    OutputError,
    add_config_options,
    add_model_option,
    check_output,
    load_with_overrides,
    run_handler,
)
from caminos.engine.core.config import Config, shipped_file
from caminos.engine.core.errors import ParameterError

# Adam's step size when fine-tuning a finished model: a third of a new model's, so a few minutes
# on one's own sounds adapt the model without first undoing what it knew.
FINE_TUNE_LEARNING_RATE = 3e-4


def _checkpoint(args: argparse.Namespace, config: Config):
    from caminos.models.checkpoint import load_checkpoint

    path = args.model if getattr(args, "model", None) else config.model.checkpoint_path()
    return load_checkpoint(path, config.stft, config.audio.sample_rate)


def _size_of(checkpoint: str | os.PathLike | None, whole: bool) -> dict[str, Any]:
    """Training settings that a resumed or fine-tuned checkpoint fixes: its latent size and
    context, and with ``whole`` every field of its shape, so the settings recorded in the new
    checkpoint's provenance describe the model trained."""
    if not checkpoint:
        return {}
    from caminos.models.checkpoint import peek

    shape = peek(checkpoint)["shape"] or {}
    fixed: dict[str, Any] = {
        name: int(shape[name]) for name in ("latent_dim", "context") if name in shape
    }
    if whole:
        fixed.update(
            level=bool(shape.get("level", False)),
            pitch=bool(shape.get("pitch", False)),
            comb_bands=int(shape.get("comb_bands", 0)),
            pitch_slots=int(shape.get("pitch_slots", 1)),
            free_peaks=int(shape.get("free_peaks", 0)),
            hidden=tuple(int(v) for v in shape.get("hidden", ())),
            decoder_hidden=tuple(int(v) for v in shape.get("decoder_hidden", ())),
        )
    return fixed


# -- handlers ----------------------------------------------------------------------------------
# Settings of a small folder (below SMALL_DATA_SECONDS of audio) that its user did not give:
# training runs on the time budget (an epoch of a few files lasts a second, so patience is
# counted in minutes), draws each file many times per epoch, and hears the few files in more
# ways (mixtures, frames between frames, transpositions up to a fourth either way, since a few
# phrases hold few notes). Chosen on the tuning folder of benchmarks/own_sounds.py (eight
# instruments the benchmark's goals are not read on): at a new model's step size even when
# fine-tuning, the files fit better (LSD 3.14 -> 3.04 dB) and other notes as well (survival
# 0.832 both); weights kept by validation loss rather than partial survival (which saturates
# near 1 on a folder's own notes and stopped training early) fit the files better still (3.04 ->
# 2.81 dB) but lost other notes (0.832 -> 0.810); transposing by up to 5 semitones instead of 3
# brought them back (0.851, the default 0.839).
SMALL_DATA_DEFAULTS = {
    "max_minutes": 4.0,
    "patience_minutes": 1.5,
    "epochs": 1_000_000,
    "epoch_frames": 16384,
    "mix_probability": 0.2,
    "stretch_probability": 0.25,
    "learning_rate": 1e-3,
    "keep": "loss",
    "transpose_semitones": 5.0,
}


def _fix_size(fields: dict[str, Any], checkpoint: Path, source: str) -> None:
    """Take a fine-tuned checkpoint's size into ``fields``; refuse a different size asked for."""
    for name, value in _size_of(checkpoint, whole=True).items():
        given = fields.setdefault(name, value)
        if given != value and name not in ("latent_dim", "context"):  # those: told by training
            raise ParameterError(
                f"--{name.replace('_', '-')}: {source} has {name}={value}; a "
                "fine-tune keeps the model's size (--from-scratch trains a "
                "new one)"
            )


SHAPE_OPTIONS = (
    "latent_dim",
    "hidden",
    "decoder_hidden",
    "context",
    "level",
    "pitch",
    "comb_bands",
    "pitch_slots",
    "free_peaks",
)


def _why_not_fine_tune(default_model: Path, config: Config, args: argparse.Namespace) -> str:
    """Why a small folder trains a new model instead of fine-tuning the default; empty when it
    fine-tunes."""
    given = [
        f"--{name.replace('_', '-')}"
        for name in SHAPE_OPTIONS
        if getattr(args, name) not in (None, "")
    ]
    if given:
        return f"{', '.join(given)} asks for a model of its own size"
    return _frames_differ(default_model, config)


def _frames_differ(default_model: Path, config: Config) -> str:
    """How the default model's frames differ from the configuration's; empty when they match."""
    from caminos.models.checkpoint import peek

    try:
        stored = peek(default_model)
    except Exception as exc:  # any unreadable default: say so and train a new model
        return f"the default {default_model} cannot be read: {exc}"
    stft = stored.get("stft") or {}
    if (stft.get("n_fft"), stft.get("hop"), stored.get("sample_rate")) != (
        config.stft.n_fft,
        config.stft.hop,
        config.audio.sample_rate,
    ):
        return (
            f"the default {default_model.name} has frames of n_fft {stft.get('n_fft')}, hop "
            f"{stft.get('hop')} at {stored.get('sample_rate')} Hz, the configuration "
            f"{config.stft.n_fft}, {config.stft.hop} at {config.audio.sample_rate} Hz"
        )
    return ""


def train_autoencoder_command(args: argparse.Namespace) -> int:
    """``caminos train autoencoder``: read the folder, train, write the checkpoint, and for a
    small folder judge the result against the default in a report."""
    import torch

    from caminos.models.data import SMALL_DATA_SECONDS, load_corpus
    from caminos.models.train import TrainSettings, loss_plot_path, train_autoencoder

    config = load_with_overrides(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    rank = int(os.environ.get("RANK", "0"))
    out = check_output(args.out)
    fine_tune = shipped_file(args.fine_tune) if args.fine_tune else None
    if fine_tune and args.resume:
        raise ParameterError(
            "--resume and --fine-tune: give one (--resume continues a training "
            "run, --fine-tune starts one from a finished model)"
        )
    if args.from_scratch and (fine_tune or args.resume):
        raise ParameterError("--from-scratch with --fine-tune or --resume: give one")
    # Settings and checkpoint are checked before the data is read, so a mistake is told at once.
    fields: dict[str, Any] = {"seed": args.seed, "device": args.device}
    for name in (
        "epochs",
        "latent_dim",
        "batch_size",
        "patience",
        "beta",
        "context",
        "loss",
        "max_minutes",
        "level",
        "pitch",
        "comb_bands",
        "pitch_slots",
        "free_peaks",
        "partial_weight",
        "patience_minutes",
        "stretch_probability",
        "magnitude_power",
        "keep",
        "transpose_semitones",
        "mix_probability",
    ):
        value = getattr(args, name)
        if value is not None:
            fields[name] = value
    for name in ("hidden", "decoder_hidden"):
        text = getattr(args, name)
        if text:
            try:
                fields[name] = tuple(int(v) for v in text.split(","))
            except ValueError:
                raise ParameterError(
                    f"--{name.replace('_', '-')} {text!r}: expected widths "
                    "separated by commas, like 512,256"
                ) from None
    if args.learning_rate is not None:
        fields["learning_rate"] = args.learning_rate
    if fine_tune:
        _fix_size(fields, fine_tune, str(args.fine_tune))
    else:  # a resumed run's size is its checkpoint's
        for name, value in _size_of(args.resume, whole=False).items():
            fields.setdefault(name, value)
    TrainSettings(**fields)  # refused here, before the data is read
    corpus = load_corpus(
        args.data,
        config,
        seed=args.seed,
        min_seconds=args.min_seconds,
        cache_dir=args.cache_dir if args.cache_dir else "default",
        progress=not args.no_progress and rank == 0,
        split=args.split,
    )
    small = corpus.small and not args.resume
    default_model = config.model.checkpoint_path()
    new_model_why = ""
    if small:
        if not fine_tune and not args.from_scratch:
            new_model_why = _why_not_fine_tune(default_model, config, args)
            if not new_model_why:
                fine_tune = default_model
                _fix_size(fields, fine_tune, str(fine_tune))
        for name, value in SMALL_DATA_DEFAULTS.items():
            fields.setdefault(name, value)
    elif fine_tune:
        fields.setdefault("learning_rate", FINE_TUNE_LEARNING_RATE)
    if fine_tune is not None:
        fields["refit_latent"] = bool(args.refit_latent)
    settings = TrainSettings(**fields)
    if rank == 0:
        s = corpus.summary()
        split = (
            "held-out stretches of every file"
            if corpus.split == "time"
            else f"{s['validation_files']} validation files"
        )
        print(
            f"data: {s['train_files']} files, {corpus.seconds:.1f} s ({s['train_frames']} "
            f"training frames); validation on {split} ({s['validation_seconds']:.1f} s)"
        )
        for path, reason in corpus.skipped:
            print(f"skipped {path}: {reason}")
        if small:
            start = (
                f"fine-tuning {fine_tune}"
                if fine_tune
                else f"a new model ({new_model_why or '--from-scratch'})"
            )
            print(
                f"small data (under {SMALL_DATA_SECONDS / 60:g} minutes of audio): {start}, "
                f"{settings.max_minutes:g} min budget, stops after "
                f"{settings.patience_minutes:g} min without improvement"
            )
    command = (
        "caminos " + " ".join(sys.argv[1:])
        if getattr(args, "argv", None) is None
        else "caminos " + " ".join(args.argv)
    )
    result = train_autoencoder(
        corpus,
        out,
        config,
        settings,
        resume=args.resume,
        fine_tune=fine_tune,
        progress=not args.no_progress,
        command=command,
    )
    if rank == 0:
        m = result.metrics
        if result.best_epoch:
            kept = result.history["validation_survival"][result.best_epoch - 1]
            which = f"epoch {result.best_epoch}"
        else:  # a fine-tune that no epoch improved on
            kept = result.start_validation_survival
            which = f"the weights of {fine_tune}, which no epoch beat"
        survival_note = "" if math.isnan(kept) else f", partial survival {kept:.3f}"
        how = (
            "interrupted"
            if result.interrupted
            else "stopped early"
            if result.stopped_early
            else "done"
        )
        print(
            f"{how}: {result.epochs} epochs in {result.seconds:.0f} s; kept {which} "
            f"(validation loss {result.best_validation_loss:.4f}{survival_note}); "
            f"validation LSD {m.get('validation_lsd_db', float('nan')):.2f} dB vs PCA "
            f"{m.get('pca_validation_lsd_db', float('nan')):.2f} dB; wrote {out} and "
            f"{loss_plot_path(out)}"
        )
        report = args.report if args.report is not None else small
        mismatch = _frames_differ(default_model, config)
        if report and mismatch:
            print(f"no report beside the default: {mismatch}")
        elif report and not result.interrupted:
            _judge_against_default(
                corpus,
                out,
                default_model,
                config,
                kept_base=fine_tune is not None and not result.best_epoch,
                cache_dir=args.cache_dir,
            )
    return EXIT_INTERRUPTED if result.interrupted else 0


def _judge_against_default(
    corpus, out: Path, default_model: Path, config: Config, kept_base: bool, cache_dir: str | None
) -> None:
    """Score the new model beside the default and PCA-16 on the folder, write the report, and
    when the default serves the folder as well or better, keep it: ``out`` then holds the
    default's weights and the trained model moves to ``NAME-not-kept.pt``."""
    import shutil

    from caminos.models.checkpoint import load_checkpoint
    from caminos.models.data import default_cache_dir
    from caminos.models.report import folder_report, judge, write_report

    print("judging the model on the folder beside the default and PCA-16 ...")
    new = load_checkpoint(out, config.stft, config.audio.sample_rate)
    default = load_checkpoint(default_model, config.stft, config.audio.sample_rate)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    report, spectra = folder_report(
        corpus,
        new.model,
        default.model,
        config,
        config.phase.method,
        names=(out.stem, default_model.stem),
        cache_dir=cache,
    )
    judge(report, kept_base, str(out), str(default_model))
    if not report.better and not kept_base:
        not_kept = out.with_name(f"{out.stem}-not-kept{out.suffix}")
        os.replace(out, not_kept)
        shutil.copyfile(default_model, out)
        report.verdict += f" The model trained is kept for comparison as {not_kept}."
    md_path, png_path = write_report(report, spectra, out, config)
    names = report.names
    print(
        f"\n{'file':32s} "
        + " ".join(f"{n[:16]:>16s}" for n in names)
        + "   (partial survival / LSD dB, whole file)"
    )
    for f in report.files:
        cells = " ".join(f"{f.whole[n].survival:7.3f} /{f.whole[n].lsd_db:6.2f}" for n in names)
        print(f"{f.file[:32]:32s} {cells}")
    print(f"\n{report.verdict}\nwrote {md_path} and {png_path}")


def encode_command(args: argparse.Namespace) -> int:
    """``caminos encode SOUND -o LANDMARK.npz``: a sound's latent trajectory."""
    from caminos.models.api import latent_trajectory, read_mono

    config = load_with_overrides(args)
    out = check_output(args.output)
    checkpoint = _checkpoint(args, config)
    latent, times = latent_trajectory(read_mono(args.sound, config), checkpoint, config)
    std = checkpoint.model.latent_std.numpy()
    try:
        with open(out, "wb") as handle:
            np.savez(
                handle,
                latent=latent,
                latent_std_units=latent / std,
                times_s=times,
                latent_std=std,
                checkpoint=np.array(checkpoint.name),
                checkpoint_path=np.array(str(Path(checkpoint.path).resolve())),
                sound=np.array(str(args.sound)),
                sample_rate=config.audio.sample_rate,
                hop=config.stft.hop,
                n_fft=config.stft.n_fft,
            )
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the landmark ({exc.strerror})") from None
    print(
        f"{out}: {len(latent)} frames x {latent.shape[1]} dims ({times[-1]:.2f} s) with "
        f"{checkpoint.name}"
    )
    return 0


def reconstruct_command(args: argparse.Namespace) -> int:
    """``caminos reconstruct SOUND -o OUT.wav``: encode, decode, lay the sound's texture on the
    decoded frames (``--texture``, default ``model.texture``), recover phase, write."""
    from caminos.engine.dsp.render import synthesize
    from caminos.engine.dsp.texture import add_texture
    from caminos.models.api import latent_trajectory, log_frames, read_mono
    from caminos.models.shape import MAGNITUDE_FLOOR

    config = load_with_overrides(args)
    out = check_output(args.output)
    texture = config.model.texture if args.texture is None else args.texture
    if not 0.0 <= texture <= 1.0:
        raise ParameterError(f"--texture: expected an amount from 0 to 1, got {texture}")
    checkpoint = _checkpoint(args, config)
    x = read_mono(args.sound, config)
    frames = log_frames(x, config)
    latent, _ = latent_trajectory(x, checkpoint, config, frames)
    magnitudes = checkpoint.model.decode_numpy(latent)
    if texture > 0.0:
        magnitudes = add_texture(
            magnitudes,
            frames,
            texture,
            config.stft.n_fft,
            config.audio.sample_rate,
            MAGNITUDE_FLOOR,
        )
    peak = synthesize(magnitudes, out, config, args.phase or config.phase.method, len(x))
    print(
        f"{out}: {len(x) / config.audio.sample_rate:.2f} s through {checkpoint.name} "
        f"({latent.shape[1]} dims, texture {texture:g}), phase "
        f"{args.phase or config.phase.method}, peak {peak:.1f} dBFS"
    )
    return 0


def morph_trajectory(a: np.ndarray, b: np.ndarray, n_frames: int) -> np.ndarray:
    """Walk from trajectory ``a`` to trajectory ``b`` in ``n_frames`` frames.

    Both trajectories are time-scaled to ``n_frames`` (linear interpolation between frames);
    the weight of ``b`` rises along a smoothstep from 0 at the first frame to 1 at the last.

    Parameters
    ----------
    a, b : ndarray, shape (n_a, d) and (n_b, d)
    n_frames : int >= 1

    Returns
    -------
    ndarray, shape (n_frames, d), float32
    """
    u = np.linspace(0.0, 1.0, n_frames)

    def resample(z: np.ndarray) -> np.ndarray:
        position = u * (len(z) - 1)
        return np.stack(
            [np.interp(position, np.arange(len(z)), z[:, k]) for k in range(z.shape[1])], axis=1
        )

    weight = (u * u * (3.0 - 2.0 * u))[:, None]
    return ((1.0 - weight) * resample(a) + weight * resample(b)).astype(np.float32)


def morph_command(args: argparse.Namespace) -> int:
    """``caminos morph A B -o OUT.wav --seconds S``."""
    from caminos.engine.dsp.render import synthesize
    from caminos.models.api import latent_trajectory, read_mono
    from caminos.models.data import DataError

    config = load_with_overrides(args)
    if not 0.05 <= args.seconds <= 3600:
        raise DataError(f"--seconds: expected 0.05 to 3600 seconds, got {args.seconds}")
    out = check_output(args.output)
    checkpoint = _checkpoint(args, config)
    za, _ = latent_trajectory(read_mono(args.a, config), checkpoint, config)
    zb, _ = latent_trajectory(read_mono(args.b, config), checkpoint, config)
    n_samples = int(round(args.seconds * config.audio.sample_rate))
    from caminos.engine.dsp.spectral import n_frames_for

    z = morph_trajectory(za, zb, n_frames_for(n_samples, config.stft))
    peak = synthesize(
        checkpoint.model.decode_numpy(z), out, config, args.phase or config.phase.method, n_samples
    )
    print(
        f"{out}: {args.seconds:.2f} s from {args.a} to {args.b} through {checkpoint.name}, "
        f"peak {peak:.1f} dBFS"
    )
    return 0


def map_command(args: argparse.Namespace) -> int:
    """``caminos map CHECKPOINT [SOUNDS...] -o map.png``: the plane of the first two axes."""
    from caminos.models.api import latent_trajectory, read_mono
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from caminos.models.autoencoder import frame_descriptors
    from caminos.models.checkpoint import load_checkpoint

    config = load_with_overrides(args)
    out = check_output(args.output)
    checkpoint = load_checkpoint(args.checkpoint, config.stft, config.audio.sample_rate)
    model = checkpoint.model
    std = model.latent_std.numpy().astype(np.float64)
    extent, steps = 3.0, 61  # +-3 std on each axis
    grid = np.linspace(-extent, extent, steps)
    gx, gy = np.meshgrid(grid, grid)
    z = np.zeros((steps * steps, model.shape.latent_dim), np.float32)
    z[:, 0], z[:, 1] = gx.ravel() * std[0], gy.ravel() * std[1]
    described = frame_descriptors(model.decode_numpy(z), config.stft, config.audio.sample_rate)
    centroid = described["centroid_hz"].reshape(steps, steps)
    loudness = described["loudness_db"].reshape(steps, steps)
    fig, ax = plt.subplots(figsize=(7.5, 6.5), dpi=110)
    image = ax.imshow(
        centroid,
        origin="lower",
        extent=(-extent, extent, -extent, extent),
        cmap="viridis",
        aspect="equal",
    )
    fig.colorbar(image, ax=ax, label="spectral centroid of the decoded frame (Hz)")
    contours = ax.contour(gx, gy, loudness, colors="white", linewidths=0.6, alpha=0.7)
    ax.clabel(contours, fmt="%.0f dB", fontsize=7)
    axes = checkpoint.descriptors.get("axes", [])

    def label(k: int) -> str:
        share = float(model.explained_variance[k]) * 100
        words = axes[k]["summary"] if k < len(axes) else ""
        return f"axis {k} ({share:.0f} % of variance): {words}"

    ax.set_xlabel(label(0), fontsize=8)
    ax.set_ylabel(label(1), fontsize=8)
    colours = plt.cm.tab10.colors
    for i, sound in enumerate(args.sounds):
        latent, _ = latent_trajectory(read_mono(sound, config), checkpoint, config)
        units = latent / std.astype(np.float32)
        colour = colours[i % len(colours)]
        ax.plot(
            units[:, 0], units[:, 1], color=colour, linewidth=1.0, alpha=0.9, label=Path(sound).name
        )
        ax.plot(units[0, 0], units[0, 1], marker="o", color=colour)
        ax.plot(units[-1, 0], units[-1, 1], marker="s", color=colour)
    if args.sounds:
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_title(
        f"{checkpoint.name}: first two latent axes (std units); white lines: loudness", fontsize=9
    )
    fig.tight_layout()
    try:
        fig.savefig(out)
    except (OSError, ValueError) as exc:
        raise OutputError(f"{out}: cannot write the picture ({exc})") from None
    finally:
        plt.close(fig)
    print(f"{out}: map of {checkpoint.name} with {len(args.sounds)} trajectories")
    return 0


# -- argument parsing --------------------------------------------------------------------------
def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train``, ``encode``, ``reconstruct``, ``morph`` and ``map`` to a subparsers object.

    Each parser sets ``handler`` (``args.handler(args)`` returns the exit status).
    """
    train = subparsers.add_parser(
        "train",
        help="train a model on a folder of sounds",
        description="Train a model on a folder of your own sounds.",
    )
    kinds = train.add_subparsers(dest="model_kind", required=True, metavar="MODEL")
    auto = kinds.add_parser(
        "autoencoder",
        help="the spectral autoencoder",
        description="Train the spectral autoencoder on every sound file under a folder (any "
        "format libsndfile reads, any rate and channels). Shows train and validation "
        "loss, stops early, saves on Ctrl-C; run under torchrun to train on several "
        "processes. A small folder (under 5 minutes of audio) fine-tunes the default "
        "model within a time budget, validates on stretches of every file, and ends "
        "with a report that says whether the new model serves the sounds better "
        "than the default.",
    )
    auto.add_argument("--data", metavar="DIR", required=True, help="folder of sound files")
    auto.add_argument("--out", metavar="PATH", required=True, help="checkpoint to write (.pt)")
    auto.add_argument("--epochs", type=int, help="most epochs (default 200; early stopping)")
    auto.add_argument(
        "--latent-dim",
        type=int,
        help="latent dimensions, 8 to 48 (default 32: 13 learned beside the "
        "level, 3 pitch slots and 6 free peaks)",
    )
    auto.add_argument("--hidden", metavar="W1,W2", help="encoder hidden widths (default 256,128)")
    auto.add_argument(
        "--decoder-hidden", metavar="W1,W2", help="decoder hidden widths (default 512,512)"
    )
    auto.add_argument(
        "--loss",
        choices=("spectral", "log_mse"),
        help="spectral: spectral convergence + log-magnitude L1, plus the L1 "
        "over each frame's top 40 dB (--partial-weight) (default); "
        "log_mse: squared log-magnitude error (version-1 models)",
    )
    auto.add_argument(
        "--partial-weight",
        type=float,
        help="weight of the spectral loss's log-magnitude L1 over each frame's "
        "top 40 dB, its partials (default 1; 0: the models before it)",
    )
    auto.add_argument(
        "--keep",
        choices=("survival", "loss"),
        help="keep the epoch with the best partial survival of the validation "
        "files through the model (default), or the lowest validation loss "
        "(the default for a small folder)",
    )
    auto.add_argument(
        "--magnitude-power",
        type=float,
        help="power of the magnitudes in the spectral loss's convergence term (default 1: linear)",
    )
    auto.add_argument(
        "--level",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="frame level as its own latent channel (default on)",
    )
    auto.add_argument(
        "--pitch",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="tracked pitch as its own latent channel, partials drawn on its "
        "harmonic comb (default on)",
    )
    auto.add_argument(
        "--comb-bands",
        type=int,
        help="bands of the comb's heights, interpolated to the bins (default 64; 0: one per bin)",
    )
    auto.add_argument(
        "--pitch-slots",
        type=int,
        help="pitch slots per frame, 1 to 4, each its own comb (default 3)",
    )
    auto.add_argument(
        "--free-peaks",
        type=int,
        help="free spectral peaks per frame, 0 to 8, for partials off every comb "
        "(bells, gongs; default 6)",
    )
    auto.add_argument(
        "--max-minutes",
        type=float,
        help="stop after the epoch that passes this much training time (default: "
        "none; 4 for a small folder)",
    )
    auto.add_argument("--context", type=int, help="past frames at the input, 0 to 8 (default 0)")
    auto.add_argument("--beta", type=float, help="weight of the KL term (default 0.01)")
    auto.add_argument("--batch-size", type=int, help="frames per step (default 256)")
    auto.add_argument("--patience", type=int, help="epochs without improvement before stopping")
    auto.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    auto.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    auto.add_argument("--resume", metavar="CHECKPOINT", help="continue training this checkpoint")
    auto.add_argument(
        "--fine-tune",
        metavar="CHECKPOINT",
        help="start from this finished model's weights (for instance the shipped "
        "models/checkpoints/default.pt) and train it on --data: a few minutes "
        "adapt it to one's own sounds",
    )
    auto.add_argument(
        "--transpose",
        dest="transpose_semitones",
        type=float,
        metavar="SEMITONES",
        help="stretch each training frame by up to this many semitones up or down, "
        "so a few notes teach their neighbours' pitches (default 3, 5 for a "
        "small folder; 0: off)",
    )
    auto.add_argument(
        "--mix",
        dest="mix_probability",
        type=float,
        metavar="P",
        help="mix this share of training frames with another frame (up to 12 dB "
        "quieter), so the model also hears two sounds at once (default 0; 0.2 "
        "for a small folder)",
    )
    auto.add_argument(
        "--stretch",
        dest="stretch_probability",
        type=float,
        metavar="P",
        help="replace this share of training frames by a frame between them and "
        "the next, a time stretch (default 0; 0.25 for a small folder)",
    )
    auto.add_argument(
        "--from-scratch",
        action="store_true",
        help="train a new model even on a small folder (under 5 minutes of "
        "audio), which otherwise fine-tunes the default model",
    )
    auto.add_argument(
        "--refit-latent",
        action="store_true",
        help="with a fine-tune, rotate the latent to the new sounds' main axes "
        "instead of keeping the base model's latent frame, in which its "
        "landmarks, paths and scenes keep their places",
    )
    auto.add_argument(
        "--split",
        choices=("auto", "files", "time"),
        default="auto",
        help="validate on whole held-out files, or on held-out stretches of every "
        "file (time); auto (default): time under 5 minutes of audio",
    )
    auto.add_argument(
        "--patience-minutes",
        type=float,
        help="stop after this many minutes without a validation improvement "
        "(default: --patience epochs; 1.5 min for a small folder)",
    )
    auto.add_argument(
        "--report",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="score the model beside the default and PCA-16 on every file and "
        "write NAME-report.md and .png (default: on for a small folder)",
    )
    auto.add_argument(
        "--learning-rate",
        type=float,
        help=f"Adam step size (default 0.001; {FINE_TUNE_LEARNING_RATE:g} with "
        "--fine-tune on a folder of over 5 minutes)",
    )
    auto.add_argument(
        "--min-seconds",
        type=float,
        default=2.0,
        help="least audio to train on, in seconds (default 2)",
    )
    auto.add_argument("--cache-dir", metavar="DIR", help="frame cache (default ~/.cache/caminos)")
    auto.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")
    auto.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_options(auto)
    auto.set_defaults(handler=train_autoencoder_command)
    from caminos.engine.cli.voice import add_train_voice

    add_train_voice(kinds)

    encode = subparsers.add_parser(
        "encode",
        help="encode a sound into a landmark (.npz)",
        description="Write a sound's latent trajectory: arrays "
        "latent (frames, dims), latent_std_units, times_s, latent_std, "
        "and the checkpoint's name.",
    )
    encode.add_argument("sound", metavar="SOUND")
    encode.add_argument("-o", "--output", metavar="LANDMARK.npz", required=True)
    add_model_option(encode)
    add_config_options(encode)
    encode.set_defaults(handler=encode_command)

    rec = subparsers.add_parser(
        "reconstruct",
        help="a sound through the autoencoder",
        description="Encode a sound, decode it, recover a phase, write.",
    )
    rec.add_argument("sound", metavar="SOUND")
    rec.add_argument("-o", "--output", metavar="OUT", required=True)
    rec.add_argument("--phase", metavar="METHOD", help="phase recovery (default: phase.method)")
    rec.add_argument(
        "--texture",
        type=float,
        metavar="AMOUNT",
        help="how much the sound's own spectral grain (each bin's level beyond its "
        "envelope) replaces the decoded frames' (each bin moved -12 .. +3 dB at "
        "most), 0 (the model alone) to 1 (default: model.texture, 1)",
    )
    add_model_option(rec)
    add_config_options(rec)
    rec.set_defaults(handler=reconstruct_command)

    morph = subparsers.add_parser(
        "morph",
        help="walk from one sound's latent trajectory to another's",
        description="Both trajectories are stretched to the duration; "
        "the mix moves from A to B along a smoothstep.",
    )
    morph.add_argument("a", metavar="A")
    morph.add_argument("b", metavar="B")
    morph.add_argument("-o", "--output", metavar="OUT", required=True)
    morph.add_argument("--seconds", type=float, required=True, help="duration in seconds")
    morph.add_argument("--phase", metavar="METHOD", help="phase recovery (default: phase.method)")
    add_model_option(morph)
    add_config_options(morph)
    morph.set_defaults(handler=morph_command)

    latent_map = subparsers.add_parser(
        "map",
        help="picture of the latent space with sounds drawn on it",
        description="The plane of the first two latent axes (+-3 std), coloured by the decoded "
        "spectral centroid, with loudness contours and each sound's trajectory.",
    )
    latent_map.add_argument("checkpoint", metavar="CHECKPOINT")
    latent_map.add_argument("sounds", metavar="SOUND", nargs="*")
    latent_map.add_argument("-o", "--output", metavar="PNG", required=True)
    add_config_options(latent_map)
    latent_map.set_defaults(handler=map_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run these subcommands without the rest of ``caminos``
    (``python -m caminos.engine.cli.model``)."""
    parser = argparse.ArgumentParser(prog="caminos", description=__doc__.splitlines()[0])
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    return run_handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
