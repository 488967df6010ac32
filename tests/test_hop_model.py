"""The model as the hop path reads it (models/shape.py): numbers that survive their file bit for
bit, an engine built from the file that plays as one built from the checkpoint, the torch form
loaded only when asked, and refusals that name the file."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

from caminos.engine.clock.engine import Engine
from caminos.engine.core.config import load_config
from caminos.engine.core.errors import CheckpointError
from caminos.engine.live.model_file import HopModelCache, ModelFile
from caminos.models.api import DEFAULT_CHECKPOINT
from caminos.models.autoencoder import SpectralVAE, hop_model
from caminos.models.checkpoint import load_checkpoint
from caminos.models.shape import HopModel, ModelShape
from tests.conftest import sine

DEMO = Path(__file__).resolve().parent.parent / "patches" / "demo" / "demo.wav"


@pytest.fixture(scope="module")
def checkpoint():
    return load_checkpoint(DEFAULT_CHECKPOINT)


def _small_model(pitch: bool) -> SpectralVAE:
    """An untrained one-comb model (pitch) or one without explicit channels, statistics set."""
    torch.manual_seed(0)
    frames = np.log(np.abs(np.random.default_rng(0).standard_normal((64, 513))) + 1e-3)
    shape = ModelShape(
        n_bins=513,
        latent_dim=8,
        hidden=(32,),
        level=pitch,
        pitch=pitch,
        bin_hz=46.875 if pitch else 0.0,
        comb_bands=16 if pitch else 0,
    )
    model = SpectralVAE(shape)
    model.set_input_statistics(frames.astype(np.float32))
    model.set_latent_statistics(frames.astype(np.float32))
    return model.eval()


def _assert_same(a: HopModel, b: HopModel) -> None:
    """Every field equal, arrays bit for bit and of the same type."""
    for item in fields(HopModel):
        x, y = getattr(a, item.name), getattr(b, item.name)
        if isinstance(x, tuple) and x and isinstance(x[0], np.ndarray):
            assert len(x) == len(y), item.name
            for u, v in zip(x, y):
                assert u.dtype == v.dtype and np.array_equal(u, v), item.name
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), item.name
        else:
            assert x == y, item.name


@pytest.mark.parametrize("which", ["default", "one comb", "no channels"])
def test_the_numbers_survive_their_file_bit_for_bit(which, checkpoint, tmp_path) -> None:
    model = (
        checkpoint.hop_model()
        if which == "default"
        else hop_model(_small_model(pitch=which == "one comb"))
    )
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = HopModel.load(path)
    _assert_same(model, loaded)
    present = {item.name for item in fields(HopModel) if getattr(model, item.name) is not None}
    if which == "default":  # many pitches: the slots' and peaks' terms
        assert {"channel_out", "level_bias"} <= present
        assert "level_readout" not in present  # its field measures the voices' levels
        assert loaded.name == "default" and loaded.descriptors == checkpoint.descriptors
    elif which == "one comb":
        assert {
            "pitch_out",
            "pitch_bias",
            "pitch_grid",
            "pitch_direction",
            "level_readout",
        } <= present
    else:
        assert not {"level_in", "pitch_matrix", "pitch_direction"} & present


def test_an_engine_from_the_file_plays_as_one_from_the_checkpoint(checkpoint, tmp_path) -> None:
    """The demo sound through two voices of the field, hop by hop: the same decoded magnitudes
    and the same samples."""
    path = tmp_path / "model.npz"
    checkpoint.hop_model().save(path)
    config = load_config()
    engines = [
        Engine(config, checkpoint=checkpoint, voice=False),
        Engine(config, voice=False, hop_model=HopModel.load(path)),
    ]
    for engine in engines:
        engine.post("/source/file/open", str(DEMO))
        engine.post("/source/file/play", 1)
        engine.post("/latent/noise", 0.3)
    for _ in range(120):
        out = [engine.tick().copy() for engine in engines]
        assert np.array_equal(out[0], out[1])
        assert np.array_equal(engines[0].decoded_frames, engines[1].decoded_frames)
    assert np.abs(out[0]).max() > 0.0
    assert engines[1].status()["model"] == "default"


def test_the_torch_form_loads_when_asked(checkpoint, tmp_path) -> None:
    """An engine from numbers alone loads its checkpoint from the file they name, the first
    time a landmark would need it; its codec encodes as the checkpoint's model."""
    path = tmp_path / "model.npz"
    checkpoint.hop_model().save(path)
    engine = Engine(load_config(), voice=False, hop_model=HopModel.load(path))
    frames = np.log(np.abs(sine(440.0, 0.1)[:513])[None] + 1e-3).astype(np.float32)
    with torch.no_grad():
        expected = checkpoint.model.encode(torch.as_tensor(frames))
        np.testing.assert_allclose(
            engine.codec.encode(torch.as_tensor(frames)), expected, atol=1e-4
        )
    assert engine.checkpoint.path == str(DEFAULT_CHECKPOINT)
    orphan = Engine(load_config(), voice=False, hop_model=hop_model(checkpoint.model))
    with pytest.raises(CheckpointError, match="no torch form"):
        orphan.codec


def test_bad_files_are_refused_with_their_name(checkpoint, tmp_path) -> None:
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    with pytest.raises(CheckpointError, match="text.npz: not a readable hop model file"):
        HopModel.load(text)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    with pytest.raises(CheckpointError, match="foreign.npz: not a hop model file"):
        HopModel.load(foreign)
    model = checkpoint.hop_model()
    path = tmp_path / "short.npz"
    model.save(path)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:4096])
    with pytest.raises(CheckpointError, match="truncated.npz: not a readable hop model file"):
        HopModel.load(truncated)
    with np.load(path) as data:
        kept = {key: data[key] for key in data.files if key != "decoder_weights_1"}
    np.savez(path, **kept)
    with pytest.raises(CheckpointError, match="short.npz: damaged hop model file"):
        HopModel.load(path)
    small = hop_model(_small_model(pitch=False))
    config = load_config(overrides={"stft.n_fft": 512, "stft.hop": 128})
    with pytest.raises(CheckpointError, match="reads 513 bins a frame"):
        Engine(config, voice=False, hop_model=small)


def test_the_supervisors_file_holds_the_configured_model(checkpoint) -> None:
    """Computed in a spawned process, the same numbers as here; gone once removed."""
    holder = ModelFile()
    try:
        path = holder.write(load_config())
        _assert_same(HopModel.load(path), checkpoint.hop_model())
    finally:
        holder.remove()
    assert not Path(path).exists() and not Path(path).parent.exists()


def test_a_second_start_finds_the_models_numbers_in_the_cache(tmp_path, checkpoint) -> None:
    cache = HopModelCache(tmp_path / "cache")
    first, second = ModelFile(cache), ModelFile(cache)
    try:
        first.write(load_config())
        path = second.write(load_config())
        assert not first.from_cache and second.from_cache
        _assert_same(HopModel.load(path), checkpoint.hop_model())
    finally:
        first.remove()
        second.remove()


def test_the_cache_key_is_what_the_numbers_are_made_from(tmp_path) -> None:
    """The checkpoint's bytes (not its path) and the framing."""
    cache = HopModelCache(tmp_path)
    config = load_config()
    original = Path(config.model.checkpoint_path()).read_bytes()
    same, other = tmp_path / "same.pt", tmp_path / "other.pt"
    same.write_bytes(original)
    other.write_bytes(original + b"\0")
    key = cache.key(config)
    assert cache.key(load_config(overrides={"model.checkpoint": str(same)})) == key
    assert cache.key(load_config(overrides={"model.checkpoint": str(other)})) != key
    assert cache.key(load_config(overrides={"stft.hop": 128})) != key
    with pytest.raises(CheckpointError, match="missing.pt: cannot be read"):
        cache.key(load_config(overrides={"model.checkpoint": str(tmp_path / "missing.pt")}))


def test_a_damaged_or_unwritable_cache_still_gives_the_numbers(tmp_path, checkpoint) -> None:
    config = load_config()
    cache = HopModelCache(tmp_path / "cache")
    key = cache.key(config)
    cache.folder.mkdir()
    cache.path(key).write_bytes(b"not a hop model")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache's folder would be")
    for holder in (ModelFile(cache), ModelFile(HopModelCache(blocked / "hop-models"))):
        try:
            path = holder.write(config)
            assert not holder.from_cache
            _assert_same(HopModel.load(path), checkpoint.hop_model())
        finally:
            holder.remove()
    _assert_same(HopModel.load(cache.path(key)), checkpoint.hop_model())  # computed again
