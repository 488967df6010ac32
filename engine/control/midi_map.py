"""MIDI learn: which MIDI control drives which address, and how its value becomes an argument.

Pure logic, no MIDI library (``docs/midi.md``): :class:`caminos.engine.control.midi.MidiInput`
hands each control change and note to :meth:`MidiMap.receive`, which answers the control
messages to post. A mapping binds a *source* (a 7-bit CC, a 14-bit CC pair, or a note, on a
channel) to a *target*: an address, the leading arguments given when it was learnt, and the one
numeric argument after them that the controller drives over that argument's range (the
registry's :class:`~caminos.engine.core.controls.Arg` knows ``lo``, ``hi`` and ``unit``). A target
whose arguments are all given is a trigger: a note-on, or a CC rising through its middle, sends it.

``/midi/learn``, ``/midi/forget`` and ``/midi/list`` are queries: answered where they are
received (the control process, where the MIDI port is), never sent to the hop clock nor written
into scores. The mappings are saved to ``midi.json`` in the patches folder on every change and
read back at start; a file that cannot be read is reported (file, line or entry) and left as it
is, and nothing is learnt over it until it is fixed or removed.

Why this file is longer than 500 lines: MIDI learn's whole logic (sources, targets, scaling, 14-bit
pairs, triggers, learning, the mappings file and its errors) without a MIDI library, so it is
tested without a port.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from caminos.engine.control.patch_files import read_json, write_json
from caminos.engine.core.controls import Arg, Control, ControlTable
from caminos.engine.core.errors import ControlError

CC, CC14, NOTE = "cc", "cc14", "note"
KINDS = (CC, CC14, NOTE)
CC_TOP = 127  # the largest 7-bit value (a CC's value, a note's velocity)
CC14_TOP = 16383  # the largest 14-bit value (MSB * 128 + LSB)
LSB_OFFSET = 32  # MIDI 1.0: CC n (0 .. 31) is a 14-bit pair's MSB, CC n + 32 its LSB
CHANNELS = 16
FILE_NAME = "midi.json"
FILE_KIND = "midi"
MAX_GIVEN = 16  # leading arguments a mapping may fix
ENTRY_KEYS = ("kind", "channel", "number", "address", "args")
ADDRESS_ARG = (Arg("address", "s"),)
log = logging.getLogger("caminos.midi")


@dataclass(frozen=True)
class Source:
    """A MIDI control: a 7-bit CC, a 14-bit CC pair (MSB ``number``, LSB ``number + 32``) or a
    note, on a channel from 1 to 16."""

    kind: str
    channel: int
    number: int

    def describe(self) -> str:
        """``CC 7 on channel 1``, ``14-bit CC 1/33 on channel 1``, ``note 60 on channel 10``."""
        if self.kind == CC14:
            return f"14-bit CC {self.number}/{self.number + LSB_OFFSET} on channel {self.channel}"
        name = "CC" if self.kind == CC else "note"
        return f"{name} {self.number} on channel {self.channel}"


@dataclass(frozen=True)
class Target:
    """What a source drives: an address, its leading arguments as given, and the argument after
    them that the controller moves (``None``: a trigger, which sends the given arguments)."""

    address: str
    given: tuple
    driven: Arg | None

    def message(self, value: float | int | None = None) -> tuple[str, tuple]:
        """The control message for a driven ``value`` (a trigger's takes none)."""
        return self.address, self.given if value is None else (*self.given, value)

    def describe(self) -> str:
        """``/latent/axis 3`` and what it drives (``offset, -8 .. 8 std``) or ``(trigger)``."""
        text = " ".join([self.address, *map(str, self.given)])
        if self.driven is None:
            return text + " (trigger)"
        arg = self.driven
        unit = f" {arg.unit}" if arg.unit else ""
        return f"{text} -> {arg.name} {arg.lo:g} .. {arg.hi:g}{unit} ({arg.curve})"


def scale(arg: Arg, fraction: float) -> float | int:
    """A controller's position as a value of ``arg``.

    Parameters
    ----------
    arg : Arg
        A number with a range (``lo`` and ``hi``).
    fraction : float
        Where the controller is, 0 (bottom) .. 1 (top); clipped to that.

    Returns
    -------
    float or int
        ``lo + fraction * (hi - lo)``, or ``lo * (hi / lo) ** fraction`` on the log curve
        (:attr:`~caminos.engine.core.controls.Arg.curve`), in ``arg``'s unit, within
        ``[lo, hi]``; an integer argument is rounded to the nearest integer (halves up).
    """
    lo, hi = float(arg.lo), float(arg.hi)  # type: ignore[arg-type]
    fraction = min(max(float(fraction), 0.0), 1.0)
    if arg.curve == "log":
        value = lo * (hi / lo) ** fraction
    else:
        value = lo + fraction * (hi - lo)
    value = min(max(value, lo), hi)
    return int(math.floor(value + 0.5)) if arg.kind == "i" else value


def target_for(
    registry: Any, address: Any, given: Iterable[Any], where: str = "/midi/learn"
) -> Target:
    """The target of ``address`` with its leading arguments ``given``, checked as the registry
    checks a message.

    Given a whole message, the target is a trigger; given fewer arguments, the next one is what
    a controller drives, and it must be the message's last (or a repeated one) and a number
    with a range.

    Raises
    ------
    ControlError
        Unknown address, a query, a given argument the address refuses, or nothing a
        controller can drive; the message starts with ``where`` and names the address.
    """
    given = tuple(given)
    if not isinstance(address, str):
        raise ControlError(f"{where}: the address must be a string, got {address!r}")
    if len(given) > MAX_GIVEN:
        raise ControlError(
            f"{where}: {address}: at most {MAX_GIVEN} arguments may be given, got {len(given)}"
        )
    try:
        control = registry[address]
    except ControlError as exc:
        raise ControlError(f"{where}: {exc}") from None
    if control.query:
        raise ControlError(
            f"{where}: {address} is a query, answered rather than played; MIDI drives controls"
        )
    try:
        return Target(address, control.validate(given), None)  # a whole message: a trigger
    except ControlError as whole:
        refusal = whole
    driven = _driven_arg(control, len(given), where)
    if driven is None:
        raise ControlError(f"{where}: {refusal}")
    if driven.kind not in "fi" or driven.lo is None or driven.hi is None:
        raise ControlError(
            f"{where}: {address}: argument {len(given) + 1} ({driven.name}) is not a number with "
            "a range, so a controller cannot drive it; give it too, and a note or a button "
            "sends the whole message"
        )
    try:
        values = control.validate((*given, driven.lo))
    except ControlError as exc:
        raise ControlError(f"{where}: {exc}") from None
    return Target(address, values[:-1], driven)


def _driven_arg(control: Control, position: int, where: str) -> Arg | None:
    """The argument at ``position`` when a message may end with it; None when ``position`` is
    past the message's end."""
    args = control.args
    if position == len(args) - 1 or (args and args[-1].repeat and position >= len(args) - 1):
        return args[-1]
    if position < len(args) - 1:
        names = ", ".join(a.name for a in args[:-1])
        raise ControlError(
            f"{where}: {control.address} takes {control.signature()}; a controller drives the "
            f"argument right after those given, and the message must end with it: give "
            f"{names} to drive {args[-1].name}"
        )
    return None


@dataclass(frozen=True)
class VariadicControl(Control):
    """A control of the MIDI table whose arguments may be left out and may be numbers or
    strings (the registry's :class:`Control` takes a fixed list of typed arguments):
    ``/midi/learn [ADDRESS [ARGUMENT...]]`` and ``/midi/forget [ADDRESS]``.

    Attributes
    ----------
    most : int
        Most arguments: an address, then numbers or strings.
    tags : str
        Type tags as the documentation shows them (``[s*]``: optional, any number).
    text : str
        The arguments as the documentation describes them.
    """

    most: int = 1
    tags: str = ""
    text: str = ""

    @property
    def type_tags(self) -> str:
        return self.tags

    def signature(self) -> str:
        return self.text

    def validate(self, args: Iterable[Any]) -> tuple:
        """Check an address, then numbers and strings, at most :attr:`most` in all."""
        values = tuple(args)
        if len(values) > self.most:
            raise ControlError(
                f"{self.address}: expected at most {self.most} argument(s) "
                f"({self.text}), got {len(values)}"
            )
        if values:
            self.args[0].convert(values[0], self.address, 0)  # the address: a string
        for i, value in enumerate(values[1:], start=2):
            if isinstance(value, str):
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise ControlError(
                    f"{self.address}: argument {i}: expected a finite number or "
                    f"a string, got {value!r}"[:200]
                )
        return values


class MidiMap:
    """The learnt mappings of one engine, the learning armed, and the file they are kept in.

    Thread-safe: the MIDI port's callback thread calls :meth:`receive`, OSC lanes and the
    control page the queries.

    Parameters
    ----------
    registry : ControlRegistry
        The engine's controls: every target is checked against it.
    folder : path
        The patches folder; the mappings are kept in its ``midi.json``.

    Attributes
    ----------
    path : Path
        The mappings file.
    mappings : dict of Source to Target
        The mappings in use, in the order they were learnt.
    armed : Target or None
        What the next CC or note-on is bound to.
    problem : str
        Why the file could not be read ("" when it was, or there is none).
    """

    def __init__(self, registry: Any, folder: str | Path) -> None:
        self.registry = registry
        self.path = Path(folder) / FILE_NAME
        self.mappings: dict[Source, Target] = {}
        self.armed: Target | None = None
        self.problem = ""
        self._lock = threading.RLock()  # load() runs under it, and takes it too
        self._loaded = False
        self._dormant: list[dict] = []  # entries naming an address this engine does not have
        self._upgrade: Source | None = None  # a CC just learnt, which its LSB may make 14-bit
        self._last: dict[Source, int] = {}  # each source's last value (a trigger's crossing)
        self._msb: dict[Source, int] = {}  # each 14-bit pair's last MSB
        self._sent: dict[Source, Any] = {}  # each source's last value sent

    # ------------------------------------------------------------------------ the controls
    def controls(self) -> ControlTable:
        """``/midi/learn``, ``/midi/forget`` and ``/midi/list``, as data (queries)."""
        table = ControlTable()
        table.append(
            VariadicControl(
                "/midi/learn",
                ADDRESS_ARG,
                "the next MIDI CC or note-on moved drives ADDRESS: a CC, or a note's velocity, "
                "moves the argument after those given over its range (log for Hz, else "
                "linear); with every argument given, a note-on or a CC rising past its middle "
                "sends the message; "
                "kept in the patches folder's midi.json; answers /midi/learn s ... (what waits; "
                "nothing: learning stopped)",
                self.learn,
                query=True,
                group="midi",
                most=1 + MAX_GIVEN,
                tags="[s*]",
                text="address (string), then its first arguments "
                "if any (numbers or strings); no argument: stop learning",
            )
        )
        table.append(
            VariadicControl(
                "/midi/forget",
                ADDRESS_ARG,
                "forget the MIDI mappings of ADDRESS, or every one; answers /midi/forget i (how "
                "many)",
                self.forget,
                query=True,
                group="midi",
                most=1,
                tags="[s]",
                text="address (string), optional: every mapping without it",
            )
        )
        table.add(
            "/midi/list",
            (),
            "answers one /midi/list s i i s ... (kind cc, cc14 or note, "
            "channel 1 .. 16, number, address, its given arguments) per mapping, then "
            '/midi/list/done i s (count, the address learning waits for or "")',
            self.listing,
            group="midi",
            query=True,
        )
        return table

    def learn(self, *args: Any) -> list[tuple]:
        """``/midi/learn ADDRESS [ARGUMENT...]``: arm learning (no argument: stop learning)."""
        target = target_for(self.registry, args[0], args[1:]) if args else None
        with self._lock:
            if target is not None:
                self._ready(retry=True)
            self.armed = target
            self._upgrade = None
        return [
            ("/midi/learn",) if target is None else ("/midi/learn", target.address, *target.given)
        ]

    def forget(self, address: str | None = None) -> list[tuple]:
        """``/midi/forget [ADDRESS]``: remove the mappings of ``address``, or all."""
        with self._lock:
            self._ready(retry=True)
            if address is None:
                removed = len(self.mappings) + len(self._dormant)
                self.mappings.clear()
                self._dormant = []
                self.armed = None
            else:
                known = {d["address"] for d in self._dormant} | {
                    t.address for t in self.mappings.values()
                }
                if address not in known and address not in self.registry:
                    raise ControlError(
                        f"/midi/forget: {address}: unknown address; /engine/list lists them"
                    )
                gone = [s for s, t in self.mappings.items() if t.address == address]
                for source in gone:
                    del self.mappings[source]
                kept = [d for d in self._dormant if d["address"] != address]
                removed = len(gone) + len(self._dormant) - len(kept)
                self._dormant = kept
                if self.armed is not None and self.armed.address == address:
                    self.armed = None
            if removed:
                self._save()
        return [("/midi/forget", removed)]

    def listing(self) -> list[tuple]:
        """``/midi/list``: one reply per mapping, then the count and what learning waits for."""
        with self._lock:
            self._ready()
            rows = [
                ("/midi/list", s.kind, s.channel, s.number, t.address, *t.given)
                for s, t in self.mappings.items()
            ]
            armed = self.armed.address if self.armed is not None else ""
        return rows + [("/midi/list/done", len(rows), armed)]

    def snapshot(self) -> dict[str, Any]:
        """What the control page shows: ``armed`` (``[address, given...]`` or None) and
        ``mappings`` (``[[source described, address, given...], ...]``)."""
        with self._lock:
            self._ready()
            armed = self.armed
            return {
                "armed": None if armed is None else [armed.address, *armed.given],
                "mappings": [[s.describe(), t.address, *t.given] for s, t in self.mappings.items()],
            }

    # ------------------------------------------------------------------------ MIDI in
    def receive(self, kind: str, channel: int, number: int, value: int) -> list[tuple[str, tuple]]:
        """One MIDI message: what it teaches, or the control messages it sends.

        Parameters
        ----------
        kind : {"cc", "note_on", "note_off"}
            A control change, or a note (a note-on of velocity 0 is a note-off).
        channel : int
            1 .. 16.
        number : int
            The controller or note number, 0 .. 127.
        value : int
            The controller's value or the note's velocity, 0 .. 127.

        Returns
        -------
        list of (address, args)
            Messages to post: none while learning (the message that teaches drives nothing),
            one for a mapped control (none when a driven value has not changed), or none.

        Raises
        ------
        ControlError
            The mappings file could not be written after learning (the mapping is kept).
        """
        with self._lock:
            self._ready()
            upgrade, self._upgrade = self._upgrade, None
            if kind == CC:
                return self._control_change(channel, number, value, upgrade)
            if kind in ("note_on", "note_off"):
                return self._note(channel, number, value if kind == "note_on" else 0)
            return []

    def _control_change(
        self, channel: int, number: int, value: int, upgrade: Source | None
    ) -> list[tuple[str, tuple]]:
        source = Source(CC, channel, number)
        if upgrade is not None and upgrade == Source(CC, channel, number - LSB_OFFSET):
            # the LSB right after a learnt MSB: a 14-bit controller
            target = self.mappings.pop(upgrade)
            self._bind(Source(CC14, channel, upgrade.number), target)
            return []
        if self.armed is not None:
            self._bind(source, self.armed)
            if number < LSB_OFFSET:
                self._upgrade = source
            return []
        if source in self.mappings:
            return self._drive(source, value, CC_TOP)
        if number < LSB_OFFSET and (pair := Source(CC14, channel, number)) in self.mappings:
            self._msb[pair] = value  # MIDI 1.0: a new MSB sets the LSB to 0
            return self._drive(pair, value << 7, CC14_TOP)
        pair = Source(CC14, channel, number - LSB_OFFSET)
        if LSB_OFFSET <= number < 2 * LSB_OFFSET and pair in self.mappings:
            return self._drive(pair, (self._msb.get(pair, 0) << 7) | value, CC14_TOP)
        return []

    def _note(self, channel: int, number: int, velocity: int) -> list[tuple[str, tuple]]:
        source = Source(NOTE, channel, number)
        if self.armed is not None and velocity > 0:
            self._bind(source, self.armed)
            return []
        target = self.mappings.get(source)
        if target is None:
            return []
        if target.driven is None:
            return [target.message()] if velocity > 0 else []
        return self._drive(source, velocity, CC_TOP)  # held: its velocity; released: the bottom

    def _drive(self, source: Source, raw: int, top: int) -> list[tuple[str, tuple]]:
        target = self.mappings[source]
        before = self._last.get(source, 0)
        self._last[source] = raw
        if target.driven is None:  # a button or a pad on a CC: once as it rises past the middle
            middle = (top + 1) // 2
            return [target.message()] if before < middle <= raw else []
        value = scale(target.driven, raw / top)
        if self._sent.get(source) == value:
            return []
        self._sent[source] = value
        return [target.message(value)]

    def _bind(self, source: Source, target: Target) -> None:
        """``source`` drives ``target`` from now on, instead of anything it drove before; a
        target learnt again leaves its former source."""
        for old in [s for s, t in self.mappings.items() if t == target]:
            del self.mappings[old]
        self.mappings.pop(source, None)
        self.mappings[source] = target
        self._dormant = [d for d in self._dormant if _source_of(d) != source]
        for state in (self._last, self._msb, self._sent):
            state.pop(source, None)
        self.armed = None
        log.info("MIDI: %s drives %s", source.describe(), target.describe())
        self._save()

    # ------------------------------------------------------------------------ the file
    def load(self) -> None:
        """Read :attr:`path` (no file: no mappings). A file that cannot be read sets
        :attr:`problem`, logs it and leaves no mappings and the file as it is; an entry naming
        an address this engine does not have (a voice control without the voice, a channel
        beyond this room) is kept in the file but not used."""
        with self._lock:
            self._loaded = True
            self.problem = ""
            self.mappings, self._dormant = {}, []
            if not self.path.exists():
                return
            try:
                self.mappings, self._dormant = self._read()
            except ControlError as exc:
                self.problem = str(exc)
                log.warning("%s; MIDI plays with no mappings (the file is left as it is)", exc)
                return
            for entry in self._dormant:
                log.warning(
                    "midi: %s: %s is not a control of this engine; its mapping is kept "
                    "in the file but not used",
                    self.path,
                    entry["address"],
                )

    def _ready(self, retry: bool = False) -> None:
        """Read the file once, before the mappings are first used; with ``retry``, read again
        a file that could not be read, and refuse to change anything while it still cannot."""
        if not self._loaded or (retry and self.problem):
            self.load()
        if retry and self.problem:
            raise ControlError(
                f"{self.problem}; fix or remove the file first (nothing is "
                "learnt or forgotten over it)"
            )

    def _read(self) -> tuple[dict[Source, Target], list[dict]]:
        data = read_json(self.path, "midi", FILE_KIND)
        entries = data.get("mappings", [])
        if not isinstance(entries, list):
            raise ControlError(f'midi: {self.path}: "mappings" must be a list of mappings')
        mappings: dict[Source, Target] = {}
        dormant = []
        for i, entry in enumerate(entries):
            where = f"midi: {self.path}: mappings[{i}]"
            source = _read_entry(entry, where)
            if source in mappings:
                raise ControlError(f"{where}: {source.describe()} is mapped twice")
            if entry["address"] not in self.registry:
                dormant.append(entry)
                continue
            mappings[source] = target_for(
                self.registry, entry["address"], entry.get("args", []), where
            )
        return mappings, dormant

    def _save(self) -> None:
        entries = [
            {
                "kind": s.kind,
                "channel": s.channel,
                "number": s.number,
                "address": t.address,
                "args": list(t.given),
            }
            for s, t in self.mappings.items()
        ]
        write_json(self.path, "midi", {"caminos": FILE_KIND, "mappings": entries + self._dormant})


def _read_entry(entry: Any, where: str) -> Source:
    """Check one entry of the file's ``mappings``; returns its source."""
    if not isinstance(entry, dict):
        raise ControlError(
            f"{where}: expected an object with {', '.join(ENTRY_KEYS)}, got {str(entry)[:60]}"
        )
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    missing = [k for k in ENTRY_KEYS[:4] if k not in entry]
    if unknown or missing:
        raise ControlError(
            f"{where}: "
            + "; ".join(
                ([f"unknown key(s) {', '.join(unknown)}"] if unknown else [])
                + ([f"missing {', '.join(missing)}"] if missing else [])
            )
            + f" (an entry has {', '.join(ENTRY_KEYS)})"
        )
    kind, channel, number = entry["kind"], entry["channel"], entry["number"]
    if kind not in KINDS:
        raise ControlError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    top = LSB_OFFSET - 1 if kind == CC14 else CC_TOP
    for key, value, lo, hi in (("channel", channel, 1, CHANNELS), ("number", number, 0, top)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ControlError(f"{where}: {key} must be an integer {lo} .. {hi}, got {value!r}")
    if not isinstance(entry["address"], str):
        raise ControlError(f"{where}: address must be a string, got {entry['address']!r}")
    if not isinstance(entry.get("args", []), list):
        raise ControlError(f"{where}: args must be a list, got {entry['args']!r}")
    return Source(kind, channel, number)


def _source_of(entry: dict) -> Source:
    return Source(entry["kind"], entry["channel"], entry["number"])
