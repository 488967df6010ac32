"""Speaker layouts: where each output channel's voice sits on the latent map.

With ``audio.channels = N`` the engine plays N voices, one per output channel. Each voice sits at
the field's centre plus an offset on the latent map's current 2-D plane: ``spread`` (latent
standard deviations, ``[field]`` in ``config.toml``) times its speaker's place in the layout.

Conventions
-----------
Azimuth is in degrees, counter-clockwise from the front as seen from above: 0 is the front,
+90 the left, -90 the right, 180 the back. A position is ``(x, y)`` with x towards the front and
y towards the left, so a speaker at azimuth θ is at ``(cos θ, sin θ)``; on the map x is the
plane's first axis and y its second. :meth:`SpeakerLayout.offsets` removes the speakers' mean
and scales so that the farthest speaker is at radius 1: a layout's size and where its origin
lies do not matter, only its shape (positions may be in metres, feet or anything else).

Built-in layouts
----------------
``mono``
    Every speaker at the centre: N copies of the same voice, for any N (the sound of caminos
    before layouts). Speaker mask FC for one channel.
``stereo``
    L at +30, R at -30 degrees (mask FL|FR, 0x3).
``quad``
    FL 45, FR -45, BL 135, BR -135 degrees, in that channel order (mask FL|FR|BL|BR, 0x33).
``ring-N``
    N speakers (1 .. 64) at equal angles, channel 1 at the front, the next ones clockwise
    (decreasing azimuth), as most installations number their speakers: ``ring-8``, ``ring-16``.
``line-N``
    N speakers (1 .. 64) evenly on a line from left to right, channel 1 at the left: positions
    ``(0, y)`` with y from +1 down to -1 (a line across the front of the room).

Layout files
------------
Any other name is a TOML file, ``NAME.toml`` (the suffix may be left out), looked up as given,
then in the search folders, the working directory, the shipped ``patches/layouts/`` and the
project root. One ``[[speaker]]`` table per speaker, in channel order (speaker 1 is channel 1)::

    name = "hexagon"            # optional; default: the file's name without .toml
    description = "..."         # optional, free text

    [[speaker]]
    azimuth = 30.0              # degrees, -360 .. 360
    label = "1"                 # optional; default: the channel number

    [[speaker]]
    position = [2.5, -1.0]      # [x, y] in any unit: x to the front, y to the left

A speaker gives ``azimuth`` or ``position``, not both, and a file places every speaker the same
way. A file has 1 .. 64 speakers. A mistake raises
:class:`~caminos.engine.core.errors.ConfigError` naming the file, the key (``speaker[3].azimuth``,
speakers counted from 1) and the value.

Why this file is longer than 500 lines: the built-in layouts and the layout files, each key checked
with a message that names the file and the key.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from caminos.engine.core.config import MAX_CHANNELS, PROJECT_ROOT, Config
from caminos.engine.core.errors import ConfigError, ParameterError

MAX_SPEAKERS = MAX_CHANNELS
LAYOUTS_FOLDER = PROJECT_ROOT / "patches" / "layouts"  # the shipped layout files
BUILTIN_NAMES = ("mono", "stereo", "quad", "ring-N", "line-N")
_SIZED = re.compile(r"(ring|line)-(\d+)")
_FILE_KEYS = ("name", "description", "speaker")
_SPEAKER_KEYS = ("azimuth", "position", "label")
_AZIMUTH_LIMIT = 360.0  # degrees either way

# WAVE_FORMAT_EXTENSIBLE speaker mask bits (dwChannelMask).
_FRONT_LEFT, _FRONT_RIGHT, _FRONT_CENTER = 0x1, 0x2, 0x4
_BACK_LEFT, _BACK_RIGHT = 0x10, 0x20


@dataclass(frozen=True, eq=False)
class SpeakerLayout:
    """Speakers in the order of the output channels, and where each one stands.

    Parameters
    ----------
    name : str
        The layout's name (``ring-8``, a file's ``name``).
    positions : array_like, shape (n_speakers, 2)
        Each speaker's ``(x, y)``, x to the front and y to the left, in any unit; copied and
        made read-only. 1 .. 64 speakers, finite values.
    labels : tuple of str, optional
        One name per speaker (``"L"``, ``"R"``); empty: the channel numbers ``"1"`` .. ``"N"``.
    channel_mask : int, optional
        The WAVE_FORMAT_EXTENSIBLE speaker mask of the layout, one bit per speaker, for layouts
        that have a standard one (mono 0x4, stereo 0x3, quad 0x33); ``None`` otherwise.

    Raises
    ------
    ParameterError
        A shape, count, value, label count or mask that does not fit the rules above.
    """

    name: str
    positions: np.ndarray
    labels: tuple[str, ...] = ()
    channel_mask: int | None = None
    # Offsets at rotation 0 as complex numbers x + iy, shape (n_speakers, 1): a rotation is one
    # complex multiplication into a float view of the caller's array.
    _unit: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        positions = np.array(self.positions, dtype=np.float64)
        if positions.ndim != 2 or positions.shape[1] != 2:
            raise ParameterError(
                f"layout {self.name!r}: positions must have shape "
                f"(n_speakers, 2), got {positions.shape}"
            )
        n = len(positions)
        if not 1 <= n <= MAX_SPEAKERS:
            raise ParameterError(
                f"layout {self.name!r}: expected 1 .. {MAX_SPEAKERS} speakers, got {n}"
            )
        if not np.isfinite(positions).all():
            raise ParameterError(
                f"layout {self.name!r}: positions must be finite, got {positions.tolist()}"
            )
        labels = tuple(self.labels) or tuple(str(i + 1) for i in range(n))
        if len(labels) != n or not all(isinstance(label, str) for label in labels):
            raise ParameterError(f"layout {self.name!r}: expected {n} labels (str), got {labels!r}")
        mask = self.channel_mask
        if mask is not None and (mask < 0 or bin(mask).count("1") != n):
            raise ParameterError(
                f"layout {self.name!r}: channel_mask must have one bit per "
                f"speaker ({n}), got {mask:#x}"
            )
        positions.flags.writeable = False
        centred = positions - positions.mean(axis=0)
        radius = float(np.hypot(centred[:, 0], centred[:, 1]).max())
        # Speakers all in one place (mono) stay at the centre, rounding residue included.
        scale = 1e-9 * max(1.0, float(np.abs(positions).max()))
        unit = centred / radius if radius > scale else np.zeros_like(centred)
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "_unit", np.ascontiguousarray(unit).view(np.complex128))

    @property
    def n_speakers(self) -> int:
        """Number of speakers, one per output channel."""
        return len(self.positions)

    def output_mask(self, channels: int) -> int | None:
        """The WAV speaker mask of an output that renders this layout on ``channels`` channels:
        the layout's own mask when they are its every speaker; None for a slice of the room, a
        layout without a standard mask, or the mono layout (one voice copied to every
        channel)."""
        if self.name == "mono" or channels != self.n_speakers:
            return None
        return self.channel_mask

    def offsets(self, rotate_deg: float = 0.0) -> np.ndarray:
        """Each speaker's offset from the centre, the farthest at radius 1, rotated.

        Parameters
        ----------
        rotate_deg : float
            Rotation in degrees, counter-clockwise.

        Returns
        -------
        ndarray, shape (n_speakers, 2), float64
            Unit-free offsets: positions minus their mean, divided by the farthest one's
            distance (all zero when every speaker stands in one place), then rotated.
        """
        return self.offsets_into(rotate_deg, np.empty((self.n_speakers, 2)))

    def offsets_into(self, rotate_deg: float, out: np.ndarray) -> np.ndarray:
        """:meth:`offsets` written into ``out`` without allocating an array, for the hop clock.

        Parameters
        ----------
        rotate_deg : float
            Rotation in degrees, counter-clockwise; finite.
        out : ndarray, shape (n_speakers, 2), float64, C-contiguous
            Receives the offsets.

        Returns
        -------
        ndarray
            ``out``.

        Raises
        ------
        ParameterError
            ``out`` has the wrong shape, type or memory layout, or ``rotate_deg`` is not finite.
        """
        if (
            not isinstance(out, np.ndarray)
            or out.shape != (self.n_speakers, 2)
            or out.dtype != np.float64
            or not out.flags.c_contiguous
        ):
            raise ParameterError(
                f"layout {self.name!r}: out must be a C-contiguous float64 "
                f"array of shape ({self.n_speakers}, 2), got "
                f"{getattr(out, 'shape', type(out).__name__)}"
            )
        if not math.isfinite(rotate_deg):
            raise ParameterError(
                f"layout {self.name!r}: rotate_deg must be finite, got {rotate_deg!r}"
            )
        turn = math.radians(rotate_deg)
        np.multiply(
            self._unit, complex(math.cos(turn), math.sin(turn)), out=out.view(np.complex128)
        )
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpeakerLayout):
            return NotImplemented
        return (
            self.name == other.name
            and self.labels == other.labels
            and self.channel_mask == other.channel_mask
            and np.array_equal(self.positions, other.positions)
        )

    def __hash__(self) -> int:
        return hash((self.name, self.labels, self.channel_mask, self.positions.tobytes()))


def _on_circle(azimuths_deg: Iterable[float]) -> np.ndarray:
    """``(cos θ, sin θ)`` for each azimuth in degrees, shape (n, 2)."""
    theta = np.radians(np.asarray(list(azimuths_deg), dtype=np.float64))
    return np.column_stack((np.cos(theta), np.sin(theta)))


def _check_count(count: int, what: str) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SPEAKERS:
        raise ParameterError(
            f"{what}: expected a number of channels in 1 .. {MAX_SPEAKERS}, got {count!r}"
        )


def default_layout_name(channels: int) -> str:
    """The layout ``field.layout = ""`` means for a number of output channels.

    Parameters
    ----------
    channels : int
        Output channels, 1 .. 64.

    Returns
    -------
    str
        ``"mono"`` for 1, ``"stereo"`` for 2, ``"quad"`` for 4, else ``"ring-N"``.
    """
    _check_count(channels, "default_layout_name")
    return {1: "mono", 2: "stereo", 4: "quad"}.get(channels, f"ring-{channels}")


def builtin_layout(name: str, channels: int | None = None) -> SpeakerLayout | None:
    """The built-in layout called ``name``, or ``None`` when no built-in has that name.

    Parameters
    ----------
    name : str
        ``mono``, ``stereo``, ``quad``, ``ring-N`` or ``line-N`` (N = 1 .. 64).
    channels : int, optional
        Speaker count of ``mono``, which takes any; the others fix their own.

    Raises
    ------
    ConfigError
        ``ring-N`` or ``line-N`` with N out of 1 .. 64, or ``mono`` without a count.
    """
    if name == "mono":
        if channels is None:
            raise ConfigError("layout 'mono': needs a number of channels (it takes any)")
        _check_count(channels, "layout 'mono'")
        if channels == 1:
            return SpeakerLayout("mono", np.zeros((1, 2)), ("C",), _FRONT_CENTER)
        return SpeakerLayout("mono", np.zeros((channels, 2)))
    if name == "stereo":
        return SpeakerLayout(
            "stereo", _on_circle((30.0, -30.0)), ("L", "R"), _FRONT_LEFT | _FRONT_RIGHT
        )
    if name == "quad":
        return SpeakerLayout(
            "quad",
            _on_circle((45.0, -45.0, 135.0, -135.0)),
            ("FL", "FR", "BL", "BR"),
            _FRONT_LEFT | _FRONT_RIGHT | _BACK_LEFT | _BACK_RIGHT,
        )
    sized = _SIZED.fullmatch(name)
    if sized is None:
        return None
    kind, n = sized.group(1), int(sized.group(2))
    if not 1 <= n <= MAX_SPEAKERS:
        raise ConfigError(f"layout {name!r}: N of {kind}-N must be 1 .. {MAX_SPEAKERS}, got {n}")
    if kind == "ring":
        positions = _on_circle(-360.0 * i / n for i in range(n))
    else:
        y = np.linspace(1.0, -1.0, n) if n > 1 else np.zeros(1)
        positions = np.column_stack((np.zeros(n), y))
    return SpeakerLayout(f"{kind}-{n}", positions)


def find_layout_file(name: str, search_dirs: Iterable[str | Path] = ()) -> Path:
    """The layout file a name refers to.

    Parameters
    ----------
    name : str
        A path or a name, with or without ``.toml``. A relative one is looked up in each of
        ``search_dirs``, then the working directory, then :data:`LAYOUTS_FOLDER`, then the
        project root (so ``patches/layouts/quad.toml`` is found from any folder).
    search_dirs : iterable of path
        Folders tried first, in order.

    Raises
    ------
    ConfigError
        No such file; the message lists the built-in names and every place tried.
    """
    given = Path(name).expanduser()
    if given.suffix != ".toml":
        given = given.with_name(given.name + ".toml")
    if given.is_absolute():
        tried = [given]
    else:
        tried = [Path(folder).expanduser() / given for folder in search_dirs]
        tried += [given, LAYOUTS_FOLDER / given, PROJECT_ROOT / given]
    for path in tried:
        if path.is_file():
            return path
    places = ", ".join(str(p) for p in dict.fromkeys(tried))
    raise ConfigError(
        f"layout {name!r}: not a built-in layout ({', '.join(BUILTIN_NAMES)}) and "
        f"no layout file found (tried {places})"
    )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_speaker(table: Any, key: str, where: str) -> tuple[str, tuple[float, float], str | None]:
    """One ``[[speaker]]`` table: how it is placed, its ``(x, y)`` and its label."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: {key}: expected a [[speaker]] table, got {table!r}")
    for name in table:
        if name not in _SPEAKER_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key}.{name} = {table[name]!r}; a speaker "
                f"takes: {', '.join(_SPEAKER_KEYS)}"
            )
    if "azimuth" in table and "position" in table:
        raise ConfigError(
            f"{where}: {key}: give azimuth or position, not both (got azimuth = "
            f"{table['azimuth']!r}, position = {table['position']!r})"
        )
    label = table.get("label")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise ConfigError(f"{where}: {key}.label: expected a non-empty string, got {label!r}")
    if "azimuth" in table:
        azimuth = table["azimuth"]
        if not _number(azimuth) or not math.isfinite(azimuth) or abs(azimuth) > _AZIMUTH_LIMIT:
            raise ConfigError(
                f"{where}: {key}.azimuth: expected a number of degrees in "
                f"[-{_AZIMUTH_LIMIT:g}, {_AZIMUTH_LIMIT:g}], got {azimuth!r}"
            )
        theta = math.radians(azimuth)
        return "azimuth", (math.cos(theta), math.sin(theta)), label
    if "position" in table:
        position = table["position"]
        if (
            not isinstance(position, list)
            or len(position) != 2
            or not all(_number(v) and math.isfinite(v) for v in position)
        ):
            raise ConfigError(
                f"{where}: {key}.position: expected [x, y], two finite numbers, got {position!r}"
            )
        return "position", (float(position[0]), float(position[1])), label
    raise ConfigError(f"{where}: {key}: give azimuth (degrees) or position ([x, y]); got neither")


def read_layout_file(path: str | Path) -> SpeakerLayout:
    """Read and check a layout file (format in the module's documentation).

    Parameters
    ----------
    path : path
        The TOML file.

    Raises
    ------
    ConfigError
        The file cannot be read, is not valid TOML (the line is named), or holds an unknown
        key, a bad value, no speakers or more than 64; the message names the file, the key
        (``speaker[3].azimuth``) and the value.
    """
    path = Path(path)
    where = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read layout file: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    for key in data:
        if key not in _FILE_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key} = {data[key]!r}; a layout file "
                f"takes: {', '.join(_FILE_KEYS)}"
            )
    for key in ("name", "description"):
        value = data.get(key)
        if key in data and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"{where}: {key}: expected a non-empty string, got {value!r}")
    speakers = data.get("speaker", [])
    if not isinstance(speakers, list):
        raise ConfigError(f"{where}: speaker: expected [[speaker]] tables, got {speakers!r}")
    if not speakers:
        raise ConfigError(
            f"{where}: speaker: no [[speaker]] tables, got {speakers!r}; a layout "
            f"has 1 .. {MAX_SPEAKERS} speakers"
        )
    if len(speakers) > MAX_SPEAKERS:
        raise ConfigError(
            f"{where}: speaker: {len(speakers)} [[speaker]] tables; a layout has "
            f"at most {MAX_SPEAKERS}"
        )
    first_kind = ""
    positions, labels = [], []
    for index, table in enumerate(speakers, start=1):
        key = f"speaker[{index}]"
        kind, position, label = _read_speaker(table, key, where)
        if first_kind and kind != first_kind:
            raise ConfigError(
                f"{where}: {key}: gives {kind} = {table[kind]!r} but speaker[1] "
                f"gives {first_kind}; a layout file places every speaker the "
                f"same way"
            )
        first_kind = first_kind or kind
        positions.append(position)
        labels.append(label if label is not None else str(index))
    return SpeakerLayout(data.get("name", path.stem), np.array(positions), tuple(labels))


def load_layout(
    name_or_path: str, channels: int | None, search_dirs: Iterable[str | Path] = ()
) -> SpeakerLayout:
    """A built-in layout or a layout file, checked against a channel count.

    Parameters
    ----------
    name_or_path : str
        A built-in name (``mono``, ``stereo``, ``quad``, ``ring-N``, ``line-N``), or a layout
        file found by :func:`find_layout_file`. ``""`` is :func:`default_layout_name` of
        ``channels``.
    channels : int or None
        Speakers the layout must have, 1 .. 64: ``mono`` makes that many; ``None`` takes the
        layout's own count (``mono`` and ``""`` then have none and are refused).
    search_dirs : iterable of path
        Folders searched first for a layout file.

    Raises
    ------
    ConfigError
        An unknown name, a bad layout file, or a speaker count other than ``channels`` (both
        numbers named).
    """
    if channels is not None:
        _check_count(channels, f"layout {name_or_path!r}")
    if not name_or_path:
        if channels is None:
            raise ConfigError("layout '': the default layout needs a number of channels")
        name_or_path = default_layout_name(channels)
    source = ""
    layout = builtin_layout(name_or_path, channels)
    if layout is None:
        path = find_layout_file(name_or_path, search_dirs)
        layout = read_layout_file(path)
        source = f" ({path})"
    if channels is not None and layout.n_speakers != channels:
        raise ConfigError(
            f"layout {name_or_path!r}{source}: has {layout.n_speakers} speakers, "
            f"not the {channels} channels asked for"
        )
    return layout


def field_layout(config: Config, channels: int | None = None) -> tuple[SpeakerLayout, int, int]:
    """What the engine needs of ``[field]``: the room's layout and which speakers to render.

    The layout's speaker count is the whole room. This caminos renders speakers
    ``first_channel .. first_channel + n_voices - 1`` (counted from 1), one per output channel:
    with ``field.voices = 0`` every one from ``first_channel`` to the layout's last, else
    ``field.voices`` of them. Layout files are looked up in the patches folder's ``layouts/``
    (``paths.patches``) first.

    Parameters
    ----------
    config : Config
        The configuration; reads ``field``, ``audio.channels`` and ``paths.patches``.
    channels : int, optional
        Output channels when they differ from ``audio.channels`` (a device with fewer).

    Returns
    -------
    layout : SpeakerLayout
        The whole room's layout.
    first : int
        Index from 0 of the first speaker rendered (``field.first_channel - 1``).
    n_voices : int
        Speakers rendered, equal to the output channels.

    Raises
    ------
    ConfigError
        An unknown or bad layout, ``field.layout = ""`` with ``field.first_channel > 1``, or
        speakers that do not match the output channels; the message names the keys and numbers.
    """
    section = config.field
    outputs = config.audio.channels if channels is None else channels
    _check_count(outputs, "field_layout: channels")
    first, name = section.first_channel, section.layout
    if section.voices and section.voices != outputs:
        raise ConfigError(
            f"field.voices = {section.voices} but the output has {outputs} "
            f"channels (audio.channels): one voice per output channel"
        )
    if not name:
        if first != 1:
            raise ConfigError(
                f'field.layout = "" with field.first_channel = {first}: name the '
                f"whole room's layout (ring-16, a layout file ...) when several "
                f"machines share it"
            )
        name = default_layout_name(outputs)
    try:
        if name == "mono":
            n_voices = section.voices or outputs
            layout = load_layout("mono", first + n_voices - 1)
        else:
            search = (config.paths.folder("patches") / "layouts",)
            layout = load_layout(name, None, search)
    except ConfigError as exc:
        raise ConfigError(f"field.layout = {name!r}: {exc}") from None
    room = layout.n_speakers
    if first > room:
        raise ConfigError(f"field.first_channel = {first} but layout {name!r} has {room} speakers")
    n_voices = section.voices or room - first + 1
    last = first + n_voices - 1
    if last > room:
        raise ConfigError(
            f"field.first_channel = {first} and field.voices = {n_voices} reach "
            f"speaker {last}, but layout {name!r} has {room} speakers"
        )
    if n_voices != outputs:
        renders = (
            f"{room} speakers"
            if first == 1
            else f"{room} speakers, {n_voices} of them from field.first_channel = {first}"
        )
        raise ConfigError(
            f"field.layout = {name!r} has {renders}, but the output has {outputs} "
            f"channels (audio.channels); give a layout of {outputs} speakers, "
            f"or set field.first_channel and field.voices"
        )
    return layout, first - 1, n_voices
