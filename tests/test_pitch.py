"""The pitch channel: tracker against known fundamentals, the harmonic comb, the codecs' pitch
terms against the model, and /latent/pitch moving decoded partials by the right number of bins."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from caminos.engine.clock.codec import FrameCodec, add_comb_banded, add_comb_per_bin
from caminos.engine.clock.latent import LatentMixer
from caminos.engine.core.config import StftConfig
from caminos.engine.dsp.spectral import stft
from caminos.models.autoencoder import (
    FusedCodec,
    SpectralVAE,
    harmonic_comb_torch,
    hop_model,
    log_magnitude,
    pitch_direction,
)
from caminos.models.pitch import (
    PitchTracker,
    harmonic_comb,
    hann_lobe,
    hz_to_semitones,
    semitones_to_hz,
)
from caminos.models.shape import ModelShape

RATE = 48_000
CFG = StftConfig()  # n_fft 1024, hop 256
BIN_HZ = RATE / CFG.n_fft


def tone(f0: float, seconds: float = 0.5, odd_only: bool = False) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    step = 2 if odd_only else 1
    return sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, int(16000 / f0), step))


@pytest.mark.parametrize("f0", [150.0, 196.0, 261.6, 440.0, 587.3, 880.0, 1250.0])
@pytest.mark.parametrize("odd_only", [False, True])
def test_tracker_finds_the_fundamental_within_ten_cents(f0: float, odd_only: bool) -> None:
    """Ten cents keeps the 16th harmonic of 440 Hz within half a bin at n_fft 1024 (over 80
    random tones from 150 to 1200 Hz the error was 1.4 cents median, 7.5 at p99, 9 at most)."""
    mags = np.abs(stft(tone(f0, odd_only=odd_only), CFG))[4:-4]
    estimate = np.median(PitchTracker(CFG.n_fft, RATE).track(mags))
    assert abs(1200 * np.log2(estimate / f0)) < 10.0


def test_tracker_streaming_buffers_equal_the_batch_path() -> None:
    mags = np.abs(stft(tone(330.0), CFG))[:3].astype(np.float32)
    tracker = PitchTracker(CFG.n_fft, RATE, batch=3)
    out = np.zeros(3)
    tracker.track_into(mags, out)
    np.testing.assert_allclose(out, tracker.track(mags), rtol=1e-6)


def test_semitone_conversions() -> None:
    assert hz_to_semitones(440.0) == pytest.approx(48.0)
    assert semitones_to_hz(hz_to_semitones(123.4)) == pytest.approx(123.4)


def test_comb_peaks_on_harmonics_and_is_zero_between() -> None:
    comb = harmonic_comb(np.array([4 * BIN_HZ]), CFG.n_bins, BIN_HZ)[0]
    assert comb[[4, 8, 12, 400]].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert comb[[6, 10, 2]].max() == 0.0  # two bins from any harmonic (and below the first)
    assert comb[5] == pytest.approx(0.5)
    torch_comb = harmonic_comb_torch(
        torch.tensor([4.3 * BIN_HZ], dtype=torch.float64), CFG.n_bins, BIN_HZ
    )[0].numpy()
    np.testing.assert_allclose(
        torch_comb, harmonic_comb(np.array([4.3 * BIN_HZ]), CFG.n_bins, BIN_HZ)[0], atol=1e-9
    )


def test_lobe_matches_the_hann_window_spectrum() -> None:
    """The lobe is the magnitude of a Hann window's DFT between bins, normalised (a reference)."""
    n = 4096
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    d = np.linspace(0.0, 1.99, 200)
    exact = np.abs([np.sum(window * np.exp(-2j * np.pi * x * np.arange(n) / n)) for x in d])
    np.testing.assert_allclose(hann_lobe(d), exact / exact[0], atol=2e-3)
    np.testing.assert_allclose(hann_lobe(np.array([0.0, 1.0, 2.0, 3.0])), [1.0, 0.5, 0.0, 0.0])


@pytest.mark.parametrize("f0_bins", [1.0, 2.5, 4.0, 4.3, 9.387, 40.0])
def test_hop_path_comb_kernels_equal_the_reference(f0_bins: float) -> None:
    """The numba kernels add softplus(heights) times the comb of models.pitch, per bin or from
    bands, in place."""
    from caminos.models.shape import band_interpolation

    rng = np.random.default_rng(0)
    heights = rng.normal(0.0, 2.0, CFG.n_bins).astype(np.float32)
    comb = harmonic_comb(np.array([f0_bins * BIN_HZ]), CFG.n_bins, BIN_HZ)[0]
    softplus = np.logaddexp(0.0, heights.astype(np.float64))
    h = np.zeros(CFG.n_bins, np.float32)
    add_comb_per_bin(h, heights, f0_bins)
    np.testing.assert_allclose(h, softplus * comb, rtol=1e-5, atol=1e-6)
    bands = rng.normal(0.0, 2.0, 16).astype(np.float32)
    lower, weight = band_interpolation(CFG.n_bins, 16)
    spread = bands[lower] * (1 - weight) + bands[lower + 1] * weight
    h[:] = 1.0
    add_comb_banded(h, bands, lower, weight, f0_bins)
    np.testing.assert_allclose(h, 1.0 + np.logaddexp(0.0, spread) * comb, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def pitch_model() -> SpectralVAE:
    """A small untrained model with level and pitch channels and trained-like statistics."""
    torch.manual_seed(0)
    frames = np.concatenate(
        [log_magnitude(np.abs(stft(0.1 * tone(f0), CFG))) for f0 in (165.0, 220.0, 330.0, 494.0)]
    ).astype(np.float32)
    model = SpectralVAE(
        ModelShape(
            n_bins=CFG.n_bins,
            latent_dim=8,
            hidden=(32, 16),
            decoder_hidden=(16, 32),
            level=True,
            pitch=True,
            bin_hz=BIN_HZ,
        )
    )
    model.set_input_statistics(frames)
    model.set_latent_statistics(frames)
    model.frames = frames
    return model.eval()


def test_codecs_equal_the_model(pitch_model: SpectralVAE) -> None:
    frames = torch.as_tensor(pitch_model.frames)
    fused = FusedCodec.from_model(pitch_model)
    with torch.no_grad():
        z = pitch_model.encode(frames)
        np.testing.assert_allclose(fused.encode(frames), z, atol=1e-4)
        decoded = pitch_model.decode(z)
        np.testing.assert_allclose(fused.decode(z), decoded, rtol=1e-4, atol=1e-6)
    codec = FrameCodec(hop_model(pitch_model), batch=2)
    out = np.zeros((2, 8), np.float32)
    codec.encode(pitch_model.frames[20:22], out)
    np.testing.assert_allclose(out, z[20:22].numpy(), atol=1e-4)
    mags = np.zeros(CFG.n_bins)
    codec.decode(z[20].numpy(), mags)
    np.testing.assert_allclose(mags, decoded[20].numpy(), rtol=1e-4, atol=1e-6)


def test_pitch_offset_moves_the_decoded_partials(pitch_model: SpectralVAE) -> None:
    """/latent/pitch +12 semitones puts the comb's partials at twice their bin."""
    model = SpectralVAE(pitch_model.shape)
    model.load_state_dict(pitch_model.state_dict())
    with torch.no_grad():  # a decoder whose output is the comb alone: partials 5 nepers high
        model.input_mean.zero_()  # over a flat spectrum at the frame's level
        last = model.decoder[-1]
        last.weight.zero_()
        last.bias[: CFG.n_bins] = 0.0
        last.bias[CFG.n_bins :] = 5.0
    codec = FrameCodec(hop_model(model), batch=1)
    std = model.latent_std.double().numpy()
    mixer = LatentMixer(std, 1.0, pitch_direction=pitch_direction(model))
    z_source = np.zeros((1, 8), np.float32)
    codec.encode(
        log_magnitude(np.abs(stft(0.1 * tone(220.0), CFG)))[10:11].astype(np.float32), z_source
    )
    z, mags = np.zeros(8), np.zeros(CFG.n_bins)

    def partials(semitones: float) -> np.ndarray:
        mixer.pitch.jump(semitones)
        mixer.mix(z_source.astype(np.float64), np.ones(1), z)
        codec.decode(z, mags)
        peaks = np.flatnonzero((mags[1:-1] > mags[:-2]) & (mags[1:-1] >= mags[2:])) + 1
        return peaks[mags[peaks] > 0.5 * mags.max()][:4]

    base = partials(0.0)
    assert np.allclose(base, np.round(220.0 * np.arange(1, 5) / BIN_HZ), atol=1)
    np.testing.assert_allclose(partials(12.0), 2 * base, atol=1)
    np.testing.assert_allclose(partials(-12.0)[:2], base[:2] / 2, atol=1)


def test_comb_heights_by_band_equal_the_model_in_both_codecs(pitch_model: SpectralVAE) -> None:
    torch.manual_seed(1)
    shape = ModelShape(
        n_bins=CFG.n_bins,
        latent_dim=8,
        hidden=(32, 16),
        decoder_hidden=(16, 32),
        level=True,
        pitch=True,
        bin_hz=BIN_HZ,
        comb_bands=16,
    )
    model = SpectralVAE(shape)
    assert model.decoder[-1].out_features == CFG.n_bins + 16
    with torch.no_grad():
        model.decoder[-1].bias[CFG.n_bins :] = torch.linspace(-2.0, 2.0, 16)
    model.set_input_statistics(pitch_model.frames)
    model.set_latent_statistics(pitch_model.frames)
    model.eval()
    frames = torch.as_tensor(pitch_model.frames)
    # The comb at bin k moves by k * df / f0 bins for a relative pitch error df / f0: float32's
    # 1e-7 between the two ways of reading the pitch from z becomes up to 3e-4 at the top bins
    # with heights of 2 nepers. Hence 1e-3 here rather than the 1e-4 of the pitch-free terms.
    with torch.no_grad():
        z = model.encode(frames)
        decoded = model.decode(z)
        np.testing.assert_allclose(
            FusedCodec.from_model(model).decode(z), decoded, rtol=1e-3, atol=1e-6
        )
    codec = FrameCodec(hop_model(model), batch=1)
    mags = np.zeros(CFG.n_bins)
    codec.decode(z[30].numpy(), mags)
    np.testing.assert_allclose(mags, decoded[30].numpy(), rtol=1e-3, atol=1e-6)


def test_band_interpolation_reaches_every_bin() -> None:
    from caminos.models.shape import band_interpolation

    lower, weight = band_interpolation(513, 64)
    values = np.arange(64.0) ** 2
    spread = values[lower] * (1 - weight) + values[lower + 1] * weight
    assert spread[0] == 0.0 and spread[-1] == 63.0**2
    assert np.all(np.diff(spread) > 0) and lower.max() == 62


def _channels(rows: int, slots: int, peaks: int, seed: int = 0):
    """Random many-pitch channels: pitches from below the lowest bin (the fundamental kept at
    one bin) to past the 200-semitone cap, gates 0 to 1, peaks anywhere in the spectrum."""
    rng = np.random.default_rng(seed)
    semitones = torch.as_tensor(rng.uniform(-40.0, 250.0, (rows, slots)))
    gates = torch.as_tensor(rng.uniform(0.0, 1.0, (rows, slots)))
    peak_semitones = torch.as_tensor(rng.uniform(-10.0, 130.0, (rows, peaks)))
    peak_logs = torch.as_tensor(rng.uniform(-8.0, 14.0, (rows, peaks)))  # past the ceiling too
    return semitones, gates, peak_semitones, peak_logs


def test_gated_combs_give_comb_at_at_every_bin() -> None:
    """The training kernel visits only the bins near a harmonic; every bin still holds the
    number the hop path's comb_at gives it, bit for bit."""
    from caminos.models.pitch import comb_at, gated_combs

    semitones, gates, _, _ = (t.numpy() for t in _channels(64, 3, 0))
    semitones[0, 0], semitones[1, 1] = -100.0, 1e9  # a fundamental under a bin, one capped
    gates[2, 1:] = 0.0  # empty slots
    out = np.full((64, 3, CFG.n_bins), np.nan)
    gated_combs(semitones, gates, BIN_HZ, out)
    for row in range(64):
        for s in range(3):
            f0 = max(27.5 * 2.0 ** (min(semitones[row, s], 200.0) / 12.0) / BIN_HZ, 1.0)
            expected = [comb_at(k, f0) * gates[row, s] for k in range(CFG.n_bins)]
            assert out[row, s].tolist() == expected


@pytest.mark.parametrize("peaks", [0, 4])
def test_compiled_combs_and_peaks_equal_the_torch_operations(peaks: int) -> None:
    """Training on the CPU draws through the kernels, on a GPU through torch operations: the
    same numbers within float64 rounding, but within 1e-4 bins of the lobe's half point, where
    the torch lobe takes its limit 0.5 (the kernel's is exact there, off by 5e-5 at most)."""
    from caminos.models.autoencoder import combs_and_peaks, combs_and_peaks_torch

    channels = _channels(256, 3, peaks, seed=1)
    drawings = combs_and_peaks(*channels, CFG.n_bins, BIN_HZ)
    references = combs_and_peaks_torch(*channels, CFG.n_bins, BIN_HZ)
    for drawn, reference in zip(drawings[: 1 + bool(peaks)], references):
        drawn, reference = drawn.numpy(), reference.numpy()
        assert np.isclose(drawn, reference, rtol=1e-12, atol=1e-12).mean() > 0.9999
        np.testing.assert_allclose(drawn, reference, rtol=0, atol=1e-4)
    if not peaks:
        assert drawings[1] is None and references[1] is None


def test_partials_drawn_on_the_cpu_pass_gradients_to_the_heights_alone() -> None:
    """The combs and peaks are constants of the analysis: the decoder's heights and spectrum
    get gradients where a comb is drawn, and nothing else asks for one."""
    from caminos.models.autoencoder import draw_partials_torch

    semitones, gates, peak_semitones, peak_logs = _channels(8, 3, 4, seed=2)
    semitones = torch.full((8, 3), 36.0)  # 220 Hz, 4.7 bins: combs well inside the spectrum
    peak_logs = torch.full((8, 4), -20.0)  # under the floor: no peak overtops a comb
    log_mags = torch.zeros(8, CFG.n_bins, requires_grad=True)
    heights = torch.zeros(8, 3, CFG.n_bins, requires_grad=True)
    out = draw_partials_torch(
        log_mags, heights, semitones, gates, peak_semitones, peak_logs, BIN_HZ
    )
    out.sum().backward()
    drawn = harmonic_comb(np.array([220.0]), CFG.n_bins, BIN_HZ)[0] > 0
    assert torch.all(heights.grad[:, :, drawn] > 0)
    assert torch.all(heights.grad[:, :, ~drawn] == 0)
    assert log_mags.grad.abs().sum() > 0
