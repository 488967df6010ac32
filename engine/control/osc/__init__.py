"""OSC: UDP datagrams from Max, Pd, SuperCollider or any controller into engine events.

Four modules with one job each: :mod:`.messages` (reading datagrams off the socket, parsing
them, encoding replies), :mod:`.addresses` (OSC 1.0 address patterns), :mod:`.server` (the UDP
server and its lanes) and :mod:`.docs` (``docs/osc.md`` from the control registry:
``python -m caminos.engine.control.osc.docs --doc``). Nothing is imported here, so that using
one of them does not load the others.
"""
