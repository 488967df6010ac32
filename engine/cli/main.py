"""The ``caminos`` command: every subcommand, over the library functions of the layers below.

The top layer (docs/architecture.md, "Layers"): :func:`build_parser` gathers ``render``,
``play``, ``devices`` and ``config`` from here, the autoencoder's commands from
:mod:`caminos.engine.cli.model` and the voice's from :mod:`caminos.engine.cli.voice`; they share
one copy of the configuration options and their loading (:mod:`caminos.engine.cli.options`),
and every :class:`~caminos.engine.core.errors.CaminosError` becomes one line on stderr and exit
status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from caminos.engine.cli.options import (
    add_config_options,
    check_output,
    load_with_overrides,
    run_handler,
)
from caminos.engine.core.config import PHASE_METHODS, STREAMING_PHASE_METHODS, describe
from caminos.engine.core.errors import ParameterError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand; each sets ``handler`` in its defaults."""
    parser = argparse.ArgumentParser(
        prog="caminos", description="Real-time audio/OSC performance engine for sound art."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from caminos.engine.cli.model import register  # train, encode, reconstruct, morph, map

    register(commands)
    from caminos.engine.cli.voice import register as register_voice  # say, babble, train voice

    register_voice(commands)
    from caminos.engine.cli.export import register as register_export  # export nn

    register_export(commands)

    render = commands.add_parser(
        "render",
        help="render a sound file through phase recovery into a new file",
        description="Take a sound file's STFT magnitudes, optionally stretch or freeze them, "
        "recover a phase, resynthesise, DC-block and limit, and write a new file.",
    )
    render.add_argument(
        "input",
        metavar="IN",
        nargs="?",
        help="sound file to read (wav, flac, ogg, aiff, mp3); not with --score",
    )
    render.add_argument(
        "--score",
        metavar="SCORE",
        help="replay a score (control events with "
        "their hops, as /engine/record writes) through the engine instead",
    )
    render.add_argument(
        "--seconds",
        metavar="S",
        type=float,
        help="with --score: length to render (default: to the score's end line)",
    )
    render.add_argument(
        "--jobs",
        metavar="N",
        type=int,
        default=1,
        help="with --score: render the field's voices in N processes, each a group of the "
        "room's channels, limited together: the same samples as one process, sooner on N "
        "free cores (default 1; 0: one per core; the mono layout is always one)",
    )
    render.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        required=True,
        help="file to write; the extension picks the format (.wav, .flac, ...)",
    )
    render.add_argument(
        "--phase",
        metavar="METHOD",
        help=f"phase recovery: {', '.join(PHASE_METHODS)} (default: "
        "phase.method); with --score, "
        "the streaming method the engine starts with (engine.phase_method)",
    )
    render.add_argument(
        "--stretch",
        metavar="R",
        type=float,
        default=1.0,
        help="duration factor, 0.01 to 100: 2 renders twice as long",
    )
    render.add_argument(
        "--freeze-at",
        metavar="SECONDS",
        type=float,
        help="from this time of the input on, hold its spectrum to the end",
    )
    render.add_argument(
        "--iterations",
        metavar="N",
        type=int,
        help="iterations per frame (rtisi-la, gsrtisi-la, rtpghi+gsrtisi) or in "
        "all (fgla); sets phase.iterations or phase.offline_iterations",
    )
    render.add_argument(
        "--lookahead", metavar="N", type=int, help="look-ahead in frames (sets phase.lookahead)"
    )
    render.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_options(render)
    render.set_defaults(handler=_render)

    play = commands.add_parser(
        "play",
        help="play the engine live on an audio device",
        description="Run the engine live: a DSP worker process computes hops ahead of a "
        "PortAudio stream; a status line shows CPU per hop, xruns, level and latency. "
        "The stream is restarted with backoff if the device fails. Ctrl-C stops.",
    )
    play.add_argument(
        "--file",
        metavar="SOUND",
        help="sound file for the file player, playing from the start (default: engine.file)",
    )
    play.add_argument("--no-loop", action="store_true", help="play the file once")
    play.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds")
    play.add_argument(
        "--installation",
        action="store_true",
        help="installation mode: log to engine.log_file, follow engine.start_time "
        "and stop_time, never give up on the device",
    )
    play.add_argument("--report", metavar="PATH", help="write a JSON report at the end")
    play.add_argument(
        "--record",
        metavar="PREFIX",
        help="record from the first hop: PREFIX.wav (the output) and PREFIX.score "
        "(every control event with its hop; replay with caminos render --score "
        "PREFIX.score)",
    )
    play.add_argument(
        "--status-every",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between status lines (0: none)",
    )
    play.add_argument("--no-osc", action="store_true", help="do not start the OSC server")
    play.add_argument(
        "--score",
        metavar="SCORE",
        help="play a score from the first hop (an "
        "installation playing a composed piece; OSC controls it on top); its events "
        "land on their hops, as caminos render --score places them",
    )
    play.add_argument(
        "--loop",
        action="store_true",
        help="with --score: start the score again after its end, forever",
    )
    play.add_argument(
        "--web",
        action="store_true",
        help="serve the control page on web.host:"
        "web.port (127.0.0.1:8080 by default; elsewhere with a token, whose URL "
        "and QR code are printed); as [web] enabled = true",
    )
    add_config_options(play)
    play.set_defaults(handler=_play)

    devices = commands.add_parser(
        "devices", help="list audio devices", description="List PortAudio's host APIs and devices."
    )
    devices.set_defaults(handler=_devices)

    config = commands.add_parser(
        "config",
        help="print the effective configuration",
        description="Print the configuration after the file and "
        "overrides, with each key's meaning.",
    )
    add_config_options(config)
    config.set_defaults(handler=_config)
    return parser


def _render(args: argparse.Namespace) -> int:
    # numba kernels compile on first import; config needs none
    from caminos.engine.dsp.render import render

    config = load_with_overrides(args)
    if (args.score is None) == (args.input is None):
        raise ParameterError("caminos render: give a sound file IN or --score SCORE (one of them)")
    if args.score is not None:
        return _render_score(args)
    if args.jobs != 1:
        raise ParameterError(
            "caminos render: --jobs splits a --score's field of voices over processes; "
            "a sound file IN renders in one"
        )
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
    report = render(
        args.input,
        args.output,
        config,
        method=config.phase.method,
        stretch=args.stretch,
        freeze_at=args.freeze_at,
        progress=False if args.no_progress else None,
    )
    print(report.summary())
    return 0


def _render_score(args: argparse.Namespace) -> int:
    """``caminos render --score``: the score plays through the engine, whose phase settings are
    ``[engine]``'s; ``--phase``, ``--lookahead`` and ``--iterations`` set them for the start."""
    from caminos.engine.control.surface import render_score_file

    refused = [
        flag
        for flag, given in (
            ("--stretch", args.stretch != 1.0),
            ("--freeze-at", args.freeze_at is not None),
        )
        if given
    ]
    if refused:
        raise ParameterError(
            f"caminos render --score: {' and '.join(refused)} apply to a sound "
            "file IN, not to a score, which plays at the engine's pace (use "
            "/source/file/speed and /latent/freeze in the score)"
        )
    extra: dict[str, Any] = {}
    if args.phase is not None:
        if args.phase not in STREAMING_PHASE_METHODS:
            raise ParameterError(
                f"caminos render --score: --phase {args.phase}: a score starts "
                f"with a streaming method: {', '.join(STREAMING_PHASE_METHODS)}"
            )
        extra["engine.phase_method"] = ("--phase", args.phase)
    if args.lookahead is not None:
        extra["engine.lookahead"] = ("--lookahead", args.lookahead)
    if args.iterations is not None:
        extra["engine.iterations"] = ("--iterations", args.iterations)
    config = load_with_overrides(args, extra)
    progress = False if args.no_progress else None
    print(render_score_file(args.score, args.output, config, args.seconds, args.jobs, progress))
    return 0


def _play(args: argparse.Namespace) -> int:
    from caminos.engine.live.play import play  # imports sounddevice, which needs PortAudio

    extra: dict[str, Any] = {}
    if args.file is not None:
        extra["engine.file"] = ("--file", args.file)
    if args.no_loop:
        extra["engine.loop"] = ("--no-loop", False)
    if args.installation:
        extra["engine.installation"] = ("--installation", True)
    if args.web:
        extra["web.enabled"] = ("--web", True)
    if args.loop and args.score is None:
        raise ParameterError(
            "caminos play: --loop loops a --score (the file player loops by "
            "default; --no-loop plays the file once)"
        )
    config = load_with_overrides(args, extra)
    if args.report:
        check_output(args.report, "--report")  # before anything starts, not after the run
    return play(
        config,
        seconds=args.seconds,
        report_path=args.report,
        record=args.record,
        status_every=args.status_every,
        osc=not args.no_osc,
        score=args.score,
        loop_score=args.loop,
        web=config.web.enabled,
    )


def _devices(args: argparse.Namespace) -> int:
    from caminos.engine.live.devices import describe_devices

    print(describe_devices())
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
