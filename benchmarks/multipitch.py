"""Multi-pitch tracking on rendered chords with known notes, beside the one-pitch tracker.

Chords of 1 to 4 notes (common voicings: dyads from a major second to a minor seventh, triads
and their inversions, sevenths, open and added-note chords, no octave doublings) in C3..C6,
each note a FluidR3 General MIDI instrument (15 of keyboards, organ, guitar, strings, choir,
brass, reeds and flute; no mallets or bells, whose partials are not harmonic), the same for
the whole chord half the time and one per note otherwise, velocities 60-110, are rendered with
the training corpus's own helpers (:func:`caminos.models.corpus.recorded.midi_file` and
:func:`~caminos.models.corpus.recorded.render_midi`: Debian's ``fluidsynth`` and
``fluid-soundfont-gm``), one MIDI file per instrument holding its notes of every chord. Each
instrument's part of a chord is scaled to one RMS over the held part, then by a gain drawn
within :data:`SPREAD_DB`, and the parts are summed: a mix balanced within 6 dB whatever the
level of a preset (unbalanced, a decaying piano under a sustained organ is 20 dB down after a
second, which measures the mix more than the tracker). Each chord is held :data:`HOLD_S` and
followed by :data:`GAP_S` for its release.

Frames are the engine's (n_fft 1024, hop 256, 48 kHz, periodic Hann, :func:`stft`). A frame is
scored when its whole window lies inside a chord's held part (note-on to note-off; the release
is not scored), against the chord's keys in 440 Hz equal temperament. Frame-level multi-pitch
precision, recall and F (a pitch is right within half a semitone, matched one to one in each
frame), and the chroma F (octave errors forgiven), with ``mir_eval.multipitch`` when it is
installed, else counted here (closest pairs first; the notes of a chord are a semitone or more
apart, so this is mir_eval's matching but for pitches exactly between two notes), printed
which. Two trackers: :class:`caminos.models.multipitch.MultiPitchTracker` (defaults, 4 slots,
run over the whole recording in order from a reset state, as the hop clock would; ``--set
NAME=VALUE`` overrides one of its keyword arguments, e.g. ``--set spectrum_release=0``) and the
reference row, :class:`caminos.models.pitch.PitchTracker`, one pitch per frame; then their
ratio. Rows: all chords of 2 to 4 notes, then each size, single notes included (where the
one-pitch tracker is at home). Then the single notes' octave errors: the share of their scored
frames in which a tracker reports a pitch within half a semitone of one or two octaves above or
below the note. A last line gives the share of the frames from :data:`SILENT_AFTER_S` after a
note-off to the next note-on (release tails fading out, then silence) in which the multi-pitch
tracker still reports a pitch, and how loud those are. Cost per frame: both trackers batched,
and the multi-pitch tracker's per-frame path (``track_frame``, the hop clock's), one thread.

Tune on ``--seed 1`` (development), report ``--seed 0``.

    python benchmarks/multipitch.py [--chords 64] [--seed 0] [--own-metrics] [--set NAME=VALUE]

About 15 s on one core with the defaults (64 chords, 123 s of audio).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from caminos.engine.core.config import StftConfig
from caminos.engine.dsp.spectral import stft
from caminos.models.corpus import recorded
from caminos.models.multipitch import MultiPitchTracker
from caminos.models.pitch import PitchTracker

RATE = recorded.SAMPLE_RATE  # Hz
HOLD_S = 1.0  # each chord's held part, in seconds
GAP_S = 0.9  # between a chord's note-off and the next note-on: release, then silence
SILENT_AFTER_S = 0.7  # frames this long after a note-off count as silence
LOWEST_KEY, HIGHEST_KEY = 48, 84  # the chords' keys lie in C3..C6 (MIDI)
PART_RMS = 0.05  # each instrument's part of a chord, before its gain (-26 dBFS)
SPREAD_DB = 6.0  # the parts' gains lie within this many dB
TOLERANCE_CENTS = 50.0  # half a semitone, mir_eval.multipitch's default window

# General MIDI programs (0-based): keyboards, organ, guitar, bowed strings, choir, brass, reeds,
# flute; some are training programs of the corpus, some held out. No mallets or bells: their
# partials are not harmonic, which the tracker does not model.
PROGRAMS = {
    0: "piano",
    4: "electric-piano",
    19: "church-organ",
    21: "accordion",
    24: "nylon-guitar",
    40: "violin",
    42: "cello",
    52: "choir-aahs",
    56: "trumpet",
    60: "french-horn",
    65: "alto-sax",
    68: "oboe",
    70: "bassoon",
    71: "clarinet",
    73: "flute",
}

# Chord shapes: semitones above the lowest note, by number of notes.
SHAPES = {
    1: [(0,)],
    2: [(0, 3), (0, 4), (0, 5), (0, 7), (0, 8), (0, 9), (0, 2), (0, 10)],
    3: [
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
    ],
    4: [
        (0, 4, 7, 11),
        (0, 3, 7, 10),
        (0, 4, 7, 10),
        (0, 3, 6, 9),
        (0, 4, 7, 14),
        (0, 3, 7, 14),
        (0, 7, 16, 23),
        (0, 5, 7, 10),
        (0, 2, 4, 7),
    ],
}


def draw_chords(count: int, rng: np.random.Generator) -> list[list[tuple[int, int, int, float]]]:
    """``count`` chords, a quarter of each size from 1 to 4 notes.

    Returns
    -------
    list of list of (key, program, velocity, gain_db)
        Each chord's notes: MIDI key, General MIDI program (one for the whole chord half the
        time, one per note otherwise), velocity (60-110) and the level of the note's instrument
        part in dB (0 to -:data:`SPREAD_DB`, drawn once per instrument and chord).
    """
    chords = []
    programs = list(PROGRAMS)
    for i in range(count):
        shape = SHAPES[1 + i % 4][rng.integers(len(SHAPES[1 + i % 4]))]
        one = rng.uniform() < 0.5
        chosen = (
            [programs[rng.integers(len(programs))]] * len(shape)
            if one
            else [programs[j] for j in rng.integers(len(programs), size=len(shape))]
        )
        lows, highs = zip(*(recorded.RANGES.get(p, (36, 84)) for p in chosen))
        low = max(LOWEST_KEY, *[lo - s for lo, s in zip(lows, shape)])
        high = min(HIGHEST_KEY - shape[-1], *[hi - s for hi, s in zip(highs, shape)])
        if high < low:  # the instruments share no range for this shape: all on the piano
            chosen = [0] * len(shape)
            low, high = LOWEST_KEY, HIGHEST_KEY - shape[-1]
        root = int(rng.integers(low, high + 1))
        gains = {p: float(rng.uniform(-SPREAD_DB, 0.0)) for p in sorted(set(chosen))}
        chords.append(
            [(root + s, p, int(rng.integers(60, 111)), gains[p]) for s, p in zip(shape, chosen)]
        )
    return chords


def render_chords(chords: list[list[tuple[int, int, int, float]]]) -> np.ndarray:
    """The chords one after another, :data:`HOLD_S` held and :data:`GAP_S` apart, mono float64
    at 48 kHz; chord ``i``'s note-on is at ``0.5 + i * (HOLD_S + GAP_S)`` seconds.

    Each instrument is rendered alone; its part of each chord (held part and release) is scaled
    so that the held part's RMS is :data:`PART_RMS` times the note's gain, then the parts are
    summed: a balanced mix within :data:`SPREAD_DB`, whatever level a preset has.
    """
    by_program: dict[int, list[tuple[float, float, int, int]]] = {}
    for i, chord in enumerate(chords):
        onset = 0.5 + i * (HOLD_S + GAP_S)
        for key, program, velocity, _ in chord:
            by_program.setdefault(program, []).append((onset, HOLD_S, key, velocity))
    length = int((1.0 + len(chords) * (HOLD_S + GAP_S)) * RATE)
    mix = np.zeros(length)
    for program, notes in sorted(by_program.items()):
        audio = np.zeros(length)
        rendered = recorded.render_midi(recorded.midi_file(program, notes))[:length]
        audio[: len(rendered)] = rendered
        for i, chord in enumerate(chords):
            gains = [g for _, p, _, g in chord if p == program]
            if not gains:
                continue
            a = int((0.5 + i * (HOLD_S + GAP_S)) * RATE)
            held, end = a + int(HOLD_S * RATE), a + int((HOLD_S + GAP_S) * RATE)
            rms = np.sqrt(np.mean(audio[a:held] ** 2))
            if rms > 0.0:
                mix[a:end] += audio[a:end] * (PART_RMS * 10.0 ** (gains[0] / 20.0) / rms)
    return mix


def frame_labels(
    chords: list, n_frames: int, stft_config: StftConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Which chord each frame scores, and the silent frames.

    Returns
    -------
    chord_of : ndarray of int, shape (n_frames,)
        The chord whose held part holds the frame's whole window, else -1.
    silent : ndarray of bool, shape (n_frames,)
        Frames whose window starts :data:`SILENT_AFTER_S` after a note-off and ends before the
        next note-on.
    """
    start = (np.arange(n_frames) * stft_config.hop - (stft_config.n_fft - stft_config.hop)) / RATE
    end = start + stft_config.n_fft / RATE
    chord_of = np.full(n_frames, -1)
    silent = np.zeros(n_frames, bool)
    for i in range(len(chords)):
        on = 0.5 + i * (HOLD_S + GAP_S)
        chord_of[(start >= on) & (end <= on + HOLD_S)] = i
        silent |= (start >= on + HOLD_S + SILENT_AFTER_S) & (end <= on + HOLD_S + GAP_S)
    return chord_of, silent


def key_hz(key: int) -> float:
    """MIDI key to Hz, A4 = 440 Hz, equal temperament."""
    return 440.0 * 2.0 ** ((key - 69) / 12.0)


def own_counts(
    ref: list[np.ndarray], est: list[np.ndarray], chroma: bool = False
) -> tuple[int, int, int]:
    """True positives, reference pitches and estimated pitches over frames: in each frame a
    reference and an estimate match, one to one, within :data:`TOLERANCE_CENTS` (modulo the
    octave when ``chroma``), the closest pairs first."""
    tp = n_ref = n_est = 0
    for r, e in zip(ref, est):
        n_ref += len(r)
        n_est += len(e)
        if not len(r) or not len(e):
            continue
        cents = 1200.0 * np.log2(e[None, :] / r[:, None])
        if chroma:
            cents = (cents + 600.0) % 1200.0 - 600.0
        distance = np.abs(cents)
        used_r, used_e = set(), set()
        for flat in np.argsort(distance, axis=None):
            i, j = np.unravel_index(flat, distance.shape)
            if distance[i, j] > TOLERANCE_CENTS:
                break
            if i not in used_r and j not in used_e:
                used_r.add(i)
                used_e.add(j)
                tp += 1
    return tp, n_ref, n_est


def scores(ref: list[np.ndarray], est: list[np.ndarray], use_mir_eval: bool) -> dict[str, float]:
    """Precision, recall, F and chroma F of frame-level pitch sets."""
    if use_mir_eval:
        import mir_eval.multipitch

        times = np.arange(len(ref)) * 0.01  # the frames in order; their times play no part
        m = mir_eval.multipitch.metrics(times, ref, times, est)
        p, r, pc, rc = m[0], m[1], m[7], m[8]
    else:
        tp, n_ref, n_est = own_counts(ref, est)
        p, r = tp / max(n_est, 1), tp / max(n_ref, 1)
        tp, n_ref, n_est = own_counts(ref, est, chroma=True)
        pc, rc = tp / max(n_est, 1), tp / max(n_ref, 1)
    f = 2 * p * r / (p + r) if p + r else 0.0
    fc = 2 * pc * rc / (pc + rc) if pc + rc else 0.0
    return {"P": p, "R": r, "F": f, "chroma F": fc}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--chords",
        type=int,
        default=64,
        help="chords rendered, a quarter each of 1 to 4 notes (default 64)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--own-metrics", action="store_true", help="count here even when mir_eval is installed"
    )
    parser.add_argument(
        "--frame-alone",
        type=int,
        metavar="SLOTS",
        default=0,
        help="instead, the many-pitch model's analysis with this many slots "
        "(caminos.models.partials.PartialAnalyser: each frame read alone, "
        "the tracker's state reset every frame)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a keyword argument of MultiPitchTracker (a number), repeatable",
    )
    args = parser.parse_args(argv)
    settings = {}
    for item in args.set:
        name, _, value = item.partition("=")
        settings[name] = (
            int(value) if name in ("slots", "harmonics", "steps_per_semitone") else float(value)
        )
    missing = [m for m in recorded.available() if "sonic-pi" not in m]
    if missing:
        sys.exit("needs " + ", ".join(missing))
    use_mir_eval = not args.own_metrics
    if use_mir_eval:
        try:
            import mir_eval.multipitch  # noqa: F401
        except ImportError:
            use_mir_eval = False
    print("python benchmarks/multipitch.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    rng = np.random.default_rng(args.seed)
    chords = draw_chords(args.chords, rng)
    started = time.perf_counter()
    audio = render_chords(chords)
    rendered = time.perf_counter() - started
    config = StftConfig()
    mags = np.abs(stft(audio, config))
    chord_of, silent = frame_labels(chords, len(mags), config)

    multi = MultiPitchTracker(config.n_fft, RATE, **settings)
    multi.track(mags[:8])  # compile before timing
    started = time.perf_counter()
    f0_multi, _ = multi.track(mags)
    multi_us = (time.perf_counter() - started) / len(mags) * 1e6
    if args.frame_alone:  # what the many-pitch model reads: empty slots (presence 0) are 0 Hz
        from caminos.models.partials import PartialAnalyser

        analyser = PartialAnalyser(config.n_fft, RATE, args.frame_alone, 0)
        started = time.perf_counter()
        f0, presence, _, _ = analyser.analyse(mags, np.full(len(mags), 100.0))
        multi_us = (time.perf_counter() - started) / len(mags) * 1e6
        f0_multi = np.where(presence > 0.0, f0, 0.0)
    f0_out, salience_out = np.zeros(multi.slots), np.zeros(multi.slots)
    multi.reset()
    started = time.perf_counter()
    for frame in mags:
        multi.track_frame(frame, f0_out, salience_out)
    frame_us = (time.perf_counter() - started) / len(mags) * 1e6
    single = PitchTracker(config.n_fft, RATE)
    started = time.perf_counter()
    f0_single = single.track(mags)
    single_us = (time.perf_counter() - started) / len(mags) * 1e6

    print(
        f"{len(chords)} chords ({sum(map(len, chords))} notes, {len(PROGRAMS)} instruments), "
        f"{len(audio) / RATE:.0f} s rendered in {rendered:.1f} s; {np.sum(chord_of >= 0)} "
        f"scored frames; metrics: "
        + ("mir_eval.multipitch" if use_mir_eval else "own counts (mir_eval's definitions)")
        + f", {TOLERANCE_CENTS:.0f} cents"
    )
    if settings:
        print("multi-pitch settings: " + ", ".join(f"{k}={v:g}" for k, v in settings.items()))
    print(
        f"per frame: multi-pitch {multi_us:.0f} us, one-pitch {single_us:.0f} us (batched, "
        f"one thread); multi-pitch per-frame path (track_frame) {frame_us:.0f} us"
    )
    header = f"{'chords':<12}{'frames':>7}  {'tracker':<12}{'P':>6}{'R':>6}{'F':>6}{'chroma F':>9}"
    print(header)
    print("-" * len(header))
    groups = [("2-4 notes", {2, 3, 4})] + [
        (f"{n} note" + ("s" if n > 1 else ""), {n}) for n in (1, 2, 3, 4)
    ]
    for name, sizes in groups:
        frames = np.flatnonzero([c >= 0 and len(chords[c]) in sizes for c in chord_of])
        ref = [np.array([key_hz(n[0]) for n in chords[chord_of[i]]]) for i in frames]
        rows = (
            ("multi-pitch", [f[f > 0] for f in f0_multi[frames]]),
            ("one-pitch", [f0_single[i : i + 1] for i in frames]),
        )
        values = {}
        for tracker, est in rows:
            values[tracker] = scores(ref, est, use_mir_eval)
            v = values[tracker]
            print(
                f"{name:<12}{len(frames):>7}  {tracker:<12}{v['P']:>6.3f}{v['R']:>6.3f}"
                f"{v['F']:>6.3f}{v['chroma F']:>9.3f}"
            )
        ratio = {
            k: values["multi-pitch"][k] / max(values["one-pitch"][k], 1e-9) for k in ("P", "R", "F")
        }
        print(
            f"{'':<12}{'':>7}  {'ratio':<12}{ratio['P']:>6.2f}{ratio['R']:>6.2f}{ratio['F']:>6.2f}"
        )
    frames = np.flatnonzero([c >= 0 and len(chords[c]) == 1 for c in chord_of])
    keys = np.array([chords[chord_of[i]][0][0] for i in frames], float)
    shares = []
    for est in (f0_multi[frames], f0_single[frames][:, None]):
        semis = 12.0 * np.log2(np.where(est > 0, est, 1.0) / 440.0) + 69.0
        away = np.abs(semis - keys[:, None])
        octave = (est > 0) & (np.minimum(np.abs(away - 12.0), np.abs(away - 24.0)) <= 0.5)
        shares.append(np.any(octave, axis=1).mean())
    print(
        f"single notes' octave errors (a pitch one or two octaves off, {len(frames)} frames): "
        f"multi-pitch {shares[0]:.1%}, one-pitch {shares[1]:.1%}"
    )
    voiced = np.any(f0_multi[silent] > 0, axis=1)
    level = 20.0 * np.log10(np.maximum(mags[silent].max(axis=1), 1e-30) / (config.n_fft / 4))
    print(
        f"release tails ({np.sum(silent)} frames from {SILENT_AFTER_S} s after a note-off to "
        f"the next note-on, {np.mean(level < -120.0):.0%} of them under -120 dB): multi-pitch "
        f"reports a pitch in {voiced.mean():.1%}, whose loudest bin has a median of "
        f"{np.median(level[voiced]) if voiced.any() else float('nan'):.0f} dB re a full-scale "
        "sine's"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
