"""What every ``caminos`` subcommand shares: the configuration options, loading the
configuration with its overrides, the output-file check and the exit statuses.

One copy for all subcommands (``render``, ``play``, ``config``, the model's and the voice's), so
that an override is checked the same way everywhere and a bad one is blamed on the flag that
gave it (``--set KEY=VALUE``, ``--language``), never on ``config.toml``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from caminos.engine.core.config import Config, config_from_mapping, load_config, parse_override
from caminos.engine.core.errors import CaminosError

EXIT_ERROR = 2  # the same status argparse uses for a bad command line
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
# Keys whose validity depends on each other: checked only together, by load_config
# (field.voices must equal audio.channels, which another flag or the file may set).
_JOINTLY_CHECKED = ("stft.n_fft", "stft.hop", "field.voices")


class OutputError(CaminosError):
    """An output file (landmark, picture, sound) cannot be written where asked."""


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """``--config PATH`` and ``--set SECTION.KEY=VALUE`` (repeatable)."""
    parser.add_argument(
        "--config", metavar="PATH", help="configuration file (default: the project's config.toml)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="SECTION.KEY=VALUE",
        action="append",
        default=[],
        help="override one configuration key; repeatable "
        "(e.g. --set phase.iterations=24 --set render.subtype=FLOAT)",
    )


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """``--model CHECKPOINT``: the autoencoder to use instead of ``model.checkpoint``."""
    parser.add_argument(
        "--model",
        metavar="CHECKPOINT",
        default=None,
        help="autoencoder checkpoint (default: model.checkpoint of the "
        "configuration, the shipped models/checkpoints/default.pt)",
    )


def _check_override(origin: str, dotted: str, value: Any) -> None:
    """Validate one override on its own, so that its error names the flag, not the file."""
    if dotted in _JOINTLY_CHECKED:
        return
    section, _, key = dotted.partition(".")
    config_from_mapping({section: {key: value}}, where=origin)


def load_with_overrides(
    args: argparse.Namespace, extra: dict[str, tuple[str, Any]] | None = None
) -> Config:
    """The configuration file named by ``--config`` with every ``--set`` and ``extra`` applied.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments holding ``config`` and ``overrides``.
    extra : dict, optional
        ``section.key`` to ``(flag, value)`` from dedicated flags (``--iterations``,
        ``--language``), applied last; an invalid value is blamed on its flag.

    Raises
    ------
    ConfigError
        The file, an override or the combination is invalid.
    """
    overrides: dict[str, Any] = {}
    for text in getattr(args, "overrides", None) or []:
        dotted, value = parse_override(text)
        _check_override(f"--set {text}", dotted, value)
        overrides[dotted] = value
    for dotted, (flag, value) in (extra or {}).items():
        _check_override(flag, dotted, value)
        overrides[dotted] = value
    return load_config(getattr(args, "config", None), overrides)


def check_output(path: str | os.PathLike, flag: str = "") -> Path:
    """``path`` as a file that can be written: not a folder, in a folder that exists.

    Raises
    ------
    OutputError
        It names a folder, or its folder is missing (the message starts with ``flag``, the
        option that gave the path, when one is given).
    """
    target = Path(path)
    named = f"{flag} {target}" if flag else str(target)
    if target.is_dir():
        raise OutputError(f"{named}: is a folder; give a file name to write")
    if not target.parent.is_dir():
        raise OutputError(f"{named}: folder {target.parent} does not exist")
    return target


def run_handler(args: argparse.Namespace) -> int:
    """Call the subcommand's handler (``args.handler``), turning caminos errors into status 2
    (one line on stderr) and Ctrl-C into 130."""
    try:
        return args.handler(args)
    except CaminosError as exc:
        print(f"caminos: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("caminos: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
