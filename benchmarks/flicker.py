"""How steadily a model holds a sound's partials: frames read alone against a stream.

A sound's magnitude frames go through the model's encode and decode (magnitudes only, no phase
recovery) twice: with each frame's many-pitch analysis read alone (as training reads frames)
and with the sound read as a stream (as the engine and ``caminos reconstruct`` read it: the
pitch tracker's state and the free peaks carried from frame to frame,
:class:`caminos.models.partials.PartialAnalyser`). For each, the held-partial jitter
(:func:`caminos.engine.dsp.metrics.held_partial_jitter_db`: the RMS frame-to-frame level error
of partials the sound holds within 1 dB) and the partial survival of the decoded magnitudes are
printed, and with ``--png`` the levels of the sound's most held partials over time are drawn,
the input's beside both decodes.

    python benchmarks/flicker.py build/corpus/heldout/chord-heldout-001-3n.flac --png flicker.png
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from caminos.engine.core.config import load_config
from caminos.engine.dsp.metrics import held_partial_jitter_db, partial_counts
from caminos.engine.dsp.spectral import stft
from caminos.models.autoencoder import log_magnitude, stack_context
from caminos.models.checkpoint import load_checkpoint
from caminos.models.data import read_mono

PARTIALS_DRAWN = 4  # the sound's most held partials, drawn over time
RANGE_DB = 40.0  # a drawn partial's levels within this of its loudest


def decodes(model, frames: np.ndarray) -> dict[str, np.ndarray]:
    """The decoded magnitudes of ``frames`` (linear, (n, bins)), each frame's analysis read
    alone and the sound read as a stream."""
    inputs = stack_context(log_magnitude(frames).astype(np.float32), model.shape.context)
    return {
        "frames alone": model.decode_numpy(model.encode_numpy(inputs)),
        "stream": model.decode_numpy(model.encode_numpy(inputs, stream=True)),
    }


def held_bins(target: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` bins that are a spectral peak of ``target`` in the most frames."""
    centre = target[:, 1:-1]
    peaks = (centre > target[:, :-2]) & (centre >= target[:, 2:])
    peaks &= centre >= target.max(axis=1, keepdims=True) * 10.0 ** (-40.0 / 20.0)
    return np.argsort(peaks.sum(axis=0))[::-1][:count] + 1


def draw(
    path: Path, title: str, target: np.ndarray, versions: dict, hop_s: float, hz_per_bin: float
) -> None:
    """The levels (dB under each partial's loudest) of ``target``'s most held partials over
    time, the input's and each decoded version's, into a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = held_bins(target, PARTIALS_DRAWN)
    fig, axes = plt.subplots(len(bins), 1, figsize=(8, 1.7 * len(bins)), dpi=80, sharex=True)
    t = np.arange(len(target)) * hop_s
    energy = np.sum(target**2, axis=1)
    sounding = np.flatnonzero(energy >= energy.max() * 10.0 ** (-RANGE_DB / 10.0))
    span = (t[sounding[0]] - 0.05, t[sounding[-1]] + 0.05)  # the sounding part, framed
    for ax, k in zip(np.atleast_1d(axes), bins):
        top = 20.0 * np.log10(target[:, k].max() + 1e-12)
        for (name, mags), colour in zip(
            [("input", target), *versions.items()], ("black", "tab:red", "tab:blue")
        ):
            level = 20.0 * np.log10(mags[:, k] + 1e-12) - top
            ax.plot(t, np.maximum(level, -RANGE_DB), color=colour, lw=1.0, label=name)
        ax.set_ylim(-RANGE_DB, 6.0)
        ax.set_xlim(*span)
        ax.set_ylabel(f"{k * hz_per_bin:.0f} Hz\ndB")
    axes[0].set_title(title, fontsize=10)
    axes[0].legend(loc="lower left", fontsize=8, ncol=3)
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sounds", nargs="+", metavar="SOUND")
    parser.add_argument("--model", default=str(ROOT / "models" / "checkpoints" / "default.pt"))
    parser.add_argument("--png", help="draw the first sound's most held partials here")
    args = parser.parse_args(argv)
    config = load_config(None)
    model = load_checkpoint(args.model, config.stft, config.audio.sample_rate).model
    print("python benchmarks/flicker.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(f"{'sound':<32}{'reading':<14}{'jitter':>8}{'survival':>10}")
    for i, sound in enumerate(args.sounds):
        target = np.abs(stft(read_mono(sound, config.audio.sample_rate), config.stft))
        versions = decodes(model, target)
        for name, mags in versions.items():
            jitter, _ = held_partial_jitter_db(mags, target)
            kept, partials = partial_counts(mags, target)
            print(f"{Path(sound).name:<32}{name:<14}{jitter:>6.2f} dB{kept / partials:>10.3f}")
        if args.png and i == 0:
            title = f"{Path(sound).stem}: levels of its most held partials"
            rate = config.audio.sample_rate
            hop_s, bin_hz = config.stft.hop / rate, rate / config.stft.n_fft
            draw(Path(args.png), title, target, versions, hop_s, bin_hz)
    return 0


if __name__ == "__main__":
    sys.exit(main())
