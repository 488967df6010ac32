"""The shared rings moved in compiled calls (engine/live/ring_kernels.py): the same frames and
positions as SharedRing's own Python methods, all or nothing."""

from __future__ import annotations

import numpy as np

from caminos.engine.core.ring import SharedRing
from caminos.engine.live.ring_kernels import frames_held, has_room, holds, read_frames, write_frames


def test_the_kernels_move_the_frames_sharedring_moves_across_the_wrap(rng) -> None:
    ours, python = SharedRing(100, 3), SharedRing(100, 3)
    try:
        for step in range(40):  # 37 frames a step: the ring wraps again and again
            block = rng.standard_normal((37, 3))
            assert has_room(ours.frames, ours.positions, 37)
            assert write_frames(ours.frames, ours.positions, block)
            assert python.write(block.astype(np.float32)) == 37
            assert frames_held(ours.positions) == python.available() == 37
            assert holds(ours.positions, 37) and not holds(ours.positions, 38)
            got, expected = np.zeros((37, 3), np.float32), np.zeros((37, 3), np.float32)
            assert read_frames(ours.frames, ours.positions, got)
            python.read_into(expected)
            np.testing.assert_array_equal(got, expected)
            np.testing.assert_array_equal(ours.positions, python.positions)
    finally:
        ours.close()
        python.close()


def test_a_block_that_does_not_fit_or_is_not_there_moves_nothing() -> None:
    ring = SharedRing(64, 2)
    try:
        assert write_frames(ring.frames, ring.positions, np.ones((60, 2)))
        assert not has_room(ring.frames, ring.positions, 5)
        assert not write_frames(ring.frames, ring.positions, np.ones((5, 2)))
        out = np.zeros((61, 2), np.float32)
        assert not read_frames(ring.frames, ring.positions, out)
        assert not out.any()
        assert list(ring.positions) == [60, 0]
    finally:
        ring.close()
