"""The latent field: one voice per output channel, each at the field's centre plus its own place.

Between the latent mixer and the decoder in ``Engine.tick()`` (docs/architecture.md, "Many
speakers"). The mixer gives every voice the shared latent that ``/latent/*``, paths and scenes
move (the field's *centre*, each voice with its own channel of the sources); the field adds each
voice's place: its speaker's position from the layout (:mod:`caminos.engine.core.layouts`),
turned by ``/field/rotate`` and ``/field/spin`` and scaled by ``/field/spread`` on the 2-D map's
plane, so that sound moving through the latent moves through the room; the voice's own offset
on that plane (``/channel/K/xy``) and on every axis (``/channel/K/offset``); and its own slow
random walk (``/field/wander``, a seed per voice). Offsets are in standard deviations of the
latent axes. Every target glides with the engine's one-pole smoothing; :meth:`LatentField.step`
allocates nothing.

Channels are numbered from 1 as on a mixing desk and in the layout (``/channel/1/...`` is the
first speaker of the room). An instance that plays a slice of the room (``field.first_channel``,
``field.voices``: channel groups across machines) answers every channel's controls and applies
only its own, so all instances can take the same OSC messages and scores.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from caminos.engine.clock.latent import STD_BOUND, own_follow
from caminos.engine.core.parameters import Parameter
from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.dsp.compiled import hop_kernel, scale_in_place
from caminos.engine.dsp.random_stream import KernelRandom

WANDER_RATE = 0.01  # per-hop innovation of each voice's walk: about half a second at hop 256
SPREAD_MAX_STD = 8.0
SPIN_MAX_DEG_S = 360.0


@hop_kernel
def _glide(value: np.ndarray, target: np.ndarray, coefficient: float) -> None:
    """One one-pole step of every element of ``value`` towards ``target`` (snaps within 1e-9)."""
    flat_value = value.reshape(-1)
    flat_target = target.reshape(-1)
    for i in range(flat_value.shape[0]):
        difference = flat_target[i] - flat_value[i]
        if abs(difference) < 1e-9:
            flat_value[i] = flat_target[i]
        else:
            flat_value[i] += coefficient * difference


@hop_kernel
def _add_places(
    z: np.ndarray,
    positions: np.ndarray,
    cos_a: float,
    sin_a: float,
    spread: float,
    xy: np.ndarray,
    plane: np.ndarray,
    offset: np.ndarray,
    walk: np.ndarray,
    std: np.ndarray,
    level_readout: np.ndarray,
    level_shift: np.ndarray,
) -> None:
    """``z[k] += (spread * R(a) p_k + xy_k) . plane + (offset_k + walk_k) * std`` for every voice,
    and ``level_shift[k]``: that move read by the model's level channel (nepers)."""
    for k in range(z.shape[0]):
        px, py = positions[k, 0], positions[k, 1]
        x = spread * (px * cos_a - py * sin_a) + xy[k, 0]
        y = spread * (px * sin_a + py * cos_a) + xy[k, 1]
        shift = 0.0
        for j in range(z.shape[1]):
            move = x * plane[0, j] + y * plane[1, j] + (offset[k, j] + walk[k, j]) * std[j]
            z[k, j] += move
            if level_readout.shape[0]:
                shift += move * level_readout[j]
        level_shift[k] = shift


@hop_kernel
def _largest(values: np.ndarray) -> float:
    """The largest absolute value of ``values`` (no temporary array)."""
    largest = 0.0
    for v in values.reshape(-1):
        largest = max(largest, abs(v))
    return largest


@hop_kernel
def _step_walks(walk: np.ndarray, noise: np.ndarray, keep: float, kick: float) -> None:
    """One Ornstein-Uhlenbeck step of each voice's walk (``noise``: unit normal draws)."""
    for k in range(walk.shape[0]):
        for j in range(walk.shape[1]):
            walk[k, j] = keep * walk[k, j] + kick * noise[k, j]


class LatentField:
    """Each voice's place in the latent: layout, spread, rotation, own offsets and wander.

    Parameters
    ----------
    positions : ndarray, shape (voices, 2)
        This instance's speakers on the map's plane, the room centred and scaled so its farthest
        speaker sits at radius 1 (:meth:`caminos.engine.core.layouts.SpeakerLayout.offsets`).
    channels : sequence of int
        The room's channel number (from 1) of each voice.
    room_channels : int
        Speakers in the whole room: the ``/channel/K/...`` controls answer K = 1 .. this.
    latent_std : ndarray, shape (dims,)
        Standard deviation of each latent axis: offsets are given in them.
    coefficient : float
        Per-hop smoothing coefficient of every target.
    hop_seconds : float
        Duration of a hop, for ``/field/spin`` (degrees per second).
    seed : int
        Seed of the voices' walks; voice of channel K draws from ``(seed, K)``, so a channel
        sounds the same whichever instance plays it.
    spread, rotate, spin, wander, decorrelate : float
        Starting values (``[field]``): latent std, degrees, degrees per second, latent std, 0..1.
    level_readout : ndarray, shape (dims,), optional
        How the model's decoder reads the overall level from a latent (nepers per latent unit:
        ``decode`` adds ``z . level_readout`` to every bin's log magnitude, a one-comb model);
        None for a model without a level channel and for a many-pitch model, whose voices'
        levels the shape unit measures (:mod:`~.level_keeper`). With it, :meth:`step` says how
        much each voice's place moved its level, so the engine can keep the voices' levels
        (``/field/keep_level``).
    keep_level : float
        Starting ``/field/keep_level``, 0 .. 1.

    Attributes
    ----------
    decorrelate : Parameter
        The phase decorrelation amount each voice's phase stage reads
        (:class:`caminos.engine.dsp.decorrelate.PhaseDecorrelator`).
    plane : ndarray, shape (2, dims)
        The map's plane: the latent change of one std along its x and y. The navigation layer
        sets it with :meth:`set_plane` when ``/latent/plane`` changes.
    """

    def __init__(
        self,
        positions: np.ndarray,
        channels,
        room_channels: int,
        latent_std: np.ndarray,
        coefficient: float,
        hop_seconds: float,
        seed: int = 0,
        spread: float = 0.0,
        rotate: float = 0.0,
        spin: float = 0.0,
        wander: float = 0.0,
        decorrelate: float = 0.0,
        level_readout: np.ndarray | None = None,
        keep_level: float = 1.0,
    ) -> None:
        self.positions = np.ascontiguousarray(positions, dtype=np.float64).reshape(-1, 2)
        self.channels = tuple(int(c) for c in channels)
        self.voices = len(self.channels)
        if self.positions.shape[0] != self.voices:
            raise ValueError(f"{self.positions.shape[0]} positions for {self.voices} voices")
        self.room_channels = int(room_channels)
        self.std = np.asarray(latent_std, dtype=np.float64).copy()
        self.dims = len(self.std)
        self.coefficient = float(coefficient)
        self.hop_seconds = float(hop_seconds)
        self.seed = int(seed)
        self.spread = Parameter(
            "/field/spread",
            Arg("spread", "f", 0.0, SPREAD_MAX_STD, "std"),
            "how far the speakers' voices sit from the field's centre on the map's plane, in "
            "standard deviations (0: every voice at the centre)",
            "field",
            spread,
            coefficient,
        )
        self.rotate = Parameter(
            "/field/rotate",
            Arg("degrees", "f", -360.0, 360.0, "deg"),
            "turn the room on the map's plane (counter-clockwise), in degrees",
            "field",
            rotate,
            coefficient,
        )
        self.spin = Parameter(
            "/field/spin",
            Arg("rate", "f", -SPIN_MAX_DEG_S, SPIN_MAX_DEG_S, "deg/s"),
            "keep turning the room through the latent, in degrees per second (0 stops)",
            "field",
            spin,
            coefficient,
        )
        self.wander = Parameter(
            "/field/wander",
            Arg("amplitude", "f", 0.0, 4.0, "std"),
            "each voice's own slow random walk on every axis (a seed per channel), in standard "
            "deviations",
            "field",
            wander,
            coefficient,
        )
        self.decorrelate = Parameter(
            "/field/decorrelate",
            Arg("amount", "f", 0.0, 1.0),
            "each voice's own slow phase walk per bin, so voices differ even at spread 0 (0: "
            "identical voices sound as dual mono; 1: coherence about 0.1)",
            "field",
            decorrelate,
            coefficient,
        )
        self.keep_level = Parameter(
            "/field/keep_level",
            Arg("amount", "f", 0.0, 1.0),
            "1: a voice's place changes its timbre, not its loudness (each voice played as "
            "loud as its latent without the place asks, measured over a quarter second); 0: "
            "places change the level too (axis 1 of the default model is about 16 dB per std)",
            "field",
            keep_level,
            coefficient,
        )
        # every room channel's own follow; this instance's voices' are read by the mixer
        self.follows = [own_follow(c) for c in range(1, self.room_channels + 1)]
        self.voice_follows = [self.follows[c - 1] for c in self.channels]
        self.level_readout = (
            np.zeros(0)
            if level_readout is None
            else np.asarray(level_readout, dtype=np.float64).copy()
        )
        self.plane = np.zeros((2, self.dims))
        self.set_axes_plane()
        n, d = self.voices, self.dims
        self.xy_target = np.zeros((n, 2))
        self.xy = np.zeros((n, 2))
        self.offset_target = np.zeros((n, d))
        self.offset = np.zeros((n, d))
        self._walk = np.zeros((n, d))
        self._noise = np.zeros((n, d))
        self._noise_rows = list(self._noise)
        self._walking = False
        self._spin_angle = 0.0  # degrees turned by /field/spin
        self._randoms = self._seeded_randoms()
        self._voice_of = {c: k for k, c in enumerate(self.channels)}
        self.keep = 1.0 - WANDER_RATE
        self.kick = math.sqrt(WANDER_RATE * (2.0 - WANDER_RATE))

    # ------------------------------------------------------------------------------- plane
    def set_axes_plane(self) -> None:
        """The map's plane on latent axes 0 and 1 (one std each)."""
        self.plane[:] = 0.0
        self.plane[0, 0] = self.std[0]
        if self.dims > 1:
            self.plane[1, 1] = self.std[1]

    def set_plane(self, x_direction: np.ndarray, y_direction: np.ndarray) -> None:
        """The map's plane along two latent directions (rotated coordinates), each scaled to one
        std of length (its length measured in standard deviations of the axes)."""
        for row, direction in enumerate((x_direction, y_direction)):
            direction = np.asarray(direction, dtype=np.float64)
            length = float(np.linalg.norm(direction / self.std))
            self.plane[row] = direction / length if length > 0.0 else 0.0

    # ------------------------------------------------------------------------------ per hop
    def step(self, z: np.ndarray, level_shift: np.ndarray) -> None:
        """Add every voice's place to its latent ``z`` (voices, dims) in place; one hop.

        ``level_shift`` (voices,) receives how much each voice's move changed the level the
        model reads from its latent, in nepers, times ``/field/keep_level``: the engine divides
        the voice's decoded magnitudes by its exponential, so a place changes a voice's timbre,
        not its loudness (0 without a level channel)."""
        spread = self.spread.step()
        keep = self.keep_level.step()
        rotate = self.rotate.step()
        spin = self.spin.step()
        wander = self.wander.step()
        self.decorrelate.step()
        if spin != 0.0:
            self._spin_angle = (self._spin_angle + spin * self.hop_seconds) % 360.0
        _glide(self.xy, self.xy_target, self.coefficient)
        _glide(self.offset, self.offset_target, self.coefficient)
        if wander > 0.0:
            k, randoms, rows = 0, self._randoms, self._noise_rows
            while k < len(randoms):  # into each voice's row, a view made once; no iterator
                randoms[k].standard_normal(rows[k])
                k += 1
            _step_walks(self._walk, self._noise, self.keep, self.kick * wander)
            self._walking = True
        elif self._walking:  # wander off: the walks fade back to the place (no jump)
            _step_walks(self._walk, self._noise, self.keep, 0.0)
            self._walking = _largest(self._walk) > 1e-9
        angle = math.radians(rotate + self._spin_angle)
        _add_places(
            z,
            self.positions,
            math.cos(angle),
            math.sin(angle),
            spread,
            self.xy,
            self.plane,
            self.offset,
            self._walk,
            self.std,
            self.level_readout,
            level_shift,
        )
        if keep != 1.0:
            scale_in_place(level_shift, keep)

    def places(self, out: np.ndarray) -> None:
        """Each voice's place on the map's plane now, in std (voices, 2), for the page."""
        angle = math.radians(self.rotate.value + self._spin_angle)
        _places(self.positions, math.cos(angle), math.sin(angle), self.spread.value, self.xy, out)

    def reset(self) -> None:
        """Back to the start: the spin's angle, walks and own offsets; targets kept."""
        self._spin_angle = 0.0
        self._walk[:] = 0.0
        self._walking = False
        self.xy[:] = self.xy_target
        self.offset[:] = self.offset_target
        self._randoms = self._seeded_randoms()

    def _seeded_randoms(self) -> list[KernelRandom]:
        """Each voice's wander noise from its seed (the field's seed and the voice's channel),
        drawn in kernels."""
        return [KernelRandom(np.random.default_rng([self.seed, c])) for c in self.channels]

    # ----------------------------------------------------------------------------- controls
    def voice_of(self, channel: int) -> int | None:
        """The voice playing room channel ``channel`` (from 1) here; None when another
        instance plays it."""
        return self._voice_of.get(channel)

    def controls(self) -> ControlTable:
        """The ``/field/*`` controls and each channel's ``xy``, ``offset`` and ``follow``, as
        data."""
        table = ControlTable(
            parameter.control()
            for parameter in (
                self.spread,
                self.rotate,
                self.spin,
                self.wander,
                self.decorrelate,
                self.keep_level,
            )
        )
        add = table.add
        std_range = dict(lo=-STD_BOUND, hi=STD_BOUND, unit="std")
        for channel in range(1, self.room_channels + 1):
            voice = self.voice_of(channel)
            add(
                f"/channel/{channel}/xy",
                (Arg("x", "f", **std_range), Arg("y", "f", **std_range)),
                f"channel {channel}'s voice moved on the map's plane from its speaker's place, "
                "in standard deviations",
                functools.partial(self._set_xy, voice),
                functools.partial(self._xy, voice),
                "channel",
            )
            add(
                f"/channel/{channel}/offset",
                (Arg("offset", "f", repeat=True, **std_range),),
                f"channel {channel}'s voice offset on the first N latent axes (N <= "
                f"{self.dims}), in standard deviations",
                functools.partial(self._set_offset, voice),
                functools.partial(self._offsets, voice),
                "channel",
            )
            table.append(self.follows[channel - 1].control())
        return table

    def _set_xy(self, voice: int | None, x: float, y: float) -> None:
        if voice is not None:
            self.xy_target[voice] = (x, y)

    def _xy(self, voice: int | None) -> tuple[float, float]:
        if voice is None:
            return (0.0, 0.0)
        return (float(self.xy_target[voice, 0]), float(self.xy_target[voice, 1]))

    def _set_offset(self, voice: int | None, *values: float) -> None:
        if voice is not None:
            n = min(len(values), self.dims)
            self.offset_target[voice, :n] = values[:n]

    def _offsets(self, voice: int | None) -> tuple:
        if voice is None:
            return (0.0,) * self.dims
        return tuple(float(v) for v in self.offset_target[voice])


@hop_kernel
def _places(
    positions: np.ndarray, c: float, s: float, spread: float, xy: np.ndarray, out: np.ndarray
) -> None:
    """:meth:`LatentField.places`: each voice's place turned by the angle of cosine ``c`` and
    sine ``s``, times ``spread``, plus its own ``xy``."""
    for k in range(positions.shape[0]):
        px, py = positions[k, 0], positions[k, 1]
        out[k, 0] = spread * (px * c - py * s) + xy[k, 0]
        out[k, 1] = spread * (px * s + py * c) + xy[k, 1]
