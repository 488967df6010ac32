"""A model trained on a folder, judged on that folder beside the shipped default and PCA-16.

``caminos train autoencoder`` writes this report beside a checkpoint trained on a few of one's
own files (``NAME-report.md`` and ``NAME-report.png``): for every file, the share of its partials
that survive and the log-spectral distance through each model alone (no texture, the configured
phase recovery, the sound analysed again), over the whole file and over the stretches the
training never saw; the stacked spectrograms of the best and the worst file; and a verdict that
says plainly whether the new model serves these sounds better than the default. The measures are
the project's own (:func:`caminos.engine.dsp.metrics.partial_counts` and
:func:`~caminos.engine.dsp.metrics.log_spectral_distance_db`), the ones ``benchmarks/`` uses.

Why this file is longer than 500 lines: the measures, the verdict and the pictures of one report
are made from the same renders and written together; apart, each would have to carry the others'
data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from caminos.engine.core.config import Config
from caminos.engine.dsp.metrics import log_spectral_distance_db, partial_counts
from caminos.engine.dsp.phase import reconstruct
from caminos.engine.dsp.spectral import istft, stft as analyze
from caminos.models.autoencoder import SpectralVAE, stack_context
from caminos.models.shape import MAGNITUDE_FLOOR
from caminos.models.train import PcaBaseline

PCA_DIMS = 16  # the linear baseline's dimensions, as in benchmarks/autoencoder.py
BETTER_SURVIVAL = 0.005  # held-out partial survival a model must gain to count as better
BETTER_LSD_DB = 0.1  # ... or, at equal survival, the LSD it must lose, dB

# A reconstructor: a file's log-magnitude frames (n, n_bins) to the magnitudes it decodes.
Reconstructor = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Score:
    """Partials kept of all partials, and the LSD over ``frames`` frames.

    Attributes
    ----------
    kept, partials : int
        Counted by :func:`~caminos.engine.dsp.metrics.partial_counts`.
    lsd_db : float
        Log-spectral distance, dB (the metric's floor: bins 80 dB under the file's loudest
        count as equal).
    frames : int
        Frames measured, the weight of ``lsd_db`` when scores are pooled.
    """

    kept: int
    partials: int
    lsd_db: float
    frames: int

    @property
    def survival(self) -> float:
        """Share of the partials kept, 0 to 1 (nan without partials)."""
        return self.kept / self.partials if self.partials else float("nan")


def pooled(scores: list[Score]) -> Score:
    """Scores of several files as one: partials summed, LSD weighted by frames."""
    frames = sum(s.frames for s in scores)
    lsd = sum(s.lsd_db * s.frames for s in scores) / frames if frames else float("nan")
    return Score(sum(s.kept for s in scores), sum(s.partials for s in scores), lsd, frames)


@dataclass
class FileScores:
    """One file's scores per model.

    Attributes
    ----------
    file : str
    seconds : float
        Its length after trimming silence, seconds.
    whole : dict of str to Score
        Over the whole file.
    held_out : dict of str to Score
        Over its held-out stretches only (empty when none of it was held out).
    """

    file: str
    seconds: float
    whole: dict[str, Score] = field(default_factory=dict)
    held_out: dict[str, Score] = field(default_factory=dict)


@dataclass
class FolderReport:
    """Every file's scores, the pooled ones, and the verdict.

    Attributes
    ----------
    folder : str
    names : list of str
        Models in the order shown: the new one, the default, PCA-16.
    files : list of FileScores
    phase : str
        The phase recovery every model's magnitudes went through.
    better : bool
        The new model (``names[0]``) serves the folder's held-out stretches better than the
        default (``names[1]``).
    verdict : str
        That, said plainly, with the numbers and what was kept.
    """

    folder: str
    names: list[str]
    files: list[FileScores]
    phase: str
    better: bool = False
    verdict: str = ""

    def total(self, name: str, part: str = "whole") -> Score:
        """One model's scores pooled over the files, ``whole`` or ``held_out``."""
        return pooled([getattr(f, part)[name] for f in self.files if name in getattr(f, part)])


def model_reconstructor(model: SpectralVAE) -> Reconstructor:
    """Encode and decode through ``model``: latent means, no texture; a file's frames read in
    order, as the engine reads them."""

    def run(frames: np.ndarray) -> np.ndarray:
        inputs = stack_context(frames, model.shape.context, np.zeros(1, np.int64))
        return model.decode_numpy(model.encode_numpy(inputs, stream=True))

    return run


def magnitudes_of(log_frames: np.ndarray) -> np.ndarray:
    """Log-magnitude frames back to linear magnitudes, float64 (the floor taken off, at least
    0)."""
    return np.maximum(np.exp(np.asarray(log_frames, np.float64)) - MAGNITUDE_FLOOR, 0.0)


def pca_reconstructor(pca: PcaBaseline) -> Reconstructor:
    """Project onto PCA's components and back."""

    def run(frames: np.ndarray) -> np.ndarray:
        return magnitudes_of(pca.reconstruct(frames))

    return run


def heard(
    magnitudes: np.ndarray, n_samples: int, config: Config, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """Decoded magnitudes as they sound: phase recovered and synthesised (the sound, float64
    samples) and analysed again (its magnitudes, shape of ``magnitudes``)."""
    recovered = reconstruct(magnitudes, method, config.stft, config.phase)
    sound = istft(recovered, config.stft, length=n_samples)
    return sound, np.abs(analyze(sound, config.stft))[: len(magnitudes)]


def score(heard: np.ndarray, target: np.ndarray, config: Config) -> Score:
    """:class:`Score` of heard magnitudes against the true ones (same shape)."""
    kept, partials = partial_counts(heard, target)
    lsd = log_spectral_distance_db(heard, target, config.stft)
    return Score(kept, partials, float(lsd), len(target))


def score_file(
    frames: np.ndarray,
    seconds: float,
    held_out: list[tuple[int, int]],
    reconstructors: dict[str, Reconstructor],
    config: Config,
    method: str,
    file: str = "",
) -> tuple[FileScores, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One file's scores through every model, and what each model's reconstruction sounds like.

    Parameters
    ----------
    frames : ndarray, shape (n, n_bins)
        The file's log-magnitude frames (silence trimmed, as training read them).
    seconds : float
        Its length, seconds.
    held_out : list of (start, end)
        Frame ranges that training never saw.
    reconstructors : dict
        Model name to :data:`Reconstructor`.
    method : str
        Phase recovery.

    Returns
    -------
    FileScores, dict of str to ndarray, dict of str to ndarray
        The scores, each model's heard magnitudes (n, n_bins) with the file's own under
        ``"original"``, and each model's sound (samples).
    """
    target = magnitudes_of(frames)
    n_samples = int(round(seconds * config.audio.sample_rate))
    result = FileScores(file=file, seconds=seconds)
    spectra, sounds = {"original": target}, {}
    held = np.concatenate([np.arange(a, b) for a, b in held_out]) if held_out else None
    for name, run in reconstructors.items():
        sounds[name], spectra[name] = heard(run(frames), n_samples, config, method)
        result.whole[name] = score(spectra[name], target, config)
        if held is not None:
            result.held_out[name] = score(spectra[name][held], target[held], config)
    return result, spectra, sounds


def judge(report: FolderReport, kept_base_weights: bool, out: str, base: str) -> None:
    """Fill ``report.better`` and ``report.verdict`` from the held-out scores.

    The new model serves the folder better when its held-out partial survival is
    :data:`BETTER_SURVIVAL` higher than the default's, or within it with an LSD
    :data:`BETTER_LSD_DB` lower.
    """
    new, default = report.names[0], report.names[1]
    part = "held_out" if any(f.held_out for f in report.files) else "whole"
    a, b = report.total(new, part), report.total(default, part)
    gain = a.survival - b.survival
    report.better = (not kept_base_weights) and (
        gain > BETTER_SURVIVAL
        or (abs(gain) <= BETTER_SURVIVAL and a.lsd_db < b.lsd_db - BETTER_LSD_DB)
    )
    where = (
        "on the stretches of every file that training never heard"
        if part == "held_out"
        else "on the whole files"
    )
    numbers = (
        f"partial survival {a.survival:.3f} vs {b.survival:.3f}, LSD {a.lsd_db:.2f} vs "
        f"{b.lsd_db:.2f} dB {where}"
    )
    if report.better:
        report.verdict = (
            f"The new model serves these sounds better than the default "
            f"({numbers}): {out} holds it."
        )
    elif kept_base_weights:
        report.verdict = (
            f"The default is kept: no epoch of training beat it {where} "
            f"({numbers}), so {out} holds the default's weights ({base})."
        )
    else:
        report.verdict = (
            f"The default serves these sounds as well or better ({numbers}), so "
            f"the default is kept: {out} holds the default's weights ({base})."
        )


def markdown(report: FolderReport, image: str | None) -> str:
    """The report as Markdown: the verdict, the pooled scores and one row per file."""
    names = report.names
    lines = [
        f"# How well the model serves `{report.folder}`",
        "",
        f"**{report.verdict}**",
        "",
        f"Every sound went through each model alone (no texture), then `{report.phase}` "
        "phase recovery, and was analysed again. Partial survival: the share of each frame's "
        "partials (peaks within 40 dB of its loudest) still within 6 dB; LSD: the "
        "log-spectral distance (lower is better). PCA-16: a linear projection fitted on "
        "the same training frames.",
        "",
        "| over | "
        + " | ".join(f"{n} survival" for n in names)
        + " | "
        + " | ".join(f"{n} LSD (dB)" for n in names)
        + " |",
        "|---|" + "---|" * (2 * len(names)),
    ]
    for part, label in (("held_out", "held-out stretches"), ("whole", "whole files")):
        if part == "held_out" and not any(f.held_out for f in report.files):
            continue
        totals = [report.total(n, part) for n in names]
        lines.append(
            f"| {label} | "
            + " | ".join(f"{t.survival:.3f}" for t in totals)
            + " | "
            + " | ".join(f"{t.lsd_db:.2f}" for t in totals)
            + " |"
        )
    lines += [
        "",
        "Per file (whole file):",
        "",
        "| file | seconds | "
        + " | ".join(f"{n} survival" for n in names)
        + " | "
        + " | ".join(f"{n} LSD (dB)" for n in names)
        + " |",
        "|---|---|" + "---|" * (2 * len(names)),
    ]
    for f in report.files:
        lines.append(
            f"| {f.file} | {f.seconds:.1f} | "
            + " | ".join(f"{f.whole[n].survival:.3f}" for n in names)
            + " | "
            + " | ".join(f"{f.whole[n].lsd_db:.2f}" for n in names)
            + " |"
        )
    if image:
        lines += ["", f"![best and worst file]({image})"]
    return "\n".join(lines) + "\n"


def best_and_worst(report: FolderReport) -> tuple[int, int]:
    """Indices of the files the new model serves best and worst (whole-file survival)."""
    values = [f.whole[report.names[0]].survival for f in report.files]
    values = [v if np.isfinite(v) else -1.0 for v in values]
    return int(np.argmax(values)), int(np.argmin(values))


def plot(
    report: FolderReport, spectra: dict[int, dict[str, np.ndarray]], path: Path, config: Config
) -> None:
    """Per-file survival bars, and the stacked spectrograms of the best and worst file.

    Parameters
    ----------
    spectra : dict
        File index to ``{"original": target, name: heard, ...}`` magnitudes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best, worst = best_and_worst(report)
    columns = [best] if best == worst else [best, worst]
    rows = ["original", *report.names]
    fig = plt.figure(
        figsize=(6.0 * len(columns), 1.8 + 2.0 * len(rows)), dpi=90, layout="constrained"
    )
    grid = fig.add_gridspec(len(rows) + 1, len(columns), height_ratios=[1.1] + [1] * len(rows))
    bars = fig.add_subplot(grid[0, :])
    x = np.arange(len(report.files))
    width = 0.8 / len(report.names)
    for k, name in enumerate(report.names):
        bars.bar(
            x + (k - (len(report.names) - 1) / 2) * width,
            [f.whole[name].survival for f in report.files],
            width,
            label=name,
        )
    bars.set_xticks(x, [Path(f.file).stem[:14] for f in report.files], fontsize=7, rotation=20)
    bars.set_ylabel("partial survival")
    bars.set_ylim(0, 1)
    bars.legend(
        fontsize=7,
        ncol=len(report.names),
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        frameon=False,
    )
    hop_s = config.stft.hop / config.audio.sample_rate
    top_hz = min(config.audio.sample_rate / 2, 12000.0)
    n_top = int(top_hz / (config.audio.sample_rate / config.stft.n_fft)) + 1
    for c, index in enumerate(columns):
        kind = "best" if index == best else "worst"
        loudest = spectra[index]["original"].max() + 1e-12
        for r, name in enumerate(rows):
            ax = fig.add_subplot(grid[r + 1, c])
            mags = spectra[index][name][:, :n_top]
            db = 20.0 * np.log10(mags / loudest + 1e-9)
            ax.imshow(
                db.T,
                origin="lower",
                aspect="auto",
                vmin=-80,
                vmax=0,
                cmap="magma",
                extent=(0, len(mags) * hop_s, 0, top_hz / 1000),
            )
            f = report.files[index]
            label = name
            if name != "original":
                whole = f.whole[name]
                label = f"{name}: survival {whole.survival:.2f}, LSD {whole.lsd_db:.1f} dB"
            ax.set_title(label if r else f"{kind}: {Path(f.file).name}\n{label}", fontsize=8)
            ax.set_ylabel("kHz", fontsize=7)
            ax.tick_params(labelsize=6)
            if r == len(rows) - 1:
                ax.set_xlabel("s", fontsize=7)
    temporary = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(temporary)
    plt.close(fig)
    os.replace(temporary, path)


def report_paths(checkpoint: str | os.PathLike) -> tuple[Path, Path]:
    """Where a checkpoint's report goes: ``NAME-report.md`` and ``NAME-report.png`` beside it."""
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}-report.md"), path.with_name(f"{path.stem}-report.png")


def folder_report(
    corpus,
    new: SpectralVAE,
    default: SpectralVAE,
    config: Config,
    method: str,
    names: tuple[str, str] = ("new model", "default"),
    cache_dir: Path | None = None,
) -> tuple[FolderReport, dict]:
    """Score every usable file of a training corpus through the new model, the default and
    PCA-16 (fitted on the corpus's training frames).

    Parameters
    ----------
    corpus : caminos.models.data.Corpus
        What the new model was trained on; its ``held_out`` ranges are scored apart.
    new, default : SpectralVAE
    method : str
        Phase recovery (the configuration's ``phase.method`` for ``caminos reconstruct``).
    names : (str, str)
        How the new model and the default are named in the report.
    cache_dir : Path, optional
        The frame cache training read from.

    Returns
    -------
    FolderReport, dict
        The report (verdict not yet filled in: :func:`judge`), and the spectra of its best and
        worst file for :func:`plot`.
    """
    from caminos.models.data import file_frames, read_mono, trim_silence

    pick = np.arange(len(corpus.train))
    if len(pick) > 20000:
        pick = np.sort(np.random.default_rng(0).choice(len(pick), 20000, replace=False))
    pca = PcaBaseline(corpus.train.frames[pick], PCA_DIMS)
    reconstructors = {
        names[0]: model_reconstructor(new),
        names[1]: model_reconstructor(default),
        f"PCA-{PCA_DIMS}": pca_reconstructor(pca),
    }
    report = FolderReport(folder=corpus.folder, names=list(reconstructors), files=[], phase=method)
    spectra_all, sounds_all = [], []
    for file, held_out in corpus.held_out.items():
        frames, seconds = file_frames(Path(file), config, cache_dir)
        scores, spectra, sounds = score_file(
            frames,
            seconds,
            held_out,
            reconstructors,
            config,
            method,
            file=os.path.relpath(file, corpus.folder),
        )
        report.files.append(scores)
        spectra_all.append(spectra)
        sounds_all.append(sounds)
    best, worst = best_and_worst(report)
    for index in {best, worst}:  # the sounds to listen to, beside the originals
        original = trim_silence(
            read_mono(Path(list(corpus.held_out)[index]), config.audio.sample_rate), config.stft.hop
        )
        sounds_all[index]["original"] = original
        spectra_all[index]["sounds"] = sounds_all[index]
    return report, {best: spectra_all[best], worst: spectra_all[worst]}


LISTEN_GAP_S = 0.5  # silence between the versions in a listening file, seconds


def listening(sounds: dict[str, np.ndarray], order: list[str], rate: int) -> np.ndarray:
    """The versions of one file one after another, with :data:`LISTEN_GAP_S` of silence between,
    scaled together (never apart: their levels stay comparable) to peak at most -1 dBFS."""
    gap = np.zeros(int(LISTEN_GAP_S * rate))
    parts = []
    for name in order:
        parts += [np.asarray(sounds[name], np.float64), gap]
    out = np.concatenate(parts[:-1])
    peak = np.max(np.abs(out), initial=0.0)
    limit = 10.0 ** (-1.0 / 20.0)
    return out * (limit / peak) if peak > limit else out


def write_report(
    report: FolderReport, spectra: dict, checkpoint: str | os.PathLike, config: Config
) -> tuple[Path, Path]:
    """Write ``NAME-report.md``, ``NAME-report.png`` and the listening files
    ``NAME-report-best.wav`` and ``-worst.wav`` (the original, the new model, the default)
    beside ``checkpoint``; returns the first two."""
    import soundfile as sf

    md_path, png_path = report_paths(checkpoint)
    plot(report, spectra, png_path, config)
    best, worst = best_and_worst(report)
    wavs = []
    for index, kind in ((best, "best"), (worst, "worst")):
        sounds = spectra[index].get("sounds")
        if sounds is None or (kind == "worst" and best == worst):
            continue
        wav = md_path.with_name(f"{md_path.stem}-{kind}.wav")
        temporary = wav.with_name(f".{wav.stem}.tmp.wav")
        sf.write(
            temporary,
            listening(sounds, ["original", *report.names[:2]], config.audio.sample_rate),
            config.audio.sample_rate,
            subtype="PCM_24",
        )
        os.replace(temporary, wav)
        wavs.append((kind, report.files[index].file, wav.name))
    text = markdown(report, png_path.name)
    for kind, file, name in wavs:
        text += (
            f"\nListen to the {kind} file, `{file}`: `{name}` plays the original, then "
            f"{report.names[0]}, then {report.names[1]}, each through "
            f"`{report.phase}` phase recovery.\n"
        )
    temporary = md_path.with_name(f".{md_path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, md_path)
    return md_path, png_path
