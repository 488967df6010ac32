"""OSC datagrams in and out: one datagram into its messages (bundles flattened, timetags kept),
one reply into bytes.

Parsing uses python-osc's packet classes and refuses, as :class:`MalformedPacket`, everything they
would half-read: truncated bundles, unknown argument types (which python-osc drops with a warning
on the root logger).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Iterable

from pythonosc import osc_bundle, osc_message
from pythonosc.osc_message_builder import OscMessageBuilder


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
