"""The voice's sound side: harmonic-plus-noise frames, the acoustic model, checkpoints, training."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from caminos.engine.core.config import Config, StftConfig
from caminos.engine.core.errors import CheckpointError
from caminos.engine.dsp.spectral import stft
from caminos.models.voice.acoustic import (
    VoiceModel,
    VoiceNormaliser,
    VoiceShape,
    alignment,
    synthesize_phrase,
)
from caminos.models.voice.checkpoint import load_voice_checkpoint, save_voice_checkpoint
from caminos.models.voice.corpus import TeacherCorpus, build_corpus
from caminos.models.voice.envelope import N_BANDS, BandLayout, FrameRenderer, analyse, band_edges_hz
from caminos.models.voice.quality import mcd_db
from caminos.models.voice.train import train_voice

RATE = 48000


def harmonics(f0: float, amplitude: float, top_hz: float, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return sum(amplitude * np.cos(2 * np.pi * h * f0 * t) for h in range(1, int(top_hz / f0) + 1))


def test_band_edges_cover_the_spectrum_and_are_wide_enough():
    edges = band_edges_hz(RATE)
    assert len(edges) == N_BANDS + 1
    assert edges[0] == 0 and edges[-1] == pytest.approx(RATE / 2)
    assert np.all(np.diff(edges) >= 200.0)


def test_analyse_tells_harmonics_from_noise(rng):
    layout = BandLayout(StftConfig(), RATE)
    tone = analyse(harmonics(120.0, 0.05, 15000.0, 1.0), StftConfig(), layout)
    noise = analyse(0.1 * rng.standard_normal(RATE), StftConfig(), layout)
    assert np.median(tone.aperiodicity[60:120, 1:30]) < 0.1
    assert np.median(noise.aperiodicity[60:120, 1:30]) > 0.8
    assert np.all(tone.voiced[20:150]) and not np.any(noise.voiced[20:150])
    np.testing.assert_allclose(tone.f0_hz[20:150], 120.0, rtol=1e-3)


def test_aperiodicity_stays_low_while_pitch_glides_and_measures_noise_share(rng):
    """Periodicity is measured at one pitch period, so a glide (120 to 160 Hz in one second)
    still reads as harmonic; harmonics plus noise of equal power read about one half."""
    layout = BandLayout(StftConfig(), RATE)
    t = np.arange(RATE) / RATE
    phase = 2 * np.pi * np.cumsum(np.linspace(120.0, 160.0, RATE)) / RATE
    glide = sum(0.05 * np.cos(h * phase) for h in range(1, 60))
    analysis = analyse(glide, StftConfig(), layout)
    assert np.median(analysis.aperiodicity[50:150, :24]) < 0.1
    expected = np.linspace(120.0, 160.0, RATE)[np.arange(50, 150) * 256 - 256]  # frame centres
    np.testing.assert_allclose(analysis.f0_hz[50:150], expected, rtol=0.01)
    tone = sum(0.05 * np.cos(2 * np.pi * h * 150.0 * t) for h in range(1, 40))
    tone_power = np.abs(stft(tone, StftConfig())) ** 2
    noise = rng.standard_normal(RATE)
    noise_power = np.abs(stft(noise, StftConfig())) ** 2
    band = layout.mean_matrix[10]  # around 1.5 kHz: scale the noise to the tone's power there
    noise *= np.sqrt((tone_power[50:150] @ band).mean() / (noise_power[50:150] @ band).mean())
    ap = analyse(tone + noise, StftConfig(), layout).aperiodicity
    assert np.median(ap[50:150, 10]) == pytest.approx(0.5, abs=0.15)


def test_rendered_harmonics_match_the_analyser_of_a_real_sound():
    """Lobe shape, level and phase: a flat 400 Hz harmonic series rendered from its exact power
    density gives the engine's own STFT magnitudes of that sound, peaks and valleys."""
    config = StftConfig()
    f0, amplitude = 400.0, 0.02
    x = harmonics(f0, amplitude, 6000.0)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(config.n_fft) / config.n_fft)
    bin_hz = RATE / config.n_fft
    # power per bin of harmonics of amplitude A every f0: N A**2 sum(w**2) / 4 * bin_hz / f0
    density = config.n_fft * amplitude**2 * np.sum(window**2) / 4 * bin_hz / f0
    renderer = FrameRenderer(config, RATE)
    edges = renderer.layout.centres_hz
    log_power = np.where(edges < 6000.0, np.log(density), np.log(density) - 40)
    # frame 40 starts at sample 40*hop - (n_fft - hop): the fundamental's phase there
    renderer.phase = (2 * np.pi * f0 * (40 * config.hop - (config.n_fft - config.hop)) / RATE) % (
        2 * np.pi
    )
    out = np.zeros(config.n_bins)
    renderer.render(log_power, np.zeros(N_BANDS), f0, out)
    real = np.abs(stft(x, config))[40]
    span = slice(5, round(5000 / bin_hz))
    np.testing.assert_allclose(out[span], real[span], atol=0.02 * real[span].max())


def test_rendered_noise_has_the_envelope_power(rng):
    config = StftConfig()
    renderer = FrameRenderer(config, RATE, seed=3)
    out = np.zeros(config.n_bins)
    power = []
    for _ in range(400):
        renderer.render(np.full(N_BANDS, np.log(4.0)), np.ones(N_BANDS), 0.0, out)
        power.append(out**2)
    assert np.mean(power) == pytest.approx(4.0, rel=0.05)


def test_renderer_is_repeatable_after_reset():
    config = StftConfig()
    renderer = FrameRenderer(config, RATE, seed=1)
    a, b = np.zeros(config.n_bins), np.zeros(config.n_bins)
    env, ap = np.linspace(0, -5, N_BANDS), np.full(N_BANDS, 0.3)
    renderer.render(env, ap, 150.0, a)
    renderer.reset()
    renderer.render(env, ap, 150.0, b)
    np.testing.assert_array_equal(a, b)


def test_alignment_positions():
    frame_phoneme, position = alignment(np.array([2, 0, 3]))
    np.testing.assert_array_equal(frame_phoneme, [0, 0, 2, 2, 2])
    np.testing.assert_allclose(position, [0.25, 0.75, 1 / 6, 0.5, 5 / 6], rtol=1e-6)


def test_model_shapes():
    torch.manual_seed(0)
    model = VoiceModel(VoiceShape(n_phonemes=20, n_languages=3, n_styles=2, width=16)).eval()
    p = torch.randint(2, 20, (2, 7))
    encoding, log_duration = model.encode(p, torch.zeros_like(p), torch.tensor([0, 1]))
    assert encoding.shape == (2, 16, 7) and log_duration.shape == (2, 7)
    frame_phoneme = torch.randint(0, 7, (2, 30))
    z, ap, intonation = model.decode(encoding, frame_phoneme, torch.rand(2, 30))
    assert z.shape == ap.shape == (2, 30, N_BANDS)
    assert intonation.shape == (2, 30)
    assert torch.all((ap > 0) & (ap < 1))
    norm = VoiceNormaliser(np.zeros(N_BANDS), np.ones(N_BANDS))
    durations, log_power, aperiodicity, intonation = synthesize_phrase(
        model, norm, np.arange(2, 9), np.zeros(7, int), 1
    )
    assert durations.shape == (7,) and np.all(durations >= 1)
    assert log_power.shape == aperiodicity.shape == (durations.sum(), N_BANDS)
    assert intonation.shape == (durations.sum(),)


def test_mcd_is_zero_for_equal_envelopes_and_ignores_gain(rng):
    a = rng.standard_normal((50, N_BANDS))
    assert mcd_db(a, a) == 0.0
    assert mcd_db(a, a + 3.0) == pytest.approx(0.0, abs=1e-9)  # c0 (energy) left out
    assert mcd_db(a, a + rng.standard_normal((50, N_BANDS))) > 1.0


@pytest.fixture(scope="module")
def tiny_corpus() -> TeacherCorpus:
    return build_corpus(Config(), 3, seed=5, codes=("es", "en"), progress=False)


def test_teacher_corpus_is_labelled_consistently(tiny_corpus, tmp_path):
    assert len(tiny_corpus) == 6
    for i in range(len(tiny_corpus)):
        assert len(tiny_corpus.durations[i]) == len(tiny_corpus.phonemes[i])
        assert tiny_corpus.durations[i].sum() == len(tiny_corpus.log_power[i])
        assert tiny_corpus.aperiodicity[i].shape == tiny_corpus.log_power[i].shape
        assert tiny_corpus.intonation[i].shape == (len(tiny_corpus.log_power[i]),)
        voiced = tiny_corpus.intonation[i][~np.isnan(tiny_corpus.intonation[i])]
        assert len(voiced) > 0.3 * len(tiny_corpus.intonation[i])
        assert np.all(np.abs(voiced) <= 8.0)
    tiny_corpus.save(tmp_path)
    again = TeacherCorpus.load(tmp_path)
    assert again.phonemes == tiny_corpus.phonemes and again.texts == tiny_corpus.texts
    np.testing.assert_array_equal(again.log_power[3], tiny_corpus.log_power[3])
    np.testing.assert_array_equal(again.intonation[3], tiny_corpus.intonation[3])


def test_training_writes_a_loadable_checkpoint(tiny_corpus, tmp_path):
    out = tmp_path / "voice.pt"
    result = train_voice(
        tiny_corpus,
        out,
        Config(),
        minutes=1.0,
        max_epochs=2,
        width=16,
        progress=False,
        provenance={"command": "test"},
    )
    assert result.epochs == 2 and np.isfinite(result.mcd_db)
    loaded = load_voice_checkpoint(out, StftConfig(), RATE)
    assert loaded.provenance["command"] == "test"
    assert loaded.phoneme_ids(["a", "no-such-phoneme"])[1] == 1
    with pytest.raises(CheckpointError, match="n_fft=1024.*n_fft=2048"):
        load_voice_checkpoint(out, StftConfig(n_fft=2048, hop=512), RATE)
    with pytest.raises(CheckpointError, match="44100 Hz"):
        load_voice_checkpoint(out, StftConfig(), 44100)


def test_bad_checkpoints_are_refused_with_the_file_name(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_voice_checkpoint(tmp_path / "none.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_voice_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"format": "something-else"}, foreign)
    with pytest.raises(CheckpointError, match="not a caminos voice checkpoint"):
        load_voice_checkpoint(foreign)
    model = VoiceModel(VoiceShape(n_phonemes=5, n_languages=8, n_styles=12, width=8))
    wrong = tmp_path / "wrong.pt"
    save_voice_checkpoint(
        wrong,
        model,
        VoiceNormaliser(np.zeros(N_BANDS), np.ones(N_BANDS)),
        ["<pad>", "<unk>", "a", "b", "c"],
        ["es"] * 8,
        ["x"] * 12,
        StftConfig(),
        RATE,
        {},
    )
    data = torch.load(wrong, weights_only=True)
    data["shape"]["width"] = 16
    torch.save(data, wrong)
    with pytest.raises(CheckpointError, match="do not match"):
        load_voice_checkpoint(wrong)
