"""caminos installs as a real package: one ``caminos`` namespace in site-packages, with the
checkpoints, example patches, scores and the page's files as package data.

Builds the wheel from the repository's tracked files, installs it into a fresh virtual
environment (without dependencies and without the network: the environment then sees this one's
site-packages for numpy, torch and the rest, but not its editable caminos) and renders the
demo score from an empty folder, as a user would after ``pip install``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(),
    reason="builds from the checkout's tracked files (git)",
)


def _run(
    command: list, cwd: Path, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the tracked files (nothing of the working tree's caches)."""
    source = tmp_path_factory.mktemp("source")
    files = _run(["git", "ls-files", "-z"], ROOT).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    # setuptools' PEP 517 backend directly: no build isolation, so no network.
    _run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta; "
            "print(build_meta.build_wheel(sys.argv[1]))",
            dist,
        ],
        source,
    )
    (built,) = dist.glob("caminos-*.whl")
    return built


def test_the_wheel_holds_one_caminos_namespace_and_the_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"caminos", wheel.name.split("-py3")[0] + ".dist-info"}
    for shipped in (
        "caminos/models/checkpoints/default.pt",
        "caminos/models/checkpoints/voice.pt",
        "caminos/models/checkpoints/lowlatency.pt",
        "caminos/models/voice/data/lexicons.json.gz",
        "caminos/patches/scores/demo.score",
        "caminos/patches/demo/demo.wav",
        "caminos/patches/paths/dawn.json",
        "caminos/patches/scenes/still.json",
        "caminos/patches/configs/low-latency.toml",
        "caminos/engine/control/web/static/index.html",
        "caminos/engine/cli/main.py",
        "caminos/models/api.py",
    ):
        assert shipped in names


def test_the_installed_wheel_renders_the_demo_score_from_an_empty_folder(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], tmp_path)
    python = venv / "bin" / "python"
    # Installed before this environment's site-packages is visible, so pip sees no other caminos.
    _run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            "-q",
            wheel,
        ],
        tmp_path,
    )
    site = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path
        ).stdout.strip()
    )
    # The dependencies from this environment: a path line adds the folder to sys.path without
    # running its .pth files, so the editable install of the checkout stays out.
    (site / "_caminos_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    where = _run(
        [
            python,
            "-c",
            "import caminos.engine as e, caminos.models as m; print(e.__file__); print(m.__file__)",
        ],
        empty,
        env,
    ).stdout.split()
    assert all(Path(path).is_relative_to(site) for path in where), where
    # As the README finds it.
    patches = _run(
        [python, "-c", "import caminos.patches as p; print(p.__path__[0])"], empty, env
    ).stdout.strip()
    assert Path(patches) == site / "caminos" / "patches"
    score = Path(patches) / "scores" / "demo.score"
    done = _run([venv / "bin" / "caminos", "render", "--score", score, "-o", "out.wav"], empty, env)
    assert "out.wav: 16.00 s from" in done.stdout
    info = sf.info(empty / "out.wav")
    assert (info.samplerate, info.channels, round(info.duration, 2)) == (48000, 2, 16.0)
    assert sorted(path.name for path in empty.iterdir()) == ["out.wav"]
