"""The phase-recovery test set: synthetic signals, short real recordings, perturbed targets.

Feeds ``benchmarks/phase.py``: every signal is 48 kHz mono float64, 3-5 s long. Synthetic ones
are generated here, deterministically; recordings are read from ``benchmarks/data/`` (committed
16-bit FLAC excerpts, see ``data/SOURCES.md``), which ``python benchmarks/corpus.py --rebuild``
regenerates from espeak-ng and Debian's sound packages. Perturbations imitate an autoencoder's
output by damaging the target magnitudes in seeded, repeatable ways.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
from scipy.ndimage import convolve1d
from scipy.signal import lfilter

SAMPLE_RATE = 48_000  # Hz
DATA_DIR = Path(__file__).resolve().parent / "data"
PERTURBATIONS = ("magnitude_noise", "time_blur", "gain_jitter")
TARGETS = ("clean",) + PERTURBATIONS


@dataclass(frozen=True)
class Signal:
    """One corpus entry.

    Attributes
    ----------
    name : str
        Short identifier used on the command line (``--signals``).
    kind : str
        ``"synthetic"`` or ``"recording"``.
    samples : ndarray, shape (n_samples,), float64
        Mono samples at :data:`SAMPLE_RATE`, peak at most 1.
    description : str
        One line on what it is and why it is in the set.
    """

    name: str
    kind: str
    samples: np.ndarray
    description: str


# --------------------------------------------------------------------------- synthetic signals


def _time(seconds: float) -> np.ndarray:
    return np.arange(int(round(seconds * SAMPLE_RATE))) / SAMPLE_RATE


def _fade(x: np.ndarray, ms: float = 10.0) -> np.ndarray:
    """Raised-cosine fade in and out, so no signal starts or ends with a step."""
    n = min(int(ms * 1e-3 * SAMPLE_RATE), len(x) // 2)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
    x = x.copy()
    x[:n] *= ramp
    x[len(x) - n :] *= ramp[::-1]
    return x


def _harmonic(phase: np.ndarray, f0_max_hz: float, tilt: float = 1.0) -> np.ndarray:
    """Sum of harmonics ``sin(h * phase) / h**tilt`` below 20 kHz for an f0 up to ``f0_max_hz``."""
    out = np.zeros_like(phase)
    for h in range(1, int(20_000 // f0_max_hz) + 1):
        out += np.sin(h * phase) / h**tilt
    return out


def tonal(seconds: float = 4.0) -> np.ndarray:
    """A 220 Hz harmonic tone with 5.5 Hz, 1.5 % vibrato, then a decaying A-major chord.

    Stable partials whose frequency moves (the vibrato) and several close partials beating (the
    chord, 220 / 277 / 330 Hz with their harmonics): what the phase-gradient methods should get
    nearly right.
    """
    t = _time(seconds)
    half = seconds / 2
    f = 220.0 * (1.0 + 0.015 * np.sin(2 * np.pi * 5.5 * t))
    tone = _harmonic(2 * np.pi * np.cumsum(f) / SAMPLE_RATE, 220.0 * 1.015) * (t < half)
    chord = np.zeros_like(t)
    onset = t - half
    envelope = np.where(onset >= 0, np.exp(-np.maximum(onset, 0) / 1.2), 0.0)
    for f0 in (220.0, 220.0 * 2 ** (4 / 12), 220.0 * 2 ** (7 / 12)):
        chord += _harmonic(2 * np.pi * f0 * t, f0, tilt=1.5)
    x = 0.15 * tone + 0.12 * chord * envelope
    return _fade(0.9 * x / np.max(np.abs(x)))


def chirp(seconds: float = 4.0) -> np.ndarray:
    """Exponential sweep from 50 Hz to 16 kHz at -10 dBFS: one partial crossing every bin."""
    t = _time(seconds)
    f0, f1 = 50.0, 16_000.0
    rate = np.log(f1 / f0) / seconds
    return _fade(0.3 * np.sin(2 * np.pi * f0 * (np.exp(rate * t) - 1.0) / rate))


def noise_and_clicks(seconds: float = 4.0, seed: int = 7) -> np.ndarray:
    """Pink then white noise at -20 dBFS RMS, with an impulse every 0.25 s and two noise bursts.

    No partials at all and sharp onsets: phase coherence in time, not frequency, decides the
    result (pre-echo, smeared clicks).
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * SAMPLE_RATE))
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spectrum[1:] /= np.sqrt(freqs[1:] / freqs[1])  # -3 dB per octave
    spectrum[0] = 0.0
    pink = np.fft.irfft(spectrum, n)
    white = rng.standard_normal(n)
    half = n // 2
    x = np.concatenate([pink[:half] / pink[:half].std(), white[half:] / white[half:].std()]) * 0.1
    x[SAMPLE_RATE // 8 :: SAMPLE_RATE // 4] += 0.8 * rng.choice(
        [-1.0, 1.0], size=len(x[SAMPLE_RATE // 8 :: SAMPLE_RATE // 4])
    )
    for start_s in (0.9, 3.1):  # 40 ms bursts, 12 dB above the bed
        start = int(start_s * SAMPLE_RATE)
        x[start : start + 1920] += 0.4 * rng.standard_normal(1920) * np.hanning(1920)
    return _fade(x / max(1.0, np.max(np.abs(x)) / 0.95))


# Formant frequencies (Hz) of five vowels, adult male (Peterson & Barney 1952, rounded).
_VOWELS = {
    "a": (730, 1090, 2440),
    "e": (530, 1840, 2480),
    "i": (270, 2290, 3010),
    "o": (570, 840, 2410),
    "u": (300, 870, 2240),
}
_BANDWIDTHS = (90.0, 110.0, 170.0)  # Hz


def babble(seconds: float = 4.0, seed: int = 11) -> np.ndarray:
    """Formant-synthesised vowels with pitch glides: a source-filter imitation of speech.

    Source: a band-limited glottal pulse train (harmonics falling 12 dB per octave) whose f0
    glides between 95 and 190 Hz, plus breath noise. Filter: three resonators per vowel whose
    formants move from one vowel to the next every 0.25 s, run in 5 ms blocks with their state
    carried over. Syllable envelopes and two pauses give speech-like onsets and silences.
    """
    rng = np.random.default_rng(seed)
    t = _time(seconds)
    n = len(t)
    # f0 contour: smooth random glides, 95..190 Hz.
    knots_t = np.linspace(0, seconds, 9)
    knots_f = rng.uniform(95.0, 190.0, size=len(knots_t))
    f0 = np.interp(t, knots_t, knots_f)
    f0 = np.convolve(f0, np.hanning(4801) / np.hanning(4801).sum(), mode="same")
    f0[:2400], f0[-2400:] = f0[2400], f0[-2401]
    source = _harmonic(2 * np.pi * np.cumsum(f0) / SAMPLE_RATE, 190.0, tilt=2.0)
    source = source / np.std(source) + 0.05 * rng.standard_normal(n)
    # Vowel sequence and formant tracks, gliding over the first 40 % of each syllable.
    syllable_s = 0.25
    order = rng.choice(list(_VOWELS), size=int(np.ceil(seconds / syllable_s)) + 1)
    block = 240
    out = np.zeros(n)
    states = [np.zeros(2) for _ in _BANDWIDTHS]
    for start in range(0, n, block):
        pos = start / SAMPLE_RATE / syllable_s
        i = int(pos)
        glide = min(1.0, (pos - i) / 0.4)
        formants = (1 - glide) * np.array(_VOWELS[order[i]]) + glide * np.array(
            _VOWELS[order[i + 1]]
        )
        seg = source[start : start + block]
        y = np.zeros_like(seg)
        for k, (fc, bw) in enumerate(zip(formants, _BANDWIDTHS)):
            r = np.exp(-np.pi * bw / SAMPLE_RATE)
            a = [1.0, -2 * r * np.cos(2 * np.pi * fc / SAMPLE_RATE), r * r]
            filtered, states[k] = lfilter([1.0 - r], a, seg, zi=states[k])
            y += filtered * (0.5**k)
        out[start : start + block] = y
    # Syllable envelope: attack 20 ms, decay to 30 %; silences at 1.5-1.8 s and 3.0-3.2 s.
    phase_in_syllable = (t % syllable_s) / syllable_s
    env = np.minimum(1.0, phase_in_syllable / 0.08) * (1.0 - 0.7 * phase_in_syllable)
    env *= ~(((t > 1.5) & (t < 1.8)) | ((t > 3.0) & (t < 3.2)))
    env = np.convolve(env, np.hanning(481) / np.hanning(481).sum(), mode="same")
    x = out * env
    return _fade(0.8 * x / np.max(np.abs(x)))


SYNTHETIC: dict[str, tuple[Callable[[], np.ndarray], str]] = {
    "tonal": (tonal, "220 Hz harmonic tone with vibrato, then a decaying A-major chord"),
    "chirp": (chirp, "exponential sweep 50 Hz - 16 kHz"),
    "noise_clicks": (noise_and_clicks, "pink then white noise with impulses every 0.25 s"),
    "babble": (babble, "formant-synthesised vowels with f0 glides (source-filter)"),
}


# --------------------------------------------------------------------------- recordings


@dataclass(frozen=True)
class Recording:
    """How a committed excerpt in ``benchmarks/data/`` is made and where it comes from."""

    file: str
    description: str
    package: str
    build: Callable[[], np.ndarray]


_TEXT_EN = "The quiet river carries small boats past the old mill, and nobody hurries."
_TEXT_ES = "El viento de la tarde mueve las hojas, y los niños cantan junto al río."
_ALSA = Path("/usr/share/sounds/alsa")
_FREEDESKTOP = Path("/usr/share/sounds/freedesktop/stereo")


def _to_48k_mono(x: np.ndarray, sample_rate: int) -> np.ndarray:
    import soxr  # only needed to rebuild the committed files

    if x.ndim == 2:
        x = x.mean(axis=1)
    if sample_rate != SAMPLE_RATE:
        x = soxr.resample(x, sample_rate, SAMPLE_RATE, quality="VHQ")
    return np.asarray(x, dtype=np.float64)


def _read(path: Path) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; install the Debian package that ships it")
    x, rate = sf.read(path, dtype="float64")
    return _to_48k_mono(x, rate)


def _espeak(voice: str, text: str) -> np.ndarray:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install -y espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-v", voice, "-s", "160", "-w", str(wav), text], check=True)
        return _read(wav)


def _join(parts: list[np.ndarray], gap_s: float = 0.12) -> np.ndarray:
    gap = np.zeros(int(gap_s * SAMPLE_RATE))
    out = []
    for p in parts:
        out += [_fade(p, 3.0), gap]
    return np.concatenate(out[:-1])


RECORDINGS: dict[str, Recording] = {
    "speech_en": Recording(
        "speech_en.flac",
        "espeak-ng English (en-us) speaking our own sentence",
        "espeak-ng",
        lambda: _espeak("en-us", _TEXT_EN),
    ),
    "speech_es": Recording(
        "speech_es.flac",
        "espeak-ng Spanish (es) speaking our own sentence",
        "espeak-ng",
        lambda: _espeak("es", _TEXT_ES),
    ),
    "voice": Recording(
        "voice.flac",
        "a recorded human voice: ALSA's 'Front left', 'Front right', 'Rear center'",
        "alsa-utils",
        lambda: _join(
            [_read(_ALSA / f) for f in ("Front_Left.wav", "Front_Right.wav", "Rear_Center.wav")]
        ),
    ),
    "alarm": Recording(
        "alarm.flac",
        "a recorded mechanical alarm clock ringing (first 5 s)",
        "sound-theme-freedesktop",
        lambda: _read(_FREEDESKTOP / "alarm-clock-elapsed.oga"),
    ),
    "effects": Recording(
        "effects.flac",
        "camera shutter, crumpling paper, bells: transients and inharmonic partials",
        "sound-theme-freedesktop",
        lambda: _join(
            [
                _read(_FREEDESKTOP / f)
                for f in ("camera-shutter.oga", "trash-empty.oga", "complete.oga", "bell.oga")
            ]
        ),
    ),
}

MAX_RECORDING_S = 5.0


def rebuild_recordings(names: list[str] | None = None) -> list[Path]:
    """Regenerate the committed excerpts from the installed packages.

    Each is made mono, resampled to 48 kHz (soxr, very high quality), cut to at most
    :data:`MAX_RECORDING_S` seconds, faded in and out over 10 ms, normalised to -1 dBFS peak and
    written as 16-bit FLAC.

    Returns
    -------
    list of Path
        The files written.
    """
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or list(RECORDINGS):
        rec = RECORDINGS[name]
        x = rec.build()[: int(MAX_RECORDING_S * SAMPLE_RATE)]
        x = _fade(x) * (10 ** (-1 / 20) / np.max(np.abs(x)))
        path = DATA_DIR / rec.file
        sf.write(path, x, SAMPLE_RATE, subtype="PCM_16", format="FLAC")
        written.append(path)
    return written


# --------------------------------------------------------------------------- loading


def signal_names() -> list[str]:
    """Every corpus name, synthetic first."""
    return list(SYNTHETIC) + list(RECORDINGS)


def load_corpus(names: list[str] | None = None, seconds: float | None = None) -> list[Signal]:
    """Load the corpus (or the named part of it).

    Parameters
    ----------
    names : list of str, optional
        Names from :func:`signal_names`; default all. A recording whose file is missing from
        ``benchmarks/data/`` raises ``FileNotFoundError`` naming the rebuild command.
    seconds : float, optional
        Cut every signal to at most this many seconds (``--quick``).

    Returns
    -------
    list of Signal
    """
    names = names or signal_names()
    unknown = [n for n in names if n not in SYNTHETIC and n not in RECORDINGS]
    if unknown:
        raise ValueError(f"unknown signal(s) {unknown}; expected some of {signal_names()}")
    out = []
    for name in names:
        if name in SYNTHETIC:
            make, description = SYNTHETIC[name]
            x, kind = make(), "synthetic"
        else:
            rec = RECORDINGS[name]
            path = DATA_DIR / rec.file
            if not path.exists():
                raise FileNotFoundError(
                    f"{path} is missing; run python benchmarks/corpus.py "
                    f"--rebuild (needs the {rec.package} package)"
                )
            x, rate = sf.read(path, dtype="float64")
            if rate != SAMPLE_RATE or x.ndim != 1:
                raise ValueError(
                    f"{path}: expected mono {SAMPLE_RATE} Hz, got {rate} Hz, shape {x.shape}"
                )
            kind, description = "recording", rec.description
        if seconds is not None:
            x = _fade(x[: int(seconds * SAMPLE_RATE)])
        out.append(Signal(name, kind, x, description))
    return out


# --------------------------------------------------------------------------- perturbations


def _seed(signal_name: str, target: str, seed: int) -> np.random.Generator:
    """A generator fixed by the seed, signal and perturbation (crc32: stable across runs)."""
    return np.random.default_rng(
        [seed, zlib.crc32(signal_name.encode()), zlib.crc32(target.encode())]
    )


def perturb(
    magnitudes: np.ndarray,
    target: str,
    signal_name: str = "",
    seed: int = 0,
    noise_db: float = 2.0,
    blur_frames: int = 3,
    jitter_db: float = 1.0,
) -> np.ndarray:
    """Damage magnitudes the way an autoencoder's output might be damaged.

    Parameters
    ----------
    magnitudes : ndarray, shape (n_frames, n_bins)
        Clean linear magnitudes ``S``.
    target : str
        ``"clean"`` (returned unchanged, as a copy) or one of :data:`PERTURBATIONS`:

        - ``magnitude_noise``: every bin times ``10**(N(0, noise_db)/20)``, log-normal noise of
          ``noise_db`` dB standard deviation (default 2 dB), independent per bin and frame;
        - ``time_blur``: each bin smoothed over time with a ``blur_frames``-frame Hann kernel
          (default 3 frames: weights 1/4, 1/2, 1/4), edges repeated; onsets smear over ~2 hops;
        - ``gain_jitter``: each frame times a common gain, a random walk pulled back to 0 dB
          (AR(1) with coefficient 0.9 per frame, stationary standard deviation ``jitter_db`` dB,
          default 1 dB, so it wanders over ~10 frames = 53 ms at hop 256).
    signal_name : str
        Mixed into the seed so every signal gets its own, repeatable draw.
    seed : int
        Base seed.

    Returns
    -------
    ndarray, shape (n_frames, n_bins), float64
        Non-negative magnitudes.
    """
    S = np.asarray(magnitudes, dtype=np.float64)
    if target == "clean":
        return S.copy()
    rng = _seed(signal_name, target, seed)
    if target == "magnitude_noise":
        return S * 10.0 ** (noise_db * rng.standard_normal(S.shape) / 20.0)
    if target == "time_blur":
        kernel = np.hanning(blur_frames + 2)[1:-1]
        return convolve1d(S, kernel / kernel.sum(), axis=0, mode="nearest")
    if target == "gain_jitter":
        a = 0.9
        steps = rng.standard_normal(len(S)) * jitter_db * np.sqrt(1.0 - a * a)
        gain_db = np.empty(len(S))
        level = rng.standard_normal() * jitter_db  # start in the stationary distribution
        for m, step in enumerate(steps):
            level = a * level + step
            gain_db[m] = level
        return S * 10.0 ** (gain_db[:, None] / 20.0)
    raise ValueError(f"unknown target {target!r}; expected one of {TARGETS}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="regenerate benchmarks/data/ from espeak-ng and Debian sound packages",
    )
    parser.add_argument(
        "--write",
        metavar="DIR",
        type=Path,
        help="write every signal as a 48 kHz WAV into DIR, to listen to",
    )
    args = parser.parse_args(argv)
    if args.rebuild:
        for path in rebuild_recordings():
            print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    for sig in load_corpus():
        print(
            f"{sig.name:14s} {sig.kind:10s} {len(sig.samples) / SAMPLE_RATE:4.2f} s  "
            f"{sig.description}"
        )
        if args.write:
            args.write.mkdir(parents=True, exist_ok=True)
            sf.write(args.write / f"{sig.name}.wav", sig.samples, SAMPLE_RATE, subtype="PCM_16")
    return 0


if __name__ == "__main__":
    sys.exit(main())
