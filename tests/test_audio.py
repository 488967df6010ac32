"""Live audio pieces that need no audio server: rings, device choice, errors, schedule, log."""

from __future__ import annotations

import builtins
import logging
import types
from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caminos.engine.clock.engine import Engine
from caminos.engine.core.config import load_config
from caminos.engine.core.errors import AudioDeviceError
from caminos.engine.core.ring import SharedCounters, SharedRing
from caminos.engine.live import devices as audio
from caminos.engine.live.devices import choose_devices, import_sounddevice
from caminos.engine.live.schedule import Schedule, installation_logger


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 700)), max_size=40))
def test_ring_matches_a_plain_queue(operations) -> None:
    ring = SharedRing(1000, 2)
    model: list[float] = []
    counter = 0.0
    try:
        for is_write, n in operations:
            if is_write:
                block = (counter + np.arange(n, dtype=np.float32))[:, None].repeat(2, axis=1)
                wrote = ring.write(block)
                assert wrote == min(n, 1000 - len(model))
                model.extend(block[:wrote, 0].tolist())
                counter += n
            else:
                out = np.full((n, 2), -1.0, dtype=np.float32)
                got = ring.read_into(out)
                assert got == min(n, len(model))
                assert out[:got, 0].tolist() == model[:got]
                assert np.array_equal(out[:got, 0], out[:got, 1])
                del model[:got]
            assert ring.available() == len(model) and ring.free() == 1000 - len(model)
    finally:
        ring.close()


def test_ring_and_counters_are_shared_by_name() -> None:
    ring = SharedRing(64, 1)
    other = SharedRing(64, 1, ring.name)
    counters = SharedCounters(("a", "b"))
    seen = SharedCounters(("a", "b"), counters.name)
    try:
        ring.write(np.arange(10, dtype=np.float32)[:, None])
        out = np.zeros((10, 1), dtype=np.float32)
        assert other.read_into(out) == 10 and out[9, 0] == 9.0
        assert ring.available() == 0
        counters["b"] = 3.5
        assert seen["b"] == 3.5 and seen.as_dict() == {"a": 0.0, "b": 3.5}
    finally:
        other.close()
        ring.close()
        seen.close()
        counters.close()


def test_missing_portaudio_names_the_package_and_the_offline_commands(monkeypatch) -> None:
    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing_import)
    with pytest.raises(AudioDeviceError, match="libportaudio2.*caminos render"):
        import_sounddevice()


def _fake_sounddevice(devices, apis):
    module = types.SimpleNamespace()
    module.query_devices = lambda index=None: devices if index is None else devices[index]
    module.query_hostapis = lambda: apis
    return module


def test_no_output_device_lists_what_was_found(monkeypatch, config) -> None:
    apis = [
        {"name": "ALSA", "devices": [0], "default_input_device": 0, "default_output_device": -1}
    ]
    devices = [
        {
            "name": "USB mic",
            "hostapi": 0,
            "max_input_channels": 1,
            "max_output_channels": 0,
            "default_samplerate": 48000.0,
        }
    ]
    monkeypatch.setattr(audio, "import_sounddevice", lambda: _fake_sounddevice(devices, apis))
    with pytest.raises(AudioDeviceError) as info:
        choose_devices(config)
    message = str(info.value)
    assert "no output device found" in message and "USB mic (1 in, 0 out" in message
    assert "caminos render" in message


def test_devices_are_chosen_by_name_api_and_channels(monkeypatch, config) -> None:
    apis = [
        {"name": "ALSA", "devices": [0], "default_input_device": -1, "default_output_device": -1},
        {
            "name": "JACK Audio Connection Kit",
            "devices": [1],
            "default_input_device": 1,
            "default_output_device": 1,
        },
    ]
    devices = [
        {
            "name": "hw:0",
            "hostapi": 0,
            "max_input_channels": 0,
            "max_output_channels": 8,
            "default_samplerate": 48000.0,
        },
        {
            "name": "system",
            "hostapi": 1,
            "max_input_channels": 2,
            "max_output_channels": 2,
            "default_samplerate": 48000.0,
        },
    ]
    monkeypatch.setattr(audio, "import_sounddevice", lambda: _fake_sounddevice(devices, apis))
    jack = choose_devices(
        replace(config, audio=replace(config.audio, host_api="jack", channels=2, input_channels=4))
    )
    assert (jack.output, jack.input, jack.output_channels, jack.input_channels) == (1, 1, 2, 2)
    named = choose_devices(
        replace(
            config, audio=replace(config.audio, output_device="hw", input_device="none", channels=8)
        )
    )
    assert named.output == 0 and named.input is None and named.input_channels == 0
    assert named.output_channels == 8 and named.description == "out: hw:0 (8 ch)"
    with pytest.raises(AudioDeviceError, match="no input device 'mic'"):
        choose_devices(replace(config, audio=replace(config.audio, input_device="mic")))


def test_more_channels_than_the_output_device_has_are_refused(monkeypatch, config) -> None:
    apis = [
        {"name": "ALSA", "devices": [0], "default_input_device": -1, "default_output_device": 0}
    ]
    devices = [
        {
            "name": "dummy",
            "hostapi": 0,
            "max_input_channels": 0,
            "max_output_channels": 2,
            "default_samplerate": 48000.0,
        }
    ]
    monkeypatch.setattr(audio, "import_sounddevice", lambda: _fake_sounddevice(devices, apis))
    with pytest.raises(AudioDeviceError) as info:
        choose_devices(replace(config, audio=replace(config.audio, channels=8)))
    assert str(info.value) == (
        "audio.channels = 8 but output device 'dummy' has 2 output "
        "channels; set audio.channels to 2 or choose another device "
        "(caminos devices)"
    )
    assert choose_devices(replace(config, audio=replace(config.audio, channels=2))).output == 0


def test_devices_are_listed_with_their_channel_counts(monkeypatch) -> None:
    apis = [
        {"name": "ALSA", "devices": [0, 1], "default_input_device": 1, "default_output_device": 0},
        {
            "name": "JACK Audio Connection Kit",
            "devices": [],
            "default_input_device": -1,
            "default_output_device": -1,
        },
    ]
    devices = [
        {
            "name": "MADI",
            "hostapi": 0,
            "max_input_channels": 64,
            "max_output_channels": 64,
            "default_samplerate": 48000.0,
        },
        {
            "name": "USB mic",
            "hostapi": 0,
            "max_input_channels": 1,
            "max_output_channels": 0,
            "default_samplerate": 44100.0,
        },
    ]
    monkeypatch.setattr(audio, "import_sounddevice", lambda: _fake_sounddevice(devices, apis))
    assert audio.describe_devices().splitlines() == [
        "host API 0: ALSA",
        "  0: MADI (64 in, 64 out, 48000 Hz) [default out]",
        "  1: USB mic (1 in, 0 out, 44100 Hz) [default in]",
        "host API 1: JACK Audio Connection Kit",
        "  (no devices)",
    ]


def test_schedule_covers_windows_over_midnight() -> None:
    day = Schedule("09:30", "18:00")
    assert day.on(datetime(2026, 1, 1, 9, 30)) and not day.on(datetime(2026, 1, 1, 18, 0))
    night = Schedule("22:00", "02:00")
    assert night.on(datetime(2026, 1, 1, 23, 0)) and night.on(datetime(2026, 1, 1, 1, 59))
    assert not night.on(datetime(2026, 1, 1, 12, 0))


def test_schedule_times_are_validated() -> None:
    from caminos.engine.core.errors import ConfigError

    with pytest.raises(ConfigError, match="engine.start_time: expected a time HH:MM"):
        load_config(overrides={"engine.start_time": "25:00", "engine.stop_time": "02:00"})
    with pytest.raises(ConfigError, match="give both or neither"):
        load_config(overrides={"engine.start_time": "10:00"})


def test_installation_log_stays_bounded(tmp_path) -> None:
    config = load_config(
        overrides={"engine.log_file": str(tmp_path / "caminos.log"), "engine.log_max_bytes": 10_000}
    )
    log = installation_logger(config)
    for i in range(2000):
        log.info("status line %d with some text to fill the file", i)
    for handler in log.handlers:
        handler.flush()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["caminos.log", "caminos.log.1"]
    assert all((tmp_path / name).stat().st_size <= 10_100 for name in files)
    logging.getLogger("caminos.installation").handlers.clear()


def test_frame_model_plays_at_another_hop() -> None:
    """The default model (trained at hop 256, one frame at a time) loads at hop 128."""
    engine = Engine(load_config(overrides={"stft.hop": 128}))
    assert engine.hop == 128 and engine.checkpoint.stft.hop == 256
    assert engine.tick().shape == (128, 2)


def test_play_without_a_device_says_what_was_found_and_exits_2(capsys) -> None:
    from caminos.engine.cli.main import main

    code = main(["play", "--seconds", "1", "--set", "audio.host_api=no-such-host-api"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no output device on host API 'no-such-host-api' found" in err
    assert "PortAudio found:" in err and "caminos render" in err


def test_systemd_unit_starts_installation_mode() -> None:
    """The shipped unit's command line is one caminos accepts, in installation mode."""
    import configparser
    import shlex
    from pathlib import Path

    from caminos.engine.cli.main import build_parser

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(Path(__file__).resolve().parent.parent / "scripts" / "caminos-installation.service")
    command = shlex.split(unit["Service"]["ExecStart"])
    assert command[0].endswith("/caminos") and unit["Service"]["Restart"] == "always"
    args = build_parser().parse_args(command[1:])
    assert args.command == "play" and args.installation
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_low_latency_profile_plays_its_own_model_and_the_espeak_voice() -> None:
    """patches/configs/low-latency.toml: 512-point frames, its checkpoint, no look-ahead."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    config = load_config(root / "patches" / "configs" / "low-latency.toml")
    engine = Engine(config)
    try:
        assert engine.checkpoint.stft.n_fft == 512 and engine.voice_error == ""
        latency = engine.latency
        assert latency.ms(latency.input_to_output) == pytest.approx(1000 * (384 + 72) / 48000)
        engine.post("/source/file/open", str(root / "patches" / "demo" / "demo.wav"))
        engine.post("/source/file/play", 1)
        out = np.concatenate([engine.tick().copy() for _ in range(200)])
        assert out.shape == (200 * 128, 2) and np.isfinite(out).all()
        assert np.abs(out).max() > 0.01
    finally:
        engine.close()
