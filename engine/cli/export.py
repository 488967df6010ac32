"""``caminos export nn CHECKPOINT -o NAME.ts``: a model for nn~ in Max and Pure Data.

Over :func:`caminos.models.export.export_nn`: :func:`register` adds the ``export`` command
to ``caminos``'s argument parser; the handler writes the file, then prints its methods with
their channels and ratios, its attributes and its latency. Every failure is a
:class:`~caminos.engine.core.errors.CaminosError` naming the file (exit status 2). How to use
the file in a patch: ``docs/export.md``.
"""

from __future__ import annotations

import argparse

from caminos.engine.cli.options import check_output


def export_nn_command(args: argparse.Namespace) -> int:
    """``caminos export nn CHECKPOINT -o NAME.ts [--lookahead 0|1] [--texture AMOUNT]``."""
    from caminos.models.export import export_nn

    out = check_output(args.output)
    report = export_nn(args.checkpoint, out, lookahead=args.lookahead, texture=args.texture)
    rate = report.sample_rate
    print(
        f"{report.path}: nn~ model from {args.checkpoint} ({rate} Hz, n_fft {report.n_fft}, "
        f"hop {report.hop})"
    )
    for name, (in_ch, in_ratio, out_ch, out_ratio) in report.methods.items():
        print(f"  method {name}: {in_ch} in at ratio {in_ratio}, {out_ch} out at ratio {out_ratio}")
    print(f"  attributes: {', '.join(report.attributes)}")
    print(
        f"  latency of forward: {report.latency} samples = "
        f"{1000.0 * report.latency / rate:.1f} ms, plus nn~'s buffering (docs/export.md)"
    )
    print(
        f"  in a patch: [nn~ {out.name} forward 2048]; buffers 256 to 4096 samples, a "
        f"multiple of {report.hop}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``export nn`` to a subparsers object (``handler`` set in its defaults)."""
    export = subparsers.add_parser(
        "export",
        help="write a model for another host (nn~ in Max and Pure Data)",
        description="Write a caminos checkpoint as a file another host loads.",
    )
    targets = export.add_subparsers(dest="target", required=True, metavar="TARGET")
    nn = targets.add_parser(
        "nn",
        help="a TorchScript file for nn~ (Max, Pure Data)",
        description="Write CHECKPOINT as a TorchScript file that nn~ loads: methods forward "
        "(audio to audio), encode (audio to the latent axes) and decode (the "
        "latent axes to audio), streaming inside, with attributes follow, noise, "
        "pitch, texture, offset, x, y, phase and seed. It loads with torch alone.",
    )
    nn.add_argument("checkpoint", metavar="CHECKPOINT", help="a caminos checkpoint (.pt)")
    nn.add_argument("-o", "--output", metavar="NAME.ts", required=True, help="file to write")
    nn.add_argument(
        "--lookahead",
        type=int,
        choices=(0, 1),
        default=1,
        help="frames of phase look-ahead: 1 (default, as the engine's rtpghi) or "
        "0 (one hop less latency, a little less close)",
    )
    nn.add_argument(
        "--texture",
        type=float,
        metavar="AMOUNT",
        default=1.0,
        help="the texture attribute's value at load: how much of the input's "
        "spectral grain forward lays on the decoded frames, 0 to 1 (default "
        "1, as caminos reconstruct)",
    )
    nn.set_defaults(handler=export_nn_command)
