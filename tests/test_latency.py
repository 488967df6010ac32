"""Latency in one place: the engine's stages sum it, the DSP process publishes it, and every
reader (status, caminos play's lines, the control page's meters) shows the same numbers, again
after /phase/lookahead changes it."""

from __future__ import annotations

import pytest

from caminos.engine.clock.engine import Engine
from caminos.engine.clock.latency import Latency
from caminos.engine.control.surface import attach
from caminos.engine.control.web.state import PageState
from caminos.engine.core.config import load_config
from caminos.engine.core.ring import SharedCounters
from caminos.engine.live.dsp_process import publish_latency
from caminos.engine.live.shared import AUDIO_COUNTERS, CONTROL_FLAGS, DSP_COUNTERS

BUFFER, DEVICE_IN_S, DEVICE_OUT_S = 512, 0.004, 0.0107


@pytest.fixture
def counters():
    made = [SharedCounters(names) for names in (DSP_COUNTERS, AUDIO_COUNTERS, CONTROL_FLAGS)]
    dsp, audio, flags = made
    flags["input_latency_s"], flags["output_latency_s"] = DEVICE_IN_S, DEVICE_OUT_S
    yield dsp, audio, flags
    for shared in made:
        shared.close()  # the owner's close unlinks the block


def test_the_engine_sums_its_stages_and_the_live_parts_add_up() -> None:
    engine = Engine(load_config(), voice=False)
    latency = engine.latency
    lookahead = engine.phase.lookahead
    assert latency.algorithmic == 768 + 256 * lookahead + 72
    assert latency.control_algorithmic == 256 * lookahead + 72
    live = latency.live(BUFFER, DEVICE_IN_S, DEVICE_OUT_S)
    ms = live.breakdown_ms()
    assert ms["input_to_output_ms"] == pytest.approx(
        ms["device_in_ms"] + ms["algorithmic_ms"] + ms["buffer_ms"] + ms["device_out_ms"])
    assert ms["control_to_sound_ms"] == pytest.approx(
        ms["control_algorithmic_ms"] + ms["buffer_ms"] + ms["device_out_ms"])
    assert ms["device_in_ms"] == pytest.approx(4.0)


def test_every_reader_shows_the_published_latency_and_follows_a_lookahead_change(
        counters, tmp_path) -> None:
    dsp, audio, flags = counters
    engine = Engine(load_config(), voice=False)  # the hop clock, as the DSP process runs it
    replica = Engine(load_config(), voice=False, startup_events=False)  # the control process's
    replica.surface = attach(replica, patches=tmp_path, recordings=tmp_path)
    page = PageState(replica, dsp=dsp, audio=audio, flags=flags)
    buffer = engine.config.audio.buffer_hops * engine.hop

    def readers() -> tuple[float, float, float]:
        expected = engine.latency.live(buffer, DEVICE_IN_S, DEVICE_OUT_S)
        published = Latency.from_totals(dsp["latency_samples"], dsp["control_latency_samples"],
                                        engine.sample_rate).live(buffer, DEVICE_IN_S,
                                                                 DEVICE_OUT_S)
        meters = page.meters()
        assert published.breakdown_ms() == pytest.approx(expected.breakdown_ms())
        assert meters["latency_in_out_ms"] == pytest.approx(
            expected.ms(expected.input_to_output), abs=0.01)
        assert meters["latency_control_ms"] == pytest.approx(
            expected.ms(expected.control_to_output), abs=0.01)
        assert engine.status()["latency_ms"] == pytest.approx(
            engine.latency.ms(engine.latency.algorithmic))
        return meters["latency_in_out_ms"], meters["latency_control_ms"], expected.input_to_output

    published = publish_latency(engine, dsp)
    before = readers()
    engine.post("/phase/lookahead", published + 2)
    engine.tick()
    assert engine.phase.lookahead == published + 2
    assert publish_latency(engine, dsp) == published + 2
    after = readers()
    assert after[2] - before[2] == pytest.approx(2 * engine.hop)  # two hops more
    assert after[0] > before[0] and after[1] > before[1]
