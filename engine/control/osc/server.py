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

Under a flood from one client, the others' messages stay on time (issue 21): every client's
datagrams share the kernel's receive buffer, so the receiving thread does nothing but read it
(Linux's ``recvmmsg``, many datagrams a call, without giving up the GIL) and sort the datagrams
onto their lanes; a lane with a large backlog waits while the kernel holds more than one read, so
the reading comes first; ``/engine/status`` and ``/engine/get`` from a client with nothing
waiting on its lane are answered by the receiving thread at once; and a client whose lane holds
``lane_bytes`` already has its further datagrams dropped unread and counted (``osc_dropped``),
never another client's.
"""

from __future__ import annotations

import logging
import math
import queue
import select
import socket
import threading
import time as clock
from typing import Any

from caminos.engine.control.osc.addresses import PATTERN_CHARACTERS, match_addresses
from caminos.engine.control.osc.messages import (
    RECEIVE_BATCH,
    DatagramReader,
    MalformedPacket,
    encode_message,
    parse_packet,
)
from caminos.engine.core.config import OscConfig
from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.core.errors import ControlError

POLL_SECONDS = 0.1  # the receiving thread's wait for a datagram, so stop() returns within it
LANE_IDLE_SECONDS = 5.0  # a client's lane thread ends after this long without a datagram
MAX_LANES = 64  # clients handled side by side; more share the lanes by address
LANE_BACKLOG_BYTES = 8 << 20  # a client's lane holds at most this much; more is dropped
DATAGRAM_OVERHEAD = 256  # bytes a queued datagram costs beside its payload, for the backlog
BUSY_LANE_BYTES = 32 << 10  # a lane holding more than this is busy (about 100 small messages)
RECEIVER_FIRST_SECONDS = 0.005  # a busy lane waits at most this long, before each datagram,
#                                for the receiving thread to catch up with the kernel's buffer
# Answered by the receiving thread when the client has nothing waiting on its lane: they only
# read values, so they never block it (a query that could wait on a lock must not be here).
QUICK_QUERIES = (b"/engine/status\x00", b"/engine/get\x00")
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
        ``osc_errors_answered``, ``osc_dropped``, ``osc_internal_errors``).
    config : OscConfig
        Host, port (0 picks a free one), reply port and allow-list.
    lane_bytes : int
        The most one client's datagrams may take while they wait for its lane, in bytes (each
        counts its length plus :data:`DATAGRAM_OVERHEAD`): 8 MiB, about what the kernel's
        receive buffer holds. Beyond it the client's datagrams are dropped unread and counted
        (``osc_dropped``), so a flood costs a bounded amount of memory.

    Built, a server is wired onto its engine by :func:`caminos.engine.control.surface.attach_osc`
    (its counters in the status, ``/osc/reply_port``, and, on an engine without the surface,
    :func:`caminos.engine.control.surface.attach` first, so every address of ``docs/osc.md``
    answers).

    Attributes
    ----------
    address : tuple of (str, int)
        Where the server listens, once :meth:`start` has bound it.
    """

    def __init__(
        self, engine: Any, config: OscConfig | None = None, lane_bytes: int = LANE_BACKLOG_BYTES
    ) -> None:
        if lane_bytes <= DATAGRAM_OVERHEAD:
            raise ValueError(
                f"OscServer: lane_bytes must exceed {DATAGRAM_OVERHEAD} (one "
                f"datagram's overhead), not {lane_bytes}"
            )
        self.engine = engine
        self.config = config or OscConfig()
        self.lane_bytes = lane_bytes
        self.allowed = self.config.allowed
        self.counters = {
            "osc_messages": 0,
            "osc_malformed": 0,
            "osc_refused": 0,
            "osc_replies": 0,
            "osc_errors_answered": 0,
            "osc_internal_errors": 0,
            "osc_dropped": 0,
        }
        self.reply_ports: dict[str, int] = {}  # client IP -> port asked for by /osc/reply_port
        self._malformed_logged = (-math.inf, 0)  # (when, osc_malformed then)
        self._known: list[str] = []
        self._known_count = -1
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._caught_up = threading.Event()  # clear while the kernel holds more than one read
        self._caught_up.set()
        self._lanes: dict[tuple[str, int], _Lane] = {}
        self._lanes_lock = threading.Lock()  # the receiving thread and ending lanes only
        from caminos.engine.control.surface import attach_osc

        attach_osc(engine, self)  # the composition root wires the server onto the engine

    def controls(self) -> ControlTable:
        """``/osc/reply_port``, the OSC server's own control, as data (one per engine: it
        answers whichever server received it)."""
        table = ControlTable()
        table.add(
            "/osc/reply_port",
            (Arg("port", "i", 0, 65535),),
            "replies to this client's host go to this UDP port (0: back to the port each "
            "message came from); answers /osc/reply_port i",
            _set_reply_port,
            group="engine",
            query=True,
        )
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
            raise ControlError(
                f"osc: cannot listen on {self.config.host}:{self.config.port} "
                f"({exc.strerror or exc})"
            ) from None
        sock.setblocking(False)  # the receiving thread polls, then reads what is there
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

    @property
    def receiving(self) -> bool:
        """True while the receive thread runs (started, not stopped, not dead of its input)."""
        return self._thread is not None and self._thread.is_alive()

    # ---------------------------------------------------------------------- receiving
    def _serve(self) -> None:
        """Receive until stopped: wait for a datagram, then read every datagram the kernel holds
        (:class:`~caminos.engine.control.osc.messages.DatagramReader`) and hand them to their
        lanes, so that the kernel's buffer, which every client shares, never holds one client's
        flood ahead of another's message for long. While a read comes back full (more is
        waiting), busy lanes wait (``_caught_up`` clear)."""
        reader = DatagramReader(self._socket)
        poller = select.poll()
        poller.register(self._socket, select.POLLIN)
        full = False
        while not self._stop.is_set():
            if not full and not poller.poll(1000 * POLL_SECONDS):
                continue
            batch = reader.read()
            if (len(batch) == RECEIVE_BATCH) != full:  # more may be waiting: read again at once
                full = not full
                (self._caught_up.clear if full else self._caught_up.set)()
            if batch:
                self._dispatch(batch)
        self._caught_up.set()

    def _dispatch(self, batch: list[tuple[bytes, tuple[str, int]]]) -> None:
        """Queue each datagram on its sender's lane, starting the lane's thread when it has none
        (under the lock an idle lane ends with, so nothing is put on a lane that has ended).

        A quick query (:data:`QUICK_QUERIES`) from a client with nothing waiting on its lane is
        answered here at once, which keeps the client's order and spares it the wait for its
        lane's thread. A lane holding ``lane_bytes`` already (a client sending faster than its
        lane handles its messages) drops the datagram unread and counts it in ``osc_dropped``;
        the other clients' lanes are untouched."""
        pending: dict[int, tuple[_Lane, list]] = {}
        last = None
        with self._lanes_lock:
            for data, sender in batch:
                if sender != last:  # a flood comes in runs from one sender
                    (lane, own), last = self._lane(sender), sender
                size = len(data) + DATAGRAM_OVERHEAD
                backlog = lane.backlog()
                if own and backlog == 0 and data.startswith(QUICK_QUERIES):
                    self._answer(data, sender)
                elif backlog + size > self.lane_bytes:
                    self.counters["osc_dropped"] += 1
                else:
                    lane.queued += size
                    pending.setdefault(id(lane), (lane, []))[1].append((data, sender))
            for lane, datagrams in pending.values():
                lane.queue.put(datagrams)

    def _lane(self, sender: tuple[str, int]) -> tuple["_Lane", bool]:
        """``sender``'s lane (started if it has none), and whether the lane is its own: beyond
        :data:`MAX_LANES` clients, a new one shares a lane by address. Under the lanes' lock."""
        lane = self._lanes.get(sender)
        if lane is not None:
            return lane, True
        if len(self._lanes) >= MAX_LANES:
            return list(self._lanes.values())[hash(sender) % len(self._lanes)], False
        lane = self._lanes[sender] = _Lane()
        threading.Thread(
            target=self._run_lane, args=(sender, lane), daemon=True, name="caminos-osc-lane"
        ).start()
        return lane, True

    def _run_lane(self, sender: tuple[str, int], lane: "_Lane") -> None:
        """Handle one client's datagrams in order until it has been idle a while."""
        while not self._stop.is_set():
            try:
                datagrams = lane.queue.get(timeout=LANE_IDLE_SECONDS)
            except queue.Empty:
                with self._lanes_lock:
                    if lane.queue.empty():
                        self._lanes.pop(sender, None)
                        return
                continue
            for data, origin in datagrams:
                if lane.backlog() > BUSY_LANE_BYTES and not self._caught_up.is_set():
                    self._caught_up.wait(RECEIVER_FIRST_SECONDS)  # a flood: let the kernel's
                    #                                               buffer be read first
                self._answer(data, origin)
                lane.done += len(data) + DATAGRAM_OVERHEAD

    def _answer(self, data: bytes, sender: tuple[str, int]) -> None:
        """Handle one datagram and send its replies."""
        try:
            for reply, target in self.handle(data, sender):
                self._send(reply, target)
        except Exception:  # never let one datagram stop the server
            self.counters["osc_internal_errors"] += 1

    def _send(self, data: bytes, target: tuple[str, int]) -> None:
        """Send one reply; the socket does not block, so when its send buffer is full (a burst
        of ``/engine/list`` rows to a slow network) wait up to :data:`POLL_SECONDS` for room."""
        sock = self._socket
        if sock is None:  # stopped meanwhile
            return
        for _ in range(2):
            try:
                sock.sendto(data, target)
                self.counters["osc_replies"] += 1
                return
            except BlockingIOError:
                select.select([], [sock], [], POLL_SECONDS)
            except OSError:
                return

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
                targets = [
                    a
                    for a in match_addresses(address, self._addresses())
                    if not self.engine.registry[a].query
                ]
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

    def _post(
        self,
        address: str,
        args: list,
        hop: int,
        sender: tuple[str, int],
        target: tuple[str, int],
        replies: list,
    ) -> Any:
        """Post one message; a refusal becomes an ``/error`` in ``replies``."""
        _HANDLING.server, _HANDLING.sender = self, sender
        try:
            return self.engine.post(address, *args, hop=hop)
        except ControlError as exc:  # Engine.post names and counts every refusal
            replies.append(self._error(address, str(exc), target))
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
            log.warning(
                "OSC: %d malformed packet(s) since the last report, %d in all (the latest: %s)",
                total - count,
                total,
                exc,
            )

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


class _Lane:
    """One client's datagrams waiting for its thread, in batches, with their size in bytes
    (payload plus :data:`DATAGRAM_OVERHEAD` each): ``queued`` is written only by the receiving
    thread, ``done`` only by the lane's, so neither needs a lock."""

    __slots__ = ("queue", "queued", "done")

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.queued = 0
        self.done = 0

    def backlog(self) -> int:
        """Bytes waiting."""
        return self.queued - self.done


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
