"""The queries every engine answers: ``/engine/list``, ``/engine/get`` and ``/engine/status``.

Registered by :func:`caminos.engine.control.surface.attach`; answered by whoever received the
message (the OSC server, the control page) with a list of reply messages.
"""

from __future__ import annotations

import math
from typing import Any

from caminos.engine.core.controls import Arg, ControlTable


def query_controls(engine: Any) -> ControlTable:
    """``/engine/list``, ``/engine/get`` and ``/engine/status`` of ``engine``, as data.

    Each is a query: answered at once, where it was received, with a list of reply messages
    ``(address, *args)``.
    """
    registry = engine.registry

    def list_controls() -> list[tuple]:
        rows = [
            (
                "/engine/list",
                c.address,
                c.type_tags.replace("…", "..."),
                c.signature().replace("…", "..."),
                c.doc,
            )
            for c in registry
        ]
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

    table = ControlTable()
    add = table.add
    add(
        "/engine/list",
        (),
        "answers one /engine/list s s s s (address, type tags, arguments with "
        "ranges and units, description) per address, then /engine/list/done i (count)",
        list_controls,
        group="engine",
        query=True,
    )
    add(
        "/engine/get",
        (Arg("address", "s"),),
        "answers /engine/get s ... (address, current value); /error when the address has no value",
        get,
        group="engine",
        query=True,
    )
    add(
        "/engine/status",
        (),
        "answers /engine/status with key, value pairs: hop, cpu_load, "
        "tick_ms_p50 and p99, latency_ms (input to output) and control_latency_ms (control to "
        "sound), live with buffering and the device's, and their parts (latency_*_ms), peak "
        "and rms dBFS, model, sample_rate, error counts ...; in caminos play also the device's "
        "xruns, the engine's underruns, restarts, the process ids (dsp_pid, osc_pid, "
        "voice_pid) and how often the phase recovery stepped down (to "
        "engine.overload_iterations, then engine.overload_phase: phase_fallbacks); with --web "
        "the control page's counts (web_pages, web_messages, web_refused, web_errors, "
        "web_forbidden); with MIDI its counts (midi_*)",
        status,
        group="engine",
        query=True,
    )
    return table
