"""Recorded material for the training corpus, from Debian packages that install offline.

Two sources, both real recordings (see ``SOURCES.md`` for licences):

- **Sampled instruments** of ``fluid-soundfont-gm`` (FluidR3 GM, MIT licence), rendered note by
  note at 48 kHz with Debian's ``fluidsynth`` from a small MIDI file per instrument (written
  here, no MIDI library needed), over pitches, velocities and durations. Whole instruments are
  held out (:data:`HELDOUT_PROGRAMS`), and of the training instruments every fourth pitch too.
- **Field and studio recordings** of ``sonic-pi-samples`` (freesound.org, CC0): only the files
  that the package's README lists with their freesound page (each one's source is then known),
  trimmed to :data:`MAX_SAMPLE_SECONDS`; every fifth file is held out.

Each function writes FLAC files into a folder and returns one :class:`SourceRecord` per file, so
the corpus lists where every file came from.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 48_000  # Hz
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")  # Debian package fluid-soundfont-gm
SONIC_PI_SAMPLES = Path("/usr/share/sonic-pi/samples")  # Debian package sonic-pi-samples
MAX_SAMPLE_SECONDS = 6.0  # longer sonic-pi loops are cut, so no file dominates the corpus

# General MIDI programs (0-based) rendered for training: keyboards, mallets, organ, guitars,
# bass, bowed and plucked strings, choir, brass, reeds, flutes, synth and ethnic instruments.
TRAIN_PROGRAMS = {
    0: "acoustic-grand-piano",
    6: "harpsichord",
    8: "celesta",
    11: "vibraphone",
    12: "marimba",
    14: "tubular-bells",
    19: "church-organ",
    21: "accordion",
    24: "nylon-guitar",
    26: "jazz-guitar",
    32: "acoustic-bass",
    40: "violin",
    42: "cello",
    45: "pizzicato-strings",
    46: "harp",
    52: "choir-aahs",
    56: "trumpet",
    57: "trombone",
    60: "french-horn",
    65: "alto-sax",
    68: "oboe",
    71: "clarinet",
    73: "flute",
    105: "banjo",
}
# Whole instruments never trained on, for the benchmark's held-out set.
HELDOUT_PROGRAMS = {
    4: "electric-piano",
    9: "glockenspiel",
    41: "viola",
    58: "tuba",
    70: "bassoon",
    75: "pan-flute",
}
# Playable range (MIDI notes, inclusive) per program; others default to 36-84.
RANGES = {
    0: (28, 100),
    6: (36, 88),
    8: (60, 100),
    9: (72, 105),
    11: (53, 89),
    12: (45, 96),
    14: (60, 77),
    19: (24, 96),
    21: (41, 89),
    24: (40, 84),
    26: (40, 84),
    32: (28, 55),
    40: (55, 100),
    41: (48, 88),
    42: (36, 76),
    45: (36, 96),
    46: (24, 103),
    52: (48, 79),
    56: (54, 84),
    57: (40, 72),
    58: (28, 58),
    60: (41, 77),
    65: (49, 81),
    68: (58, 91),
    70: (34, 72),
    71: (50, 91),
    73: (60, 96),
    75: (60, 96),
    105: (48, 84),
    4: (28, 100),
}
PITCH_STEP = 3  # semitones between rendered notes
VELOCITIES = (45, 100)
DURATIONS_S = (0.5, 1.4)  # held note lengths; each note also gets RELEASE_S of release
RELEASE_S = 0.6


@dataclass(frozen=True)
class SourceRecord:
    """Where one corpus file came from.

    Attributes
    ----------
    file : str
        Its name in the corpus folder.
    package : str
        The Debian package that ships the recording.
    origin : str
        What inside the package (instrument and note, or file and its freesound page).
    licence : str
    """

    file: str
    package: str
    origin: str
    licence: str


def _variable_length(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_file(program: int, notes: list[tuple[float, float, int, int]]) -> bytes:
    """A format-0 standard MIDI file playing ``notes`` on channel 0 with ``program``.

    Parameters
    ----------
    program : int
        General MIDI program, 0-127.
    notes : list of (onset_s, duration_s, key, velocity)
        Notes, times in seconds; notes of different keys may overlap (a chord: the events are
        sorted by time, a note-off before a note-on at the same tick).

    Returns
    -------
    bytes
        The file (480 ticks per quarter note at 120 bpm: 960 ticks per second).
    """
    ticks_per_second = 960
    events: list[tuple[int, bytes]] = [(0, bytes([0xC0, program & 0x7F]))]
    for onset, duration, key, velocity in notes:
        events.append((round(onset * ticks_per_second), bytes([0x90, key, velocity])))
        events.append((round((onset + duration) * ticks_per_second), bytes([0x80, key, 0])))
    track = bytearray()
    now = 0
    for tick, data in sorted(events, key=lambda e: e[0]):  # stable: note-off before next on
        track += _variable_length(tick - now) + data
        now = tick
    track += _variable_length(ticks_per_second) + b"\xff\x2f\x00"  # end of track, 1 s later
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def render_midi(midi: bytes, soundfont: Path = SOUNDFONT) -> np.ndarray:
    """Render a MIDI file with Debian's ``fluidsynth`` (no reverb or chorus); mono float64."""
    if shutil.which("fluidsynth") is None:
        raise FileNotFoundError("fluidsynth is not installed (apt-get install fluidsynth)")
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "notes.mid", Path(tmp) / "notes.wav"
        mid.write_bytes(midi)
        subprocess.run(
            [
                "fluidsynth",
                "-ni",
                "-q",
                "-R",
                "0",
                "-C",
                "0",
                "-g",
                "0.6",
                "-r",
                str(SAMPLE_RATE),
                "-F",
                str(wav),
                "-O",
                "float",
                str(soundfont),
                str(mid),
            ],
            check=True,
            capture_output=True,
        )
        audio, rate = sf.read(wav, dtype="float64", always_2d=True)
    if rate != SAMPLE_RATE:
        raise RuntimeError(f"fluidsynth wrote {rate} Hz instead of {SAMPLE_RATE}")
    return audio.mean(axis=1)


def instrument_notes(program: int) -> list[tuple[int, int, float]]:
    """The (key, velocity, duration_s) rendered for one program, in playing order."""
    low, high = RANGES.get(program, (36, 84))
    notes = []
    for i, key in enumerate(range(low, high + 1, PITCH_STEP)):
        for j, velocity in enumerate(VELOCITIES):
            notes.append((key, velocity, DURATIONS_S[(i + j) % len(DURATIONS_S)]))
    return notes


def render_instrument(
    program: int, name: str, train: Path | None, heldout: Path, rng: np.random.Generator
) -> list[SourceRecord]:
    """Render one instrument note by note into FLAC files.

    Parameters
    ----------
    program, name : int, str
        General MIDI program and the name used in file names.
    train : Path or None
        Folder of training notes; every fourth pitch goes to ``heldout`` instead. None holds
        the whole instrument out (every note into ``heldout``).
    heldout : Path
        Folder of held-out notes.
    rng : numpy.random.Generator
        Draws each note's peak level, -24 to -3 dBFS.
    """
    notes = instrument_notes(program)
    schedule, onset = [], 0.5
    for key, velocity, duration in notes:
        schedule.append((onset, duration, key, velocity))
        onset += duration + RELEASE_S + 0.1
    audio = render_midi(midi_file(program, schedule))
    records = []
    keys = sorted({key for key, _, _ in notes})
    for start, duration, key, velocity in schedule:
        a = int(start * SAMPLE_RATE)
        b = min(len(audio), int((start + duration + RELEASE_S) * SAMPLE_RATE))
        x = audio[a:b]
        level = rng.uniform(-24.0, -3.0)
        if np.max(np.abs(x), initial=0.0) < 1e-4:
            continue  # a note outside the sampled range sounds nothing
        x = x / np.max(np.abs(x)) * 10 ** (level / 20.0)
        folder = heldout if train is None or keys.index(key) % 4 == 3 else train
        file = f"gm-{name}-{key:03d}-v{velocity:03d}.flac"
        sf.write(folder / file, x, SAMPLE_RATE, subtype="PCM_24")
        records.append(
            SourceRecord(
                file,
                "fluid-soundfont-gm",
                f"FluidR3_GM.sf2 program "
                f"{program} ({name}), MIDI key {key}, velocity {velocity}, "
                f"{duration:.1f} s held",
                "MIT",
            )
        )
    return records


def sonic_pi_sources(samples: Path = SONIC_PI_SAMPLES) -> dict[str, str]:
    """The sample files that the package's README lists with their freesound page: name to URL."""
    readme = samples / "README.md"
    if not readme.exists():
        return {}
    listed = {}
    for match in re.finditer(r"^\* `:(\w+)`\s*-\s*(\S+)", readme.read_text(), flags=re.M):
        listed[match.group(1)] = match.group(2)
    return listed


def copy_sonic_pi(
    train: Path, heldout: Path, rng: np.random.Generator, samples: Path = SONIC_PI_SAMPLES
) -> list[SourceRecord]:
    """Copy the listed CC0 sonic-pi samples (mono, 48 kHz, trimmed), every fifth to ``heldout``."""
    import librosa

    records = []
    for i, (name, url) in enumerate(sorted(sonic_pi_sources(samples).items())):
        path = samples / f"{name}.flac"
        if not path.exists():
            continue
        x, rate = sf.read(path, dtype="float64", always_2d=True)
        x = x.mean(axis=1)[: int(MAX_SAMPLE_SECONDS * rate)]
        if rate != SAMPLE_RATE:
            x = librosa.resample(x, orig_sr=rate, target_sr=SAMPLE_RATE, res_type="soxr_hq")
        peak = np.max(np.abs(x), initial=0.0)
        if peak < 1e-4:
            continue
        x = x / peak * 10 ** (rng.uniform(-24.0, -3.0) / 20.0)
        folder = heldout if i % 5 == 4 else train
        file = f"sonicpi-{name}.flac"
        sf.write(folder / file, x, SAMPLE_RATE, subtype="PCM_24")
        records.append(
            SourceRecord(file, "sonic-pi-samples", f"{name}.flac, from {url}", "CC0 1.0")
        )
    return records


def available() -> list[str]:
    """What is missing for the recorded part of the corpus (empty when everything is there)."""
    missing = []
    if not SOUNDFONT.exists():
        missing.append(f"{SOUNDFONT} (apt-get install fluid-soundfont-gm)")
    if shutil.which("fluidsynth") is None:
        missing.append("fluidsynth (apt-get install fluidsynth)")
    if not (SONIC_PI_SAMPLES / "README.md").exists():
        missing.append(f"{SONIC_PI_SAMPLES} (apt-get install sonic-pi-samples)")
    return missing
