"""The multi-pitch tracker: synthetic chords through the project's STFT give their notes, a note
with strong even partials gives no octave (held or decaying, with vibrato), silence gives no
slots, the per-frame path equals the batched one from a reset state, the state holds a
wavering chord's slots steady yet follows a chord change within a few frames, and its kernels
against numpy references."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from caminos.engine.core.config import StftConfig
from caminos.engine.dsp.spectral import stft
from caminos.models.multipitch import (
    ALPHA_HZ,
    BETA_HZ,
    CONTRAST,
    MultiPitchTracker,
    cancel_partials,
    candidate_grid,
    salience_taps,
    saliences,
)
from caminos.models.pitch import hann_lobe

RATE = 48_000
CFG = StftConfig()  # n_fft 1024, hop 256
BIN_HZ = RATE / CFG.n_fft
EDGE = 4  # frames at each end that see the zero padding around the signal


def midi_hz(key: int) -> float:
    return 440.0 * 2.0 ** ((key - 69) / 12.0)


# The tracker without its state: no held spectrum, one threshold (the previous release's),
# whatever the past frames held.
STATELESS = dict(
    spectrum_release=0.0,
    min_relative_salience=0.45,
    held_relative_salience=0.45,
    later_pick_factor=1.0,
)


def tone(
    f0: float,
    rng: np.random.Generator,
    even_gain: float = 1.0,
    seconds: float = 0.4,
    vibrato_cents: float = 0.0,
    tremolo: float = 0.0,
    decay_per_s: float = 0.0,
) -> np.ndarray:
    """Harmonics up to 16 kHz with amplitudes 1/k (``even_gain``/k for even k), random phases;
    optionally a 5.5 Hz vibrato of ``vibrato_cents`` (peak), a 4 Hz tremolo of depth
    ``tremolo`` (share of the level) and an exponential decay (1/s)."""
    t = np.arange(int(seconds * RATE)) / RATE
    wobble = (
        vibrato_cents
        / 1200.0
        * np.log(2.0)
        * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0.0, 2 * np.pi))
    )
    phase = 2 * np.pi * f0 * np.cumsum(1.0 + wobble) / RATE
    x = np.zeros_like(t)
    for k in range(1, int(16000 / f0) + 1):
        gain = even_gain if k % 2 == 0 else 1.0
        x += gain / k * np.sin(k * phase + rng.uniform(0.0, 2 * np.pi))
    envelope = 1.0 + tremolo * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0.0, 2 * np.pi))
    return x * envelope * np.exp(-decay_per_s * t)


def chord_frames(keys: list[int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 0.3 * sum(tone(midi_hz(k), rng) for k in keys) / len(keys)
    return np.abs(stft(x, CFG))[EDGE:-EDGE]


def semitones(f0: np.ndarray) -> np.ndarray:
    return 12.0 * np.log2(np.where(f0 > 0, f0, 1.0) / 440.0) + 69.0


CHORDS = {
    "major triad C4 E4 G4": [60, 64, 67],
    "fifth G3 D4": [55, 62],
    "fourth C4 F4": [60, 65],
    "minor third E4 G4": [64, 67],
    "minor seventh D4 F4 A4 C5": [62, 65, 69, 72],  # four notes, no octave between any two
}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", list(CHORDS))
def test_chords_give_their_notes(name: str, seed: int) -> None:
    """Each note within half a semitone in at least 80% of the frames (the worst note of these
    seeds, the minor seventh's lowest, was found in 99%; over seeds 0 to 4 the worst is 63%,
    57% without the state), and at most 0.25 other pitches per frame on average (0.014 at
    worst here; 0.37 over seeds 0 to 4, 0.59 without the state)."""
    keys = CHORDS[name]
    f0, salience = MultiPitchTracker(CFG.n_fft, RATE).track(chord_frames(keys, seed))
    notes = semitones(f0)
    filled = f0 > 0
    for key in keys:
        found = np.any(filled & (np.abs(notes - key) <= 0.5), axis=1)
        assert found.mean() >= 0.8, (key, found.mean())
    near = np.any(np.abs(notes[:, :, None] - np.array(keys)) <= 0.5, axis=2)
    assert (filled & ~near).sum(axis=1).mean() <= 0.25
    assert np.all(np.diff(salience, axis=1) <= 0.0)  # sorted, empty slots (0) last
    assert np.all((f0 > 0) == (salience > 0))


@pytest.mark.parametrize("key", [45, 57, 64, 72, 84])
def test_a_single_note_fills_one_slot_within_ten_cents(key: int) -> None:
    f0, _ = MultiPitchTracker(CFG.n_fft, RATE).track(chord_frames([key], seed=key))
    assert np.all(np.count_nonzero(f0, axis=1) == 1)
    assert abs(np.median(1200.0 * np.log2(f0[:, 0] / midi_hz(key)))) < 10.0


@pytest.mark.parametrize("f0_hz", [220.0, 330.0, 440.0])
@pytest.mark.parametrize("even_gain", [2.0, 2.5])
def test_strong_even_partials_give_no_octave_error(f0_hz: float, even_gain: float) -> None:
    """With even partials ``even_gain`` times 1/k the second partial is as loud as the first or
    louder (1.25 times at 2.5): the first slot stays on the fundamental, and no slot lands an
    octave above or below it, in any frame."""
    x = 0.3 * tone(f0_hz, np.random.default_rng(7), even_gain=even_gain)
    f0, _ = MultiPitchTracker(CFG.n_fft, RATE).track(np.abs(stft(x, CFG))[EDGE:-EDGE])
    assert np.all(np.abs(1200.0 * np.log2(f0[:, 0] / f0_hz)) < 50.0)
    cents = 1200.0 * np.log2(np.where(f0 > 0, f0, 1.0) / f0_hz)
    assert not np.any((f0 > 0) & (np.abs(np.abs(cents) - 1200.0) < 50.0))


def test_silence_and_sound_under_the_gate_give_empty_slots() -> None:
    tracker = MultiPitchTracker(CFG.n_fft, RATE, gate_db=-70.0)
    rng = np.random.default_rng(3)
    zeros = np.zeros((5, CFG.n_bins))
    hiss = np.abs(stft(1e-5 * rng.standard_normal(RATE // 4), CFG))  # about -100 dB a bin
    quiet = np.abs(stft(10 ** (-80 / 20) * tone(262.0, rng), CFG))[EDGE:-EDGE]  # -80 dB peak
    for mags in (zeros, hiss, quiet):
        f0, salience = tracker.track(mags)
        assert not f0.any() and not salience.any()
    audible = np.abs(stft(10 ** (-50 / 20) * tone(262.0, rng), CFG))[EDGE:-EDGE]
    assert np.all(tracker.track(audible)[0][:, 0] > 0)  # the gate is not above a -50 dB note


@pytest.mark.parametrize("key", [57, 64, 72, 84])
def test_a_decaying_wavering_note_gives_no_octave_error(key: int) -> None:
    """A single note whose second partial is louder than its first (even partials 2.5/k), with
    a 30-cent vibrato, a tremolo and a decay of 20 dB over the frames: one slot in every frame,
    on the note, never an octave above or below, though the held spectrum and the presence
    carry each frame into the next. (Under A3 the partials are under 5 bins apart and such a
    note fails with or without the state: D3 gets its octave in most frames.)"""
    rng = np.random.default_rng(key)
    x = 0.3 * tone(
        midi_hz(key),
        rng,
        even_gain=2.5,
        seconds=0.8,
        vibrato_cents=30.0,
        tremolo=0.3,
        decay_per_s=2.9,
    )
    f0, _ = MultiPitchTracker(CFG.n_fft, RATE).track(np.abs(stft(x, CFG))[EDGE:-EDGE])
    cents = 1200.0 * np.log2(np.where(f0 > 0, f0, 1.0) / midi_hz(key))
    assert np.all(np.abs(cents[:, 0]) < 50.0)
    assert not np.any((f0 > 0) & (np.abs(np.abs(cents) - 1200.0) < 50.0))
    assert np.all(np.count_nonzero(f0, axis=1) == 1)


def test_the_frame_path_equals_the_batched_path() -> None:
    """:meth:`track` is :meth:`reset` then :meth:`track_frame` frame by frame, to the bit, and
    a second :meth:`track` starts again from the reset state."""
    mags = chord_frames([57, 60, 64, 71], seed=5)[:12]
    tracker = MultiPitchTracker(CFG.n_fft, RATE, slots=3)
    f0, salience = tracker.track(mags)
    assert f0.shape == salience.shape == (12, 3)
    tracker.reset()
    f0_out, salience_out = np.full(3, np.nan), np.full(3, np.nan)
    for i, frame in enumerate(mags):
        filled = tracker.track_frame(frame, f0_out, salience_out)
        np.testing.assert_array_equal(f0_out, f0[i])
        np.testing.assert_array_equal(salience_out, salience[i])
        assert filled == np.count_nonzero(f0[i])
    again = tracker.track(mags)
    np.testing.assert_array_equal(again[0], f0)
    np.testing.assert_array_equal(again[1], salience)


def test_reset_forgets_the_past_frames() -> None:
    """After a chord, the next chord's first frames depend on it (the state), until
    :meth:`reset`: then they are those of a fresh tracker."""
    first = chord_frames([60, 64, 67], seed=8)
    second = chord_frames([62, 65, 69, 72], seed=9)[:8]
    fresh_f0, fresh_salience = MultiPitchTracker(CFG.n_fft, RATE).track(second)
    tracker = MultiPitchTracker(CFG.n_fft, RATE)
    f0_out, salience_out = np.zeros(4), np.zeros(4)
    for frame in first:
        tracker.track_frame(frame, f0_out, salience_out)
    carried = np.zeros_like(fresh_f0)
    for i, frame in enumerate(second):
        tracker.track_frame(frame, carried[i], salience_out)
    assert not np.array_equal(carried, fresh_f0)  # the first chord's state is felt
    for frame in first:
        tracker.track_frame(frame, f0_out, salience_out)
    tracker.reset()
    for i, frame in enumerate(second):
        tracker.track_frame(frame, f0_out, salience_out)
        np.testing.assert_array_equal(f0_out, fresh_f0[i])
        np.testing.assert_array_equal(salience_out, fresh_salience[i])


def pitch_sets(f0: np.ndarray) -> list[frozenset]:
    """Each frame's pitches, rounded to MIDI keys."""
    return [frozenset(np.round(semitones(row[row > 0])).astype(int).tolist()) for row in f0]


@pytest.mark.parametrize("seed", [0, 1])
def test_a_wavering_sustained_chord_keeps_its_slots(seed: int) -> None:
    """D4 F4 A4 C5 held for a second, each note with a 20-cent vibrato and a 30% tremolo: the
    set of pitches changes in at most 5% of the 182 frame steps (5 and 1 here; 1 and 4 with
    seeds 2 and 3), each note is found in at least 90% of the frames (97.8% at worst; 94.5%
    with seeds 2 and 3) and other pitches fill at most 0.05 slots a frame (0.022); without the
    state the set changes in more than a third of the steps (116 and 86; its worst note is
    found in 78% and 89%), the chord's difficulty that the state answers."""
    keys = [62, 65, 69, 72]
    rng = np.random.default_rng(seed)
    x = (
        0.3
        * sum(tone(midi_hz(k), rng, seconds=1.0, vibrato_cents=20.0, tremolo=0.3) for k in keys)
        / len(keys)
    )
    mags = np.abs(stft(x, CFG))[EDGE:-EDGE]
    changes = {}
    for name, settings in (("stateful", {}), ("stateless", STATELESS)):
        sets = pitch_sets(MultiPitchTracker(CFG.n_fft, RATE, **settings).track(mags)[0])
        changes[name] = sum(a != b for a, b in zip(sets, sets[1:])) / (len(sets) - 1)
        if name == "stateful":
            for key in keys:
                assert np.mean([key in s for s in sets]) >= 0.9, key
            assert np.mean([len(s - set(keys)) for s in sets]) <= 0.05
    assert changes["stateful"] <= 0.05, changes
    assert changes["stateless"] > 1.0 / 3.0, changes


def test_a_chord_change_is_followed_within_two_frames() -> None:
    """C4 E4 G4, then D4 F4 A4 at once: the new chord is whole from at most 1 frame after the
    first frame whose window lies inside it, and the old notes are gone 2 frames after it at
    the latest (the held spectrum's release; seeds 3 to 5 give +1 and -1, 0 and -2, 0 and +2).
    Without the state: -1 and -2 (the windows that straddle the change already hold it)."""
    rng = np.random.default_rng(3)
    old, new = [60, 64, 67], [62, 65, 69]
    half = [0.3 * sum(tone(midi_hz(k), rng, seconds=0.5) for k in keys) / 3 for keys in (old, new)]
    mags = np.abs(stft(np.concatenate(half), CFG))[:-EDGE]
    inside = int(np.ceil((len(half[0]) + CFG.n_fft - CFG.hop) / CFG.hop))  # the first such frame
    sets = pitch_sets(MultiPitchTracker(CFG.n_fft, RATE).track(mags)[0])
    assert all(set(new) <= s for s in sets[inside + 1 :])
    assert not any(s & set(old) for s in sets[inside + 3 :])
    assert all(set(old) <= s and not s & set(new) for s in sets[EDGE : inside - 4])


def test_a_frame_of_nan_is_silence_and_leaves_the_state_sound() -> None:
    """A frame holding NaN (or infinity) gives no slots and counts as a silent frame in the
    state: the frames after it are those after a frame of zeros."""
    mags = chord_frames([57, 60, 64], seed=4)[:10]
    bad = mags.copy()
    bad[4, 100] = np.nan
    bad[5, 3] = np.inf
    zeroed = mags.copy()
    zeroed[4:6] = 0.0
    tracker = MultiPitchTracker(CFG.n_fft, RATE)
    f0_bad, salience_bad = tracker.track(bad)
    f0_zero, salience_zero = tracker.track(zeroed)
    assert not f0_bad[4:6].any() and np.all(f0_bad[6:, 0] > 0)
    np.testing.assert_array_equal(f0_bad, f0_zero)
    np.testing.assert_array_equal(salience_bad, salience_zero)


def test_the_frame_path_keeps_no_memory_per_frame() -> None:
    mags = chord_frames([60, 64, 67], seed=6)[:4]
    tracker = MultiPitchTracker(CFG.n_fft, RATE)
    f0_out, salience_out = np.zeros(4), np.zeros(4)
    tracker.track_frame(mags[0], f0_out, salience_out)  # compile and warm
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(100):
            for frame in mags:
                tracker.track_frame(frame, f0_out, salience_out)
        growth = sum(
            s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename")
        )
    finally:
        tracemalloc.stop()
    assert growth < 4096  # bytes over 400 frames: nothing kept per frame


def test_the_salience_kernel_equals_a_direct_sum() -> None:
    """Klapuri's weights on square-rooted magnitudes at the harmonics, read by linear
    interpolation, less the contrast at the interharmonics: numpy's interp as the reference."""
    rng = np.random.default_rng(11)
    r = rng.uniform(0.0, 2.0, CFG.n_bins)
    candidates = candidate_grid(65.0, 2100.0, 4)
    index, frac, weight = salience_taps(
        candidates, CFG.n_bins, BIN_HZ, 20, ALPHA_HZ, BETA_HZ, CONTRAST
    )
    scores = np.zeros(len(candidates))
    saliences(r, index, frac, weight, scores)
    bins = np.arange(CFG.n_bins)
    for c, f in enumerate(candidates):
        expected = 0.0
        for m in range(1, 21):
            g = (f + ALPHA_HZ) / (m * f + BETA_HZ)
            for position, w in ((m * f / BIN_HZ, g), ((m - 0.5) * f / BIN_HZ, -CONTRAST * g)):
                if np.floor(position) + 1 < CFG.n_bins:
                    expected += w * np.interp(position, bins, r)
        assert scores[c] == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("f0_bins", [1.7, 5.58, 12.25, 40.0])
def test_cancellation_equals_the_smoothed_lobes(f0_bins: float) -> None:
    rng = np.random.default_rng(int(f0_bins * 100))
    residual = rng.uniform(0.0, 1.0, CFG.n_bins)
    before = residual.copy()
    amps, detected = np.zeros(400), np.zeros(CFG.n_bins)
    cancel_partials(f0_bins, residual, 0.8, amps, detected)
    partials = [m for m in range(1, 400) if round(m * f0_bins) + 3 <= CFG.n_bins]
    a = np.array([before[round(m * f0_bins) - 1 : round(m * f0_bins) + 2].max() for m in partials])
    padded = np.concatenate([[np.nan], a, [np.nan]])
    neighbours = np.stack([padded[:-2], 2 * a, padded[2:]])
    smooth = np.minimum(
        a, np.nansum(neighbours, axis=0) / (2 + ~np.isnan(padded[:-2]) + ~np.isnan(padded[2:]))
    )
    expected = np.zeros(CFG.n_bins)
    for m, height in zip(partials, smooth):
        centre = round(m * f0_bins)
        k = np.arange(max(0, centre - 2), min(CFG.n_bins, centre + 3))
        expected[k] += height * hann_lobe(k - m * f0_bins)
    np.testing.assert_allclose(detected, expected, atol=1e-12)
    np.testing.assert_allclose(residual, np.maximum(0.0, before - 0.8 * expected), atol=1e-12)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        MultiPitchTracker(CFG.n_fft, RATE, slots=0)
    with pytest.raises(ValueError):
        MultiPitchTracker(CFG.n_fft, RATE, f0_min=500.0, f0_max=400.0)
    with pytest.raises(ValueError):
        MultiPitchTracker(CFG.n_fft, RATE).track(np.zeros((3, CFG.n_bins + 1)))
    for name in ("presence_decay", "spectrum_release"):
        with pytest.raises(ValueError):
            MultiPitchTracker(CFG.n_fft, RATE, **{name: 1.0})
