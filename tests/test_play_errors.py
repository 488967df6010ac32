"""``caminos play`` refuses a bad input before any process starts, in one line, leaving no file;
a live process that still fails reports one line, never a traceback; a recording of a run that
failed before its sound was heard is removed.

No sound card is needed: every refusal here comes before the audio device is looked for.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from caminos.engine.cli.main import main
from caminos.engine.clock.engine import Engine
from caminos.engine.control.score import score_header
from caminos.engine.control.surface import attach
from caminos.engine.core.config import load_config
from caminos.engine.core.errors import ControlError
from caminos.engine.core.ring import SharedCounters
from caminos.engine.live import play as play_module
from caminos.engine.live.control_process import ControlSetup, control_main
from caminos.engine.live.shared import (
    AUDIO_COUNTERS,
    CONTROL_FLAGS,
    DSP_COUNTERS,
    EXIT_FAILED,
    FRONT_COUNTERS,
    read_failure,
    report_failure,
)

HEADER = score_header(48000, 256)
OUT_OF_ORDER = HEADER + "hop 0 /latent/axis 0 1.5\nhop 40 /latent/axis 0 0.0\nhop 12 end\n"


@pytest.fixture
def no_live_player(monkeypatch: pytest.MonkeyPatch):
    """Fail the test if ``caminos play`` gets as far as building its live player."""

    def refuse(*args, **kwargs):
        raise AssertionError("a LivePlayer was built: the input was not checked first")

    monkeypatch.setattr(play_module, "LivePlayer", refuse)


def _play_refuses(
    args: list[str], capsys: pytest.CaptureFixture, *expected: str, osc: bool = False
) -> str:
    """Run ``caminos play ARGS`` here; it must exit 2 with one line on stderr holding every
    ``expected`` text, no traceback, and no child process."""
    assert main(["play", "--seconds", "1", *([] if osc else ["--no-osc"]), *args]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("caminos: error: "), err
    for text in expected:
        assert text in lines[0], err
    assert "Traceback" not in err
    assert mp.active_children() == []
    return lines[0]


def _no_recording(prefix: Path) -> None:
    assert not prefix.with_name(prefix.name + ".wav").exists()
    assert not prefix.with_name(prefix.name + ".score").exists()


def test_a_score_out_of_time_order_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_live_player
) -> None:
    score = tmp_path / "bad.score"
    score.write_text(OUT_OF_ORDER)
    prefix = tmp_path / "take"
    _play_refuses(
        ["--score", str(score), "--record", str(prefix)],
        capsys,
        f"{score}:6:",
        "hop 12 comes before the previous line's hop 40",
        "time order",
    )
    _no_recording(prefix)


@pytest.mark.parametrize(
    "line, reason",
    [
        ("hop 3 /latent/nothing 1", "unknown address"),
        ("hop 3 /latent/axis 0 lots", "expected a number"),
        ("hop three /latent/axis 0 1", "expected 'hop N /address args...'"),
    ],
)
def test_a_bad_score_line_is_named_with_its_file_and_line(
    line: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture, no_live_player
) -> None:
    score = tmp_path / "bad.score"
    score.write_text(HEADER + "hop 0 /latent/axis 0 1.5\n" + line + "\n")
    prefix = tmp_path / "take"
    _play_refuses(["--score", str(score), "--record", str(prefix)], capsys, f"{score}:5:", reason)
    _no_recording(prefix)


def test_a_score_of_another_hop_size_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_live_player
) -> None:
    score = tmp_path / "other.score"
    score.write_text(score_header(48000, 128) + "hop 0 /latent/axis 0 1.5\n")
    _play_refuses(["--score", str(score)], capsys, str(score), "hop 128", "hop 256")


def test_a_missing_score_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_live_player
) -> None:
    prefix = tmp_path / "take"
    _play_refuses(
        ["--score", str(tmp_path / "nothing.score"), "--record", str(prefix)],
        capsys,
        f"{tmp_path / 'nothing.score'}: cannot read the score",
    )
    _no_recording(prefix)


def test_a_record_folder_that_cannot_be_written_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_live_player
) -> None:
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("a file, not a folder\n")
    _play_refuses(
        ["--record", str(not_a_folder / "take")],
        capsys,
        "--record",
        f"{not_a_folder} is not a folder",
    )
    assert not_a_folder.read_text() == "a file, not a folder\n"


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes in a read-only folder"
)
def test_a_read_only_record_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_live_player
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        _play_refuses(
            ["--record", str(folder / "take")], capsys, "--record", f"cannot write in {folder}"
        )
    finally:
        folder.chmod(0o700)
    assert list(folder.iterdir()) == []


def test_a_record_name_the_recorder_refuses_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_live_player
) -> None:
    _play_refuses(["--record", str(tmp_path / "my take")], capsys, "--record", "'my take'")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_sound_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_live_player
) -> None:
    prefix = tmp_path / "take"
    _play_refuses(
        ["--file", str(tmp_path / "nothing.wav"), "--record", str(prefix)],
        capsys,
        f"{tmp_path / 'nothing.wav'}: file not found",
    )
    _no_recording(prefix)


def test_a_missing_checkpoint_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_live_player
) -> None:
    _play_refuses(
        ["--set", f"model.checkpoint={tmp_path / 'none.pt'}"],
        capsys,
        f"{tmp_path / 'none.pt'}",
        "not found",
    )


def test_a_bad_configuration_value_is_blamed_on_its_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_live_player
) -> None:
    _play_refuses(
        ["--set", "engine.lookahead=-3", "--record", str(tmp_path / "take")],
        capsys,
        "--set engine.lookahead=-3",
    )
    assert list(tmp_path.iterdir()) == []


def test_a_report_in_a_missing_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_live_player
) -> None:
    _play_refuses(
        ["--report", str(tmp_path / "no" / "report.json")], capsys, "--report", "does not exist"
    )


def test_a_busy_osc_port_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_live_player
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        _play_refuses(
            [
                "--set",
                "osc.host=127.0.0.1",
                "--set",
                f"osc.port={port}",
                "--record",
                str(tmp_path / "take"),
            ],
            capsys,
            f"osc: cannot listen on 127.0.0.1:{port}",
            osc=True,
        )
    assert list(tmp_path.iterdir()) == []


def test_the_command_prints_one_line_as_a_new_user_sees_it(tmp_path: Path) -> None:
    """The whole command, as its own process: status 2, one line, no traceback, no file."""
    score = tmp_path / "bad.score"
    score.write_text(OUT_OF_ORDER)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "caminos.engine",
            "play",
            "--no-osc",
            "--score",
            str(score),
            "--record",
            str(tmp_path / "take"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"caminos: error: {score}:6: hop 12 comes before the previous line's hop 40; lines "
        "must be in time order"
    ], result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.score"]


# ------------------------------------------------------------------ children that still fail
def test_a_caminos_error_in_a_child_is_left_as_its_message() -> None:
    name = f"test-{os.getpid()}-refusal"
    assert (
        report_failure(name, ControlError("piece.score:6: lines must be in time order"))
        == EXIT_FAILED
    )
    assert read_failure(name) == "piece.score:6: lines must be in time order"


def test_any_other_error_in_a_child_keeps_its_traceback_in_a_log_file() -> None:
    name = f"test-{os.getpid()}-bug"
    try:
        {}["missing"]
    except KeyError as exc:
        assert report_failure(name, exc) == EXIT_FAILED
    line = read_failure(name)
    assert line.startswith("KeyError: 'missing' (traceback in ") and "\n" not in line
    log = Path(line.removeprefix("KeyError: 'missing' (traceback in ").rstrip(")"))
    try:
        assert "Traceback" in log.read_text() and '{}["missing"]' in log.read_text()
    finally:
        log.unlink()


def test_the_control_process_reports_a_bad_score_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    """What the supervisor reads when the control process refuses a score: the line, and
    nothing on stderr (multiprocessing prints the traceback of a target that raises)."""
    score = tmp_path / "bad.score"
    score.write_text(OUT_OF_ORDER)
    config = load_config()
    blocks = [
        SharedCounters(names)
        for names in (DSP_COUNTERS, AUDIO_COUNTERS, CONTROL_FLAGS, FRONT_COUNTERS)
    ]
    dsp, audio, flags, front = blocks
    context = mp.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    setup = ControlSetup(
        config,
        config.audio.channels,
        dsp.name,
        audio.name,
        flags.name,
        front.name,
        voice=False,
        osc=False,
        score=str(score),
    )
    child = context.Process(target=control_main, args=(setup, send, os.getpid()))
    try:
        child.start()
        send.close()
        child.join(timeout=300)
        assert child.exitcode == EXIT_FAILED
        assert front["failed"] == 1.0
        assert read_failure(front.name) == (
            f"{score}:6: hop 12 comes before the previous "
            "line's hop 40; lines must be in time order"
        )
        assert "Traceback" not in capfd.readouterr().err
    finally:
        if child.is_alive():
            child.kill()
        receive.close()
        for block in blocks:
            block.close()


# ------------------------------------------------------------------ recordings never heard
@pytest.fixture(scope="module")
def engine():
    engine = Engine(load_config(), voice=False)
    yield engine
    engine.close()


def _recorder(engine: Engine, folder: Path):
    fresh = Engine(engine.config, checkpoint=engine.checkpoint, voice=False)
    return fresh, attach(fresh, patches=folder / "patches", recordings=folder).recorder


def test_a_recording_whose_hop_never_came_is_removed(engine: Engine, tmp_path: Path) -> None:
    live, recorder = _recorder(engine, tmp_path)
    live.post("/engine/record", "take")  # files open now; the recording begins at its hop
    assert (tmp_path / "take.wav").exists() and (tmp_path / "take.score").exists()
    recorder.discard(started=False)
    assert list(tmp_path.glob("take.*")) == []


def test_a_recording_of_a_run_never_heard_is_removed(engine: Engine, tmp_path: Path) -> None:
    live, recorder = _recorder(engine, tmp_path)
    live.post("/engine/record", "take")
    for _ in range(4):
        live.tick()
    assert recorder.recording is not None
    recorder.discard(started=False)  # the one in progress is kept...
    assert (tmp_path / "take.wav").exists()
    recorder.discard()  # ...unless the run ended before its sound was heard
    assert recorder.recording is None and list(tmp_path.glob("take.*")) == []


def test_a_stopped_recording_is_kept(engine: Engine, tmp_path: Path) -> None:
    live, recorder = _recorder(engine, tmp_path)
    live.post("/engine/record", "take")
    for _ in range(4):
        live.tick()
    live.post("/engine/record/stop")
    live.tick()
    assert recorder.wait(timeout=30.0) is not None
    recorder.discard()
    assert (tmp_path / "take.score").read_text().endswith("hop 4 end\n")
    assert (tmp_path / "take.wav").stat().st_size > 4 * 256 * 8
