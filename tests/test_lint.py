"""The linter and the formatter as tests: ruff, configured in pyproject.toml (pycodestyle and
pyflakes at the project's line length of 100), finds nothing in the code, the tests and the
benchmarks, and lays them out as they are; and the habits the code keeps (long modules say why,
hop-path functions stay short)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


CHECKED = ("engine", "models", "benchmarks", "tests", "patches")


def _ruff(*command: str) -> subprocess.CompletedProcess:
    """``ruff COMMAND... --no-cache`` over :data:`CHECKED`, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ruff_finds_nothing():
    done = _ruff("check")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


LONG_FILE_LINES = 500
LONG_FILE_REASON = "Why this file is longer than 500 lines:"


def test_a_long_module_says_why_at_its_top():
    """A module over 500 lines says in its docstring why it is one file (or it is split)."""
    import ast

    unexplained = []
    for file in sorted([*ROOT.glob("engine/**/*.py"), *ROOT.glob("models/**/*.py")]):
        text = file.read_text()
        if len(text.splitlines()) <= LONG_FILE_LINES:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if LONG_FILE_REASON not in " ".join(doc.split()):
            unexplained.append(str(file.relative_to(ROOT)))
    assert unexplained == []


def test_the_code_is_as_the_formatter_lays_it_out():
    """``ruff format`` (configured in pyproject.toml, its version pinned there) changes nothing."""
    done = _ruff("format", "--check")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


HOP_FUNCTION_LINES = 80
HOP_METHODS = ("process", "tick", "on_hop", "mix")  # what the hop clock calls on its objects


def test_no_function_on_the_hop_path_is_over_80_lines():
    """Every compiled kernel (``@njit``) and every hop method of ``engine/`` and ``models/``, as
    the formatter lays it out, from ``def`` to its last line (docstring included)."""
    import ast

    def compiled(node: ast.FunctionDef) -> bool:
        return any("njit" in ast.unparse(d) for d in node.decorator_list)

    long = []
    for file in sorted([*ROOT.glob("engine/**/*.py"), *ROOT.glob("models/**/*.py")]):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.FunctionDef) and (compiled(node) or node.name in HOP_METHODS):
                if node.end_lineno - node.lineno + 1 > HOP_FUNCTION_LINES:
                    long.append(f"{file.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert long == []
