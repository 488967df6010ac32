"""Chords for the training corpus: 2 to 4 notes of the corpus's own sampled instruments.

Polyphonic material for a model that keeps several pitches per frame (issue "Many pitches"):
random voicings of common chord shapes, played by one instrument or by several (each note its
own), the notes starting up to :data:`MAX_STAGGER_S` apart as a hand or an ensemble plays them,
held, then released. Rendered with the same soundfont and ``fluidsynth`` as the single notes
(:mod:`caminos.models.corpus.recorded`), each instrument alone, its part scaled so that the
parts lie within :data:`SPREAD_DB` of each other whatever level a preset has, then summed.

Training chords use only :data:`~caminos.models.corpus.recorded.TRAIN_PROGRAMS`; held-out chords
only :data:`~caminos.models.corpus.recorded.HELDOUT_PROGRAMS`, so a benchmark on held-out chords
never hears an instrument the model trained on. Each file's notes go into ``sources.tsv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from caminos.models.corpus.recorded import RANGES, SAMPLE_RATE, SourceRecord, midi_file, render_midi

# Chord shapes: semitones above the lowest note.
SHAPES = {
    2: ((0, 3), (0, 4), (0, 5), (0, 7), (0, 8), (0, 9), (0, 12), (0, 10)),
    3: (
        (0, 4, 7),
        (0, 3, 7),
        (0, 3, 8),
        (0, 5, 9),
        (0, 4, 9),
        (0, 5, 8),
        (0, 3, 6),
        (0, 7, 16),
        (0, 4, 10),
        (0, 2, 7),
        (0, 7, 12),
    ),
    4: (
        (0, 4, 7, 11),
        (0, 3, 7, 10),
        (0, 4, 7, 10),
        (0, 3, 6, 9),
        (0, 4, 7, 14),
        (0, 3, 7, 14),
        (0, 7, 16, 23),
        (0, 5, 7, 10),
        (0, 2, 4, 7),
        (0, 4, 7, 12),
    ),
}
LOWEST_KEY, HIGHEST_KEY = 36, 96  # the chords' keys lie in C2 .. C7 (MIDI)
HOLD_S = (0.8, 2.0)  # held length, seconds, drawn uniformly
RELEASE_S = 0.8  # rendered after the last note-off, seconds
MAX_STAGGER_S = 0.08  # the notes' onsets lie within this many seconds
SPREAD_DB = 6.0  # the instrument parts' levels lie within this many dB
PEAK_DBFS = (-24.0, -3.0)  # each chord's peak level, drawn uniformly


def draw_chord(
    programs: dict[int, str], rng: np.random.Generator, size: int | None = None
) -> list[tuple[int, int, int, float, float]]:
    """One chord of ``size`` notes (2 to 4, drawn when None) on the given programs.

    Returns
    -------
    list of (key, program, velocity, onset_s, gain_db)
        Its notes: MIDI key, General MIDI program (one for every note half the time, one per
        note otherwise), velocity (50-110), onset in seconds (0 .. :data:`MAX_STAGGER_S`), and
        the level of the note's instrument part in dB (0 .. -:data:`SPREAD_DB`, one per
        instrument).
    """
    size = int(rng.integers(2, 5)) if size is None else int(size)
    shapes = SHAPES[size]
    shape = shapes[int(rng.integers(len(shapes)))]
    choices = sorted(programs)
    if rng.uniform() < 0.5:
        chosen = [choices[int(rng.integers(len(choices)))]] * size
    else:
        chosen = [choices[int(j)] for j in rng.integers(len(choices), size=size)]
    lows, highs = zip(*(RANGES.get(p, (36, 84)) for p in chosen))
    low = max(LOWEST_KEY, *[lo - s for lo, s in zip(lows, shape)])
    high = min(HIGHEST_KEY - shape[-1], *[hi - s for hi, s in zip(highs, shape)])
    if high < low:  # the instruments share no range for this shape: all on the first one
        chosen = [chosen[0]] * size
        low_key, high_key = RANGES.get(chosen[0], (36, 84))
        low, high = max(LOWEST_KEY, low_key), min(HIGHEST_KEY, high_key) - shape[-1]
        if high < low:
            low = high = max(LOWEST_KEY, low_key)
    root = int(rng.integers(low, high + 1))
    gains = {p: float(rng.uniform(-SPREAD_DB, 0.0)) for p in sorted(set(chosen))}
    return [
        (root + s, p, int(rng.integers(50, 111)), float(rng.uniform(0.0, MAX_STAGGER_S)), gains[p])
        for s, p in zip(shape, chosen)
    ]


def render_chord(chord: list[tuple[int, int, int, float, float]], hold_s: float) -> np.ndarray:
    """A chord's sound, mono float64 at 48 kHz: each instrument rendered alone, its part scaled
    to an RMS of its gain (relative to the others) over the held part, then summed; ``hold_s``
    from the first onset to the note-offs, :data:`RELEASE_S` of release after."""
    length = int((MAX_STAGGER_S + hold_s + RELEASE_S) * SAMPLE_RATE)
    mix = np.zeros(length)
    held = slice(int(MAX_STAGGER_S * SAMPLE_RATE), int(hold_s * SAMPLE_RATE))
    for program in sorted({p for _, p, _, _, _ in chord}):
        notes = sorted(
            (onset, hold_s - onset, key, velocity)
            for key, p, velocity, onset, _ in chord
            if p == program
        )
        part = np.zeros(length)
        rendered = render_midi(midi_file(program, notes))[:length]
        part[: len(rendered)] = rendered
        rms = float(np.sqrt(np.mean(part[held] ** 2)))
        if rms > 0.0:
            gain = next(g for _, p, _, _, g in chord if p == program)
            mix += part * (10.0 ** (gain / 20.0) / rms)
    return mix


def render_chords(
    folder: Path,
    count: int,
    programs: dict[int, str],
    rng: np.random.Generator,
    prefix: str = "chord",
) -> list[SourceRecord]:
    """``count`` chords into FLAC files in ``folder``, a third each of 2, 3 and 4 notes.

    Returns
    -------
    list of SourceRecord
        One per file: the notes (key, instrument, velocity) it plays.
    """
    records = []
    for i in range(count):
        chord = draw_chord(programs, rng, size=2 + i % 3)
        hold = float(rng.uniform(*HOLD_S))
        x = render_chord(chord, hold)
        peak = float(np.max(np.abs(x), initial=0.0))
        if peak < 1e-4:
            continue  # notes outside the sampled ranges sound nothing
        x *= 10.0 ** (rng.uniform(*PEAK_DBFS) / 20.0) / peak
        file = f"{prefix}-{i:03d}-{len(chord)}n.flac"
        sf.write(folder / file, x, SAMPLE_RATE, subtype="PCM_24")
        notes = ", ".join(
            f"key {key} {programs[p]} v{velocity}" for key, p, velocity, _, _ in chord
        )
        records.append(
            SourceRecord(
                file,
                "fluid-soundfont-gm",
                f"FluidR3_GM.sf2 chord of {len(chord)} notes ({notes}), {hold:.1f} s held",
                "MIT",
            )
        )
    return records
