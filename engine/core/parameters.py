"""Parameters: one type for every continuous control, with its range, unit, curve and smoother.

A :class:`Parameter` owns what a continuous control is: the value the audio reads, the target a
message sets, the one-pole smoother that moves the value to the target once per hop, the range
and unit of its argument (an :class:`~caminos.engine.core.controls.Arg`), how a fader or a MIDI
controller should sweep it (:attr:`Parameter.curve`), and the
:class:`~caminos.engine.core.controls.Control` that the registry, OSC, scores, scenes, MIDI and
the control page see (:meth:`Parameter.control`). A subsystem keeps its parameters as attributes,
reads ``.value`` where it computes, steps the smoothed ones once per hop, and lists them in its
control table; nothing else adapts a message to a setter.
"""

from __future__ import annotations

import math
from typing import Callable

from caminos.engine.core.controls import Arg, Control

SNAP = 1e-9
"""A smoothed value within this of its target lands on it (no endless tail of tiny steps)."""
DB_FLOOR = 1e-12
"""The smallest linear factor a decibel parameter reports (-240 dB), so silence has a level."""


def smoothing_coefficient(smoothing_ms: float, hop: int, sample_rate: int) -> float:
    """Per-hop coefficient of a one-pole smoother with time constant ``smoothing_ms``.

    Parameters
    ----------
    smoothing_ms : float
        Time constant, in milliseconds; 0 or less: no smoothing.
    hop : int
        Samples per step.
    sample_rate : int
        In Hz.

    Returns
    -------
    float
        1 (no smoothing) for a zero time constant; 0.22 for 20 ms at hop 256 and 48 kHz.
    """
    if smoothing_ms <= 0.0:
        return 1.0
    return 1.0 - math.exp(-hop / (smoothing_ms * 1e-3 * sample_rate))


class Parameter:
    """One continuous control: its value, its target, its smoother, its argument and control.

    Parameters
    ----------
    address : str
        OSC address (``/latent/noise``).
    arg : Arg
        Its one argument: name, range and unit as a message gives it (a ``dB`` argument of a
        parameter with ``decibels`` set is converted to a linear factor).
    doc : str
        One line for ``docs/osc.md`` and ``/engine/list``.
    group : str
        Section of the documentation.
    value : float
        Initial value, in the engine's units (a linear factor for a decibel parameter).
    coefficient : float, optional
        Per-hop coefficient of the one-pole smoother (:func:`smoothing_coefficient`); the value
        follows the target each :meth:`step`.
    smoothed : bool, optional
        False: a message sets the value at once and nothing steps it (a speed, a duration).
    decibels : bool, optional
        The argument is in dB and the value a linear amplitude factor.
    changed : callable, optional
        Called with a message's argument after it set the parameter, for what must follow it
        outside the audio (the voice's worker process phrasing with a new pitch).

    Attributes
    ----------
    value : float
        What the audio reads.
    target : float
        Where the value goes, in the engine's units.
    """

    __slots__ = (
        "value",
        "target",
        "coefficient",
        "smoothed",
        "decibels",
        "address",
        "arg",
        "doc",
        "group",
        "changed",
    )

    def __init__(
        self,
        address: str,
        arg: Arg,
        doc: str,
        group: str,
        value: float,
        coefficient: float = 1.0,
        smoothed: bool = True,
        decibels: bool = False,
        changed: Callable[[float], None] | None = None,
    ) -> None:
        if arg.kind != "f" or arg.repeat:
            raise ValueError(f"{address}: a parameter takes one float argument")
        self.address, self.arg, self.doc, self.group = address, arg, doc, group
        self.coefficient = float(coefficient)
        self.smoothed = bool(smoothed)
        self.decibels = bool(decibels)
        self.changed = changed
        self.value = self.target = float(value)

    # ---------------------------------------------------------------- the audio's side
    def step(self) -> float:
        """Advance one hop toward the target; returns the new value (it lands on the target
        within :data:`SNAP`)."""
        difference = self.target - self.value
        if abs(difference) < SNAP:
            self.value = self.target
        else:
            self.value += self.coefficient * difference
        return self.value

    def jump(self, value: float) -> None:
        """Set value and target at once, in the engine's units (start-up, reset)."""
        self.target = self.value = float(value)

    # ------------------------------------------------------------ the control's side
    def set(self, argument: float) -> None:
        """A message's argument: move the target (the value follows from the next hop), or,
        unsmoothed, the value at once."""
        target = 10.0 ** (argument / 20.0) if self.decibels else float(argument)
        self.target = target
        if not self.smoothed:
            self.value = target
        if self.changed is not None:
            self.changed(argument)

    def get(self) -> tuple[float]:
        """The target as a message gives it (``/engine/get``, scenes)."""
        if self.decibels:
            return (20.0 * math.log10(max(self.target, DB_FLOOR)),)
        return (self.target,)

    @property
    def curve(self) -> str:
        """How a fader sweeps the range (:attr:`~caminos.engine.core.controls.Arg.curve`)."""
        return self.arg.curve

    def control(
        self, address: str | None = None, doc: str | None = None, group: str | None = None
    ) -> Control:
        """The control that sets and reads this parameter; another ``address`` (with its own
        ``doc`` and ``group``) makes an alias of it (``/voice/gain`` for
        ``/source/voice/gain``)."""
        return Control(
            address or self.address,
            (self.arg,),
            doc or self.doc,
            self.set,
            self.get,
            group=group or self.group,
        )

    def __repr__(self) -> str:
        return f"Parameter({self.address}, value={self.value:g}, target={self.target:g})"
