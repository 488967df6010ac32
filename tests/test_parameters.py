"""One parameter type for every continuous control (engine/core/parameters.py): its smoother
against the one-pole reference, its units, its control, and the whole registry built from it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from caminos.engine.core.controls import Arg
from caminos.engine.core.parameters import SNAP, Parameter, smoothing_coefficient

# Continuous controls that are actions, not values a fader holds (each says why).
ACTIONS = {
    "/path/pos": "a scrub: moves the player and sounds the point at once",
    "/source/file/pos": "a seek, clamped to the open file's length",
}


def _parameter(**options) -> Parameter:
    return Parameter(
        "/test/value", Arg("value", "f", -10.0, 10.0, "x"), "a value", "test", 0.0, **options
    )


@given(st.lists(st.floats(-10.0, 10.0), min_size=1, max_size=8), st.floats(0.01, 1.0))
def test_the_smoother_is_the_one_pole_reference(targets: list[float], coefficient: float) -> None:
    parameter = _parameter(coefficient=coefficient)
    reference = 0.0
    for target in targets:
        parameter.set(target)
        for _ in range(5):
            reference += coefficient * (target - reference)
            if abs(target - reference) < SNAP:
                reference = target
            assert parameter.step() == pytest.approx(reference, abs=2 * SNAP)
            assert parameter.value == pytest.approx(reference, abs=2 * SNAP)


def test_it_lands_exactly_on_its_target_and_a_jump_moves_both() -> None:
    parameter = _parameter(coefficient=smoothing_coefficient(20.0, 256, 48000))
    parameter.set(3.0)
    for _ in range(200):
        parameter.step()
    assert parameter.value == 3.0
    parameter.jump(-2.0)
    assert (parameter.value, parameter.target) == (-2.0, -2.0)
    assert parameter.step() == -2.0


def test_without_smoothing_a_message_sets_the_value_at_once() -> None:
    parameter = _parameter(smoothed=False)
    parameter.set(4.5)
    assert parameter.value == 4.5 and parameter.get() == (4.5,)


def test_smoothing_coefficient_matches_the_time_constant() -> None:
    assert smoothing_coefficient(0.0, 256, 48000) == 1.0
    coefficient = smoothing_coefficient(20.0, 256, 48000)
    assert coefficient == pytest.approx(1.0 - math.exp(-256 / (0.02 * 48000)))
    # after one time constant (in hops) the value has covered 1 - 1/e of a step
    parameter = _parameter(coefficient=coefficient)
    parameter.set(1.0)
    hops = 0.02 * 48000 / 256
    for _ in range(int(hops)):
        parameter.step()
    remaining = 1.0 - parameter.value
    assert remaining == pytest.approx((1.0 - coefficient) ** int(hops))


@given(st.floats(-96.0, 24.0))
def test_a_decibel_parameter_holds_a_factor_and_answers_in_db(gain_db: float) -> None:
    gain = Parameter(
        "/out/gain",
        Arg("gain_db", "f", -96.0, 24.0, "dB"),
        "gain",
        "out",
        1.0,
        coefficient=1.0,
        decibels=True,
    )
    gain.control().apply(gain_db)
    assert gain.target == pytest.approx(10.0 ** (gain_db / 20.0))
    assert gain.control().get()[0] == pytest.approx(gain_db, abs=1e-9)


def test_the_control_validates_with_the_parameters_range_and_an_alias_shares_it() -> None:
    parameter = _parameter()
    control = parameter.control()
    assert control.address == "/test/value" and control.args == (parameter.arg,)
    assert control.validate([2]) == (2.0,)
    with pytest.raises(Exception, match="out of range"):
        control.validate([11.0])
    alias = parameter.control("/other/value", "the same value", "other")
    alias.apply(-3.0)
    assert control.get() == (-3.0,) and alias.group == "other"


def test_the_curve_is_log_for_a_frequency_and_linear_otherwise() -> None:
    hz = Parameter("/f", Arg("f", "f", 20.0, 20000.0, "Hz"), "", "", 440.0)
    db = Parameter("/g", Arg("g", "f", -96.0, 24.0, "dB"), "", "", 1.0, decibels=True)
    assert hz.curve == "log" and db.curve == "linear"


def test_a_parameter_takes_one_float() -> None:
    with pytest.raises(ValueError, match="one float"):
        Parameter("/n", Arg("n", "i", 0, 4), "", "", 0.0)


def _full_registry(channels: int = 2):
    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.surface import attach
    from caminos.engine.core.config import load_config
    from caminos.models.voice.settings import VoiceSettings, voice_controls

    config = load_config()
    engine = Engine(config, voice=False, channels=channels)
    attach(engine)
    for control in voice_controls(VoiceSettings(config, seed=0)):
        engine.registry.add(control)
    return engine.registry


@pytest.fixture(scope="module")
def registry():
    return _full_registry()


def test_every_continuous_control_is_a_parameter(registry) -> None:
    """One float argument that a fader holds: its apply and get are a Parameter's own."""
    continuous = [
        c for c in registry if len(c.args) == 1 and c.args[0].kind == "f" and not c.args[0].repeat
    ]
    assert len(continuous) >= 30
    others = []
    for control in continuous:
        owner = getattr(control.apply, "__self__", None)
        if control.address in ACTIONS:
            continue
        if (
            not isinstance(owner, Parameter)
            or control.apply != owner.set
            or control.get != owner.get
            or owner.arg is not control.args[0]
        ):
            others.append(control.address)
    assert others == []


def test_no_control_table_holds_a_lambda(registry) -> None:
    lambdas = [
        f"{c.address} ({part})"
        for c in registry
        for part, handler in (("apply", c.apply), ("get", c.get), ("prepare", c.prepare))
        if handler is not None and getattr(handler, "__name__", "") == "<lambda>"
    ]
    assert lambdas == []


def test_scenes_fade_parameters_to_their_targets() -> None:
    """A scene fades a parameter's target; the parameter's smoother then carries the value."""
    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.surface import attach
    from caminos.engine.core.config import load_config

    engine = Engine(load_config(), voice=False)
    surface = attach(engine)
    engine.post("/latent/noise", 0.0)
    engine.post("/scene/store", 0)
    engine.post("/latent/noise", 2.0)
    engine.tick()
    engine.post("/scene/recall", 0, 0.1)
    targets = []
    for _ in range(round(0.1 * engine.sample_rate / engine.hop) + 2):
        engine.tick()
        targets.append(engine.mixer.noise.target)
    assert surface.scenes is not None
    assert targets[-1] == 0.0 and np.all(np.diff(targets) <= 0.0) and targets[0] < 2.0
