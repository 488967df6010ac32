"""The control page's WebSocket protocol: what a page may send, and the checks on who sends it.

Between the page (``engine/control/web/static/app.js``) and the server
(:mod:`caminos.engine.control.web.server`); the
messages are described in ``docs/web.md``. Everything here is pure (no sockets, no engine), so
each check is tested on its own:

- :func:`parse_message` turns a text frame into an address and its arguments, or raises
  :class:`~caminos.engine.core.errors.ControlError` naming what was wrong; the address and
  arguments are then
  validated by the control registry exactly as an OSC message is.
- :class:`RateLimiter`: a token bucket per page, so a flood from one page is refused, counted
  and answered, never queued without bound.
- :func:`check_origin`, :func:`check_host` and :func:`check_token`: a WebSocket from another
  site's page (cross-site WebSocket hijacking), a request through a rebinding DNS name, and a
  request without the token off loopback are refused with a reason.
"""

from __future__ import annotations

import hmac
import json
import math
from typing import Any
from urllib.parse import urlsplit

from caminos.engine.core.errors import ControlError

MAX_MESSAGE_BYTES = 4096  # a longer text frame is refused (the longest real one: /voice/say)
MAX_ARGS = 32  # arguments in one message (/latent/z takes 16)
MESSAGES_PER_SECOND = 200.0  # a page's sustained rate; a drag sends at most one per frame (60)
BURST = 100  # messages a page may send at once above the sustained rate
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")


def parse_message(text: Any) -> tuple[str, tuple]:
    """The address and arguments of one page message.

    Parameters
    ----------
    text : str
        A WebSocket text frame: ``{"address": "/latent/xy", "args": [0.25, 0.5]}``.

    Returns
    -------
    address : str
    args : tuple of (int, float or str)
        Not yet checked against the registry (the caller posts them, which does).

    Raises
    ------
    ControlError
        Not text, too long, not a JSON object, no address, arguments not a list of numbers and
        strings: the message says which.
    """
    if not isinstance(text, str):
        raise ControlError("web: messages are JSON text frames, got a binary frame")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise ControlError(
            f"web: a message is at most {MAX_MESSAGE_BYTES} bytes, got "
            f"{len(text.encode('utf-8', 'surrogatepass'))}"
        )
    try:
        message = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise ControlError(f"web: not valid JSON ({exc})") from None
    if not isinstance(message, dict):
        raise ControlError(f"web: a message is a JSON object, got {type(message).__name__}")
    unknown = sorted(set(message) - {"address", "args"})
    if unknown:
        raise ControlError(
            f"web: unknown field(s) {', '.join(map(repr, unknown))}; a message has address and args"
        )
    address = message.get("address")
    if not isinstance(address, str) or not address.startswith("/"):
        raise ControlError(f"web: address must be a string starting with /, got {address!r}"[:200])
    args = message.get("args", [])
    if not isinstance(args, list):
        raise ControlError(f"{address}: args must be a list, got {type(args).__name__}")
    if len(args) > MAX_ARGS:
        raise ControlError(f"{address}: at most {MAX_ARGS} arguments, got {len(args)}")
    for i, value in enumerate(args):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ControlError(
                f"{address}: argument {i + 1} must be a number or a string, got "
                f"{type(value).__name__}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ControlError(f"{address}: argument {i + 1} must be finite, got {value!r}")
    return address, tuple(args)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a control takes")


class RateLimiter:
    """A token bucket: ``rate`` messages a second sustained, ``burst`` at once.

    Parameters
    ----------
    rate : float
        Messages per second allowed over time.
    burst : int
        Messages allowed back to back after a quiet spell.
    """

    def __init__(self, rate: float = MESSAGES_PER_SECOND, burst: int = BURST) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self._tokens = float(burst)
        self._last: float | None = None
        self.refused = 0

    def allow(self, now: float) -> bool:
        """Whether a message arriving at ``now`` (seconds, a monotonic clock) may pass; a
        refused one is counted in :attr:`refused`."""
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self.refused += 1
        return False


def check_origin(origin: str | None, host: str | None) -> str | None:
    """Why a WebSocket handshake's ``Origin`` is refused, or None when it is the page's own.

    A browser sends ``Origin`` with every WebSocket handshake; it must name the scheme-less
    host and port the request was made to (``Host``), so only a page this server served can
    connect. A handshake without ``Origin`` comes from a program, not a web page, and is let
    through (the token and the bound address protect against programs).
    """
    if origin is None:
        return None
    if not host:
        return "the request names no Host"
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"Origin {origin!r} is not a web page's origin"
    if parts.netloc.lower() != host.lower():
        return f"Origin {origin!r} is another site than this server ({host})"
    return None


def check_host(host: str | None, loopback: bool) -> str | None:
    """Why a request's ``Host`` header is refused, or None.

    On loopback (no token), only loopback names are accepted: a foreign site that points a DNS
    name of its own at 127.0.0.1 (DNS rebinding) sends its own name as ``Host`` and is refused.
    Off loopback the token protects every request and any ``Host`` passes.
    """
    if not loopback:
        return None
    if not host:
        return "the request names no Host"
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if name.lower() not in LOOPBACK_NAMES:
        return f"Host {host!r} is not this machine's loopback address"
    return None


def check_token(given: str | None, expected: str) -> str | None:
    """Why a request's token is refused (compared in constant time), or None; an empty
    ``expected`` means no token is needed (loopback)."""
    if not expected:
        return None
    if not given:
        return "this server needs the token printed by caminos play (?token=...)"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return "wrong token"
    return None
