"""A model of one's own sounds (issue 20): the time split, augmentation that keeps the pitch
channels true, epochs and patience for small folders, the report and its verdict, and
``caminos train autoencoder`` on a handful of files end to end."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings, strategies as st

from caminos.engine.cli.model import _judge_against_default, main
from caminos.engine.core.config import load_config
from caminos.engine.dsp.metrics import log_spectral_distance_db, partial_counts
from caminos.engine.dsp.phase import reconstruct
from caminos.engine.dsp.spectral import istft, stft as analyze
from caminos.models.augment import random_gain, random_stretch, transpose_spectra
from caminos.models.autoencoder import log_magnitude
from caminos.models.checkpoint import load_checkpoint, save_checkpoint
from caminos.models.data import DataError, file_frames, load_corpus, time_split
from caminos.models.report import FolderReport, FileScores, Score, judge
from caminos.models.shape import MAGNITUDE_FLOOR
from caminos.models.train import epoch_order, following_frames

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
RATE = 48_000  # Hz: the shipped default's rate, so small folders fine-tune it


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.fixture(scope="module")
def default_model(config):
    return load_checkpoint(
        config.model.checkpoint_path(), config.stft, config.audio.sample_rate
    ).model


def note(f0: float, seconds: float, seed: int, partials: int = 8) -> np.ndarray:
    """A decaying harmonic note with a little noise, peak about -8 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(
        np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28)) * rng.uniform(0.3, 1.0) / k
        for k in range(1, partials + 1)
    )
    x = x * np.exp(-t / (0.6 * seconds)) + 0.003 * rng.standard_normal(len(t))
    return 0.4 * x / np.max(np.abs(x))


def harmonic_frame(f0: float, n_fft: int = 1024) -> np.ndarray:
    """One log-magnitude frame of a steady harmonic tone, shape (1, n_fft // 2 + 1)."""
    t = np.arange(4 * n_fft) / RATE
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 9)) * 0.1
    frame = x[n_fft : 2 * n_fft] * np.hanning(n_fft + 1)[:-1]
    return log_magnitude(np.abs(np.fft.rfft(frame)))[None, :].astype(np.float32)


# -- the time split ----------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    n_frames=st.integers(1, 3000),
    block=st.integers(4, 120),
    every=st.integers(2, 10),
    gap=st.integers(0, 8),
    offset=st.integers(0, 20),
)
def test_time_split_never_puts_a_training_frame_near_a_validation_frame(
    n_frames, block, every, gap, offset
):
    train, validation = time_split(n_frames, block, every, gap, offset)
    train_frames = np.concatenate([np.arange(a, b) for a, b in train] or [np.zeros(0, int)])
    val_frames = np.concatenate([np.arange(a, b) for a, b in validation] or [np.zeros(0, int)])
    assert len(np.unique(train_frames)) == len(train_frames)
    assert ((train_frames >= 0) & (train_frames < n_frames)).all()
    assert ((val_frames >= 0) & (val_frames < n_frames)).all()
    if len(val_frames) and len(train_frames):
        nearest = np.abs(train_frames[:, None] - val_frames[None, :]).min()
        assert nearest > gap  # frames nearer than n_fft / hop share samples
    # Nothing is lost but the gaps: each gap is at most ``gap`` frames on each side.
    assert len(train_frames) + len(val_frames) >= n_frames - 2 * gap * len(validation)
    if n_frames >= block + 2 * gap + 2:
        assert len(validation) >= 1


def test_a_small_folder_is_validated_on_stretches_of_every_file_that_share_no_sample(
    tmp_path, config
):
    folder = tmp_path / "mine"
    folder.mkdir()
    for i, f0 in enumerate((110.0, 196.0, 330.0)):
        sf.write(folder / f"n{i}.wav", note(f0, 3.0, seed=i), RATE)
    corpus = load_corpus(folder, config, cache_dir=None)
    assert corpus.split == "time" and corpus.small
    n_fft, hop = config.stft.n_fft, config.stft.hop
    for file, held in corpus.held_out.items():
        assert held, f"{file} has no held-out stretch"
        frames, _ = file_frames(Path(file), config, None)
        held_frames = np.concatenate([np.arange(a, b) for a, b in held])
        # The validation set holds exactly these frames of the file ...
        for a, b in held:
            assert any(
                np.array_equal(frames[a:b], corpus.validation.frames[s : s + (b - a)])
                for s in corpus.validation.starts
            )
        # ... and no training frame within n_fft / hop frames of them, by the frames' values.
        near = np.unique(
            np.clip(
                np.concatenate([held_frames + d for d in range(-(n_fft // hop) + 1, n_fft // hop)]),
                0,
                len(frames) - 1,
            )
        )
        train_rows = {row.tobytes() for row in corpus.train.frames}
        assert not any(frames[k].tobytes() in train_rows for k in near)
    assert corpus.summary()["validation_files"] == 3
    big = load_corpus(folder, config, cache_dir=None, split="files")
    assert big.split == "files" and len(set(big.validation.files)) == 1


def test_a_folder_of_silence_or_under_two_seconds_is_refused(tmp_path, config):
    silent = tmp_path / "silent"
    silent.mkdir()
    for i in range(3):
        sf.write(silent / f"s{i}.wav", np.zeros(RATE * 2), RATE)
    with pytest.raises(
        DataError,
        match=r"(?s)none of the 3 sound files is usable \(every one is "
        r"silent\).*s0\.wav: silent",
    ):
        load_corpus(silent, config, cache_dir=None)
    short = tmp_path / "short"
    short.mkdir()
    sf.write(short / "a.wav", note(220.0, 1.5, 0), RATE)
    with pytest.raises(DataError, match=r"1\.\d s found in 1 usable file\(s\).*2 s needed"):
        load_corpus(short, config, cache_dir=None)


# -- augmentation ------------------------------------------------------------------------------
@pytest.mark.parametrize("semitones", [-3.0, -1.0, 2.0, 3.0])
def test_a_transposed_frame_carries_pitch_channels_transposed_by_as_much(default_model, semitones):
    frame = torch.as_tensor(harmonic_frame(220.0))
    moved = transpose_spectra(frame, frame.shape[1], torch.tensor([semitones]))
    before = default_model.partial_values(frame)[0]
    after = default_model.partial_values(moved)[0]
    assert after[0] - before[0] == pytest.approx(semitones, abs=0.15)  # the first slot's pitch
    # What training encodes for the transposed frame is that frame's own analysis, not the
    # channels of the frame it was made from.
    shape = default_model.shape
    mean, std = default_model.channel_statistics()
    with torch.no_grad():
        encoded = default_model.encode_raw(moved)[0, shape.slot_index :].double()
    np.testing.assert_allclose((encoded * std.double() + mean.double()).numpy(), after, atol=1e-3)


def test_gain_moves_the_level_and_leaves_pitch_and_peaks_alone(default_model):
    torch.manual_seed(0)
    frame = torch.as_tensor(harmonic_frame(330.0)).repeat(8, 1)
    louder = random_gain(frame, 12.0)
    before = default_model.partial_values(frame)
    after = default_model.partial_values(louder)
    np.testing.assert_allclose(after[:, 0], before[:, 0], atol=0.05)
    shape = default_model.shape
    levels = slice(shape.peak_level_index - shape.slot_index, None)
    np.testing.assert_allclose(after[:, levels], before[:, levels], atol=0.05)


def test_a_stretched_frame_lies_between_a_frame_and_the_next():
    torch.manual_seed(1)
    a = torch.log(torch.rand(64, 20) + MAGNITUDE_FLOOR)
    b = torch.log(torch.rand(64, 20) + MAGNITUDE_FLOOR)
    between = random_stretch(a, b, 1.0)
    low = torch.minimum(a, b) - 1e-5
    high = torch.maximum(a, b) + 1e-5
    assert ((between >= low) & (between <= high)).all()
    assert torch.equal(random_stretch(a, b, 0.0), a)


def test_each_frame_is_followed_by_the_next_of_its_own_file_only():
    following = following_frames(np.array([0, 3, 5]), 9)
    np.testing.assert_array_equal(following, [1, 2, 2, 4, 4, 6, 7, 8, 8])


def test_a_small_folder_s_epoch_draws_every_frame_as_often():
    order = epoch_order(100, 1000, np.random.default_rng(0))
    assert len(order) == 1000
    np.testing.assert_array_equal(np.bincount(order, minlength=100), np.full(100, 10))
    assert len(epoch_order(5000, 1000, np.random.default_rng(0))) == 5000  # one pass at least


# -- the verdict -------------------------------------------------------------------------------
def verdict_report(new: tuple[int, float], default: tuple[int, float]) -> FolderReport:
    files = [
        FileScores(
            "a.wav",
            3.0,
            held_out={
                "mine": Score(new[0], 100, new[1], 50),
                "default": Score(default[0], 100, default[1], 50),
                "PCA-16": Score(50, 100, 6.0, 50),
            },
        )
    ]
    files[0].whole = dict(files[0].held_out)
    return FolderReport("folder", ["mine", "default", "PCA-16"], files, "rtpghi")


@pytest.mark.parametrize(
    "new, default, kept_base, better, says",
    [
        ((95, 3.0), (85, 4.0), False, True, "serves these sounds better than the default"),
        (
            (85, 3.5),
            (85, 4.0),
            False,
            True,
            "serves these sounds better",
        ),  # same partials, lower LSD
        ((84, 3.0), (85, 4.0), False, False, "the default is kept"),
        ((90, 3.0), (85, 4.0), True, False, "no epoch of training beat it"),
    ],
)
def test_the_verdict_says_plainly_which_model_serves_the_folder(
    new, default, kept_base, better, says
):
    report = verdict_report(new, default)
    judge(report, kept_base, "mine.pt", "default.pt")
    assert report.better is better
    assert says in report.verdict
    assert f"{new[0] / 100:.3f} vs {default[0] / 100:.3f}" in report.verdict


# -- end to end --------------------------------------------------------------------------------
def test_train_on_a_handful_of_files_names_the_unreadable_one_and_reports_true_numbers(
    tmp_path, config, capsys
):
    folder = tmp_path / "mysounds" / "sub"
    folder.mkdir(parents=True)
    for i, f0 in enumerate((98.0, 261.6, 440.0)):
        sf.write(folder / f"note{i}.flac", note(f0, 2.0, seed=i), RATE)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    out = tmp_path / "mine.pt"
    status = main(
        [
            "train",
            "autoencoder",
            "--data",
            str(tmp_path / "mysounds"),
            "--out",
            str(out),
            "--max-minutes",
            "0.01",
            "--no-progress",
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0
    assert re.search(r"skipped .*broken\.wav: cannot decode", printed)
    assert "held-out stretches of every file" in printed
    assert f"fine-tuning {config.model.checkpoint_path()}" in printed
    md = (tmp_path / "mine-report.md").read_text()
    assert (tmp_path / "mine-report.png").stat().st_size > 10_000
    for kind in ("best", "worst"):  # the original, then the new model, then the default
        sound, rate = sf.read(tmp_path / f"mine-report-{kind}.wav")
        assert rate == RATE and np.isfinite(sound).all() and np.max(np.abs(sound)) < 1.0
        assert len(sound) > 3 * 2.0 * RATE * 0.8
        assert f"mine-report-{kind}.wav" in md
    verdict = md.splitlines()[2]
    assert verdict.startswith("**") and (
        "better than the default" in verdict or "the default is kept" in verdict
    )
    assert verdict.strip("*") in printed
    # The report's numbers are the project's metrics computed separately, file by file.
    trained = tmp_path / "mine-not-kept.pt" if (tmp_path / "mine-not-kept.pt").exists() else out
    model = load_checkpoint(trained, config.stft, config.audio.sample_rate).model
    for i in range(3):
        row = next(line for line in md.splitlines() if f"note{i}.flac" in line).split("|")
        frames, seconds = file_frames(folder / f"note{i}.flac", config, None)
        target = np.maximum(np.exp(frames.astype(np.float64)) - MAGNITUDE_FLOOR, 0.0)
        decoded = model.decode_numpy(model.encode_numpy(frames, stream=True))  # as played
        recovered = reconstruct(decoded, config.phase.method, config.stft, config.phase)
        sound = istft(recovered, config.stft, length=int(round(seconds * RATE)))
        heard = np.abs(analyze(sound, config.stft))[: len(target)]
        kept, partials = partial_counts(heard, target)
        lsd = log_spectral_distance_db(heard, target, config.stft, -80.0)
        assert float(row[3]) == pytest.approx(kept / partials, abs=5e-4)
        assert float(row[6]) == pytest.approx(lsd, abs=5e-3)


def test_when_the_default_serves_better_it_is_kept_and_the_trained_model_is_not_lost(
    tmp_path, config, default_model
):
    folder = tmp_path / "mine"
    folder.mkdir()
    for i, f0 in enumerate((146.8, 392.0)):
        sf.write(folder / f"n{i}.wav", note(f0, 2.0, seed=10 + i), RATE)
    corpus = load_corpus(folder, config, cache_dir=None)
    damaged = load_checkpoint(config.model.checkpoint_path(), config.stft, config.audio.sample_rate)
    with torch.no_grad():
        for parameter in damaged.model.decoder.parameters():
            parameter.mul_(0.3)  # a model that lost much of what it knew
    out = tmp_path / "mine.pt"
    save_checkpoint(
        out,
        damaged.model,
        config.stft,
        config.audio.sample_rate,
        damaged.descriptors,
        {"command": "damaged for the test"},
    )
    trained_bytes = out.read_bytes()
    _judge_against_default(
        corpus, out, config.model.checkpoint_path(), config, kept_base=False, cache_dir=None
    )
    assert out.read_bytes() == config.model.checkpoint_path().read_bytes()
    assert (tmp_path / "mine-not-kept.pt").read_bytes() == trained_bytes
    md = (tmp_path / "mine-report.md").read_text()
    assert "the default is kept" in md and "mine-not-kept.pt" in md
    shutil.rmtree(folder)
