"""Scores: text form, parse errors with their line, live recording replayed bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from caminos.engine.cli.main import main
from caminos.engine.clock.engine import Engine
from caminos.engine.control.score import format_event, parse_score, render_score, score_header
from caminos.engine.control.surface import attach
from caminos.engine.core.config import load_config
from caminos.engine.core.errors import ControlError

DEMO = Path(__file__).resolve().parent.parent / "patches" / "demo" / "demo.wav"


@pytest.fixture(scope="module")
def config():
    return load_config()


def fresh(config, tmp_path: Path) -> tuple[Engine, object]:
    engine = Engine(config)
    surface = attach(engine, patches=tmp_path / "patches", recordings=tmp_path / "rec")
    return engine, surface


@pytest.fixture(scope="module")
def registry(config, tmp_path_factory):
    return fresh(config, tmp_path_factory.mktemp("reg"))[0].registry


def test_events_round_trip_through_text(registry):
    events = [
        (0, "/latent/axis", (0, 0.1 + 0.2)),
        (3, "/source/file/open", ("a file.wav",)),
        (3, "/path/point", ("p", 1.5, -0.25, 1e-7)),
        (9, "/path/interp", ("cubic",)),
        (9, "/landmark/add", ("5", "live")),
    ]
    text = score_header(48000, 256) + "".join(format_event(*e) + "\n" for e in events)
    score = parse_score(text + "hop 12 end   # stop\n", registry)
    assert [(e.hop, e.address, e.args) for e in score.events] == events
    assert score.end_hop == 12 and score.n_hops(100) == 12
    assert isinstance(score.events[0].args[1], float) and score.events[0].args[1] == 0.1 + 0.2


@pytest.mark.parametrize(
    "line, reason",
    [
        ("hop 5 /latent/nothing 1", "unknown address"),
        ("hop 5 /latent/axis 0 lots", "expected a number"),
        ("hop 5 /latent/axis 0 99", "out of range"),
        ("hop 1 /latent/axis 0 0.5", "comes before"),
        ("hop five /latent/axis 0 0.5", "expected 'hop N"),
        ("hop 5 /path/new 'unclosed", "quotation"),
    ],
)
def test_parse_errors_name_file_and_line(registry, line, reason):
    text = score_header(48000, 256) + "hop 2 /latent/follow 0.5\n\n" + line + "\n"
    with pytest.raises(ControlError, match=rf"^my\.score:6: .*{reason}"):
        parse_score(text, registry, "my.score")


def test_missing_header_is_refused(registry):
    with pytest.raises(ControlError, match="sample_rate"):
        parse_score("hop 0 /latent/follow 0.5\n", registry, "x.score")


def test_hand_written_score_renders(config, tmp_path):
    engine, _ = fresh(config, tmp_path)
    score = tmp_path / "hand.score"
    score.write_text(
        "# a path from the mean sound outwards\nsample_rate 48000\nhop_size 256\n"
        "hop 0 /latent/follow 0\nhop 0 /path/point walk 0 0\n"
        "hop 0 /path/point walk 2 -1\nhop 0 /path/play walk\nhop 200 end\n"
    )
    out = render_score(score, engine)
    assert out.shape == (200 * 256, 2)
    assert np.isfinite(out).all() and np.abs(out[-48000 // 2 :]).max() > 1e-3


def _live_session(engine: Engine) -> tuple[np.ndarray, int]:
    """Play a session live-style: events posted as the hops come, the output kept."""
    plan = {
        0: [("/engine/record", "take")],
        1: [("/source/file/open", str(DEMO)), ("/source/file/play", 1)],
        10: [
            ("/landmark/point", "a", 1.0, 0.5),
            ("/path/new", "p"),
            ("/path/step", 0.2),
            ("/path/point", "p", 1, 1),
            ("/path/landmark", "p", "a"),
            ("/path/point", "p", -1, 0.5),
            ("/path/interp", "cubic"),
            ("/path/loop", 2),
        ],
        12: [("/path/play", "p"), ("/latent/follow", 0.4)],
        30: [("/latent/axis", 2, 0.7), ("/scene/store", 1)],
        50: [("/out/gain", -6.0), ("/latent/noise", 0.5), ("/path/speed", -1.5)],
        80: [("/latent/xy", 0.2, 0.9)],
        100: [("/scene/recall", 1, 0.1), ("/path/record", "g"), ("/latent/axis", 0, -1.0)],
        120: [("/path/record/stop",), ("/path/play", "g")],
        150: [("/engine/record/stop",)],
    }
    out = np.zeros((160, engine.hop, engine.channels))
    for hop in range(160):
        for address, *args in plan.get(hop, []):
            engine.post(address, *args)
        out[hop] = engine.tick()
    return out.reshape(-1, engine.channels), 150


def test_recording_replays_to_the_same_samples(config, tmp_path):
    recorded_engine, recorded_surface = fresh(config, tmp_path)
    live, stop_hop = _live_session(recorded_engine)
    # /engine/record/stop was applied: the recorder's writer thread completes the files
    finished = recorded_surface.recorder.wait(timeout=30.0)
    assert finished is not None and finished.done.is_set(), "the recording's files never completed"
    assert finished.error == ""
    engine, surface = fresh(config, tmp_path / "replay")
    folder = tmp_path / "rec"
    score_path = folder / "take.score"
    text = score_path.read_text()
    assert "hop 10 /path/point p 1.0 1.0" in text and "/engine/record" not in text
    assert text.rstrip().endswith(f"hop {stop_hop} end")
    replay = render_score(score_path, engine)
    expected = live[: stop_hop * engine.hop]
    assert np.abs(expected).max() > 1e-3  # the session sounds
    np.testing.assert_array_equal(replay, expected)  # bit for bit
    recorded, rate = sf.read(folder / "take.wav", dtype="float32")
    assert rate == 48000
    np.testing.assert_array_equal(recorded, expected.astype(np.float32))


def test_render_score_command(tmp_path):
    score = tmp_path / "s.score"
    score.write_text(
        "sample_rate 48000\nhop_size 256\nhop 0 /latent/follow 0\n"
        "hop 0 /path/point w 1 1\nhop 0 /path/play w\n"
    )
    out = tmp_path / "out.wav"
    assert main(["render", "--score", str(score), "-o", str(out), "--seconds", "0.5"]) == 0
    samples, rate = sf.read(out)
    assert rate == 48000 and len(samples) == 94 * 256
    bad = tmp_path / "bad.score"
    bad.write_text("sample_rate 48000\nhop_size 256\nhop 0 /latent/axis 0 9000\n")
    assert main(["render", "--score", str(bad), "-o", str(out)]) == 2


def test_render_score_takes_the_starting_phase_and_refuses_stretch_and_freeze(tmp_path, capsys):
    score = tmp_path / "s.score"
    score.write_text(
        "sample_rate 48000\nhop_size 256\nhop 0 /latent/follow 0\n"
        "hop 0 /path/point w 1 1\nhop 0 /path/play w\n"
    )
    out = tmp_path / "out.wav"
    for flags in (["--stretch", "2"], ["--freeze-at", "0.1"]):
        capsys.readouterr()
        assert main(["render", "--score", str(score), "-o", str(out), *flags]) == 2
        error = capsys.readouterr().err
        assert flags[0] in error and "not to a score" in error and error.count("\n") == 1
    assert main(["render", "--score", str(score), "-o", str(out), "--phase", "fgla"]) == 2
    assert "streaming method" in capsys.readouterr().err
    assert not out.exists()
    rendered = {}
    for method in ("rtpghi", "random"):
        assert (
            main(
                [
                    "render",
                    "--score",
                    str(score),
                    "-o",
                    str(out),
                    "--seconds",
                    "0.3",
                    "--phase",
                    method,
                    "--set",
                    "render.subtype=FLOAT",
                ]
            )
            == 0
        )
        rendered[method], _ = sf.read(out)
    from caminos.engine.control.surface import render_score_file
    from caminos.engine.core.config import load_config

    config = load_config(overrides={"engine.phase_method": "rtpghi", "render.subtype": "FLOAT"})
    render_score_file(score, tmp_path / "expected.wav", config, 0.3)
    expected, _ = sf.read(tmp_path / "expected.wav")
    np.testing.assert_array_equal(rendered["rtpghi"], expected)  # --phase applied
    assert not np.array_equal(rendered["rtpghi"], rendered["random"])


def test_a_recording_begun_later_starts_from_the_state_it_found(config, tmp_path):
    live, surface = fresh(config, tmp_path)
    for address, *args in [
        ("/latent/follow", 0.3),
        ("/latent/axis", 4, -1.5),
        ("/phase/iterations", 8),
        ("/landmark/point", "lm", 1.0, 2.0),
        ("/path/step", 0.25),
        ("/path/point", "p", 0.5),
        ("/path/landmark", "p", "lm"),
        ("/path/interp", "spherical"),
        ("/path/loop", 1),
        ("/path/play", "p"),
    ]:
        live.post(address, *args)
    for _ in range(40):
        live.tick()
    live.post("/engine/record", "later")
    live.tick()
    live.post("/latent/noise", 0.25)
    for _ in range(20):
        live.tick()
    live.post("/engine/record/stop")
    live.tick()
    recording = surface.recorder.wait()
    text = recording.score_path.read_text()
    assert "hop 0 /latent/follow 0.3" in text and "hop 0 /path/play p" in text
    assert "hop 0 /phase/iterations 8" in text and "/latent/freeze" not in text  # unchanged
    replay, replay_surface = fresh(config, tmp_path / "replay")
    out = render_score(recording.score_path, replay)
    assert len(out) == 20 * replay.hop + replay.hop and np.isfinite(out).all()
    for control in live.registry:
        if control.get is not None and control.address not in ("/path/pos", "/source/file/pos"):
            assert replay.get(control.address) == pytest.approx(live.get(control.address)), (
                control.address
            )
    np.testing.assert_allclose(
        replay_surface.navigator.paths["p"].points, surface.navigator.paths["p"].points, rtol=1e-12
    )


def test_the_example_score_renders_with_its_path_and_scene(config):
    engine = Engine(config)
    surface = attach(engine)  # the project's patches/: paths/dawn.json, scenes/still.json
    example = Path(__file__).resolve().parent.parent / "patches" / "scores" / "dawn.score"
    out = render_score(example, engine)
    assert out.shape[0] == 1875 * engine.hop and np.isfinite(out).all()
    assert np.abs(out[engine.sample_rate :]).max() > 1e-3
    assert engine.get("/latent/z")[:2] == (pytest.approx(0.5), pytest.approx(-0.5))
    assert engine.get("/path/speed") == (-1.0,)
    assert surface.navigator.path.name == "dawn"


def test_a_score_render_to_a_file_that_cannot_hold_its_channels_is_refused_first(
    tmp_path, monkeypatch
):
    from caminos.engine.control import surface
    from caminos.engine.control.surface import render_score_file
    from caminos.engine.core.errors import AudioFileError

    def no_engine(*args, **kwargs):
        raise AssertionError("the engine was built")

    monkeypatch.setattr(surface, "Engine", no_engine)
    score = tmp_path / "s.score"
    score.write_text("sample_rate 48000\nhop_size 256\nhop 0 /latent/follow 0\n")
    config = load_config(overrides={"audio.channels": 10})
    with pytest.raises(
        AudioFileError,
        match=r"out\.flac: FLAC files hold at most 8 channels, "
        r"not 10; write \.w64 or \.caf",
    ):
        render_score_file(score, tmp_path / "out.flac", config, 0.3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.score"]
