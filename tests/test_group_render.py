"""``caminos render --score --jobs``: a field's voices rendered by groups in several processes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from caminos.engine.cli.main import main
from caminos.engine.control.group_render import VoiceGroup, render_in_groups, voice_groups
from caminos.engine.control.surface import render_score_file
from caminos.engine.core.config import load_config
from caminos.engine.core.errors import ControlError, ParameterError

DEMO = Path(__file__).resolve().parent.parent / "patches" / "demo" / "demo.wav"


def field_config(layout: str, channels: int, **overrides) -> object:
    return load_config(
        overrides={
            "field.layout": layout,
            "audio.channels": channels,
            "render.subtype": "FLOAT",
            **overrides,
        }
    )


def spans(groups: list[VoiceGroup]) -> list[tuple[int, int, int]]:
    return [(g.start, g.count, g.first_channel) for g in groups]


def test_the_voices_split_into_contiguous_groups_of_the_room() -> None:
    ring = field_config("ring-8", 8)
    assert spans(voice_groups(ring, 3)) == [(0, 3, 1), (3, 3, 4), (6, 2, 7)]
    assert spans(voice_groups(ring, 1)) == [(0, 8, 1)]
    assert len(voice_groups(ring, 64)) == 8  # never more groups than voices
    # an instance playing speakers 5-8 of a ring-8 splits its own slice
    part = field_config("ring-8", 4, **{"field.first_channel": 5, "field.voices": 4})
    assert spans(voice_groups(part, 2)) == [(0, 2, 5), (2, 2, 7)]
    assert voice_groups(part, 2)[1].describe() == "channels 7-8"
    # one voice copied to every channel: one group whatever the jobs
    assert spans(voice_groups(field_config("mono", 4), 4)) == [(0, 4, 1)]
    # 0: one process per core, never more than the voices
    assert len(voice_groups(ring, 0)) == min(os.cpu_count() or 1, 8)
    with pytest.raises(ParameterError, match=r"--jobs -1: expected 1 to 64 processes \(0: one"):
        voice_groups(ring, -1)


def write_score(path: Path, *lines: str) -> Path:
    path.write_text("sample_rate 48000\nhop_size 256\n" + "\n".join(lines) + "\n")
    return path


def test_a_score_rendered_by_groups_is_the_file_one_process_writes(tmp_path) -> None:
    """Three processes (2, 1 and 1 voices) and one process write the same samples, with the
    limiter acting on the linked channels."""
    score = write_score(
        tmp_path / "room.score",
        "hop 0 /out/gain 12",
        f'hop 0 /source/file/open "{DEMO}"',
        "hop 0 /source/file/play 1",
        "hop 0 /field/spread 1",
        "hop 0 /field/wander 0.3",
        "hop 0 /field/decorrelate 0.7",
        "hop 30 /field/spin 45",
        "hop 50 /channel/3/xy 0.5 -0.5",
        "hop 60 /channel/2/gain 0.5",
        "hop 140 end",
    )
    config = field_config("ring-4", 4)
    one = render_score_file(score, tmp_path / "one.wav", config, jobs=1)
    three = render_score_file(score, tmp_path / "three.wav", config, jobs=3)
    assert "processes" not in one and "3 processes" in three
    whole, rate = sf.read(tmp_path / "one.wav")
    groups, _ = sf.read(tmp_path / "three.wav")
    assert rate == 48000 and whole.shape == (140 * 256, 4)
    np.testing.assert_array_equal(groups, whole)
    assert np.abs(whole).max() > 0.9  # 12 dB up: the limiter acted
    assert np.abs(whole[:, 0] - whole[:, 2]).max() > 1e-2  # four voices, not copies
    assert sf.info(tmp_path / "three.wav").channels == 4


def test_the_default_layout_splits_as_the_layout_it_names(tmp_path) -> None:
    """``field.layout = ""`` on two channels is the stereo layout: each process renders one of
    its voices, and the file is one process's."""
    score = write_score(
        tmp_path / "stereo.score",
        f'hop 0 /source/file/open "{DEMO}"',
        "hop 0 /source/file/play 1",
        "hop 0 /field/spread 1",
        "hop 60 end",
    )
    config = load_config(overrides={"audio.channels": 2, "render.subtype": "FLOAT"})
    assert config.field.layout == ""
    render_score_file(score, tmp_path / "one.wav", config, jobs=1)
    render_score_file(score, tmp_path / "two.wav", config, jobs=2)
    np.testing.assert_array_equal(
        sf.read(tmp_path / "two.wav")[0], sf.read(tmp_path / "one.wav")[0]
    )


def test_a_bad_line_in_a_group_render_is_named_and_nothing_is_written(tmp_path) -> None:
    score = write_score(
        tmp_path / "bad.score", "hop 0 /field/spread 1", "hop 5 /field/spread 12", "hop 20 end"
    )
    out = tmp_path / "out.wav"
    with pytest.raises(ControlError, match=r"bad\.score:4: .*spread"):
        render_score_file(score, out, field_config("quad", 4), jobs=2)
    assert not out.exists()


def exit_at_once(score_path, config, seconds, out_path, connection) -> None:
    """A group's process that dies without a word (as one killed would)."""
    os._exit(3)


def test_a_group_process_that_dies_is_named_with_its_exit_code(tmp_path) -> None:
    score = write_score(tmp_path / "s.score", "hop 10 end")
    config = field_config("quad", 4)
    # both die; whichever is heard first is named
    with pytest.raises(
        RuntimeError, match=r"channels (1-2|3-4) ended without a result \(exit code 3\)"
    ):
        render_in_groups(score, config, None, voice_groups(config, 2), exit_at_once)


def test_jobs_apply_to_a_score_only(tmp_path, capsys) -> None:
    assert main(["render", str(DEMO), "-o", str(tmp_path / "o.wav"), "--jobs", "2"]) == 2
    assert "--jobs splits a --score's field" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists()


def test_the_progress_bar_counts_seconds_of_sound_to_the_end(tmp_path, capsys) -> None:
    """One process and two report the render's progress in seconds of sound, to 100 %; the
    score replay feeds it from the first hop to the last."""
    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.score import PROGRESS_HOPS, render_score
    from caminos.engine.control.surface import attach

    score = write_score(tmp_path / "s.score", "hop 0 /field/spread 1", "hop 200 end")
    config = field_config("quad", 4)
    engine = Engine(config, voice=False, startup_events=False)
    attach(engine, patches=tmp_path, recordings=tmp_path)
    calls: list[tuple[int, int]] = []
    render_score(score, engine, None, lambda done, hops: calls.append((done, hops)))
    assert calls[0] == (0, 200) and calls[-1] == (200, 200)
    assert [done for done, _ in calls[1:-1]] == list(range(PROGRESS_HOPS, 200, PROGRESS_HOPS))
    for jobs in (1, 2):
        capsys.readouterr()
        render_score_file(score, tmp_path / f"j{jobs}.wav", config, jobs=jobs, progress=True)
        err = capsys.readouterr().err
        assert "render score: 100%" in err and "1.1/1.1 s" in err, err[-300:]
    render_score_file(score, tmp_path / "quiet.wav", config, jobs=2, progress=False)
    assert "render score" not in capsys.readouterr().err
