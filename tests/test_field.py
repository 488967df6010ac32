"""The field of voices: one voice per output channel, placed by a speaker layout (issue 18)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import coherence

from caminos.engine.clock.engine import Engine
from caminos.engine.control.score import render_score
from caminos.engine.control.surface import attach
from caminos.engine.core.config import load_config
from caminos.engine.core.errors import ConfigError, ControlError
from tests.conftest import SAMPLE_RATE, sine

DEMO = Path(__file__).resolve().parent.parent / "patches" / "demo" / "demo.wav"


@pytest.fixture(scope="module")
def mono_demo(tmp_path_factory) -> Path:
    """The demo sound mixed to one channel: every voice of a field follows it."""
    import soundfile as sf

    samples, rate = sf.read(DEMO)
    path = tmp_path_factory.mktemp("sounds") / "demo-mono.wav"
    sf.write(path, samples.mean(axis=1), rate, subtype="FLOAT")
    return path


def field_engine(channels: int, layout: str, **field) -> Engine:
    """An engine of ``channels`` voices on ``layout``, without the voice model."""
    overrides = {"audio.channels": channels, "field.layout": layout}
    overrides.update({f"field.{key}": value for key, value in field.items()})
    return Engine(load_config(overrides=overrides), voice=False)


def play(engine: Engine, hops: int) -> np.ndarray:
    return np.concatenate([engine.tick().copy() for _ in range(hops)])


def start_file(engine: Engine, path: Path | str = DEMO) -> None:
    engine.post("/source/file/open", str(path))
    engine.post("/source/file/play", 1)


def test_the_mono_layout_copies_one_voice_to_every_channel_as_one_channel_plays_it() -> None:
    one = field_engine(1, "mono")
    four = field_engine(4, "mono")
    assert four.voices == 1 and four.channels == 4
    for engine in (one, four):
        start_file(engine)
    a, b = play(one, 200), play(four, 200)
    assert np.abs(a).max() > 0.05
    for c in range(4):
        np.testing.assert_array_equal(b[:, c], a[:, 0])


def test_a_ring_makes_one_voice_per_channel_and_spread_sets_them_apart(mono_demo) -> None:
    engine = field_engine(4, "ring-4", spread=0.0)
    assert engine.voices == 4
    start_file(engine, mono_demo)
    out = play(engine, 150)
    for c in range(1, 4):  # at spread 0, no decorrelation, every voice is the same sound
        np.testing.assert_array_equal(out[:, c], out[:, 0])
    distances = []
    for spread in (0.5, 1.0, 2.0):
        engine.post("/field/spread", spread)
        play(engine, 40)
        z = engine.voice_positions
        distances.append(float(np.linalg.norm(z[0] - z[2])))
    assert distances[0] < distances[1] < distances[2]
    out = play(engine, 40)
    assert np.abs(out[:, 0] - out[:, 2]).max() > 1e-3


def test_voices_sit_on_the_maps_plane_at_their_speakers_places() -> None:
    engine = field_engine(4, "quad", spread=1.0)
    engine.post("/latent/follow", 0.0)  # the centre: the mean sound (no path), silent
    play(engine, 3)
    std = engine.mixer.std
    places = np.zeros((4, 2))
    engine.field.places(places)
    expected = engine.layout.offsets()
    np.testing.assert_allclose(places, expected, atol=1e-12)
    # FL sits at +x +y of the map: axes 0 and 1, in standard deviations
    z = engine.voice_positions - engine.latent_position
    np.testing.assert_allclose(z[:, 0] / std[0], expected[:, 0], atol=1e-9)
    np.testing.assert_allclose(z[:, 1] / std[1], expected[:, 1], atol=1e-9)
    np.testing.assert_allclose(z[:, 2:], 0.0, atol=1e-12)


def test_rotate_turns_the_room_and_spin_keeps_turning_it() -> None:
    engine = field_engine(4, "ring-4", spread=1.0)
    engine.post("/field/rotate", 90.0)
    play(engine, 100)  # past the glide
    places = np.zeros((4, 2))
    engine.field.places(places)
    start = engine.layout.offsets()
    turned = np.column_stack([-start[:, 1], start[:, 0]])  # 90 degrees counter-clockwise
    np.testing.assert_allclose(places, turned, atol=1e-6)
    engine.post("/field/rotate", 0.0)
    engine.post("/field/spin", 90.0)  # a quarter turn a second
    hops = round(SAMPLE_RATE / engine.hop)
    play(engine, hops)
    engine.field.places(places)
    angle = np.degrees(np.arctan2(places[0, 1], places[0, 0]))
    assert 60.0 < angle < 95.0  # about a quarter turn, less the spin's glide in


def test_decorrelation_makes_identical_voices_differ(mono_demo) -> None:
    """At spread 0 the voices of a ring are one sound (coherence 1); /field/decorrelate 1 gives
    each its own phase walk: coherence far below 0.5 over speech and noise."""
    engine = field_engine(2, "stereo", spread=0.0)
    start_file(engine, mono_demo)
    play(engine, 20)
    same = play(engine, 500)
    np.testing.assert_array_equal(same[:, 0], same[:, 1])
    engine.post("/field/decorrelate", 1.0)
    play(engine, 40)
    apart = play(engine, 1200)
    f, c = coherence(apart[:, 0], apart[:, 1], fs=SAMPLE_RATE, nperseg=2048)
    band = (f >= 100) & (f <= 8000)
    assert float(c[band].mean()) < 0.5
    # the magnitudes stay the sound's: the channels' levels match within a dB
    level = 10 * np.log10(np.mean(apart**2, axis=0))
    assert abs(level[0] - level[1]) < 1.0


def test_decorrelation_keeps_the_level(mono_demo) -> None:
    """The rotated frames lose 1.8 dB in the overlap-add at amount 1; decorrelation_gain gives
    it back: the same hops with and without decorrelation within 0.5 dB."""
    from caminos.engine.dsp.decorrelate import decorrelation_gain

    assert decorrelation_gain(0.0) == 1.0
    assert 1.0 < decorrelation_gain(0.5) < decorrelation_gain(1.0) < 1.3
    levels = []
    for amount in (0.0, 1.0):
        engine = field_engine(2, "stereo", spread=0.0, decorrelate=amount)
        start_file(engine, mono_demo)
        out = play(engine, 700)[SAMPLE_RATE // 2 :]
        levels.append(10 * np.log10(np.mean(out**2)))
    assert abs(levels[1] - levels[0]) < 0.5


def test_a_stereo_file_keeps_its_image_through_the_stereo_layout(write_sound) -> None:
    n = SAMPLE_RATE * 2
    left = sine(440.0, 2.0, amplitude=0.4)
    right = np.random.default_rng(3).standard_normal(n) * 0.05
    path = write_sound("lr.wav", np.column_stack([left, right]))
    engine = field_engine(2, "stereo", spread=0.0)
    start_file(engine, path)
    out = play(engine, 300)[SAMPLE_RATE // 2 :]
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))[:, None], axis=0))
    freqs = np.fft.rfftfreq(len(out), 1 / SAMPLE_RATE)
    tone = (freqs > 400) & (freqs < 480)
    # the sine is the left voice's: 20 dB above what the right voice draws there
    assert 20 * np.log10(spectrum[tone, 0].max() / spectrum[tone, 1].max()) > 20.0
    high = freqs > 4000  # the noise is the right's
    assert spectrum[high, 1].mean() > 3 * spectrum[high, 0].mean()


def test_a_mono_file_feeds_every_voice_and_a_stereo_one_folds_on_the_mono_layout(
    write_sound,
) -> None:
    path = write_sound("lr.wav", np.column_stack([sine(440.0, 1.0), sine(660.0, 1.0)]))
    mono = field_engine(2, "mono")
    start_file(mono, path)
    play(mono, 2)
    assert mono.player.file.samples.shape[0] == 1  # mixed to mono, as before the field
    ring = field_engine(4, "ring-4")
    start_file(ring, path)
    play(ring, 2)
    assert ring.player.file.samples.shape[0] == 2  # kept: voices 1, 3 follow L; 2, 4 follow R
    weights = ring.buffers.weights
    np.testing.assert_array_equal(weights[0] > 0, weights[2] > 0)
    np.testing.assert_array_equal(weights[1] > 0, weights[3] > 0)
    assert not np.array_equal(weights[0] > 0, weights[1] > 0)


def test_channel_gain_and_mute_act_on_their_channel_only(mono_demo) -> None:
    engine = field_engine(4, "ring-4", spread=0.0)
    start_file(engine, mono_demo)
    play(engine, 30)
    engine.post("/channel/2/mute", 1)
    engine.post("/channel/3/gain", 0.5)
    out = play(engine, 100)[-2000:]
    assert np.abs(out[:, 1]).max() < 1e-6
    np.testing.assert_allclose(out[:, 2], 0.5 * out[:, 0], atol=1e-9)
    assert engine.get("/channel/2/mute") == (1,)
    engine.post("/channel/2/mute", 0)
    out = play(engine, 100)[-2000:]
    np.testing.assert_allclose(out[:, 1], out[:, 0], atol=1e-9)


def test_channels_outside_the_room_are_refused_by_name() -> None:
    engine = field_engine(4, "ring-4")
    with pytest.raises(ControlError, match="/channel/5/gain"):
        engine.post("/channel/5/gain", 1.0)
    with pytest.raises(ControlError, match="/channel/0/xy"):
        engine.post("/channel/0/xy", 0.0, 0.0)
    with pytest.raises(ControlError, match="out of range"):
        engine.post("/field/spread", 9.0)


def test_a_layout_that_does_not_fit_the_channels_is_refused_with_both_numbers() -> None:
    with pytest.raises(ConfigError, match="8.*4|4.*8"):
        field_engine(4, "ring-8")


def test_per_voice_seeds_are_deterministic() -> None:
    outs = []
    for _ in range(2):
        engine = field_engine(4, "ring-4", spread=1.0, wander=0.5, decorrelate=1.0)
        engine.post("/phase/method", "rtpghi")
        start_file(engine)
        outs.append(play(engine, 150))
    np.testing.assert_array_equal(outs[0], outs[1])
    assert np.abs(outs[0][:, 0] - outs[0][:, 1]).max() > 1e-3


def test_channel_groups_render_the_samples_of_the_whole_room(tmp_path) -> None:
    """Two instances each playing half of a ring-4 room from the same score give the columns
    of one instance playing all four (below the limiter, which links the channels it has)."""
    score = tmp_path / "field.score"
    score.write_text(
        f"sample_rate 48000\nhop_size 256\n"
        f"hop 0 /out/gain -24\n"
        f'hop 0 /source/file/open "{DEMO}"\n'
        f"hop 0 /source/file/play 1\n"
        f"hop 0 /field/wander 0.3\n"
        f"hop 0 /field/decorrelate 0.7\n"
        f"hop 40 /field/spin 45\n"
        f"hop 60 /channel/3/xy 0.5 -0.5\n"
        f"hop 80 /channel/2/gain 0.5\n"
        f"hop 300 end\n"
    )

    def render(**field) -> np.ndarray:
        overrides = {"field.layout": "ring-4", **{f"field.{k}": v for k, v in field.items()}}
        overrides["audio.channels"] = field.get("voices") or 4
        engine = Engine(load_config(overrides=overrides), voice=False, startup_events=False)
        attach(engine, patches=tmp_path, recordings=tmp_path)
        return render_score(score, engine)

    whole = render()
    first = render(first_channel=1, voices=2)
    second = render(first_channel=3, voices=2)
    assert np.abs(whole).max() < 0.5  # the limiter never acted
    np.testing.assert_array_equal(np.column_stack([first, second]), whole)


def test_a_voice_plays_a_path_of_its_own(tmp_path) -> None:
    engine = field_engine(2, "stereo", spread=0.0)
    attach(engine, patches=tmp_path, recordings=tmp_path)
    engine.post("/path/new", "away")
    engine.post("/path/point", "away", 3.0, -2.0)
    engine.post("/path/point", "away", 3.0, 2.0)
    engine.post("/channel/2/follow", 0.0)
    engine.post("/channel/2/path/play", "away")
    play(engine, 60)
    z = engine.voice_positions
    std = engine.mixer.std
    assert abs(z[1, 0] / std[0] - 3.0) < 0.05  # voice 2 is on its path
    assert abs(z[0, 0]) < 1e-9  # voice 1 is at the silent centre
    errors = engine.counters["control_errors"]
    engine.post("/channel/1/path/play", "nowhere")  # answered on /error live (the replica)
    engine.tick()
    assert engine.counters["control_errors"] == errors + 1
    assert "no path named 'nowhere'" in engine.last_error
    engine.post("/channel/2/path/stop")
    play(engine, 1)
    assert not engine.mixer.voice_path_active[1]


def test_eight_voices_allocate_little_per_hop() -> None:
    import tracemalloc

    engine = field_engine(8, "ring-8", spread=1.0, wander=0.3, decorrelate=1.0)
    start_file(engine)
    engine.post("/field/spin", 30.0)
    play(engine, 50)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    play(engine, 300)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    growth = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert growth < 8 * 1024


@pytest.mark.parametrize("voices", [1, 8])
def test_a_hop_allocates_nothing_even_for_a_moment_at_one_and_eight_voices(voices: int) -> None:
    """tracemalloc's peak per hop (temporaries count), per unit and per tick, at 1 and 8
    voices, the eight wandering, decorrelated and spinning. Measured before: every tick's 328
    and 432 bytes (2.0 and 2.2 KB while numba's runtime kept 48 bytes for each array a kernel
    took; 13.1 and 41.9 KB before the encoder's log was cast without numpy's buffer), the
    largest unit's 280 and 384 bytes (PhaseUnit, ImageUnit); now no unit's any, the tick's
    the hop counter's int."""
    from tests.test_engine import assert_hop_allocates_nothing, hop_allocation_peaks

    if voices == 1:
        engine = field_engine(1, "mono", spread=0.0, wander=0.0, decorrelate=0.0)
    else:
        engine = field_engine(8, "ring-8", spread=1.0, wander=0.3, decorrelate=1.0)
    start_file(engine)
    if voices == 8:
        engine.post("/field/spin", 30.0)
    play(engine, 60)
    assert_hop_allocates_nothing(hop_allocation_peaks(engine))


def _band_differences(stereo: np.ndarray, edges_hz) -> np.ndarray:
    """Left-minus-right level in dB in each band between consecutive ``edges_hz``."""
    spectrum = np.abs(np.fft.rfft(stereo * np.hanning(len(stereo))[:, None], axis=0)) ** 2
    freqs = np.fft.rfftfreq(len(stereo), 1 / SAMPLE_RATE)
    out = []
    for lo, hi in zip(edges_hz[:-1], edges_hz[1:]):
        band = (freqs >= lo) & (freqs < hi)
        out.append(10 * np.log10(spectrum[band, 0].sum() / spectrum[band, 1].sum()))
    return np.array(out)


def test_a_stereo_sources_image_is_kept_per_band_through_the_model(write_sound) -> None:
    """Noise panned left in the lows and right in the highs: through the stereo layout at spread
    0 the per-band level differences come out closer to the source's with /field/image 1 than
    with the model alone per channel."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(5)
    n = SAMPLE_RATE * 4
    low = sosfilt(butter(4, 1500, "low", fs=SAMPLE_RATE, output="sos"), rng.standard_normal(n))
    high = sosfilt(butter(4, 1500, "high", fs=SAMPLE_RATE, output="sos"), rng.standard_normal(n))
    source = 0.1 * np.column_stack([low + 0.3 * high, 0.4 * low + high])
    path = write_sound("panned.wav", source)
    edges = [300, 600, 1000, 2500, 4000, 8000]
    wanted = _band_differences(source, edges)
    errors = {}
    for amount in (0.0, 1.0):
        engine = field_engine(2, "stereo", spread=0.0, image=amount)
        start_file(engine, path)
        out = play(engine, 700)[SAMPLE_RATE // 2 :]
        errors[amount] = np.abs(_band_differences(out, edges) - wanted)
    assert errors[1.0].max() < 1.0  # measured 0.31 dB (the model alone per channel: 1.46 mean)
    assert errors[1.0].mean() < 0.6 * errors[0.0].mean()


def test_a_channel_outside_the_room_is_answered_on_error_over_osc() -> None:
    from pythonosc.osc_message import OscMessage

    from caminos.engine.control.osc.messages import encode_message
    from caminos.engine.control.osc.server import OscServer
    from caminos.engine.core.config import OscConfig

    engine = field_engine(4, "ring-4")
    server = OscServer(engine, OscConfig(port=0))
    replies = server.handle(encode_message("/channel/9/gain", [0.5]), ("127.0.0.1", 40000))
    answers = [OscMessage(data) for data, _ in replies]
    assert [a.address for a in answers] == ["/error"]
    assert answers[0].params[0] == "/channel/9/gain"
    assert server.handle(encode_message("/channel/4/gain", [0.5]), ("127.0.0.1", 40000)) == []
    replies = server.handle(encode_message("/channel/*/mute", [1]), ("127.0.0.1", 40000))
    assert replies == []  # a pattern reaches every channel of the room
    engine.tick()
    assert [engine.get(f"/channel/{k}/mute") for k in range(1, 5)] == [(1,)] * 4


@pytest.mark.parametrize("texture", [1.0, 0.0])
def test_places_change_the_voices_timbre_not_their_loudness(mono_demo, texture) -> None:
    """Axis 1 of the default model is about 16 dB per std: a ring at spread 1 makes its voices
    30 dB apart. /field/keep_level 1 (the default) plays each voice as loud as its latent
    without its place asks (``caminos.engine.clock.level_keeper``), with the file's texture and
    with the model alone, so the voices sound about as loud as each other, their spectra
    still apart."""
    levels, spectra = {}, {}
    for keep in (0.0, 1.0):
        engine = field_engine(4, "ring-4", spread=1.0, keep_level=keep)
        engine.post("/latent/texture", texture)
        start_file(engine, mono_demo)
        out = play(engine, 600)[SAMPLE_RATE // 2 :]
        levels[keep] = 10 * np.log10(np.mean(out**2, axis=0))
        spectra[keep] = np.abs(np.fft.rfft(out, axis=0))
    # measured with the six-peak default: 30.4 dB between the loudest and the quietest voice
    # without, 1.6 dB with (1.4 dB with the model alone); a slope read at the map's centre
    # left them 6.1 dB apart (15.9 dB with the model alone), the level bending away from it
    assert np.ptp(levels[0.0]) > 10.0
    assert np.ptp(levels[1.0]) < 3.0
    shapes = np.log(spectra[1.0] + 1e-9)
    shapes -= shapes.mean(axis=0)
    assert np.min([np.std(shapes[:, 0] - shapes[:, k]) for k in (1, 2, 3)]) > 0.3  # apart


def test_a_voice_without_a_place_plays_as_the_model_plays_it_whatever_keep_level() -> None:
    """/field/keep_level corrects what a place does to the level: at spread 0 the stereo demo
    renders the same samples with it at 1 and at 0 (a keeper acting there moved each channel by
    its own small level error, and stereo recordings lost some of their image)."""
    outs = []
    for keep in (0.0, 1.0):
        engine = field_engine(2, "stereo", spread=0.0, keep_level=keep)
        start_file(engine)
        outs.append(play(engine, 300))
    assert np.abs(outs[0]).max() > 0.05
    assert np.array_equal(outs[0], outs[1])


def test_wander_fades_back_to_the_place_when_it_stops() -> None:
    """/field/wander 0 lets each voice's walk fade (about half a second) instead of jumping."""
    engine = field_engine(2, "stereo", spread=0.0, wander=1.0)
    play(engine, 200)
    walk = float(np.abs(engine.voice_positions - engine.latent_position).max())
    engine.post("/field/wander", 0.0)
    moves = []
    last = engine.voice_positions.copy()
    for _ in range(400):
        engine.tick()
        moves.append(float(np.abs(engine.voice_positions - last).max()))
        last = engine.voice_positions.copy()
    std = engine.mixer.std.max()
    # the amount glides out over about 80 hops (to 1e-9), the walk decaying 1 % a hop: no hop
    # moves a voice by more than a few % of how far it had walked (it jumped back all the way)
    assert max(moves[20:]) < 0.05 * walk
    assert np.abs(engine.voice_positions - engine.latent_position).max() < 0.05 * std


def test_a_voices_own_follow_glides(mono_demo, tmp_path) -> None:
    """/channel/K/follow glides from the shared follow to its own and back, as /latent/follow
    does, instead of jumping."""
    engine = field_engine(2, "stereo", spread=0.0)
    start_file(engine, mono_demo)
    play(engine, 40)
    engine.post("/channel/2/follow", 0.0)
    values = []
    for _ in range(120):
        engine.tick()
        values.append(float(engine.buffers.follow[1]))
    assert 0.5 < values[0] < 1.0 and values[-1] == 0.0  # a smoothing step, then it settles
    assert all(b <= a for a, b in zip(values, values[1:]))
    assert engine.buffers.follow[0] == 1.0  # the other voice keeps the shared one
    engine.post("/channel/2/follow", -1.0)
    engine.tick()
    assert 0.0 < engine.buffers.follow[1] < 0.5  # back towards the shared 1, gliding
    play(engine, 120)
    assert engine.buffers.follow[1] == engine.mixer.follow.value


def test_scenes_store_and_recall_the_field(tmp_path) -> None:
    """A scene holds the field's controls and each channel's: recalled, they glide back."""
    engine = field_engine(4, "quad", spread=0.5)
    attach(engine, patches=tmp_path, recordings=tmp_path)
    engine.post("/field/rotate", 45.0)
    engine.post("/channel/3/gain", 0.25)
    engine.post("/channel/2/xy", 1.0, -0.5)
    engine.post("/scene/store", 1)
    play(engine, 2)
    for address, args in (
        ("/field/spread", (2.0,)),
        ("/field/rotate", (-90.0,)),
        ("/channel/3/gain", (1.0,)),
        ("/channel/2/xy", (0.0, 0.0)),
    ):
        engine.post(address, *args)
    engine.post("/scene/recall", 1, 0.2)
    play(engine, round(0.3 * SAMPLE_RATE / engine.hop))
    assert engine.get("/field/spread") == pytest.approx((0.5,))
    assert engine.get("/field/rotate") == pytest.approx((45.0,))
    assert engine.get("/channel/3/gain") == pytest.approx((0.25,))
    assert engine.get("/channel/2/xy") == pytest.approx((1.0, -0.5))


@pytest.mark.parametrize("voices", [1, 8])
def test_every_live_phase_method_allocates_nothing_per_hop(voices: int) -> None:
    """Each streaming method, switched to live and past its crossfade, plays a hop with no
    allocation (tracemalloc's peak, the smallest of two rounds). Before: RTPGHI 432 and 3424
    bytes at 1 and 8 voices (its kernel took 20 arguments and returned its table position, a
    Python int), RTPGHI + GSRTISI-LA 528 and 672, random 32 and 256."""
    from caminos.engine.dsp.phase import STREAMING_METHODS
    from tests.test_engine import hop_allocation_peaks

    engine = field_engine(voices, "mono" if voices == 1 else "ring-8", spread=1.0)
    start_file(engine)
    peaks = {}
    for method in STREAMING_METHODS:
        engine.post("/phase/method", method)
        play(engine, 40)  # the switch's crossfade done
        peaks[method] = hop_allocation_peaks(engine, hops=40)["PhaseUnit"]
    engine.close()
    assert not any(peaks.values()), peaks
