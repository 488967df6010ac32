"""Many channels in sound files: exact round trips, WAVE speaker masks, FLAC's limit, recording."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from caminos.engine.control.score import RECORD_SUBTYPE, ScoreRecorder
from caminos.engine.core.errors import AudioFileError, ControlError
from caminos.engine.dsp.audio_io import check_output_format, write_audio_atomic
from caminos.engine.dsp.wav_header import write_channel_mask
from tests.conftest import SAMPLE_RATE


def steps(channels: int, n: int = 4800, seed: int = 0) -> np.ndarray:
    """Random samples on the 24-bit grid below half scale, different in every channel.

    libsndfile scales by 2**23 - 1 (or 2**31 - 1) on writing and by 2**23 on reading, so only
    values k / 2**23 with |k| < 2**22 survive PCM_24 exactly, whatever the container.
    """
    k = np.random.default_rng(seed).integers(-(2**22), 2**22, size=(n, channels))
    k[0] = np.arange(channels)  # channel order shows in the first frame
    return k / 2**23


def wave_format(path: Path) -> tuple[int, int, int | None]:
    """Format tag, channels and dwChannelMask (None for a plain WAVE header) of a WAVE file,
    read from its bytes."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    offset = 12
    while data[offset : offset + 4] != b"fmt ":
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        offset += 8 + size + (size & 1)
    size = int.from_bytes(data[offset + 4 : offset + 8], "little")
    fmt = data[offset + 8 : offset + 8 + size]
    tag = int.from_bytes(fmt[0:2], "little")
    channels = int.from_bytes(fmt[2:4], "little")
    if tag != 0xFFFE:
        return tag, channels, None
    assert size == 40 and int.from_bytes(fmt[16:18], "little") == 22  # cbSize
    return tag, channels, int.from_bytes(fmt[20:24], "little")


@pytest.mark.parametrize(
    "extension, container, channels",
    [
        (extension, container, channels)
        for extension, container in (
            ("wav", "WAVEX"),
            ("flac", "FLAC"),
            ("w64", "W64"),
            ("caf", "CAF"),
        )
        for channels in (4, 8, 16)
        if not (extension == "flac" and channels > 8)
    ],
)  # refused below
def test_many_channels_round_trip_exactly(
    tmp_path: Path, extension: str, container: str, channels: int
) -> None:
    x = steps(channels)
    path = tmp_path / f"out.{extension}"
    write_audio_atomic(path, x, SAMPLE_RATE, "PCM_24")
    back, rate = sf.read(path, dtype="float64", always_2d=True)
    info = sf.info(path)
    assert (rate, info.channels, info.format, info.subtype) == (
        SAMPLE_RATE,
        channels,
        container,
        "PCM_24",
    )
    np.testing.assert_array_equal(back, x)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize(
    "channels, mask, expected",
    [
        (2, 0x3, 0x3),  # stereo, asked for: front left, front right
        (4, 0x33, 0x33),  # quad: front and back pairs
        (6, 0x3F, 0x3F),  # 5.1
        (4, None, 0),  # speakers wherever they stand: no positions (libsndfile would say quad)
        (8, None, 0),  # (libsndfile would say 7.1)
        (16, None, 0),
        (10, 0x3, 0x3),  # two named, eight unassigned
    ],
)
def test_wave_files_carry_the_speaker_mask(
    tmp_path: Path, channels: int, mask: int | None, expected: int
) -> None:
    x = steps(channels)
    path = tmp_path / "out.wav"
    write_audio_atomic(path, x, SAMPLE_RATE, "PCM_24", channel_mask=mask)
    assert wave_format(path) == (0xFFFE, channels, expected)
    assert sf.info(path).format == "WAVEX"
    np.testing.assert_array_equal(sf.read(path, always_2d=True)[0], x)  # the patch spoilt nothing


@pytest.mark.parametrize("extension", ["wav", "flac"])
@pytest.mark.parametrize("channels", [1, 2])
def test_mono_and_stereo_files_are_written_as_before(
    tmp_path: Path, extension: str, channels: int
) -> None:
    x = steps(channels)[:, 0] if channels == 1 else steps(channels)
    ours, plain = tmp_path / f"ours.{extension}", tmp_path / f"plain.{extension}"
    write_audio_atomic(ours, x, SAMPLE_RATE, "PCM_24")
    sf.write(plain, x, SAMPLE_RATE, subtype="PCM_24")
    assert ours.read_bytes() == plain.read_bytes()
    if extension == "wav":
        assert wave_format(ours) == (1, channels, None)


def test_flac_beyond_eight_channels_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "out.flac"
    with pytest.raises(AudioFileError) as checked:
        check_output_format(path, 10, "PCM_24")
    message = str(checked.value)
    assert str(path) in message and "at most 8 channels, not 10" in message
    assert ".w64" in message and ".caf" in message
    path.write_bytes(b"an earlier render")
    with pytest.raises(AudioFileError, match="at most 8 channels, not 10"):
        write_audio_atomic(path, steps(10), SAMPLE_RATE, "PCM_24")
    assert path.read_bytes() == b"an earlier render"
    assert [p.name for p in tmp_path.iterdir()] == ["out.flac"]
    assert check_output_format(path, 8, "PCM_24") == "FLAC"


@pytest.mark.parametrize(
    "name, channels, mask, words",
    [
        ("out.flac", 2, 0x3, "only in .wav files"),
        ("out.w64", 16, 0, "only in .wav files"),
        ("out.wav", 2, 0x7, "names 3 speakers for 2 channels"),
        ("out.wav", 4, 1 << 18, "0x40000 is not between 0 and 0x3ffff"),
        ("out.wav", 4, -1, "-0x1 is not between 0 and 0x3ffff"),
        ("out.wav", 4, 1.5, "not an integer"),
    ],
)
def test_wrong_masks_are_refused(
    tmp_path: Path, name: str, channels: int, mask, words: str
) -> None:
    with pytest.raises(AudioFileError, match=words) as caught:
        write_audio_atomic(tmp_path / name, steps(channels), SAMPLE_RATE, "PCM_24", mask)
    assert name in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name, channels, container",
    [
        ("a.wav", 1, "WAV"),
        ("a.wav", 2, "WAV"),
        ("a.wav", 3, "WAVEX"),
        ("a.wav", 64, "WAVEX"),
        ("a.flac", 8, "FLAC"),
        ("a.w64", 64, "W64"),
        ("a.caf", 64, "CAF"),
        ("a.aif", 4, "AIFF"),
    ],
)
def test_the_container_follows_extension_and_channels(
    tmp_path: Path, name: str, channels: int, container: str
) -> None:
    assert check_output_format(tmp_path / name, channels, "PCM_24") == container
    assert list(tmp_path.iterdir()) == []


def test_a_mask_is_set_only_in_an_extensible_header(tmp_path: Path) -> None:
    path = tmp_path / "plain.wav"
    sf.write(path, steps(2), SAMPLE_RATE, subtype="PCM_24")
    before = path.read_bytes()
    with pytest.raises(AudioFileError, match="0x0001 is not WAVE_FORMAT_EXTENSIBLE"):
        write_channel_mask(path, 0x3)
    assert path.read_bytes() == before


def _fake_engine(channels: int) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        registry=[],
        hop=256,
        sample_rate=SAMPLE_RATE,
        channels=channels,
        hop_index=0,
        hop_model=types.SimpleNamespace(name="model"),
        channel_mask=None,
    )


@pytest.mark.parametrize("channels", [2, 8, 12])
def test_a_recording_holds_what_a_render_writes(tmp_path: Path, channels: int) -> None:
    engine = _fake_engine(channels)
    recorder = ScoreRecorder(engine, tmp_path / "rec")
    controls = {control.address: control for control in recorder.controls()}
    start = controls["/engine/record"]
    start.apply(start.prepare("take"))
    x = steps(channels, n=40 * engine.hop) * 1.7  # past full scale: FLOAT keeps it
    for hop in range(40):
        recorder.on_output(hop, x[hop * engine.hop : (hop + 1) * engine.hop])
        engine.hop_index = hop + 1
    controls["/engine/record/stop"].apply()
    recording = recorder.wait()
    assert recording.done.is_set() and recording.error == "" and recording.lost == 0
    rendered = tmp_path / "render.wav"
    write_audio_atomic(rendered, x, SAMPLE_RATE, RECORD_SUBTYPE)
    recorded, _ = sf.read(recording.wav_path, dtype="float32", always_2d=True)
    np.testing.assert_array_equal(recorded, sf.read(rendered, dtype="float32", always_2d=True)[0])
    np.testing.assert_array_equal(recorded, x.astype(np.float32))
    assert wave_format(recording.wav_path) == wave_format(rendered)
    assert wave_format(rendered)[2] == (None if channels == 2 else 0)


def test_a_recording_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    (tmp_path / "take.wav").mkdir()  # where the recording would go
    recorder = ScoreRecorder(_fake_engine(4), tmp_path)
    start = {control.address: control for control in recorder.controls()}["/engine/record"]
    with pytest.raises(ControlError, match=r"^/engine/record: .*take\.wav: is a folder"):
        start.prepare("take")
