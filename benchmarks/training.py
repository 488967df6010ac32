"""A training step of the shipped default model, and its parts beside the ways they ran before.

The frames are the tuning folder of ``benchmarks/own_sounds.py`` (eight instruments of the
training soundfont that no shipped model was trained or measured on), rendered here when absent,
in batches of 256 drawn at random, as ``caminos train autoencoder`` draws them (without its
augmentations). Measured in one run, on the same batches:

- a whole training step (forward, loss, backward, Adam), as training runs it now;
- the combs and free peaks drawn under the decoder from the batch's analysed channels, by the
  compiled kernels (:func:`caminos.models.autoencoder.combs_and_peaks`, what a CPU step runs)
  beside the same in torch operations (:func:`~caminos.models.autoencoder.combs_and_peaks_torch`,
  what a step ran before and a GPU step runs);
- Adam's step fused beside its one-tensor-at-a-time loop (the default before).

Run: ``python benchmarks/training.py`` (ten seconds once the folder is rendered; ``--threads``
as ``caminos train``'s). The whole step before is estimated: the step now, less the kernels and
the fused Adam, plus the torch operations and Adam's loop (the torch operations drew constants,
so they had no backward pass to add).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.own_sounds import make_set
from caminos.engine.core.config import load_config
from caminos.models.autoencoder import (
    channels_to_draw,
    combs_and_peaks,
    combs_and_peaks_torch,
    stack_context,
)
from caminos.models.checkpoint import load_checkpoint
from caminos.models.data import file_frames
from caminos.models.train import TrainSettings, train_step

BATCH = 256


def median_ms(work, batches: list, rounds: int) -> float:
    """Median wall time of ``work(batch)`` over ``rounds`` passes of the batches, in ms."""
    for batch in batches[:2]:
        work(batch)  # compiled, warm
    times = []
    for _ in range(rounds):
        for batch in batches:
            start = time.perf_counter()
            work(batch)
            times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def draw_inputs(model, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The batch's many-pitch channels as the decoder draws them (float64)."""
    values = torch.as_tensor(model.partial_values(batch), dtype=torch.float64)
    return channels_to_draw(values, model.level(batch).double(), model.shape)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=str(ROOT / "build" / "own_sounds"))
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = load_config()
    folder = Path(args.work) / "tuning"
    if not folder.is_dir():
        make_set("tuning", Path(args.work))
    frames = [file_frames(path, config, None)[0] for path in sorted(folder.glob("*.flac"))]
    model = load_checkpoint(
        config.model.checkpoint_path(), config.stft, config.audio.sample_rate
    ).model
    model.train()
    starts = np.cumsum([0] + [len(f) for f in frames[:-1]])
    inputs = torch.as_tensor(
        stack_context(np.concatenate(frames), model.shape.context, starts), dtype=torch.float32
    )
    rng = np.random.default_rng(0)
    batches = [inputs[rng.choice(len(inputs), BATCH)] for _ in range(args.batches)]
    n_bins, bin_hz = model.shape.n_bins, model.shape.bin_hz
    drawn = [draw_inputs(model, batch) for batch in batches]
    kernels = median_ms(lambda c: combs_and_peaks(*c, n_bins, bin_hz), drawn, args.rounds)
    operations = median_ms(lambda c: combs_and_peaks_torch(*c, n_bins, bin_hz), drawn, args.rounds)

    settings = TrainSettings()
    adam_ms = {}
    for name, options in (("loop", {"foreach": False}), ("fused", {"fused": True})):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-6, **options)
        train_step(model, model, optimizer, batches[0], settings.beta, settings)  # gradients
        adam_ms[name] = median_ms(lambda _: optimizer.step(), batches, args.rounds)
    step = median_ms(
        lambda b: train_step(model, model, optimizer, b, settings.beta, settings),
        batches,
        args.rounds,
    )
    print(
        f"{len(frames)} files, {len(inputs)} frames, batches of {BATCH}, "
        f"{torch.get_num_threads()} torch threads"
    )
    print(f"{'part':<34}{'before':>10}{'now':>10}{'ratio':>8}")
    rows = (
        ("combs and peaks drawn (ms)", operations, kernels),
        ("Adam step (ms)", adam_ms["loop"], adam_ms["fused"]),
        (
            "whole step (ms; before: estimated)",
            step - kernels + operations - adam_ms["fused"] + adam_ms["loop"],
            step,
        ),
    )
    for name, before, now in rows:
        print(f"{name:<34}{before:>10.2f}{now:>10.2f}{before / now:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
