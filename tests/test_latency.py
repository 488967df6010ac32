"""Latency and status in one place: the engine's stages sum the latency, the DSP process
publishes it, and every reader (``/engine/status`` from the control process's replica, the
control page's meters, ``caminos play``'s status line) shows the same numbers, built by one
function, again after /phase/lookahead changes it."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

from caminos.engine.clock.engine import Engine
from caminos.engine.clock.status import measured_status
from caminos.engine.control.web.state import PageState
from caminos.engine.core.config import load_config
from caminos.engine.core.errors import ControlError
from caminos.engine.clock.status import TIMING_WINDOW
from caminos.engine.core.ring import SharedArray, SharedCounters
from caminos.engine.live.control_process import ControlSetup, build_replica
from caminos.engine.live.hop_loop import publish_latency
from caminos.engine.live.published import PublishedClock
from caminos.engine.live.shared import AUDIO_COUNTERS, CONTROL_FLAGS, DSP_COUNTERS, FRONT_COUNTERS

DEVICE_IN_S, DEVICE_OUT_S = 0.004, 0.0107
BUFFER = 512


@pytest.fixture
def counters():
    made = [
        SharedCounters(names)
        for names in (DSP_COUNTERS, AUDIO_COUNTERS, CONTROL_FLAGS, FRONT_COUNTERS)
    ]
    dsp, audio, flags, front = made
    flags["input_latency_s"], flags["output_latency_s"] = DEVICE_IN_S, DEVICE_OUT_S
    yield dsp, audio, flags, front
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
        ms["device_in_ms"] + ms["algorithmic_ms"] + ms["buffer_ms"] + ms["device_out_ms"]
    )
    assert ms["control_to_sound_ms"] == pytest.approx(
        ms["control_algorithmic_ms"] + ms["buffer_ms"] + ms["device_out_ms"]
    )
    assert ms["device_in_ms"] == pytest.approx(4.0)


def test_every_reader_shows_the_published_status_and_follows_a_lookahead_change(counters) -> None:
    dsp, audio, flags, front = counters
    config = load_config()
    engine = Engine(config, voice=False)  # the hop clock, as the DSP process runs it
    _, send = mp.Pipe(duplex=False)
    setup = ControlSetup(
        config, config.audio.channels, dsp.name, audio.name, "", front.name, voice=False
    )
    ticks = SharedArray(TIMING_WINDOW)  # the hop clock's tick durations, as the DSP shares them
    replica = build_replica(setup, send, front, dsp, audio, flags, ticks)  # the control process's
    page = PageState(replica)
    buffer = config.audio.buffer_hops * engine.hop
    # the supervisor's status line reads its own clock on the same blocks
    supervisor = PublishedClock(
        dsp, audio, flags, front, front, engine.sample_rate, engine.hop, buffer, ticks.values
    )
    ticks.values[:100] = np.linspace(0.001, 0.002, 100)  # 100 hops ticked, in seconds
    dsp["hops"] = 100
    audio["xruns"], dsp["peak"] = 3, 0.5
    dsp["control_errors"] = 2  # refused at the hop clock; one more refused by the replica:
    with pytest.raises(ControlError):
        replica.post("/latent/axis", 999, 0.0)
    front["control_errors"] = replica.counters["control_errors"]  # as the control process copies

    def readers() -> tuple[float, float]:
        expected = engine.latency.live(buffer, DEVICE_IN_S, DEVICE_OUT_S)
        status, meters = replica.status(), page.meters()
        line = measured_status(supervisor.measure())
        for key in ("latency_ms", "control_latency_ms", "xruns", "tick_ms_p99", "peak_dbfs"):
            assert line[key] == status[key], key
        assert status["latency_ms"] == pytest.approx(expected.ms(expected.input_to_output))
        assert status["control_latency_ms"] == pytest.approx(
            expected.ms(expected.control_to_output)
        )
        assert status["latency_algorithmic_ms"] == pytest.approx(expected.ms(expected.algorithmic))
        assert meters["latency_in_out_ms"] == pytest.approx(status["latency_ms"], abs=0.01)
        assert meters["latency_control_ms"] == pytest.approx(status["control_latency_ms"], abs=0.01)
        assert (status["xruns"], meters["xruns"]) == (3, 3)
        assert status["peak_dbfs"] == pytest.approx(-6.0206, abs=1e-3)
        assert status["control_errors"] == line["control_errors"] == 3
        assert status["tick_ms_p99"] == pytest.approx(1000 * np.percentile(ticks.values[:100], 99))
        assert status["tick_ms_max"] == pytest.approx(2.0)
        return status["latency_ms"], status["control_latency_ms"]

    published = publish_latency(engine, dsp)
    before = readers()
    engine.post("/phase/lookahead", published + 2)
    engine.tick()
    assert engine.phase.lookahead == published + 2
    assert publish_latency(engine, dsp) == published + 2
    after = readers()
    hop_ms = 1000.0 * engine.hop / engine.sample_rate
    assert after[0] - before[0] == pytest.approx(2 * hop_ms)  # two hops more, everywhere
    assert after[1] - before[1] == pytest.approx(2 * hop_ms)
    ticks.close()


def test_an_offline_engine_reports_its_own_algorithmic_latency() -> None:
    engine = Engine(load_config(), voice=False)
    status = engine.status()
    assert status["latency_ms"] == pytest.approx(engine.latency.ms(engine.latency.algorithmic))
    assert status["latency_buffer_ms"] == 0.0 and status["xruns"] == 0
    engine.post("/phase/lookahead", engine.phase.lookahead + 1)
    engine.tick()
    hop_ms = 1000.0 * engine.hop / engine.sample_rate
    assert engine.status()["latency_ms"] == pytest.approx(status["latency_ms"] + hop_ms)
