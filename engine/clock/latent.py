"""Latent mixing: the sources' latents, a path position, offsets and noise into one ``z`` per hop.

Fourth stage of ``Engine.tick()`` (docs/architecture.md), between the batched encode and the
decode. Coordinates are the model's rotated latent (axis 0 varies most, 0 is the training mean);
offsets and noise are given in standard deviations of each axis and scaled here. Every control
moves a target; the value used follows it with a one-pole smoother stepped once per hop, so
nothing jumps. :meth:`LatentMixer.mix_voices` allocates no arrays.
"""

from __future__ import annotations

import math

import numpy as np

from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.core.parameters import Parameter
from caminos.engine.dsp.compiled import (
    any_nonzero,
    dot_into,
    hop_kernel,
    pairwise_sum,
    scale_in_place,
    scaled_into,
)
from caminos.engine.dsp.random_stream import KernelRandom

# Latent offsets and points in standard deviations of each axis are accepted within this bound
# (the /latent/*, /path/* and /landmark/* controls), and written back within it.
STD_BOUND = 8.0


def own_follow(channel: int) -> Parameter:
    """``/channel/K/follow``: a voice's own follow, -1 .. 1 (below 0: the shared
    ``/latent/follow``); set at once, the mixer glides to and from it."""
    return Parameter(
        f"/channel/{channel}/follow",
        Arg("follow", "f", -1.0, 1.0),
        f"channel {channel}'s voice's own follow: 0 = its path or the shared one "
        "... 1 = its sources; -1 = the shared /latent/follow",
        "channel",
        -1.0,
        smoothed=False,
    )


class LatentMixer:
    """Mixes the latent sources of one hop into the ``z`` the decoder receives.

    ``z = follow * z_sources + (1 - follow) * z_path + std * (offset + noise) + pitch * d``, where
    ``z_sources`` is the gain-weighted mean of the sounding sources' latents (held while frozen),
    ``z_path`` the path position (0, the mean sound, when no path plays), ``offset`` the per-axis
    offsets and ``noise`` a random walk, both in standard deviations, and ``pitch * d`` a
    transposition in semitones along the model's pitch channel (``d``: the latent change of one
    semitone; zero for a model without a pitch channel).

    Parameters
    ----------
    latent_std : ndarray, shape (dims,)
        Standard deviation of each latent axis over the training data.
    coefficient : float
        Per-hop smoothing coefficient
        (:func:`~caminos.engine.core.parameters.smoothing_coefficient`).
    seed : int
        Seed of the random walk, so renders repeat.
    noise_rate : float
        Per-hop innovation of the random walk relative to its amplitude (how fast it wanders):
        0.05 at hop 256 and 48 kHz wanders over about a tenth of a second.
    pitch_direction : ndarray, shape (dims,), optional
        Latent change of a one-semitone transposition; None for a model without pitch channel.
    voice_follows : list of Parameter, optional
        One per output voice mixed every hop (:meth:`mix_voices`): its own follow
        (``/channel/K/follow``, the field's; below 0: the shared one). Each voice has its own
        sources' latent (its channel of each source), presence, and optionally its own path.
        Default: one voice on the shared follow.
    """

    def __init__(
        self,
        latent_std: np.ndarray,
        coefficient: float,
        seed: int = 0,
        noise_rate: float = 0.05,
        pitch_direction: np.ndarray | None = None,
        voice_follows: list[Parameter] | None = None,
    ) -> None:
        self.std = np.asarray(latent_std, dtype=np.float64).copy()
        self.dims = len(self.std)
        self.coefficient = float(coefficient)
        self.noise_rate = float(noise_rate)
        self.seed = int(seed)
        self.offset_target = np.zeros(self.dims)
        self.offset = np.zeros(self.dims)
        self.follow = Parameter(
            "/latent/follow",
            Arg("follow", "f", 0.0, 1.0),
            "0 = the path position only ... 1 = the sources only",
            "latent",
            1.0,
            coefficient,
        )
        self.noise = Parameter(
            "/latent/noise",
            Arg("amplitude", "f", 0.0, 4.0, "std"),
            "amplitude of a slow random walk added to every axis, in standard deviations",
            "latent",
            0.0,
            coefficient,
        )
        self.pitch = Parameter(
            "/latent/pitch",
            Arg("semitones", "f", -24.0, 24.0, "semitones"),
            "transpose the decoded sound along the model's pitch channel (partials move, the "
            "timbre stays), in semitones",
            "latent",
            0.0,
            coefficient,
        )
        self.pitch_direction = (
            np.zeros(self.dims)
            if pitch_direction is None
            else np.asarray(pitch_direction, dtype=np.float64).copy()
        )
        self._transpose = np.zeros(self.dims)
        self.frozen = False
        self.path_position = np.zeros(self.dims)
        self.path_active = False
        self.voice_follow = list(voice_follows) if voice_follows is not None else [own_follow(1)]
        self.voices = len(self.voice_follow)
        self._held = np.zeros((self.voices, self.dims))  # each voice's sources' latent
        self._presence = np.zeros(self.voices)  # each voice's presence (the smoothed value)
        self._walk = np.zeros(self.dims)
        self._innovation = np.zeros(self.dims)
        self._sources = np.zeros(self.dims)
        self._random = KernelRandom(np.random.default_rng(self.seed))
        # each voice's follow this hop: the shared one, or gliding to and from its own
        self.voice_follow_value = np.ones(self.voices)
        self._follow_settled = np.ones(self.voices, dtype=np.bool_)  # on the shared one
        # A voice's own path (a voice playing its own path: /channel/K/path/play), written by
        # the field's path players.
        self.voice_path_position = np.zeros((self.voices, self.dims))
        self.voice_path_active = np.zeros(self.voices, dtype=np.bool_)
        # The arrays the mixing kernel keeps between hops, as one argument: numba's dispatcher
        # allocates for a call of more than 16 (mix_voice_rows would take 17).
        self._mix_state = (
            self.voice_follow_value,
            self._held,
            self._presence,
            self.voice_path_active,
            self.voice_path_position,
            self.path_position,
            self._innovation,
            self._transpose,
            self._sources,
        )
        # One voice's views for mix(), made once.
        self._one_weights = np.zeros((1, 0))
        self._one_out = np.zeros((1, self.dims))
        self._one_presence = np.zeros(1)

    def reset(self) -> None:
        """Back to the start-up state: no offsets, no noise, follow 1, not frozen."""
        self.offset_target[:] = 0.0
        self.offset[:] = 0.0
        self.follow.jump(1.0)
        self.noise.jump(0.0)
        self.pitch.jump(0.0)
        self.frozen = False
        self.path_position[:] = 0.0
        self.path_active = False
        self._held[:] = 0.0
        self._presence[:] = 0.0
        self._walk[:] = 0.0
        self._random = KernelRandom(np.random.default_rng(self.seed))
        for follow in self.voice_follow:
            follow.jump(-1.0)
        self.voice_follow_value[:] = 1.0
        self._follow_settled[:] = True
        self.voice_path_position[:] = 0.0
        self.voice_path_active[:] = False

    def set_axis(self, axis: int, value_std: float) -> None:
        """Target offset of one axis, in standard deviations."""
        self.offset_target[axis] = value_std

    def set_offsets(self, values_std) -> None:
        """Target offsets of the first ``len(values_std)`` axes, in standard deviations."""
        n = min(len(values_std), self.dims)
        self.offset_target[:n] = values_std[:n]

    def freeze(self, on: bool) -> None:
        """Hold the sources' latent where it is now (offsets, noise and path still move)."""
        self.frozen = bool(on)

    def controls(self, pitch: bool) -> ControlTable:
        """The ``/latent/*`` controls of the mixer, as data; ``/latent/pitch`` only for a model
        with a pitch channel."""
        table = ControlTable()
        add = table.add
        std_range = dict(lo=-STD_BOUND, hi=STD_BOUND, unit="std")
        add(
            "/latent/z",
            (Arg("offset", "f", repeat=True, **std_range),),
            f"offsets of the first N latent axes (N <= {self.dims}), in standard deviations",
            self._set_offset_args,
            self._offset_targets,
            "latent",
        )
        add(
            "/latent/axis",
            (Arg("axis", "i", 0, self.dims - 1), Arg("offset", "f", **std_range)),
            "offset of one latent axis (0 varies most), in standard deviations",
            self.set_axis,
            None,
            "latent",
        )
        table.append(self.follow.control())
        table.append(self.noise.control())
        add(
            "/latent/freeze",
            (Arg("on", "i", 0, 1),),
            "1 holds the sources' latent where it is (offsets, noise, path still move)",
            self.freeze,
            self._frozen_state,
            "latent",
        )
        if pitch:
            table.append(self.pitch.control())
        return table

    def _set_offset_args(self, *values_std: float) -> None:
        self.set_offsets(values_std)

    def _offset_targets(self) -> tuple:
        return tuple(self.offset_target)

    def _frozen_state(self) -> tuple[int]:
        return (int(self.frozen),)

    def mix(self, z_sources: np.ndarray, weights: np.ndarray, out: np.ndarray) -> float:
        """Mix one hop of a single-voice mixer (``voices=1``).

        Parameters
        ----------
        z_sources : ndarray, shape (n_sources, dims)
            Each source's latent this hop (rows of idle sources are ignored).
        weights : ndarray, shape (n_sources,)
            Each source's weight: its gain while it sounds, 0 while idle.
        out : ndarray, shape (dims,)
            Receives ``z``.

        Returns
        -------
        float
            Presence in [0, 1] (see :meth:`mix_voices`).
        """
        if self._one_weights.shape[1] != len(weights):
            self._one_weights = np.zeros((1, len(weights)))
        self._one_weights[0] = weights
        self.mix_voices(z_sources, self._one_weights, self._one_out, self._one_presence)
        out[:] = self._one_out[0]
        return float(self._one_presence[0])

    def mix_voices(
        self, z_rows: np.ndarray, weights: np.ndarray, out: np.ndarray, presence: np.ndarray
    ) -> None:
        """Mix one hop for every voice.

        Parameters
        ----------
        z_rows : ndarray, shape (n_rows, dims)
            Each source channel's latent this hop (rows of idle channels are ignored).
        weights : ndarray, shape (voices, n_rows)
            Each voice's weight of each row: the gain of the source channel the voice follows
            while it sounds, 0 for rows the voice does not follow and for idle ones.
        out : ndarray, shape (voices, dims)
            Receives each voice's ``z``.
        presence : ndarray, shape (voices,)
            Receives each voice's presence in [0, 1]: the smoothed share of its mix that has
            something to decode (sounding sources, or a playing path). The engine scales the
            decoded magnitudes by it, so a stopped source fades out instead of decoding the
            mean sound.
        """
        follow_shared = self.follow.step()
        noise = self.noise.step()
        glide(self.offset, self.offset_target, self.coefficient)
        if noise > 0.0 or any_nonzero(self._walk):
            self._step_walk(noise)
        np.add(self.offset, self._walk, out=self._innovation)
        self._innovation *= self.std
        semitones = self.pitch.step()
        if semitones != 0.0:
            scaled_into(self.pitch_direction, semitones, self._transpose)
        k = 0
        while k < self.voices:  # (no iterator: nothing allocated)
            self._voice_follow(k, follow_shared)
            k += 1
        mix_voice_rows(
            z_rows,
            weights,
            self.frozen,
            self.coefficient,
            self.path_active,
            semitones != 0.0,
            self._mix_state,
            out,
            presence,
        )

    def _voice_follow(self, k: int, shared: float) -> None:
        """Voice ``k``'s follow this hop into ``voice_follow_value[k]``: the shared one, or its
        own (``voice_follow`` >= 0), gliding with the mixer's smoothing between them so a change
        never jumps."""
        own = self.voice_follow[k].value
        value = self.voice_follow_value.item(k)  # a Python float: no numpy scalar made
        if own < 0.0 and self._follow_settled[k]:
            follow = shared
        else:
            target = shared if own < 0.0 else float(own)
            difference = target - value
            if abs(difference) < 1e-9:
                follow = target
                self._follow_settled[k] = own < 0.0
            else:
                follow = float(value + self.coefficient * difference)
                self._follow_settled[k] = False
        self.voice_follow_value[k] = follow

    def _step_walk(self, amplitude: float) -> None:
        """A mean-reverting random walk (Ornstein-Uhlenbeck) with stationary std ``amplitude``."""
        rate = self.noise_rate
        self._random.standard_normal(self._innovation)
        scale_in_place(self._walk, 1.0 - rate)
        scale_in_place(self._innovation, amplitude * math.sqrt(rate * (2.0 - rate)))
        np.add(self._walk, self._innovation, out=self._walk)


@hop_kernel
def glide(position: np.ndarray, target: np.ndarray, coefficient: float) -> None:
    """One step of a one-pole smoother in place: ``position += coefficient * (target -
    position)``, element by element, allocation-free (the mixer's offsets, a path's position,
    each hop). Unlike the field's glide it never snaps to the target: the same numbers as the
    numpy expression it replaced."""
    for j in range(position.shape[0]):
        position[j] += coefficient * (target[j] - position[j])


@hop_kernel
def mix_voice_rows(
    z_rows: np.ndarray,
    weights: np.ndarray,
    frozen: bool,
    coefficient: float,
    path_active: bool,
    transposing: bool,
    state: tuple,
    out: np.ndarray,
    presence: np.ndarray,
) -> None:
    """Every voice's ``z`` for one hop (:meth:`LatentMixer.mix_voices`), allocation-free.

    ``state`` is ``(follows, held, presence_state, voice_path_active, voice_path_position,
    path_position, innovation, transpose, sources)``, the mixer's arrays (``_mix_state``).

    Voice ``k`` mixes the rows ``z_rows`` (rows, dims) by its ``weights[k]`` (summed as
    numpy sums a row; the mean is held in ``held[k]`` while ``frozen`` or silent), then
    ``z = held * follow + (1 - follow) * path + innovation (+ transpose)``, its path its own
    (``voice_path_position[k]`` while ``voice_path_active[k]``) or the shared ``path_position``;
    its ``presence_state[k]`` steps towards what it has to decode with the one-pole
    ``coefficient`` and is copied to ``presence[k]``. Each number is computed in the order the
    numpy expressions before it computed it (the weighted mean through BLAS, as ``np.dot``), so
    a render is the same to the bit. ``sources`` (dims,) is scratch.
    """
    follows, held, presence_state, voice_path_active = state[0], state[1], state[2], state[3]
    voice_path_position, path_position, innovation = state[4], state[5], state[6]
    transpose, sources = state[7], state[8]
    for k in range(out.shape[0]):
        follow = follows[k]
        total = pairwise_sum(weights[k], 0, weights.shape[1])  # numpy's row sum, to the bit
        if not frozen:
            if total > 0.0:
                dot_into(weights[k], z_rows, sources)
                scale = 1.0 / total
                for j in range(sources.shape[0]):
                    held[k, j] = sources[j] * scale
            sounding = min(total, 1.0)
        else:
            sounding = 1.0
        own_path = voice_path_active[k]
        active = 1.0 if (own_path or path_active) else 0.0
        target = follow * sounding + (1.0 - follow) * active
        difference = target - presence_state[k]  # a Parameter's step, per voice
        if abs(difference) < 1e-9:
            presence_state[k] = target
        else:
            presence_state[k] += coefficient * difference
        presence[k] = presence_state[k]
        rest = 1.0 - follow
        for j in range(out.shape[1]):
            value = held[k, j] * follow
            if follow < 1.0:
                value += rest * (voice_path_position[k, j] if own_path else path_position[j])
            value += innovation[j]
            if transposing:
                value += transpose[j]
            out[k, j] = value
