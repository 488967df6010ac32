"""Human-readable files of paths, landmarks and scenes under ``patches/``: names, reading, writing.

Used by :mod:`caminos.engine.control.navigation` and :mod:`caminos.engine.control.scenes` from the
posting thread (a control's
``prepare``, or a query), never from the DSP thread. Names that come over OSC are plain names
(``dawn``, ``scene-3``) mapped into one folder, so a remote client cannot read or write elsewhere;
a file that fails to parse is reported with its line and column.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from caminos.engine.core.errors import ControlError

PATCHES_FOLDER = Path(__file__).resolve().parents[2] / "patches"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def check_name(address: str, name: str) -> str:
    """A name safe to use as a file name: letters, digits, ``_ . -``, at most 64 characters."""
    if not _NAME.match(name) or ".." in name:
        raise ControlError(
            f"{address}: name {name!r} must be 1 to 64 letters, digits, _ . - (no folders)"
        )
    return name


def file_for(folder: Path, address: str, name: str, suffix: str) -> Path:
    """``folder/name + suffix`` for a checked ``name``."""
    return Path(folder) / (check_name(address, name) + suffix)


def file_to_read(folder: Path, address: str, name: str, suffix: str) -> Path:
    """``folder/name + suffix``, or the shipped example of that name (``patches/`` of caminos,
    same sub-folder) when ``folder`` has none: ``[paths] patches`` may point elsewhere, and the
    examples are still found. A file in ``folder`` wins."""
    path = file_for(folder, address, name, suffix)
    if not path.exists():
        shipped = PATCHES_FOLDER / Path(folder).name / path.name
        if shipped.is_file():
            return shipped
    return path


def read_json(path: Path, address: str, kind: str) -> dict[str, Any]:
    """Read one JSON file of ``kind`` (``path``, ``landmark``, ``scene``).

    Raises
    ------
    ControlError
        Missing or unreadable file, a syntax error (with its line and column), or a file of
        another kind; the message names the file.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ControlError(f"{address}: {path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ControlError(
            f"{address}: {path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from None
    if not isinstance(data, dict) or data.get("caminos") != kind:
        raise ControlError(
            f"{address}: {path}:1: not a caminos {kind} file (expected "
            f'"caminos": "{kind}" at the top)'
        )
    return data


def write_json(path: Path, address: str, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON, atomically (a temporary file renamed over the target)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(_dumps(data) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        raise ControlError(f"{address}: {path}: cannot write ({exc.strerror or exc})") from None
    return path


def _dumps(data: Any, indent: int = 0) -> str:
    """JSON with one list of numbers per line, so a point or a scene value reads at a glance."""
    pad = "  " * indent
    if isinstance(data, dict):
        if not data:
            return "{}"
        items = [f"{pad}  {json.dumps(k)}: {_dumps(v, indent + 1)}" for k, v in data.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(data, list) and data and any(isinstance(v, (dict, list)) for v in data):
        items = [f"{pad}  {_dumps(v, indent + 1)}" for v in data]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(data)


def number_rows(value: Any, where: str, dims: int) -> list[list[float]]:
    """Check a list of rows of at most ``dims`` finite numbers; ``where`` names file and key."""
    if not isinstance(value, list) or not value:
        raise ControlError(f"{where}: expected a non-empty list of lists of numbers")
    rows = []
    for i, row in enumerate(value):
        if (
            not isinstance(row, list)
            or not 1 <= len(row) <= dims
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row)
            or not all(abs(float(v)) < 1e6 for v in row)
        ):
            raise ControlError(
                f"{where}[{i}]: expected 1 to {dims} finite numbers, got {str(row)[:60]}"
            )
        rows.append([float(v) for v in row])
    return rows
