"""A model of one's own sounds from a handful of files: the default command, judged (issue 20).

One run renders two folders of eight files from the FluidR3 GM soundfont (Debian's
``fluid-soundfont-gm``, MIT; the package the training corpus already renders from), with
instruments the shipped models never trained on:

- ``mixed``: eight instruments of different families, a phrase of four notes each (about 30 s);
- ``family``: eight bowed-string instruments (about 30 s);

and for each folder a second set of phrases of other notes of the same instruments, which the
folder does not hold. For each folder it runs the default command a user would type,
``caminos train autoencoder --data FOLDER --out mine.pt``, as a subprocess with its wall time,
then measures, side by side in the same run:

- on the folder's own files, through each model alone (texture 0, the configured phase
  recovery, the sound analysed again): partial survival and LSD of the new model, the shipped
  default and PCA-16 fitted on the folder (``caminos.models.report``, the report's own measures);
- on the other notes: the new model beside the default;
- walkability: the mean distance between the files' landmarks (each file's mean latent over its
  loud frames, in each model's own latent standard units, as the map shows them) for the new
  model and the default, and the crest of decoded midpoints between landmarks over the crest of
  the landmarks themselves (1: midpoints as peaked as the files).

A third set, ``tuning`` (eight other instruments), is where the small-data defaults of
``caminos train`` were chosen; the goals are read on ``mixed`` and ``family`` only.

Run: ``python benchmarks/own_sounds.py`` (about 12 minutes on two cores), ``--sets tuning`` for the
tuning folder, ``--json PATH`` for the numbers.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from caminos.engine.core.config import load_config
from caminos.models.autoencoder import SpectralVAE, stack_context
from caminos.models.checkpoint import load_checkpoint
from caminos.models.corpus.recorded import SAMPLE_RATE, midi_file, render_midi
from caminos.models.data import file_frames, load_corpus
from caminos.models.report import (
    PCA_DIMS,
    model_reconstructor,
    pca_reconstructor,
    pooled,
    score_file,
)
from caminos.models.train import PcaBaseline

# General MIDI programs (0-based) none of the shipped models trained on or was measured on.
SETS = {
    "mixed": {
        13: "xylophone",
        16: "drawbar-organ",
        22: "harmonica",
        27: "clean-guitar",
        53: "voice-oohs",
        61: "brass-section",
        64: "soprano-sax",
        72: "piccolo",
    },
    "family": {
        41: "viola",
        43: "contrabass",
        44: "tremolo-strings",
        48: "string-ensemble-1",
        49: "string-ensemble-2",
        50: "synth-strings-1",
        51: "synth-strings-2",
        110: "fiddle",
    },
    "tuning": {
        10: "music-box",
        15: "dulcimer",
        20: "reed-organ",
        30: "distortion-guitar",
        54: "synth-voice",
        62: "synth-brass-1",
        69: "english-horn",
        74: "recorder",
    },
}
# A comfortable middle of each instrument's range (MIDI key of the phrase's first note).
LOW = {
    13: 72,
    16: 48,
    22: 60,
    27: 52,
    53: 55,
    61: 50,
    64: 62,
    72: 74,
    41: 55,
    43: 31,
    44: 48,
    48: 48,
    49: 52,
    50: 48,
    51: 55,
    110: 60,
    10: 67,
    15: 55,
    20: 48,
    30: 45,
    54: 55,
    62: 48,
    69: 58,
    74: 65,
}
PHRASE = (0, 4, 7, 2)  # semitones above the first note: the folder's phrase
OTHER = (9, 5, 12, 11)  # other notes of the same instruments, for generalisation
NOTE_S, GAP_S = 0.8, 0.12  # seconds per note and between notes


def render_phrase(program: int, keys: list[int], seed: int) -> np.ndarray:
    """Four notes of one instrument, each at its own velocity, peak -6 to -3 dBFS."""
    rng = np.random.default_rng(seed)
    schedule, onset = [], 0.2
    for key in keys:
        schedule.append((onset, NOTE_S, key, int(rng.integers(60, 110))))
        onset += NOTE_S + GAP_S
    audio = render_midi(midi_file(program, schedule))
    audio = audio[: int((onset + 0.4) * SAMPLE_RATE)]
    return audio / (np.max(np.abs(audio)) + 1e-12) * 10 ** (rng.uniform(-6, -3) / 20)


def make_set(name: str, folder: Path) -> tuple[Path, Path]:
    """Render a set's folder and its other-notes folder; returns both."""
    own, other = folder / name, folder / f"{name}-other-notes"
    for path in (own, other):
        path.mkdir(parents=True, exist_ok=True)
    for i, (program, instrument) in enumerate(SETS[name].items()):
        base = LOW[program]
        sf.write(
            own / f"{instrument}.flac",
            render_phrase(program, [base + s for s in PHRASE], seed=i),
            SAMPLE_RATE,
            subtype="PCM_24",
        )
        sf.write(
            other / f"{instrument}-other.flac",
            render_phrase(program, [base + s for s in OTHER], seed=100 + i),
            SAMPLE_RATE,
            subtype="PCM_24",
        )
    return own, other


def landmarks(model: SpectralVAE, frames_by_file: list[np.ndarray]) -> np.ndarray:
    """Each file's mean latent over its loud frames (within 30 dB of its loudest), in the
    model's latent standard units; (files, latent_dim)."""
    points = []
    for frames in frames_by_file:
        inputs = stack_context(frames, model.shape.context, np.zeros(1, np.int64))
        z = model.encode_numpy(inputs, stream=True).astype(np.float64)
        level = frames.max(axis=1)
        loud = level >= level.max() - 30.0 / (20.0 / np.log(10.0))
        points.append(z[loud].mean(axis=0) / model.latent_std.numpy().astype(np.float64))
    return np.stack(points)


def mean_distance(points: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of points."""
    diff = points[:, None, :] - points[None, :, :]
    distance = np.sqrt((diff**2).sum(axis=-1))
    n = len(points)
    return float(distance.sum() / (n * (n - 1)))


def crest(mags: np.ndarray) -> np.ndarray:
    """Peak over mean magnitude of each frame."""
    return mags.max(axis=-1) / np.maximum(mags.mean(axis=-1), 1e-12)


def midpoint_crest_ratio(model: SpectralVAE, points_std: np.ndarray) -> float:
    """Crest of decoded midpoints between every pair of landmarks over the landmarks' own."""
    z = points_std * model.latent_std.numpy().astype(np.float64)
    i, j = np.triu_indices(len(z), 1)
    ends = model.decode_numpy(z.astype(np.float32))
    mids = model.decode_numpy((0.5 * (z[i] + z[j])).astype(np.float32))
    return float(crest(mids).mean() / crest(ends).mean())


def score_folder(folder: Path, models: dict, pca: PcaBaseline | None, config, method: str) -> dict:
    """Pooled whole-file scores of every model (and PCA) on a folder's files."""
    reconstructors = {name: model_reconstructor(m) for name, m in models.items()}
    if pca is not None:
        reconstructors[f"PCA-{PCA_DIMS}"] = pca_reconstructor(pca)
    scores = {name: [] for name in reconstructors}
    files = sorted(folder.glob("*.flac"))
    for path in files:
        frames, seconds = file_frames(path, config, None)
        result, _, _ = score_file(
            frames, seconds, [], reconstructors, config, method, file=path.name
        )
        for name in reconstructors:
            scores[name].append(result.whole[name])
    return {name: pooled(s) for name, s in scores.items()}


def run_set(
    name: str,
    work: Path,
    config,
    method: str,
    minutes: float | None,
    extra: list[str],
    tag: str = "",
) -> dict:
    own, other = make_set(name, work)
    out = work / f"{name}{tag}.pt"
    command = [
        sys.executable,
        "-m",
        "caminos.engine.cli.main",
        "train",
        "autoencoder",
        "--data",
        str(own),
        "--out",
        str(out),
        "--no-progress",
        "--cache-dir",
        str(work / "cache"),
    ]
    if minutes is not None:
        command += ["--max-minutes", str(minutes)]
    command += extra
    print(f"\n== {name}: {' '.join(['caminos'] + command[3:])}", flush=True)
    started = time.monotonic()
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    wall = time.monotonic() - started
    print(done.stdout[-2500:], flush=True)
    if done.returncode != 0:
        sys.exit(f"training failed:\n{done.stderr[-3000:]}")
    new = load_checkpoint(out, config.stft, config.audio.sample_rate).model
    default = load_checkpoint(
        config.model.checkpoint_path(), config.stft, config.audio.sample_rate
    ).model
    corpus = load_corpus(own, config, cache_dir=work / "cache")
    pca = PcaBaseline(corpus.train.frames, PCA_DIMS)
    models = {"new": new, "default": default}
    own_scores = score_folder(own, models, pca, config, method)
    other_scores = score_folder(other, models, None, config, method)
    frames = [file_frames(p, config, None)[0] for p in sorted(own.glob("*.flac"))]
    walk = {}
    for label, model in models.items():
        points = landmarks(model, frames)
        walk[label] = {
            "landmark_distance": round(mean_distance(points), 3),
            "midpoint_crest_ratio": round(midpoint_crest_ratio(model, points), 3),
        }
    row = {
        "set": name,
        "wall_s": round(wall, 1),
        "own": {
            k: {"survival": round(v.survival, 4), "lsd_db": round(v.lsd_db, 3)}
            for k, v in own_scores.items()
        },
        "other_notes": {
            k: {"survival": round(v.survival, 4), "lsd_db": round(v.lsd_db, 3)}
            for k, v in other_scores.items()
        },
        "walk": walk,
        "kept_default": "holds the default's weights" in done.stdout,
    }
    print_row(row)
    return row


def print_row(row: dict) -> None:
    own, other, walk = row["own"], row["other_notes"], row["walk"]
    print(f"\n{row['set']}: default command, wall {row['wall_s']:.0f} s")
    print("measure | new | default | PCA-16 | goal")
    pca = own.get(f"PCA-{PCA_DIMS}", {})
    print(
        f"own files survival | {own['new']['survival']:.3f} | {own['default']['survival']:.3f} "
        f"| {pca.get('survival', float('nan')):.3f} | >= 0.93, > PCA"
    )
    print(
        f"own files LSD (dB) | {own['new']['lsd_db']:.2f} | {own['default']['lsd_db']:.2f} "
        f"| {pca.get('lsd_db', float('nan')):.2f} | <= default - 1, < PCA"
    )
    print(
        f"other notes survival | {other['new']['survival']:.3f} | "
        f"{other['default']['survival']:.3f} | | >= default - 0.02"
    )
    print(
        f"other notes LSD (dB) | {other['new']['lsd_db']:.2f} | {other['default']['lsd_db']:.2f}"
        " | |"
    )
    print(
        f"landmark mean distance (std units) | {walk['new']['landmark_distance']:.2f} | "
        f"{walk['default']['landmark_distance']:.2f} | | >= default"
    )
    print(
        f"midpoint crest ratio | {walk['new']['midpoint_crest_ratio']:.2f} | "
        f"{walk['default']['midpoint_crest_ratio']:.2f} | | >= 0.8"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["mixed", "family"], choices=list(SETS))
    parser.add_argument(
        "--work",
        default=str(ROOT / "build" / "own_sounds"),
        help="where the folders, models and reports go",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        help="--max-minutes for training (default: the command's own default)",
    )
    parser.add_argument(
        "--train-args",
        default="",
        metavar="ARGS",
        help="more options for the training command (for tuning on --sets tuning)",
    )
    parser.add_argument("--tag", default="", help="suffix of the model's file name")
    parser.add_argument("--json", metavar="PATH", help="write the rows here")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    config = load_config()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = [
        run_set(
            name, work, config, config.phase.method, args.minutes, args.train_args.split(), args.tag
        )
        for name in args.sets
    ]
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
