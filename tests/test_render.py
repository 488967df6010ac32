"""Offline render: lengths, ceiling, the exact `input` round trip, stretch, freeze, and failures."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from caminos.engine.core.config import Config, load_config
from caminos.engine.core.errors import AudioFileError, ParameterError
from caminos.engine.dsp.dynamics import DcBlocker
from caminos.engine.dsp.render import freeze_frame, render, stretch_magnitudes
from caminos.engine.dsp.spectral import latency_samples
from tests.conftest import SAMPLE_RATE, sine

FAST_METHODS = ("random", "pv", "rtpghi", "pghi")  # the cheap ones; the rest in test_cli


@pytest.fixture
def float_config() -> Config:
    """Defaults, but rendering float samples, so comparisons are not limited by 24-bit steps."""
    return load_config(None, {"render.subtype": "FLOAT"})


def test_input_method_gives_back_the_input_through_the_dc_blocker(
    write_sound: Callable[..., Path], tmp_path: Path, float_config: Config
) -> None:
    # Below the ceiling the limiter's gain is exactly 1, so only the 5 Hz DC blocker remains.
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    x = np.stack([sine(440.0, 1.0), 0.4 * np.sin(2 * np.pi * (200 * t + 3000 * t**2))], axis=1)
    out = tmp_path / "out.wav"
    report = render(write_sound("in.wav", x), out, float_config, "input")
    y, rate = sf.read(out)
    expected = x.astype(np.float32).astype(np.float64)
    DcBlocker(SAMPLE_RATE, 2).process(expected, expected)
    assert rate == SAMPLE_RATE and y.shape == x.shape
    assert np.max(np.abs(y - expected)) < 1e-6  # float32 on disk, both ways
    assert report.limiter_reduction_db == 0.0 and report.channels == 2


@pytest.mark.parametrize("method", FAST_METHODS)
def test_a_render_has_the_input_length_and_stays_below_the_ceiling(
    write_sound: Callable[..., Path], tmp_path: Path, config: Config, method: str
) -> None:
    x = sine(440.0, 0.5, amplitude=4.0)  # 12 dB over full scale: the limiter must act
    x[: SAMPLE_RATE // 10] += 0.3  # and a DC offset to remove
    out = tmp_path / f"{method}.wav"
    report = render(write_sound("loud.wav", x), out, config, method)
    y, rate = sf.read(out, always_2d=True)
    assert (rate, y.shape) == (SAMPLE_RATE, (len(x), 1))
    assert np.isfinite(y).all()
    assert np.max(np.abs(y)) <= 10 ** (config.render.ceiling_db / 20)
    assert report.peak_dbfs <= config.render.ceiling_db
    assert report.limiter_reduction_db > 3.0
    assert report.seconds_in == report.seconds_out == pytest.approx(0.5)
    assert report.method == method and report.realtime_factor > 0


@pytest.mark.parametrize("stretch", [2.0, 0.5, 1.37])
def test_stretch_scales_the_length(
    write_sound: Callable[..., Path], tmp_path: Path, config: Config, stretch: float
) -> None:
    x = sine(440.0, 0.5)
    out = tmp_path / "stretched.wav"
    report = render(write_sound("in.wav", x), out, config, "pv", stretch=stretch)
    assert sf.info(out).frames == round(len(x) * stretch)
    assert report.seconds_out == pytest.approx(0.5 * stretch, abs=1 / SAMPLE_RATE)


def test_stretch_keeps_the_pitch(
    write_sound: Callable[..., Path], tmp_path: Path, config: Config
) -> None:
    out = tmp_path / "stretched.wav"
    render(write_sound("in.wav", sine(1000.0, 0.5)), out, config, "pv", stretch=2.0)
    y, _ = sf.read(out)
    middle = y[SAMPLE_RATE // 4 : 3 * SAMPLE_RATE // 4]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    assert np.argmax(spectrum) * SAMPLE_RATE / len(middle) == pytest.approx(1000.0, abs=4.0)


def test_freeze_holds_the_sound_to_the_end(
    write_sound: Callable[..., Path], tmp_path: Path, config: Config
) -> None:
    # A tone that stops at 0.4 s: frozen at 0.2 s it sounds on to the end of the file.
    x = sine(660.0, 1.0)
    x[int(0.4 * SAMPLE_RATE) :] = 0.0
    out = tmp_path / "frozen.wav"
    report = render(write_sound("in.wav", x), out, config, "pv", freeze_at=0.2)
    y, _ = sf.read(out)
    assert len(y) == len(x) and report.seconds_out == pytest.approx(1.0)
    rms = [np.sqrt(np.mean(y[s : s + 4800] ** 2)) for s in range(9600, 48000 - 4800, 4800)]
    assert min(rms) > 0.8 * 0.5 / np.sqrt(2)  # the tone's level, steady, long after 0.4 s
    assert max(rms) / min(rms) < 1.1


def test_stretch_magnitudes_interpolates_at_fractional_frames() -> None:
    mags = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    out = stretch_magnitudes(mags, 2.0, 7)
    np.testing.assert_allclose(out[:, 0], [0.0, 1.0, 2.0, 3.0, 4.0, 4.0, 4.0])
    np.testing.assert_allclose(out[:, 1], out[:, 0] + 1.0)
    np.testing.assert_allclose(stretch_magnitudes(mags, 0.5, 2), mags[[0, 2]])


def test_freeze_frame_is_the_frame_centred_at_that_time(config: Config) -> None:
    # Frame m is centred on sample m*hop - (n_fft - hop) + n_fft/2 = 256 m - 256 (defaults).
    assert freeze_frame(256 * 20 / SAMPLE_RATE, 1000, config) == 21
    assert freeze_frame(0.0, 1000, config) == 1
    assert freeze_frame(100.0, 50, config) == 49


def test_the_report_states_the_live_latency(
    write_sound: Callable[..., Path], tmp_path: Path, config: Config
) -> None:
    report = render(write_sound("in.wav", sine(440.0, 0.3)), tmp_path / "o.wav", config, "rtpghi")
    expected = latency_samples(config.stft, min(config.phase.lookahead, 1)) + 72
    assert report.latency_samples == expected
    assert report.latency_ms == pytest.approx(1000 * expected / SAMPLE_RATE)
    text = report.summary()
    assert "real-time factor: " in text and f"{expected} samples" in text
    offline = render(write_sound("in2.wav", sine(440.0, 0.3)), tmp_path / "p.wav", config, "pghi")
    assert offline.latency_samples is None and "whole file" in offline.summary()


def test_the_method_defaults_to_the_configured_one(
    write_sound: Callable[..., Path], tmp_path: Path
) -> None:
    config = load_config(None, {"phase.method": "random"})
    report = render(write_sound("in.wav", sine(440.0, 0.2)), tmp_path / "o.wav", config)
    assert report.method == "random"


def test_a_progress_bar_can_be_asked_for(
    write_sound: Callable[..., Path], tmp_path: Path, config: Config, capsys: pytest.CaptureFixture
) -> None:
    render(
        write_sound("in.wav", sine(440.0, 0.2)), tmp_path / "o.wav", config, "random", progress=True
    )
    assert "render random" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"method": "input", "stretch": 2.0}, "cannot stretch or freeze"),
        ({"method": "input", "freeze_at": 0.1}, "cannot stretch or freeze"),
        ({"method": "pv", "stretch": 2.0, "freeze_at": 0.1}, "cannot be combined"),
        ({"method": "pv", "stretch": 0.0}, "stretch must lie in"),
        ({"method": "pv", "stretch": float("nan")}, "stretch must lie in"),
        ({"method": "pv", "freeze_at": -1.0}, "freeze_at must be"),
        ({"method": "pv", "freeze_at": 0.5}, "past the end"),
        ({"method": "magic"}, "unknown phase method 'magic'"),
    ],
)
def test_impossible_requests_are_refused_and_write_nothing(
    write_sound: Callable[..., Path], tmp_path: Path, config: Config, kwargs: dict, words: str
) -> None:
    source = write_sound("in.wav", sine(440.0, 0.2))
    out = tmp_path / "out.wav"
    with pytest.raises(ParameterError, match=words):
        render(source, out, config, **kwargs)
    assert not out.exists()


def test_the_output_may_not_be_the_input(write_sound: Callable[..., Path], config: Config) -> None:
    source = write_sound("in.wav", sine(440.0, 0.2))
    before = source.read_bytes()
    with pytest.raises(ParameterError, match="overwrite the input"):
        render(source, source, config, "random")
    assert source.read_bytes() == before


@pytest.mark.parametrize("problem", ["missing", "empty", "nan", "text"])
def test_a_bad_input_raises_and_leaves_the_old_output_alone(
    write_sound: Callable[..., Path], tmp_path: Path, config: Config, problem: str
) -> None:
    if problem == "missing":
        source = tmp_path / "absent.wav"
    elif problem == "empty":
        source = write_sound("empty.wav", np.zeros(0))
    elif problem == "nan":
        x = sine(440.0, 0.2)
        x[100] = np.nan
        source = write_sound("nan.wav", x)
    else:
        source = tmp_path / "text.wav"
        source.write_text("hello")
    out = tmp_path / "out.wav"
    out.write_bytes(b"an earlier render")
    with pytest.raises(AudioFileError, match=str(source.name)):
        render(source, out, config, "random")
    assert out.read_bytes() == b"an earlier render"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {"out.wav"} | ({source.name} if source.exists() else set())
    )


def test_an_unwritable_output_is_refused_before_the_work(
    sine_file: Path, tmp_path: Path, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from caminos.engine.dsp import render as render_module

    def no_work(*args, **kwargs):
        raise AssertionError("the render started")

    monkeypatch.setattr(render_module, "stft", no_work)
    with pytest.raises(AudioFileError, match="unknown sound file extension '.xyz'"):
        render(sine_file, tmp_path / "out.xyz", config, "random")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sine.wav"]
