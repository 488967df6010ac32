"""Each output channel's own gain and mute, ramped across the hop: ``/channel/K/gain``, ``/mute``.

After the phase stage and the output gain, before the DC blocker and the linked limiter, in
``Engine.tick()``. Channels are numbered from 1 in the room (:mod:`caminos.engine.clock.field`);
an instance playing a slice of the room answers every channel's controls and applies its own.
:meth:`ChannelGains.process` allocates nothing, and leaves a block untouched (bit for bit) while
every gain rests at 1.
"""

from __future__ import annotations

import functools

import numpy as np

from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.core.parameters import Parameter
from caminos.engine.dsp.compiled import hop_kernel


@hop_kernel
def _step_gains(
    value: np.ndarray, before: np.ndarray, targets: np.ndarray, coefficient: float
) -> bool:
    """One hop of each channel's one-pole glide from ``value`` towards ``targets`` (``before``
    keeps where it started); whether every channel rests at unity gain (nothing to ramp)."""
    resting = True
    for k in range(value.shape[0]):
        before[k] = value[k]
        difference = targets[k] - value[k]
        if abs(difference) < 1e-9:
            value[k] = targets[k]
        else:
            value[k] += coefficient * difference
        if value[k] != 1.0 or before[k] != 1.0:
            resting = False
    return resting


@hop_kernel
def _ramp_columns(block: np.ndarray, before: np.ndarray, after: np.ndarray) -> None:
    """Multiply column ``c`` of ``block`` (n, channels) by a gain ramped linearly from
    ``before[c]`` (reached at the previous block's last sample) to ``after[c]`` (at this
    block's last sample)."""
    n = block.shape[0]
    for c in range(block.shape[1]):
        step = (after[c] - before[c]) / n
        for i in range(n):
            block[i, c] *= before[c] + step * (i + 1)


class ChannelGains:
    """Per-channel gain (linear factor) and mute with one-pole smoothing per hop.

    Each room channel's gain is a :class:`~caminos.engine.core.parameters.Parameter` (set at
    once); what this instance plays ramps to it, or to 0 while muted, with the same one-pole
    step as a smoothed parameter's, applied to its columns together.

    Parameters
    ----------
    channels : sequence of int
        The room's channel number (from 1) of each output column here.
    room_channels : int
        Channels in the room: the controls answer K = 1 .. this.
    coefficient : float
        Per-hop smoothing coefficient.
    """

    def __init__(self, channels, room_channels: int, coefficient: float) -> None:
        self.channels = tuple(int(c) for c in channels)
        self.room_channels = int(room_channels)
        self.coefficient = float(coefficient)
        n = len(self.channels)
        self.gains = [
            Parameter(
                f"/channel/{c}/gain",
                Arg("gain", "f", 0.0, 4.0, "x"),
                f"gain of output channel {c} (linear amplitude factor)",
                "channel",
                1.0,
                smoothed=False,
            )
            for c in range(1, self.room_channels + 1)
        ]
        self._played = [self.gains[c - 1] for c in self.channels]  # this instance's columns'
        self.muted = np.zeros(n, dtype=np.bool_)
        self._value = np.ones(n)  # the smoothed gain applied at the last sample of a hop
        self._before = np.ones(n)
        self._targets = np.ones(n)  # this hop's target of each channel (0 when muted)
        self._column_of = {c: k for k, c in enumerate(self.channels)}

    def process(self, block: np.ndarray) -> None:
        """Ramp each column of ``block`` (hop, channels) to its channel's gain, in place."""
        targets, muted, played = self._targets, self.muted, self._played
        k, count = 0, len(muted)
        while k < count:  # (no iterator: nothing allocated)
            targets[k] = 0.0 if muted[k] else played[k].value
            k += 1
        if not _step_gains(self._value, self._before, targets, self.coefficient):
            _ramp_columns(block, self._before, self._value)

    def reset(self) -> None:
        """Gains at their targets at once (the engine's reset)."""
        for k in range(self._value.shape[0]):
            self._value[k] = 0.0 if self.muted[k] else self._played[k].value

    def controls(self) -> ControlTable:
        """``/channel/K/gain`` and ``/channel/K/mute`` for every channel of the room."""
        table = ControlTable()
        for channel in range(1, self.room_channels + 1):
            column = self._column_of.get(channel)
            table.append(self.gains[channel - 1].control())
            table.add(
                f"/channel/{channel}/mute",
                (Arg("on", "i", 0, 1),),
                f"1 mutes output channel {channel} (with the smoothing of a gain change)",
                functools.partial(self._set_mute, column),
                functools.partial(self._mute, column),
                "channel",
            )
        return table

    def _set_mute(self, column: int | None, on: int) -> None:
        if column is not None:
            self.muted[column] = bool(on)

    def _mute(self, column: int | None) -> tuple[int]:
        return (int(self.muted[column]) if column is not None else 0,)
