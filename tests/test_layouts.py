"""Speaker layouts and ``[field]``: where each channel's voice sits, and every mistake named."""

from __future__ import annotations

import argparse
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from caminos.engine.cli.options import load_with_overrides
from caminos.engine.core.config import Config, describe, load_config, parse_override
from caminos.engine.core.errors import ConfigError, ParameterError
from caminos.engine.core.layouts import (
    LAYOUTS_FOLDER,
    SpeakerLayout,
    builtin_layout,
    default_layout_name,
    field_layout,
    find_layout_file,
    load_layout,
    read_layout_file,
)

SHIPPED = sorted(LAYOUTS_FOLDER.glob("*.toml"))


def azimuths(layout: SpeakerLayout) -> list[float]:
    """Each speaker's azimuth in degrees, in (-180, 180]."""
    x, y = layout.positions.T
    return [round(float(a), 9) + 0.0 for a in np.degrees(np.arctan2(y, x))]


def write(tmp_path: Path, text: str, name: str = "room.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def speakers(*tables: str) -> str:
    return "".join(f"[[speaker]]\n{table}\n" for table in tables)


# -- built-in layouts ---------------------------------------------------------------------------


def test_stereo_and_quad_stand_where_their_channels_say() -> None:
    stereo = load_layout("stereo", 2)
    assert azimuths(stereo) == [30.0, -30.0] and stereo.labels == ("L", "R")
    assert stereo.channel_mask == 0x3
    np.testing.assert_allclose(stereo.offsets(), [[0.0, 1.0], [0.0, -1.0]], atol=1e-12)
    quad = load_layout("quad", 4)
    assert azimuths(quad) == [45.0, -45.0, 135.0, -135.0]
    assert quad.labels == ("FL", "FR", "BL", "BR") and quad.channel_mask == 0x33


@pytest.mark.parametrize("n", [1, 2, 5, 8, 16, 64])
def test_a_ring_starts_at_the_front_and_goes_clockwise(n: int) -> None:
    ring = load_layout(f"ring-{n}", n)
    assert ring.name == f"ring-{n}" and ring.n_speakers == n and ring.channel_mask is None
    step = [(a - b) % 360.0 for a, b in zip(azimuths(ring), azimuths(ring)[1:])]
    assert azimuths(ring)[0] == 0.0
    np.testing.assert_allclose(step, [360.0 / n] * (n - 1))  # each next one further clockwise


def test_a_line_runs_from_left_to_right() -> None:
    line = load_layout("line-5", 5)
    np.testing.assert_allclose(
        line.offsets(), [[0, 1], [0, 0.5], [0, 0], [0, -0.5], [0, -1]], atol=1e-12
    )
    np.testing.assert_array_equal(load_layout("line-1", 1).offsets(), [[0.0, 0.0]])


@pytest.mark.parametrize("channels", [1, 3, 64])
def test_mono_puts_every_voice_at_the_centre(channels: int) -> None:
    mono = load_layout("mono", channels)
    assert mono.n_speakers == channels
    np.testing.assert_array_equal(mono.offsets(37.0), np.zeros((channels, 2)))
    assert mono.channel_mask == (0x4 if channels == 1 else None)


@pytest.mark.parametrize(
    "channels, name",
    [(1, "mono"), (2, "stereo"), (3, "ring-3"), (4, "quad"), (8, "ring-8"), (64, "ring-64")],
)
def test_the_default_layout_for_a_channel_count(channels: int, name: str) -> None:
    assert default_layout_name(channels) == name
    assert load_layout("", channels).n_speakers == channels


@pytest.mark.parametrize("name", ["ring-0", "ring-65", "line-0", "line-100"])
def test_a_sized_layout_out_of_range_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=f"layout '{name}': N of .* must be 1 .. 64, got "):
        load_layout(name, None)


@pytest.mark.parametrize("count", [0, 65, True])
def test_a_bad_channel_count_is_refused(count: int) -> None:
    with pytest.raises(ParameterError, match="1 .. 64"):
        default_layout_name(count)


# -- offsets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["stereo", "quad", "ring-7", "line-4", "hexagon-6", "room-positions"]
)
def test_offsets_are_centred_and_the_farthest_is_at_radius_one(name: str) -> None:
    layout = load_layout(name, None)
    offsets = layout.offsets()
    np.testing.assert_allclose(offsets.mean(axis=0), [0.0, 0.0], atol=1e-12)
    assert np.hypot(*offsets.T).max() == pytest.approx(1.0)


def test_offsets_keep_the_shape_whatever_the_unit_and_origin() -> None:
    metres = SpeakerLayout("a", [[3.0, 1.0], [5.0, 1.0], [4.0, 2.0]])
    feet = SpeakerLayout("b", [[-30.0, 70.0], [-10.0, 70.0], [-20.0, 80.0]])
    np.testing.assert_allclose(metres.offsets(), feet.offsets(), atol=1e-12)
    # Speakers in one place (rounding residue of their mean included) stay at the centre.
    same = SpeakerLayout("c", [[0.1, 0.7]] * 3)
    np.testing.assert_array_equal(same.offsets(), np.zeros((3, 2)))


def test_rotating_by_90_degrees_turns_the_front_speaker_to_the_left() -> None:
    ring = load_layout("ring-8", 8)
    turned = ring.offsets(90.0)
    np.testing.assert_allclose(turned[0], [0.0, 1.0], atol=1e-12)  # front -> left
    np.testing.assert_allclose(turned[2], [1.0, 0.0], atol=1e-12)  # right -> front
    np.testing.assert_allclose(ring.offsets(-90.0)[0], [0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(ring.offsets(360.0), ring.offsets(), atol=1e-12)


def test_offsets_into_equals_offsets_and_writes_the_given_array() -> None:
    layout = load_layout("octagon-8", None)
    out = np.full((8, 2), np.nan)
    for degrees in (0.0, 12.5, -200.0):
        assert layout.offsets_into(degrees, out) is out
        np.testing.assert_array_equal(out, layout.offsets(degrees))


def test_offsets_into_allocates_nothing() -> None:
    layout = load_layout("ring-64", 64)
    out = np.empty((64, 2))
    layout.offsets_into(1.0, out)  # first call: anything lazily created is made here
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for hop in range(100):
            layout.offsets_into(0.37 * hop, out)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before == 0  # nothing kept
    assert peak - before < out.nbytes  # and no temporary the size of the result on the way


@pytest.mark.parametrize(
    "out",
    [
        np.empty((8, 3)),
        np.empty((7, 2)),
        np.empty((8, 2), np.float32),
        np.empty((2, 8)).T,
        [[0.0, 0.0]] * 8,
    ],
)
def test_offsets_into_refuses_an_array_it_cannot_fill(out) -> None:
    with pytest.raises(
        ParameterError,
        match=r"out must be a C-contiguous float64 array of "
        r"shape \(8, 2\)",
    ):
        load_layout("ring-8", 8).offsets_into(0.0, out)


def test_offsets_into_refuses_a_rotation_that_is_not_finite() -> None:
    with pytest.raises(ParameterError, match="rotate_deg must be finite, got nan"):
        load_layout("quad", 4).offsets_into(math.nan, np.empty((4, 2)))


def test_a_layout_is_immutable_and_compares_by_value() -> None:
    layout = load_layout("quad", 4)
    with pytest.raises(ValueError):
        layout.positions[0, 0] = 5.0
    assert layout == builtin_layout("quad") and hash(layout) == hash(builtin_layout("quad"))
    assert layout != load_layout("ring-4", 4)
    with pytest.raises(ParameterError, match="channel_mask must have one bit per speaker"):
        SpeakerLayout("x", np.zeros((2, 2)), channel_mask=0x33)
    with pytest.raises(ParameterError, match=r"expected 2 labels"):
        SpeakerLayout("x", np.zeros((2, 2)), ("L",))
    with pytest.raises(ParameterError, match="1 .. 64 speakers, got 65"):
        SpeakerLayout("x", np.zeros((65, 2)))
    with pytest.raises(ParameterError, match="must be finite"):
        SpeakerLayout("x", [[0.0, math.inf]])


# -- layout files -------------------------------------------------------------------------------


def test_the_shipped_files_are_there() -> None:
    names = {path.name for path in SHIPPED}
    assert {
        "stereo.toml",
        "quad.toml",
        "hexagon-6.toml",
        "octagon-8.toml",
        "room-positions.toml",
    } <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_file_loads_by_name_and_by_path(path: Path) -> None:
    layout = read_layout_file(path)
    assert layout == load_layout(path.name, layout.n_speakers) == load_layout(str(path), None)
    assert 1 <= layout.n_speakers <= 64 and len(set(layout.labels)) == layout.n_speakers


@pytest.mark.parametrize("name", ["stereo", "quad"])
def test_the_shipped_files_of_stereo_and_quad_place_the_built_ins(name: str) -> None:
    from_file = read_layout_file(LAYOUTS_FOLDER / f"{name}.toml")
    built_in = builtin_layout(name)
    np.testing.assert_allclose(from_file.positions, built_in.positions, atol=1e-12)
    assert from_file.labels == built_in.labels


def test_the_shipped_rings_have_a_pair_at_the_front_numbered_clockwise() -> None:
    assert azimuths(load_layout("hexagon-6", 6)) == [30.0, -30.0, -90.0, -150.0, 150.0, 90.0]
    octagon = azimuths(load_layout("octagon-8", 8))
    assert octagon[:2] == [22.5, -22.5] and octagon[-1] == 67.5


def test_a_file_reads_names_labels_and_positions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'name = "studio"\ndescription = "a test"\n'
        + speakers('position = [4, 2]\nlabel = "A"', "position = [0.0, 2.0]"),
    )
    layout = load_layout(str(path), 2)
    assert layout.name == "studio" and layout.labels == ("A", "2")
    np.testing.assert_array_equal(layout.positions, [[4.0, 2.0], [0.0, 2.0]])
    unnamed = write(tmp_path, speakers("azimuth = 90"), "wall.toml")
    assert read_layout_file(unnamed).name == "wall"


@pytest.mark.parametrize(
    "text, key, value",
    [
        (speakers("azimuth = 10", 'label = "x"'), "speaker[2]", "got neither"),
        (
            speakers("azimuth = 10", "azimuth = 5\nposition = [1, 2]"),
            "speaker[2]",
            "azimuth = 5, position = [1, 2]",
        ),
        (speakers('azimuth = "left"'), "speaker[1].azimuth", "'left'"),
        (speakers("azimuth = true"), "speaker[1].azimuth", "True"),
        (speakers("azimuth = 0", "azimuth = 0", "azimuth = inf"), "speaker[3].azimuth", "inf"),
        (speakers("azimuth = nan"), "speaker[1].azimuth", "nan"),
        (speakers("azimuth = 400"), "speaker[1].azimuth", "400"),
        (speakers("position = [1, 2, 3]"), "speaker[1].position", "[1, 2, 3]"),
        (speakers('position = [1, "b"]'), "speaker[1].position", "[1, 'b']"),
        (speakers("position = 3"), "speaker[1].position", "got 3"),
        (speakers("position = [0, -inf]"), "speaker[1].position", "[0, -inf]"),
        (speakers("azimuth = 0", "position = [1, 0]"), "speaker[2]", "position = [1, 0]"),
        (speakers("azimuth = 0\nlabel = 3"), "speaker[1].label", "got 3"),
        (speakers('azimuth = 0\nlabel = ""'), "speaker[1].label", "got ''"),
        (speakers("azimuth = 0\nazimut = 1"), "speaker[1].azimut", "= 1"),
        ("speaker = []\n", "speaker", "no [[speaker]] tables, got []"),
        ('name = "empty"\n', "speaker", "no [[speaker]] tables"),
        ("speaker = 4\n", "speaker", "got 4"),
        ("speaker = [1, 2]\n", "speaker[1]", "got 1"),
        ("name = 5\n" + speakers("azimuth = 0"), "name", "got 5"),
        ('naem = "x"\n' + speakers("azimuth = 0"), "naem", "'x'"),
        (speakers(*["azimuth = 0"] * 65), "speaker", "65 [[speaker]] tables"),
    ],
)
def test_a_bad_layout_file_names_the_file_the_key_and_the_value(
    tmp_path: Path, text: str, key: str, value: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_layout(str(path), None)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and f" {key}" in message and value in message, message


def test_a_toml_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, speakers("azimuth = 0", "azimuth = = 3"))
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        read_layout_file(path)
    assert str(path) in str(caught.value) and "line 4" in str(caught.value)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"{tmp_path}: cannot read layout file"):
        read_layout_file(tmp_path)  # a folder


def test_a_layout_file_is_looked_up_in_the_given_folders_first(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    write(mine, speakers("azimuth = 0", "azimuth = 180"), "stereo.toml")
    assert find_layout_file("stereo", [tmp_path, mine]) == mine / "stereo.toml"
    assert find_layout_file("stereo.toml") == LAYOUTS_FOLDER / "stereo.toml"
    assert find_layout_file("patches/layouts/quad.toml").samefile(LAYOUTS_FOLDER / "quad.toml")
    # A built-in name wins over a file of that name.
    assert load_layout("stereo", 2, [mine]).channel_mask == 0x3
    assert load_layout("stereo.toml", 2, [mine]).channel_mask is None


def test_an_unknown_layout_lists_the_built_ins_and_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_layout("dodecagon", 12, [tmp_path])
    message = str(caught.value)
    assert "layout 'dodecagon': not a built-in layout (mono, stereo, quad, ring-N, " in message
    assert str(tmp_path / "dodecagon.toml") in message
    assert str(LAYOUTS_FOLDER / "dodecagon.toml") in message


@pytest.mark.parametrize(
    "name, channels, has",
    [
        ("stereo", 4, 2),
        ("quad", 2, 4),
        ("ring-8", 16, 8),
        ("ring-16", 8, 16),
        ("line-3", 2, 3),
        ("hexagon-6", 8, 6),
    ],
)
def test_a_count_mismatch_names_both_numbers(name: str, channels: int, has: int) -> None:
    with pytest.raises(
        ConfigError,
        match=f"layout '{name}'.*has {has} speakers, not the {channels} channels asked for",
    ):
        load_layout(name, channels)


# -- the [field] section ------------------------------------------------------------------------


def test_the_field_section_defaults() -> None:
    field = Config().field
    assert (
        field.layout,
        field.spread,
        field.rotate,
        field.spin,
        field.wander,
        field.decorrelate,
        field.first_channel,
        field.voices,
    ) == ("", 0.5, 0.0, 0.0, 0.0, 0.0, 1, 0)
    layout, first, n_voices = field_layout(Config())
    assert (layout.name, first, n_voices) == ("stereo", 0, 2)  # "" with 2 channels


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("spread", -0.1, "[0.0, 8.0]"),
        ("spread", 9, "[0.0, 8.0]"),
        ("rotate", 361.0, "[-360.0, 360.0]"),
        ("spin", -400, "[-360.0, 360.0]"),
        ("wander", 4.5, "[0.0, 4.0]"),
        ("decorrelate", 1.5, "[0.0, 1.0]"),
        ("first_channel", 0, "[1, 64]"),
        ("first_channel", 65, "[1, 64]"),
        ("voices", -1, "[0, 64]"),
        ("voices", 65, "[0, 64]"),
        ("spread", "wide", "expected a number"),
        ("first_channel", 1.5, "expected an integer"),
        ("layout", 8, "expected a string"),
        ("spread", float("inf"), "expected a finite number"),
    ],
)
def test_a_bad_field_key_is_named(tmp_path: Path, key: str, value, words: str) -> None:
    path = write(tmp_path, "", "caminos.toml")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {f"field.{key}": value})
    message = str(caught.value)
    assert str(path) in message and f"field.{key}" in message and words in message, message


def test_an_unknown_field_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "[field]\nspraed = 1.0\n", "caminos.toml")
    with pytest.raises(ConfigError, match="unknown key field.spraed"):
        load_config(path)


def test_voices_must_equal_the_output_channels(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[audio]\nchannels = 4\n[field]\nvoices = 8\nlayout = "ring-16"\n', "caminos.toml"
    )
    with pytest.raises(ConfigError, match=r"field.voices = 8 but audio.channels = 4") as caught:
        load_config(path)
    assert str(path) in str(caught.value)
    with pytest.raises(
        ConfigError,
        match=r"first_channel \+ field.voices - 1: expected at most "
        r"64 .*60 \+ 8 - 1 = 67",
    ):
        load_config(path, {"audio.channels": 8, "field.first_channel": 60})


def test_set_field_layout_works_through_the_command_line_options() -> None:
    assert parse_override("field.layout=ring-8") == ("field.layout", "ring-8")
    args = argparse.Namespace(
        config=None,
        overrides=["field.layout=ring-8", "audio.channels=8", "field.spread=1", "field.voices=8"],
    )
    config = load_with_overrides(args)
    assert config.field.layout == "ring-8" and config.field.spread == 1.0
    layout, first, n_voices = field_layout(config)
    assert (layout.name, first, n_voices) == ("ring-8", 0, 8)
    args.overrides = ["field.layout=ring-8"]  # 2 channels: the mismatch names both numbers
    with pytest.raises(
        ConfigError, match="field.layout = 'ring-8' has 8 speakers, but the output has 2 channels"
    ):
        field_layout(load_with_overrides(args))


def test_caminos_config_prints_the_field_section(tmp_path: Path) -> None:
    config = load_config(None, {"field.layout": "quad", "audio.channels": 4, "field.spin": 3.5})
    text = describe(config)
    assert "[field]" in text and 'layout = "quad"  # speaker layout' in text
    assert load_config(write(tmp_path, text, "caminos.toml")) == config


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"field.layout": "ring-16", "audio.channels": 8, "field.voices": 8}, ("ring-16", 0, 8)),
        (
            {
                "field.layout": "ring-16",
                "audio.channels": 8,
                "field.voices": 8,
                "field.first_channel": 9,
            },
            ("ring-16", 8, 8),
        ),
        (
            {"field.layout": "ring-16", "audio.channels": 8, "field.first_channel": 9},
            ("ring-16", 8, 8),
        ),  # voices = 0: from first_channel to the last
        ({"field.layout": "mono", "audio.channels": 3, "field.first_channel": 5}, ("mono", 4, 3)),
        ({"field.layout": "mono", "audio.channels": 1}, ("mono", 0, 1)),
        ({"field.layout": "octagon-8", "audio.channels": 8}, ("octagon-8", 0, 8)),
        ({"field.layout": "", "audio.channels": 5}, ("ring-5", 0, 5)),
    ],
)
def test_field_layout_picks_the_speakers_of_this_machine(overrides, expected) -> None:
    layout, first, n_voices = field_layout(load_config(None, overrides))
    assert (layout.name, first, n_voices) == expected
    assert first + n_voices <= layout.n_speakers


@pytest.mark.parametrize(
    "overrides, words",
    [
        (
            {"field.layout": "ring-16", "audio.channels": 8, "field.first_channel": 17},
            "field.first_channel = 17 but layout 'ring-16' has 16 speakers",
        ),
        (
            {
                "field.layout": "ring-16",
                "audio.channels": 9,
                "field.voices": 9,
                "field.first_channel": 9,
            },
            "field.voices = 9 reach speaker 17, but layout 'ring-16' has 16",
        ),
        (
            {"field.layout": "ring-16", "audio.channels": 4, "field.first_channel": 9},
            "has 16 speakers, 8 of them from field.first_channel = 9, "
            "but the output has 4 channels",
        ),
        (
            {"field.layout": "", "audio.channels": 4, "field.first_channel": 5},
            'field.layout = "" with field.first_channel = 5: name the whole room\'s layout',
        ),
        ({"field.layout": "quad"}, "field.layout = 'quad' has 4 speakers, but the output has 2"),
        ({"field.layout": "ring-99"}, "field.layout = 'ring-99': layout 'ring-99': N of ring-N"),
        ({"field.layout": "nowhere"}, "field.layout = 'nowhere': layout 'nowhere': not a built-in"),
    ],
)
def test_field_layout_names_what_does_not_fit(overrides, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        field_layout(load_config(None, overrides))
    assert words in str(caught.value), str(caught.value)


def test_field_layout_finds_files_in_the_patches_folder_and_takes_the_devices_count(
    tmp_path: Path,
) -> None:
    (tmp_path / "layouts").mkdir()
    write(
        tmp_path / "layouts",
        speakers("azimuth = 0", "azimuth = 120", "azimuth = -120"),
        "triangle.toml",
    )
    config = load_config(None, {"paths.patches": str(tmp_path), "field.layout": "triangle"})
    with pytest.raises(ConfigError, match="has 3 speakers, but the output has 2"):
        field_layout(config)
    layout, first, n_voices = field_layout(config, channels=3)
    assert (layout.name, first, n_voices) == ("triangle", 0, 3)
