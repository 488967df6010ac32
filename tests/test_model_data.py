"""Tests of models.data: folders of sound files into cached, split log-magnitude frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import caminos.models.data as data
from caminos.engine.core.config import config_from_mapping
from caminos.models.data import DataError, load_corpus, trim_silence
from caminos.models.shape import MAGNITUDE_FLOOR

RATE = 16_000  # Hz; small settings keep these tests fast


@pytest.fixture
def small_config():
    return config_from_mapping({"audio": {"sample_rate": RATE}, "stft": {"n_fft": 256, "hop": 64}})


def tone(seconds: float, rate: int = RATE, frequency: float = 440.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return 0.3 * np.sin(2 * np.pi * frequency * t) + 0.01 * noise


def write(folder: Path, name: str, samples: np.ndarray, rate: int = RATE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    sf.write(path, samples, rate)
    return path


def test_any_rate_and_channel_count_is_read_as_mono_at_the_config_rate(tmp_path, small_config):
    stereo = np.stack([tone(1.0, 22_050), tone(1.0, 22_050, 660.0)], axis=1)
    write(tmp_path / "in", "a.wav", stereo, 22_050)
    write(tmp_path / "in", "b.flac", np.tile(tone(1.0, 48_000)[:, None], (1, 4)), 48_000)
    corpus = load_corpus(
        tmp_path / "in", small_config, min_seconds=1.0, cache_dir=None, split="files"
    )
    assert corpus.skipped == []
    assert corpus.train.frames.dtype == np.float32
    assert corpus.train.frames.shape[1] == 129
    total = corpus.train.seconds + corpus.validation.seconds
    assert total == pytest.approx(2.0, abs=0.02)
    frames_per_second = RATE / 64
    n_frames = len(corpus.train) + len(corpus.validation)
    assert n_frames == pytest.approx(2.0 * frames_per_second, abs=2 * 4)  # + edge frames per file


def test_leading_and_trailing_silence_is_trimmed():
    x = np.concatenate([np.zeros(RATE), tone(1.0), np.zeros(RATE // 2)])
    trimmed = trim_silence(x, 64)
    assert len(trimmed) == pytest.approx(RATE, abs=128)
    assert len(trim_silence(np.zeros(RATE), 64)) == 0


def test_bad_and_silent_files_are_skipped_and_listed(tmp_path, small_config):
    folder = tmp_path / "in"
    write(folder, "good1.wav", tone(2.0))
    write(folder, "good2.wav", tone(2.0, frequency=300.0))
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    write(folder, "silent.wav", np.zeros(RATE))
    corpus = load_corpus(folder, small_config, min_seconds=1.0, cache_dir=None)
    reasons = dict((Path(p).name, r) for p, r in corpus.skipped)
    assert set(reasons) == {"broken.wav", "silent.wav"}
    assert "cannot decode" in reasons["broken.wav"]
    assert "silent" in reasons["silent.wav"]
    assert any("broken.wav" in line for line in corpus.summary()["skipped"])


def test_empty_or_missing_folder_is_a_clear_error(tmp_path, small_config):
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        DataError, match=r"empty: no sound files found.*0\.0 s of audio found, 2 s needed"
    ):
        load_corpus(tmp_path / "empty", small_config, cache_dir=None)
    with pytest.raises(DataError, match="missing: training folder not found"):
        load_corpus(tmp_path / "missing", small_config, cache_dir=None)


def test_no_usable_file_lists_every_file_and_reason(tmp_path, small_config):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.wav").write_bytes(b"not audio")
    write(folder, "b.wav", np.zeros(RATE))
    with pytest.raises(DataError) as info:
        load_corpus(folder, small_config, cache_dir=None)
    message = str(info.value)
    assert "none of the 2 sound files is usable" in message
    assert "a.wav: cannot decode" in message and "b.wav: silent" in message


def test_too_little_audio_says_how_much_was_found_and_needed(tmp_path, small_config):
    write(tmp_path / "short", "a.wav", tone(1.5))
    with pytest.raises(
        DataError,
        match=r"short: too little audio to train on: 1\.5 s found in 1 "
        r"usable file\(s\).*2 s needed",
    ):
        load_corpus(tmp_path / "short", small_config, cache_dir=None)


def test_split_is_by_file_and_seeded(tmp_path, small_config):
    folder = tmp_path / "in"
    for i in range(10):
        write(folder, f"f{i}.wav", tone(0.5, frequency=200.0 + 50 * i, seed=i))
    a = load_corpus(folder, small_config, min_seconds=1.0, seed=3, cache_dir=None, split="files")
    b = load_corpus(folder, small_config, min_seconds=1.0, seed=3, cache_dir=None, split="files")
    assert a.validation.files == b.validation.files
    assert len(a.validation.files) == 1 and len(a.train.files) == 9
    assert not set(a.validation.files) & set(a.train.files)
    picks = {
        tuple(
            load_corpus(
                folder, small_config, min_seconds=1.0, seed=s, cache_dir=None, split="files"
            ).validation.files
        )
        for s in range(6)
    }
    assert len(picks) > 1  # the seed chooses
    np.testing.assert_array_equal(a.train.starts[0], 0)
    assert len(a.train.starts) == 9


def test_a_single_file_is_split_by_time(tmp_path, small_config):
    write(tmp_path / "one", "a.wav", tone(2.0))
    corpus = load_corpus(
        tmp_path / "one",
        small_config,
        min_seconds=1.0,
        cache_dir=None,
        validation_fraction=0.25,
        split="files",
    )
    total = len(corpus.train) + len(corpus.validation)
    assert len(corpus.validation) == pytest.approx(0.25 * total, abs=1)


def test_frames_are_log_magnitudes_of_the_stft(tmp_path, small_config):
    from caminos.engine.dsp.spectral import stft

    x = tone(1.0)
    write(tmp_path / "in", "a.wav", x)
    corpus = load_corpus(
        tmp_path / "in",
        small_config,
        min_seconds=0.5,
        cache_dir=None,
        validation_fraction=0.5,
        split="files",
    )
    saved = sf.read(tmp_path / "in" / "a.wav")[0]
    expected = np.log(np.abs(stft(trim_silence(saved, 64), small_config.stft)) + MAGNITUDE_FLOOR)
    both = np.concatenate([corpus.train.frames, corpus.validation.frames])
    np.testing.assert_allclose(both, expected.astype(np.float32), rtol=1e-5, atol=1e-5)


def test_frames_are_cached_by_content_and_settings(tmp_path, small_config, monkeypatch):
    folder = tmp_path / "in"
    write(folder, "a.wav", tone(1.0))
    write(folder, "b.wav", tone(1.0, frequency=330.0))
    cache = tmp_path / "cache"
    first = load_corpus(folder, small_config, min_seconds=1.0, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 2

    def fail(*args, **kwargs):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(data, "read_mono", fail)
    second = load_corpus(folder, small_config, min_seconds=1.0, cache_dir=cache)
    np.testing.assert_array_equal(first.train.frames, second.train.frames)
    other = config_from_mapping(
        {"audio": {"sample_rate": RATE}, "stft": {"n_fft": 512, "hop": 128}}
    )
    monkeypatch.undo()
    load_corpus(folder, other, min_seconds=1.0, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 4  # other settings, other entries
