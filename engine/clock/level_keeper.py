"""Even loudness across a field's voices: each voice held at the level its latent asks for.

A voice's place moves its latent, and with it the level its frames decode to. For a one-comb
model that change is the level channel's, linear in the move, and the field undoes it exactly
(:class:`~caminos.engine.clock.field.LatentField`, ``level_shift``). A many-pitch model's
decoded level also moves with its free peaks, its comb heights and its learnt shape, and the
texture stage moves it again; both bend across the map, differently where each source lies. A
slope measured at the map's centre left a ring of four voices 3 to 16 dB apart around a playing
file, depending on the model and the texture.

So the keeper measures what each voice plays: the level of its frame once decoded, corrected
and textured (the log RMS over bins, as the model's level channel reads an input frame), against
the level its latent *without its place* asks for (the level channel read from that latent: its
source's, its path's or its landmark's level). Both are smoothed over about a quarter of a
second, as powers, so that loud frames weigh as they are heard, and the frame is scaled by
the square root of their ratio (times ``/field/keep_level``, in nepers). A place then changes
a voice's timbre, not its loudness; every voice plays as loud as what it follows, and a
stereo source keeps its image. Each voice is measured on its own frames only, so a room split
in channel groups renders the same samples in every group.

What is corrected is what a place does, so a voice without one is left as the model plays it:
the correction fades in over the first :data:`FADE_STD` standard deviations of the voice's move
(spread, offsets, wander). At spread 0 the keeper changed each channel of a stereo recording by
its own small level error, and the recordings' worst bands moved 1.05 dB from their image at the
median instead of 0.92 without it (``benchmarks/field.py --measures stereo``).

The kernel writes into arrays made once (no allocation per hop).
"""

from __future__ import annotations

import math

import numpy as np

from caminos.engine.dsp.compiled import hop_kernel

# One-pole time constant of each voice's two powers, seconds: a loudness, not a frame's flicker.
SMOOTHING_S = 0.25
# The correction's share grows from 0 to 1 as the voice's move grows to this many standard
# deviations (the root of the sum of its squared offsets from its unmoved latent, in stds).
FADE_STD = 0.5
# The largest correction either way, dB: a place may move a voice's level by 30 dB and more, and
# lifting a nearly silent frame by as much raises its noise with it. Uncapped, the live
# 8-speaker case (`benchmarks/engine.py --live --cases field_8`) had voices corrected by -33 to
# +25 dB and 10 to 13 engine underruns a minute (2 to 3 with keep_level 0); capped, none in two
# runs. What made the uncapped hops late was not isolated.
LIMIT_DB = 18.0
LIMIT_NEPERS = LIMIT_DB * math.log(10.0) / 20.0


@hop_kernel
def keep_voice_level(
    frame: np.ndarray,
    unmoved_z: np.ndarray,
    moved_z: np.ndarray,
    std: np.ndarray,
    level_out: np.ndarray,
    level_bias: float,
    presence: float,
    floor: float,
    coefficient: float,
    keep: float,
    powers: np.ndarray,
) -> None:
    """Scale one voice's ``frame`` (bins,) in place toward the level its latent asks for.

    ``powers`` (2,) holds the voice's smoothed played and asked mean squares, updated here by
    ``coefficient`` (a first frame sets them); the frame is scaled by
    ``(asked / played) ** (share / 2)``, at most :data:`LIMIT_DB` either way, ``share`` being
    ``keep`` times the voice's move from ``unmoved_z`` to ``moved_z`` over :data:`FADE_STD` (in
    ``std`` units), at most ``keep``.
    Played is the mean of ``(frame + floor) ** 2`` over bins, asked ``presence ** 2 *
    exp(2 * (unmoved_z . level_out + level_bias))``."""
    n = frame.shape[0]
    played = 0.0
    for b in range(n):
        m = frame[b] + floor
        played += m * m
    played /= n
    level = level_bias
    for j in range(unmoved_z.shape[0]):
        level += unmoved_z[j] * level_out[j]
    asked = presence * presence * math.exp(2.0 * level)
    if not (math.isfinite(played) and math.isfinite(asked)) or played <= 0.0:
        return
    if powers[0] <= 0.0:
        powers[0], powers[1] = played, asked
    else:
        powers[0] += coefficient * (played - powers[0])
        powers[1] += coefficient * (asked - powers[1])
    if powers[1] <= 0.0:
        return
    moved = 0.0
    for j in range(moved_z.shape[0]):
        step = (moved_z[j] - unmoved_z[j]) / std[j]
        moved += step * step
    share = keep * min(math.sqrt(moved) / FADE_STD, 1.0)
    if share <= 0.0:
        return
    correction = min(max(0.5 * math.log(powers[1] / powers[0]), -LIMIT_NEPERS), LIMIT_NEPERS)
    gain = math.exp(share * correction)
    for b in range(n):
        frame[b] *= gain


class LevelKeeper:
    """Each voice of a field held at the level its latent asks for (see the module).

    Parameters
    ----------
    voices : int
        Voices of this engine.
    level_out : ndarray, shape (dims,)
        The level channel's read-back from the latent, nepers per unit of ``z``
        (:class:`~caminos.models.shape.HopModel`).
    latent_std : ndarray, shape (dims,)
        Each axis's standard deviation, the unit of a move.
    level_bias : float
        Its constant, nepers.
    floor : float
        The model's magnitude floor, added before the level is read, as the level channel's.
    hop_seconds : float
        Seconds per hop, for the smoothing.
    """

    def __init__(
        self,
        voices: int,
        level_out: np.ndarray,
        latent_std: np.ndarray,
        level_bias: float,
        floor: float,
        hop_seconds: float,
    ) -> None:
        self.level_out = np.ascontiguousarray(level_out, dtype=np.float64)
        self.std = np.maximum(np.asarray(latent_std, dtype=np.float64), 1e-12)
        self.level_bias = float(level_bias)
        self.floor = float(floor)
        self.coefficient = 1.0 - math.exp(-hop_seconds / SMOOTHING_S)
        self.powers = np.zeros((voices, 2))
        self.power_rows = list(self.powers)  # views made once

    def process_voice(
        self,
        voice: int,
        frame: np.ndarray,
        unmoved_z: np.ndarray,
        moved_z: np.ndarray,
        presence: float,
        keep: float,
    ) -> None:
        """Scale ``frame`` (bins,), the voice's magnitudes as it will play them, by ``keep``
        (0 .. 1) of the way to the level its latent without its place ``unmoved_z`` (dims,)
        asks for, at ``presence`` (0 .. 1), faded in by its move to ``moved_z`` (dims,)."""
        keep_voice_level(
            frame,
            unmoved_z,
            moved_z,
            self.std,
            self.level_out,
            self.level_bias,
            presence,
            self.floor,
            self.coefficient,
            keep,
            self.power_rows[voice],
        )

    def reset(self) -> None:
        """Forget the measured powers."""
        self.powers.fill(0.0)
