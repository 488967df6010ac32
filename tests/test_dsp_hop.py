"""The DSP process's hop (engine/live/hop_loop.py), in this process: what one hop
allocates around ``Engine.tick`` (the rings, the meter, the spectrum tap, the counters).

The loop is built as the DSP process builds it, on shared blocks this test makes: the output
ring (and an input ring, read each hop), the counters, the control flags, the spectrum tap and
the tick times. No device: the test drains the output ring itself, as the audio callback would.
"""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from caminos.engine.clock.status import TIMING_WINDOW
from caminos.engine.core.config import load_config
from caminos.engine.core.ring import SharedArray, SharedCounters, SharedRing
from caminos.engine.dsp.spectrum_tap import SpectrumTap
from caminos.engine.live.doorbell import Doorbell
from caminos.engine.live.dsp_process import build_engine
from caminos.engine.live.hop_loop import HopLoop
from caminos.engine.live.shared import AUDIO_COUNTERS, CONTROL_FLAGS, DSP_COUNTERS, ProcessSetup
from tests.allocation import allocated_at_peak


class HopRig:
    """A HopLoop of ``channels`` voices (a ring of that many speakers; mono at 1) with one input
    channel, and the blocks it runs on (closed by :meth:`close`)."""

    def __init__(self, channels: int, **settings) -> None:
        layout = "mono" if channels == 1 else f"ring-{channels}"
        overrides = {"audio.channels": channels, "field.layout": layout, **settings}
        config = load_config(overrides=overrides)
        hop = config.stft.hop
        frames = config.audio.buffer_hops * hop + max(config.audio.block_size, hop)
        self.out_ring = SharedRing(frames, channels)
        self.in_ring = SharedRing(2 * frames, 1)
        self.blocks = [
            self.out_ring,
            self.in_ring,
            SharedCounters(AUDIO_COUNTERS),
            SharedCounters(DSP_COUNTERS),
            SharedCounters(CONTROL_FLAGS),
            SpectrumTap(voices=channels),
            SharedArray(TIMING_WINDOW),
        ]
        _, _, audio, dsp, control, tap, times = self.blocks
        self.doorbell = Doorbell()
        setup = ProcessSetup(
            config,
            self.out_ring.name,
            self.in_ring.name,
            frames,
            channels,
            1,
            audio.name,
            dsp.name,
            control.name,
            tap.name,
            times.name,
            doorbell=self.doorbell,
        )
        self.engine, surface = build_engine(setup, times, None, False)
        # the control process's pipe: nothing is sent, but each hop asks whether it was
        self.events, self.sender = multiprocessing.Pipe(duplex=False)
        self.loop = HopLoop(setup, self.engine, surface, dsp, control, self.events)
        self.hop = hop
        self.device = np.zeros((hop, channels), dtype=np.float32)  # what the callback reads
        self.input = np.zeros((hop, 1), dtype=np.float32)

    def hop_once(self) -> int:
        """Feed one hop of input, run one hop, drain it; returns what the hop allocated at its
        peak, in bytes."""
        self.in_ring.write(self.input)
        allocated = allocated_at_peak(self.loop._hop)
        self.out_ring.read_into(self.device)
        return allocated

    def close(self) -> None:
        self.sender.close()
        self.loop.finish()  # closes the engine and the rings it attached
        self.events.close()
        for block in self.blocks:
            block.close()
        self.doorbell.close()


@pytest.fixture
def rig(request):
    made = HopRig(request.param)
    yield made
    made.close()


@pytest.mark.parametrize("rig", [1, 8], indirect=True, ids=["1 voice", "8 voices"])
def test_a_hop_of_the_dsp_process_allocates_nothing_but_the_hop_counter(rig) -> None:
    """One hop of the DSP process, the demo file playing and one input channel read: the input
    and output rings moved in kernels, the level metered in one, the spectrum tap's row written
    in one, the counters copied by index, the control process's pipe asked through a poll
    object made once (Connection.poll() made about 1.2 KB a hop). What a whole tick may hold,
    the hop counter's next int (tests/test_engine.py), is the bound. Before: 3.2 KB a hop at
    one voice (np.abs of the block, the rings' slices and ints, the input's views) and the
    pipe's 1.2 KB, 16 KB more at eight.

    Six rounds of 50 hops, each keeping its largest, the smallest asserted (another thread's
    allocation lands in some; tests/test_engine.py's hop_allocation_peaks)."""
    import tracemalloc

    from tests.test_engine import HOP_COUNTER_BYTES

    rig.engine.post("/source/file/open", "patches/demo/demo.wav")
    rig.engine.post("/source/file/play", 1)
    for _ in range(300):  # past hop 256: the counter's ints are objects from here on
        rig.hop_once()
    rounds = []
    for _ in range(6):
        tracemalloc.start()
        try:
            rounds.append(max(rig.hop_once() for _ in range(50)))
        finally:
            tracemalloc.stop()
    assert min(rounds) <= HOP_COUNTER_BYTES, rounds


@pytest.mark.parametrize("rig", [2], indirect=True, ids=["2 voices"])
def test_the_meter_publishes_the_peak_of_every_channel_and_the_rms_of_the_first(rig) -> None:
    """The control page's meter (the last half second) and the run's peak, which the play's
    report and its last line give (it gave the last half second's: a run's report read -2.65
    or -6.20 dBFS depending on where the run stopped)."""
    rig.engine.post("/source/file/open", "patches/demo/demo.wav")
    rig.engine.post("/source/file/play", 1)
    loop, blocks = rig.loop, []
    while True:  # up to the next half-second publication, keeping what the device got
        rig.hop_once()
        blocks.append(rig.engine.buffers.block.copy())
        if rig.engine.hop_index % loop.meter_hops == 0 and len(blocks) >= loop.meter_hops:
            break
    heard = np.concatenate(blocks[-loop.meter_hops :])
    assert np.abs(heard).max() > 0.01  # the demo sounds
    assert loop.counters["peak"] == pytest.approx(np.abs(heard).max(), rel=1e-12)
    rms = np.sqrt(np.mean(heard[:, 0] ** 2))
    assert loop.counters["rms"] == pytest.approx(rms, rel=1e-9)
    # the run's peak, the report's: every hop since the start, not the last half second's
    assert loop.counters["peak_run"] == np.abs(np.concatenate(blocks)).max()


def compiled_on_the_clock(channels: int) -> dict[str, int]:
    """In a process of its own (spawned: nothing compiled before): build the DSP process's loop
    at ``channels`` voices, play a scene of what a performance does on the hop clock, and return
    the numba dispatchers that gained signatures meanwhile (name: how many)."""
    import math
    import sys

    from numba.core.dispatcher import Dispatcher

    def compiled() -> dict[str, int]:
        # every kernel of the project's modules by name (not gc.get_objects(): the loop freezes
        # what it built, and the collector no longer lists it)
        return {
            f"{name}.{attribute}": len(value.signatures)
            for name, module in list(sys.modules.items())
            if name.startswith("caminos.")
            for attribute, value in vars(module).items()
            if isinstance(value, Dispatcher)
        }

    from caminos.engine.dsp.phase import STREAMING_METHODS

    rig = HopRig(channels, **{"field.wander": 0.3, "field.decorrelate": 0.7})
    try:
        before = compiled()
        post = rig.engine.post
        post("/source/file/open", "patches/demo/demo.wav")
        post("/source/file/play", 1)
        post("/latent/noise", 0.3)
        post("/voice/babble", 20)
        post("/path/new", "around")
        for step in range(5):
            angle = 2 * math.pi * step / 4
            post("/path/point", "around", 1.5 * math.cos(angle), 1.5 * math.sin(angle))
        post("/path/loop", 1)
        post("/path/play", "around")
        for k in range(1, channels + 1 if channels > 1 else 1):  # a field's voices
            post(f"/channel/{k}/path/play", "around")
        post("/scene/store", 1)
        post("/latent/xy", 0.2, 0.8)
        for _ in range(20):
            rig.hop_once()
        post("/scene/recall", 1, 0.2)
        for method in STREAMING_METHODS:
            post("/phase/method", method)
            for _ in range(20):
                rig.hop_once()
        post("/phase/lookahead", 2)
        for _ in range(20):
            rig.hop_once()
        after = compiled()
    finally:
        rig.close()
    return {name: count for name, count in after.items() if count != before.get(name, 0)}


@pytest.mark.parametrize("channels", [1, 2, 8], ids=["1 voice", "2 voices", "8 voices"])
def test_nothing_is_compiled_on_the_hop_clock(channels: int) -> None:
    """Every kernel a hop runs was compiled (or loaded from numba's cache) while the loop was
    built: a first call on the hop clock takes milliseconds with the cache, seconds without
    (a fresh install's first play of eight voices on their own paths had a hole of 1.3 to 2.2 s
    while the path's kernels compiled). In a fresh process: the demo file, the latent's noise,
    each voice's wander, the voice babbling, a shared path and each voice's own, /latent/xy, a
    scene's fade, every live phase method in turn (each switch crossfades) and another
    look-ahead: no dispatcher gains a signature."""
    context = multiprocessing.get_context("spawn")
    answer = context.SimpleQueue()
    process = context.Process(target=_answer_compiled, args=(channels, answer))
    process.start()  # not a pool's: its daemonic workers may not start the voice's process
    try:
        assert answer.get() == {}
    finally:
        process.join(60)
        if process.is_alive():
            process.kill()


def _answer_compiled(channels: int, answer) -> None:
    """The spawned process's body: :func:`compiled_on_the_clock`'s answer, or its error."""
    try:
        answer.put(compiled_on_the_clock(channels))
    except BaseException as exc:  # the test sees it instead of waiting
        answer.put({"error": f"{type(exc).__name__}: {exc}"})
