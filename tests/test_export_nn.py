"""``caminos export nn``: the shipped models as nn~ TorchScript files (docs/export.md).

A host written to nn~'s rules (acids-ircam nn_tilde's backend: each input decimated to the
method's ratio by taking each block's last sample, each output held for ``out_ratio`` samples,
buffers of 256 to 4096 samples, the voices of ``mc.nn~`` as the batch) runs every method; a
stream cut into buffers gives the samples of one call; the latency reported is the delay of a
click; the file loads with torch alone; bad input is refused with a message; and the ports to
TorchScript (the many-pitch analysis, the codec, RTPGHI) are held to the model and the engine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from caminos.engine.cli.main import main
from caminos.engine.core.config import PhaseConfig
from caminos.engine.dsp.audio_io import read_audio
from caminos.engine.dsp.metrics import spectral_convergence_db
from caminos.engine.dsp.phase import reconstruct
from caminos.engine.dsp.spectral import stft
from caminos.models.autoencoder import log_magnitude
from caminos.models.checkpoint import load_checkpoint
from caminos.models.export import ExportError, export_nn
from caminos.models.export.codec_ts import codec_from
from caminos.models.export.phase_ts import StreamingPhase

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "models" / "checkpoints"
DEMO = ROOT / "patches" / "demo" / "demo.wav"
MODELS = ("default", "lowlatency")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    """Both shipped models exported once: name -> (report, path)."""
    folder = tmp_path_factory.mktemp("export")
    return {
        name: (export_nn(CHECKPOINTS / f"{name}.pt", folder / f"{name}.ts"), folder / f"{name}.ts")
        for name in MODELS
    }


@pytest.fixture(scope="module")
def demo() -> np.ndarray:
    """The demo sound, stereo float32 at 48 kHz, (2, samples)."""
    samples, _ = read_audio(DEMO, 48000)
    return np.ascontiguousarray(samples.T, dtype=np.float32)


def load(exported: dict, name: str):
    return torch.jit.load(str(exported[name][1]))


def host(model, method: str, signal: torch.Tensor, buffer: int) -> torch.Tensor:
    """Run ``method`` as nn~ does: ``signal`` (batch, in_channels, samples) at the audio rate,
    cut into ``buffer``-sample blocks, each input decimated to the method's ratio (the block's
    last sample of every ``in_ratio``), each output sample held for ``out_ratio`` samples."""
    in_ch, in_ratio, out_ch, out_ratio = (int(v) for v in getattr(model, f"{method}_params"))
    batch = signal.shape[0]
    assert signal.shape[1] == in_ch
    outputs = []
    with torch.inference_mode():
        for start in range(0, signal.shape[2], buffer):
            block = signal[:, :, start : start + buffer]
            x = block.reshape(batch, in_ch, buffer // in_ratio, in_ratio)[..., -1]
            y = getattr(model, method)(x.contiguous())
            assert y.dtype == torch.float32
            assert tuple(y.shape) == (batch, out_ch, buffer // out_ratio)
            outputs.append(y.repeat_interleave(out_ratio, dim=-1))
    return torch.cat(outputs, dim=-1)


def test_export_reports_methods_channels_and_latency(exported):
    for name in MODELS:
        report, path = exported[name]
        checkpoint = load_checkpoint(CHECKPOINTS / f"{name}.pt")
        d, hop, n_fft = (
            checkpoint.model.shape.latent_dim,
            checkpoint.stft.hop,
            checkpoint.stft.n_fft,
        )
        assert path.is_file()
        assert report.methods == {
            "forward": (1, 1, 1, 1),
            "encode": (1, 1, d, hop),
            "decode": (d, hop, 1, 1),
        }
        assert report.latency == n_fft - hop + hop  # the STFT pair and one look-ahead frame
        model = load(exported, name)
        assert list(model.get_methods()) == ["forward", "encode", "decode"]
        assert len(model.encode_output_labels) == d and len(model.decode_input_labels) == d
        assert model.get_sample_rate() == 48000
        for attribute in model.get_attributes():
            assert hasattr(model, f"{attribute}_params")
            getattr(model, f"get_{attribute}")()


def test_the_file_loads_with_torch_alone(exported, tmp_path):
    code = (
        "import sys, torch\n"
        f"m = torch.jit.load({str(exported['default'][1])!r})\n"
        "y = m(torch.zeros(1, 1, 2048))\n"
        "z = m.encode(torch.zeros(2, 1, 512))\n"
        "a = m.decode(z)\n"
        "assert y.shape == (1, 1, 2048) and z.shape == (2, 32, 2) and a.shape == (2, 1, 512)\n"
        "assert not [k for k in sys.modules if k.split('.')[0] == 'caminos'], 'caminos'\n"
        "assert not [k for k in sys.modules if k.split('.')[0] == 'numba'], 'numba'\n"
        "print('ok', m.get_latency())\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "1024"]


@pytest.mark.parametrize("name", MODELS)
def test_a_host_to_nn_tilde_rules_runs_every_method(exported, demo, name):
    model = load(exported, name)
    d = int(model.decode_params[0])
    signal = torch.as_tensor(demo[:, 24000 : 24000 + 8192])
    voices = torch.stack([signal[0], signal[1], signal[0] * 0.5, signal[1] * 0.0])[:, None]
    for batch in (1, 4):
        for buffer in (256, 1024, 4096):
            model.reset()
            audio = host(model, "forward", voices[:batch], buffer)
            latent = host(model, "encode", voices[:batch], buffer)
            back = host(model, "decode", latent, buffer)
            assert audio.shape == (batch, 1, 8192) and back.shape == (batch, 1, 8192)
            assert latent.shape == (batch, d, 8192)
            for y in (audio, latent, back):
                assert bool(torch.isfinite(y).all())
            assert float(audio[0].abs().max()) > 0.01  # it sounds
            assert float(back[0].abs().max()) > 0.01


@pytest.mark.parametrize("name", MODELS)
def test_streamed_output_equals_one_call(exported, demo, name):
    model = load(exported, name)
    signal = torch.as_tensor(demo[:1, 48000 : 48000 + 16384])[:, None]
    with torch.inference_mode():
        model.reset()
        whole = model(signal)
        z_whole = model.encode(signal)
        a_whole = model.decode(z_whole)
        for buffer in (256, 512, 2048, 4096):
            model.reset()
            parts = torch.cat(
                [model(signal[..., i : i + buffer]) for i in range(0, signal.shape[2], buffer)],
                dim=-1,
            )
            assert float((parts - whole).abs().max()) <= 1e-6, buffer
            hop = int(model.encode_params[3])
            latents = torch.cat(
                [
                    model.encode(signal[..., i : i + buffer])
                    for i in range(0, signal.shape[2], buffer)
                ],
                dim=-1,
            )
            assert float((latents - z_whole).abs().max()) <= 1e-6, buffer
            frames = buffer // hop
            back = torch.cat(
                [
                    model.decode(z_whole[..., i : i + frames])
                    for i in range(0, z_whole.shape[2], frames)
                ],
                dim=-1,
            )
            assert float((back - a_whole).abs().max()) <= 1e-6, buffer


def test_each_voice_of_a_batch_is_its_own_stream(exported, demo):
    model = load(exported, "default")
    pair = torch.as_tensor(demo[:, 96000 : 96000 + 8192])[:, None]
    with torch.inference_mode():
        model.reset()
        together = model(pair)
        alone = []
        for voice in range(2):
            model.reset()
            alone.append(model(pair[voice : voice + 1]))
    assert float((together - torch.cat(alone)).abs().max()) <= 1e-6
    assert float((together[0] - together[1]).abs().max()) > 1e-3  # two voices, two sounds


def test_no_step_at_buffer_joins_beyond_the_signals_own(exported, demo):
    model = load(exported, "default")
    buffer = 256
    signal = torch.as_tensor(demo[:1, 12000 : 12000 + 32 * buffer])[:, None]
    y = host(model, "forward", signal, buffer)[0, 0].numpy()
    steps = np.abs(np.diff(y))
    joins = np.arange(buffer, len(y), buffer) - 1  # steps from the last sample of a buffer
    inside = np.setdiff1d(np.arange(len(steps)), joins)
    assert steps[joins].max() <= steps[inside].max()


def test_latency_is_the_delay_of_a_click(exported, tmp_path):
    least = export_nn(CHECKPOINTS / "lowlatency.pt", tmp_path / "least.ts", lookahead=0)
    assert least.latency == 512 - 128
    for model in [load(exported, name) for name in MODELS] + [torch.jit.load(least.path)]:
        click = torch.zeros(1, 1, 8192)
        click[0, 0, 3000] = 1.0
        with torch.inference_mode():
            model.set_phase("input")  # the click's own phase: it lands where it was
            model.reset()
            y = model(click)[0, 0].numpy()
            assert int(np.argmax(np.abs(y))) - 3000 == model.get_latency()
            model.set_phase("pghi")  # phase from magnitudes alone: the same place, +- a hop/2
            model.reset()
            y = model(click)[0, 0].numpy().astype(np.float64)
        energy = y**2
        centre = float((np.arange(len(y)) * energy).sum() / energy.sum())
        hop = int(model.encode_params[3])
        assert abs(centre - 3000 - model.get_latency()) <= hop / 2
        with torch.inference_mode():  # encode into decode: forward's delay
            model.reset()
            y = model.decode(model.encode(click))[0, 0].numpy().astype(np.float64)
        energy = y**2
        centre = float((np.arange(len(y)) * energy).sum() / energy.sum())
        assert model.get_method_latency("encode") == 0
        assert model.get_method_latency("decode") == model.get_latency()
        assert abs(centre - 3000 - model.get_latency()) <= hop / 2


def test_bad_input_is_refused_with_a_message(exported):
    model = load(exported, "default")
    cases = [
        (lambda: model(torch.zeros(1, 2, 512)), "expected 1 input channels, got 2"),
        (lambda: model(torch.zeros(1, 1, 100)), "multiple of the hop, 256 samples"),
        (lambda: model.encode(torch.zeros(1, 1, 300)), "multiple of the hop"),
        (lambda: model.decode(torch.zeros(1, 3, 4)), "expected 32 input channels, got 3"),
        (lambda: model(torch.zeros(512)), "expected (batch, channels, samples)"),
        (lambda: model.set_phase("heap"), "phase method 'heap' unknown"),
        (lambda: model.set_pitch(100.0), "pitch expects -48 to 48 semitones, got 100"),
        (lambda: model.set_offset(40, 1.0), "offset axis must be 0 to 31"),
        (lambda: model.set_follow(float("nan")), "follow expects 0 to 1, got nan"),
        (lambda: model.set_texture(2.0), "texture expects 0 to 1, got 2"),
        (lambda: model.get_method_latency("stretch"), "unknown method 'stretch'"),
    ]
    for call, message in cases:
        with pytest.raises(Exception) as error:
            call()
        assert message in str(error.value), str(error.value)
    y = model(torch.full((1, 1, 512), float("nan")))  # a broken patch upstream: silence
    assert bool(torch.isfinite(y).all())
    model.set_follow(0.0)  # a wild latent (8 std on the loudest axes) stays within 0 dBFS
    for axis in range(5):
        model.set_offset(axis, 8.0)
    model.reset()
    loud = model(torch.zeros(1, 1, 4096))
    assert bool(torch.isfinite(loud).all()) and float(loud.abs().max()) <= 1.0
    model.set_follow(1.0)
    assert model(torch.zeros(1, 1, 512)).shape == (1, 1, 512)  # still playing after refusals


def test_attributes_move_the_sound(exported, demo):
    model = load(exported, "default")
    signal = torch.as_tensor(demo[:1, 24000 : 24000 + 8192])[:, None]
    with torch.inference_mode():
        model.reset()
        plain = model(signal)
        assert model.set_pitch(7.0) == 0 and model.get_pitch() == (7.0,)
        model.reset()
        higher = model(signal)
        model.set_pitch(0.0)
        assert float((higher - plain).abs().max()) > 1e-2
        model.set_follow(0.0)  # the latent is the offsets alone: the input no longer matters
        model.set_x(1.5)
        assert model.get_x() == (1.5,) and model.get_offset() == (0, 1.5)
        model.reset()
        a = model(signal)[..., 4096:]
        model.reset()
        b = model(signal * 0.1)[..., 4096:]
        assert float((a - b).abs().max()) <= 1e-6
        model.set_follow(1.0)
        model.set_x(0.0)
        model.set_noise(1.0)
        model.set_seed(3)
        runs = []
        for _ in range(2):
            model.reset()
            runs.append(model(signal))
        assert float((runs[0] - runs[1]).abs().max()) == 0.0  # seeded, repeatable
        assert float((runs[0] - plain).abs().max()) > 1e-2
        assert model.get_phase() == ("pghi",) and model.set_phase("random") == 0
        model.set_phase("pghi")
        model.set_noise(0.0)
        assert model.get_texture() == (1.0,)
        model.set_texture(0.0)
        model.reset()
        bare = model(signal)
        assert float((bare - plain).abs().max()) > 1e-2  # the input's grain was in plain


def test_the_partial_analysis_port_matches_the_models(demo):
    checkpoint = load_checkpoint(CHECKPOINTS / "default.pt")
    frames = log_magnitude(
        np.abs(stft(demo.mean(axis=0)[:96000].astype(np.float64), checkpoint.stft))
    ).astype(np.float32)
    current = torch.as_tensor(frames)
    codec = torch.jit.script(codec_from(checkpoint.model))
    with torch.inference_mode():
        ours = codec.partials(current).numpy()
        z = codec.encode(current)
        mags = codec.decode(z)
    theirs = checkpoint.model.partial_values(current)
    # The same arithmetic in float64: equal to the last bits (sums of taps and of lobes may be
    # ordered differently, so the tolerance is far below a thousandth of a semitone or neper).
    assert np.abs(ours - theirs).max() <= 1e-9
    with torch.no_grad():
        z_model = checkpoint.model.encode(current)
        mags_model = checkpoint.model.decode(z_model)
    assert float((z - z_model).abs().max()) <= 1e-4
    assert float(((mags - mags_model).abs().max()) / mags_model.abs().max()) <= 1e-4


def test_cancelling_notes_together_equals_one_after_the_other(demo):
    """The partial analysis cancels the slots' notes before picking free peaks with their
    geometry computed at once (fewer tensor operations a call): the same bits as one
    :meth:`cancel` after the other, with notes of different lowest fundamentals (so different
    partial counts) and rows a note does not cancel in."""
    checkpoint = load_checkpoint(CHECKPOINTS / "default.pt")
    frames = log_magnitude(
        np.abs(stft(demo.mean(axis=0)[:24000].astype(np.float64), checkpoint.stft))
    ).astype(np.float32)
    partials = torch.jit.script(codec_from(checkpoint.model)).partials
    held = torch.sqrt(torch.clamp(torch.exp(torch.as_tensor(frames).double()) - 1e-3, min=0.0))
    rows = len(held)
    generator = torch.Generator().manual_seed(0)
    f0 = torch.stack(
        [
            torch.full((rows,), 2.3, dtype=torch.float64),  # 108 Hz: many partials
            4.0 + 20.0 * torch.rand(rows, generator=generator, dtype=torch.float64),
            torch.full((rows,), 40.5, dtype=torch.float64),
        ],
        dim=1,
    )
    on = torch.rand(rows, 3, generator=generator) < 0.7
    on[:, 2] = False  # a note that cancels nowhere
    with torch.inference_mode():
        together = partials.cancel_notes(f0, held, 1.0, on)
        apart = held
        for note in range(3):
            apart = partials.cancel(f0[:, note], apart, 1.0, on[:, note])
    assert torch.equal(together, apart)
    assert float((together - held).abs().max()) > 0.1  # it cancelled


def _one_comb_model(frames: np.ndarray):
    """A small untrained model with one pitch comb (no slots), statistics fitted on ``frames``."""
    from caminos.models.autoencoder import SpectralVAE
    from caminos.models.shape import ModelShape

    torch.manual_seed(0)
    shape = ModelShape(
        n_bins=frames.shape[1],
        latent_dim=16,
        hidden=(32,),
        decoder_hidden=(48,),
        level=True,
        pitch=True,
        bin_hz=48000 / 1024,
        comb_bands=16,
    )
    model = SpectralVAE(shape)
    model.set_input_statistics(frames)
    model.set_latent_statistics(frames)
    return model.eval()


DRAWING = [
    (3, []),
    (1, []),
    (2, []),
    (3, [4.0, 7.0]),
    (1, [7.0, -5.0, 12.0, 24.0]),
    (2, [36.0]),
    (3, [-24.0, 0.0, 3.0]),
    (3, []),
]  # (pitches, chord): engine settings


def test_pitches_and_chord_draw_as_the_engines_decoder(exported, demo):
    """/latent/pitches and /latent/chord in the export: the same magnitudes as the engine's
    FrameCodec for the same latents and settings, set through the exported file's attributes
    (shipped many-pitch model) and on a one-comb model's codec."""
    from caminos.engine.clock.codec import CHORD_MOST, FrameCodec
    from caminos.models.autoencoder import hop_model
    from caminos.models.export.codec_ts import CHORD_MOST as EXPORT_CHORD_MOST

    assert EXPORT_CHORD_MOST == CHORD_MOST
    checkpoint = load_checkpoint(CHECKPOINTS / "default.pt")
    frames = log_magnitude(
        np.abs(stft(demo.mean(axis=0)[:48000].astype(np.float64), checkpoint.stft))
    ).astype(np.float32)
    exported_model = load(exported, "default")
    one = _one_comb_model(frames)
    one_codec = torch.jit.script(codec_from(one))
    for model, codec in ((checkpoint.model, None), (one, one_codec)):
        with torch.inference_mode():
            z = (exported_model.codec if codec is None else codec).encode(torch.as_tensor(frames))
        engine = FrameCodec(hop_model(model), batch=len(z), decode_batch=len(z))
        plain = None
        for pitches, chord in DRAWING:
            engine.set_pitch_slots(pitches)
            engine.set_chord(chord)
            theirs = np.zeros((len(z), engine.n_bins))
            engine.decode_batch(z.numpy(), theirs)
            padded = (chord + [0.0] * 4)[:4]
            if codec is None:  # through nn~'s setters, as a patch sets them
                assert exported_model.set_pitches(pitches) == 0
                assert exported_model.set_chord(*padded) == 0
                assert exported_model.get_pitches() == (pitches,)
                assert exported_model.get_chord() == tuple(
                    ([v for v in chord if v != 0.0] + [0.0] * 4)[:4]
                )
                with torch.inference_mode():
                    ours = exported_model.codec.decode(z).numpy()
            else:
                codec.set_drawn_slots(pitches)
                codec.set_chord(chord)
                with torch.inference_mode():
                    ours = codec.decode(z).numpy()
            # the engine's float32 hop path against the export's float64 drawing: as the port
            # of decode is held to the model (measured: 2e-6 many-pitch, 3e-5 one comb)
            assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(theirs).max(), (pitches, chord)
            if plain is None:
                plain = ours
            elif (pitches, chord) == (3, []):
                np.testing.assert_array_equal(ours, plain)  # cleared: as never set
            elif codec is None or chord:  # every setting moves the sound (a one-comb model
                assert np.abs(ours - plain).max() > 1e-2 * np.abs(plain).max()  # has one slot)


def test_pitches_and_chord_attributes_set_clear_and_refuse(exported, demo):
    from caminos.models.export.nn_module import CaminosNN
    from caminos.models.export.writer import pitch_direction

    model = load(exported, "default")
    attributes = list(model.get_attributes())
    assert "pitches" in attributes and "chord" in attributes
    assert model.pitches_params.tolist() == [1] and model.chord_params.tolist() == [2] * 4
    assert model.get_pitches() == (3,) and model.get_chord() == (0.0, 0.0, 0.0, 0.0)
    signal = torch.as_tensor(demo[:1, 24000 : 24000 + 8192])[:, None]
    with torch.inference_mode():
        model.reset()
        plain = model(signal)
        assert model.set_chord(4.0, 0.0, 7.0, 0.0) == 0
        assert model.get_chord() == (4.0, 7.0, 0.0, 0.0)  # 0: unused, the others in order
        model.reset()
        triad = model(signal)
        assert model.set_pitches(1) == 0
        model.reset()
        thinned = model(signal)
        cases = [
            (lambda: model.set_pitches(0), "pitches expects 1 to 3 slots, got 0"),
            (lambda: model.set_pitches(4), "pitches expects 1 to 3 slots, got 4"),
            (
                lambda: model.set_chord(40.0, 0.0, 0.0, 0.0),
                "chord expects -24 to 36 semitones, got 40",
            ),
            (
                lambda: model.set_chord(4.0, float("nan"), 0.0, 0.0),
                "chord expects -24 to 36 semitones, got nan",
            ),
        ]
        for call, message in cases:
            with pytest.raises(Exception) as error:
                call()
            assert message in str(error.value), str(error.value)
        assert model.get_pitches() == (1,) and model.get_chord() == (4.0, 7.0, 0.0, 0.0)
        model.set_pitches(3)
        assert model.set_chord(0.0, 0.0, 0.0, 0.0) == 0 and model.get_chord() == (0.0,) * 4
        model.reset()
        cleared = model(signal)
    assert float((triad - plain).abs().max()) > 1e-2
    assert float((thinned - triad).abs().max()) > 1e-2
    assert float((cleared - plain).abs().max()) == 0.0  # cleared: the sound as never set

    # a one-comb model: chord as the engine offers it, no pitches (one slot)
    checkpoint = load_checkpoint(CHECKPOINTS / "default.pt")
    one = _one_comb_model(
        log_magnitude(
            np.abs(stft(demo.mean(axis=0)[:24000].astype(np.float64), checkpoint.stft))
        ).astype(np.float32)
    )
    module = torch.jit.script(
        CaminosNN(
            codec_from(one), 1024, 256, 48000, 1, pitch_direction(one), 0.1, ["axis"] * 16
        ).eval()
    )
    assert "chord" in module.get_attributes() and "pitches" not in module.get_attributes()
    with pytest.raises(Exception, match="pitches needs a model with several pitch slots"):
        module.set_pitches(1)
    with torch.inference_mode():
        module.reset()
        plain = module(signal)
        assert module.set_chord(7.0, 0.0, 0.0, 0.0) == 0
        module.reset()
        fifth = module(signal)
        module.set_chord(0.0, 0.0, 0.0, 0.0)
        module.reset()
        cleared = module(signal)
    assert float((fifth - plain).abs().max()) > 1e-3
    assert float((cleared - plain).abs().max()) == 0.0


def test_the_texture_port_matches_the_engines(demo):
    from caminos.engine.dsp.texture import add_texture
    from caminos.models.export.texture_ts import Texture

    checkpoint = load_checkpoint(CHECKPOINTS / "default.pt")
    frames = log_magnitude(
        np.abs(stft(demo.mean(axis=0)[:48000].astype(np.float64), checkpoint.stft))
    ).astype(np.float32)
    decoded = checkpoint.model.decode_numpy(checkpoint.model.encode_numpy(frames))
    texture = torch.jit.script(Texture(1024, 48000, 1e-3))
    for amount in (0.5, 1.0):
        theirs = add_texture(decoded, frames, amount, 1024, 48000, 1e-3)
        ours = texture(
            torch.as_tensor(decoded).double(), torch.as_tensor(frames), amount, 0.0
        ).numpy()
        assert np.abs(ours - theirs).max() <= 1e-9 * max(1.0, np.abs(theirs).max())
    moved = texture.shift(torch.arange(513.0, dtype=torch.float64)[None], 12.0)[0]
    assert float(moved[100]) == 50.0 and float(moved[512]) == 256.0  # bin k reads k / 2


def test_vectorised_rtpghi_is_close_to_the_engines(demo):
    x = demo.mean(axis=0).astype(np.float64)
    checkpoint = load_checkpoint(CHECKPOINTS / "default.pt")
    config = checkpoint.stft
    magnitudes = np.abs(stft(x, config))
    engine = reconstruct(magnitudes, "rtpghi", config, PhaseConfig(), lookahead=1)
    phase = torch.jit.script(StreamingPhase(config.n_fft, config.hop, lookahead=1))
    mags = torch.as_tensor(np.concatenate([magnitudes, np.zeros((1, config.n_bins))]))[None]
    with torch.inference_mode():
        ours = phase(mags, torch.zeros(mags.shape, dtype=torch.complex128), 0)[0, 1:].numpy()
    ours_db = spectral_convergence_db(ours, magnitudes, config, length=len(x))
    engine_db = spectral_convergence_db(engine, magnitudes, config, length=len(x))
    assert ours_db <= engine_db + 0.5  # measured: -12.66 dB against -12.71 dB


def test_the_command_prints_methods_and_latency(tmp_path, capsys):
    out = tmp_path / "low.ts"
    assert main(["export", "nn", str(CHECKPOINTS / "lowlatency.pt"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "method encode: 1 in at ratio 1, 32 out at ratio 128" in printed
    assert "latency of forward: 512 samples = 10.7 ms" in printed
    assert out.is_file()
    assert main(["export", "nn", str(tmp_path / "missing.pt"), "-o", str(out)]) == 2
    assert "missing.pt" in capsys.readouterr().err
    assert (
        main(
            [
                "export",
                "nn",
                str(CHECKPOINTS / "lowlatency.pt"),
                "-o",
                str(tmp_path / "no" / "x.ts"),
            ]
        )
        == 2
    )


def test_a_model_with_context_is_refused_by_name(monkeypatch):
    from caminos.models.export import writer

    checkpoint = load_checkpoint(CHECKPOINTS / "lowlatency.pt")
    shape = checkpoint.model.shape
    monkeypatch.setattr(checkpoint.model, "shape", type(shape)(**{**shape.__dict__, "context": 2}))
    with pytest.raises(ExportError, match="2 frames of context"):
        writer.build(checkpoint)


# -- the patches ---------------------------------------------------------------------------
def _check_patch_messages(model, objects: list[str], messages: list[str], where: str) -> None:
    """Every nn~ object names a method of the model and a usable buffer; every ``set``
    message names an attribute with as many arguments as its setter takes."""
    hop = int(model.encode_params[3])
    nn_objects = [text.split() for text in objects if text.startswith("nn~ ")]
    assert {words[2] for words in nn_objects} == {"forward", "encode", "decode"}, where
    for words in nn_objects:
        buffer = int(words[3])
        assert 256 <= buffer <= 4096 and buffer % hop == 0, (where, words)
    sets = [m.replace("\\$", "$").split() for m in messages if m.startswith("set ")]
    assert sets, where
    for _, name, *args in sets:
        assert name in model.get_attributes(), (where, name)
        assert len(args) == len(getattr(model, f"{name}_params")), (where, name, args)


def test_the_pd_patch_wires_every_latent_and_names_real_attributes(exported):
    import re
    import shutil

    model = load(exported, "default")
    path = ROOT / "patches" / "pd" / "caminos-nn.pd"
    records = [r.strip() for r in re.split(r"(?<!\\);\n?", path.read_text()) if r.strip()]
    boxes = [r for r in records if r.startswith(("#X obj", "#X msg", "#X text", "#X floatatom"))]
    objects = [" ".join(r.split()[4:]) for r in boxes if r.startswith("#X obj")]
    messages = [" ".join(r.split()[4:]) for r in boxes if r.startswith("#X msg")]
    _check_patch_messages(model, objects, messages, "caminos-nn.pd")
    index = {i: " ".join(r.split()[4:]) for i, r in enumerate(boxes)}
    connects = [
        tuple(int(v) for v in r.split()[2:6]) for r in records if r.startswith("#X connect")
    ]
    decoder = next(i for i, text in index.items() if text.startswith("nn~ default.ts decode"))
    assert sorted({inlet for _, _, target, inlet in connects if target == decoder}) == list(
        range(int(model.decode_params[0]))
    )  # every latent axis reaches decode
    if shutil.which("pd"):  # Pd parses it; only nn~ itself (not installed here) is missing
        done = subprocess.run(
            ["pd", "-nogui", "-nosound", "-stderr", "-send", "pd quit", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        log = (done.stdout + done.stderr).splitlines()
        missing = [line for line, after in zip(log, log[1:]) if "couldn't create" in after]
        assert all(line.split()[1] == "nn~" for line in missing), log
        assert not [line for line in log if "connection failed" in line or "error" in line], log


def test_the_max_patch_is_valid_and_names_real_attributes(exported):
    import json

    model = load(exported, "default")
    patch = json.loads((ROOT / "patches" / "max" / "caminos-nn.maxpat").read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patch["boxes"]}
    assert len(boxes) == len(patch["boxes"])
    for line in patch["lines"]:
        (source, outlet), (target, inlet) = (
            line["patchline"]["source"],
            line["patchline"]["destination"],
        )
        assert 0 <= outlet < boxes[source]["numoutlets"], line
        assert 0 <= inlet < boxes[target]["numinlets"], line
    objects = [b["text"] for b in boxes.values() if b["maxclass"] == "newobj"]
    messages = [b["text"] for b in boxes.values() if b["maxclass"] == "message"]
    messages += [
        text.replace("prepend ", "") + " $1" for text in objects if text.startswith("prepend set ")
    ]
    _check_patch_messages(model, objects, messages, "caminos-nn.maxpat")
    decoder = next(
        i for i, b in boxes.items() if b.get("text", "").startswith("nn~ default.ts decode")
    )
    inlets = sorted(
        {
            line["patchline"]["destination"][1]
            for line in patch["lines"]
            if line["patchline"]["destination"][0] == decoder
        }
    )
    assert inlets == list(range(int(model.decode_params[0])))


def test_the_streams_state_does_not_grow(exported):
    model = load(exported, "lowlatency")
    block = torch.randn(2, 1, 512) * 0.1
    with torch.inference_mode():
        model(block)
        model.decode(model.encode(block))
        sizes = {name: tuple(b.shape) for name, b in model.named_buffers()}
        for _ in range(50):
            model(block)
            model.decode(model.encode(block))
    assert {name: tuple(b.shape) for name, b in model.named_buffers()} == sizes


def test_calls_in_and_out_of_inference_mode_and_batch_changes(exported):
    model = load(exported, "default")  # nn~ runs methods in inference mode, setters outside
    block = torch.randn(1, 1, 1024) * 0.1
    with torch.inference_mode():
        model(block)
        model.decode(model.encode(block))
    assert model.set_pitch(3.0) == 0 and model.set_phase("random") == 0
    model.reset()
    assert model(block).shape == (1, 1, 1024)
    with torch.inference_mode():
        assert model(torch.randn(4, 1, 4096)).shape == (4, 1, 4096)  # mc.nn~ with 4 voices
        assert model.decode(torch.zeros(2, 32, 1)).shape == (2, 1, 256)
