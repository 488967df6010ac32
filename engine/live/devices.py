"""Audio devices: PortAudio through sounddevice, found by name and host API.

The only module that imports sounddevice (:func:`import_sounddevice`), so offline work runs
without PortAudio; a missing library or device raises
:class:`~caminos.engine.core.errors.AudioDeviceError` listing what was found and pointing to
``caminos render``. ``caminos devices`` prints :func:`describe_devices`.
"""

from __future__ import annotations

from dataclasses import dataclass

from caminos.engine.core.config import Config
from caminos.engine.core.errors import AudioDeviceError


def import_sounddevice():
    """Import sounddevice, or explain why live audio is unavailable.

    Raises
    ------
    AudioDeviceError
        The PortAudio library is missing (sounddevice raises ``OSError`` on import then).
    """
    try:
        import sounddevice
    except OSError as exc:
        raise AudioDeviceError(
            f"live audio needs the PortAudio library, which was not found ({exc}). Install it "
            "(Debian: apt-get install libportaudio2). Offline work needs no audio device: "
            "caminos render, reconstruct, morph, train."
        ) from None
    return sounddevice


def describe_devices() -> str:
    """Every host API and device PortAudio finds, for ``caminos devices`` and error messages.

    One line per device: its index, name, most input and output channels and default sample
    rate, as ``3: Fireface UCX (18 in, 18 out, 48000 Hz) [default out]``; ``audio.channels``
    may be at most the output device's ``out``.
    """
    sd = import_sounddevice()
    lines = []
    for api_index, api in enumerate(sd.query_hostapis()):
        lines.append(f"host API {api_index}: {api['name']}")
        for index in api["devices"]:
            dev = sd.query_devices(index)
            marks = []
            if index == api["default_output_device"]:
                marks.append("default out")
            if index == api["default_input_device"]:
                marks.append("default in")
            lines.append(
                f"  {index}: {dev['name']} ({dev['max_input_channels']} in, "
                f"{dev['max_output_channels']} out, {dev['default_samplerate']:.0f} Hz)"
                + (f" [{', '.join(marks)}]" if marks else "")
            )
        if not api["devices"]:
            lines.append("  (no devices)")
    return "\n".join(lines)


def _find_device(sd, wanted: str, host_api: str, kind: str) -> int | None:
    """Index of the device named (or numbered) ``wanted``; the host's default when empty."""
    key = "max_output_channels" if kind == "output" else "max_input_channels"
    devices = sd.query_devices()
    apis = sd.query_hostapis()
    candidates = [
        i
        for i, d in enumerate(devices)
        if d[key] > 0 and (not host_api or host_api.lower() in apis[d["hostapi"]]["name"].lower())
    ]
    if wanted.strip().isdigit():
        index = int(wanted)
        return index if index in candidates else None
    if wanted:
        named = [i for i in candidates if wanted.lower() in devices[i]["name"].lower()]
        return named[0] if named else None
    for api in apis:  # a host default among the candidates, the chosen API's first
        if host_api and host_api.lower() not in api["name"].lower():
            continue
        default = api[f"default_{kind}_device"]
        if default in candidates:
            return default
    return candidates[0] if candidates else None


@dataclass
class DeviceChoice:
    """The devices and channel counts a stream opens with."""

    output: int
    input: int | None
    output_channels: int
    input_channels: int
    description: str


def choose_devices(config: Config) -> DeviceChoice:
    """Resolve ``[audio]`` device settings against what PortAudio finds.

    The stream opens with exactly ``audio.channels`` output channels, one per speaker: an
    output device with fewer is refused rather than silently dropping speakers. Input
    channels are capped at what the input device has (they are mixed to mono for the live
    input, so fewer only means fewer microphones).

    Raises
    ------
    AudioDeviceError
        No output device (or not the one named), or one with fewer output channels than
        ``audio.channels``: the message lists what was found, or names both numbers.
    """
    sd = import_sounddevice()
    audio = config.audio
    output = _find_device(sd, audio.output_device, audio.host_api, "output")
    if output is None:
        wanted = (
            f"output device {audio.output_device!r}" if audio.output_device else "output device"
        )
        api = f" on host API {audio.host_api!r}" if audio.host_api else ""
        raise AudioDeviceError(
            f"no {wanted}{api} found (audio.output_device, audio.host_api). "
            f"PortAudio found:\n{describe_devices()}\nWithout a device, "
            "render offline: caminos render IN -o OUT.wav"
        )
    input_index = None
    input_channels = 0
    if audio.input_channels > 0 and audio.input_device.lower() != "none":
        input_index = _find_device(sd, audio.input_device, audio.host_api, "input")
        if input_index is None and audio.input_device:
            raise AudioDeviceError(
                f"no input device {audio.input_device!r} found "
                f"(audio.input_device); PortAudio found:\n"
                f'{describe_devices()}\nUse input_device = "none" to play '
                "without live input."
            )
        if input_index is not None:
            input_channels = min(
                audio.input_channels, int(sd.query_devices(input_index)["max_input_channels"])
            )
    out_dev = sd.query_devices(output)
    available = int(out_dev["max_output_channels"])
    if audio.channels > available:
        raise AudioDeviceError(
            f"audio.channels = {audio.channels} but output device "
            f"{out_dev['name']!r} has {available} output channels; set "
            f"audio.channels to {available} or choose another device "
            "(caminos devices)"
        )
    output_channels = audio.channels
    text = f"out: {out_dev['name']} ({output_channels} ch)"
    if input_index is not None and input_channels:
        text += f", in: {sd.query_devices(input_index)['name']} ({input_channels} ch)"
    else:
        input_index = None
    return DeviceChoice(output, input_index, output_channels, input_channels, text)
