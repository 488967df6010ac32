"""The ``caminos`` command: subcommands over the engine's library functions.

Outermost layer: parses arguments, loads the configuration with command-line overrides, calls
:func:`engine.render.render` or :func:`engine.config.describe`, and turns every
:class:`~engine.errors.CaminosError` into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from engine.config import Config, config_from_mapping, describe, load_config, parse_override
from engine.errors import CaminosError

EXIT_ERROR = 2  # the same status argparse uses for a bad command line
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH",
                        help="configuration file (default: the project's config.toml)")
    parser.add_argument("--set", dest="overrides", metavar="SECTION.KEY=VALUE", action="append",
                        default=[], help="override one configuration key; repeatable "
                        "(e.g. --set phase.iterations=24 --set render.subtype=FLOAT)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand; each sets ``handler`` in its defaults."""
    parser = argparse.ArgumentParser(
        prog="caminos", description="Real-time audio/OSC performance engine for sound art.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from models.commands import register  # train, encode, reconstruct, morph, map
    register(commands)
    from models.voice.commands import register as register_voice; register_voice(commands)

    render = commands.add_parser(
        "render", help="render a sound file through phase recovery into a new file",
        description="Take a sound file's STFT magnitudes, optionally stretch or freeze them, "
                    "recover a phase, resynthesise, DC-block and limit, and write a new file.")
    render.add_argument("input", metavar="IN", help="sound file to read (wav, flac, ogg, aiff, mp3)")
    render.add_argument("-o", "--output", metavar="OUT", required=True,
                        help="file to write; the extension picks the format (.wav, .flac, ...)")
    render.add_argument("--phase", metavar="METHOD",
                        help="phase recovery: rtpghi, rtisi-la, gsrtisi-la, rtpghi+gsrtisi, pv, "
                             "input, random, pghi, fgla (default: phase.method)")
    render.add_argument("--stretch", metavar="R", type=float, default=1.0,
                        help="duration factor, 0.01 to 100: 2 renders twice as long")
    render.add_argument("--freeze-at", metavar="SECONDS", type=float,
                        help="from this time of the input on, hold its spectrum to the end")
    render.add_argument("--iterations", metavar="N", type=int,
                        help="iterations per frame (rtisi-la, gsrtisi-la, rtpghi+gsrtisi) or in "
                             "all (fgla); sets phase.iterations or phase.offline_iterations")
    render.add_argument("--lookahead", metavar="N", type=int,
                        help="look-ahead in frames (sets phase.lookahead)")
    render.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_config_options(render)
    render.set_defaults(handler=_render)

    config = commands.add_parser("config", help="print the effective configuration",
                                 description="Print the configuration after the file and "
                                             "overrides, with each key's meaning.")
    _add_config_options(config)
    config.set_defaults(handler=_config)
    return parser


# Keys whose validity depends on each other: checked only together, by load_config.
_JOINTLY_CHECKED = ("stft.n_fft", "stft.hop")


def _check_override(origin: str, dotted: str, value: Any) -> None:
    """Validate one override on its own, so that its error names the flag, not the file."""
    if dotted in _JOINTLY_CHECKED:
        return
    section, _, key = dotted.partition(".")
    config_from_mapping({section: {key: value}}, where=origin)


def load_with_overrides(args: argparse.Namespace, extra: dict[str, Any] | None = None) -> Config:
    """The configuration file named by ``--config`` with every ``--set`` and ``extra`` applied.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments holding ``config`` and ``overrides``.
    extra : dict, optional
        ``section.key`` to value from dedicated flags (``--iterations``), applied last.
    """
    overrides: dict[str, Any] = {}
    for text in args.overrides:
        dotted, value = parse_override(text)
        _check_override(f"--set {text}", dotted, value)
        overrides[dotted] = value
    for dotted, (flag, value) in (extra or {}).items():
        _check_override(flag, dotted, value)
        overrides[dotted] = value
    return load_config(args.config, overrides)


def _render(args: argparse.Namespace) -> int:
    from engine.render import render  # numba kernels compile on first import; config needs none

    config = load_with_overrides(args)
    method = args.phase or config.phase.method
    extra: dict[str, Any] = {}
    if args.phase is not None:
        extra["phase.method"] = ("--phase", args.phase)
    if args.lookahead is not None:
        extra["phase.lookahead"] = ("--lookahead", args.lookahead)
    if args.iterations is not None:
        key = "phase.offline_iterations" if method == "fgla" else "phase.iterations"
        extra[key] = ("--iterations", args.iterations)
    if extra:
        config = load_with_overrides(args, extra)
    report = render(args.input, args.output, config, method=config.phase.method,
                    stretch=args.stretch, freeze_at=args.freeze_at,
                    progress=False if args.no_progress else None)
    print(report.summary())
    return 0


def _config(args: argparse.Namespace) -> int:
    print(describe(load_with_overrides(args)), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``caminos`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 2 on a caminos error (one line on stderr), 130 when
        interrupted.
    """
    args = build_parser().parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    return run_handler(args)


def run_handler(args: argparse.Namespace) -> int:
    """Call the subcommand's handler (``args.handler``), turning caminos errors into status 2."""
    try:
        return args.handler(args)
    except CaminosError as exc:
        print(f"caminos: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("caminos: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
