"""Latent navigation: interpolation, the path player, gesture recording, the 2-D map, scenes and
their files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from caminos.engine.clock.engine import Engine
from caminos.engine.control.latent_paths import LatentPath
from caminos.engine.control.surface import attach
from caminos.engine.core.config import load_config
from caminos.engine.core.errors import ControlError
from tests.allocation import allocated_at_peak
from tests.conftest import control_values, restore

DEMO = Path(__file__).resolve().parent.parent / "patches" / "demo" / "demo.wav"


@pytest.fixture(scope="module")
def shared_rig(tmp_path_factory):
    engine = Engine(load_config())
    folder = tmp_path_factory.mktemp("patches")
    surface = attach(engine, patches=folder, recordings=tmp_path_factory.mktemp("rec"))
    return engine, surface, folder, control_values(engine)


@pytest.fixture
def rig(shared_rig):
    """The module's engine and surface, restored to their start-up state for each test."""
    engine, surface, folder, values = shared_rig
    restore(engine, values, surface)
    return engine, surface, folder


def run(engine: Engine, hops: int = 1) -> None:
    for _ in range(hops):
        engine.tick()


def std_point(engine: Engine, *values: float) -> np.ndarray:
    point = np.zeros(engine.dims)
    point[: len(values)] = values
    return point * engine.mixer.std


# ---------------------------------------------------------------------------- interpolation
@pytest.fixture
def square():
    points = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    return LatentPath("sq", points, np.array([0.0, 1.0, 2.0, 3.0]))


@pytest.mark.parametrize("interp", ["linear", "cubic", "spherical"])
def test_every_interpolation_passes_through_its_points(square, interp):
    out = np.zeros(2)
    for point, t in zip(square.points, square.times):
        np.testing.assert_allclose(square.evaluate(t, interp, out), point, atol=1e-12)
    np.testing.assert_allclose(square.evaluate(99.0, interp, out), square.points[-1])


def test_linear_midpoint_and_spherical_keeps_the_radius(square):
    out = np.zeros(2)
    np.testing.assert_allclose(square.evaluate(0.5, "linear", out), [0.5, 0.5])
    np.testing.assert_allclose(square.evaluate(0.5, "spherical", out), [np.sqrt(0.5), np.sqrt(0.5)])
    for t in np.linspace(0, 3, 31):
        assert np.linalg.norm(square.evaluate(t, "spherical", out)) == pytest.approx(1.0)


def test_cubic_is_smooth_where_linear_has_a_corner(square):
    out = np.zeros(2)
    eps = 1e-4

    def slope(t, interp):
        a = square.evaluate(t - eps, interp, out).copy()
        b = square.evaluate(t + eps, interp, out).copy()
        return b - a

    before = slope(1.0 - 2 * eps, "cubic")
    after = slope(1.0 + 2 * eps, "cubic")
    np.testing.assert_allclose(before, after, atol=1e-6)
    assert np.abs(slope(1.0 - 2 * eps, "linear") - slope(1.0 + 2 * eps, "linear")).max() > 1e-4


# ------------------------------------------------------------------------------- the player
def test_path_plays_at_its_speed_and_holds_its_end(rig):
    engine, surface, _ = rig
    nav = surface.navigator
    for address, *args in [
        ("/path/new", "line"),
        ("/path/step", 1.0),
        ("/path/point", "line", 0.0),
        ("/path/point", "line", 2.0),
        ("/path/interp", "linear"),
        ("/path/loop", 0),
        ("/path/speed", 1.0),
        ("/path/play", "line"),
    ]:
        engine.post(address, *args)
    run(engine)
    hops_half = round(0.5 * engine.sample_rate / engine.hop)
    run(engine, hops_half)
    assert nav.time == pytest.approx(hops_half * engine.hop / engine.sample_rate)
    assert engine.mixer.path_active and nav.playing
    run(engine, 3 * hops_half)
    assert not nav.playing and nav.time == 1.0  # held at the end
    np.testing.assert_allclose(nav._target, std_point(engine, 2.0))
    engine.post("/path/stop")
    run(engine)
    assert not engine.mixer.path_active


def test_a_path_started_at_speed_0_waits_for_a_speed(rig):
    engine, surface, _ = rig
    for address, *args in [
        ("/path/new", "wait"),
        ("/path/point", "wait", 0.0),
        ("/path/point", "wait", 1.0),
        ("/path/loop", 0),
        ("/path/speed", 0.0),
        ("/path/play", "wait"),
    ]:
        engine.post(address, *args)
    run(engine, 5)
    assert surface.navigator.playing and surface.navigator.time == 0.0
    engine.post("/path/speed", 2.0)
    run(engine, 5)
    assert surface.navigator.time > 0.0
    engine.post("/path/stop")
    run(engine)


def test_negative_speed_loop_pingpong_and_scrub(rig):
    engine, surface, _ = rig
    nav = surface.navigator
    hop_s = engine.hop / engine.sample_rate
    for address, *args in [
        ("/path/new", "pp"),
        ("/path/step", 10 * hop_s),
        ("/path/point", "pp", 0.0),
        ("/path/point", "pp", 1.0),
        ("/path/speed", -1.0),
        ("/path/loop", 1),
        ("/path/play", "pp"),
    ]:
        engine.post(address, *args)
    run(engine, 2)
    assert nav.time == pytest.approx(9 * hop_s)  # started at the end, went back one hop
    run(engine, 12)
    assert nav.time == pytest.approx(7 * hop_s)  # wrapped around
    engine.post("/path/loop", 2)
    engine.post("/path/speed", 4.0)
    run(engine, 2)
    assert nav.direction == -1.0 and nav.time == pytest.approx(5 * hop_s)  # bounced at the end
    engine.post("/path/speed", 0.0)
    engine.post("/path/pos", 0.25)
    run(engine)
    assert nav.time == pytest.approx(0.25 * 10 * hop_s)
    assert engine.get("/path/pos") == (pytest.approx(0.25),)
    np.testing.assert_allclose(nav._target, std_point(engine, 0.25))
    engine.post("/path/stop")


def test_play_of_unknown_path_is_counted_and_harmless(rig):
    engine, _, _ = rig
    before = engine.counters["control_errors"]
    engine.post("/path/play", "nowhere")
    run(engine)
    assert engine.counters["control_errors"] == before + 1


def test_recording_a_gesture_makes_a_path(rig):
    engine, surface, _ = rig
    nav = surface.navigator
    engine.post("/path/stop")
    engine.post("/path/record", "gesture")
    for value in (0.5, 1.0, 1.0, 1.5):
        engine.post("/latent/axis", 3, value)
        run(engine, 2)
    engine.post("/path/record/stop")
    engine.post("/latent/axis", 3, 0.0)
    run(engine)
    path = nav.paths["gesture"]
    np.testing.assert_allclose(path.points[:, 3] / engine.mixer.std[3], [0.5, 1.0, 1.5])
    np.testing.assert_allclose(path.times / (engine.hop / engine.sample_rate), [0, 2, 6])


# ------------------------------------------------------------------------------- the map
def test_xy_on_the_axes_and_on_a_landmark_plane(rig):
    engine, surface, _ = rig
    nav = surface.navigator
    engine.post("/latent/plane", "", "", "")
    engine.post("/latent/xy", 1.0, 0.25)
    run(engine)
    np.testing.assert_allclose(nav._target, std_point(engine, 2.0, -1.0))
    np.testing.assert_allclose(engine.mixer.path_position, nav._target)  # jumped from silence
    for name, values in (("o", (0.0, 0.0, 1.0)), ("x", (2.0, 0.0, 1.0)), ("y", (0.0, 2.0, 1.0))):
        engine.post("/landmark/point", name, *values)
    engine.post("/latent/plane", "o", "x", "y")
    engine.post("/latent/xy", 0.5, 0.25)
    run(engine)
    np.testing.assert_allclose(nav._target, std_point(engine, 1.0, 0.5, 1.0))
    engine.post("/path/stop")
    run(engine)


def test_landmarks_from_a_sound_file_and_live(rig):
    engine, surface, _ = rig
    engine.post("/landmark/add", "demo", str(DEMO))
    engine.post("/landmark/add", "now", "live")
    # a live landmark is the z of the hop before it applies
    z_last_hop = engine.latent_position.copy()
    run(engine)
    demo = surface.navigator.landmarks["demo"]
    assert demo.points.shape[1] == engine.dims and len(demo.points) > 100
    assert np.isfinite(demo.points).all()
    np.testing.assert_array_equal(surface.navigator.landmarks["now"].points[0], z_last_hop)
    with pytest.raises(ControlError, match="/landmark/add"):
        engine.post("/landmark/add", "x", "/no/such/file.wav")


def test_landmark_from_caminos_encode(rig, tmp_path):
    from caminos.engine.cli.main import main

    engine, surface, _ = rig
    npz = tmp_path / "demo.npz"
    assert main(["encode", str(DEMO), "-o", str(npz)]) == 0
    engine.post("/landmark/add", "encoded", str(npz))
    engine.post("/landmark/add", "heard", str(DEMO))
    run(engine)
    landmarks = surface.navigator.landmarks
    np.testing.assert_allclose(landmarks["encoded"].points, landmarks["heard"].points, atol=1e-5)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ControlError, match="not a landmark"):
        engine.post("/landmark/add", "bad", str(tmp_path / "bad.npz"))


# ------------------------------------------------------------------------------- scenes
def test_scene_recall_crossfades_numeric_controls_and_switches_others(rig):
    engine, _, _ = rig
    engine.post("/latent/follow", 0.2)
    engine.post("/path/interp", "linear")
    engine.post("/scene/store", 7)
    run(engine)
    engine.post("/latent/follow", 1.0)
    engine.post("/path/interp", "spherical")
    run(engine)
    hops = 10
    engine.post("/scene/recall", 7, hops * engine.hop / engine.sample_rate)
    run(engine)
    assert engine.get("/path/interp") == ("linear",)
    assert engine.get("/latent/follow")[0] == pytest.approx(1.0 - 0.8 / hops)
    run(engine, 4)
    assert engine.get("/latent/follow")[0] == pytest.approx(1.0 - 0.8 * 5 / hops)
    run(engine, 10)
    assert engine.get("/latent/follow") == (pytest.approx(0.2),)
    before = engine.counters["control_errors"]
    engine.post("/scene/recall", 99, 1.0)
    run(engine)
    assert engine.counters["control_errors"] == before + 1  # empty scene: counted, nothing else


def test_a_scene_fade_allocates_nothing_per_hop(rig):
    """While a scene fades controls, the scene hook applies each value with nothing allocated:
    a one-valued control's value directly, a point's values through the fade's own list, the
    map's point in a kernel (engine/control/map_points.py), the fade's share without min()
    (which iterates its arguments). Measured before: 120 bytes a hop for two one-valued
    controls, 248 with ``/latent/xy`` fading too (840 and 792 with a generator per control).

    Three rounds, each figure keeping its smallest, as tests/test_engine.py's
    hop_allocation_peaks does (another thread's allocation lands in one round)."""
    import tracemalloc

    engine, surface, _ = rig
    engine.post("/latent/follow", 0.2)
    engine.post("/latent/noise", 0.5)
    engine.post("/latent/xy", 0.1, 0.2)
    engine.post("/scene/store", 3)
    run(engine)
    engine.post("/latent/follow", 1.0)
    engine.post("/latent/noise", 0.0)
    engine.post("/latent/xy", 0.9, 0.8)
    run(engine)
    engine.post("/scene/recall", 3, 2.0)  # 375 hops of fade
    run(engine)
    fade = surface.scenes.on_hop
    peaks = []
    for _ in range(3):
        tracemalloc.start()
        peak = 0
        for _ in range(50):
            peak = max(peak, allocated_at_peak(fade, engine.hop_index))
            engine.hop_index += 1
        tracemalloc.stop()
        peaks.append(peak)
    assert 0.2 < engine.get("/latent/follow")[0] < 1.0  # still fading
    assert 0.1 < engine.get("/latent/xy")[0] < 0.9
    run(engine, 400)
    assert engine.get("/latent/follow") == (pytest.approx(0.2),)
    assert engine.get("/latent/xy") == (pytest.approx(0.1), pytest.approx(0.2))
    assert min(peaks) == 0, peaks


# ------------------------------------------------------------------------------- files
def test_path_scene_and_landmark_files_round_trip(rig):
    engine, surface, folder = rig
    for address, *args in [
        ("/path/new", "saved"),
        ("/path/step", 0.5),
        ("/path/point", "saved", 1.0, -1.0),
        ("/path/point", "saved", 0.5),
        ("/landmark/point", "lm", 0.25, 0.75),
        ("/scene/store", 3),
    ]:
        engine.post(address, *args)
    run(engine)
    assert engine.post("/path/save", "saved")[0][1].endswith("saved.json")
    engine.post("/landmark/save", "lm")
    engine.post("/scene/save", 3, "three")
    data = json.loads((folder / "paths" / "saved.json").read_text())
    assert data["points_std"][0][:2] == [1.0, -1.0] and data["times_s"] == [0.0, 0.5]
    original = surface.navigator.paths["saved"]
    engine.post("/path/new", "saved")
    engine.post("/path/load", "saved")
    engine.post("/landmark/load", "lm")
    engine.post("/scene/load", 4, "three")
    run(engine)
    loaded = surface.navigator.paths["saved"]
    np.testing.assert_allclose(loaded.points, original.points, atol=1e-6)
    np.testing.assert_array_equal(loaded.times, original.times)
    assert surface.scenes.slots[4] == surface.scenes.slots[3]


def test_a_broken_file_is_reported_with_its_line_and_disturbs_nothing(rig):
    engine, surface, folder = rig
    nav = surface.navigator
    engine.post("/path/new", "keep")
    engine.post("/path/point", "keep", 0.0)
    engine.post("/path/point", "keep", 1.0)
    engine.post("/path/loop", 1)
    engine.post("/path/speed", 1.0)
    engine.post("/path/play", "keep")
    run(engine, 3)
    (folder / "paths").mkdir(exist_ok=True)
    (folder / "paths" / "broken.json").write_text(
        '{\n  "caminos": "path",\n  "points_std": [[1, 2],\n    [3, oops]]\n}\n'
    )
    with pytest.raises(ControlError, match=r"broken\.json:4:9: not valid JSON"):
        engine.post("/path/load", "broken")
    (folder / "scenes").mkdir(exist_ok=True)
    (folder / "scenes" / "odd.json").write_text(
        '{"caminos": "scene", "controls": {"/latent/follow": [7.0]}}'
    )
    with pytest.raises(ControlError, match=r"odd\.json: /latent/follow.*out of range"):
        engine.post("/scene/load", 5, "odd")
    with pytest.raises(ControlError, match="name"):
        engine.post("/path/load", "../../etc/passwd")
    time_before = nav.time
    run(engine, 2)
    assert nav.playing and nav.path.name == "keep" and nav.time > time_before
    assert "broken" not in nav.paths and 5 not in surface.scenes.slots
    engine.post("/path/stop")
    run(engine)


@pytest.mark.parametrize("interp", ["linear", "cubic", "spherical"])
def test_playing_a_path_allocates_nothing_per_hop(rig, interp):
    """The shared path and each voice's own path played (the stereo field's two voices): the
    hop hooks allocate nothing, temporaries included. Their kernels run without numba's
    runtime (engine/dsp/compiled.py), their loops go by index, the path's duration is read as
    a Python float, not a numpy scalar. Measured before: 144 to 168 bytes a hop (240 with the
    runtime; the numpy expressions before that: 1192 linear, 1824 cubic).

    tracemalloc counts every thread of the process, and under pytest-xdist a worker's thread
    talks to the controller now and then (one whole parallel suite saw a peak of 9.9 KB here):
    the hops are measured in three rounds and each figure keeps its smallest, as
    tests/test_engine.py's hop_allocation_peaks does."""
    import tracemalloc

    engine, surface, _ = rig
    assert engine.voices == 2
    for address, *args in [
        ("/path/new", "alloc"),
        ("/path/point", "alloc", 1.0, 0.0),
        ("/path/point", "alloc", 0.0, 1.0),
        ("/path/point", "alloc", -1.0),
        ("/path/interp", interp),
        ("/path/loop", 2),
        ("/path/speed", 3.0),
        ("/path/play", "alloc"),
        ("/channel/1/path/play", "alloc"),
        ("/channel/2/path/play", "alloc"),
    ]:
        engine.post(address, *args)
    run(engine)
    hooks = list(engine.hop_hooks)
    for hop in range(10):
        for hook in hooks:
            hook(hop)
    measures = []
    for _ in range(3):
        retained = peak = 0
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for hop in range(300):
            for hook in hooks:
                peak = max(peak, allocated_at_peak(hook, hop))
        retained = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        measures.append((retained, peak))
    retained, peak = (min(m[k] for m in measures) for k in (0, 1))
    for address in ("/path/stop", "/channel/1/path/stop", "/channel/2/path/stop"):
        engine.post(address)
    run(engine)
    assert retained < 1024 and peak == 0, (retained, peak)


def test_scene_recall_prepares_slow_controls_off_the_dsp_thread(rig):
    engine, surface, _ = rig
    before = engine.get("/phase/method")
    engine.post("/phase/method", "pv")
    run(engine)
    engine.post("/scene/store", 9)
    run(engine)
    engine.post("/phase/method", "rtpghi")
    run(engine)
    prepared = surface.scenes._prepare_recall(9, 0.0)[2]
    assert list(prepared) == ["/phase/method"]  # built here, in the posting thread
    engine.post("/scene/recall", 9, 0.0)
    run(engine, 2)
    assert engine.get("/phase/method") == ("pv",)
    engine.post("/phase/method", before[0])
    run(engine)


def test_voice_landmark_is_the_encoded_voice(rig) -> None:
    """/landmark/voice renders the voice offline and keeps its latent trajectory."""
    from caminos.engine.core.errors import ControlError

    engine, surface, _ = rig
    engine.post("/landmark/voice", "hola", "es", "hola, buenos días")
    run(engine)
    landmark = surface.navigator.landmarks["hola"]
    assert landmark.points.shape[1] == engine.dims and len(landmark.points) > 20  # > 0.1 s
    assert np.isfinite(landmark.points).all() and landmark.points.std(axis=0).max() > 0.1
    with pytest.raises(ControlError, match="/landmark/voice"):
        engine.post("/landmark/voice", "bad", "xx", "hola")
    assert "bad" not in surface.navigator.landmarks


def test_a_landmark_replayed_as_a_path_is_its_trajectory_frame_for_frame(tmp_path):
    """/path/landmark + /latent/follow 0 decodes the landmark's hop-rate trajectory exactly,
    frame for frame from the first point (what benchmarks/autoencoder.py replays as case 2),
    once the follow crossfade has settled; a jump into the path still glides."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.autoencoder import replay

    engine = Engine(load_config())
    surface = attach(engine, patches=tmp_path, recordings=tmp_path)
    engine.post("/landmark/add", "demo", str(DEMO))
    engine.post("/path/landmark", "p", "demo")
    engine.post("/latent/follow", 0.0)
    engine.post("/path/play", "p")
    heard = []
    for _ in range(120):
        engine.tick()
        heard.append(engine.latent_position.copy())
    points = surface.navigator.landmarks["demo"].points
    scale = np.abs(points[:120]).max()
    np.testing.assert_allclose(np.array(heard)[60:], replay(points)[60:120], atol=1e-6 * scale)
    # scrubbing is a jump: the position glides from where it was to the new place
    engine.post("/path/pos", 0.5)
    before = engine.latent_position.copy()
    engine.tick()
    engine.tick()
    target = surface.navigator._target
    moved = np.linalg.norm(engine.latent_position - before)
    assert 0.0 < moved < np.linalg.norm(target - before)
