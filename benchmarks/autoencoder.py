"""Autoencoder benchmark: reconstruction of held-out sounds by the model, PCA and the oracle.

Each held-out file (never trained on) goes through encode, decode, phase recovery and synthesis;
its re-analysed magnitudes are compared with the original's (LSD and SC of ``engine.metrics``).
``pca`` projects log-magnitudes on as many principal components as the model has latent
dimensions, fitted on the model's own training frames in this run; ``oracle`` puts the true
magnitudes through the same phase recovery, the ceiling of both. One JSON row per signal x model.

    python benchmarks/autoencoder.py --json autoencoder.json   # after python -m models.corpus.build
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread, so the per-frame timings mean one core

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.config import load_config  # noqa: E402
from engine.metrics import log_spectral_distance_db, spectral_convergence_db  # noqa: E402
from engine.phase import reconstruct  # noqa: E402
from engine.spectral import stft as analyze  # noqa: E402
from models.autoencoder import (MAGNITUDE_FLOOR, FusedCodec, log_magnitude,  # noqa: E402
                                measure_latency_us, stack_context)
from models.checkpoint import load_checkpoint  # noqa: E402
from models.data import find_sound_files, load_corpus, read_mono  # noqa: E402
from models.train import PcaBaseline  # noqa: E402

LSD_FLOOR_DB = -80.0  # engine.metrics' floor, relative to each signal's loudest bin


def pca_latency_us(pca: PcaBaseline, frame: np.ndarray, repeats: int = 2000) -> tuple[float, float]:
    """Batch-1 project-and-back time of the PCA baseline in numpy, microseconds (p50, p99)."""
    x = frame[None, :].astype(np.float32)
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        np.exp(pca.reconstruct(x))
        times[i] = time.perf_counter() - start
    p50, p99 = np.percentile(times * 1e6, [50, 99])
    return float(p50), float(p99)


def measure(name: str, model: str, latent_dim: int, magnitudes: np.ndarray, target: np.ndarray,
            n_samples: int, config, method: str, timing: tuple[float, float] | None) -> dict:
    """One row: phase recovery of ``magnitudes``, scored against ``target``."""
    recovered = reconstruct(magnitudes, method, config.stft, config.phase)
    return {"signal": name, "model": model, "latent_dim": latent_dim,
            "lsd_db": round(log_spectral_distance_db(recovered, target, config.stft, LSD_FLOOR_DB,
                                                     length=n_samples), 3),
            "sc_db": round(spectral_convergence_db(recovered, target, config.stft,
                                                   length=n_samples), 3),
            "lsd_magnitudes_db": round(log_spectral_distance_db(magnitudes, target, config.stft,
                                                                LSD_FLOOR_DB), 3),
            "encode_decode_us_p50": None if timing is None else round(timing[0], 1),
            "encode_decode_us_p99": None if timing is None else round(timing[1], 1),
            "phase": method}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="write the rows here")
    parser.add_argument("--model", default=str(ROOT / "models" / "checkpoints" / "default.pt"))
    parser.add_argument("--train-data", default=str(ROOT / "build" / "corpus" / "train"),
                        help="the model's training folder (PCA is fitted on the same frames)")
    parser.add_argument("--test-data", default=str(ROOT / "build" / "corpus" / "heldout"),
                        help="held-out sounds")
    parser.add_argument("--phase", help="phase recovery method (default: phase.method)")
    parser.add_argument("--max-files", type=int, default=0, help="only the first N held-out files")
    parser.add_argument("--config", help="configuration file (default: the project's config.toml)")
    parser.add_argument("--cache-dir", help="frame cache of the training data (default: the "
                                            "training command's, ~/.cache/caminos/frames)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = load_config(args.config)
    method = args.phase or config.phase.method
    checkpoint = load_checkpoint(args.model, config.stft, config.audio.sample_rate)
    model, name = checkpoint.model, checkpoint.name
    d = model.shape.latent_dim
    seed = int(checkpoint.provenance.get("seed", 0))
    corpus = load_corpus(args.train_data, config, seed=seed, min_seconds=0.0,
                         cache_dir=args.cache_dir or "default")
    pick = np.random.default_rng(seed).choice(len(corpus.train), min(20000, len(corpus.train)),
                                              replace=False)
    pca = PcaBaseline(corpus.train.frames[np.sort(pick)], d)
    fused = FusedCodec.from_model(model)
    model_timing = measure_latency_us(model, repeats=5000, warmup=500)
    pca_timing = pca_latency_us(pca, corpus.train.frames[0])
    files = find_sound_files(args.test_data)
    if args.max_files:
        files = files[:args.max_files]
    if not files:
        sys.exit(f"{args.test_data}: no held-out sound files (run python -m models.corpus.build)")
    rows = []
    for path in files:
        x = read_mono(path, config.audio.sample_rate)
        target = np.abs(analyze(x, config.stft))
        log_mags = log_magnitude(target).astype(np.float32)
        with torch.inference_mode():
            inputs = torch.as_tensor(stack_context(log_mags, model.shape.context))
            decoded = fused.decode(fused.encode(inputs)).numpy().astype(np.float64)
        projected = np.maximum(np.exp(pca.reconstruct(log_mags).astype(np.float64))
                               - MAGNITUDE_FLOOR, 0.0)
        signal = path.stem
        rows.append(measure(signal, name, d, decoded, target, len(x), config, method, model_timing))
        rows.append(measure(signal, "pca", d, projected, target, len(x), config, method, pca_timing))
        rows.append(measure(signal, "oracle", 0, target, target, len(x), config, method, None))
        print(" | ".join(f"{r['model']:>8s} {r['lsd_db']:6.2f} dB" for r in rows[-3:]),
              signal, flush=True)
    for model_name in (name, "pca", "oracle"):
        mine = [r for r in rows if r["model"] == model_name]
        print(f"{model_name:>8s}: LSD {np.mean([r['lsd_db'] for r in mine]):.2f} dB, "
              f"SC {np.mean([r['sc_db'] for r in mine]):.2f} dB, magnitudes-only LSD "
              f"{np.mean([r['lsd_magnitudes_db'] for r in mine]):.2f} dB over {len(mine)} files")
    print(f"encode+decode batch 1, one thread: p50 {model_timing[0]:.0f} us, p99 "
          f"{model_timing[1]:.0f} us ({name}); PCA p50 {pca_timing[0]:.0f} us")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
        print(f"wrote {len(rows)} rows to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
