"""numpy's random streams drawn inside hop kernels (engine/dsp/random_stream.py): numpy's very
numbers from numpy's state, and nothing allocated for a draw."""

from __future__ import annotations

import numpy as np

from caminos.engine.dsp.decorrelate import MAX_STD_RADIANS, PhaseDecorrelator
from caminos.engine.dsp.random_stream import KernelRandom, standard_normal_into
from tests.test_compiled import _peak_of_calls


def test_a_kernels_draws_are_numpys_from_the_same_state_python_draws_between() -> None:
    numpys, ours = np.random.default_rng(2026), KernelRandom(np.random.default_rng(2026))
    expected, drawn = np.zeros(1025), np.zeros(1025)
    for hop in range(400):  # ~400k draws: the ziggurat's rare tail branch is taken too
        numpys.standard_normal(out=expected)
        ours.standard_normal(drawn)
        assert np.array_equal(drawn, expected), f"hop {hop}"
        if hop % 7 == 0:  # Python's draws share the state with the kernel's
            assert ours.generator.random() == numpys.random()


def test_a_draw_allocates_nothing() -> None:
    ours = KernelRandom(np.random.default_rng(1))
    assert _peak_of_calls(standard_normal_into, ours.addresses, np.zeros(513)) == 0


def test_the_decorrelators_walk_is_the_one_numpys_generator_made() -> None:
    decorrelator = PhaseDecorrelator(513, seed=11)
    rng = np.random.default_rng(11)
    phase, noise = rng.standard_normal(513), np.zeros(513)
    for _ in range(50):
        rotation = decorrelator.step(0.7)
        rng.standard_normal(out=noise)
        phase = decorrelator.keep * phase + decorrelator.kick * noise
    np.testing.assert_allclose(rotation, np.exp(1j * 0.7 * MAX_STD_RADIANS * phase), atol=1e-12)
    decorrelator.reset()
    np.testing.assert_array_equal(decorrelator.step(0.7), PhaseDecorrelator(513, 11).step(0.7))
