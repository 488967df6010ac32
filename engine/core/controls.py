"""Control registry and event queue: every address the engine answers, and when it applies.

One registry serves every way of playing caminos: the engine's own control API, the OSC server,
scores and ``docs/osc.md``. Each :class:`Control` names its arguments with types, ranges and units
and one line of documentation; :meth:`ControlRegistry.validate` refuses a bad message with a
:class:`~caminos.engine.core.errors.ControlError` naming the address and what was wrong, before
anything changes. :class:`ControlQueue` carries validated events from any thread to the DSP
thread, which applies them at hop boundaries (immediately-posted ones at the next hop,
scheduled ones at the hop they name), in the order they were posted.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator, Mapping

from caminos.engine.core.errors import ControlError

ARG_KINDS = {"f": "float", "i": "int", "s": "string"}


@dataclass(frozen=True)
class Arg:
    """One argument of a control message.

    Attributes
    ----------
    name : str
        What it is, in the user's words (``axis``, ``gain_db``).
    kind : {"f", "i", "s"}
        OSC type: 32-bit float, integer or string. An ``f`` accepts integers; an ``i`` accepts
        floats with an integral value (Pd sends every number as a float).
    lo, hi : float, optional
        Inclusive range of a number.
    unit : str
        Unit of a number (``dB``, ``s``, ``std``), empty when it has none.
    choices : tuple of str, optional
        The strings an ``s`` argument may take.
    repeat : bool
        One or more values of this argument (the last argument only): ``/latent/z f…``.
    """

    name: str
    kind: str
    lo: float | None = None
    hi: float | None = None
    unit: str = ""
    choices: tuple[str, ...] | None = None
    repeat: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ARG_KINDS:
            raise ValueError(
                f"argument {self.name}: kind must be one of f, i, s; got {self.kind!r}"
            )

    @property
    def curve(self) -> str:
        """How a fader or a MIDI controller sweeps the range: ``log`` for a frequency in Hz
        with a positive lower bound (equal steps, equal musical intervals), ``linear`` otherwise
        (dB, semitones and standard deviations are already logarithmic or perceptual units)."""
        return "log" if self.unit == "Hz" and self.lo is not None and self.lo > 0 else "linear"

    def describe(self) -> str:
        """``name (float, -4 .. 4 std)`` as the documentation shows it."""
        parts = [ARG_KINDS[self.kind]]
        if self.lo is not None or self.hi is not None:
            lo = "" if self.lo is None else f"{self.lo:g}"
            hi = "" if self.hi is None else f"{self.hi:g}"
            parts.append(f"{lo} .. {hi}")
        if self.unit:
            parts.append(self.unit)
        if self.choices:
            parts.append(" | ".join(self.choices))
        text = f"{self.name} ({', '.join(parts)})"
        return text + " ..." if self.repeat else text

    def convert(self, value: Any, address: str, position: int) -> Any:
        """Check one value against this argument; return it as float, int or str."""
        where = f"{address}: argument {position + 1} ({self.name})"
        if self.kind == "s":
            if not isinstance(value, str):
                raise ControlError(f"{where}: expected a string, got {_show(value)}")
            if self.choices is not None and value not in self.choices:
                raise ControlError(
                    f"{where}: expected one of {', '.join(self.choices)}, got {value!r}"
                )
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ControlError(f"{where}: expected {ARG_KINDS[self.kind]}, got {_show(value)}")
        number = float(value)
        if not math.isfinite(number):
            raise ControlError(f"{where}: expected a finite number, got {value!r}")
        if self.kind == "i":
            if number != int(number):
                raise ControlError(f"{where}: expected an integer, got {value!r}")
            number = int(number)
        if (self.lo is not None and number < self.lo) or (self.hi is not None and number > self.hi):
            raise ControlError(
                f"{where}: {value!r} is out of range [{self.lo:g}, {self.hi:g}]"
                + (f" {self.unit}" if self.unit else "")
            )
        return number


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}"


@dataclass(frozen=True)
class Control:
    """One address: its arguments, documentation, and what it does.

    Attributes
    ----------
    address : str
        OSC address, ``/section/name``.
    args : tuple of Arg
        Arguments in order; empty for messages without arguments.
    doc : str
        One line: what it does, for ``docs/osc.md`` and ``/engine/list``.
    apply : callable
        Called with the converted arguments on the DSP thread at the hop the event is due.
    get : callable, optional
        Returns the current value as a tuple, for ``/engine/get`` and scenes.
    prepare : callable, optional
        Slow work done in the posting thread, never on the DSP thread (reading a sound file,
        building a phase method): called with the converted arguments; ``apply`` then receives
        its result as its one argument. Runs the same way live and offline, so scores replay
        to the same samples.
    query : bool
        A question answered where it is received (``/engine/status``), not an event on the hop
        clock; ``apply`` then returns the reply's arguments.
    group : str
        Section of the documentation (``latent``, ``source``, ``phase``...).
    """

    address: str
    args: tuple[Arg, ...]
    doc: str
    apply: Callable[..., Any] = field(compare=False, repr=False)
    get: Callable[[], tuple] | None = field(default=None, compare=False, repr=False)
    prepare: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    query: bool = False
    group: str = ""

    def __post_init__(self) -> None:
        if not self.address.startswith("/") or " " in self.address:
            raise ValueError(
                f"control address must start with / and hold no spaces: {self.address!r}"
            )
        if any(a.repeat for a in self.args[:-1]):
            raise ValueError(f"{self.address}: only the last argument may repeat")

    @property
    def type_tags(self) -> str:
        """OSC type tags (``if``, ``f…`` for a repeated float)."""
        tags = "".join(a.kind for a in self.args)
        return tags + "…" if self.args and self.args[-1].repeat else tags

    def validate(self, args: Iterable[Any]) -> tuple:
        """Check and convert a message's arguments; raise :class:`ControlError` naming the fault."""
        values = tuple(args)
        fixed = self.args[:-1] if self.args and self.args[-1].repeat else self.args
        repeat = self.args[-1] if self.args and self.args[-1].repeat else None
        if repeat is None and len(values) != len(fixed):
            raise ControlError(
                f"{self.address}: expected {len(fixed)} argument(s) "
                f"({self.signature()}), got {len(values)}"
            )
        if repeat is not None and len(values) < len(fixed) + 1:
            raise ControlError(
                f"{self.address}: expected at least {len(fixed) + 1} argument(s) "
                f"({self.signature()}), got {len(values)}"
            )
        out = []
        for i, value in enumerate(values):
            spec = fixed[i] if i < len(fixed) else repeat
            out.append(spec.convert(value, self.address, i))  # type: ignore[union-attr]
        return tuple(out)

    def signature(self) -> str:
        """The arguments as documentation shows them; ``no arguments`` when there are none."""
        return ", ".join(a.describe() for a in self.args) or "no arguments"


class ControlTable(list):
    """A subsystem's controls as data, in the order they are documented: built by the
    subsystem, registered by whoever wires it (the engine for its own parts,
    :func:`caminos.engine.control.surface.attach` for the surface's)."""

    def add(
        self,
        address: str,
        args: tuple[Arg, ...],
        doc: str,
        apply: Callable[..., Any],
        get: Callable[[], tuple] | None = None,
        group: str = "",
        prepare: Callable[..., Any] | None = None,
        query: bool = False,
    ) -> Control:
        """Append one control: the fields of :class:`Control`, with ``group`` before
        ``prepare`` (the order the tables read best in)."""
        control = Control(address, args, doc, apply, get, prepare, query, group)
        self.append(control)
        return control


class ControlRegistry:
    """Every control the engine answers, by address.

    The engine registers its own controls; subsystems (navigation, voice) add theirs to the same
    registry, so the OSC server, scores and the documentation see one list.

    Parameters
    ----------
    overrides : mapping of str to dict, optional
        For a registry built for another job (the control process's replica, which plays no
        sound): fields of :class:`Control` that replace those of the control registered at an
        address (``{"/engine/record/stop": {"apply": ...}}``), applied as it is added.
    """

    def __init__(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._controls: dict[str, Control] = {}
        self._overrides = dict(overrides or {})

    def add(self, control: Control) -> Control:
        """Register a control; an address may be registered once."""
        if control.address in self._controls:
            raise ValueError(f"control {control.address} is registered twice")
        changes = self._overrides.get(control.address)
        if changes:
            control = replace(control, **changes)
        self._controls[control.address] = control
        return control

    def __contains__(self, address: object) -> bool:
        return address in self._controls

    def __getitem__(self, address: str) -> Control:
        try:
            return self._controls[address]
        except KeyError:
            raise ControlError(f"{address}: unknown address; /engine/list lists them") from None

    def __iter__(self) -> Iterator[Control]:
        return iter(sorted(self._controls.values(), key=lambda c: (c.group, c.address)))

    def __len__(self) -> int:
        return len(self._controls)

    def validate(self, address: str, args: Iterable[Any]) -> tuple:
        """Look up ``address`` and check ``args``; returns the converted arguments."""
        if not isinstance(address, str):
            raise ControlError(f"{address!r}: an address must be a string")
        return self[address].validate(args)


@dataclass(frozen=True, order=True)
class ControlEvent:
    """A validated control message due at a hop.

    Attributes
    ----------
    hop : int
        Index of the hop at whose start it applies.
    seq : int
        Posting order; events due at the same hop apply in this order.
    address : str
    args : tuple
        Converted arguments (what a score records).
    payload : object
        What the control's ``prepare`` made of the arguments, when it has one.
    """

    hop: int
    seq: int
    address: str = field(compare=False)
    args: tuple = field(compare=False)
    payload: Any = field(default=None, compare=False)


class ControlQueue:
    """Carries validated events from any thread to the DSP thread's hop clock.

    :meth:`post` may be called from any thread (OSC server, a controller script); it appends to a
    lock-free inbox (``deque.append`` is atomic). :meth:`due` runs on the DSP thread at the start
    of each hop: it moves the inbox into a schedule ordered by (hop, posting order) and returns
    the events due now. Posting never blocks the DSP thread; a full inbox refuses the event.

    Parameters
    ----------
    capacity : int
        Most events waiting in the inbox and schedule together; more are refused with a
        :class:`ControlError` (a runaway controller cannot exhaust memory).
    """

    def __init__(self, capacity: int = 65536) -> None:
        self.capacity = int(capacity)
        self._inbox: deque[ControlEvent] = deque()
        self._schedule: list[ControlEvent] = []
        self._seq = itertools.count()
        self._seq_lock = threading.Lock()  # held only by posting threads, never by the DSP thread
        self.refused = 0

    def post(self, address: str, args: tuple, hop: int = -1, payload: Any = None) -> None:
        """Queue a validated event for ``hop`` (``-1``: the next hop to be computed)."""
        if len(self._inbox) + len(self._schedule) >= self.capacity:
            self.refused += 1
            raise ControlError(
                f"{address}: control queue full ({self.capacity} events waiting); event dropped"
            )
        with self._seq_lock:
            seq = next(self._seq)
        self._inbox.append(ControlEvent(int(hop), seq, address, args, payload))

    def due(self, hop: int) -> list[ControlEvent]:
        """Events due at or before ``hop``, in (hop, posting) order; call once per hop."""
        self.gather(hop)
        ready = []
        event = self.next_due(hop)
        while event is not None:
            ready.append(event)
            event = self.next_due(hop)
        return ready

    def gather(self, hop: int) -> None:
        """Move the events posted since the last call into the schedule, those for a hop
        before ``hop`` (immediate ones) rescheduled at ``hop``, posting order kept; the hop
        clock's first step of each hop, then :meth:`next_due` until None (no list made)."""
        inbox, schedule = self._inbox, self._schedule
        while inbox:
            event = inbox.popleft()
            if event.hop < hop:  # immediate, or scheduled in the past: apply now, keep order
                event = ControlEvent(hop, event.seq, event.address, event.args, event.payload)
            heapq.heappush(schedule, event)

    def next_due(self, hop: int) -> ControlEvent | None:
        """The earliest gathered event due at or before ``hop``, taken; None when none is (events
        posted since :meth:`gather` wait for the next hop)."""
        schedule = self._schedule
        if schedule and schedule[0].hop <= hop:
            return heapq.heappop(schedule)
        return None

    def pending(self) -> int:
        """Events waiting (inbox and schedule)."""
        return len(self._inbox) + len(self._schedule)

    def clear(self) -> None:
        """Drop every waiting event."""
        self._inbox.clear()
        self._schedule.clear()
