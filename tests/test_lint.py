"""The linter as a test: ruff, configured in pyproject.toml (pycodestyle and pyflakes at the
project's line length of 100), finds nothing in the code, the tests and the benchmarks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "engine",
                           "models", "benchmarks", "tests", "patches"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
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
