"""MIDI controllers and MIDI learn (docs/midi.md): scaling, triggers, 14-bit CCs, learning,
forgetting, the mappings file, and a JACK MIDI port end to end.

The mapping logic (:mod:`caminos.engine.control.midi_map`) is tested on its own with MIDI
messages as numbers; the end-to-end tests open a virtual JACK MIDI output with python-rtmidi on
the tests' own JACK dummy server (as tests/test_live_jack.py starts it) and play it into an
engine in this process, then into ``caminos play``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from caminos.engine.clock.engine import Engine
from caminos.engine.control.midi import MidiInput, find_port
from caminos.engine.control.midi_map import MidiMap, Source, scale, target_for
from caminos.engine.control.surface import attach
from caminos.engine.core.config import MidiConfig, load_config
from caminos.engine.core.controls import Arg
from caminos.engine.core.errors import ConfigError, ControlError
from tests.waiting import until_answered

ROOT = Path(__file__).resolve().parent.parent
needs_jackd = pytest.mark.skipif(
    shutil.which("jackd") is None and not os.environ.get("CI"),
    reason="jackd not installed (scripts/setup.sh --test installs it)",
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """One engine with the surface (its MIDI mappings in a folder of the tests' own)."""
    engine = Engine(load_config(), startup_events=False, voice=False)
    engine.surface = attach(engine, patches=tmp_path_factory.mktemp("patches"))
    yield engine
    engine.close()


@pytest.fixture
def midi(engine, tmp_path: Path) -> MidiMap:
    """Mappings of the module's engine kept in this test's folder."""
    return MidiMap(engine.registry, tmp_path)


def learn(midi: MidiMap, address: str, *given, by: tuple = ("cc", 1, 7, 100)) -> Source:
    """Learn ``address`` with ``given`` from one MIDI message; returns the source learnt."""
    assert midi.learn(address, *given) == [("/midi/learn", address, *given)]
    assert midi.receive(*by) == []  # the message that teaches sends nothing
    assert midi.armed is None
    (source,) = [s for s, t in midi.mappings.items() if t.address == address]
    return source


# ------------------------------------------------------------------------------ scaling
def test_a_controller_spans_an_argument_s_range_linearly() -> None:
    axis = Arg("offset", "f", -8.0, 8.0, "std")
    assert scale(axis, 0.0) == -8.0 and scale(axis, 1.0) == 8.0
    assert scale(axis, 0.25) == pytest.approx(-4.0)
    assert scale(axis, 1.5) == 8.0 and scale(axis, -1.0) == -8.0  # clipped to the range
    gain = Arg("gain_db", "f", -96.0, 24.0, "dB")  # decibels are already a log scale
    assert gain.curve == "linear" and scale(gain, 0.5) == pytest.approx(-36.0)


def test_a_frequency_in_hz_is_scaled_on_a_log_curve() -> None:
    cutoff = Arg("cutoff", "f", 20.0, 20000.0, "Hz")
    assert cutoff.curve == "log"
    assert scale(cutoff, 0.0) == pytest.approx(20.0)
    assert scale(cutoff, 0.5) == pytest.approx(632.4555, rel=1e-6)  # the geometric middle
    assert scale(cutoff, 1.0) == pytest.approx(20000.0)
    assert scale(cutoff, 1 / 3) == pytest.approx(200.0)  # each third a decade
    # a range through 0 Hz cannot be logarithmic
    assert Arg("shift", "f", 0.0, 100.0, "Hz").curve == "linear"


def test_an_integer_argument_is_rounded_to_the_nearest_integer() -> None:
    axis = Arg("axis", "i", 0, 27)
    values = [scale(axis, cc / 127) for cc in range(128)]
    assert all(isinstance(v, int) for v in values)
    assert values[0] == 0 and values[-1] == 27 and sorted(set(values)) == list(range(28))
    assert scale(axis, 0.5) == 14  # 13.5 rounds up
    assert scale(Arg("on", "i", 0, 1), 63 / 127) == 0 and scale(Arg("on", "i", 0, 1), 64 / 127) == 1


def test_a_learnt_cc_drives_the_argument_after_those_given(midi: MidiMap) -> None:
    learn(midi, "/latent/axis", 3)
    assert midi.receive("cc", 1, 7, 127) == [("/latent/axis", (3, 8.0))]
    assert midi.receive("cc", 1, 7, 127) == []  # no change, nothing sent
    assert midi.receive("cc", 1, 7, 0) == [("/latent/axis", (3, -8.0))]
    assert midi.receive("cc", 2, 7, 127) == []  # another channel is another control
    assert midi.receive("cc", 1, 8, 127) == []


def test_a_14_bit_pair_is_learnt_from_its_msb_then_lsb_and_drives_finer_steps(
    midi: MidiMap,
) -> None:
    assert midi.learn("/out/gain") == [("/midi/learn", "/out/gain")]
    assert midi.receive("cc", 1, 1, 64) == []  # MSB: learnt as CC 1
    assert midi.receive("cc", 1, 33, 0) == []  # its LSB right after: a 14-bit pair
    assert list(midi.mappings) == [Source("cc14", 1, 1)]
    gain = midi.mappings[Source("cc14", 1, 1)].driven
    # MSB 64 with LSB 0, then LSB 1: one step of 16384 apart (128 times finer than 7 bits)
    assert midi.receive("cc", 1, 1, 64) == [("/out/gain", (scale(gain, 8192 / 16383),))]
    ((_, (fine,)),) = midi.receive("cc", 1, 33, 1)
    assert fine == pytest.approx(-96.0 + 120.0 * 8193 / 16383)
    assert midi.receive("cc", 1, 1, 127) == [("/out/gain", (scale(gain, 16256 / 16383),))]
    assert midi.receive("cc", 1, 33, 127) == [("/out/gain", (24.0,))]
    # a 7-bit CC learnt with another message after it stays 7-bit
    midi.learn("/latent/noise")
    midi.receive("cc", 1, 2, 10)
    midi.receive("cc", 1, 3, 10)
    midi.receive("cc", 1, 34, 10)
    assert Source("cc", 1, 2) in midi.mappings


def test_triggers_send_on_a_note_on_or_a_cc_rising_past_its_middle(midi: MidiMap) -> None:
    learn(midi, "/scene/recall", 3, 0.5, by=("note_on", 10, 36, 90))
    assert midi.receive("note_on", 10, 36, 1) == [("/scene/recall", (3, 0.5))]
    assert midi.receive("note_off", 10, 36, 0) == []
    assert midi.receive("note_on", 10, 36, 0) == []  # velocity 0 is a note-off
    assert midi.receive("note_on", 10, 37, 100) == []  # another pad
    learn(midi, "/path/stop", by=("cc", 1, 20, 127))
    presses = [midi.receive("cc", 1, 20, v) for v in (0, 127, 127, 100, 0, 63, 64, 0)]
    assert presses == [[], [("/path/stop", ())], [], [], [], [], [("/path/stop", ())], []]


def test_a_note_on_a_continuous_control_plays_its_velocity_until_released(midi: MidiMap) -> None:
    learn(midi, "/latent/noise", by=("note_on", 1, 60, 100))
    assert midi.receive("note_on", 1, 60, 127) == [("/latent/noise", (4.0,))]
    assert midi.receive("note_off", 1, 60, 64) == [("/latent/noise", (0.0,))]


def test_learning_again_moves_a_target_and_a_source_drives_one_target(midi: MidiMap) -> None:
    learn(midi, "/latent/noise", by=("cc", 1, 7, 0))
    learn(midi, "/latent/noise", by=("cc", 1, 8, 0))  # the same slider, another knob
    assert list(midi.mappings) == [Source("cc", 1, 8)]
    learn(midi, "/latent/follow", by=("cc", 1, 8, 0))  # that knob, another slider
    assert [t.address for t in midi.mappings.values()] == ["/latent/follow"]
    assert midi.learn() == [("/midi/learn",)] and midi.armed is None  # stop learning
    assert midi.receive("cc", 1, 9, 5) == []
    assert Source("cc", 1, 9) not in midi.mappings


# ------------------------------------------------------------------------------ the file
def test_mappings_are_saved_on_every_change_and_read_back(engine, tmp_path: Path) -> None:
    midi = MidiMap(engine.registry, tmp_path)
    learn(midi, "/latent/axis", 2, by=("cc", 3, 21, 0))
    learn(midi, "/scene/recall", 1, 2.0, by=("note_on", 10, 40, 100))
    midi.learn("/out/gain")
    midi.receive("cc", 1, 0, 0)
    midi.receive("cc", 1, 32, 0)
    saved = json.loads((tmp_path / "midi.json").read_text())
    assert saved["caminos"] == "midi" and saved["mappings"] == [
        {"kind": "cc", "channel": 3, "number": 21, "address": "/latent/axis", "args": [2]},
        {"kind": "note", "channel": 10, "number": 40, "address": "/scene/recall", "args": [1, 2.0]},
        {"kind": "cc14", "channel": 1, "number": 0, "address": "/out/gain", "args": []},
    ]
    again = MidiMap(engine.registry, tmp_path)
    again.load()
    assert again.mappings == midi.mappings and again.problem == ""
    assert again.listing() == [
        ("/midi/list", "cc", 3, 21, "/latent/axis", 2),
        ("/midi/list", "note", 10, 40, "/scene/recall", 1, 2.0),
        ("/midi/list", "cc14", 1, 0, "/out/gain"),
        ("/midi/list/done", 3, ""),
    ]
    assert again.receive("cc", 3, 21, 127) == [("/latent/axis", (2, 8.0))]
    assert again.forget("/latent/axis") == [("/midi/forget", 1)]
    assert len(json.loads((tmp_path / "midi.json").read_text())["mappings"]) == 2
    assert again.forget() == [("/midi/forget", 2)]
    assert json.loads((tmp_path / "midi.json").read_text())["mappings"] == []
    with pytest.raises(ControlError, match="/midi/forget: /no/such: unknown address"):
        again.forget("/no/such")


@pytest.mark.parametrize(
    "text, words",
    [
        (
            '{"caminos": "midi", "mappings": [\n  {"kind": "cc",}\n]}',
            r"midi.json:2:\d+: not valid JSON",
        ),
        ('{"caminos": "scene", "controls": {}}', "not a caminos midi file"),
        ('{"caminos": "midi", "mappings": {}}', '"mappings" must be a list'),
        (
            '{"caminos": "midi", "mappings": [{"kind": "cc", "channel": 1, "number": 7, '
            '"address": "/out/gain"}, {"kind": "cc", "channel": 17, "number": 7, '
            '"address": "/out/gain"}]}',
            r"mappings\[1\]: channel must be an integer 1 .. 16, got 17",
        ),
        (
            '{"caminos": "midi", "mappings": [{"kind": "cc14", "channel": 1, "number": 40, '
            '"address": "/out/gain"}]}',
            r"mappings\[0\]: number must be an integer 0 .. 31",
        ),
        (
            '{"caminos": "midi", "mappings": [{"kind": "cc", "channel": 1, "number": 7, '
            '"adress": "/out/gain"}]}',
            r"mappings\[0\]: unknown key\(s\) adress; missing address",
        ),
        (
            '{"caminos": "midi", "mappings": [{"kind": "cc", "channel": 1, "number": 7, '
            '"address": "/latent/axis", "args": [99]}]}',
            r"mappings\[0\]: /latent/axis: argument 1 \(axis\): 99 is out of range",
        ),
        (
            '{"caminos": "midi", "mappings": [{"kind": "cc", "channel": 1, "number": 7, '
            '"address": "/out/gain"}, {"kind": "cc", "channel": 1, "number": 7, '
            '"address": "/latent/noise"}]}',
            r"mappings\[1\]: CC 7 on channel 1 is mapped twice",
        ),
    ],
)
def test_a_malformed_file_is_named_left_alone_and_learning_waits_for_it(
    engine, tmp_path: Path, text: str, words: str, caplog
) -> None:
    path = tmp_path / "midi.json"
    path.write_text(text)
    midi = MidiMap(engine.registry, tmp_path)
    midi.load()  # warns, and plays on with no mappings
    assert str(path) in midi.problem and midi.mappings == {}
    assert any(str(path) in r.getMessage() for r in caplog.records), caplog.records
    assert re.search(words, midi.problem), midi.problem
    assert midi.receive("cc", 1, 7, 127) == []
    with pytest.raises(ControlError, match="fix or remove the file first"):
        midi.learn("/latent/noise")
    with pytest.raises(ControlError, match="fix or remove the file first"):
        midi.forget()
    assert path.read_text() == text  # nothing the performer made is lost
    path.write_text('{"caminos": "midi", "mappings": []}')  # fixed: learning reads it again
    learn(midi, "/latent/noise")


def test_a_mapping_to_a_control_this_engine_lacks_is_kept_in_the_file(
    engine, tmp_path: Path
) -> None:
    voice = {"kind": "cc", "channel": 1, "number": 1, "address": "/voice/pitch", "args": []}
    path = tmp_path / "midi.json"
    path.write_text(json.dumps({"caminos": "midi", "mappings": [voice]}))
    midi = MidiMap(engine.registry, tmp_path)  # an engine without the voice
    midi.load()
    assert midi.problem == "" and midi.mappings == {}
    learn(midi, "/latent/noise", by=("cc", 1, 2, 0))
    assert json.loads(path.read_text())["mappings"][1:] == [voice]
    assert midi.forget("/voice/pitch") == [("/midi/forget", 1)]
    assert [m["address"] for m in json.loads(path.read_text())["mappings"]] == ["/latent/noise"]


# ------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    "args, words",
    [
        (("/no/such",), "/midi/learn: /no/such: unknown address"),
        (("/engine/status",), "/engine/status is a query"),
        (("/latent/xy",), "give x to drive y"),
        (("/latent/axis",), "give axis to drive offset"),
        (("/latent/axis", 99), r"/latent/axis: argument 1 \(axis\): 99 is out of range"),
        (("/latent/axis", "three"), r"argument 1 \(axis\): expected int"),
        (("/phase/method",), r"argument 1 \(method\) is not a number with a range"),
        (("/path/stop", 1), r"/path/stop: expected 0 argument\(s\)"),
        (("/latent/noise", float("nan")), "expected a finite number or a string"),
        ((3,), r"/midi/learn: argument 1 \(address\): expected a string"),
    ],
)
def test_a_bad_learn_is_refused_naming_what_is_wrong(engine, args: tuple, words: str) -> None:
    errors = engine.counters["control_errors"]
    with pytest.raises(ControlError, match=words):
        engine.post("/midi/learn", *args)
    assert engine.counters["control_errors"] == errors + 1
    assert engine.surface.midi.armed is None


def test_learning_is_a_query_answered_at_once_and_never_queued(engine) -> None:
    midi = engine.surface.midi
    pending = engine.queue.pending()
    assert engine.post("/midi/learn", "/scene/recall", 2) == [
        ("/midi/learn", "/scene/recall", 2)
    ]  # drives the crossfade's seconds
    assert midi.armed.driven.name == "seconds" and engine.queue.pending() == pending
    assert engine.post("/midi/learn") == [("/midi/learn",)]
    assert engine.post("/midi/list")[-1][0] == "/midi/list/done"
    with pytest.raises(ControlError, match=r"/midi/forget: expected at most 1 argument"):
        engine.post("/midi/forget", "/a", "/b")
    control = engine.registry["/midi/learn"]
    assert control.query and control.type_tags == "[s*]" and "stop learning" in control.signature()


def test_target_for_names_where_a_file_s_entry_went_wrong(engine) -> None:
    with pytest.raises(ControlError, match=r"^midi.json: mappings\[4\]: .*unknown address"):
        target_for(engine.registry, "/nope", (), "midi.json: mappings[4]")


# ------------------------------------------------------------------------------ config, ports
def test_midi_config_takes_a_port_and_a_known_api(tmp_path: Path) -> None:
    path = tmp_path / "caminos.toml"
    path.write_text('[midi]\ninput = "nanoKONTROL"\napi = "jack"\n')
    assert load_config(path).midi == MidiConfig(input="nanoKONTROL", api="jack")
    path.write_text('[midi]\napi = "coreaudio"\n')
    with pytest.raises(ConfigError, match=r"midi.api: expected one of '', 'jack', 'alsa'"):
        load_config(path)
    path.write_text("[midi]\ninput = 3\n")
    with pytest.raises(ConfigError, match="midi.input: expected a string"):
        load_config(path)


def test_a_port_is_found_by_number_name_or_part_and_a_missing_one_lists_the_ports() -> None:
    names = ["Midi Through:Port-0", "nanoKONTROL2:nanoKONTROL2 MIDI 1", "X-Touch:out"]
    assert find_port("1", names) == names[1]
    assert find_port("X-Touch:out", names) == names[2]
    assert find_port("nanokontrol", names) == names[1]
    with pytest.raises(
        ControlError,
        match=r"no MIDI input port 'launchpad'; the ports there "
        r"are: 0: Midi Through:Port-0; 1: nanoKONTROL2",
    ):
        find_port("launchpad", names)
    with pytest.raises(ControlError, match="'o' is part of 3 ports' names"):
        find_port("o", names)
    with pytest.raises(ControlError, match="no MIDI input port number 7"):
        find_port("7", names)
    with pytest.raises(ControlError, match="the ports there are: none"):
        find_port("anything", [])


def test_caminos_imports_no_midi_library_until_a_port_is_opened() -> None:
    code = (
        "import sys\n"
        "from caminos.engine.cli.main import main\n"
        "import caminos.engine.live.control_process, caminos.engine.control.midi\n"
        "from caminos.engine.clock.engine import Engine\n"
        "from caminos.engine.control.surface import attach\n"
        "from caminos.engine.core.config import load_config\n"
        "attach(Engine(load_config(), startup_events=False, voice=False))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mido', 'rtmidi')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ------------------------------------------------------------------------------ end to end
@pytest.fixture
def jack_midi_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The tests' own JACK dummy server and, on it, a virtual MIDI output port
    ``caminos-test-knobs:out`` (python-rtmidi's JACK API) that plays the controller."""
    rtmidi = pytest.importorskip("rtmidi")
    from tests.test_live_jack import SERVER_NAME, JackServer

    monkeypatch.setenv("JACK_DEFAULT_SERVER", SERVER_NAME)
    monkeypatch.setenv("JACK_NO_AUDIO_RESERVATION", "1")
    server = JackServer(tmp_path / "jackd.log")
    out = None
    try:
        out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="caminos-test-knobs")
        out.open_virtual_port("out")
        yield out
    finally:
        if out is not None:
            out.close_port()
            out.delete()
        server.stop()


CC_ON_CHANNEL_1 = 0xB0  # a control change's status byte on channel 1


@needs_jackd
def test_a_cc_from_a_jack_midi_port_is_learnt_and_moves_the_control(
    jack_midi_out, tmp_path: Path
) -> None:
    engine = Engine(load_config(), startup_events=False, voice=False)
    surface = attach(engine, patches=tmp_path)
    config = MidiConfig(input="caminos-test-knobs", api="jack")
    try:
        with MidiInput(engine, surface.midi, config) as midi:
            assert midi.port_name == "caminos-test-knobs:out"
            assert engine.post("/midi/learn", "/out/gain") == [("/midi/learn", "/out/gain")]
            jack_midi_out.send_message([CC_ON_CHANNEL_1, 7, 5])  # moved while learning
            assert midi.wait_handled(1, 10.0), midi.status()
            assert surface.midi.listing()[0] == ("/midi/list", "cc", 1, 7, "/out/gain")
            for sent, (value, gain_db) in enumerate([(127, 24.0), (0, -96.0), (32, -65.76)], 2):
                jack_midi_out.send_message([CC_ON_CHANNEL_1, 7, value])
                assert midi.wait_handled(sent, 10.0), midi.status()
                engine.tick()  # the event applies at the next hop
                assert engine.get("/out/gain")[0] == pytest.approx(gain_db, abs=0.01)
            status = engine.status()
            assert status["midi_port"] == "caminos-test-knobs:out"
            assert status["midi_messages"] == 4 and status["midi_events"] == 3
            assert status["midi_errors"] == 0
        assert json.loads((tmp_path / "midi.json").read_text())["mappings"] == [
            {"kind": "cc", "channel": 1, "number": 7, "address": "/out/gain", "args": []}
        ]
    finally:
        engine.close()


@needs_jackd
def test_a_missing_jack_midi_port_is_named_with_the_ports_there_are(
    jack_midi_out, tmp_path: Path
) -> None:
    engine = Engine(load_config(), startup_events=False, voice=False)
    surface = attach(engine, patches=tmp_path)
    try:
        midi = MidiInput(engine, surface.midi, MidiConfig(input="launchpad", api="jack"))
        with pytest.raises(
            ControlError,
            match=r"no MIDI input port 'launchpad'; the ports "
            r"there are: 0: caminos-test-knobs:out",
        ):
            midi.start()
    finally:
        engine.close()


def _replies(client, address: str, done: str) -> list[list]:
    """Send ``address``; the arguments of its replies up to the one addressed ``done``."""
    from pythonosc.osc_message import OscMessage

    client.send(address)
    rows = []
    while True:
        message = OscMessage(client.socket.recvfrom(65536)[0])
        if message.address == done:
            return rows
        if message.address == address:
            rows.append(list(message.params))


@needs_jackd
def test_caminos_play_learns_a_cc_and_plays_it(jack_midi_out, tmp_path: Path) -> None:
    """``caminos play`` with ``[midi] input``: learnt over OSC, played from the JACK MIDI port,
    read back with ``/engine/get``; the mapping is in the patches folder afterwards."""
    from tests.test_live_jack import Client, Play, _free_port

    port = _free_port()
    play = Play(
        tmp_path,
        120,
        "--set",
        f"osc.port={port}",
        "--set",
        'midi.input="caminos-test-knobs"',
        "--set",
        'midi.api="jack"',
        "--set",
        f'paths.patches="{tmp_path}"',
        file=False,
    )
    client = None
    try:
        play.wait_playing()
        client = Client(port)
        client.send("/midi/learn", "/latent/axis", 2)
        assert client.reply("/midi/learn") == ["/latent/axis", 2]

        def listed() -> list:
            return _replies(client, "/midi/list", "/midi/list/done")

        jack_midi_out.send_message([CC_ON_CHANNEL_1, 21, 0])
        assert until_answered(listed, 20, "the CC to be learnt") == [
            ["cc", 1, 21, "/latent/axis", 2]
        ]
        jack_midi_out.send_message([CC_ON_CHANNEL_1, 21, 127])

        def axis() -> float:
            client.send("/engine/get", "/latent/z")
            return client.reply("/engine/get")[1 + 2]

        until_answered(lambda: axis() == pytest.approx(8.0), 20, "/latent/axis 2 to reach 8 std")
        assert client.status()["midi_events"] == 1
    finally:
        if client is not None:
            client.close()
        play.process.terminate()  # our own process, by its handle
        play.process.wait(timeout=60)
    saved = json.loads((tmp_path / "midi.json").read_text())["mappings"]
    assert saved == [
        {"kind": "cc", "channel": 1, "number": 21, "address": "/latent/axis", "args": [2]}
    ]
