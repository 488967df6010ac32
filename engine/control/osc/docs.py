"""``docs/osc.md`` from the control registry: ``python -m caminos.engine.control.osc.docs --doc``.

:func:`documented_engine` builds an engine with every control a performer can reach (the
surface, the OSC server's own ``/osc/reply_port`` and the voice's addresses);
:func:`registry_markdown` writes its registry as one table per group, then the file formats.
``tests/test_osc_docs.py`` fails when ``docs/osc.md`` is out of date.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any, Sequence

from caminos.engine.core.controls import ControlRegistry

DOC_HEADER = """\
# OSC address space

Generated from the engine's control registry by \
`python -m caminos.engine.control.osc.docs --doc > docs/osc.md`;
`tests/test_osc_docs.py` fails when this file is out of date. Every address below is also a line
of a score (`engine/control/score.py`) and answers `/engine/list`.

- The server listens on UDP `[osc] host:port` of `config.toml` (127.0.0.1:9000 by default) and,
  when `[osc] allow` lists addresses, accepts only those clients.
- Messages apply at the next hop (5.3 ms at 48 kHz / 256); a timetagged bundle applies at the hop
  its time names, messages within it in order. Changes are smoothed (`engine.smoothing_ms`).
- Replies go back to the port the message came from, or to `[osc] reply_port`, or to the port a
  client asks for with `/osc/reply_port i`.
- A bad message (unknown address, wrong number or types of arguments, NaN, out of range, a
  malformed packet or an argument type that cannot be read, and, in `caminos play`, a control
  naming a path, landmark or scene that does not exist, an empty `/voice/say` or a malformed
  `/voice/mix`) changes nothing and is answered with `/error s s`: the address (empty for an
  unreadable packet) and the reason. Errors are counted in `/engine/status` (`control_errors`,
  `osc_malformed`). A client sending faster than the engine handles its messages (more than
  8 MiB waiting) has the excess dropped unread and counted (`osc_dropped`); the server never
  drops another client's messages for it.
- Types: `f` float (an integer is accepted), `i` integer (Pd's floats with integral values are
  accepted; OSC true and false are 1 and 0), `s` string; `...` after the last type: one or more
  of it; `[...]`: may be left out; `*`: any number of numbers or strings (`/midi/learn`).
- Address patterns (OSC 1.0: `*`, `?`, `[a-z]`, `[!a]`, `{a,b}`) send one message to every
  matching address except the queries: `/source/*/gain 0` mutes every source.
"""


DOC_FOOTER = """
## Files: paths, landmarks, scenes, scores, MIDI mappings

Written by `/path/save`, `/landmark/save`, `/scene/save` and `/engine/record`, and as easily by
hand (examples: `patches/paths/dawn.json`, `patches/scenes/still.json`,
`patches/scores/dawn.score`). Names over OSC are plain names (letters, digits, `_ . -`) mapped
into their folder. A file that does not parse is refused with its line and column, and nothing
playing changes.

- **Path** `patches/paths/NAME.json`: `{"caminos": "path", "times_s": [0, 2, ...],
  "points_std": [[x0, x1, ...], ...]}`: one point per row, the first axes' offsets in standard
  deviations (missing axes are 0), each point's time in seconds from the first (`times_s` may be
  left out: then `/path/step` seconds apart).
- **Landmark** `patches/paths/NAME.landmark.json`: `{"caminos": "landmark", "points_std":
  [[...], ...]}`, one row per hop of its trajectory (one row for a point). `/landmark/add NAME
  FILE.npz` also reads what `caminos encode SOUND -o FILE.npz` writes.
- **Scene** `patches/scenes/NAME.json`: `{"caminos": "scene", "controls": {"/latent/follow":
  [0.0], "/path/interp": ["cubic"], ...}}`: any address with a value, as `/engine/get` answers;
  each is checked against the table above when the file loads.
- **Score** `NAME.score`: a header `sample_rate 48000` and `hop_size 256`, then one event per
  line, `hop N /address args...` in time order, `#` comments, and optionally `hop N end`.
  Strings with spaces are quoted. `caminos render --score NAME.score -o OUT.wav` plays it through
  the engine; one recorded from the engine's first hop renders to the same samples.
- **MIDI mappings** `patches/midi.json`: written by `/midi/learn` and `/midi/forget`, read at
  start: `{"caminos": "midi", "mappings": [{"kind": "cc", "channel": 1, "number": 7, "address":
  "/out/gain", "args": []}, ...]}` (`docs/midi.md`).
"""


_CHANNEL = re.compile(r"^/channel/(\d+)/")
CHANNEL_NOTE = """\
`K` is a channel of the room, 1 .. its speakers (`[field] layout`; 2 at the defaults). An
instance that plays a slice of the room (`field.first_channel`, `field.voices`) answers every
channel's addresses and applies its own; a channel outside the room is answered with `/error`.
`xy`, `offset`, `follow` and `path` exist when each channel has a voice of its own (any layout
but `mono`)."""


def registry_markdown(registry: ControlRegistry) -> str:
    """The registry as Markdown: one table per group, one row per address, then the files.

    Groups come in the order of their first address; the addresses of each channel
    (``/channel/K/...``) are listed once, as channel K's.
    """
    lines = [DOC_HEADER]
    group = None
    order: dict[str, int] = {}  # each group's first place: one table per group
    for control in registry:
        order.setdefault(control.group, len(order))
    for control in sorted(registry, key=lambda c: order[c.group]):
        channel = _CHANNEL.match(control.address)
        if channel is not None and channel.group(1) != "1":
            continue
        if control.group != group:
            group = control.group
            lines += ["", f"## {group or 'other'}", ""]
            if group == "channel":
                lines += [CHANNEL_NOTE, ""]
            lines += ["| address | types | arguments | what it does |", "|---|---|---|---|"]
        kind = " (query)" if control.query else ""
        tags = control.type_tags.replace("…", "...") or "-"
        args = control.signature().replace("…", "...").replace("|", "\\|")
        doc = control.doc.replace("|", "\\|")
        address = control.address
        if channel is not None:
            address = "/channel/K/" + address[channel.end() :]
            doc = re.sub(r"\bchannel 1\b", "channel K", doc).replace("/channel/1/", "/channel/K/")
        lines.append(f"| `{address}` | `{tags}` | {args} | {doc}{kind} |")
    return "\n".join(lines) + "\n" + DOC_FOOTER


def documented_engine(config: Any = None) -> Any:
    """An engine with every control registered (navigation, scenes, scores, queries, OSC and
    the voice's ``/voice/*``), for the documentation and the patch checks; its voice controls
    are documentation only (they drive no stream)."""
    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.osc.server import OscServer
    from caminos.engine.control.surface import attach
    from caminos.engine.core.config import load_config
    from caminos.models.voice.settings import VoiceSettings, voice_controls

    config = config or load_config()
    engine = Engine(config)
    attach(engine)
    OscServer(engine, config.osc)
    # The voice's addresses, registered live when caminos play attaches the voice.
    for control in voice_controls(VoiceSettings(config)):
        if control.address not in engine.registry:
            engine.registry.add(control)
    return engine


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m caminos.engine.control.osc.docs --doc``: print docs/osc.md."""
    parser = argparse.ArgumentParser(
        prog="python -m caminos.engine.control.osc.docs",
        description="The OSC address space of caminos.",
    )
    parser.add_argument("--doc", action="store_true", help="print docs/osc.md (Markdown)")
    args = parser.parse_args(argv)
    if args.doc:
        sys.stdout.write(registry_markdown(documented_engine().registry))
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
