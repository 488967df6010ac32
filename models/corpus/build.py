"""Build the default training corpus: recorded instruments, CC0 recordings, synthetic timbres, \
speech.

Run before ``caminos train autoencoder`` to recreate the data behind
``models/checkpoints/default.pt`` (the audio is not committed; this script makes it again,
identically for a given seed and espeak-ng version). Sources and licences: ``SOURCES.md``.

Usage: ``python -m caminos.models.corpus.build [--out build/corpus] [--seed 0]
[--synthetic-only]``;
writes ``train/`` and ``heldout/`` (whole instruments, every fourth pitch of the others, other
seeds and sentences: never trained on, for ``benchmarks/autoencoder.py``), and ``sources.tsv``
naming the package, origin and licence of every recorded file. The recorded part
(:mod:`caminos.models.corpus.recorded`) needs the Debian packages ``fluid-soundfont-gm``,
``fluidsynth``
and ``sonic-pi-samples`` (``scripts/setup.sh --test`` installs them).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from caminos.models.corpus import recorded
from caminos.models.corpus.chords import render_chords

CHORDS = 320  # chords in the shipped models' corpus

SAMPLE_RATE = 48_000  # Hz; the synthetic files are written at the engine's default rate

# Sentences written for this corpus (CC0). Training and held-out sentences differ.
SENTENCES = {
    "en": [
        "The quick brown fox jumps over the lazy dog near the river bank.",
        "Walking slowly through the quiet garden, she heard the distant bells.",
        "Seven windy evenings brought rain, thunder and a strange silver light.",
        "Every path through the forest returns, in the end, to the same old stone.",
    ],
    "es": [
        "El viento del norte mueve las hojas secas del camino.",
        "Caminante, no hay camino, se hace camino al andar.",
        "La luna brilla sobre el mar tranquilo de la noche.",
        "Las campanas de la iglesia suenan cada mañana a las ocho.",
    ],
    "fr": [
        "Le petit chat dort au soleil sur le mur du jardin.",
        "Les vagues de la mer chantent doucement pendant la nuit.",
        "Un chemin de pierre monte lentement vers la vieille maison.",
        "Elle écoute la pluie tomber sur les toits de la ville.",
    ],
    "de": [
        "Der alte Mann geht jeden Morgen mit seinem Hund spazieren.",
        "Im Winter liegt tiefer Schnee auf den Feldern und Wegen.",
        "Die Glocken der Kirche läuten über das stille Tal.",
        "Ein kleiner Vogel singt im grünen Baum vor dem Fenster.",
    ],
    "it": [
        "Il sole tramonta lentamente dietro le colline della Toscana.",
        "La musica del vento attraversa le strade vuote della città.",
        "Un gatto nero cammina piano sul tetto della casa.",
        "Le onde del mare portano sulla spiaggia conchiglie bianche.",
    ],
    "pt": [
        "O rio corre devagar entre as pedras e as árvores antigas.",
        "A menina canta uma canção antiga para as estrelas.",
        "No inverno, a chuva cai sem parar sobre a cidade.",
        "O caminho do mar é longo, mas o barco continua a navegar.",
    ],
}


def envelope(n: int, attack_s: float, release_s: float) -> np.ndarray:
    """Linear attack, sustain, linear release, of ``n`` samples."""
    env = np.ones(n)
    a, r = max(1, int(attack_s * SAMPLE_RATE)), max(1, int(release_s * SAMPLE_RATE))
    env[:a] = np.linspace(0.0, 1.0, a)
    env[-r:] *= np.linspace(1.0, 0.0, r)
    return env


def harmonic_tone(rng: np.random.Generator) -> np.ndarray:
    """A harmonic tone: random f0 (55-880 Hz), spectral slope, odd/even balance, vibrato.

    Half the tones glide over up to an octave and a half, so that the frames cover fundamentals
    continuously rather than at 40-odd fixed pitches (what lets a model place partials of an
    unseen pitch).
    """
    seconds = rng.uniform(1.5, 2.5)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    f0 = 55.0 * 2.0 ** rng.uniform(0.0, 4.0)
    glide = rng.uniform(-1.5, 1.5) if rng.uniform() < 0.5 else 0.0  # octaves over the tone
    vibrato = 1.0 + rng.uniform(0.0, 0.01) * np.sin(2 * np.pi * rng.uniform(4.0, 6.5) * t)
    vibrato = vibrato * 2.0 ** (glide * t / seconds)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / SAMPLE_RATE
    slope, even = rng.uniform(0.6, 2.0), rng.uniform(0.0, 1.0)
    x = np.zeros(n)
    for k in range(1, int(min(40, 16000 / (f0 * max(1.0, 2.0**glide)))) + 1):
        x += (even if k % 2 == 0 else 1.0) * k**-slope * np.sin(k * phase + rng.uniform(0, 6.3))
    x *= envelope(n, rng.uniform(0.01, 0.3), rng.uniform(0.05, 0.5))
    return x


def noise_band(rng: np.random.Generator) -> np.ndarray:
    """Band-pass filtered noise with a centre that may glide, 1.5-2.5 s."""
    n = int(rng.uniform(1.5, 2.5) * SAMPLE_RATE)
    noise = rng.standard_normal(n)
    centre = 100.0 * 2.0 ** rng.uniform(0.0, 7.0)
    width = rng.uniform(0.2, 2.0)  # octaves
    lo, hi = centre * 2 ** (-width / 2), min(centre * 2 ** (width / 2), 0.45 * SAMPLE_RATE)
    sos = signal.butter(4, [lo, hi], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    x = signal.sosfilt(sos, noise)
    if rng.uniform() < 0.5:  # a second band that fades in: the spectrum moves
        centre2 = 100.0 * 2.0 ** rng.uniform(0.0, 7.0)
        sos2 = signal.butter(
            2,
            [centre2 / 1.5, min(centre2 * 1.5, 0.45 * SAMPLE_RATE)],
            btype="bandpass",
            fs=SAMPLE_RATE,
            output="sos",
        )
        x = x + np.linspace(0, 1, n) * signal.sosfilt(sos2, rng.standard_normal(n))
    return x * envelope(n, rng.uniform(0.01, 0.5), rng.uniform(0.05, 0.5))


def pluck(rng: np.random.Generator) -> np.ndarray:
    """A Karplus-Strong plucked string, 1-2 s."""
    n = int(rng.uniform(1.0, 2.0) * SAMPLE_RATE)
    f0 = 65.0 * 2.0 ** rng.uniform(0.0, 4.0)
    period = max(2, int(round(SAMPLE_RATE / f0)))
    decay = rng.uniform(0.990, 0.999)
    brightness = rng.uniform(0.3, 0.5)
    buffer = rng.uniform(-1, 1, period)
    out = np.empty(n)
    for i in range(n):  # short files; a plain loop is fine here
        j = i % period
        out[i] = buffer[j]
        buffer[j] = decay * (brightness * buffer[j] + (1 - brightness) * buffer[(j + 1) % period])
    return out * envelope(n, 0.001, 0.05)


def bell(rng: np.random.Generator) -> np.ndarray:
    """An inharmonic bell after Risset's partial ratios, with per-partial decays, 2-3 s."""
    n = int(rng.uniform(2.0, 3.0) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    base = 110.0 * 2.0 ** rng.uniform(0.0, 3.0)
    ratios = np.array([0.56, 0.92, 1.19, 1.71, 2.0, 2.74, 3.0, 3.76, 4.07])
    ratios = ratios * (1 + rng.uniform(-0.02, 0.02, len(ratios)))
    x = np.zeros(n)
    for k, ratio in enumerate(ratios):
        if base * ratio > 0.45 * SAMPLE_RATE:
            continue
        tau = rng.uniform(0.2, 2.0) / (1 + 0.3 * k)
        x += rng.uniform(0.2, 1.0) * np.exp(-t / tau) * np.sin(2 * np.pi * base * ratio * t)
    return x * envelope(n, 0.002, 0.05)


SYNTHS = {"harmonic": harmonic_tone, "noise": noise_band, "pluck": pluck, "bell": bell}


def normalise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Peak between -24 and -3 dBFS, so loudness varies across the corpus."""
    return x / (np.max(np.abs(x)) + 1e-12) * 10 ** (rng.uniform(-24.0, -3.0) / 20.0)


def speak(text: str, voice: str, pitch: int, speed: int, path: Path) -> None:
    """Render ``text`` with espeak-ng into a WAV file (22.05 kHz mono, espeak's own rate)."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(path), text],
        check=True,
        capture_output=True,
    )


def build(
    out: Path,
    seed: int,
    counts: dict[str, int],
    heldout_counts: dict[str, int],
    with_recorded: bool = True,
    programs: dict[int, str] | None = None,
    heldout_programs: dict[int, str] | None = None,
    chords: int = 0,
) -> None:
    """Write ``out/train``, ``out/heldout`` and ``out/sources.tsv``.

    ``programs`` and ``heldout_programs`` default to :data:`recorded.TRAIN_PROGRAMS` and
    :data:`recorded.HELDOUT_PROGRAMS` (a test builds a smaller corpus with fewer). ``chords``
    adds that many chords of the training instruments to ``train`` and an eighth as many of the
    held-out instruments to ``heldout`` (:mod:`caminos.models.corpus.chords`), with the recorded
    instruments only; the shipped many-pitch models were trained with 320 (the command's
    default), the one-comb models before them without.
    """
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not installed: apt-get install espeak-ng")
    if with_recorded and recorded.available():
        sys.exit(
            "the recorded part of the corpus needs "
            + ", ".join(recorded.available())
            + " (or pass --synthetic-only)"
        )
    for split, split_counts, split_seed, sentences in (
        ("train", counts, seed, slice(0, 3)),
        ("heldout", heldout_counts, seed + 1000, slice(3, 4)),
    ):
        folder = out / split
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        rng = np.random.default_rng(split_seed)
        for kind, count in split_counts.items():
            for i in range(count):
                x = normalise(SYNTHS[kind](rng), rng)
                sf.write(folder / f"{kind}-{i:02d}.flac", x, SAMPLE_RATE, subtype="PCM_16")
        for language, texts in SENTENCES.items():
            for j, text in enumerate(texts[sentences]):
                for take, variant in enumerate(("", "+f3")):  # a lower and a higher voice
                    pitch, speed = int(rng.integers(20, 80)), int(rng.integers(130, 190))
                    speak(
                        text,
                        language + variant,
                        pitch,
                        speed,
                        folder / f"speech-{language}-{j}-{take}.wav",
                    )
    records: list[recorded.SourceRecord] = []
    if with_recorded:
        rng = np.random.default_rng(seed + 2000)
        train, heldout = out / "train", out / "heldout"
        for program, name in (recorded.TRAIN_PROGRAMS if programs is None else programs).items():
            records += recorded.render_instrument(program, name, train, heldout, rng)
        for program, name in (
            recorded.HELDOUT_PROGRAMS if heldout_programs is None else heldout_programs
        ).items():
            records += recorded.render_instrument(program, name, None, heldout, rng)
        records += recorded.copy_sonic_pi(train, heldout, rng)
        if chords:
            chord_rng = np.random.default_rng(seed + 3000)
            records += render_chords(
                train, chords, recorded.TRAIN_PROGRAMS if programs is None else programs, chord_rng
            )
            records += render_chords(
                heldout,
                max(1, chords // 8),
                recorded.HELDOUT_PROGRAMS if heldout_programs is None else heldout_programs,
                chord_rng,
                prefix="chord-heldout",
            )
    with open(out / "sources.tsv", "w") as table:
        table.write("file\tpackage\torigin\tlicence\n")
        for r in records:
            table.write(f"{r.file}\t{r.package}\t{r.origin}\t{r.licence}\n")
    for split in ("train", "heldout"):
        folder = out / split
        total = sum(sf.info(p).duration for p in folder.iterdir())
        print(f"{folder}: {len(list(folder.iterdir()))} files, {total:.1f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default="build/corpus", help="output folder (default build/corpus)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--synthetic-only",
        action="store_true",
        help="leave out the recorded instruments and samples (no Debian packages)",
    )
    parser.add_argument(
        "--chords",
        type=int,
        default=CHORDS,
        metavar="N",
        help="also N chords of 2 to 4 notes of the training instruments (and N/8 "
        f"of the held-out ones); default {CHORDS}, as the shipped models "
        "were built; 0 for none, as the one-comb models before them",
    )
    args = parser.parse_args(argv)
    build(
        Path(args.out),
        args.seed,
        {"harmonic": 80, "noise": 30, "pluck": 40, "bell": 24},
        {"harmonic": 4, "noise": 3, "pluck": 3, "bell": 3},
        with_recorded=not args.synthetic_only,
        chords=args.chords,
    )


if __name__ == "__main__":
    main()
