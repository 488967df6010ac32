"""The level keeper of a field (engine/clock/level_keeper.py): each voice played as loud as its
latent without its place asks for."""

from __future__ import annotations

import math

import numpy as np
import pytest

from caminos.engine.clock.level_keeper import FADE_STD, LIMIT_DB, SMOOTHING_S, LevelKeeper

FLOOR = 1e-3
HOP_S = 256 / 48000


def keeper(voices: int = 1) -> LevelKeeper:
    """A keeper whose level channel is the latent's first coordinate (nepers), bias 0, every
    axis of std 1."""
    level_out = np.zeros(4)
    level_out[0] = 1.0
    return LevelKeeper(voices, level_out, np.ones(4), 0.0, FLOOR, HOP_S)


PLACED = np.array([0.0, 0.0, 0.0, 1.0])  # a move of one std along an axis the level ignores


def placed(z: np.ndarray, move: np.ndarray = PLACED) -> np.ndarray:
    return z + move


def asking(level_nepers: float) -> np.ndarray:
    z = np.zeros(4)
    z[0] = level_nepers
    return z


def rms(frame: np.ndarray) -> float:
    """The level as the keeper reads it, the floor included (as the level channel's)."""
    return float(np.sqrt(np.mean((frame + FLOOR) ** 2)))


def kept(value: float, asked_rms: float) -> float:
    """What a flat frame of ``value`` becomes when brought to ``asked_rms``: the gain is read
    with the floor, and scales the frame without it."""
    return rms(np.full(1, value * asked_rms / (value + FLOOR)))


def test_a_voice_is_brought_to_the_level_its_latent_asks_for() -> None:
    keep = keeper()
    frame = np.full(513, 2.0)
    keep.process_voice(0, frame, asking(math.log(0.5)), placed(asking(math.log(0.5))), 1.0, 1.0)
    assert rms(frame) == pytest.approx(kept(2.0, 0.5), rel=1e-9)  # a first frame sets them
    assert rms(frame) == pytest.approx(0.5, rel=FLOOR / 0.5)  # the floor: 0.2 % of 0.5


@pytest.mark.parametrize("amount", [0.0, 0.5, 1.0])
def test_keep_level_moves_that_share_of_the_way_in_nepers(amount: float) -> None:
    keep = keeper()
    frame = np.full(513, 2.0)
    before = rms(frame)
    keep.process_voice(0, frame, asking(math.log(0.5)), placed(asking(math.log(0.5))), 1.0, amount)
    gain = math.exp(amount * math.log(0.5 / before))
    assert rms(frame) == pytest.approx(rms(np.full(1, 2.0 * gain)), rel=1e-9)


def test_the_powers_are_smoothed_so_one_loud_frame_barely_moves_the_gain() -> None:
    keep = keeper()
    for _ in range(400):  # settled: asked and played agree
        keep.process_voice(
            0,
            np.full(513, 0.5),
            asking(math.log(0.5 + FLOOR)),
            placed(asking(math.log(0.5 + FLOOR))),
            1.0,
            1.0,
        )
    loud = np.full(513, 5.0)  # one frame 20 dB above what the latent asks
    keep.process_voice(
        0, loud, asking(math.log(0.5 + FLOOR)), placed(asking(math.log(0.5 + FLOOR))), 1.0, 1.0
    )
    step = 1.0 - math.exp(-HOP_S / SMOOTHING_S)
    # the played power rose by step * (100 - 1) of the settled one; the gain follows its root
    played = 0.501**2 + step * (5.001**2 - 0.501**2)
    assert loud[0] == pytest.approx(5.0 * 0.501 / math.sqrt(played), rel=1e-6)
    assert rms(loud) > 2.0  # the transient is kept, not flattened to the asked level


def test_presence_fades_the_asked_level() -> None:
    keep = keeper()
    frame = np.full(513, 1.0)
    keep.process_voice(0, frame, asking(math.log(1.0)), placed(asking(math.log(1.0))), 0.5, 1.0)
    assert rms(frame) == pytest.approx(kept(1.0, 0.5), rel=1e-9)


def test_a_frame_that_is_not_finite_is_left_and_measures_nothing() -> None:
    keep = keeper(2)
    bad = np.full(513, np.nan)
    keep.process_voice(1, bad, asking(0.0), placed(asking(0.0)), 1.0, 1.0)
    assert np.all(np.isnan(bad)) and np.all(keep.powers == 0.0)
    keep.process_voice(1, np.full(513, 1.0), asking(np.inf), placed(asking(np.inf)), 1.0, 1.0)
    assert np.all(keep.powers == 0.0)


def test_voices_are_kept_each_on_its_own_and_reset_forgets() -> None:
    keep = keeper(2)
    quiet, loud = np.full(513, 0.3), np.full(513, 3.0)
    keep.process_voice(0, quiet, asking(math.log(1.0)), placed(asking(math.log(1.0))), 1.0, 1.0)
    keep.process_voice(1, loud, asking(math.log(1.0)), placed(asking(math.log(1.0))), 1.0, 1.0)
    assert rms(quiet) == pytest.approx(kept(0.3, 1.0), rel=1e-9)
    assert rms(loud) == pytest.approx(kept(3.0, 1.0), rel=1e-9)
    keep.reset()
    assert np.all(keep.powers == 0.0)


def test_a_voice_without_a_place_is_left_as_the_model_plays_it_and_the_share_fades_in() -> None:
    asked = asking(np.log(0.5))
    for move, share in ((0.0, 0.0), (0.25 * FADE_STD, 0.25), (FADE_STD, 1.0), (3.0, 1.0)):
        keep = keeper()
        frame = np.full(513, 2.0)
        keep.process_voice(0, frame, asked, placed(asked, move * PLACED), 1.0, 1.0)
        gain = np.exp(share * np.log(0.5 / rms(np.full(1, 2.0))))
        assert frame[0] == pytest.approx(2.0 * gain, rel=1e-9), move
        assert keep.powers[0, 0] > 0.0  # measured even where it does not act


@pytest.mark.parametrize("asked_db", [-40.0, 40.0])
def test_no_voice_is_moved_by_more_than_the_limit(asked_db: float) -> None:
    keep = keeper()
    frame = np.full(513, 1.0)
    asked = asking(np.log(1.0 + FLOOR) + asked_db / 20.0 * np.log(10.0))
    keep.process_voice(0, frame, asked, placed(asked), 1.0, 1.0)
    assert 20.0 * np.log10(frame[0]) == pytest.approx(np.sign(asked_db) * LIMIT_DB, abs=1e-9)
