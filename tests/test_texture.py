"""The spectral texture: kernels against scipy/numpy, the engine's stage, and what it does to a
sound through the model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from caminos.engine.core.parameters import smoothing_coefficient
from caminos.engine.clock.texture_stage import TextureStage
from caminos.engine.core.config import load_config
from caminos.engine.dsp.metrics import log_spectral_distance_db, partial_counts
from caminos.engine.dsp.phase import reconstruct
from caminos.engine.dsp.spectral import istft, stft
from caminos.engine.dsp.texture import (
    TEXTURE_HIGH_DB,
    TEXTURE_LOW_DB,
    add_texture,
    fine_structure,
    lay_texture,
    shift_texture,
    texture_limits_nepers,
    texture_width_bins,
    weighted_mean_rows,
)
from caminos.models.api import latent_trajectory
from caminos.models.autoencoder import log_magnitude
from caminos.models.checkpoint import load_checkpoint
from caminos.models.shape import MAGNITUDE_FLOOR as FLOOR
from tests.conftest import sine


@pytest.mark.parametrize("width", [3, 5, 9, 15])
def test_fine_structure_is_the_level_beyond_a_moving_mean_clipped(rng, width) -> None:
    x = rng.normal(size=513) * 2.0
    low, high = texture_limits_nepers()
    out = np.empty(513)
    fine_structure(x, width, low, high, out)
    reference = np.clip(x - uniform_filter1d(x, width, mode="nearest"), low, high)
    np.testing.assert_allclose(out, reference, atol=1e-12)
    assert out.min() >= low - 1e-12 and out.max() <= high + 1e-12


def test_fine_structure_of_a_smooth_envelope_is_zero() -> None:
    envelope = np.linspace(-2.0, -9.0, 513)  # a straight tilt in log level
    out = np.empty(513)
    fine_structure(envelope, 9, -10.0, 10.0, out)
    assert np.abs(out[4:-4]).max() < 1e-12


def test_width_is_an_odd_bin_count_near_the_width_in_hz() -> None:
    assert texture_width_bins(1024, 48000) == 9  # 400 Hz / 46.9 Hz per bin = 8.5
    assert texture_width_bins(512, 48000) == 5
    assert texture_width_bins(64, 48000) == 3  # never under three bins
    assert texture_width_bins(4096, 44100) % 2 == 1


def test_shift_texture_reads_bin_k_over_ratio(rng) -> None:
    texture = rng.normal(size=257)
    out = np.empty(257)
    for ratio in (0.5, 0.9, 1.0, 1.5, 2.0):
        shift_texture(texture, ratio, out)
        positions = np.arange(257) / ratio
        reference = np.interp(positions, np.arange(257), texture, right=0.0)
        reference[positions > 256] = 0.0
        np.testing.assert_allclose(out, reference, atol=1e-12)


def test_weighted_mean_rows_skips_idle_rows(rng) -> None:
    rows = rng.normal(size=(3, 17)).astype(np.float32)
    rows[1] = np.nan  # an idle source's stale row must not leak in
    out = np.empty(17)
    total = weighted_mean_rows(rows, np.array([1.0, 0.0, 3.0]), out)
    assert total == 4.0
    np.testing.assert_allclose(out, 0.25 * rows[0] + 0.75 * rows[2], rtol=1e-6)
    out[:] = 7.0
    assert weighted_mean_rows(rows, np.zeros(3), out) == 0.0
    assert np.all(out == 7.0)


def test_add_texture_amount_zero_is_the_decoded_frames_and_shapes_must_match(rng) -> None:
    decoded = rng.random((10, 513))
    source = rng.normal(size=(10, 513))
    assert np.array_equal(add_texture(decoded, source, 0.0, 1024, 48000, FLOOR), decoded)
    half = add_texture(decoded, source, 0.5, 1024, 48000, FLOOR)
    whole = add_texture(decoded, source, 1.0, 1024, 48000, FLOOR)
    np.testing.assert_allclose(np.log(half / decoded), 0.5 * np.log(whole / decoded), atol=1e-12)
    with pytest.raises(ValueError, match="differ in shape"):
        add_texture(decoded, source[:, :100], 1.0, 1024, 48000, FLOOR)


def _stage(amount: float) -> TextureStage:
    return TextureStage(513, 1024, 48000, amount, smoothing_coefficient(0.0, 256, 48000), FLOOR)


def _fine(log_mags: np.ndarray, width: int = 9) -> np.ndarray:
    return log_mags - uniform_filter1d(log_mags, width, mode="nearest")


def test_lay_texture_replaces_the_decoded_fine_structure_within_limits(rng) -> None:
    """Each bin moves by the source's fine structure minus the decoded one's, clipped: a
    partial both have stays, the noise between takes the source's grain."""
    low, high = texture_limits_nepers()
    bins = np.arange(513)
    envelope = -0.01 * bins
    partials = np.where(bins % 20 == 10, 3.0, 0.0)  # 26 dB peaks
    source_log = envelope + partials + 0.6 * rng.standard_normal(513)  # noise between them
    decoded = np.exp(envelope + partials)  # the model: no grain
    out = decoded.copy()
    lay_texture(out, _fine(source_log), 1.0, 9, low, high, FLOOR, np.empty(513), np.empty(513))
    change = np.log(out / decoded)
    reference = np.clip(_fine(source_log) - _fine(np.log(decoded + FLOOR)), low, high)
    np.testing.assert_allclose(change, reference, atol=1e-9)
    assert np.std(change[partials == 0]) > 0.4  # the grain is there
    same = decoded.copy()  # a source with the decoded partials, 20 dB louder, no noise
    lay_texture(
        same,
        _fine(np.log(decoded + FLOOR) + 2.3),
        1.0,
        9,
        low,
        high,
        FLOOR,
        np.empty(513),
        np.empty(513),
    )
    np.testing.assert_allclose(same, decoded, rtol=1e-9)  # shared partials do not move


def test_stage_scales_by_follow_and_moves_with_pitch(rng) -> None:
    logs = rng.normal(size=(3, 513)).astype(np.float32)
    weights = np.array([0.0, 1.0, 0.0])
    decoded = rng.random(513) + 0.1
    stage = _stage(1.0)
    low, high = stage.low, stage.high
    decoded_fine = _fine(np.log(decoded + FLOOR))
    source_fine = _fine(logs[1].astype(np.float64))

    out = decoded.copy()
    stage.process(out, logs, weights, follow=0.0, semitones=0.0)
    assert np.array_equal(out, decoded)  # the path alone: no source, no grain
    stage.process(out, logs, weights, follow=0.5, semitones=0.0)
    np.testing.assert_allclose(
        np.log(out / decoded), 0.5 * np.clip(source_fine - decoded_fine, low, high), atol=1e-6
    )
    out = decoded.copy()
    stage.process(out, logs, weights, follow=1.0, semitones=12.0)
    moved = np.interp(np.arange(513) / 2.0, np.arange(513), source_fine)  # an octave up
    np.testing.assert_allclose(
        np.log(out / decoded), np.clip(moved - decoded_fine, low, high), atol=1e-6
    )
    out = decoded.copy()
    stage.process(out, logs, np.zeros(3), follow=1.0, semitones=0.0)
    assert np.array_equal(out, decoded)  # nothing sounding


def test_stage_holds_the_frozen_hops_texture(rng) -> None:
    """While the latent is frozen the texture of the hop it froze on is laid again, whatever the
    sources do now; after a reset there is none to hold."""
    logs = rng.normal(size=(3, 513)).astype(np.float32)
    weights = np.array([0.0, 1.0, 0.0])
    decoded = rng.random(513) + 0.1
    stage = _stage(1.0)
    first = decoded.copy()
    stage.process(first, logs, weights, follow=1.0, semitones=0.0)
    held = decoded.copy()
    stage.process(
        held,
        rng.normal(size=(3, 513)).astype(np.float32),
        np.zeros(3),
        follow=1.0,
        semitones=0.0,
        held=True,
    )
    np.testing.assert_array_equal(held, first)
    stage.reset()
    after = decoded.copy()
    stage.process(after, logs, weights, follow=1.0, semitones=0.0, held=True)
    assert np.array_equal(after, decoded)


def test_stage_amount_is_the_latent_texture_control() -> None:
    stage = _stage(1.0)
    (control,) = list(stage.controls())
    assert control.address == "/latent/texture"
    control.apply(0.25)
    assert stage.amount.get() == (0.25,) and control.get() == (0.25,)


@pytest.fixture(scope="module")
def shipped():
    config = load_config()
    return config, load_checkpoint(
        config.model.checkpoint_path(), config.stft, config.audio.sample_rate
    )


def test_texture_brings_a_breathy_tone_through_the_model_closer_to_itself(shipped) -> None:
    """A tone with breath noise through the shipped model and the same phase recovery: with the
    texture its partials survive at least as well and its spectrum lies closer (LSD lower by
    more than 0.3 dB), where without it the noise between the partials is the model's smooth
    estimate."""
    config, checkpoint = shipped
    rng = np.random.default_rng(3)
    x = (
        sine(220.0, 1.5, amplitude=0.25)
        + sine(440.0, 1.5, amplitude=0.12)
        + sine(660.0, 1.5, amplitude=0.06)
        + 0.02 * rng.standard_normal(72000)
    )
    target = np.abs(stft(x, config.stft))
    latent, _ = latent_trajectory(x, checkpoint, config)
    plain = checkpoint.model.decode_numpy(latent).astype(np.float64)
    grained = add_texture(
        plain, log_magnitude(target), 1.0, config.stft.n_fft, config.audio.sample_rate, FLOOR
    )
    scores = []
    for mags in (plain, grained):
        spectrum = reconstruct(mags, "rtpghi", config.stft, config.phase)
        heard = np.abs(stft(istft(spectrum, config.stft, length=len(x)), config.stft))
        heard = heard[: len(target)]
        kept, partials = partial_counts(heard, target)
        scores.append((log_spectral_distance_db(heard, target, config.stft), kept / partials))
    (lsd_plain, kept_plain), (lsd_grained, kept_grained) = scores
    print(
        f"LSD {lsd_plain:.2f} -> {lsd_grained:.2f} dB, survival {kept_plain:.3f} -> "
        f"{kept_grained:.3f}"
    )
    assert lsd_grained < lsd_plain - 0.3
    assert kept_grained >= kept_plain - 0.02
    assert TEXTURE_LOW_DB < 0.0 < TEXTURE_HIGH_DB
