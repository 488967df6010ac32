"""Where an autoencoder's log-spectral distance comes from: the error split by each bin's level.

Each held-out file's loud frames (those whose loudest bin is within 30 dB of the file's loudest)
go through each ``--model``'s encode and decode and through PCA with as many components (fitted
in this run on the first model's training frames), magnitudes only (no phase recovery). Every
bin's error ``20 log10(decoded / true)`` in dB (both levels clipped at 80 dB under the file's
loudest bin, the depth of the LSD's floor in ``caminos.engine.dsp.metrics``, which adds its floor
instead of clipping at it) is pooled into three bands by the true bin's level under
its frame's peak: the partials' band (the top 40 dB, where partial survival looks), the band
40-60 dB under the peak, and the floor below. Each band prints its share of the bins, its mean
signed error (a bias: positive, the decode is too loud there), its RMS error and its share of the
summed squared error, which is what LSD (an RMS over bins per frame) is made of.

Reference printed beside them: a bin of pure noise has a Rayleigh magnitude whose level in dB
has a standard deviation of ``20 / ln 10 * pi / sqrt(24)`` = 5.57 dB around its expected value;
a decoder that gives the expected spectrum (it cannot know the noise's draw) keeps at least that
RMS error in noisy bins, where the true magnitudes (the oracle) have none.

    python benchmarks/lsd_by_level.py --model models/checkpoints/default.pt [--model B.pt] \\
        [--every 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from caminos.engine.core.config import load_config
from caminos.engine.dsp.spectral import stft
from caminos.models.autoencoder import log_magnitude
from caminos.models.checkpoint import load_checkpoint
from caminos.models.data import find_sound_files, load_corpus, read_mono
from caminos.models.shape import MAGNITUDE_FLOOR
from caminos.models.train import PcaBaseline

# Bands of a bin's level under its frame's peak, in dB: (name, upper, lower).
BANDS = (
    ("top 40 dB (partials)", 0.0, -40.0),
    ("40-60 dB under", -40.0, -60.0),
    ("floor, > 60 dB under", -60.0, -math.inf),
)
LOUD_FRAMES_DB = 30.0  # frames whose loudest bin is within this of the file's loudest
FLOOR_DB = 80.0  # levels clipped this far under the file's loudest bin
RAYLEIGH_DB_STD = 20.0 / math.log(10.0) * math.pi / math.sqrt(24.0)  # 5.57 dB


def levels_db(magnitudes: np.ndarray, floor_db: float) -> np.ndarray:
    """``20 log10`` of magnitudes, floored at ``floor_db``."""
    return np.maximum(20.0 * np.log10(np.maximum(magnitudes, 1e-12)), floor_db)


def band_errors(true: np.ndarray, decoded: np.ndarray) -> list[np.ndarray]:
    """Per-bin dB errors of one file's loud frames, one array per band of :data:`BANDS`.

    Parameters
    ----------
    true, decoded : ndarray, shape (frames, bins)
        Linear magnitudes.
    """
    floor_db = levels_db(true, -np.inf).max() - FLOOR_DB
    reference, estimate = levels_db(true, floor_db), levels_db(decoded, floor_db)
    under_peak = reference - reference.max(axis=1, keepdims=True)
    error = estimate - reference
    return [error[(under_peak <= upper) & (under_peak > lower)] for _, upper, lower in BANDS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        action="append",
        metavar="CHECKPOINT",
        help="a checkpoint (repeat for several; default: the shipped default.pt)",
    )
    parser.add_argument(
        "--train-data",
        default=str(ROOT / "build" / "corpus" / "train"),
        help="the first model's training folder (PCA is fitted on its frames)",
    )
    parser.add_argument(
        "--test-data", default=str(ROOT / "build" / "corpus" / "heldout"), help="held-out sounds"
    )
    parser.add_argument("--every", type=int, default=3, help="take every Nth held-out file")
    parser.add_argument("--config", help="configuration file (default: the project's)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    paths = args.model or [str(ROOT / "models" / "checkpoints" / "default.pt")]
    checkpoints = [load_checkpoint(p, config.stft, config.audio.sample_rate) for p in paths]
    names = [Path(p).stem for p in paths] + ["pca"]
    seed = int(checkpoints[0].provenance.get("seed", 0))
    corpus = load_corpus(args.train_data, config, seed=seed, min_seconds=0.0, cache_dir="default")
    pick = np.random.default_rng(seed).choice(
        len(corpus.train), min(20000, len(corpus.train)), replace=False
    )
    pca = PcaBaseline(corpus.train.frames[np.sort(pick)], checkpoints[0].model.shape.latent_dim)
    files = find_sound_files(args.test_data)[:: max(1, args.every)]
    if not files:
        sys.exit(
            f"{args.test_data}: no held-out sound files (run python -m caminos.models.corpus.build)"
        )
    pooled: dict[str, list[list[np.ndarray]]] = {name: [[] for _ in BANDS] for name in names}
    for path in files:
        true = np.abs(stft(read_mono(path, config.audio.sample_rate), config.stft))
        loudness = levels_db(true.max(axis=1), -np.inf)
        true = true[loudness > loudness.max() - LOUD_FRAMES_DB]
        log_true = log_magnitude(true).astype(np.float32)
        decodes = [c.model.decode_numpy(c.model.encode_numpy(log_true)) for c in checkpoints]
        decodes.append(np.maximum(np.exp(pca.reconstruct(log_true)) - MAGNITUDE_FLOOR, 0.0))
        for name, decoded in zip(names, decodes):
            for band, error in zip(pooled[name], band_errors(true, decoded)):
                band.append(error)
    print(
        f"{len(files)} held-out files from {args.test_data}; reference: noise bins keep "
        f"{RAYLEIGH_DB_STD:.2f} dB RMS error under any decoder of their expected spectrum"
    )
    print(
        "model | band | share of bins | mean signed error (dB) | RMS error (dB) | "
        "share of squared error"
    )
    for name in names:
        errors = [np.concatenate(band) for band in pooled[name]]
        total_bins = sum(len(e) for e in errors)
        total_squared = sum(float(np.sum(e.astype(np.float64) ** 2)) for e in errors)
        for (band_name, _, _), e in zip(BANDS, errors):
            squared = float(np.sum(e.astype(np.float64) ** 2))
            print(
                f"{name} | {band_name} | {len(e) / total_bins:.2f} | {e.mean():+.2f} | "
                f"{math.sqrt(squared / max(len(e), 1)):.2f} | {squared / total_squared:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
