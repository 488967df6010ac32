"""The `caminos` command: renders and prints its report; every caminos error is one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from caminos.engine.cli.main import main
from tests.conftest import SAMPLE_RATE, sine

ROOT = Path(__file__).resolve().parent.parent


def caminos(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``python -m caminos.engine`` as a user would, from another folder."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "caminos.engine", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_render_from_the_command_line(write_sound: Callable[..., Path], tmp_path: Path) -> None:
    source = write_sound("in.wav", sine(440.0, 0.5))
    result = caminos(
        "render", source, "-o", "out.flac", "--phase", "rtpghi", "--no-progress", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "real-time factor: " in result.stdout and "phase method: rtpghi" in result.stdout
    assert result.stderr == ""
    info = sf.info(tmp_path / "out.flac")
    assert (info.frames, info.samplerate, info.subtype) == (
        len(sine(440.0, 0.5)),
        SAMPLE_RATE,
        "PCM_24",
    )


def test_a_missing_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = caminos("render", "absent.wav", "-o", "out.wav", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "caminos: error: absent.wav: file not found\n"
    assert not (tmp_path / "out.wav").exists()


def test_a_bad_set_key_is_named_with_exit_2(sine_file: Path, tmp_path: Path) -> None:
    result = caminos(
        "render", sine_file, "-o", "out.wav", "--set", "phase.itterations=3", cwd=tmp_path
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("caminos: error: --set phase.itterations=3: ")
    assert "unknown key phase.itterations" in lines[0]
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize(
    "method, extra",
    [
        ("rtisi-la", ["--iterations", "4", "--lookahead", "1"]),
        ("gsrtisi-la", ["--iterations", "4"]),
        ("rtpghi+gsrtisi", ["--iterations", "4", "--lookahead", "2"]),
        ("fgla", ["--iterations", "5"]),
        ("input", []),
    ],
)
def test_every_method_renders(
    sine_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture, method: str, extra: list[str]
) -> None:
    out = tmp_path / f"{method}.wav"
    assert main(["render", str(sine_file), "-o", str(out), "--phase", method, *extra]) == 0
    assert f"phase method: {method}" in capsys.readouterr().out
    y, _ = sf.read(out)
    assert len(y) == SAMPLE_RATE and np.isfinite(y).all()
    assert np.max(np.abs(y)) <= 10 ** (-0.3 / 20)


def test_stretch_and_freeze_flags(sine_file: Path, tmp_path: Path) -> None:
    assert (
        main(
            [
                "render",
                str(sine_file),
                "-o",
                str(tmp_path / "s.wav"),
                "--phase",
                "pv",
                "--stretch",
                "1.5",
                "--no-progress",
            ]
        )
        == 0
    )
    assert sf.info(tmp_path / "s.wav").frames == 72_000
    assert (
        main(
            [
                "render",
                str(sine_file),
                "-o",
                str(tmp_path / "f.wav"),
                "--phase",
                "pv",
                "--freeze-at",
                "0.25",
                "--no-progress",
            ]
        )
        == 0
    )
    assert sf.info(tmp_path / "f.wav").frames == SAMPLE_RATE


@pytest.mark.parametrize(
    "args, words",
    [
        (["--phase", "magic"], "--phase: phase.method: expected one of"),
        (["--iterations", "0"], "--iterations: phase.iterations: expected a value in [1, 200]"),
        (["--phase", "fgla", "--iterations", "0"], "--iterations: phase.offline_iterations"),
        (["--lookahead", "9"], "--lookahead: phase.lookahead"),
        (["--set", "render.subtype=PCM_8"], "render.subtype: expected one of"),
        (["--set", "phase"], "expected section.key=value"),
        (["--config", "absent.toml"], "absent.toml: configuration file not found"),
        (["--phase", "input", "--stretch", "2"], "cannot stretch or freeze"),
        (["--stretch", "1000"], "stretch must lie in"),
    ],
)
def test_errors_are_one_line_on_stderr_with_exit_2(
    sine_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], words: str
) -> None:
    out = tmp_path / "out.wav"
    assert main(["render", str(sine_file), "-o", str(out), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("caminos: error: ")
    assert words in captured.err
    assert not out.exists()


def test_config_prints_the_effective_configuration(capsys: pytest.CaptureFixture) -> None:
    assert main(["config", "--set", "phase.iterations=24", "--set", "render.subtype=FLOAT"]) == 0
    out = capsys.readouterr().out
    assert "[phase]" in out and "iterations = 24  #" in out and 'subtype = "FLOAT"' in out


def test_config_errors_too_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[stft]\nn_fft = 1000\n")
    assert main(["config", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "stft.n_fft" in err


def test_usage_errors_exit_2_as_argparse_does(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["render", "in.wav"])  # no -o
    assert caught.value.code == 2
    assert "-o/--output" in capsys.readouterr().err


def test_model_commands_are_wired_into_caminos(sine_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec.wav"
    assert main(["reconstruct", str(sine_file), "-o", str(out), "--phase", "rtpghi"]) == 0
    data, rate = sf.read(out)
    assert rate == SAMPLE_RATE and np.all(np.isfinite(data)) and np.max(np.abs(data)) > 0.01


def test_reconstruct_texture_is_an_amount_and_zero_is_the_model_alone(
    sine_file: Path, tmp_path: Path
) -> None:
    """--texture 0 and model.texture=0 give the same file; an amount out of 0..1 is refused by
    name before anything is written."""
    alone, configured = tmp_path / "alone.wav", tmp_path / "configured.wav"
    assert main(["reconstruct", str(sine_file), "-o", str(alone), "--texture", "0"]) == 0
    assert (
        main(["reconstruct", str(sine_file), "-o", str(configured), "--set", "model.texture=0"])
        == 0
    )
    assert np.array_equal(sf.read(alone)[0], sf.read(configured)[0])
    result = caminos(
        "reconstruct", sine_file, "-o", tmp_path / "bad.wav", "--texture", "1.5", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "--texture" in result.stderr and "1.5" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "bad.wav").exists()


def test_model_checkpoint_comes_from_the_configuration(sine_file: Path, tmp_path: Path) -> None:
    result = caminos(
        "reconstruct",
        sine_file,
        "-o",
        tmp_path / "x.wav",
        "--set",
        "model.checkpoint=missing.pt",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "missing.pt" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.wav").exists()


def test_play_loop_needs_a_score(capsys: pytest.CaptureFixture) -> None:
    assert main(["play", "--loop", "--seconds", "1"]) == 2
    assert "--loop loops a --score" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        ["render", "in.wav", "-o", "out.wav"],
        ["train", "autoencoder", "--data", ".", "--out", "out.pt"],
        ["train", "voice", "--data", "espeak", "--out", "out.pt"],
        ["encode", "in.wav", "-o", "out.npz"],
        ["say", "hola", "-o", "out.wav"],
        ["babble", "--seconds", "1", "-o", "out.wav"],
        ["config"],
    ],
)
def test_a_bad_set_is_blamed_on_the_flag_in_every_command(
    command: list[str], capsys: pytest.CaptureFixture
) -> None:
    """One copy of the configuration options: the model's and the voice's commands once blamed
    a bad --set on config.toml."""
    assert main([*command, "--set", "audio.sample_rate=5"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("caminos: error: --set audio.sample_rate=5: ") and "toml" not in error


def test_a_bad_voice_flag_is_blamed_on_the_flag(capsys: pytest.CaptureFixture) -> None:
    assert main(["say", "hola", "-o", "out.wav", "--language", "xx"]) == 2
    assert capsys.readouterr().err.startswith("caminos: error: --language: voice.language: ")
