"""Make ``patches/demo/demo.wav``: speech, a bell and a noisy gesture, 7 s of stereo at 48 kHz.

The demo sound that ``caminos render`` is first tried on (README). Speech comes from espeak-ng
speaking our own two sentences; the bell and the grains are synthesised here. Deterministic for
a given espeak-ng version (1.51 when the committed file was made): run it again to rebuild.

    apt-get install -y espeak-ng
    python3 patches/demo/make_demo.py            # writes patches/demo/demo.wav
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import butter, sosfilt

SAMPLE_RATE = 48000  # Hz
SECONDS = 7.0
SEED = 20240521
SENTENCES = (  # (espeak-ng voice, text, start in seconds, gain)
    ("es", "Cada camino suena distinto cuando lo caminas de noche.", 0.35, 0.55),
    ("en-gb", "Every path sounds different when you walk it at night.", 3.55, 0.55),
)
# Partials of a minor-third church bell relative to its nominal (hum, prime, tierce, quint,
# nominal, and three upper partials), with their decay times in seconds and levels.
BELL_RATIOS = (0.5, 1.0, 1.2, 1.5, 2.0, 2.5, 2.67, 3.0)
BELL_DECAYS = (4.0, 2.6, 2.0, 1.4, 1.2, 0.7, 0.6, 0.4)
BELL_LEVELS = (0.5, 0.8, 0.6, 0.3, 0.9, 0.35, 0.25, 0.2)


def speak(voice: str, text: str) -> np.ndarray:
    """espeak-ng's rendering of ``text``, mono float64 at :data:`SAMPLE_RATE`."""
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", "170", "-p", "45", "-w", str(wav), text], check=True
        )
        speech, rate = sf.read(wav, dtype="float64")
    return soxr.resample(speech, rate, SAMPLE_RATE, quality="VHQ")


def bell(nominal_hz: float, seconds: float) -> np.ndarray:
    """An inharmonic struck bell: exponentially decaying partials with a short strike noise."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    out = np.zeros_like(t)
    for ratio, decay, level in zip(BELL_RATIOS, BELL_DECAYS, BELL_LEVELS):
        # Each partial is a slightly detuned pair, which makes the slow beating of real bells.
        f = nominal_hz * ratio / 2.0
        out += (
            level
            * np.exp(-t / decay)
            * (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(2 * np.pi * (f + 0.7) * t + 1.0))
        )
    attack = np.minimum(t / 0.002, 1.0)  # 2 ms: a strike, not a click
    return out * attack / np.max(np.abs(out))


def grains(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Accelerating band-passed noise grains rising in pitch and moving left to right.

    Returns the left and right channels.
    """
    n = int(seconds * SAMPLE_RATE)
    left, right = np.zeros(n), np.zeros(n)
    onset = 0.0
    while onset < seconds - 0.05:
        progress = onset / seconds
        length = int(rng.uniform(0.006, 0.03) * SAMPLE_RATE)
        envelope = np.exp(-np.arange(length) / (0.25 * length))
        centre_hz = 700.0 * (9.0**progress) * rng.uniform(0.85, 1.15)
        sos = butter(
            2, [centre_hz / 1.25, centre_hz * 1.25], btype="band", fs=SAMPLE_RATE, output="sos"
        )
        grain = sosfilt(sos, rng.standard_normal(length)) * envelope
        grain *= rng.uniform(0.4, 1.0) / np.max(np.abs(grain))
        start = int(onset * SAMPLE_RATE)
        stop = min(start + length, n)
        pan = min(max(progress + rng.normal(0.0, 0.1), 0.0), 1.0)
        left[start:stop] += np.cos(0.5 * np.pi * pan) * grain[: stop - start]
        right[start:stop] += np.sin(0.5 * np.pi * pan) * grain[: stop - start]
        onset += 0.13 * (1.0 - 0.85 * progress) * rng.uniform(0.6, 1.4)
    return left, right


def place(track: np.ndarray, signal: np.ndarray, start_seconds: float, gain: float) -> None:
    """Add ``signal`` into ``track`` from ``start_seconds`` on, cut at the end of the track."""
    start = int(start_seconds * SAMPLE_RATE)
    stop = min(start + len(signal), len(track))
    track[start:stop] += gain * signal[: stop - start]


def make_demo() -> np.ndarray:
    """The demo mix, shape (samples, 2), peak at -1 dBFS."""
    rng = np.random.default_rng(SEED)
    n = int(SECONDS * SAMPLE_RATE)
    left, right = np.zeros(n), np.zeros(n)
    for voice, text, start, gain in SENTENCES:  # speech in the centre
        speech = speak(voice, text)
        speech /= np.max(np.abs(speech))
        place(left, speech, start, gain)
        place(right, speech, start, gain)
    high = bell(660.0, 5.0)  # first bell at the left, a lower one answering at the right
    place(left, high, 0.05, 0.45)
    place(right, high, 0.05, 0.2)
    low = bell(392.0, 3.0)
    place(left, low, 3.3, 0.15)
    place(right, low, 3.3, 0.4)
    grain_left, grain_right = grains(rng, 2.2)
    place(left, grain_left, 4.8, 0.35)
    place(right, grain_right, 4.8, 0.35)
    mix = np.stack([left, right], axis=1)
    fade = int(0.3 * SAMPLE_RATE)
    mix[-fade:] *= np.linspace(1.0, 0.0, fade)[:, None] ** 2
    return mix * (10 ** (-1.0 / 20.0) / np.max(np.abs(mix)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-o", "--output", type=Path, default=Path(__file__).resolve().parent / "demo.wav"
    )
    args = parser.parse_args()
    sf.write(args.output, make_demo(), SAMPLE_RATE, subtype="PCM_16")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
