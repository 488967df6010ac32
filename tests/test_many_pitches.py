"""The many-pitch model: pitch slots and free peaks measured per frame, drawn by the decoder,
the same on the hop path, and steered live by /latent/pitches and /latent/chord."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from caminos.engine.clock.codec import FrameCodec, draw_slots_and_peaks
from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import CheckpointError
from caminos.models.autoencoder import SpectralVAE, hop_model, log_magnitude
from caminos.models.checkpoint import load_checkpoint, save_checkpoint
from caminos.models.partials import PartialAnalyser
from caminos.models.shape import ModelShape

RATE, N_FFT = 48000, 1024
BIN_HZ = RATE / N_FFT
WINDOW = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)


def frame(partials: list[tuple[float, float]], phase_seed: int = 0) -> np.ndarray:
    """Magnitudes of one Hann-windowed frame of sines ``(Hz, amplitude)``."""
    rng = np.random.default_rng(phase_seed)
    t = np.arange(N_FFT) / RATE
    x = sum(a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f, a in partials)
    return np.abs(np.fft.rfft(x * WINDOW))


def note(f0: float, partials: int = 10, amplitude: float = 0.2) -> list[tuple[float, float]]:
    return [(f0 * h, amplitude / h) for h in range(1, partials + 1) if f0 * h < RATE / 2 - 200]


def semitones_apart(a: float, b: float) -> float:
    return abs(12.0 * np.log2(a / b))


def test_analyser_finds_each_note_of_a_chord():
    notes = (261.63, 329.63, 392.00)  # C4 E4 G4
    analyser = PartialAnalyser(N_FFT, RATE, slots=3, peaks=0)
    mags = frame([p for f0 in notes for p in note(f0)])[None]
    f0, presence, _, _ = analyser.analyse(mags, np.array([100.0]))
    for true in notes:
        assert min(semitones_apart(true, found) for found in f0[0]) < 0.3, (true, f0)
    assert presence[0, 0] == 1.0 and np.all(presence[0, 1:] > 0.3)


def test_analyser_takes_no_octave_on_a_note_with_strong_even_partials():
    # Even partials twice as loud as the odd ones: the octave above must not win the first slot.
    partials = [(196.0 * h, (0.3 if h % 2 == 0 else 0.15) / h**0.5) for h in range(1, 14)]
    analyser = PartialAnalyser(N_FFT, RATE, slots=3, peaks=0)
    f0, presence, _, _ = analyser.analyse(frame(partials)[None], np.array([100.0]))
    assert semitones_apart(f0[0, 0], 196.0) < 0.3, f0
    filled = f0[0][presence[0] > 0]
    assert all(semitones_apart(f, 392.0) > 0.5 for f in filled), f0


def test_analyser_reports_partials_off_every_comb_as_free_peaks():
    bell = [(523.0, 0.3), (1410.7, 0.2), (2717.0, 0.15), (3300.0, 0.1)]
    analyser = PartialAnalyser(N_FFT, RATE, slots=3, peaks=4)
    f0, _, bins, mags = analyser.analyse(frame(bell)[None], np.array([100.0]))
    found = bins[0] * BIN_HZ
    for hz, amplitude in bell[1:]:
        nearest = int(np.argmin(np.abs(found - hz)))
        if abs(found[nearest] - hz) < BIN_HZ / 2:  # this partial is a free peak
            assert mags[0, nearest] == pytest.approx(amplitude * N_FFT / 4, rel=0.1)
    # every partial is either a free peak or the fundamental of a slot
    for hz, _ in bell:
        assert (
            np.min(np.abs(found - hz)) < BIN_HZ / 2
            or min(semitones_apart(hz, f) for f in f0[0]) < 0.2
        ), (hz, found, f0)


def test_the_peak_drawing_puts_a_partial_off_the_comb_within_half_a_bin():
    n = N_FFT // 2 + 1
    h = np.full(n, np.log(1e-3))
    centre = 57.37  # bins: 2689 Hz, no harmonic of the slot's 220 Hz
    semitones = 12.0 * np.log2(centre * BIN_HZ / 27.5)
    slot = np.array([12.0 * np.log2(220.0 / 27.5)])
    draw_slots_and_peaks(
        h,
        np.full(16, -20.0),
        16,
        slot,
        np.array([0.0]),
        np.zeros(4),
        0,
        np.array([semitones]),
        np.array([np.log(50.0)]),
        BIN_HZ,
        np.zeros(0, np.int64),
        np.zeros(0),
        np.zeros(n),
    )
    k = int(np.argmax(h))
    a, b, c = h[k - 1], h[k], h[k + 1]
    vertex = k + 0.5 * (a - c) / (a - 2 * b + c)
    assert abs(vertex - centre) < 0.5
    assert np.exp(b) == pytest.approx(50.0, rel=0.15)
    assert np.all(h[np.abs(np.arange(n) - centre) >= 2] == np.log(1e-3))  # nothing else drawn


def _drawn(base, heights, semitones, gates) -> np.ndarray:
    """The hop path's drawing of three slots (heights one per bin) on ``base``."""
    n = base.shape[0]
    h = base.copy()
    draw_slots_and_peaks(
        h,
        heights.reshape(-1),
        n,
        semitones,
        gates,
        np.zeros(4),
        0,
        np.zeros(0),
        np.zeros(0),
        BIN_HZ,
        np.zeros(0, np.int64),
        np.zeros(0),
        np.zeros(n),
    )
    return h


@pytest.mark.parametrize("quiet_gate", [1e-8, 1e-3])
def test_a_slot_too_quiet_to_move_a_bin_by_a_millionth_neper_is_left_out(quiet_gate):
    """Training draws every slot (draw_partials_torch); the hop path leaves out a slot whose
    comb would raise no bin by more than 1e-6 nepers, and so stays within that of it per slot
    left out; a slot above the bound is drawn as training draws it."""
    from caminos.models.autoencoder import draw_partials_torch

    n = N_FFT // 2 + 1
    rng = np.random.default_rng(3)
    heights = rng.normal(1.0, 1.0, (3, n))
    semitones = np.array([36.0, 40.0, 43.0])  # a major triad from 220 Hz
    gates = np.array([1.0, quiet_gate, quiet_gate])
    base = rng.normal(-3.0, 1.0, n)
    ours = _drawn(base, heights, semitones, gates)
    reference = draw_partials_torch(
        torch.tensor(base[None]),
        torch.tensor(heights[None]),
        torch.tensor(semitones[None]),
        torch.tensor(gates[None]),
        torch.zeros(1, 0, dtype=torch.float64),
        torch.zeros(1, 0, dtype=torch.float64),
        BIN_HZ,
    )[0].numpy()
    apart = np.abs(ours - reference).max()
    if quiet_gate < 1e-6:  # softplus(4.8) * 1e-8 = 5e-8 nepers at most: both left out
        np.testing.assert_array_equal(ours, _drawn(base, heights, semitones, gates * [1, 0, 0]))
        assert 0.0 < apart <= 2e-6
    else:
        assert apart <= 1e-9
        assert np.abs(ours - _drawn(base, heights, semitones, gates * [1, 0, 0])).max() > 1e-4


@pytest.fixture(scope="module")
def many_model() -> SpectralVAE:
    """A small untrained many-pitch model with its statistics fitted on chords and bells."""
    torch.manual_seed(0)
    shape = ModelShape(
        latent_dim=16,
        hidden=(48,),
        decoder_hidden=(48,),
        level=True,
        pitch=True,
        bin_hz=BIN_HZ,
        comb_bands=16,
        pitch_slots=3,
        free_peaks=2,
    )
    model = SpectralVAE(shape)
    rng = np.random.default_rng(0)
    frames = []
    for i in range(60):
        roots = 110.0 * 2.0 ** (rng.integers(0, 24, size=1 + i % 3) / 12.0)
        frames.append(frame([p for f0 in roots for p in note(f0)], i))
    frames.append(frame([(700.0, 0.2), (1873.0, 0.1)]))
    x = log_magnitude(np.stack(frames)).astype(np.float32)
    model.set_input_statistics(x)
    model.set_latent_statistics(x)
    return model.eval()


def test_hop_path_equals_the_model(many_model):
    x = log_magnitude(
        np.stack([frame(note(220.0) + note(330.0)), frame([(700.0, 0.2), (1873.0, 0.1)])])
    ).astype(np.float32)
    hop = FrameCodec(hop_model(many_model), batch=2, decode_batch=2)
    z = np.zeros((2, hop.latent_dim), np.float32)
    hop.encode(x, z)
    decoded = np.zeros((2, hop.n_bins))
    hop.decode_batch(z, decoded)
    with torch.no_grad():
        z_model = many_model.encode(torch.as_tensor(x)).numpy()
        reference = many_model.decode(torch.as_tensor(z)).numpy()
    np.testing.assert_allclose(z, z_model, atol=1e-4)
    np.testing.assert_allclose(np.log(decoded + 1e-3), np.log(reference + 1e-3), atol=2e-3)


def test_a_free_peak_survives_encode_and_decode(many_model):
    hop = FrameCodec(hop_model(many_model), batch=1)
    inharmonic = 2689.0  # a "bell" partial 3.84 times its 700 Hz, above every slot's range
    x = log_magnitude(frame([(700.0, 0.2), (inharmonic, 0.1)]))[None].astype(np.float32)
    z = np.zeros((1, hop.latent_dim), np.float32)
    hop.encode(x, z)
    _, _, bins, _ = PartialAnalyser(N_FFT, RATE, 3, 2).analyse(
        np.exp(x.astype(np.float64)) - 1e-3, np.array([100.0])
    )
    assert np.min(np.abs(bins[0] * BIN_HZ - inharmonic)) < BIN_HZ / 2  # a free peak
    out = np.zeros(hop.n_bins)
    hop.decode(z[0], out)
    centre = inharmonic / BIN_HZ
    k = int(round(centre))
    k = k - 1 + int(np.argmax(out[k - 1 : k + 2]))
    a, b, c = np.log(out[k - 1 : k + 2] + 1e-3)
    assert abs(k + 0.5 * (a - c) / (a - 2 * b + c) - centre) < 0.5
    assert out[k] == pytest.approx(0.1 * N_FFT / 4, rel=0.2)


def test_pitches_control_draws_only_the_strongest_slots(many_model):
    hop = FrameCodec(hop_model(many_model), batch=1)
    x = log_magnitude(frame(note(220.0) + note(311.1) + note(392.0)))[None].astype(np.float32)
    z = np.zeros((1, hop.latent_dim), np.float32)
    hop.encode(x, z)
    every, one = np.zeros(hop.n_bins), np.zeros(hop.n_bins)
    hop.decode(z[0], every)
    hop.set_pitch_slots(1)
    hop.decode(z[0], one)
    assert np.all(one <= every + 1e-9)  # slots only raise bins: fewer slots never add
    assert np.any(one < every * 0.9)
    hop.set_pitch_slots(3)
    again = np.zeros(hop.n_bins)
    hop.decode(z[0], again)
    np.testing.assert_array_equal(again, every)


def test_chord_raises_the_partials_of_the_interval_and_no_other_bins(config):
    """/latent/chord 7 on the shipped model: a fifth above the note's pitch appears."""
    model = load_checkpoint(
        config.model.checkpoint_path(), config.stft, config.audio.sample_rate
    ).model.eval()
    f0 = 220.0
    x = log_magnitude(frame(note(f0, 12)))[None].astype(np.float32)
    encoder = hop = FrameCodec(hop_model(model), batch=1)
    z = np.zeros((1, hop.latent_dim), np.float32)
    encoder.encode(x, z)
    plain, fifth = np.zeros(hop.n_bins), np.zeros(hop.n_bins)
    encoder.decode(z[0], plain)
    encoder.set_chord([7.0])
    encoder.decode(z[0], fifth)
    encoder.set_chord([])
    cleared = np.zeros(hop.n_bins)
    encoder.decode(z[0], cleared)
    np.testing.assert_array_equal(cleared, plain)
    upper = f0 * 2.0 ** (7.0 / 12.0) / BIN_HZ  # the fifth's partials, in bins
    rise_db = 20 * np.log10((fifth + 1e-3) / (plain + 1e-3))
    bins = np.arange(hop.n_bins)
    near = np.zeros(hop.n_bins, bool)
    for m in range(1, int(hop.n_bins / upper) + 2):  # the comb reaches the top bin
        near |= np.abs(bins - m * upper) < 2.0
    assert np.all(rise_db[~near] > -1e-6) and np.all(rise_db[~near] < 1e-3)  # elsewhere: unchanged
    lower = f0 / BIN_HZ
    fresh = [
        round(m * upper)
        for m in range(1, 8)
        if np.min(np.abs(m * upper - lower * np.arange(1, 40))) > 2.0
    ]
    assert np.median(rise_db[fresh]) > 6.0, rise_db[fresh]


def test_checkpoint_versions(many_model, tmp_path):
    stft = StftConfig()
    path = tmp_path / "many.pt"
    save_checkpoint(path, many_model, stft, RATE)
    data = torch.load(path, weights_only=True)
    assert data["version"] == 3
    loaded = load_checkpoint(path, stft, RATE).model.eval()
    assert loaded.shape == many_model.shape
    x = log_magnitude(frame(note(220.0)))[None].astype(np.float32)
    with torch.no_grad():
        torch.testing.assert_close(
            loaded.decode(loaded.encode(torch.as_tensor(x))),
            many_model.decode(many_model.encode(torch.as_tensor(x))),
        )
    data["version"] = 4
    future = tmp_path / "future.pt"
    torch.save(data, future)
    with pytest.raises(CheckpointError, match=r"future\.pt.*version 4"):
        load_checkpoint(future, stft, RATE)


def test_a_one_comb_model_is_still_written_as_version_2(tmp_path):
    shape = ModelShape(
        latent_dim=16, hidden=(32,), level=True, pitch=True, bin_hz=BIN_HZ, comb_bands=16
    )
    path = tmp_path / "one.pt"
    save_checkpoint(path, SpectralVAE(shape), StftConfig(), RATE)
    assert torch.load(path, weights_only=True)["version"] == 2


def test_hop_path_of_a_many_pitch_model_allocates_nothing(many_model):
    import tracemalloc

    hop = FrameCodec(hop_model(many_model), batch=2, decode_batch=4)
    x = log_magnitude(
        np.stack([frame(note(220.0) + note(330.0)), frame([(700.0, 0.2), (1873.0, 0.1)])])
    ).astype(np.float32)
    z = np.zeros((2, hop.latent_dim), np.float32)
    voices = np.zeros((4, hop.latent_dim), np.float32)
    out = np.zeros((4, hop.n_bins))
    hop.set_chord([4.0, 7.0])

    def run(hops: int) -> None:
        for _ in range(hops):
            hop.encode(x, z)
            voices[:2] = z
            voices[2:] = z
            hop.decode_batch(voices, out)

    run(20)
    tracemalloc.start()
    run(10)
    before = tracemalloc.take_snapshot()
    run(500)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert sum(s.size_diff for s in after.compare_to(before, "filename")) < 4 * 1024


def test_shape_refuses_many_pitches_without_room_or_channels():
    from caminos.engine.core.errors import ParameterError

    with pytest.raises(ParameterError, match="learned"):
        ModelShape(
            latent_dim=16, level=True, pitch=True, bin_hz=BIN_HZ, pitch_slots=4, free_peaks=4
        )
    with pytest.raises(ParameterError, match="pitch channel"):
        ModelShape(latent_dim=16, level=True, pitch=False, pitch_slots=3)


def test_chord_is_a_control_that_scenes_store_and_recall(tmp_path):
    """/latent/chord reaches the hop path's decoder, is queried, and a scene brings it back."""
    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.surface import attach
    from caminos.engine.core.config import load_config

    engine = Engine(load_config(overrides={"field.layout": "mono"}))
    attach(engine, patches=tmp_path, recordings=tmp_path)
    engine.post("/latent/chord", 4, 7)
    engine.tick()
    assert engine.get("/latent/chord") == (4.0, 7.0)
    assert list(engine.frame_codec.chord[: engine.frame_codec.chord_count[0]]) == [4.0, 7.0]
    engine.post("/scene/store", 1)
    engine.post("/latent/chord", 0)
    engine.tick()
    assert engine.get("/latent/chord") == (0.0,) and engine.frame_codec.chord_count[0] == 0
    engine.post("/scene/recall", 1, 0.0)
    for _ in range(3):
        engine.tick()
    assert engine.get("/latent/chord") == (4.0, 7.0)
    assert engine.frame_codec.chord_count[0] == 2


def test_a_chord_landmark_replays_as_a_chord(config):
    """The shipped model: a held three-note chord's latent, decoded with no source (a landmark
    replayed), keeps each note's first partials within 6 dB."""
    model = load_checkpoint(
        config.model.checkpoint_path(), config.stft, config.audio.sample_rate
    ).model.eval()
    assert model.shape.pitch_slots >= 3
    notes = (196.0, 246.9, 293.7)  # G3 B3 D4
    frames = np.stack([frame([p for f0 in notes for p in note(f0, 8)], seed) for seed in range(8)])
    x = log_magnitude(frames).astype(np.float32)
    hop = FrameCodec(hop_model(model), batch=len(x))
    z = np.zeros((len(x), hop.latent_dim), np.float32)
    hop.encode(x, z)
    decoded = np.zeros(hop.n_bins)
    hop.decode(z[0], decoded)  # one frame's latent alone, as a landmark replays it
    for f0 in notes:
        for m in (1, 2):
            k = int(round(m * f0 / BIN_HZ))
            kept = decoded[k - 1 : k + 2].max()
            true = frames[0, k - 1 : k + 2].max()
            assert 20 * np.log10(kept / true) > -6.0, (f0, m, kept, true)
