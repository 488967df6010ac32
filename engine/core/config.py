"""Configuration: ``config.toml`` into frozen, typed, validated dataclasses.

Every tunable of the engine lives in one TOML file with one section per subsystem. Loading
rejects unknown keys, wrong types and out-of-range values with a message that names the file,
the key and what was expected, so a typo never silently falls back to a default. Command-line
flags override single keys through :func:`apply_overrides` (``section.key=value``).

Why this file is longer than 500 lines: every section of config.toml as a typed dataclass with its
range and documentation next to its default: one place to read what a key means.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from caminos.engine.core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # engine/core/config.py -> the checkout
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config.toml"


def _key(
    default: Any,
    doc: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[Any, ...] | None = None,
) -> Any:
    """A config key: its default, one line of documentation, and its allowed range or choices."""
    return field(default=default, metadata={"doc": doc, "lo": lo, "hi": hi, "choices": choices})


# The phase-recovery methods, the one list of their names (engine/dsp/phase builds them):
# streaming ones run frame by frame (live and offline), offline ones need the whole spectrogram.
STREAMING_PHASE_METHODS = (
    "rtpghi",
    "rtisi-la",
    "gsrtisi-la",
    "rtpghi+gsrtisi",
    "pv",
    "input",
    "random",
)
OFFLINE_PHASE_METHODS = ("pghi", "fgla")
PHASE_METHODS = STREAMING_PHASE_METHODS + OFFLINE_PHASE_METHODS
WINDOWS = ("hann",)
MAX_CHANNELS = 64  # output channels, and speakers of a layout


@dataclass(frozen=True)
class AudioConfig:
    """Sample rate shared by every part of the engine."""

    sample_rate: int = _key(48000, "sample rate in Hz", lo=8000, hi=192000)
    output_device: str = _key(
        "",
        "output device: a name (or part of one) or an index from "
        "`caminos devices`; empty for the system default",
    )
    input_device: str = _key("", 'input device, as output_device; "none" for no live input')
    host_api: str = _key("", "PortAudio host API (JACK, ALSA, ...); empty for any")
    channels: int = _key(
        2, "output channels: one voice per channel, placed by [field]", lo=1, hi=MAX_CHANNELS
    )
    input_channels: int = _key(
        1,
        "input channels, mixed to mono for the live input source (0 = no live input)",
        lo=0,
        hi=64,
    )
    block_size: int = _key(256, "frames per audio callback; 0 lets the host choose", lo=0, hi=8192)
    buffer_hops: int = _key(
        2,
        "hops the DSP worker computes ahead of the device (latency vs safety against xruns)",
        lo=1,
        hi=64,
    )


@dataclass(frozen=True)
class StftConfig:
    """Short-time Fourier transform settings, shared by analysis, models and synthesis."""

    n_fft: int = _key(
        1024, "FFT size and window length in samples (a power of two)", lo=64, hi=16384
    )
    hop: int = _key(256, "hop size in samples; n_fft / hop is the redundancy", lo=16, hi=8192)
    window: str = _key("hann", "analysis window (periodic)", choices=WINDOWS)

    def __post_init__(self) -> None:
        if self.n_fft & (self.n_fft - 1):
            raise ConfigError(f"stft.n_fft: expected a power of two, got {self.n_fft}")
        if self.n_fft % self.hop or self.n_fft // self.hop < 2:
            raise ConfigError(
                f"stft.hop: expected a divisor of n_fft={self.n_fft} giving a redundancy of at "
                f"least 2, got {self.hop}"
            )

    @property
    def n_bins(self) -> int:
        """Number of non-negative frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def redundancy(self) -> int:
        """Window overlap factor ``n_fft // hop``."""
        return self.n_fft // self.hop


@dataclass(frozen=True)
class PhaseConfig:
    """Phase recovery: which method turns magnitude frames back into complex frames."""

    method: str = _key("rtpghi+gsrtisi", "phase recovery method", choices=PHASE_METHODS)
    lookahead: int = _key(
        2, "look-ahead in frames for the streaming methods that take one", lo=0, hi=8
    )
    iterations: int = _key(
        16, "iterations per frame (rtisi-la, gsrtisi-la, rtpghi+gsrtisi)", lo=1, hi=200
    )
    offline_iterations: int = _key(100, "iterations of the offline fgla method", lo=1, hi=10000)
    tolerance_db: float = _key(
        -100.0,
        "RTPGHI: bins this far below the loudest get random phase, in dB",
        lo=-200.0,
        hi=-20.0,
    )
    seed: int = _key(
        0, "seed of the random phases (random method and RTPGHI's quiet bins)", lo=0, hi=2**31 - 1
    )


PROGRESS_MIN_SECONDS = 5.0  # renders of shorter output show no progress bar (render.progress)


def progress_disable(render: "RenderConfig", seconds: float, progress: bool | None) -> bool | None:
    """tqdm's ``disable`` for a render of ``seconds`` of sound: ``progress`` True shows a bar,
    False none; None shows one on a terminal only (tqdm's None) when ``render.progress`` is set
    and the render lasts :data:`PROGRESS_MIN_SECONDS` or more."""
    if progress is not None:
        return not progress
    return None if render.progress and seconds >= PROGRESS_MIN_SECONDS else True


@dataclass(frozen=True)
class RenderConfig:
    """Offline rendering to a sound file."""

    subtype: str = _key(
        "PCM_24", "sample format of rendered files", choices=("PCM_16", "PCM_24", "FLOAT")
    )
    ceiling_db: float = _key(-0.3, "safety limiter ceiling in dBFS", lo=-24.0, hi=0.0)
    limiter_release_ms: float = _key(
        80.0, "safety limiter release time in milliseconds", lo=1.0, hi=2000.0
    )
    progress: bool = _key(True, "show a progress bar on long renders")


@dataclass(frozen=True)
class ModelConfig:
    """The spectral autoencoder the commands and the engine load."""

    checkpoint: str = _key(
        "models/checkpoints/default.pt",
        "autoencoder checkpoint; a relative path is taken from the project root",
    )
    texture: float = _key(
        1.0,
        "how much a source's spectral grain (each bin's level beyond its "
        "envelope) replaces the decoded sound's, in reconstruct and in the "
        "engine (/latent/texture); 0 = the model alone",
        lo=0.0,
        hi=1.0,
    )

    def checkpoint_path(self) -> Path:
        """:attr:`checkpoint` as an absolute path (relative ones from the project root)."""
        path = Path(self.checkpoint).expanduser()
        return path if path.is_absolute() else DEFAULT_CONFIG_PATH.parent / path


@dataclass(frozen=True)
class EngineConfig:
    """The hop-clocked engine: live phase recovery, smoothing, sources, installation mode."""

    phase_method: str = _key(
        "gsrtisi-la",
        "live phase recovery (the engine's; [phase] is for `caminos render`)",
        choices=STREAMING_PHASE_METHODS,
    )
    lookahead: int = _key(
        1, "live phase look-ahead in frames; each adds one hop of latency", lo=0, hi=8
    )
    iterations: int = _key(
        16, "live iterations per frame (rtisi-la, gsrtisi-la, rtpghi+gsrtisi)", lo=1, hi=200
    )
    phase_threads: int = _key(
        1,
        "threads that share a field's voices' phase recovery (1: the hop's own; more where "
        "cores are free: the same samples)",
        lo=1,
        hi=64,
    )
    smoothing_ms: float = _key(
        20.0, "time constant of parameter smoothing in milliseconds", lo=0.0, hi=10000.0
    )
    crossfade_ms: float = _key(
        50.0, "crossfade when the phase method changes, in milliseconds", lo=0.0, hi=2000.0
    )
    overload_phase: str = _key(
        "pv",
        "live: the cheaper phase recovery played while the hop clock runs late, after "
        'overload_iterations ("": never)',
        choices=(*STREAMING_PHASE_METHODS, ""),
    )
    overload_iterations: int = _key(
        4,
        "live: while the hop clock runs late, the RTISI family's iterations are halved step "
        "by step down to this many before overload_phase plays (0: no such steps)",
        lo=0,
        hi=200,
    )
    overload_retry_s: float = _key(
        60.0, "live: seconds on a step down before the step above is tried again", lo=1.0, hi=3600.0
    )
    gain_db: float = _key(0.0, "output gain in dB before the limiter", lo=-96.0, hi=24.0)
    file: str = _key("", "sound file the file player opens at start (empty: none)")
    loop: bool = _key(True, "the file player loops")
    seed: int = _key(0, "seed of latent noise and random phases", lo=0, hi=2**31 - 1)
    installation: bool = _key(
        False,
        "installation mode: unattended, restarts the stream when "
        "the device fails, logs to log_file",
    )
    log_file: str = _key("caminos.log", "installation mode's log file (relative: project root)")
    log_max_bytes: int = _key(
        1_000_000, "size at which the log rotates (two files kept)", lo=10_000, hi=1_000_000_000
    )
    status_every: float = _key(
        60.0, "installation: seconds between status lines in the log (0: none)", lo=0.0, hi=86400.0
    )
    start_time: str = _key("", "installation: daily start time HH:MM (empty: always on)")
    stop_time: str = _key("", "installation: daily stop time HH:MM (empty: always on)")

    def __post_init__(self) -> None:
        for name in ("start_time", "stop_time"):
            text = getattr(self, name)
            if text and not _is_clock_time(text):
                raise ConfigError(f"engine.{name}: expected a time HH:MM (24 h), got {text!r}")
        if bool(self.start_time) != bool(self.stop_time):
            raise ConfigError("engine.start_time and engine.stop_time: give both or neither")


@dataclass(frozen=True)
class OscConfig:
    """The OSC server: where it listens, where it replies, whom it accepts."""

    host: str = _key(
        "127.0.0.1",
        'address the OSC server binds; "0.0.0.0" listens on every interface (then set allow)',
    )
    port: int = _key(9000, "UDP port the OSC server listens on (0: any free port)", lo=0, hi=65535)
    reply_port: int = _key(
        0,
        "UDP port replies go to on the sender's host; 0 = the port the message came from",
        lo=0,
        hi=65535,
    )
    allow: str = _key("", "client IP addresses allowed to send, comma-separated; empty allows any")

    @property
    def allowed(self) -> frozenset[str]:
        """:attr:`allow` as a set of addresses; empty when every client is allowed."""
        return frozenset(a.strip() for a in self.allow.split(",") if a.strip())


@dataclass(frozen=True)
class WebConfig:
    """The control page (``caminos play --web``): where its HTTP and WebSocket server listens."""

    enabled: bool = _key(False, "serve the control page with caminos play (as --web does)")
    host: str = _key(
        "127.0.0.1",
        "address the page's server binds; any other than a loopback "
        "address requires the token printed at start",
    )
    port: int = _key(
        8080, "TCP port of the page and its WebSocket (0: any free port)", lo=0, hi=65535
    )
    token: str = _key(
        "",
        "the token a page must present when the server is not on loopback; "
        "empty: a new random one at each start",
    )

    @property
    def loopback(self) -> bool:
        """Whether :attr:`host` is a loopback address (no token needed there)."""
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")


MIDI_APIS = ("", "jack", "alsa")


@dataclass(frozen=True)
class MidiConfig:
    """MIDI input (``docs/midi.md``): which port the control process listens to, through which
    MIDI system; what each control does is learnt (``/midi/learn``) and kept in the patches
    folder's ``midi.json``."""

    input: str = _key(
        "",
        "MIDI input port: its name, part of it, or its number in the list "
        "`python -m caminos.engine.control.midi` prints; empty: no MIDI",
    )
    api: str = _key(
        "",
        'MIDI system: "jack" (JACK MIDI), "alsa" (the ALSA sequencer), or '
        "empty for rtmidi's default (ALSA where there is one)",
        choices=MIDI_APIS,
    )


def _is_clock_time(text: str) -> bool:
    hours, sep, minutes = text.partition(":")
    return (
        sep == ":"
        and hours.isdigit()
        and minutes.isdigit()
        and len(minutes) == 2
        and 0 <= int(hours) < 24
        and 0 <= int(minutes) < 60
    )


def is_checkout(root: Path = PROJECT_ROOT) -> bool:
    """Whether caminos runs from its source tree (a clone, or an editable install of one) rather
    than from an installed package, whose folder may be read-only (site-packages)."""
    return (root / "pyproject.toml").is_file() and (root / "engine").is_dir()


def shipped_file(path: str | os.PathLike) -> Path:
    """``path`` as given when it exists (relative ones from the working directory); otherwise,
    for a relative path, the same path under :data:`PROJECT_ROOT` when a file is there: the
    checkout, or the installed package, which ships ``patches/`` and ``models/`` as data. So
    ``patches/demo/demo.wav`` in the demo score plays from any folder."""
    given = Path(path).expanduser()
    if given.exists() or given.is_absolute():
        return given
    shipped = PROJECT_ROOT / given
    return shipped if shipped.is_file() else given


def user_data_folder() -> Path:
    """``$XDG_DATA_HOME/caminos``, or ``~/.local/share/caminos``."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "caminos"


def user_cache_folder() -> Path:
    """``$XDG_CACHE_HOME/caminos``, or ``~/.cache/caminos``: what caminos computes again when
    it is gone (frames of a training folder, a model's numbers for the hop clock)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "caminos"


@dataclass(frozen=True)
class PathsConfig:
    """Where caminos writes what a performance makes: paths, landmarks, scenes, recordings."""

    patches: str = _key(
        "",
        "folder of paths/ and scenes/ (/path/save, /scene/save ... and "
        "their loading; the shipped examples are found too); empty: the "
        "checkout's patches/ when run from one, else the user's data folder; "
        "relative paths from the working directory",
    )
    recordings: str = _key(
        "",
        "folder /engine/record writes NAME.wav and NAME.score to; empty: "
        "the checkout's recordings/ when run from one, else the user's data "
        "folder; relative paths from the working directory",
    )

    def folder(self, name: str, root: Path = PROJECT_ROOT) -> Path:
        """The folder of ``patches`` or ``recordings`` as an absolute path."""
        value = getattr(self, name)
        if value:
            return Path(value).expanduser().absolute()
        if is_checkout(root):
            return root / name
        return user_data_folder() / name


@dataclass(frozen=True)
class FieldConfig:
    """The field of voices: one voice per output channel, each at the latent map's centre plus
    its speaker's offset on the map's current plane (``caminos.engine.core.layouts``).

    The layout's speaker count is the whole room. ``first_channel`` and ``voices`` pick the
    speakers this caminos renders, so that several machines can share one room: with
    ``voices = 0`` it renders every speaker from ``first_channel`` to the layout's last; with
    ``voices > 0`` it renders speakers ``first_channel .. first_channel + voices - 1``, and
    ``audio.channels`` must equal ``voices``.
    """

    layout: str = _key(
        "",
        "speaker layout: mono, stereo, quad, ring-N, line-N, or a layout "
        "file (NAME or path of NAME.toml, looked up in the patches folder's "
        "layouts/ and the shipped patches/layouts/); empty: the default for "
        "audio.channels (mono for 1, stereo for 2, quad for 4, else ring-N)",
    )
    spread: float = _key(
        0.5,
        "distance of the farthest speaker's voice from the field's centre, "
        "in latent standard deviations (0: every voice at the centre)",
        lo=0.0,
        hi=8.0,
    )
    rotate: float = _key(
        0.0, "rotation of the layout on the map, in degrees counter-clockwise", lo=-360.0, hi=360.0
    )
    spin: float = _key(
        0.0,
        "continuous rotation of the layout, in degrees per second (positive: counter-clockwise)",
        lo=-360.0,
        hi=360.0,
    )
    wander: float = _key(
        0.0,
        "how far each voice drifts on its own around its speaker's place, "
        "in latent standard deviations",
        lo=0.0,
        hi=4.0,
    )
    decorrelate: float = _key(
        0.0,
        "each voice's own slow phase walk per bin, so voices at the "
        "same place still differ: 0 identical (dual mono), 1 adjacent "
        "speakers' coherence about 0.3",
        lo=0.0,
        hi=1.0,
    )
    keep_level: float = _key(
        1.0,
        "how much each voice keeps the centre's loudness: its place "
        "changes its timbre, the model's level channel read back and "
        "undone (0: places change the level too)",
        lo=0.0,
        hi=1.0,
    )
    image: float = _key(
        1.0,
        "how much a multichannel source keeps its image through the model: "
        "each channel's envelope error that the others do not share is removed "
        "(0: the model alone per channel)",
        lo=0.0,
        hi=1.0,
    )
    first_channel: int = _key(
        1,
        "the layout's speaker this caminos renders on its first output "
        "channel (channel groups across machines)",
        lo=1,
        hi=MAX_CHANNELS,
    )
    voices: int = _key(
        0,
        "how many of the layout's speakers this caminos renders, from "
        "first_channel; must equal audio.channels (0: every speaker from "
        "first_channel to the layout's last)",
        lo=0,
        hi=MAX_CHANNELS,
    )

    def __post_init__(self) -> None:
        last = self.first_channel + self.voices - 1
        if self.voices and last > MAX_CHANNELS:
            raise ConfigError(
                f"field.first_channel + field.voices - 1: expected at most {MAX_CHANNELS} "
                f"(the most speakers a layout has), got {self.first_channel} + {self.voices} "
                f"- 1 = {last}"
            )


VOICE_ENGINES = ("neural", "espeak")
VOICE_LANGUAGES = ("es", "en", "fr", "de", "it", "pt", "ca", "nl")


@dataclass(frozen=True)
class VoiceConfig:
    """The voice source: which engine speaks, its model, and the prosody and babble it starts
    with."""

    engine: str = _key(
        "neural",
        "neural (the trained acoustic model) or espeak (espeak-ng audio "
        "analysed into frames; needs no model)",
        choices=VOICE_ENGINES,
    )
    checkpoint: str = _key(
        "models/checkpoints/voice.pt",
        "voice checkpoint; a relative path is taken from the project root",
    )
    language: str = _key("es", "language of say and babble", choices=VOICE_LANGUAGES)
    pitch: float = _key(0.0, "base pitch in semitones relative to 110 Hz (A2)", lo=-24.0, hi=36.0)
    range: float = _key(
        4.0, "intonation range in semitones (0: monotone, exactly the pitch)", lo=0.0, hi=24.0
    )
    rate: float = _key(1.0, "speaking rate, 1 the model's own; 2 twice as fast", lo=0.25, hi=4.0)
    vibrato: float = _key(0.0, "vibrato depth in semitones (5.5 Hz)", lo=0.0, hi=3.0)
    jitter: float = _key(0.0, "random pitch wander in semitones", lo=0.0, hi=3.0)
    breathiness: float = _key(0.0, "0 as modelled .. 1 whispered", lo=0.0, hi=1.0)
    formant: float = _key(
        0.0, "formant shift in semitones (negative: larger, darker voice)", lo=-12.0, hi=12.0
    )
    style: int = _key(
        0,
        "voice style (espeak-ng variant the model learnt: 0 default, 1-7 male, 8-11 female)",
        lo=0,
        hi=11,
    )
    temperature: float = _key(
        1.0, "babble: sharper (< 1) or wilder (> 1) phoneme choices", lo=0.05, hi=5.0
    )
    likeness: float = _key(
        0.8,
        "babble: 0 phoneme noise .. 0.9 the language's phonotactics .. 1 real words",
        lo=0.0,
        hi=1.0,
    )
    word_length: float = _key(1.0, "babble: scale of the mean word length", lo=0.25, hi=4.0)

    def checkpoint_path(self) -> Path:
        """:attr:`checkpoint` as an absolute path (relative ones from the project root)."""
        path = Path(self.checkpoint).expanduser()
        return path if path.is_absolute() else DEFAULT_CONFIG_PATH.parent / path


@dataclass(frozen=True)
class Config:
    """The whole configuration, one attribute per ``config.toml`` section."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    stft: StftConfig = field(default_factory=StftConfig)
    phase: PhaseConfig = field(default_factory=PhaseConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    osc: OscConfig = field(default_factory=OscConfig)
    web: WebConfig = field(default_factory=WebConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    midi: MidiConfig = field(default_factory=MidiConfig)
    # Last: from this line on, ``field`` in this class body names the attribute, not the function.
    field: FieldConfig = field(default_factory=FieldConfig)

    def __post_init__(self) -> None:
        if self.field.voices and self.field.voices != self.audio.channels:
            raise ConfigError(
                f"field.voices = {self.field.voices} but audio.channels = "
                f"{self.audio.channels}: a caminos rendering part of a layout has one output "
                f"channel per voice (set both alike, or field.voices = 0)"
            )


SECTIONS: dict[str, type] = {f.name: f.default_factory for f in dataclasses.fields(Config)}  # type: ignore[misc]


def _check_value(section: str, spec: dataclasses.Field, value: Any, where: str) -> Any:
    """Check one value against its field's type, range and choices; return it converted."""
    name = f"{section}.{spec.name}"
    kind = type(spec.default)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {name}: expected true or false, got {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: {name}: expected an integer, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: {name}: expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {name}: expected a finite number, got {value!r}")
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {name}: expected a string, got {value!r}")
    meta = spec.metadata
    if meta.get("choices") is not None and value not in meta["choices"]:
        options = ", ".join(repr(c) for c in meta["choices"])
        raise ConfigError(f"{where}: {name}: expected one of {options}, got {value!r}")
    lo, hi = meta.get("lo"), meta.get("hi")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{where}: {name}: expected a value in [{lo}, {hi}], got {value!r}")
    return value


def _build_section(section: str, values: Mapping[str, Any], where: str) -> Any:
    cls = SECTIONS[section]
    specs = {f.name: f for f in dataclasses.fields(cls)}
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: [{section}] must be a table, got {values!r}")
    for key in values:
        if key not in specs:
            known = ", ".join(specs)
            raise ConfigError(f"{where}: unknown key {section}.{key}; [{section}] takes: {known}")
    checked = {k: _check_value(section, specs[k], v, where) for k, v in values.items()}
    try:
        return cls(**checked)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def config_from_mapping(data: Mapping[str, Any], where: str = "<config>") -> Config:
    """Build a :class:`Config` from parsed TOML, validating every key.

    Parameters
    ----------
    data : mapping
        Sections to key-value tables, as ``tomllib`` returns them. Missing keys take defaults.
    where : str
        Name of the source, used in error messages (usually the file path).
    """
    for section in data:
        if section not in SECTIONS:
            raise ConfigError(
                f"{where}: unknown section [{section}]; known sections: {', '.join(SECTIONS)}"
            )
    parts = {name: _build_section(name, data.get(name, {}), where) for name in SECTIONS}
    try:
        return Config(**parts)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_config(
    path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """Load and validate a configuration file, then apply command-line overrides.

    Parameters
    ----------
    path : path, optional
        The TOML file. ``None`` loads the project's ``config.toml``, or the built-in defaults
        when that file is absent (an installed package without the source tree).
    overrides : mapping of ``"section.key"`` to value, optional
        Values that replace the file's; checked like the file's.

    Raises
    ------
    ConfigError
        The file is missing, is not valid TOML, or holds an unknown key or a bad value.
    """
    if path is None and not DEFAULT_CONFIG_PATH.exists():
        data: dict[str, Any] = {}
        where = "<defaults>"
    else:
        file = Path(path) if path is not None else DEFAULT_CONFIG_PATH
        where = str(file)
        try:
            with open(file, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"{where}: configuration file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    data = {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        if section not in SECTIONS or not key:
            raise ConfigError(
                f"override {dotted!r}: expected section.key with a section among "
                f"{', '.join(SECTIONS)}"
            )
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        table[key] = value
    return config_from_mapping(data, where)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``section.key=value`` command-line override; the value is read as TOML.

    A value that is not valid TOML (``phase.method=pv``) is taken as a plain string.
    """
    dotted, sep, raw = text.partition("=")
    if not sep or "." not in dotted:
        raise ConfigError(f"override {text!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return dotted.strip(), value


def describe(config: Config) -> str:
    """Render a configuration back to TOML with each key's documentation as a comment."""
    lines: list[str] = []
    for section in SECTIONS:
        lines.append(f"[{section}]")
        part = getattr(config, section)
        for spec in dataclasses.fields(part):
            value = getattr(part, spec.name)
            text = (
                ("true" if value else "false")
                if isinstance(value, bool)
                else (f'"{value}"' if isinstance(value, str) else repr(value))
            )
            doc = spec.metadata["doc"]
            if isinstance(part, PathsConfig):
                doc += f" (now: {part.folder(spec.name)})"
            lines.append(f"{spec.name} = {text}  # {doc}")
        lines.append("")
    return "\n".join(lines)
