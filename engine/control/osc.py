"""The OSC server: UDP datagrams from Max, Pd, SuperCollider or any controller into engine events.

Outermost control layer (docs/architecture.md): one thread receives datagrams and hands each to
its client's lane (a thread per sending address, so one client's slow request, a long voice
landmark or a big file, never delays another's messages, and each client's order is kept); the
lane parses it with python-osc's packet classes, and posts each message to :meth:`caminos.engine.clock.engine.Engine.post`, which
validates it against the one control registry and queues it on the hop clock. Timetagged bundles
land at the hop their time names (:meth:`Engine.hop_for_time`), immediate messages at the next
hop, in the order they arrived. Every bad packet is answered with ``/error s s`` (address,
reason), counted, and changes nothing; the server thread never dies of its input. Queries
(``/engine/list``, ``/engine/get``, ``/engine/status``) are answered to the sender, or to the
configured reply port. ``python -m caminos.engine.control.osc --doc`` writes ``docs/osc.md`` from the registry.
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import queue
import re
import socket
import sys
import threading
import time as clock
from typing import Any, Iterable, Sequence

from pythonosc import osc_bundle, osc_message
from pythonosc.osc_message_builder import OscMessageBuilder

from caminos.engine.core.config import OscConfig
from caminos.engine.core.controls import Arg, ControlRegistry
from caminos.engine.core.errors import ControlError

MAX_DATAGRAM = 65536  # bytes; the largest UDP payload
POLL_SECONDS = 0.1  # the receive timeout, so that stop() returns within this time
LANE_IDLE_SECONDS = 5.0  # a client's lane thread ends after this long without a datagram
MAX_LANES = 64  # clients handled side by side; more share the lanes by address
ERROR_ADDRESS = "/error"
MALFORMED_LOG_SECONDS = 1.0  # a summary of malformed packets is logged at most this often
log = logging.getLogger("caminos.osc")


class MalformedPacket(ValueError):
    """A datagram that is not an OSC message or bundle."""


class _PythonOscWarnings(logging.Filter):
    """Keeps python-osc's parse warnings (``Unhandled parameter type: x``, which it logs on the
    root logger for every such packet, hundreds a second under a flood) off the log: the thread
    parsing the packet notes the warning, and :func:`parse_packet` refuses the packet."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "pythonosc" not in (record.pathname or ""):
            return True
        _PARSING.warning = record.getMessage()
        return False


_PARSING = threading.local()
_FILTER = _PythonOscWarnings()


def _catch_python_osc_warnings() -> None:
    root = logging.getLogger()
    if _FILTER not in root.filters:
        root.addFilter(_FILTER)


def parse_packet(data: bytes) -> list[tuple[float | None, str, list]]:
    """Parse one datagram into its messages, in order, with their bundle time.

    Parameters
    ----------
    data : bytes
        One UDP datagram.

    Returns
    -------
    list of (time, address, args)
        ``time`` is the enclosing bundle's timetag in Unix seconds, or None for a bare message or
        an "immediately" bundle. Nested bundles are flattened depth first, keeping order.

    Raises
    ------
    MalformedPacket
        The datagram is empty, truncated, neither a message nor a bundle, or holds an argument
        type python-osc cannot read (it would drop the argument and log a warning).
    """
    _catch_python_osc_warnings()
    _PARSING.warning = ""
    out: list[tuple[float | None, str, list]] = []
    try:
        if osc_bundle.OscBundle.dgram_is_bundle(data):
            _flatten(osc_bundle.OscBundle(data), None, out)
        elif osc_message.OscMessage.dgram_is_message(data):
            message = osc_message.OscMessage(data)
            out.append((None, message.address, list(message.params)))
        else:
            raise MalformedPacket("not an OSC message or bundle (it must start with / or "
                                  "#bundle)")
    except MalformedPacket:
        raise
    except Exception as exc:  # python-osc raises ParseError, IndexError, struct.error, ...
        raise MalformedPacket(f"malformed OSC packet: {exc}") from None
    if _PARSING.warning:
        raise MalformedPacket(f"malformed OSC packet: {_PARSING.warning}")
    return out


def _flatten(bundle: osc_bundle.OscBundle, outer: float | None,
             out: list[tuple[float | None, str, list]]) -> None:
    stamp = bundle.timestamp
    time = outer if stamp == 0 else float(stamp)  # 0 is python-osc's "immediately"
    count = 0
    for content in bundle:
        count += 1
        if isinstance(content, osc_bundle.OscBundle):
            _flatten(content, time, out)
        else:
            out.append((time, content.address, list(content.params)))
    if count != _declared_elements(bundle.dgram):
        raise MalformedPacket("bundle elements do not match their declared sizes, or one is "
                              "neither a message nor a bundle")


def _declared_elements(dgram: bytes) -> int:
    """Number of size-prefixed elements in a bundle datagram; -1 when the sizes do not tile it
    exactly (python-osc accepts a truncated last element and skips unknown ones)."""
    index, count = 16, 0
    while index + 4 <= len(dgram):
        size = int.from_bytes(dgram[index:index + 4], "big", signed=True)
        if size < 0 or size % 4:
            return -1
        index += 4 + size
        count += 1
    return count if index == len(dgram) else -1


PATTERN_CHARACTERS = frozenset("*?[{")


def match_addresses(pattern: str, addresses: Iterable[str]) -> list[str]:
    """The addresses an OSC 1.0 address pattern matches, in the given order.

    ``*`` matches any characters within one part (not ``/``), ``?`` one character, ``[abc]``,
    ``[a-z]`` and ``[!abc]`` one character of a set, ``{foo,bar}`` one of the strings:
    ``/source/*/gain`` matches the gain of every source.
    """
    regex = _pattern_regex(pattern)
    return [a for a in addresses if regex.fullmatch(a)]


@functools.lru_cache(maxsize=256)
def _pattern_regex(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end
        elif c == "{" and "}" in pattern[i + 1:]:
            end = pattern.index("}", i + 1)
            out.append("(?:" + "|".join(re.escape(s) for s in pattern[i + 1:end].split(",")) + ")")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def encode_message(address: str, args: Iterable[Any]) -> bytes:
    """One OSC message as bytes; numbers as int32 or float32, booleans as ints, None as ``""``."""
    builder = OscMessageBuilder(address=address)
    for value in args:
        if isinstance(value, bool):
            builder.add_arg(int(value), "i")
        elif isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
            number = int(value)
            if -2**31 <= number < 2**31:
                builder.add_arg(number, "i")
            else:
                builder.add_arg(float(number), "f")
        elif isinstance(value, float) or hasattr(value, "dtype"):
            builder.add_arg(float(value), "f")
        elif value is None:
            builder.add_arg("", "s")
        else:
            builder.add_arg(str(value), "s")
    return builder.build().dgram


class OscServer:
    """Receives OSC over UDP in its own thread and plays it into an engine.

    Parameters
    ----------
    engine : Engine
        Receives every message through :meth:`Engine.post`; its ``status()`` gains the server's
        counters (``osc_messages``, ``osc_malformed``, ``osc_refused``, ``osc_replies``,
        ``osc_errors_answered``).
    config : OscConfig
        Host, port (0 picks a free one), reply port and allow-list.

    A server given an engine without the queries first attaches :func:`caminos.engine.control.surface.attach`
    (navigation, scenes, recording, queries), so every address of ``docs/osc.md`` answers.

    Attributes
    ----------
    address : tuple of (str, int)
        Where the server listens, once :meth:`start` has bound it.
    """

    def __init__(self, engine: Any, config: OscConfig | None = None) -> None:
        self.engine = engine
        self.config = config or OscConfig()
        self.allowed = self.config.allowed
        self.counters = {"osc_messages": 0, "osc_malformed": 0, "osc_refused": 0,
                         "osc_replies": 0, "osc_errors_answered": 0, "osc_internal_errors": 0}
        self.reply_ports: dict[str, int] = {}  # client IP -> port asked for by /osc/reply_port
        self._malformed_logged = (-math.inf, 0)  # (when, osc_malformed then)
        self._known: list[str] = []
        self._known_count = -1
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lanes: dict[tuple[str, int], queue.SimpleQueue] = {}
        self._lanes_lock = threading.Lock()  # the receiving thread and ending lanes only
        engine.extra_status.append(self.status)
        if "/engine/list" not in engine.registry:  # a bare engine: every documented address
            from caminos.engine.control.surface import attach
            attach(engine)
        if "/osc/reply_port" not in engine.registry:
            engine.add_control(
                "/osc/reply_port", (Arg("port", "i", 0, 65535),),
                "replies to this client's host go to this UDP port (0: back to the port each "
                "message came from); answers /osc/reply_port i", _set_reply_port,
                group="engine", query=True)

    # ------------------------------------------------------------------------ lifecycle
    def start(self) -> "OscServer":
        """Bind the socket and start the receiving thread; returns self."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # No SO_REUSEADDR: with it a second engine could bind the same UDP port and silently
        # take the messages; without it the second one is told the port is busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            sock.close()
            raise ControlError(f"osc: cannot listen on {self.config.host}:{self.config.port} "
                               f"({exc.strerror or exc})") from None
        sock.settimeout(POLL_SECONDS)
        self._socket = sock
        self.address = sock.getsockname()
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="caminos-osc", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the socket (returns within about 0.1 s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self.status in self.engine.extra_status:
            self.engine.extra_status.remove(self.status)

    def status(self) -> dict[str, int]:
        """The server's counters, for ``/engine/status``."""
        return dict(self.counters)

    def __enter__(self) -> "OscServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The UDP port bound."""
        return self.address[1]

    # ---------------------------------------------------------------------- receiving
    def _serve(self) -> None:
        sock = self._socket
        while not self._stop.is_set():
            try:
                data, sender = sock.recvfrom(MAX_DATAGRAM)
            except socket.timeout:
                continue
            except OSError:  # an ICMP "port unreachable" from an earlier reply, or closing
                continue
            self._dispatch(data, sender)

    def _dispatch(self, data: bytes, sender: tuple[str, int]) -> None:
        """Queue a datagram on ``sender``'s lane, starting the lane's thread when it has none
        (under the lock an idle lane ends with, so nothing is put on a lane that has ended)."""
        with self._lanes_lock:
            lane = self._lanes.get(sender)
            if lane is None:
                if len(self._lanes) >= MAX_LANES:  # very many clients: share by address
                    lane = list(self._lanes.values())[hash(sender) % len(self._lanes)]
                else:
                    lane = self._lanes[sender] = queue.SimpleQueue()
                    threading.Thread(target=self._run_lane, args=(sender, lane), daemon=True,
                                     name="caminos-osc-lane").start()
            lane.put((data, sender))

    def _run_lane(self, sender: tuple[str, int], lane: queue.SimpleQueue) -> None:
        """Handle one client's datagrams in order until it has been idle a while."""
        while not self._stop.is_set():
            try:
                data, origin = lane.get(timeout=LANE_IDLE_SECONDS)
            except queue.Empty:
                with self._lanes_lock:
                    if lane.empty():
                        self._lanes.pop(sender, None)
                        return
                continue
            try:
                for reply, target in self.handle(data, origin):
                    self._send(reply, target)
            except Exception:  # never let one datagram stop the server
                self.counters["osc_internal_errors"] += 1

    def _send(self, data: bytes, target: tuple[str, int]) -> None:
        sock = self._socket
        if sock is None:  # stopped meanwhile
            return
        try:
            sock.sendto(data, target)
            self.counters["osc_replies"] += 1
        except OSError:
            pass

    def handle(self, data: bytes, sender: tuple[str, int]) -> list[tuple[bytes, tuple[str, int]]]:
        """Play one datagram into the engine; return the replies to send.

        Parameters
        ----------
        data : bytes
            The datagram.
        sender : (host, port)
            Where it came from.

        Returns
        -------
        list of (bytes, (host, port))
            Encoded replies (answers to queries, ``/error`` for each bad message) and where they go.
        """
        if self.allowed and sender[0] not in self.allowed:
            self.counters["osc_refused"] += 1
            return []
        target = self.reply_target(sender)
        try:
            messages = parse_packet(data)
        except MalformedPacket as exc:
            self.counters["osc_malformed"] += 1
            self.engine.count_error(f"osc: {exc}")
            self._log_malformed(exc)
            return [self._error("", str(exc), target)]
        replies: list[tuple[bytes, tuple[str, int]]] = []
        for time, address, args in messages:
            self.counters["osc_messages"] += 1
            hop = -1 if time is None else self.engine.hop_for_time(time)
            args = [int(a) if isinstance(a, bool) else a for a in args]  # OSC T and F: 1 and 0
            if any(c in address for c in PATTERN_CHARACTERS):
                targets = [a for a in match_addresses(address, self._addresses())
                           if not self.engine.registry[a].query]
                if not targets:
                    reason = f"{address}: the pattern matches no address; /engine/list lists them"
                    self.engine.count_error(reason)
                    replies.append(self._error(address, reason, target))
                    continue
            else:
                targets = [address]
            for one in targets:
                answer = self._post(one, args, hop, sender, target, replies)
                if answer is not None:
                    if isinstance(answer, tuple):  # a query answering under its own address
                        answer = [(one, *answer)]
                    target = self.reply_target(sender)  # /osc/reply_port may have changed it
                    replies.extend((encode_message(a[0], a[1:]), target) for a in answer)
        return replies

    def _post(self, address: str, args: list, hop: int, sender: tuple[str, int],
              target: tuple[str, int], replies: list) -> Any:
        """Post one message; a refusal becomes an ``/error`` in ``replies``."""
        _HANDLING.server, _HANDLING.sender = self, sender
        try:
            return self.engine.post(address, *args, hop=hop)
        except ControlError as exc:
            replies.append(self._error(address, str(exc), target))
        except Exception as exc:  # a query's own failure
            self.engine.count_error(f"{address}: {exc}")
            replies.append(self._error(address, f"{address}: {exc}", target))
        finally:
            _HANDLING.server = _HANDLING.sender = None
        return None

    def _log_malformed(self, exc: MalformedPacket) -> None:
        """One warning a second at most, however many malformed packets arrive."""
        now = clock.monotonic()
        since, count = self._malformed_logged
        if now - since >= MALFORMED_LOG_SECONDS:
            total = self.counters["osc_malformed"]
            self._malformed_logged = (now, total)
            log.warning("OSC: %d malformed packet(s) since the last report, %d in all (the "
                        "latest: %s)", total - count, total, exc)

    def _addresses(self) -> list[str]:
        registry = self.engine.registry
        if len(registry) != self._known_count:  # controls are added at set-up; cache the list
            self._known = [c.address for c in registry]
            self._known_count = len(registry)
        return self._known

    def reply_target(self, sender: tuple[str, int]) -> tuple[str, int]:
        """Where replies to ``sender`` go: a port the client asked for, the configured reply
        port, or back to the sending port."""
        port = self.reply_ports.get(sender[0]) or self.config.reply_port or sender[1]
        return sender[0], port

    def _error(self, address: str, reason: str, target: tuple[str, int]) -> tuple[bytes, tuple]:
        self.counters["osc_errors_answered"] += 1
        return encode_message(ERROR_ADDRESS, (address, reason)), target



# The server and client of the message being handled, for /osc/reply_port (one engine may have
# several servers; each thread handles one message at a time).
_HANDLING = threading.local()


def _set_reply_port(port: int) -> list[tuple]:
    server = getattr(_HANDLING, "server", None)
    if server is None:
        raise ControlError("/osc/reply_port: only an OSC client can ask for a reply port")
    host = _HANDLING.sender[0]
    if port:
        server.reply_ports[host] = port
    else:
        server.reply_ports.pop(host, None)
    return [("/osc/reply_port", port)]


# ------------------------------------------------------------------------- queries
def register_queries(engine: Any) -> None:
    """Register ``/engine/list``, ``/engine/get`` and ``/engine/status`` on ``engine``.

    Each is a query: answered at once, where it was received, with a list of reply messages
    ``(address, *args)``.
    """
    registry = engine.registry

    def list_controls() -> list[tuple]:
        rows = [("/engine/list", c.address, c.type_tags.replace("…", "..."),
                 c.signature().replace("…", "..."), c.doc) for c in registry]
        return rows + [("/engine/list/done", len(rows))]

    def get(address: str) -> list[tuple]:
        return [("/engine/get", address, *engine.get(address))]

    def status() -> list[tuple]:
        flat: list[Any] = []
        for key, value in engine.status().items():
            if isinstance(value, float) and not math.isfinite(value):
                value = str(value)
            flat.extend((key, value))
        return [("/engine/status", *flat)]

    add = engine.add_control
    add("/engine/list", (), "answers one /engine/list s s s s (address, type tags, arguments with "
        "ranges and units, description) per address, then /engine/list/done i (count)",
        list_controls, group="engine", query=True)
    add("/engine/get", (Arg("address", "s"),), "answers /engine/get s ... (address, current "
        "value); /error when the address has no value", get, group="engine", query=True)
    add("/engine/status", (), "answers /engine/status with key, value pairs: hop, cpu_load, "
        "latency_ms, model, sample_rate, error counts ...; in caminos play also the device's "
        "xruns, the engine's underruns, restarts and the process ids (dsp_pid, osc_pid, "
        "voice_pid); with --web the control page's counts (web_pages, web_messages, "
        "web_refused, web_errors, web_forbidden)", status, group="engine", query=True)


# --------------------------------------------------------------------- documentation
DOC_HEADER = """\
# OSC address space

Generated from the engine's control registry by `python -m caminos.engine.control.osc --doc > docs/osc.md`;
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
  `osc_malformed`).
- Types: `f` float (an integer is accepted), `i` integer (Pd's floats with integral values are
  accepted; OSC true and false are 1 and 0), `s` string; `...` after the last type: one or more
  of it.
- Address patterns (OSC 1.0: `*`, `?`, `[a-z]`, `[!a]`, `{a,b}`) send one message to every
  matching address except the queries: `/source/*/gain 0` mutes every source.
"""


DOC_FOOTER = """
## Files: paths, landmarks, scenes, scores

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
"""


def registry_markdown(registry: ControlRegistry) -> str:
    """The registry as Markdown: one table per group, one row per address, then the files."""
    lines = [DOC_HEADER]
    group = None
    for control in registry:
        if control.group != group:
            group = control.group
            lines += ["", f"## {group or 'other'}", "",
                      "| address | types | arguments | what it does |", "|---|---|---|---|"]
        kind = " (query)" if control.query else ""
        tags = control.type_tags.replace("…", "...") or "-"
        args = control.signature().replace("…", "...").replace("|", "\\|")
        doc = control.doc.replace("|", "\\|")
        lines.append(f"| `{control.address}` | `{tags}` | {args} | {doc}{kind} |")
    return "\n".join(lines) + "\n" + DOC_FOOTER


def documented_engine(config: Any = None) -> Any:
    """An engine with every control registered (navigation, scenes, scores, queries, OSC and
    the voice's ``/voice/*``), for the documentation and the patch checks; its voice controls
    are documentation only (they drive no stream)."""
    from caminos.engine.core.config import load_config
    from caminos.engine.clock.engine import Engine
    from caminos.engine.control.surface import attach

    config = config or load_config()
    engine = Engine(config)
    attach(engine)
    OscServer(engine, config.osc)
    try:  # the voice's addresses, registered live when caminos play attaches the voice
        from caminos.models.voice.stream import voice_controls
    except ImportError:
        return engine
    for control in voice_controls(None):
        if control.address not in engine.registry:
            engine.registry.add(control)
    return engine


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m caminos.engine.control.osc --doc``: print docs/osc.md."""
    parser = argparse.ArgumentParser(prog="python -m caminos.engine.control.osc",
                                     description="The OSC address space of caminos.")
    parser.add_argument("--doc", action="store_true", help="print docs/osc.md (Markdown)")
    args = parser.parse_args(argv)
    if args.doc:
        sys.stdout.write(registry_markdown(documented_engine().registry))
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
