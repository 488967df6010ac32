"""OSC datagrams in and out: the datagrams waiting on a socket, many a system call
(:class:`DatagramReader`); one datagram into its messages (bundles flattened, timetags kept);
one reply into bytes.

Parsing uses python-osc's packet classes and refuses, as :class:`MalformedPacket`, everything they
would half-read: truncated bundles, unknown argument types (which python-osc drops with a warning
on the root logger).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import mmap
import socket
import struct
import sys
import threading
from typing import Any, Iterable

from pythonosc import osc_bundle, osc_message
from pythonosc.osc_message_builder import OscMessageBuilder

MAX_DATAGRAM = 65536  # bytes; the largest UDP payload
RECEIVE_BATCH = 64  # datagrams one DatagramReader.read returns at most
SOCKADDR_BYTES = 16  # sizeof(struct sockaddr_in)
_SOCKADDR_HEAD = struct.Struct("=Q")  # family, port and IPv4 address: 8 bytes as one integer
MAX_SENDERS = 4096  # decoded sender addresses kept (the cache is emptied when it is full)


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
            raise MalformedPacket("not an OSC message or bundle (it must start with / or #bundle)")
    except MalformedPacket:
        raise
    except Exception as exc:  # python-osc raises ParseError, IndexError, struct.error, ...
        raise MalformedPacket(f"malformed OSC packet: {exc}") from None
    if _PARSING.warning:
        raise MalformedPacket(f"malformed OSC packet: {_PARSING.warning}")
    return out


def _flatten(
    bundle: osc_bundle.OscBundle, outer: float | None, out: list[tuple[float | None, str, list]]
) -> None:
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
        raise MalformedPacket(
            "bundle elements do not match their declared sizes, or one is "
            "neither a message nor a bundle"
        )


def _declared_elements(dgram: bytes) -> int:
    """Number of size-prefixed elements in a bundle datagram; -1 when the sizes do not tile it
    exactly (python-osc accepts a truncated last element and skips unknown ones)."""
    index, count = 16, 0
    while index + 4 <= len(dgram):
        size = int.from_bytes(dgram[index : index + 4], "big", signed=True)
        if size < 0 or size % 4:
            return -1
        index += 4 + size
        count += 1
    return count if index == len(dgram) else -1


def encode_message(address: str, args: Iterable[Any]) -> bytes:
    """One OSC message as bytes; numbers as int32 or float32, booleans as ints, None as ``""``."""
    builder = OscMessageBuilder(address=address)
    for value in args:
        if isinstance(value, bool):
            builder.add_arg(int(value), "i")
        elif isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
            number = int(value)
            if -(2**31) <= number < 2**31:
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


class _MessageHeader(ctypes.Structure):
    """``struct msghdr``: where one datagram and its sender's address go."""

    _fields_ = [
        ("name", ctypes.c_void_p),
        ("namelen", ctypes.c_uint32),
        ("iov", ctypes.c_void_p),
        ("iovlen", ctypes.c_size_t),
        ("control", ctypes.c_void_p),
        ("controllen", ctypes.c_size_t),
        ("flags", ctypes.c_int),
    ]


class _MmsgHeader(ctypes.Structure):
    """``struct mmsghdr`` of Linux: a ``struct msghdr`` and the length received."""

    _fields_ = [("header", _MessageHeader), ("len", ctypes.c_uint)]


class _IoVector(ctypes.Structure):
    """``struct iovec``: one buffer."""

    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def _recvmmsg() -> Any:
    """Linux's ``recvmmsg``, called without releasing the GIL (``ctypes.PyDLL``); None
    elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.PyDLL(None, use_errno=True).recvmmsg
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_void_p,
    ]
    function.restype = ctypes.c_int
    return function


class DatagramReader:
    """Reads the datagrams waiting on a non-blocking IPv4 UDP socket, up to
    :data:`RECEIVE_BATCH` at a time.

    On Linux one ``recvmmsg`` call reads them all without releasing the GIL: a thread that
    released it once per datagram (as ``socket.recvfrom`` does) would wait up to the switch
    interval (0.5 ms in the control process) to take it back from a lane busy with a flood, and
    fall behind the kernel's buffer. Elsewhere one ``recvfrom`` each. Only the receiving thread
    uses a reader.

    Parameters
    ----------
    sock : socket.socket
        Bound, non-blocking, ``AF_INET``, ``SOCK_DGRAM``.
    batched : bool
        Use ``recvmmsg`` where there is one (the default); False: one ``recvfrom`` each
        everywhere.
    """

    def __init__(self, sock: socket.socket, batched: bool = True) -> None:
        if sock.family != socket.AF_INET or sock.type != socket.SOCK_DGRAM:
            raise ValueError(f"DatagramReader: an IPv4 UDP socket is needed, not {sock}")
        self.sock = sock
        self.recvmmsg = _recvmmsg() if batched else None
        self.senders: dict[int, tuple[str, int]] = {}  # see _sender
        if self.recvmmsg is None:
            return
        # Anonymous memory: the kernel touches only the pages a datagram fills.
        self.buffer = mmap.mmap(-1, RECEIVE_BATCH * MAX_DATAGRAM)
        self.names = bytearray(RECEIVE_BATCH * SOCKADDR_BYTES)
        self.vectors = (_IoVector * RECEIVE_BATCH)()
        self.headers = (_MmsgHeader * RECEIVE_BATCH)()
        buffer = ctypes.addressof(ctypes.c_char.from_buffer(self.buffer))
        names = ctypes.addressof(ctypes.c_char.from_buffer(self.names))
        for k in range(RECEIVE_BATCH):
            self.vectors[k].base, self.vectors[k].len = buffer + k * MAX_DATAGRAM, MAX_DATAGRAM
            header = self.headers[k].header
            header.name, header.namelen = names + k * SOCKADDR_BYTES, SOCKADDR_BYTES
            header.iov, header.iovlen = ctypes.addressof(self.vectors[k]), 1
        # each datagram's length, read without building a ctypes object per datagram
        self.lengths = memoryview(self.headers).cast("B").cast("I")
        self.stride = ctypes.sizeof(_MmsgHeader) // 4
        self.length_at = _MmsgHeader.len.offset // 4

    def read(self) -> list[tuple[bytes, tuple[str, int]]]:
        """The datagrams waiting, in the order they arrived, with their senders; empty when
        none is (or the socket has been closed)."""
        if self.recvmmsg is None:
            return self._read_each()
        while True:
            count = self.recvmmsg(
                self.sock.fileno(), self.headers, RECEIVE_BATCH, socket.MSG_DONTWAIT, None
            )
            if count >= 0:
                break
            if ctypes.get_errno() not in (errno.ECONNREFUSED, errno.EINTR):
                return []  # nothing waiting (EAGAIN), or the socket closed
            # an ICMP "port unreachable" from an earlier reply: read on
        out = []
        lengths, names, buffer = self.lengths, self.names, self.buffer
        for k in range(count):
            key = _SOCKADDR_HEAD.unpack_from(names, k * SOCKADDR_BYTES)[0]
            sender = self.senders.get(key)
            if sender is None:
                sender = self._sender(key)
            start = k * MAX_DATAGRAM
            out.append((buffer[start : start + lengths[k * self.stride + self.length_at]], sender))
        return out  # (the kernel left each namelen at 16, sizeof(struct sockaddr_in))

    def _sender(self, key: int) -> tuple[str, int]:
        """``(host, port)`` from the first 8 bytes of a ``struct sockaddr_in`` (family in the
        machine's byte order, port and address in the network's), read as one integer."""
        if len(self.senders) >= MAX_SENDERS:
            self.senders.clear()
        raw = _SOCKADDR_HEAD.pack(key)
        sender = self.senders[key] = (socket.inet_ntoa(raw[4:8]), int.from_bytes(raw[2:4], "big"))
        return sender

    def _read_each(self) -> list[tuple[bytes, tuple[str, int]]]:
        out: list[tuple[bytes, tuple[str, int]]] = []
        while len(out) < RECEIVE_BATCH:
            try:
                out.append(self.sock.recvfrom(MAX_DATAGRAM))
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionRefusedError:  # an ICMP "port unreachable" from an earlier reply
                continue
            except OSError:  # closed
                break
        return out
