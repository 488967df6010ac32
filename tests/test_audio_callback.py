"""The audio process's callback on its own: what it copies and counts when the hop clock keeps
up and when it falls behind (engine/live/audio_process.py)."""

from __future__ import annotations

import numpy as np
import pytest

from caminos.engine.core.ring import SharedCounters, SharedRing
from caminos.engine.live.audio_process import _make_callback
from caminos.engine.live.doorbell import Doorbell
from caminos.engine.live.shared import AUDIO_COUNTERS

FRAMES, CHANNELS = 256, 2


@pytest.fixture
def parts():
    ring = SharedRing(8 * FRAMES, CHANNELS)
    counters = SharedCounters(AUDIO_COUNTERS)
    doorbell = Doorbell()
    yield ring, counters, doorbell
    for part in (ring, counters, doorbell):
        part.close()


def _play(callback, ring: SharedRing, pattern: str) -> np.ndarray:
    """One callback per letter: ``h`` with a hop waiting in the ring, ``.`` with none."""
    out = np.full((FRAMES, CHANNELS), np.nan, dtype=np.float32)
    heard = []
    for k, step in enumerate(pattern):
        if step == "h":
            ring.write(np.full((FRAMES, CHANNELS), k + 1, dtype=np.float32))
        callback(None, out, FRAMES, None, None)
        heard.append(out[:, 0].copy())
    return np.concatenate(heard)


def test_runs_of_short_callbacks_count_as_one_gap_each(parts) -> None:
    ring, counters, doorbell = parts
    callback = _make_callback(ring, None, counters, doorbell)
    heard = _play(callback, ring, "hh...h.hhh....h")
    assert counters["callbacks"] == 15 and counters["underruns"] == 8
    assert counters["holes"] == 3  # "...", "." and "...."
    assert counters["longest_hole"] == 4
    assert counters["hole_run"] == 0  # the last callback was whole
    gaps = heard.reshape(15, FRAMES)[[2, 3, 4, 6, 10, 11, 12, 13]]
    assert not gaps.any()  # silence where the hops were missing, never what was there before
    assert heard[FRAMES * 14] == 15.0


def test_a_gap_still_open_is_counted_and_measured(parts) -> None:
    ring, counters, doorbell = parts
    callback = _make_callback(ring, None, counters, doorbell)
    _play(callback, ring, "h.....")
    assert counters["holes"] == 1 and counters["longest_hole"] == 5 and counters["hole_run"] == 5
