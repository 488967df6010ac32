"""Configuration loading: every kind of mistake stops with a message naming the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from caminos.engine.core.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    describe,
    load_config,
    parse_override,
)
from caminos.engine.core.errors import ConfigError


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "caminos.toml"
    path.write_text(text)
    return path


def test_the_shipped_config_toml_equals_the_built_in_defaults() -> None:
    assert load_config(DEFAULT_CONFIG_PATH) == Config()


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_config(write_toml(tmp_path, "")) == Config()


@pytest.mark.parametrize(
    "text, key, words",
    [
        ("[phase]\nitterations = 3\n", "phase.itterations", "unknown key"),
        ('[phase]\niterations = "many"\n', "phase.iterations", "expected an integer"),
        ("[phase]\niterations = 3.5\n", "phase.iterations", "expected an integer"),
        ("[phase]\niterations = 0\n", "phase.iterations", "expected a value in [1, 200]"),
        ("[render]\nceiling_db = 3.0\n", "render.ceiling_db", "expected a value in [-24.0, 0.0]"),
        ("[render]\nprogress = 1\n", "render.progress", "expected true or false"),
        ('[render]\nsubtype = "PCM_8"\n', "render.subtype", "expected one of"),
        ('[phase]\nmethod = "magic"\n', "phase.method", "expected one of"),
        ("[stft]\nn_fft = 1000\n", "stft.n_fft", "power of two"),
        ("[stft]\nhop = 300\n", "stft.hop", "divisor"),
        ("[stft]\nhop = 1024\n", "stft.hop", "redundancy"),
    ],
)
def test_a_bad_key_is_named_with_the_file(tmp_path: Path, text: str, key: str, words: str) -> None:
    path = write_toml(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message and key in message and words in message, message


def test_an_unknown_section_is_named(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[redner]\nsubtype = "FLOAT"\n')
    with pytest.raises(ConfigError, match=r"unknown section \[redner\]") as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_bad_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[phase]\niterations = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_config(path)
    assert str(path) in str(caught.value) and "line 2" in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("phase.iterations=24", ("phase.iterations", 24)),
        ("render.ceiling_db=-1.5", ("render.ceiling_db", -1.5)),
        ("render.progress=false", ("render.progress", False)),
        ("phase.method=pv", ("phase.method", "pv")),  # not TOML: taken as a plain string
        ('phase.method="rtisi-la"', ("phase.method", "rtisi-la")),
        (" phase.seed =7", ("phase.seed", 7)),
    ],
)
def test_override_values_are_read_as_toml(text: str, expected: tuple) -> None:
    assert parse_override(text) == expected


@pytest.mark.parametrize("text", ["phase.iterations", "iterations=3", "=3"])
def test_a_malformed_override_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="expected section.key=value"):
        parse_override(text)


def test_overrides_replace_the_files_values_and_are_checked(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[phase]\niterations = 3\n")
    assert load_config(path, {"phase.iterations": 5}).phase.iterations == 5
    with pytest.raises(ConfigError, match="phase.iterations"):
        load_config(path, {"phase.iterations": 500})
    with pytest.raises(ConfigError, match="unknown key phase.nope"):
        load_config(path, {"phase.nope": 1})
    with pytest.raises(ConfigError, match="'nope.key'"):
        load_config(path, {"nope.key": 1})


def test_describe_round_trips_through_toml(tmp_path: Path) -> None:
    config = load_config(None, {"phase.iterations": 7, "render.subtype": "FLOAT"})
    assert load_config(write_toml(tmp_path, describe(config))) == config


def test_paths_default_to_the_checkout_and_otherwise_to_the_users_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from caminos.engine.core.config import PROJECT_ROOT, PathsConfig

    paths = PathsConfig()
    assert paths.folder("patches") == PROJECT_ROOT / "patches"
    assert paths.folder("recordings") == PROJECT_ROOT / "recordings"
    installed = tmp_path / "site-packages"  # what an installed package's parent folder looks like
    (installed / "engine").mkdir(parents=True)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert paths.folder("patches", installed) == tmp_path / "data" / "caminos" / "patches"
    assert paths.folder("recordings", installed) == tmp_path / "data" / "caminos" / "recordings"
    monkeypatch.chdir(tmp_path)
    chosen = load_config(overrides={"paths.patches": "mine", "paths.recordings": "/srv/takes"})
    assert chosen.paths.folder("patches") == tmp_path / "mine"
    assert chosen.paths.folder("recordings") == Path("/srv/takes")
    text = describe(chosen)
    assert "[paths]" in text and f"(now: {tmp_path / 'mine'})" in text


def test_saved_patches_go_to_the_configured_folder_and_the_shipped_ones_still_load(
    tmp_path: Path,
) -> None:
    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.surface import attach

    config = load_config(
        overrides={
            "paths.patches": str(tmp_path / "patches"),
            "paths.recordings": str(tmp_path / "takes"),
        }
    )
    engine = Engine(config, voice=False)
    surface = attach(engine)
    engine.post("/path/load", "dawn")  # shipped in the project's patches/paths/
    engine.post("/scene/load", 3, "still")
    engine.tick()
    assert "dawn" in surface.navigator.paths and 3 in surface.scenes.slots
    saved = engine.post("/path/save", "dawn")
    assert saved == [("/path/save", str(tmp_path / "patches" / "paths" / "dawn.json"))]
    assert surface.recorder.folder == tmp_path / "takes"
    with pytest.raises(Exception, match="cannot read"):
        engine.post("/path/load", "nowhere")
