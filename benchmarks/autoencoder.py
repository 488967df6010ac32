"""Autoencoder benchmark: held-out sounds through each model, beside PCA and the oracle.

Each held-out file (never trained on: whole instruments, every fourth pitch of the others, other
recordings, seeds and sentences) is analysed, and its magnitudes are replaced by:

- each ``--model``'s encode and decode (case 1, "through the model": what ``caminos
  reconstruct`` and the engine with a source playing do), the file's frames read in order as
  one stream of the many-pitch analysis, as the engine reads them (``--frames-alone`` adds
  ``MODEL/alone``: each frame's analysis read alone, as before);
- ``MODEL+texture``: the same decode with its fine structure replaced by the file's
  (:mod:`caminos.engine.dsp.texture`, ``--texture``, default ``model.texture``), which is what
  ``caminos reconstruct`` and the engine play by default (case 1 with the source's fine
  structure; case 2 has no source, so no texture);
- ``MODEL/replay`` (case 2, "from the latent alone"): the file's landmark (its hop-rate latent
  trajectory) decoded as the engine plays it with ``/path/landmark``, ``/latent/follow 0`` and
  every source muted: frame for frame, the path player carrying the motion along a landmark's
  one-hop segments exactly (:func:`replay`; tested against the engine in
  ``tests/test_navigation.py``). Before that change the path position went through the
  one-pole smoother, which blurred attacks (``--smoothed-replay`` measures it that way);
- ``pca``: projection on as many principal components as the first model has latent
  dimensions, fitted on that model's training frames in this run;
- ``oracle``: the true magnitudes, the ceiling of all.

With ``--chords N``, N chords of three held-out instrument notes, mixed, are measured the same
way (class ``chord``): the corpus has single notes only, and a frame model with one pitch channel
meets polyphony there.

All go through the same phase recovery and overlap-add and are analysed again; LSD, SC
(``caminos.engine.dsp.metrics``) and partial survival
(:func:`caminos.engine.dsp.metrics.partial_survival`) compare them with the original. One JSON row
per file x model, then tables by model and by class. It also measures batch-1 encode+decode time on
one thread (the engine's hop path and the torch codec), and how peaked the spectra halfway between
two sounds' landmarks are (``midpoint_crest_ratio``: mean spectral crest of the midpoints over the
endpoints'; 1 keeps partials, near 0 decodes noise).

    python -m caminos.models.corpus.build --out build/corpus
    python benchmarks/autoencoder.py --json autoencoder.json [--model A.pt --model B.pt ...]
    python benchmarks/autoencoder.py --listen listen/      # WAVs and spectrogram PNGs
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread, so the per-frame timings mean one core

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from caminos.engine.clock.codec import FrameCodec
from caminos.engine.core.config import load_config
from caminos.engine.core.parameters import smoothing_coefficient
from caminos.engine.dsp.metrics import (
    held_partial_jitter_db,
    log_spectral_distance_db,
    partial_counts,
    spectral_convergence_db,
)
from caminos.engine.dsp.phase import reconstruct
from caminos.engine.dsp.spectral import istft, stft as analyze
from caminos.engine.dsp.texture import add_texture
from caminos.models.autoencoder import FusedCodec, log_magnitude, measure_latency_us, stack_context
from caminos.models.checkpoint import load_checkpoint
from caminos.models.shape import MAGNITUDE_FLOOR, HopModel
from caminos.models.data import find_sound_files, load_corpus, read_mono
from caminos.models.train import PcaBaseline

LSD_FLOOR_DB = -80.0  # caminos.engine.dsp.metrics' floor, relative to each signal's loudest bin


LISTEN_FIRST = ("chord", "bell", "glockenspiel", "tubular-bells", "vibraphone")


def sound_class(path: Path) -> str:
    """The class a held-out file belongs to, from its corpus name.

    ``gm-violin-067-v100`` is ``violin``; ``sonicpi-ambi_choir`` is ``sonicpi-ambi``;
    ``speech-en-3-0`` is ``speech``; ``harmonic-02`` is ``harmonic``; anything else its stem.
    """
    stem = path.stem
    if stem.startswith("gm-"):
        return re.sub(r"-\d{3}-v\d{3}$", "", stem[3:])
    if stem.startswith("sonicpi-"):
        return "sonicpi-" + stem[8:].split("_")[0]
    return stem.split("-")[0]


def pick_files(files: list[Path], per_class: int) -> list[Path]:
    """At most ``per_class`` files of each class, spread evenly over the class's sorted files."""
    if per_class <= 0:
        return files
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        groups[sound_class(path)].append(path)
    chosen = []
    for members in groups.values():
        index = np.unique(np.linspace(0, len(members) - 1, min(per_class, len(members))).round())
        chosen += [members[int(i)] for i in index]
    return sorted(chosen)


def chord_mixes(files: list[Path], count: int, seed: int) -> list[tuple[str, list[Path]]]:
    """``count`` chords of three held-out instrument notes (``gm-*`` at velocity 100), drawn with
    ``seed`` from ``files``: each a name (``chord-`` and its notes) and the notes' paths, which
    the benchmark mixes in equal parts, cut to the shortest."""
    notes = sorted(p for p in files if p.stem.startswith("gm-") and p.stem.endswith("-v100"))
    if len(notes) < 3:
        return []
    rng = np.random.default_rng(seed)
    chords = []
    for _ in range(count):
        members = [notes[int(i)] for i in sorted(rng.choice(len(notes), 3, replace=False))]
        chords.append(("chord-" + "+".join(m.stem[3:-5] for m in members), members))
    return chords


def read_mix(paths: list[Path], rate: int) -> np.ndarray:
    """The sound files at ``rate``, mixed in equal parts and cut to the shortest."""
    sounds = [read_mono(p, rate) for p in paths]
    n = min(len(x) for x in sounds)
    return sum(x[:n] for x in sounds) / len(sounds)


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


def hop_path_latency_us(
    model: HopModel, frame: np.ndarray, repeats: int = 5000, warmup: int = 500, batch: int = 1
) -> tuple[float, float]:
    """Encode+decode of ``batch`` rows (sources in, voices out: a field of ``batch`` speakers
    fed by as many source channels, the most a hop does) through the engine's hop path
    (:class:`caminos.engine.clock.codec.FrameCodec`), one thread, in microseconds (p50, p99)."""
    hop_codec = FrameCodec(model, batch=batch, decode_batch=batch)
    frames = model.shape.context + 1  # a model with context reads that many frames a hop
    x = np.ascontiguousarray(np.tile(frame, (batch, frames)), dtype=np.float32)
    z = np.zeros((batch, hop_codec.latent_dim), np.float32)
    out = np.zeros((batch, hop_codec.n_bins))
    times = np.empty(repeats)
    for i in range(warmup + repeats):
        start = time.perf_counter()
        hop_codec.encode(x, z)
        hop_codec.decode_batch(z, out)
        if i >= warmup:
            times[i - warmup] = time.perf_counter() - start
    p50, p99 = np.percentile(times * 1e6, [50, 99])
    return float(p50), float(p99)


def _time_hop_paths(names, hop_models, frame: np.ndarray, rounds: int) -> int:
    """``--timing-only``: each model's hop path at batch 1 and 8, rounds interleaved so each
    round sees the same machine; returns the exit status."""
    for round_ in range(rounds):
        for name, model in zip(names, hop_models):
            for batch in (1, 8):
                p50, p99 = hop_path_latency_us(
                    model, frame, batch=batch, repeats=5000 if batch == 1 else 2000
                )
                print(
                    f"round {round_ + 1}: {name}: encode+decode batch {batch}, one "
                    f"thread: hop path p50 {p50:.0f} us, p99 {p99:.0f} us",
                    flush=True,
                )
    return 0


def _loudest_frame(path: str, config) -> np.ndarray:
    """The loudest log-magnitude frame of a sound file's first channel (float32)."""
    from caminos.engine.dsp.audio_io import read_audio

    audio, _ = read_audio(path, config.audio.sample_rate)
    mags = np.abs(analyze(np.ascontiguousarray(audio[:, 0]), config.stft))
    frames = log_magnitude(mags).astype(np.float32)
    return frames[int(np.argmax(frames.max(axis=1)))]


def replay(z: np.ndarray, coefficient: float | None = None) -> np.ndarray:
    """A landmark trajectory as the path player plays it from silence.

    Without ``coefficient``: frame for frame (the player starts on the first point and carries
    the motion along one-hop segments exactly, as the engine does now). With it: through a
    one-pole smoother per hop, starting on the first point (the engine before that change).
    """
    out = np.array(z, dtype=np.float64)
    if coefficient is None:
        return out
    for k in range(1, len(out)):
        out[k] = out[k - 1] + coefficient * (z[k] - out[k - 1])
    return out


def spectral_crest(mags: np.ndarray) -> np.ndarray:
    """Peak over mean magnitude of each frame (1 for a flat spectrum, large for a few partials)."""
    return mags.max(axis=-1) / np.maximum(mags.mean(axis=-1), 1e-12)


def midpoint_crest_ratio(codec: FusedCodec, landmarks: list[np.ndarray]) -> float | None:
    """Mean crest of decoded midpoints between consecutive landmarks over their endpoints' mean.

    Each landmark is the mean latent of a file's loud frames; None for fewer than two.
    """
    if len(landmarks) < 2:
        return None
    points = np.stack(landmarks).astype(np.float32)
    mids = 0.5 * (points[:-1] + points[1:])
    with torch.inference_mode():
        ends = codec.decode(torch.as_tensor(points)).numpy().astype(np.float64)
        halfway = codec.decode(torch.as_tensor(mids)).numpy().astype(np.float64)
    return float(spectral_crest(halfway).mean() / spectral_crest(ends).mean())


def measure(
    signal: str,
    cls: str,
    model: str,
    magnitudes: np.ndarray,
    target: np.ndarray,
    n_samples: int,
    config,
    method: str,
) -> tuple[dict, np.ndarray]:
    """One row: phase recovery of ``magnitudes``, scored against ``target``; and the sound."""
    jitter, held = held_partial_jitter_db(magnitudes, target)
    jitter = round(jitter, 3) if held else None
    recovered = reconstruct(magnitudes, method, config.stft, config.phase)
    sound = istft(recovered, config.stft, length=n_samples)
    heard = np.abs(analyze(sound, config.stft))[: len(target)]
    survived, partials = partial_counts(heard, target)
    row = {
        "signal": signal,
        "class": cls,
        "model": model,
        "lsd_db": round(log_spectral_distance_db(heard, target, config.stft, LSD_FLOOR_DB), 3),
        "sc_db": round(spectral_convergence_db(heard, target, config.stft), 3),
        "partials": partials,
        "partials_kept": survived,
        "partial_survival": round(survived / partials, 4) if partials else None,
        "lsd_magnitudes_db": round(
            log_spectral_distance_db(magnitudes, target, config.stft, LSD_FLOOR_DB), 3
        ),
        # frame-to-frame flicker of held partials in the decoded magnitudes (before phase)
        "held_jitter_db": jitter,
        "held_partials": held,
        "phase": method,
    }
    return row, sound


def summarise(rows: list[dict], names: list[str]) -> None:
    """Print the table by model and the table by class (survival / LSD)."""
    print("\nmodel | LSD (dB) | SC (dB) | partial survival | files")
    for name in names:
        mine = [r for r in rows if r["model"] == name]
        kept, total = sum(r["partials_kept"] for r in mine), sum(r["partials"] for r in mine)
        print(
            f"{name} | {np.mean([r['lsd_db'] for r in mine]):.2f} | "
            f"{np.mean([r['sc_db'] for r in mine]):.2f} | {kept / max(total, 1):.3f} | "
            f"{len(mine)}"
        )
    classes = sorted({r["class"] for r in rows})
    print("\nclass | " + " | ".join(f"{n} survival / LSD" for n in names))
    for cls in classes:
        cells = []
        for name in names:
            mine = [r for r in rows if r["model"] == name and r["class"] == cls]
            kept, total = sum(r["partials_kept"] for r in mine), sum(r["partials"] for r in mine)
            cells.append(f"{kept / max(total, 1):.2f} / {np.mean([r['lsd_db'] for r in mine]):.2f}")
        print(f"{cls} | " + " | ".join(cells))


def spectrogram_png(
    path: Path, title: str, panels: list[tuple[str, np.ndarray]], rate: int, hop: int
) -> None:
    """Stacked dB spectrograms (one panel per version of the sound), 0-6 kHz, 80 dB range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.0 * len(panels)), dpi=80, sharex=True)
    top = max(float(np.max(m)) for _, m in panels) + 1e-12
    n_fft = 2 * (panels[0][1].shape[1] - 1)
    shown = int(6000 * n_fft / rate) + 1  # bins up to 6 kHz, where partials are told apart
    for ax, (label, mags) in zip(axes, panels):
        db = 20 * np.log10(np.maximum(mags[:, :shown], 1e-12) / top)
        extent = (0, len(mags) * hop / rate, 0, shown * rate / n_fft / 1000)
        ax.imshow(
            db.T, origin="lower", aspect="auto", vmin=-80, vmax=0, cmap="magma", extent=extent
        )
        ax.set_ylabel("kHz")
        ax.set_title(label, fontsize=9, loc="left")
    axes[-1].set_xlabel("seconds")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="write the rows here")
    parser.add_argument(
        "--model",
        action="append",
        metavar="CHECKPOINT",
        help="a checkpoint to measure (repeat for several; default: the shipped default.pt)",
    )
    parser.add_argument(
        "--train-data",
        default=str(ROOT / "build" / "corpus" / "train"),
        help="the first model's training folder (PCA is fitted on its frames)",
    )
    parser.add_argument(
        "--test-data", default=str(ROOT / "build" / "corpus" / "heldout"), help="held-out sounds"
    )
    parser.add_argument(
        "--per-class",
        type=int,
        default=4,
        help="held-out files per class, spread over the class (0: all)",
    )
    parser.add_argument("--phase", help="phase recovery method (default: phase.method)")
    parser.add_argument(
        "--texture",
        type=float,
        metavar="AMOUNT",
        help="also measure each model with this much of the file's own texture "
        "(default: model.texture; 0: no texture rows)",
    )
    parser.add_argument(
        "--smoothed-replay",
        action="store_true",
        help="replay landmarks through the path position's one-pole smoother, as "
        "the engine did before it carried a landmark's motion exactly",
    )
    parser.add_argument(
        "--frames-alone",
        action="store_true",
        help="also each model with every frame's many-pitch analysis read alone (rows "
        "MODEL/alone), as before the engine read a sound as a stream",
    )
    parser.add_argument(
        "--chords",
        type=int,
        default=0,
        metavar="N",
        help="also N chords, each three held-out instrument notes mixed (class "
        '"chord"; drawn with the first model\'s seed)',
    )
    parser.add_argument(
        "--listen",
        metavar="DIR",
        help="write input, reconstruction and oracle WAVs and a spectrogram PNG "
        "for a few held-out files (one per class, at most 6: a chord and "
        "the bells first) into DIR",
    )
    parser.add_argument(
        "--timing-only",
        action="store_true",
        help="only the batch-1 timings of each model, several rounds interleaved "
        "(for a quiet machine), then stop",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --timing-only")
    parser.add_argument(
        "--frames-from",
        metavar="AUDIO",
        help="with --timing-only: time the loudest frame of this sound file's first channel "
        "(default: the training corpus's loudest frame; no corpus needed then)",
    )
    parser.add_argument("--config", help="configuration file (default: the project's config.toml)")
    parser.add_argument(
        "--cache-dir",
        help="frame cache of the training data (default: the "
        "training command's, ~/.cache/caminos/frames)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = load_config(args.config)
    method = args.phase or config.phase.method
    texture = config.model.texture if args.texture is None else args.texture
    paths = args.model or [str(ROOT / "models" / "checkpoints" / "default.pt")]
    checkpoints = [load_checkpoint(p, config.stft, config.audio.sample_rate) for p in paths]
    names = [Path(p).stem for p in paths]
    if len(set(names)) != len(names):
        sys.exit("two checkpoints share a file name; give them distinct names")
    d = checkpoints[0].model.shape.latent_dim
    seed = int(checkpoints[0].provenance.get("seed", 0))
    if args.timing_only and args.frames_from:
        return _time_hop_paths(
            names,
            [c.hop_model() for c in checkpoints],
            _loudest_frame(args.frames_from, config),
            args.rounds,
        )
    corpus = load_corpus(
        args.train_data, config, seed=seed, min_seconds=0.0, cache_dir=args.cache_dir or "default"
    )
    fused = [FusedCodec.from_model(c.model) for c in checkpoints]
    hop_models = [c.hop_model() for c in checkpoints]
    loud_frame = corpus.train.frames[int(np.argmax(corpus.train.frames.max(axis=1)))]
    if args.timing_only:
        return _time_hop_paths(names, hop_models, loud_frame, args.rounds)
    pick = np.random.default_rng(seed).choice(
        len(corpus.train), min(20000, len(corpus.train)), replace=False
    )
    pca = PcaBaseline(corpus.train.frames[np.sort(pick)], d)
    timings = {
        name: measure_latency_us(c.model, repeats=5000, warmup=500)
        for name, c in zip(names, checkpoints)
    }
    timings["pca"] = pca_latency_us(pca, corpus.train.frames[0])
    hop_path = {
        name: hop_path_latency_us(model, loud_frame) for name, model in zip(names, hop_models)
    }
    files = pick_files(find_sound_files(args.test_data), args.per_class)
    if not files:
        sys.exit(
            f"{args.test_data}: no held-out sound files (run python -m caminos.models.corpus.build)"
        )
    listen = Path(args.listen) if args.listen else None
    heard_classes: set[str] = set()
    if listen is not None:
        listen.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    landmarks: dict[str, list[np.ndarray]] = defaultdict(list)
    rate = config.audio.sample_rate
    smoothing = (
        smoothing_coefficient(config.engine.smoothing_ms, config.stft.hop, rate)
        if args.smoothed_replay
        else None
    )
    items = [(path.stem, sound_class(path), [path]) for path in files]
    items += [
        (name, "chord", members)
        for name, members in chord_mixes(find_sound_files(args.test_data), args.chords, seed)
    ]
    # --listen: a chord and the bells first (what the many-pitch model is for), then other
    # classes in file order, six in all.
    classes = list(dict.fromkeys(cls for _, cls, _ in items))
    listened = [c for c in LISTEN_FIRST if c in classes]
    listened += [c for c in classes if c not in listened][: max(0, 6 - len(listened))]
    for signal, cls, members in items:
        x = read_mix(members, rate)
        target = np.abs(analyze(x, config.stft))
        log_mags = log_magnitude(target).astype(np.float32)
        loud = np.sum(target**2, axis=1) >= 1e-3 * np.max(np.sum(target**2, axis=1))
        versions = []
        for name, codec, checkpoint in zip(names, fused, checkpoints):
            with torch.inference_mode():
                inputs = torch.as_tensor(stack_context(log_mags, checkpoint.model.shape.context))
                codec.start_stream()  # the file's frames in order, as the engine reads them
                z = codec.encode(inputs, stream=True)
                decoded = codec.decode(z).numpy().astype(np.float64)
                if args.frames_alone:
                    alone = codec.decode(codec.encode(inputs)).numpy().astype(np.float64)
                if smoothing is None:  # frame for frame: the same latents, the same frames
                    replayed = decoded
                else:
                    path_z = torch.as_tensor(replay(z.numpy(), smoothing), dtype=torch.float32)
                    replayed = codec.decode(path_z).numpy().astype(np.float64)
            landmarks[name].append(z.numpy()[loud].mean(axis=0))
            versions += [(name, decoded)]
            if texture > 0.0:
                versions += [
                    (
                        f"{name}+texture",
                        add_texture(
                            decoded, log_mags, texture, config.stft.n_fft, rate, MAGNITUDE_FLOOR
                        ),
                    )
                ]
            versions += [(f"{name}/replay", replayed)]
            if args.frames_alone:
                versions += [(f"{name}/alone", alone)]
        projected = np.maximum(
            np.exp(pca.reconstruct(log_mags).astype(np.float64)) - MAGNITUDE_FLOOR, 0.0
        )
        versions += [("pca", projected), ("oracle", target)]
        sounds = {}
        measured: dict[int, tuple[dict, np.ndarray]] = {}  # frames already measured, by identity
        for name, mags in versions:
            if id(mags) in measured:  # the same frames: the same row (phase recovery is seeded)
                row, sounds[name] = measured[id(mags)]
                row = dict(row, model=name)
            else:
                row, sounds[name] = measure(signal, cls, name, mags, target, len(x), config, method)
                measured[id(mags)] = row, sounds[name]
            rows.append(row)
        print(
            " | ".join(
                f"{r['model']} {r['partial_survival'] or 0:.2f} {r['lsd_db']:5.2f} dB"
                for r in rows[-len(versions) :]
            ),
            signal,
            flush=True,
        )
        if listen is not None and cls in listened and cls not in heard_classes:
            heard_classes.add(cls)
            from caminos.engine.dsp.audio_io import write_audio_atomic

            panels = [("input", target)]
            write_audio_atomic(listen / f"{signal}-input.wav", x[:, None], rate, "PCM_16")
            for name, sound in sounds.items():
                file = f"{signal}-{name.replace('/', '-')}.wav"
                write_audio_atomic(listen / file, sound[:, None], rate, "PCM_16")
                panels.append(
                    (
                        f"{name} (phase: {method})",
                        np.abs(analyze(sound, config.stft))[: len(target)],
                    )
                )
            spectrogram_png(
                listen / f"{signal}.png",
                f"{signal}: input, models, PCA, oracle",
                panels,
                rate,
                config.stft.hop,
            )
    all_names = [
        n
        for name in names
        for n in (
            name,
            *([f"{name}+texture"] if texture > 0.0 else []),
            f"{name}/replay",
            *([f"{name}/alone"] if args.frames_alone else []),
        )
    ] + ["pca", "oracle"]
    summarise(rows, all_names)
    print()
    summary = []
    for name in all_names:
        mine = [r for r in rows if r["model"] == name]
        kept, total = sum(r["partials_kept"] for r in mine), sum(r["partials"] for r in mine)
        entry = {
            "model": name,
            "files": len(mine),
            "lsd_db": round(float(np.mean([r["lsd_db"] for r in mine])), 3),
            "sc_db": round(float(np.mean([r["sc_db"] for r in mine])), 3),
            "partial_survival": round(kept / total, 4) if total else None,
        }
        held = [r for r in mine if r["held_partials"]]
        weight = sum(r["held_partials"] for r in held)
        entry["held_jitter_db"] = (
            round(
                float(
                    np.sqrt(
                        sum(r["held_partials"] * r["held_jitter_db"] ** 2 for r in held) / weight
                    )
                ),
                3,
            )
            if weight
            else None
        )
        if name in timings:
            entry["encode_decode_us_p50"] = round(timings[name][0], 1)
            entry["encode_decode_us_p99"] = round(timings[name][1], 1)
        if name in hop_path:
            entry["hop_path_us_p50"] = round(hop_path[name][0], 1)
            entry["hop_path_us_p99"] = round(hop_path[name][1], 1)
        if name in landmarks:
            crest = midpoint_crest_ratio(fused[names.index(name)], landmarks[name])
            entry["midpoint_crest_ratio"] = None if crest is None else round(crest, 3)
            entry["latent_dim"] = checkpoints[names.index(name)].model.shape.latent_dim
            print(
                f"{name}: encode+decode batch 1, one thread: hop path p50 "
                f"{hop_path[name][0]:.0f} us, p99 {hop_path[name][1]:.0f} us; torch p50 "
                f"{timings[name][0]:.0f} us, p99 {timings[name][1]:.0f} us; midpoint crest ratio "
                f"{'-' if crest is None else f'{crest:.2f}'}"
            )
        summary.append(entry)
    print(f"pca: project and back p50 {timings['pca'][0]:.0f} us")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
        print(f"wrote {len(summary)} summary rows and {len(rows)} rows to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
