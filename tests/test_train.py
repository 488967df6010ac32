"""Tests of models.train and ``caminos train autoencoder``: learning, determinism, resume, Ctrl-C,
early stopping, out-of-memory fallback, distributed training on two CPU processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import caminos.models.train as train_module
from caminos.engine.cli.model import main
from caminos.engine.core.config import config_from_mapping
from caminos.models.checkpoint import load_checkpoint
from caminos.models.data import load_corpus
from caminos.models.train import (
    PcaBaseline,
    TrainingError,
    TrainSettings,
    loss_plot_path,
    train_autoencoder,
    validation_loss,
)

torch.set_num_threads(1)
RATE = 16_000
ROOT = Path(__file__).resolve().parent.parent
CONFIG_TEXT = "[audio]\nsample_rate = 16000\n[stft]\nn_fft = 256\nhop = 64\n"
TINY = dict(
    latent_dim=8,
    hidden=(48, 24),
    decoder_hidden=(24, 48),
    batch_size=64,
    device="cpu",
    warmup_epochs=2,
    pitch_slots=1,
    free_peaks=0,
)  # one comb: the quickest to train


def make_corpus(folder: Path, n_files: int = 8, seconds: float = 0.6, seed: int = 0) -> Path:
    """Harmonic tones and noise bands: a corpus with structure a small model can learn."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * RATE)) / RATE
    for i in range(n_files):
        f0 = rng.uniform(100, 800)
        x = sum(np.sin(2 * np.pi * f0 * k * t) * rng.uniform(0.2, 1.0) / k for k in range(1, 6))
        x = 0.1 * x + rng.uniform(0.0, 0.05) * rng.standard_normal(len(t))
        sf.write(folder / f"s{i}.wav", x, RATE)
    return folder


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus") / "sounds")


@pytest.fixture(scope="module")
def config():
    return config_from_mapping({"audio": {"sample_rate": RATE}, "stft": {"n_fft": 256, "hop": 64}})


@pytest.fixture(scope="module")
def corpus(corpus_dir, config):
    return load_corpus(corpus_dir, config, min_seconds=1.0, cache_dir=None, split="files")


def test_training_lowers_validation_loss_and_writes_a_usable_checkpoint(tmp_path, corpus, config):
    """The version-1 design (squared log error, no level channel) on a pitch never trained on."""
    out = tmp_path / "m.pt"
    result = train_autoencoder(
        corpus,
        out,
        config,
        TrainSettings(epochs=12, loss="log_mse", level=False, pitch=False, keep="loss", **TINY),
        progress=False,
        command="test",
    )
    losses = result.history["validation_loss"]
    assert len(losses) == 12 and result.epochs == 12
    assert result.best_validation_loss < 0.6 * losses[0]
    loaded = load_checkpoint(out, config.stft, RATE)
    assert loaded.provenance["command"] == "test" and loaded.provenance["finished"]
    assert loaded.provenance["data"]["train_files"] == 7
    assert len(loaded.descriptors["axes"]) == 8
    metrics = result.metrics
    assert metrics["validation_lsd_db"] > 0 and metrics["pca_validation_lsd_db"] > 0
    assert metrics["encode_decode_us_p50"] > 0
    assert loss_plot_path(out).read_bytes()[:4] == b"\x89PNG"


def test_same_seed_same_model(tmp_path, corpus, config):
    settings = TrainSettings(epochs=3, seed=7, **TINY)
    train_autoencoder(corpus, tmp_path / "a.pt", config, settings, progress=False)
    train_autoencoder(corpus, tmp_path / "b.pt", config, settings, progress=False)
    a = load_checkpoint(tmp_path / "a.pt").model.state_dict()
    b = load_checkpoint(tmp_path / "b.pt").model.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_resume_continues_exactly_where_training_stopped(tmp_path, corpus, config):
    # During warm-up every epoch is kept, so the resumed run starts from the last epoch.
    settings = dict(TINY, warmup_epochs=5)
    train_autoencoder(
        corpus, tmp_path / "full.pt", config, TrainSettings(epochs=4, **settings), progress=False
    )
    train_autoencoder(
        corpus, tmp_path / "part.pt", config, TrainSettings(epochs=2, **settings), progress=False
    )
    result = train_autoencoder(
        corpus,
        tmp_path / "part.pt",
        config,
        TrainSettings(epochs=4, **settings),
        resume=tmp_path / "part.pt",
        progress=False,
    )
    assert result.epochs == 4 and len(result.history["train_loss"]) == 4
    full = load_checkpoint(tmp_path / "full.pt").model.state_dict()
    resumed = load_checkpoint(tmp_path / "part.pt").model.state_dict()
    for key in full:
        torch.testing.assert_close(resumed[key], full[key], rtol=1e-5, atol=1e-6)
    with pytest.raises(TrainingError, match="latent_dim=8 but 12 was asked"):
        train_autoencoder(
            corpus,
            tmp_path / "x.pt",
            config,
            TrainSettings(epochs=5, **dict(settings, latent_dim=12)),
            resume=tmp_path / "part.pt",
            progress=False,
        )


def test_ctrl_c_saves_a_usable_checkpoint(tmp_path, corpus, config):
    def interrupt(epoch, train_loss, val_loss):
        if epoch == 2:
            raise KeyboardInterrupt

    out = tmp_path / "m.pt"
    result = train_autoencoder(
        corpus,
        out,
        config,
        TrainSettings(epochs=50, **TINY),
        progress=False,
        on_epoch_end=interrupt,
    )
    assert result.interrupted and result.epochs == 2
    loaded = load_checkpoint(out, config.stft, RATE)
    assert loaded.training["history"]["train_loss"] and len(loaded.descriptors["axes"]) == 8
    z = loaded.model.encode_numpy(corpus.validation.frames[:4])
    assert np.isfinite(loaded.model.decode_numpy(z)).all()


def test_the_spectral_design_learns_and_round_trips(tmp_path, corpus, config):
    """Spectral loss, level and pitch channels: training loss falls, the checkpoint holds both.

    The validation file is a harmonic tone at a pitch never trained on, whose partials a frame
    model without pitch input cannot place; its spectral convergence falls less than the
    training loss, so only a decrease is asked of it.
    """
    out = tmp_path / "m.pt"
    result = train_autoencoder(
        corpus, out, config, TrainSettings(epochs=12, **TINY), progress=False
    )
    train_loss, validation = result.history["train_loss"], result.history["validation_loss"]
    assert train_loss[-1] < 0.6 * train_loss[0]
    assert result.best_validation_loss < validation[0]
    model = load_checkpoint(out, config.stft, RATE).model
    assert model.shape.level and model.shape.pitch and model.shape.learned_dim == 6
    x = torch.as_tensor(corpus.validation.frames)
    quieter = torch.log(torch.clamp(torch.exp(x) - 1e-3, min=0.0) * 0.1 + 1e-3)
    with torch.no_grad():
        z, z_quiet = model.encode(x), model.encode(quieter)
    # 20 dB quieter moves the level channel and barely the learned dims: the level is an axis.
    level_direction = model.latent_rotation[model.shape.level_index]
    along = (z - z_quiet) @ level_direction
    across = (z - z_quiet) - along[:, None] * level_direction
    assert float(along.abs().mean()) > 5 * float(across.norm(dim=1).mean())


def test_early_stopping_when_validation_stops_improving(tmp_path, corpus, config):
    settings = TrainSettings(epochs=40, learning_rate=0.0, patience=3, **TINY)
    result = train_autoencoder(corpus, tmp_path / "m.pt", config, settings, progress=False)
    assert result.stopped_early
    assert result.epochs == TINY["warmup_epochs"] + 3


def test_batch_size_halves_on_out_of_memory(tmp_path, corpus, config, monkeypatch):
    real_step = train_module.train_step
    seen = []

    def step(network, model, optimizer, batch, beta, settings):
        seen.append(len(batch))
        if len(batch) > 16:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_step(network, model, optimizer, batch, beta, settings)

    monkeypatch.setattr(train_module, "train_step", step)
    result = train_autoencoder(
        corpus, tmp_path / "m.pt", config, TrainSettings(epochs=1, **TINY), progress=False
    )
    assert result.epochs == 1
    assert seen[:3] == [64, 32, 16] and max(seen[3:]) == 16


def test_a_missing_cuda_device_is_a_clear_error(tmp_path, corpus, config):
    if torch.cuda.is_available():
        pytest.skip("CUDA is present here")
    with pytest.raises(TrainingError, match="CUDA is not available"):
        train_autoencoder(
            corpus,
            tmp_path / "m.pt",
            config,
            TrainSettings(epochs=1, **dict(TINY, device="cuda")),
            progress=False,
        )


def test_the_model_beats_pca_on_a_structured_corpus(tmp_path, corpus, config):
    # Loss of the untrained model vs after training, and PCA as a reference point.
    settings = TrainSettings(epochs=25, **TINY)
    result = train_autoencoder(corpus, tmp_path / "m.pt", config, settings, progress=False)
    model = load_checkpoint(tmp_path / "m.pt").model
    x = torch.as_tensor(corpus.validation.frames)
    assert validation_loss(model, x, settings.beta, settings) == pytest.approx(
        result.best_validation_loss, rel=1e-4
    )
    pca = PcaBaseline(corpus.train.frames, 8)
    assert pca.components.shape == (8, 129)
    assert result.metrics["validation_lsd_db"] < 1.5 * result.metrics["pca_validation_lsd_db"]


def test_train_command_reports_data_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    config = tmp_path / "config.toml"
    config.write_text(CONFIG_TEXT)
    status = main(
        [
            "train",
            "autoencoder",
            "--data",
            str(tmp_path / "empty"),
            "--out",
            str(tmp_path / "m.pt"),
            "--config",
            str(config),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert status == 2
    assert "no sound files found" in capsys.readouterr().err


def test_train_command_and_distributed_training_on_two_processes(tmp_path, corpus_dir):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG_TEXT)
    out = tmp_path / "ddp.pt"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "caminos.engine.cli.model",
        "train",
        "autoencoder",
        "--data",
        str(corpus_dir),
        "--out",
        str(out),
        "--epochs",
        "3",
        "--latent-dim",
        "16",
        "--pitch-slots",
        "2",
        "--free-peaks",
        "2",
        "--hidden",
        "48,24",
        "--batch-size",
        "64",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--min-seconds",
        "1",
        "--no-progress",
        "--config",
        str(config),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "3 epochs" in done.stdout
    loaded = load_checkpoint(out)
    assert loaded.provenance["world_size"] == 2
    assert loaded.provenance["command"].startswith("caminos train autoencoder")
    assert len(loaded.training["history"]["validation_loss"]) == 3
    assert (loaded.model.shape.pitch_slots, loaded.model.shape.free_peaks) == (2, 2)


def test_partial_weights_count_the_top_forty_db_of_each_frame():
    from caminos.models.train import partial_weights

    db = torch.tensor([[0.0, -10.0, -20.0, -40.0, -60.0], [-30.0, -50.0, -70.0, -80.0, -90.0]])
    weights = partial_weights(db / (20.0 / np.log(10.0)))  # dB to natural-log magnitudes
    np.testing.assert_allclose(
        weights, [[1.0, 0.75, 0.5, 0.0, 0.0], [1.0, 0.5, 0.0, 0.0, 0.0]], atol=1e-6
    )


def test_the_partial_weighted_term_counts_a_lost_quiet_partial():
    """A partial 30 dB under the frame's peak, flattened into the floor: spectral convergence
    hardly sees it (3 % of the peak's amplitude) and the plain L1 spreads it over every bin;
    the partial-weighted term counts it among the few bins in the frame's top 40 dB."""
    from caminos.models.train import spectral_loss

    floor_db, bins = -80.0, 513
    target_db = np.full(bins, floor_db)
    target_db[[40, 80]] = [0.0, -30.0]
    lost_db = target_db.copy()
    lost_db[80] = floor_db
    to_log = 1.0 / (20.0 / np.log(10.0))
    target = torch.tensor(target_db * to_log)[None, :]
    lost = torch.tensor(lost_db * to_log)[None, :]
    plain = float(spectral_loss(lost, target, 1.0, 0.0))
    weighted = float(spectral_loss(lost, target, 1.0, 1.0))
    assert plain < 0.05  # the lost partial costs next to nothing without the term
    # ...with it, the lost 50 dB (5.8 nepers) at weight 0.25 over a total weight of 1.25
    assert weighted - plain == pytest.approx(0.25 * 50.0 / (20.0 / np.log(10.0)) / 1.25, rel=1e-3)
    assert float(spectral_loss(target, target, 1.0, 1.0)) == pytest.approx(0.0, abs=1e-7)


def test_bad_loss_settings_are_refused():
    with pytest.raises(TrainingError, match="partial_weight"):
        TrainSettings(partial_weight=-1.0)
    with pytest.raises(TrainingError, match="magnitude_power"):
        TrainSettings(magnitude_power=0.0)


def test_the_epoch_kept_is_the_best_validation_survival_after_the_warm_up(tmp_path, corpus, config):
    result = train_autoencoder(
        corpus,
        tmp_path / "m.pt",
        config,
        TrainSettings(epochs=8, **TINY),
        progress=False,
        command="test",
    )
    survival = np.array(result.history["validation_survival"])
    assert len(survival) == 8 and np.all((survival > 0.0) & (survival <= 1.0))
    warm = TINY["warmup_epochs"]  # epochs 1..warm replace each other; the best from there on
    assert result.best_epoch == warm + int(np.argmax(survival[warm - 1 :]))
    provenance = load_checkpoint(tmp_path / "m.pt", config.stft, RATE).provenance
    assert provenance["keep"] == "survival"
    assert provenance["best_validation_survival"] == pytest.approx(survival[result.best_epoch - 1])


@pytest.fixture(scope="module")
def base_model(tmp_path_factory, corpus, config) -> Path:
    """A small finished model to fine-tune from."""
    out = tmp_path_factory.mktemp("base") / "base.pt"
    train_autoencoder(
        corpus, out, config, TrainSettings(epochs=4, **TINY), progress=False, command="base"
    )
    return out


@pytest.fixture(scope="module")
def other_corpus(tmp_path_factory, config):
    folder = make_corpus(tmp_path_factory.mktemp("other") / "sounds", seed=5)
    return load_corpus(folder, config, min_seconds=1.0, cache_dir=None, split="files")


def test_fine_tuning_starts_from_the_model_and_adapts_it_to_new_sounds(
    tmp_path, base_model, other_corpus, config
):
    base = load_checkpoint(base_model, config.stft, RATE)
    val_x = torch.as_tensor(other_corpus.validation.frames)
    before = validation_loss(base.model, val_x, 0.01)
    result = train_autoencoder(
        other_corpus,
        tmp_path / "tuned.pt",
        config,
        TrainSettings(epochs=6, learning_rate=3e-3, **TINY),
        fine_tune=base_model,
        progress=False,
        command="tune",
    )
    assert result.epochs == 6 and len(result.history["train_loss"]) == 6
    tuned = load_checkpoint(tmp_path / "tuned.pt", config.stft, RATE)
    assert validation_loss(tuned.model, val_x, 0.01) < before
    origin = tuned.provenance["fine_tuned_from"]
    assert origin["path"] == str(base_model) and origin["command"] == "base"
    assert origin["validation_loss"] == pytest.approx(before, rel=1e-5)
    # The kept epoch is the best survival of the validation split, the start included.
    survival = np.array(result.history["validation_survival"])
    assert tuned.provenance["best_validation_survival"] >= origin["validation_survival"]
    if result.best_epoch:
        assert survival[result.best_epoch - 1] == survival.max()


def test_fine_tuning_keeps_the_starting_weights_when_no_epoch_beats_them(
    tmp_path, base_model, other_corpus, config
):
    """With a zero step size no epoch improves: the model written is the one started from,
    not the last epoch, and not a warm-up epoch kept whatever its score."""
    result = train_autoencoder(
        other_corpus,
        tmp_path / "same.pt",
        config,
        TrainSettings(epochs=3, learning_rate=0.0, **TINY),
        fine_tune=base_model,
        progress=False,
    )
    assert result.best_epoch == 0
    start = load_checkpoint(tmp_path / "same.pt").provenance["fine_tuned_from"]
    assert 0.0 < result.start_validation_survival == start["validation_survival"] <= 1.0
    base = load_checkpoint(base_model).model.state_dict()
    same = load_checkpoint(tmp_path / "same.pt").model.state_dict()
    for key in base:
        if not key.startswith(("latent_", "explained_")):  # recomputed on the new sounds
            torch.testing.assert_close(same[key], base[key], rtol=0, atol=0)


def test_fine_tuning_refuses_a_different_size_and_resume_beside_it(
    tmp_path, base_model, other_corpus, config
):
    with pytest.raises(TrainingError, match="latent_dim=8 but 12 was asked"):
        train_autoencoder(
            other_corpus,
            tmp_path / "x.pt",
            config,
            TrainSettings(epochs=1, **dict(TINY, latent_dim=12)),
            fine_tune=base_model,
            progress=False,
        )
    with pytest.raises(TrainingError, match="give one"):
        train_autoencoder(
            other_corpus,
            tmp_path / "x.pt",
            config,
            TrainSettings(epochs=1, **TINY),
            fine_tune=base_model,
            resume=base_model,
            progress=False,
        )


def test_train_command_fine_tunes_with_the_model_s_own_size(
    tmp_path, base_model, capsys, monkeypatch
):
    """No --hidden given: the model's size comes from the checkpoint, not the defaults."""
    import caminos.models.data as data_module

    monkeypatch.setattr(data_module, "SMALL_DATA_SECONDS", 0.0)  # a folder of a large one's kind
    config = tmp_path / "config.toml"
    config.write_text(CONFIG_TEXT)
    sounds = make_corpus(tmp_path / "sounds", seed=9)
    common = [
        "train",
        "autoencoder",
        "--data",
        str(sounds),
        "--config",
        str(config),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--min-seconds",
        "1",
        "--device",
        "cpu",
        "--no-progress",
        "--epochs",
        "2",
        "--batch-size",
        "64",
    ]
    assert main(common + ["--out", str(tmp_path / "t.pt"), "--fine-tune", str(base_model)]) == 0
    tuned = load_checkpoint(tmp_path / "t.pt")
    assert tuned.model.shape == load_checkpoint(base_model).model.shape
    settings = tuned.provenance["settings"]
    assert settings["hidden"] == [48, 24] and settings["learning_rate"] == 3e-4
    capsys.readouterr()
    assert (
        main(
            common
            + [
                "--out",
                str(tmp_path / "u.pt"),
                "--fine-tune",
                str(base_model),
                "--resume",
                str(base_model),
            ]
        )
        == 2
    )
    assert "give one" in capsys.readouterr().err
    assert (
        main(
            common
            + ["--out", str(tmp_path / "u.pt"), "--fine-tune", str(base_model), "--hidden", "64,32"]
        )
        == 2
    )
    assert "hidden=(48, 24); a fine-tune keeps the model's size" in capsys.readouterr().err
    assert (
        main(common + ["--out", str(tmp_path / "u.pt"), "--fine-tune", str(tmp_path / "absent.pt")])
        == 2
    )
    told = capsys.readouterr()
    assert "absent.pt: checkpoint not found" in told.err and "data:" not in told.out


def _tone_log_spectrum(f0_hz: float, rate: int = 48_000, n_fft: int = 1024) -> np.ndarray:
    """Natural-log magnitude of one Hann-windowed frame of a five-partial tone."""
    t = np.arange(n_fft) / rate
    tone = sum(np.sin(2 * np.pi * f0_hz * k * t + k) / k for k in range(1, 6))
    return np.log(np.abs(np.fft.rfft(np.hanning(n_fft) * tone)) + 1e-5)


def test_a_transposed_spectrum_matches_the_spectrum_of_the_transposed_tone():
    from caminos.engine.dsp.metrics import partial_counts
    from caminos.models.augment import transpose_spectra

    low = _tone_log_spectrum(440.0)
    frames = torch.as_tensor(np.stack([low, low]), dtype=torch.float32)
    for semitones in (2.0, -3.0):
        moved = transpose_spectra(frames, 513, torch.tensor([semitones, semitones]))[0].numpy()
        truth = _tone_log_spectrum(440.0 * 2.0 ** (semitones / 12.0))
        kept, total = partial_counts(np.exp(moved)[None], np.exp(truth)[None])
        assert total == 5 and kept == 5
        unmoved, _ = partial_counts(np.exp(low)[None], np.exp(truth)[None])
        assert unmoved <= 2  # the higher partials are where the transposition put them
    same = transpose_spectra(frames, 513, torch.zeros(2))
    torch.testing.assert_close(same, frames)


def test_random_transposition_moves_every_frame_of_a_context_stack_together():
    from caminos.models.augment import random_transpose

    n = 513
    stack = torch.full((64, 3 * n), -9.0)
    stack[:, [100, n + 100, 2 * n + 100]] = 0.0
    moved = random_transpose(stack, n, 3.0).reshape(64, 3, n).argmax(dim=2)
    assert torch.all(moved == moved[:, :1])  # the three frames of a row moved alike
    assert moved.min() >= round(100 * 2 ** (-3 / 12)) and moved.max() <= round(100 * 2 ** (3 / 12))
    assert len(torch.unique(moved)) > 5  # and the rows by different amounts


def test_random_mix_adds_another_frame_of_the_batch_at_most_as_loud():
    """--mix: a mixed frame's magnitudes are its own plus one other frame's times a gain of -12
    to 0 dB (floor counted once); probability 0 changes nothing."""
    from caminos.models.shape import MAGNITUDE_FLOOR
    from caminos.models.augment import random_mix

    torch.manual_seed(0)
    mags = torch.rand(16, 40) * torch.rand(16, 1) * 10.0
    batch = torch.log(mags + MAGNITUDE_FLOOR)
    assert torch.equal(random_mix(batch, 0.0), batch)
    mixed = torch.exp(random_mix(batch, 1.0)) - MAGNITUDE_FLOOR
    for row in range(16):
        added = (mixed[row] - mags[row]).double()
        ratios = added[None, :] / mags.double()  # the gain, if that row was the partner
        constant = ratios.std(dim=1) < 1e-4 * ratios.mean(dim=1).abs() + 1e-6
        gains = ratios.mean(dim=1)[constant]
        assert len(gains) >= 1
        assert ((gains >= 10 ** (-12 / 20) - 1e-4) & (gains <= 1.0 + 1e-4)).any()
    with pytest.raises(TrainingError, match="mix_probability"):
        TrainSettings(mix_probability=1.5)
