"""Reading and writing sound files: every failure names the path; writes are all or nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from caminos.engine.core.errors import AudioFileError
from caminos.engine.dsp.audio_io import read_audio, write_audio_atomic
from tests.conftest import SAMPLE_RATE, sine


def dominant_frequency_hz(x: np.ndarray, sample_rate: int) -> float:
    """Frequency of the largest peak of a Hann-windowed spectrum, refined by a parabola."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sample_rate / len(x)


def test_a_mono_file_reads_as_one_column_at_its_rate(write_sound: Callable[..., Path]) -> None:
    x = sine(440.0, 0.5)
    samples, info = read_audio(write_sound("a.wav", x), SAMPLE_RATE)
    assert samples.shape == (len(x), 1) and samples.dtype == np.float64
    np.testing.assert_allclose(samples[:, 0], x, atol=1e-7)  # float32 on disk
    assert (info.channels, info.file_sample_rate, info.resampled) == (1, SAMPLE_RATE, False)
    assert info.seconds == pytest.approx(0.5)


def test_stereo_is_kept_channel_by_channel(write_sound: Callable[..., Path]) -> None:
    x = np.stack([sine(440.0, 0.25), -0.5 * sine(1000.0, 0.25)], axis=1)
    samples, info = read_audio(write_sound("s.flac", x, subtype="PCM_24"), SAMPLE_RATE)
    assert samples.shape == x.shape and info.channels == 2 and info.format == "FLAC"
    np.testing.assert_allclose(samples, x, atol=2**-22)


def test_resampling_44k1_to_48k_keeps_a_sines_frequency(write_sound: Callable[..., Path]) -> None:
    x = sine(997.0, 1.0, sample_rate=44_100)
    samples, info = read_audio(write_sound("r.wav", np.stack([x, x], axis=1), 44_100), SAMPLE_RATE)
    assert info.resampled and info.file_sample_rate == 44_100
    assert samples.shape == (SAMPLE_RATE, 2)
    assert dominant_frequency_hz(samples[:, 1], SAMPLE_RATE) == pytest.approx(997.0, abs=0.05)
    # Amplitude kept too (the middle, away from the filter's edge transients).
    assert np.max(np.abs(samples[1000:-1000])) == pytest.approx(0.5, abs=1e-3)


def test_compressed_formats_read(write_sound: Callable[..., Path]) -> None:
    x = sine(440.0, 0.5, amplitude=0.3)
    for name, subtype in (("v.ogg", "VORBIS"), ("m.mp3", "MPEG_LAYER_III")):
        samples, info = read_audio(write_sound(name, x, subtype=subtype), SAMPLE_RATE)
        assert info.channels == 1 and np.isfinite(samples).all()
        assert np.max(np.abs(samples)) == pytest.approx(0.3, abs=0.05), name


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.wav"
    with pytest.raises(AudioFileError, match="file not found") as caught:
        read_audio(path, SAMPLE_RATE)
    assert str(path) in str(caught.value)


def test_a_folder_is_not_a_sound_file(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="is a folder"):
        read_audio(tmp_path, SAMPLE_RATE)


def test_a_text_file_is_not_a_sound_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not a sound at all\n")
    with pytest.raises(AudioFileError, match="not a sound file") as caught:
        read_audio(path, SAMPLE_RATE)
    assert str(path) in str(caught.value)


def test_a_file_without_samples_is_refused(write_sound: Callable[..., Path]) -> None:
    path = write_sound("empty.wav", np.zeros((0, 1)))
    with pytest.raises(AudioFileError, match="holds no samples") as caught:
        read_audio(path, SAMPLE_RATE)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_refused(write_sound: Callable[..., Path], bad: float) -> None:
    x = sine(440.0, 0.5)
    x[12_000] = bad
    path = write_sound("nan.wav", x)
    with pytest.raises(AudioFileError, match=r"1 NaN or infinite samples \(the first at 0.250 s\)"):
        read_audio(path, SAMPLE_RATE)


def test_more_than_two_channels_are_refused_with_the_count(
    write_sound: Callable[..., Path],
) -> None:
    path = write_sound("six.wav", np.zeros((100, 6)))
    with pytest.raises(AudioFileError, match="has 6 channels") as caught:
        read_audio(path, SAMPLE_RATE)
    assert str(path) in str(caught.value)


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    x = np.stack([sine(440.0, 0.1), sine(660.0, 0.1)], axis=1)
    path = tmp_path / "out.wav"
    write_audio_atomic(path, x, SAMPLE_RATE, "FLOAT")
    back, info = read_audio(path, SAMPLE_RATE)
    np.testing.assert_allclose(back, x, atol=1e-7)
    assert info.subtype == "FLOAT"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temporary left behind


def test_a_written_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "out.wav"
    write_audio_atomic(path, sine(440.0, 0.1), SAMPLE_RATE)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.wav"
    path.write_bytes(b"previous render")

    def broken_write(handle, *args, **kwargs):  # the header is on disk, the samples are not
        raise sf.LibsndfileError(0, "disk full (simulated)")

    monkeypatch.setattr(sf.SoundFile, "write", broken_write)
    with pytest.raises(AudioFileError, match="writing failed") as caught:
        write_audio_atomic(path, sine(440.0, 0.1), SAMPLE_RATE)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == b"previous render"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_an_interrupted_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sf.SoundFile, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_audio_atomic(tmp_path / "out.wav", sine(440.0, 0.1), SAMPLE_RATE)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name, subtype, words",
    [
        ("out.xyz", "PCM_24", "unknown sound file extension"),
        ("out.ogg", "PCM_24", "cannot hold PCM_24"),
        ("missing/out.wav", "PCM_24", "does not exist"),
        (".", "PCM_24", "is a folder"),
    ],
)
def test_unwritable_targets_are_refused(
    tmp_path: Path, name: str, subtype: str, words: str
) -> None:
    with pytest.raises(AudioFileError, match=words):
        write_audio_atomic(tmp_path / name, sine(440.0, 0.1), SAMPLE_RATE, subtype)


def test_non_finite_samples_are_never_written(tmp_path: Path) -> None:
    x = sine(440.0, 0.1)
    x[3] = np.nan
    with pytest.raises(AudioFileError, match="NaN"):
        write_audio_atomic(tmp_path / "out.wav", x, SAMPLE_RATE)
    assert list(tmp_path.iterdir()) == []
