"""The OSC server: UDP datagrams from Max, Pd, SuperCollider or any controller into engine events.

Outermost control layer (docs/architecture.md): one thread receives datagrams and hands each to
its client's lane (a thread per sending address, so one client's slow request, a long voice
landmark or a big file, never delays another's messages, and each client's order is kept); the
lane parses it (:mod:`caminos.engine.control.osc.messages`), and posts each message to
:meth:`caminos.engine.clock.engine.Engine.post`, which
validates it against the one control registry and queues it on the hop clock. Timetagged bundles
land at the hop their time names (:meth:`Engine.hop_for_time`), immediate messages at the next
hop, in the order they arrived. Every bad packet is answered with ``/error s s`` (address,
reason), counted, and changes nothing; the server thread never dies of its input. Queries
(``/engine/list``, ``/engine/get``, ``/engine/status``) are answered to the sender, or to the
configured reply port.
"""

from __future__ import annotations

import logging
import math
import queue
import socket
import threading
import time as clock
from typing import Any

from caminos.engine.control.osc.addresses import PATTERN_CHARACTERS, match_addresses
from caminos.engine.control.osc.messages import MalformedPacket, encode_message, parse_packet
from caminos.engine.core.config import OscConfig
from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.core.errors import ControlError

MAX_DATAGRAM = 65536  # bytes; the largest UDP payload
POLL_SECONDS = 0.1  # the receive timeout, so that stop() returns within this time
LANE_IDLE_SECONDS = 5.0  # a client's lane thread ends after this long without a datagram
MAX_LANES = 64  # clients handled side by side; more share the lanes by address
ERROR_ADDRESS = "/error"
MALFORMED_LOG_SECONDS = 1.0  # a summary of malformed packets is logged at most this often
log = logging.getLogger("caminos.osc")


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

    Built, a server is wired onto its engine by :func:`caminos.engine.control.surface.attach_osc`
    (its counters in the status, ``/osc/reply_port``, and, on an engine without the surface,
    :func:`caminos.engine.control.surface.attach` first, so every address of ``docs/osc.md``
    answers).

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
        from caminos.engine.control.surface import attach_osc
        attach_osc(engine, self)  # the composition root wires the server onto the engine

    def controls(self) -> ControlTable:
        """``/osc/reply_port``, the OSC server's own control, as data (one per engine: it
        answers whichever server received it)."""
        table = ControlTable()
        table.add("/osc/reply_port", (Arg("port", "i", 0, 65535),),
                  "replies to this client's host go to this UDP port (0: back to the port each "
                  "message came from); answers /osc/reply_port i", _set_reply_port,
                  group="engine", query=True)
        return table

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
