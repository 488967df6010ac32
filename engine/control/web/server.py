"""The control page's server: one page, its two static files, and a WebSocket, in the control
process (``caminos play --web``).

It runs an asyncio loop (aiohttp) in a thread of the control process
(:func:`caminos.engine.live.control_process.control_main`), beside the OSC server and never in the
DSP process, so it
shares no GIL with the hop clock. Every message from a page goes through
:meth:`Engine.post <engine.engine.Engine.post>` of the replica, exactly as an OSC message does:
the registry validates it, a refusal comes back as an ``error`` message (and is counted in
``control_errors``), an accepted one is forwarded to the hop clock, lands at the next hop and is
recorded in a score like any other event. Every :data:`TICK_SECONDS` the server takes a snapshot
(:class:`caminos.engine.control.web.state.PageState`) and sends each page what changed, so a change
from one page,
from OSC or from a score shows on every page; spectrum frames go out as they arrive.

Safety (``docs/web.md``): on loopback only loopback ``Host`` names are served; off loopback
every request needs the token (``?token=`` or the cookie the page sets); a WebSocket whose
``Origin`` is another site is refused; each page's messages are rate-limited
(:class:`caminos.engine.control.web.protocol.RateLimiter`) and a page that stops reading gets its
queue replaced
by one full snapshot rather than growing it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from caminos.engine.control.web.protocol import (
    MAX_MESSAGE_BYTES,
    RateLimiter,
    check_host,
    check_origin,
    check_token,
    parse_message,
)
from caminos.engine.control.web.state import PageState, changes
from caminos.engine.core.config import WebConfig
from caminos.engine.core.errors import ControlError

log = logging.getLogger("caminos.web")

TICK_SECONDS = 0.025  # how often the pages get what changed (a change shows within ~25 ms)
COOKIE = "caminos_token"
STATIC = {"app.js": "application/javascript", "style.css": "text/css"}
PAGE_QUEUE = 64  # messages waiting for one page; past this it gets one full snapshot instead
RATE_NOTICE_SECONDS = 1.0  # at most one "rate limited" error a second per page
# Queries a page may send: they act (MIDI learn beside a slider) rather than answer a value.
PAGE_QUERIES = frozenset({"/midi/learn", "/midi/forget"})


class _Page:
    """One connected page: its socket, outgoing queue and rate limiter."""

    def __init__(self, socket: web.WebSocketResponse) -> None:
        self.socket = socket
        self.queue: asyncio.Queue = asyncio.Queue(PAGE_QUEUE)
        self.limiter = RateLimiter()
        self.noticed = -1e9
        self.resync = False


class WebServer:
    """The page's HTTP and WebSocket server, in a thread with its own event loop.

    Parameters
    ----------
    replica : Engine
        The control process's replica (every page message is posted to it).
    config : WebConfig
        Host and port; a host that is not loopback needs ``token``.
    token : str
        What a page must present off loopback (ignored on loopback).
    spectrum : str, optional
        Name of the DSP process's :class:`~caminos.engine.dsp.spectrum_tap.SpectrumTap`.

    Attributes
    ----------
    port : int
        The TCP port bound, once :meth:`start` returns.
    counters : dict
        ``web_pages`` (connected), ``web_messages``, ``web_refused`` (rate limit),
        ``web_errors`` (refused messages), ``web_forbidden`` (403s); also in ``/engine/status``.
    """

    def __init__(
        self, replica: Any, config: WebConfig, token: str = "", spectrum: str = ""
    ) -> None:
        from caminos.engine.dsp.spectrum_tap import SpectrumTap

        self.replica = replica
        self.config = config
        self.token = "" if config.loopback else token
        if not config.loopback and not token:
            raise ControlError(
                f"web: the page's server on {config.host} needs a token "
                "(web.token, or the random one caminos play makes)"
            )
        self._tap = SpectrumTap(name=spectrum) if spectrum else None
        self.state = PageState(replica, self._tap)
        self.counters = {
            "web_pages": 0,
            "web_messages": 0,
            "web_refused": 0,
            "web_errors": 0,
            "web_forbidden": 0,
        }
        self.port = 0
        self._pages: set[_Page] = set()
        self._last: dict[str, Any] = {}
        self._hello = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._broadcaster: asyncio.Task | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._posting = ThreadPoolExecutor(max_workers=4, thread_name_prefix="caminos-web-post")
        files = resources.files("caminos.engine.control.web") / "static"
        self._files = {name: (files / name).read_bytes() for name in ("index.html", *STATIC)}
        replica.extra_status.append(self.status)

    # --------------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 10.0) -> "WebServer":
        """Bind and serve in a thread; returns self once listening.

        Raises
        ------
        ControlError
            The address cannot be bound (in use, not this machine's): host and port named.
        """
        self._thread = threading.Thread(target=self._run, name="caminos-web", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ControlError(f"web: the server did not start in {timeout:.0f} s")
        if self._error is not None:
            self.stop()
            raise ControlError(
                f"web: cannot listen on {self.config.host}:{self.config.port} "
                f"({getattr(self._error, 'strerror', None) or self._error})"
            )
        return self

    def stop(self) -> None:
        """Close every page and stop the server (returns within a second or two)."""
        loop = self._loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._posting.shutdown(wait=False)
        if self._tap is not None:
            self._tap.close()
        if self.status in self.replica.extra_status:
            self.replica.extra_status.remove(self.status)

    def status(self) -> dict[str, int]:
        """The server's counters, for ``/engine/status``."""
        return dict(self.counters, web_pages=len(self._pages))

    def url(self, host: str | None = None) -> str:
        """The page's address (with the token when one is needed)."""
        host = host or self.config.host
        query = f"/?token={self.token}" if self.token else "/"
        return f"http://{host}:{self.port}{query}"

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=MAX_MESSAGE_BYTES)
        app.router.add_get("/", self._page)
        app.router.add_get("/ws", self._socket)
        for name in STATIC:
            app.router.add_get(f"/{name}", self._static)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._hello = json.dumps(self.state.hello())
        self._last = self.state.snapshot()
        self._broadcaster = asyncio.get_running_loop().create_task(self._broadcast())

    async def _shutdown(self) -> None:
        if self._broadcaster is not None:
            self._broadcaster.cancel()
        for page in list(self._pages):
            await page.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ----------------------------------------------------------------------- requests
    def _forbidden(self, request: web.Request, websocket: bool) -> str | None:
        """Why a request is refused (403), or None: Host, token, and for the WebSocket Origin."""
        reason = check_host(request.host, self.config.loopback)
        if reason is None:
            given = request.query.get("token") or request.cookies.get(COOKIE)
            reason = check_token(given, self.token)
        if reason is None and websocket:
            reason = check_origin(request.headers.get("Origin"), request.host)
        if reason is not None:
            self.counters["web_forbidden"] += 1
            log.warning(
                "web: refused %s %s from %s: %s",
                request.method,
                request.path,
                request.remote,
                reason,
            )
        return reason

    async def _page(self, request: web.Request) -> web.StreamResponse:
        reason = self._forbidden(request, websocket=False)
        if reason is not None:
            return web.Response(status=403, text=f"403 Forbidden: {reason}\n")
        response = web.Response(
            body=self._files["index.html"], content_type="text/html", headers=_NO_STORE
        )
        if self.token:  # the page's scripts and its WebSocket then carry it
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    async def _static(self, request: web.Request) -> web.StreamResponse:
        reason = self._forbidden(request, websocket=False)
        if reason is not None:
            return web.Response(status=403, text=f"403 Forbidden: {reason}\n")
        name = request.path.lstrip("/")
        return web.Response(body=self._files[name], content_type=STATIC[name], headers=_NO_STORE)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        reason = self._forbidden(request, websocket=True)
        if reason is not None:
            return web.Response(status=403, text=f"403 Forbidden: {reason}\n")
        socket = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=20.0)
        await socket.prepare(request)
        page = _Page(socket)
        await socket.send_str(self._hello)
        await socket.send_str(json.dumps({"type": "state", "full": True, **self._last}))
        self._pages.add(page)
        writer = asyncio.get_running_loop().create_task(self._write(page))
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    await self._receive(page, message.data)
                elif message.type == WSMsgType.BINARY:
                    await self._receive(page, message.data)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self._pages.discard(page)
            writer.cancel()
        return socket

    async def _receive(self, page: _Page, data: Any) -> None:
        """One message from a page: rate limit, parse, post to the replica (in a thread, so a
        slow ``prepare`` never holds up the other pages); errors go back to this page."""
        self.counters["web_messages"] += 1
        now = time.monotonic()
        if not page.limiter.allow(now):
            self.counters["web_refused"] += 1
            if now - page.noticed >= RATE_NOTICE_SECONDS:
                page.noticed = now
                reason = (
                    f"web: rate limited ({page.limiter.rate:.0f} messages a second); "
                    f"{page.limiter.refused} refused so far"
                )
                self.replica.count_error(reason)
                self._enqueue(page, {"type": "error", "address": "", "reason": reason})
            return
        address = ""
        try:
            address, args = parse_message(data)
            if (
                address in self.replica.registry
                and self.replica.registry[address].query
                and address not in PAGE_QUERIES
            ):
                raise ControlError(
                    f"{address}: a query; the page receives every value without asking"
                )
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._posting, self._post, address, args)
        except ControlError as exc:
            self.counters["web_errors"] += 1
            self._enqueue(page, {"type": "error", "address": address, "reason": str(exc)})

    def _post(self, address: str, args: tuple) -> None:
        self.replica.post(address, *args)  # any refusal arrives as a ControlError, counted

    # ----------------------------------------------------------------------- sending
    def _enqueue(self, page: _Page, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        try:
            page.queue.put_nowait(text)
        except asyncio.QueueFull:  # a page that stopped reading: one full snapshot later
            page.resync = True

    async def _write(self, page: _Page) -> None:
        while True:
            text = await page.queue.get()
            if page.resync:
                page.resync = False
                while not page.queue.empty():
                    page.queue.get_nowait()
                text = json.dumps({"type": "state", "full": True, **self._last})
            try:
                await page.socket.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def _broadcast(self) -> None:
        """Every :data:`TICK_SECONDS`: what changed, and new spectrum frames, to every page."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                snapshot = await loop.run_in_executor(None, self.state.snapshot)
                diff = changes(self._last, snapshot)
                self._last = snapshot
                spectrum = self.state.spectrum_frames()
            except Exception:  # a snapshot taken while a subsystem was rebuilt: next tick
                log.exception("web: snapshot failed")
                continue
            if not self._pages:
                continue
            messages = []
            if diff:
                messages.append({"type": "state", "sent": time.time(), **diff})
            if spectrum is not None:
                messages.append(spectrum)
            for message in map(json.dumps, messages):  # encoded once for every page
                for page in list(self._pages):
                    self._enqueue(page, message)


_NO_STORE = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
