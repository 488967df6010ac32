"""The many-pitch analysis read as streams: a sound's frames in order carry the tracker's state
and keep the free peaks they chose, as the engine hears a sound; frames alone (training) read
as before."""

from __future__ import annotations

import numpy as np

from caminos.models.partials import PEAK_CONTINUITY, PartialAnalyser

RATE, N_FFT = 48000, 1024
BIN_HZ = RATE / N_FFT
WINDOW = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)
SLOTS, PEAKS = 3, 6


def frame(partials: list[tuple[float, float]], phase_seed: int = 0) -> np.ndarray:
    """Magnitudes of one Hann-windowed frame of sines ``(Hz, amplitude)``."""
    rng = np.random.default_rng(phase_seed)
    t = np.arange(N_FFT) / RATE
    x = sum(a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f, a in partials)
    return np.abs(np.fft.rfft(x * WINDOW))


def chord_then_bell(frames: int, seed: int) -> np.ndarray:
    """A chord (three notes) for half the frames, then a bell of inharmonic partials, each
    frame's partials a little louder or softer at random."""
    rng = np.random.default_rng(seed)
    chord = [(f0 * h, 0.2 / h) for f0 in (220.0, 277.2, 329.6) for h in range(1, 9)]
    bell = [(f, 0.1) for f in (523.0, 1187.0, 1681.0, 2341.0, 3107.0, 4153.0, 5260.0, 6971.0)]
    out = []
    for i in range(frames):
        partials = chord if i < frames // 2 else bell
        wobble = 10.0 ** (rng.uniform(-1.0, 1.0, len(partials)) / 20.0)  # +-1 dB
        out.append(frame([(f, a * w) for (f, a), w in zip(partials, wobble)], i))
    return np.array(out)


BELL = (811.0, 1433.0, 2017.0, 2689.0, 3301.0, 3967.0, 4621.0, 5279.0, 5903.0, 6637.0)


def wobbling_bell(frames: int, seed: int) -> np.ndarray:
    """Ten inharmonic partials (:data:`BELL`, Hz) of one height, each frame each partial 1 dB
    louder or softer at random: more partials of about one height than free peaks."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(frames):
        wobble = 10.0 ** (rng.uniform(-1.0, 1.0, len(BELL)) / 20.0)
        out.append(frame([(f, 0.05 * w) for f, w in zip(BELL, wobble)], i))
    return np.array(out)


def changed_peaks(peak_bins: np.ndarray) -> np.ndarray:
    """Per frame after the first, whether its set of free peaks (rounded bins) differs from
    the frame before's."""
    chosen = [frozenset(np.round(row).astype(int)) for row in peak_bins]
    return np.array([a != b for a, b in zip(chosen, chosen[1:])])


def outputs(analyser: PartialAnalyser) -> tuple[np.ndarray, ...]:
    """What the hop path's call wrote: fundamentals, presences, peaks' bins and magnitudes."""
    return analyser.f0, analyser.presence, analyser.peak_bins, analyser.peak_mags


def test_frames_alone_do_not_depend_on_each_other_or_on_a_stream() -> None:
    mags = chord_then_bell(12, 0)
    analyser = PartialAnalyser(N_FFT, RATE, SLOTS, PEAKS)
    analyser.analyse_stream(mags, np.full(12, 100.0))  # a stream in progress changes nothing
    together = analyser.analyse(mags, np.full(12, 100.0))
    for i in (0, 5, 11):
        alone = PartialAnalyser(N_FFT, RATE, SLOTS, PEAKS).analyse(mags[i : i + 1], [100.0])
        for a, b in zip(together, alone):
            assert np.array_equal(a[i : i + 1], b)


def test_a_stream_starts_as_a_frame_alone_and_reset_starts_it_again() -> None:
    mags = wobbling_bell(20, 1)
    fallback = np.full(20, 100.0)
    analyser = PartialAnalyser(N_FFT, RATE, SLOTS, PEAKS)
    first = analyser.analyse_stream(mags, fallback)
    alone = analyser.analyse(mags, fallback)
    for a, b in zip(first, alone):
        assert np.array_equal(a[0], b[0])  # a stream's first frame is read alone
    carried = analyser.analyse_stream(mags, fallback)  # continues: it keeps its peaks
    assert changed_peaks(carried[2]).sum() < changed_peaks(alone[2]).sum() / 2
    assert not all(np.array_equal(a, b) for a, b in zip(carried, alone))
    analyser.reset()
    again = analyser.analyse_stream(mags, fallback)
    for a, b in zip(again, first):
        assert np.array_equal(a, b)
    # a stream cut in two calls is the same stream
    analyser.reset()
    halves = [
        analyser.analyse_stream(mags[:7], fallback[:7]),
        analyser.analyse_stream(mags[7:], fallback[7:]),
    ]
    for k in range(4):
        assert np.array_equal(np.concatenate([halves[0][k], halves[1][k]]), first[k])


def test_the_hop_paths_rows_are_streams_of_their_own_and_a_silent_row_starts_afresh() -> None:
    a, b = chord_then_bell(16, 2), chord_then_bell(16, 3)[::-1].copy()
    fallback = np.full(16, 100.0)
    hop_path = PartialAnalyser(N_FFT, RATE, SLOTS, PEAKS, batch=2)
    rows = []
    for i in range(16):
        hop_path.analyse_into(np.stack([a[i], b[i]]), fallback[:2])
        rows.append([x.copy() for x in outputs(hop_path)])
    for r, sound in enumerate((a, b)):
        expected = PartialAnalyser(N_FFT, RATE, SLOTS, PEAKS).analyse_stream(sound, fallback)
        for k in range(4):
            assert np.array_equal(np.array([row[k][r] for row in rows]), expected[k])
    # row 1 silent for a hop: its next frame is read alone, row 0 goes on
    hop_path.analyse_into(np.stack([a[0], b[0]]), fallback[:2], np.array([1.0, 0.0]))
    hop_path.analyse_into(np.stack([a[1], b[1]]), fallback[:2], np.array([1.0, 1.0]))
    alone = PartialAnalyser(N_FFT, RATE, SLOTS, PEAKS).analyse(b[1:2], fallback[:1])
    for k in range(4):
        assert np.array_equal(outputs(hop_path)[k][1], alone[k][0])


def test_a_stream_keeps_the_free_peaks_it_chose_where_frames_alone_flicker() -> None:
    """Read alone, each frame's six largest of ten partials of one height are a new draw; as a
    stream, the six chosen first stay, since a kept peak weighs PEAK_CONTINUITY times (about
    4 dB) more than a 1 dB wobble."""
    assert 20.0 * np.log10(PEAK_CONTINUITY**2) > 2.0
    mags = wobbling_bell(40, 4)
    fallback = np.full(len(mags), 100.0)
    analyser = PartialAnalyser(N_FFT, RATE, SLOTS, PEAKS)
    _, _, alone_bins, _ = analyser.analyse(mags, fallback)
    _, _, stream_bins, stream_mags = analyser.analyse_stream(mags, fallback)
    assert changed_peaks(alone_bins).sum() >= 20  # a new six most frames
    assert changed_peaks(stream_bins).sum() == 0
    assert np.all(stream_mags > 0.0)
    # the peaks are still each frame's own: refined on the frame's magnitudes
    centres = np.array(BELL) / BIN_HZ
    for row in stream_bins:
        assert np.min(np.abs(centres[:, None] - row[None, :]), axis=0).max() < 0.5


def test_the_hop_paths_codec_reads_each_row_as_a_stream_and_restarts_them() -> None:
    """FrameCodec (the engine's encode): a frame after others is read as a stream's next one,
    and after restart_streams as the first of a new stream, as a fresh codec reads it."""
    from caminos.engine.clock.codec import FrameCodec
    from caminos.engine.core.config import load_config
    from caminos.models.checkpoint import load_checkpoint

    config = load_config(None)
    model = load_checkpoint(config.model.checkpoint_path(), config.stft, RATE).hop_model()
    mags = wobbling_bell(12, 6) + 1e-3  # with the floor the engine adds
    logs = np.log(mags).astype(np.float32)
    # a frame whose six largest are not the six the stream kept from its first frame
    _, _, bins, _ = PartialAnalyser(N_FFT, RATE, SLOTS, PEAKS).analyse(mags - 1e-3, np.ones(12))
    last = int(
        np.flatnonzero(np.array([set(np.round(b)) != set(np.round(bins[0])) for b in bins]))[-1]
    )

    def encode(codec: FrameCodec, i: int) -> np.ndarray:
        z = np.zeros((1, codec.latent_dim), np.float32)
        codec.encode(logs[i : i + 1], z, mags[i : i + 1].copy())
        return z[0]

    codec = FrameCodec(model, batch=1)
    for i in range(last):
        encode(codec, i)
    carried = encode(codec, last)
    first = encode(FrameCodec(model, batch=1), last)
    assert not np.array_equal(carried, first)
    codec.restart_streams()
    assert np.array_equal(encode(codec, last), first)


def test_the_hop_paths_fallback_pitch_is_taken_only_for_a_frame_without_a_slot() -> None:
    """A NaN fallback is the one-pitch tracker's estimate where the analysis finds no pitch (a
    tone under the gate) and is never computed where it finds one (a loud tone)."""
    from caminos.models.multipitch import GATE_DB
    from caminos.models.pitch import PitchTracker

    tracker = PitchTracker(N_FFT, RATE)
    tone = [(220.0 * h, 0.3 / h) for h in range(1, 9)]
    loud = frame(tone)
    gate = N_FFT / 4 * 10.0 ** (GATE_DB / 20.0)
    quiet = loud * (0.5 * gate / loud.max())  # under the gate: no slot
    mags = np.stack([quiet, loud])
    one_pitch = (
        np.sqrt(mags).astype(np.float32),
        tracker.matrix_t,
        np.zeros((2, tracker.matrix_t.shape[1]), np.float32),
        np.array([np.log2(tracker.candidates[0] / 27.5), tracker.log_step]),
    )
    fallback = np.full(2, np.nan)
    analyser = PartialAnalyser(N_FFT, RATE, SLOTS, PEAKS, batch=2)
    analyser.analyse_into(mags, fallback, None, one_pitch)
    assert np.all(analyser.presence[0] == 0.0)  # no slot: every slot at the fallback
    assert abs(12.0 * np.log2(fallback[0] / 220.0)) < 0.3
    assert np.all(analyser.f0[0] == fallback[0])
    assert np.isnan(fallback[1])  # a slot found: the product never ran
    assert abs(12.0 * np.log2(analyser.f0[1, 0] / 220.0)) < 0.3
