"""The control page in the browser (``caminos play --web``): a page and a WebSocket served from
the control process, a client of the same control registry as OSC.

- :mod:`caminos.engine.control.web.protocol`: what a page may send, rate limiting, Origin, Host and
  token checks.
- :mod:`caminos.engine.control.web.state`: what the page shows, read from the replica and the
  shared counters.
- :mod:`caminos.engine.control.web.server`: the aiohttp server in a thread of the control process.
- ``static/``: the page itself (HTML, CSS, JavaScript), served as is: no build step, no CDN.

The protocol is described in ``docs/web.md``.
"""
