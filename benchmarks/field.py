"""Field benchmark: how the voices of a multichannel field differ, measured on their outputs.

Three measures, each beside its reference in the same run:

- **coherence**: the mean magnitude-squared coherence (100 Hz - 8 kHz, Welch, 2048-sample
  segments) of adjacent channels of a ring of voices at spread 0, the demo mixed to mono
  playing. Reference: the same field without decorrelation (dual mono, 1.0). Goal: <= 0.5 with
  ``/field/decorrelate 1``.
- **spread**: as ``/field/spread`` grows, how far apart the voices' spectral centroids sit (the
  standard deviation across voices of each voice's mean centroid, in Hz), and the mean distance
  between the voices' latents (std). Goal: both grow monotonically with the spread.
- **stereo image**: stereo recordings through the stereo layout at spread 0: the level
  difference between the channels in each third-octave band (100 Hz - 12 kHz) of the output
  against the input's. The recordings: every sonic-pi recording (``sonic-pi-samples``, CC0) of 5
  s or more whose channels differ (correlation below 0.95), and the demo. Reference: the same
  recordings through the mono layout (the image folded: every band's difference 0 dB), and
  through the stereo layout with ``/field/image 0`` (each channel through the model alone). Goal:
  within 1 dB in every band. Reported over every band, and over the bands at least two of the
  model's STFT bins wide (47 Hz each at n_fft 1024 and 48 kHz: third-octave bands from 500 Hz
  up), the finest detail a frame-wise model of these frames can hold apart; per recording, the
  worst band.

Pictures (``--pictures DIR``): the voices' spectrograms stacked, and the map with each voice's
place and latent path. Sound (``--listen DIR``): the demo through a stereo pair as dual mono,
decorrelated at spread 0, and at spread 0.5 and 1.5; and through a ring of eight (an 8-channel
WAV) at spread 1 with the room spinning, to hear what the measures say.

    python benchmarks/field.py --voices 8 --seconds 20 --pictures docs/images
    python benchmarks/field.py --measures none --listen listen/
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import coherence, stft as scipy_stft

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from caminos.engine.clock.engine import Engine
from caminos.engine.core.config import load_config

DEMO = ROOT / "patches" / "demo" / "demo.wav"
SONIC_PI = Path("/usr/share/sonic-pi/samples")  # Debian package sonic-pi-samples (CC0)
SAMPLE_RATE = 48000
BAND_LOW_HZ, BAND_HIGH_HZ = 100.0, 8000.0


def field_engine(voices: int, layout: str, **field: float) -> Engine:
    """A field of ``voices`` voices on ``layout`` without the voice model."""
    overrides = {"audio.channels": voices, "field.layout": layout}
    overrides.update({f"field.{key}": value for key, value in field.items()})
    return Engine(load_config(overrides=overrides), voice=False)


def play(engine: Engine, sound: Path, seconds: float, latents: list | None = None) -> np.ndarray:
    """``seconds`` of ``sound`` looping through ``engine``; the output (n, channels). With
    ``latents``, each hop's voice latents are appended to it."""
    engine.post("/source/file/open", str(sound))
    engine.post("/source/file/play", 1)
    hops = int(seconds * SAMPLE_RATE / engine.hop)
    out = np.zeros((hops * engine.hop, engine.channels))
    for i in range(hops):
        out[i * engine.hop : (i + 1) * engine.hop] = engine.tick()
        if latents is not None:
            latents.append(engine.voice_positions.copy())
    return out[SAMPLE_RATE // 2 :]  # past the fade-in


def adjacent_coherence(out: np.ndarray) -> float:
    """Mean MSC of channel c and c + 1 (around the ring) over 100 Hz - 8 kHz."""
    values = []
    n = out.shape[1]
    for c in range(n):
        f, msc = coherence(out[:, c], out[:, (c + 1) % n], fs=SAMPLE_RATE, nperseg=2048)
        band = (f >= BAND_LOW_HZ) & (f <= BAND_HIGH_HZ)
        values.append(float(np.nanmean(msc[band])))
    return float(np.mean(values))


def centroids(out: np.ndarray) -> np.ndarray:
    """Each channel's mean spectral centroid in Hz (frames weighted by their energy)."""
    f, _, spec = scipy_stft(out.T, fs=SAMPLE_RATE, nperseg=1024, noverlap=768)
    power = np.abs(spec) ** 2  # (channels, bins, frames)
    frame_energy = power.sum(axis=1)
    frame_centroid = (f[None, :, None] * power).sum(axis=1) / np.maximum(frame_energy, 1e-20)
    return (frame_centroid * frame_energy).sum(axis=1) / np.maximum(frame_energy.sum(axis=1), 1e-20)


def band_level_differences(stereo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Third-octave bands' centres (Hz) and the left-minus-right level in each (dB)."""
    spectrum = np.abs(np.fft.rfft(stereo * np.hanning(len(stereo))[:, None], axis=0)) ** 2
    freqs = np.fft.rfftfreq(len(stereo), 1 / SAMPLE_RATE)
    centres = 1000.0 * 2.0 ** (np.arange(-10, 11) / 3.0)
    centres = centres[(centres >= 100.0) & (centres <= 12000.0)]
    diffs = []
    for centre in centres:
        band = (freqs >= centre * 2 ** (-1 / 6)) & (freqs < centre * 2 ** (1 / 6))
        left, right = spectrum[band, 0].sum(), spectrum[band, 1].sum()
        diffs.append(10 * np.log10(max(left, 1e-30) / max(right, 1e-30)))
    return centres, np.array(diffs)


def measure_coherence(n: int, mono: Path, seconds: float) -> dict:
    """Adjacent channels' coherence of a ring at spread 0 for decorrelation 0, 0.5 and 1."""
    layout = f"ring-{n}"
    found = {
        f"decorrelate_{amount:g}": adjacent_coherence(
            play(field_engine(n, layout, spread=0.0, decorrelate=amount), mono, seconds)
        )
        for amount in (0.0, 0.5, 1.0)
    }
    print(
        f"adjacent coherence at spread 0 ({n} voices): decorrelate 0 (dual mono) "
        f"{found['decorrelate_0']:.3f}, 0.5 {found['decorrelate_0.5']:.3f}, 1 "
        f"{found['decorrelate_1']:.3f} (goal <= 0.5)"
    )
    return found


def measure_spread(n: int, mono: Path, seconds: float, spreads: list[float]) -> tuple:
    """Centroids and latent distances of a ring's voices for each spread; returns the rows and
    the output and latents at spread 1 (for the pictures)."""
    rows, keep_out, keep_latents = [], None, []
    for spread in spreads:
        latents: list = []
        out = play(field_engine(n, f"ring-{n}", spread=spread), mono, seconds, latents)
        z = np.array(latents[len(latents) // 4 :])  # (hops, voices, dims)
        distance = float(
            np.mean(
                [
                    np.linalg.norm(z[:, a] - z[:, b], axis=1).mean()
                    for a in range(n)
                    for b in range(a + 1, n)
                ]
            )
        )
        c = centroids(out)
        rows.append(
            {
                "spread": spread,
                "centroid_std_hz": float(np.std(c)),
                "centroid_range_hz": float(np.ptp(c)),
                "latent_distance": distance,
            }
        )
        print(
            f"spread {spread:4.2f} std: voices' centroids {np.std(c):7.1f} Hz apart (std; "
            f"range {np.ptp(c):7.1f} Hz), mean latent distance {distance:6.2f}"
        )
        if spread == 1.0:
            keep_out, keep_latents = out, latents
    stds = [r["centroid_std_hz"] for r in rows]
    distances = [r["latent_distance"] for r in rows]
    monotonic = (bool(np.all(np.diff(stds) > 0)), bool(np.all(np.diff(distances) > 0)))
    print(f"monotonic: centroids {monotonic[0]}, latent distances {monotonic[1]}")
    return (
        {"rows": rows, "centroids_monotonic": monotonic[0], "distances_monotonic": monotonic[1]},
        keep_out,
        keep_latents,
    )


def stereo_recordings() -> list[Path]:
    """The demo and every sonic-pi recording of 5 s or more whose channels differ
    (correlation below 0.95): recordings with an image to keep."""
    found = [DEMO]
    for path in sorted(SONIC_PI.glob("*.flac")) if SONIC_PI.is_dir() else []:
        info = sf.info(path)
        if info.channels != 2 or info.duration < 5.0:
            continue
        x, _ = sf.read(path)
        if np.corrcoef(x[:, 0], x[:, 1])[0, 1] < 0.95:
            found.append(path)
    return found


def measure_stereo(folder: Path) -> dict:
    """Each recording's worst third-octave band of L-R level against the input, through the
    stereo layout and (reference) the mono layout, over every band and the resolved ones."""
    bin_hz = SAMPLE_RATE / load_config().stft.n_fft
    rows = []
    for path in stereo_recordings():
        source, rate = sf.read(path)
        if rate != SAMPLE_RATE:  # the engine resamples; compare at its rate
            import soxr

            source = soxr.resample(source, rate, SAMPLE_RATE)
        copy = folder / f"{path.stem}.wav"
        sf.write(copy, source, SAMPLE_RATE, subtype="FLOAT")
        seconds = len(source) / SAMPLE_RATE + 0.5
        centres, wanted = band_level_differences(source)
        wide = centres * (2 ** (1 / 6) - 2 ** (-1 / 6)) >= 2 * bin_hz
        row = {"recording": path.stem, "input_spread_db": float(np.ptp(wanted[wide]))}
        for case, layout, image in (
            ("stereo", "stereo", 1.0),
            ("model_alone", "stereo", 0.0),
            ("mono", "mono", 1.0),
        ):
            out = play(field_engine(2, layout, spread=0.0, image=image), copy, seconds)[
                : len(source)
            ]
            _, got = band_level_differences(out)
            error = np.abs(got - wanted)
            row[f"{case}_worst_db"] = float(error.max())
            row[f"{case}_worst_resolved_db"] = float(error[wide].max())
        rows.append(row)
        print(
            f"| {row['recording']} | {row['input_spread_db']:.1f} dB | "
            f"{row['model_alone_worst_resolved_db']:.2f} | {row['stereo_worst_resolved_db']:.2f} "
            f"({row['stereo_worst_db']:.2f} over every band) | "
            f"{row['mono_worst_resolved_db']:.2f} |"
        )
    keys = [
        f"{case}_worst{part}_db"
        for case in ("stereo", "model_alone", "mono")
        for part in ("_resolved", "")
    ]
    summary = {key: float(np.median([r[key] for r in rows])) for key in keys}
    within = {
        case: sum(r[f"{case}_worst_resolved_db"] <= 1.0 for r in rows)
        for case in ("stereo", "model_alone", "mono")
    }
    print(
        f"median of the worst bands (from {centres[wide][0]:.0f} Hz): stereo layout "
        f"{summary['stereo_worst_resolved_db']:.2f} dB (the model alone per channel "
        f"{summary['model_alone_worst_resolved_db']:.2f}), mono layout "
        f"{summary['mono_worst_resolved_db']:.2f} dB; within 1 dB: {within['stereo']} of "
        f"{len(rows)} ({within['model_alone']} alone, {within['mono']} folded)"
    )
    return {
        "recordings": rows,
        "median": summary,
        "within_1db": within,
        "resolved_from_hz": float(centres[wide][0]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voices", type=int, default=8, help="voices of the ring (default 8)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per run (default 20)")
    parser.add_argument(
        "--spreads",
        default="0,0.25,0.5,1,2,4",
        help="spreads for the centroid measure, std (default 0,0.25,0.5,1,2,4)",
    )
    parser.add_argument(
        "--measures",
        default="coherence,spread,stereo",
        help="which measures (default coherence,spread,stereo)",
    )
    parser.add_argument(
        "--pictures",
        metavar="DIR",
        help="write field-spectrogram.png and field-map.png there (with the spread measure)",
    )
    parser.add_argument("--json", metavar="PATH", help="write the numbers as JSON")
    parser.add_argument("--listen", metavar="DIR", help="write the listening examples there")
    args = parser.parse_args(argv)
    n = args.voices
    measures = set(args.measures.split(","))
    results: dict = {"voices": n, "seconds": args.seconds}
    with tempfile.TemporaryDirectory() as tmp:
        samples, rate = sf.read(DEMO)
        mono = Path(tmp) / "demo-mono.wav"
        sf.write(mono, samples.mean(axis=1), rate, subtype="FLOAT")
        if "coherence" in measures:
            results["coherence"] = measure_coherence(n, mono, args.seconds)
        if "spread" in measures:
            spreads = [float(v) for v in args.spreads.split(",")]
            results["spread"], out, latents = measure_spread(n, mono, args.seconds, spreads)
            if args.pictures and out is not None:
                draw(Path(args.pictures), out, np.array(latents), n)
        if "stereo" in measures:
            results["stereo_image"] = measure_stereo(Path(tmp))
        if args.listen:
            write_examples(Path(args.listen), mono)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def write_examples(folder: Path, mono: Path, seconds: float = 7.0) -> None:
    """The listening examples (see the module's docstring) as WAV files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    examples = {
        "stereo-dual-mono": (2, "stereo", {"spread": 0.0}, 0.0),
        "stereo-decorrelated": (2, "stereo", {"spread": 0.0, "decorrelate": 1.0}, 0.0),
        "stereo-spread-0.5": (2, "stereo", {"spread": 0.5}, 0.0),
        "stereo-spread-1.5": (2, "stereo", {"spread": 1.5, "decorrelate": 0.5}, 0.0),
        "ring-8-spinning": (8, "ring-8", {"spread": 1.0, "decorrelate": 0.5}, 30.0),
    }
    for name, (voices, layout, field, spin) in examples.items():
        engine = field_engine(voices, layout, **field)
        if spin:
            engine.post("/field/spin", spin)
        out = play(engine, mono, seconds + 0.5)
        path = folder / f"{name}.wav"
        sf.write(path, out, SAMPLE_RATE, subtype="PCM_24")
        print(f"wrote {path} ({voices} channels)")


def draw(folder: Path, out: np.ndarray, latents: np.ndarray, n: int) -> None:
    """field-spectrogram.png (each voice's spectrogram, stacked) and field-map.png (the voices'
    latents on axes 0 and 1 over time, their speakers' places at spread 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    seconds = min(len(out) / SAMPLE_RATE, 4.0)
    part = out[: int(seconds * SAMPLE_RATE)]
    fig, axes = plt.subplots(n, 1, figsize=(8, 0.9 * n + 0.6), sharex=True)
    for c, ax in enumerate(axes):
        f, t, spec = scipy_stft(part[:, c], fs=SAMPLE_RATE, nperseg=1024, noverlap=768)
        level = 20 * np.log10(np.abs(spec) + 1e-9)
        ax.pcolormesh(
            t,
            f / 1000,
            level,
            vmin=level.max() - 80,
            vmax=level.max(),
            shading="auto",
            cmap="magma",
        )
        ax.set_ylim(0, 8)
        ax.set_ylabel(f"ch {c + 1}\nkHz", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("seconds")
    fig.suptitle(
        f"{n} voices on ring-{n}, spread 1 std: the demo (mono) through each speaker", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(folder / "field-spectrogram.png", dpi=80)
    plt.close(fig)

    engine = field_engine(n, f"ring-{n}", spread=1.0)
    std = engine.mixer.std
    places = engine.layout.offsets()
    colours = plt.cm.hsv(np.linspace(0, 1, n, endpoint=False))
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    centre = latents.mean(axis=1)
    ax.plot(
        centre[:, 0] / std[0],
        centre[:, 1] / std[1],
        color="0.6",
        lw=0.6,
        label="centre (the sound's own path)",
    )
    for k in range(n):
        ax.plot(
            latents[:, k, 0] / std[0],
            latents[:, k, 1] / std[1],
            color=colours[k],
            lw=0.5,
            alpha=0.7,
        )
        ax.scatter(places[k, 0], places[k, 1], color=colours[k], s=60, edgecolor="k", zorder=3)
        ax.annotate(str(k + 1), places[k], textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, ls="--", color="0.4"))
    ax.set_xlabel("latent axis 0 (std)")
    ax.set_ylabel("latent axis 1 (std)")
    ax.set_aspect("equal")
    ax.set_title(f"ring-{n} at spread 1: speakers' places (dots) and voices' paths", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(folder / "field-map.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
