"""The hop clock: Engine.tick() from sources through the model and phase to safe samples."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from caminos.engine.clock.engine import Engine
from caminos.engine.core.config import load_config
from caminos.engine.core.errors import ControlError
from caminos.engine.dsp.spectral import stft
from caminos.engine.dsp.texture import TEXTURE_HIGH_DB, TEXTURE_LOW_DB, add_texture
from caminos.models.autoencoder import log_magnitude
from caminos.models.shape import MAGNITUDE_FLOOR
from tests.allocation import allocated_at_peak
from tests.conftest import sine

HOP_SECONDS = 256 / 48000


@pytest.fixture(scope="module")
def engine() -> Engine:
    """One voice copied to every channel (the mono layout): the chain these tests follow frame by
    frame; the voices of a field are tests/test_field.py's."""
    engine = Engine(load_config(overrides={"field.layout": "mono"}))
    engine.warm_up()
    return engine


@pytest.fixture
def fresh(engine: Engine) -> Engine:
    """The module's engine, back at hop 0 with default controls and no file."""
    engine.reset()
    engine.queue.clear()
    engine.mixer.reset()
    for smoothed in engine.source_gains:
        smoothed.jump(1.0)
    engine.out_gain.jump(1.0)
    engine.texture.amount.jump(engine.config.model.texture)
    engine.player.file = None
    engine.player.playing = False
    engine.player.speed.jump(1.0)
    engine.recorders.clear()
    engine.counters.update(bad_model_frames=0, bad_source_frames=0, control_errors=0)
    if engine.phase.method != engine.config.engine.phase_method:
        engine.phase.switch(engine.phase.build(engine.config.engine.phase_method))
        engine.phase.reset()
    return engine


def _run(engine: Engine, hops: int) -> np.ndarray:
    return np.concatenate([engine.tick().copy() for _ in range(hops)])


def test_silent_without_sources(fresh: Engine) -> None:
    out = _run(fresh, 50)
    assert out.shape == (50 * 256, 2)
    assert np.all(out == 0.0)


def test_file_player_frames_decode_as_the_model_decodes_the_file(
    fresh: Engine, write_sound
) -> None:
    """Golden: at speed 1 and without texture the engine decodes exactly the model's offline
    reconstruction, the file's frames read as one stream of the analysis as the engine reads
    them."""
    tone = sine(330.0, 2.0, amplitude=0.3) + sine(660.0, 2.0, amplitude=0.1)
    path = write_sound("tone.wav", tone)
    fresh.texture.amount.jump(0.0)
    fresh.post("/source/file/open", str(path))
    fresh.post("/source/file/loop", 0)
    fresh.post("/source/file/play", 1)
    decoded, outs = [], []
    for _ in range(int(2.0 / HOP_SECONDS) + 10):
        outs.append(fresh.tick().copy())
        decoded.append(fresh.decoded_frames[0].copy())
    model = fresh.checkpoint.model
    frames = np.abs(stft(tone, fresh.stft))
    model.start_stream()
    with torch.no_grad():
        expected = model.decode(
            model.encode(log_magnitude(torch.tensor(frames, dtype=torch.float32)), stream=True)
        ).numpy()
    got = np.array(decoded)[40 : len(frames)]  # after the fade-in of presence
    np.testing.assert_allclose(got, expected[40:], rtol=1e-3, atol=1e-3 * expected.max())
    out = np.concatenate(outs)
    assert np.isfinite(out).all() and np.abs(out).max() > 0.01
    assert np.array_equal(out[:, 0], out[:, 1])
    # a non-looping file stops, and the output fades to silence
    assert not fresh.player.playing
    tail = _run(fresh, 40)
    assert np.abs(tail[-256:]).max() < 1e-3


def _decoded_frames(engine: Engine, hops: int) -> np.ndarray:
    frames = []
    for _ in range(hops):
        engine.tick()
        frames.append(engine.decoded_frames[0].copy())
    return np.array(frames)


def test_texture_lays_the_sources_grain_over_the_decoded_frames_as_offline(
    fresh: Engine, write_sound, rng
) -> None:
    """Golden: with /latent/texture 1 the engine's frames are the offline twin's
    (:func:`add_texture` of the model's decode and the file's own log magnitudes), each bin
    within the texture's limits of the plain decode."""
    noisy = sine(330.0, 1.5, amplitude=0.3) + 0.05 * rng.standard_normal(72000)
    path = write_sound("noisy.wav", noisy)
    fresh.post("/source/file/open", str(path))
    fresh.post("/source/file/loop", 0)
    fresh.post("/source/file/play", 1)
    got = _decoded_frames(fresh, int(1.5 / HOP_SECONDS))
    frames = np.abs(stft(noisy, fresh.stft))
    source_log = log_magnitude(frames)
    model = fresh.checkpoint.model
    model.start_stream()  # the file's frames in order, as the engine reads them
    with torch.no_grad():
        plain = model.decode(
            model.encode(torch.tensor(source_log, dtype=torch.float32), stream=True)
        ).numpy()
    expected = add_texture(
        plain, source_log, 1.0, fresh.stft.n_fft, fresh.sample_rate, MAGNITUDE_FLOOR
    )
    n = min(len(got), len(frames))
    np.testing.assert_allclose(got[40:n], expected[40:n], rtol=2e-3, atol=1e-3 * expected.max())
    ratio_db = 20 * np.log10(got[40:n] / plain[40:n])
    assert ratio_db.min() >= TEXTURE_LOW_DB - 0.05 and ratio_db.max() <= TEXTURE_HIGH_DB + 0.05
    assert np.std(ratio_db) > 1.0  # the noise's grain is there, not a constant gain


def test_a_frozen_sound_keeps_its_texture(fresh: Engine, write_sound, rng) -> None:
    """/latent/freeze holds the latent and the grain of the hop it froze on: every frozen frame
    is the same, and it is not the bare decode of the held latent."""
    noisy = sine(330.0, 1.5, amplitude=0.3) + 0.05 * rng.standard_normal(72000)
    fresh.post("/source/file/open", str(write_sound("noisy.wav", noisy)))
    fresh.post("/source/file/play", 1)
    _decoded_frames(fresh, 60)
    fresh.post("/latent/freeze", 1)
    frozen = _decoded_frames(fresh, 30)[5:]
    assert np.allclose(frozen, frozen[0], rtol=1e-6)  # presence settles in the last digits
    fresh.post("/latent/texture", 0.0)
    bare = _decoded_frames(fresh, 30)[-1]  # the amount glides to 0 (20 ms)
    assert np.abs(np.log(frozen[0] / bare)).max() > 0.1


def test_live_input_is_analysed_as_offline_and_played_with_its_own_phase(fresh: Engine) -> None:
    x = sine(440.0, 1.0, amplitude=0.4)
    fresh.post("/phase/method", "input")
    for _ in range(fresh.phase.crossfade_hops + 2):
        fresh.tick()
    fresh.reset()
    frames, outs = [], []
    for m in range(len(x) // 256):
        fresh.push_input(np.column_stack([x[m * 256 : (m + 1) * 256]] * 2))  # stereo in, mixed
        outs.append(fresh.tick().copy())
        frames.append(fresh.buffers.refs[0].copy())
    expected = stft(x, fresh.stft)[: len(frames)]
    np.testing.assert_allclose(np.array(frames), expected, atol=1e-9)
    out = np.concatenate(outs)[:, 0]
    assert np.isfinite(out).all()
    # the input's own phase keeps the pitch exact through the model
    power = np.abs(np.fft.rfft(out[12000:48000])) ** 2
    freqs = np.fft.rfftfreq(36000, 1 / 48000)
    assert abs(freqs[np.argmax(power)] - 440.0) < 2.0


def test_controls_validate_and_apply_at_the_next_hop(fresh: Engine) -> None:
    with pytest.raises(ControlError, match="/latent/axis: argument 1"):
        fresh.post("/latent/axis", 99, 0.0)
    with pytest.raises(ControlError, match="unknown address"):
        fresh.post("/no/such", 1)
    assert fresh.status()["control_errors"] == 2
    fresh.post("/latent/axis", 1, 2.0)
    assert fresh.mixer.offset_target[1] == 0.0  # not before the hop
    fresh.tick()
    assert fresh.mixer.offset_target[1] == 2.0
    assert fresh.get("/latent/z")[1] == 2.0


def test_scheduled_events_apply_at_their_hop(fresh: Engine) -> None:
    applied = []
    fresh.recorders.append(lambda hop, address, args: applied.append((hop, address, args)))
    fresh.post("/out/gain", -6.0, hop=10)
    fresh.post("/latent/noise", 0.5)
    _run(fresh, 12)
    assert applied == [(0, "/latent/noise", (0.5,)), (10, "/out/gain", (-6.0,))]


def test_unreadable_file_is_refused_before_the_hop(fresh: Engine, tmp_path) -> None:
    with pytest.raises(ControlError, match="missing.wav"):
        fresh.post("/source/file/open", str(tmp_path / "missing.wav"))
    assert fresh.queue.pending() == 0


def test_bad_model_frame_becomes_silence_and_is_counted(fresh: Engine, write_sound) -> None:
    path = write_sound("tone.wav", sine(220.0, 1.0, amplitude=0.3))
    fresh.post("/source/file/open", str(path))
    fresh.post("/source/file/play", 1)
    _run(fresh, 20)
    weight = fresh.frame_codec.decoder_weights[0]
    saved = weight[0, 0]
    weight[0, 0] = np.nan
    try:
        out = _run(fresh, 20)
    finally:
        weight[0, 0] = saved
    assert np.isfinite(out).all()
    assert fresh.status()["bad_model_frames"] == 20


def test_phase_switch_crossfades_without_a_jump(fresh: Engine, write_sound) -> None:
    path = write_sound("tone.wav", sine(220.0, 2.0, amplitude=0.4))
    fresh.post("/source/file/open", str(path))
    fresh.post("/source/file/play", 1)
    _run(fresh, 60)
    fresh.post("/phase/method", "random")
    out = _run(fresh, fresh.phase.crossfade_hops + 10)[:, 0]
    assert fresh.phase.method == "random" and fresh.phase.incoming is None
    # no sample-to-sample step larger than the signal's own steepest slope allows
    assert np.abs(np.diff(out)).max() < 0.2


def test_gain_changes_are_ramped(fresh: Engine, write_sound) -> None:
    path = write_sound("tone.wav", sine(100.0, 2.0, amplitude=0.4))
    fresh.post("/source/file/open", str(path))
    fresh.post("/source/file/play", 1)
    _run(fresh, 60)
    fresh.post("/out/gain", -40.0)
    out = _run(fresh, 30)[:, 0]
    assert np.abs(np.diff(out)).max() < 0.05  # a 100 Hz tone of 0.4 moves < 0.006 per sample


def test_output_never_passes_the_ceiling(fresh: Engine, write_sound, rng) -> None:
    loud = np.clip(rng.standard_normal(48000) * 3.0, -1, 1)
    path = write_sound("loud.wav", loud)
    fresh.post("/source/file/open", str(path))
    fresh.post("/source/file/play", 1)
    fresh.post("/out/gain", 24.0)
    fresh.post("/latent/noise", 4.0)
    out = _run(fresh, 200)
    ceiling = 10 ** (fresh.config.render.ceiling_db / 20)
    assert np.isfinite(out).all() and np.abs(out).max() <= ceiling


def test_same_events_give_the_same_samples(engine: Engine, write_sound) -> None:
    path = str(write_sound("tone.wav", sine(250.0, 1.0, amplitude=0.3)))
    events = [
        (0, "/source/file/open", (path,)),
        (0, "/source/file/play", (1,)),
        (30, "/latent/axis", (0, 1.5)),
        (50, "/latent/noise", (0.3,)),
        (70, "/phase/method", ("rtpghi",)),
        (90, "/source/file/speed", (-0.5,)),
    ]

    def render() -> np.ndarray:
        e = Engine(load_config(), checkpoint=engine.checkpoint)
        for hop, address, args in events:
            e.post(address, *args, hop=hop)
        return _run(e, 150)

    assert np.array_equal(render(), render())


def test_tick_allocates_little(fresh: Engine, write_sound) -> None:
    """The hop path keeps its buffers: memory does not grow over many hops."""
    import tracemalloc

    path = write_sound("tone.wav", sine(220.0, 1.0, amplitude=0.3))
    fresh.post("/source/file/open", str(path))
    fresh.post("/source/file/play", 1)
    _run(fresh, 50)
    tracemalloc.start()
    _run(fresh, 10)
    before = tracemalloc.take_snapshot()
    for _ in range(500):
        fresh.tick()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    growth = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert growth < 4 * 1024  # measured: under 1 KB over 1000 hops (tracemalloc's own)


def hop_allocation_peaks(engine: Engine, hops: int = 50, rounds: int = 6) -> dict[str, int]:
    """The most memory each unit of ``engine`` (by class name) and each whole tick ("tick")
    held at once beyond what was held before it, in bytes, over ``hops`` hops each: tracemalloc's
    peak (:func:`tests.allocation.allocated_at_peak`), so a temporary freed within the hop
    counts, which the retained-growth tests miss.

    The units run one by one as ``Engine.tick`` runs them (with no event due: post none).
    tracemalloc counts every thread of the process: under pytest-xdist a worker's thread talks
    to the controller now and then, and a voice stream's worker thread left by another test
    wakes every half second (a lock made for each wait), and the hop's kernels release the GIL
    to them. The measure is taken ``rounds`` times, short ones, and each key keeps its
    smallest peak: what the engine allocates comes back every round, another thread's
    allocation lands in some.
    """
    measures = [_allocation_peaks(engine, hops) for _ in range(rounds)]
    return {key: min(measure[key] for measure in measures) for key in measures[0]}


def _allocation_peaks(engine: Engine, hops: int) -> dict[str, int]:
    """One round of :func:`hop_allocation_peaks`."""
    import tracemalloc

    units = [(type(unit).__name__, unit) for unit in engine.units]
    peaks = dict.fromkeys(["tick", *(name for name, _ in units)], 0)
    hop = engine.buffers
    tracemalloc.start()
    try:
        for _ in range(hops):
            peaks["tick"] = max(peaks["tick"], allocated_at_peak(engine.tick))
        for _ in range(hops):
            hop.index = engine.hop_index
            for hook in engine.hop_hooks:
                hook(hop.index)
            for name, unit in units:
                peaks[name] = max(peaks[name], allocated_at_peak(unit.process, hop))
            engine.hop_index += 1
    finally:
        tracemalloc.stop()
    return peaks


# What a whole tick allocates, at most: the hop counter's next value, a Python int (ints over 256
# are objects; ``hop_index + 1`` makes one a hop and the one it replaces is freed).
HOP_COUNTER_BYTES = sys.getsizeof(2**40)


def assert_hop_allocates_nothing(peaks: dict[str, int]) -> None:
    """The bounds of :func:`hop_allocation_peaks` at any voice count: no unit allocates
    anything, and a whole tick (events, hooks and units) nothing but the hop counter's next
    int. Each unit's Python loops by index (an iterator is an object), keeps its row views
    made once, passes numbers to kernels instead of numpy scalars, and draws its noise in a
    kernel (engine/dsp/random_stream.py); the kernels run without numba's runtime
    (engine/dsp/compiled.py)."""
    units = {name: peak for name, peak in peaks.items() if name != "tick"}
    assert not any(units.values()), peaks
    assert peaks["tick"] <= HOP_COUNTER_BYTES, peaks


def test_a_hop_allocates_nothing_even_for_a_moment(fresh: Engine, write_sound) -> None:
    """No unit allocates anything per hop, temporaries included (one voice). Measured here
    before: every tick's peak 328 bytes (2.0 KB while numba's runtime kept 48 bytes for each
    array a kernel took, 13 KB before the encoder's log was cast without numpy's buffer), the
    largest unit's 280 bytes (PhaseUnit); now the tick's 32 bytes, the hop counter's int."""
    path = write_sound("tone.wav", sine(220.0, 1.0, amplitude=0.3))
    fresh.post("/source/file/open", str(path))
    fresh.post("/source/file/play", 1)
    _run(fresh, 60)
    assert_hop_allocates_nothing(hop_allocation_peaks(fresh))


def test_status_reports_latency_and_timing(fresh: Engine) -> None:
    _run(fresh, 20)
    status = fresh.status()
    latency = fresh.latency
    assert latency.input_to_output == 768 + 256 * fresh.phase.lookahead + 72
    assert status["latency_ms"] == pytest.approx(latency.ms(latency.input_to_output))
    assert status["hop"] == 20 and status["tick_ms_p50"] > 0
    assert status["phase_method"] == fresh.config.engine.phase_method


def test_frame_codec_equals_the_torch_codec(engine: Engine, rng) -> None:
    from caminos.engine.clock.codec import FrameCodec

    frames = rng.uniform(-7, 3, size=(3, engine.n_bins)).astype(np.float32)
    codec = FrameCodec(engine.hop_model, batch=3)
    z = np.zeros((3, engine.dims), dtype=np.float32)
    codec.encode(frames, z)
    mags = np.zeros(engine.n_bins)
    with torch.no_grad():
        z_ref = engine.codec.encode(torch.from_numpy(frames)).numpy()
        mags_ref = engine.codec.decode(torch.from_numpy(z_ref[1:2]))[0].numpy()
    # Both decoders from the same z: the pitch read from z places the comb, so a 1e-4 difference
    # in z (the encoders' rounding) would move the top partials' skirts by more than 1e-4.
    codec.decode(z_ref[1].astype(np.float64), mags)
    np.testing.assert_allclose(z, z_ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mags, mags_ref, rtol=1e-4, atol=1e-5 * mags_ref.max())


def test_the_codec_encodes_the_sounding_rows_each_on_its_own(engine: Engine, rng) -> None:
    """A row's latent is the same whatever the other rows hold and whichever of them sound, and
    a row that does not sound is not encoded (its latent is 0)."""
    from caminos.engine.clock.codec import FrameCodec

    frames = rng.uniform(-7, 3, size=(4, engine.n_bins)).astype(np.float32)
    codec = FrameCodec(engine.hop_model, batch=4)
    every = np.zeros((4, engine.dims), dtype=np.float32)
    codec.encode(frames, every)
    some = np.full((4, engine.dims), 7.0, dtype=np.float32)
    other = frames.copy()
    other[0] = rng.uniform(-7, 3, size=engine.n_bins)  # rows 0 and 2 hold anything: not sounding
    other[2] = np.nan
    codec.encode(other, some, active=np.array([0.0, 1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(some[[1, 3]], every[[1, 3]])
    assert not some[[0, 2]].any()
    alone = np.zeros((1, engine.dims), dtype=np.float32)
    FrameCodec(engine.hop_model, batch=1).encode(frames[3:4], alone)
    np.testing.assert_array_equal(alone[0], every[3])  # the same row in a batch of one
