"""MIDI input: a port's control changes and notes into engine events, through the learnt map.

``[midi] input`` names the port (``docs/midi.md``); mido with python-rtmidi opens it through
``[midi] api`` (JACK MIDI, the ALSA sequencer, or rtmidi's default) and calls back in a thread
of its own. Each message goes to :meth:`caminos.engine.control.midi_map.MidiMap.receive`, which
learns from it or answers the control messages it sends, and those are posted to the engine as
the OSC server posts (:meth:`Engine.post`: validated, and in ``caminos play`` forwarded from the
control process's replica to the hop clock). mido and rtmidi are imported only here, when a port
is opened or listed, so caminos runs without a MIDI system when ``[midi] input`` is empty.

``python -m caminos.engine.control.midi [--api jack]`` lists the input ports by number.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from typing import Any, Sequence

from caminos.engine.control.midi_map import CC, MidiMap
from caminos.engine.core.config import MIDI_APIS, MidiConfig
from caminos.engine.core.errors import ControlError

BACKEND = "mido.backends.rtmidi"
RTMIDI_APIS = {"jack": "UNIX_JACK", "alsa": "LINUX_ALSA"}  # [midi] api -> rtmidi's API name
ERROR_LOG_SECONDS = 1.0  # a refused MIDI message is logged at most this often
log = logging.getLogger("caminos.midi")


def backend(api: str = "") -> Any:
    """mido's rtmidi backend on ``api`` (``"jack"``, ``"alsa"``; ``""``: rtmidi's default).

    Raises
    ------
    ControlError
        mido or python-rtmidi is not installed.
    """
    try:
        import mido
        import rtmidi  # noqa: F401  (mido loads it lazily; a missing one is named here)
    except ImportError as exc:
        raise ControlError(
            f"midi: MIDI needs mido and python-rtmidi ({exc}); install them with "
            "pip install mido python-rtmidi"
        ) from None
    return mido.Backend(BACKEND + (f"/{RTMIDI_APIS[api]}" if api else ""), load=True)


def input_names(api: str = "") -> list[str]:
    """The MIDI input ports there are on ``api``, in rtmidi's order (their numbers).

    Raises
    ------
    ControlError
        The MIDI system cannot be reached (no JACK server, no ALSA sequencer): named.
    """
    midi = backend(api)
    try:
        return list(midi.get_input_names())
    except Exception as exc:  # rtmidi's SystemError and its kin
        raise ControlError(
            f"midi: cannot list the MIDI input ports of {api or 'the default MIDI system'} ({exc})"
        ) from None


def find_port(wanted: str, names: Sequence[str]) -> str:
    """The port ``wanted`` names: its number in ``names``, its whole name, or a part of it
    (any case) that only one port's name holds.

    Raises
    ------
    ControlError
        No such port, or several: names what was asked for and lists the ports there are.
    """
    listing = "; ".join(f"{i}: {name}" for i, name in enumerate(names)) or "none"
    text = wanted.strip()
    if text.isdigit():
        if int(text) < len(names):
            return names[int(text)]
        raise ControlError(
            f"midi.input: there is no MIDI input port number {text}; the ports there are: {listing}"
        )
    if text in names:
        return text
    found = [name for name in names if text.lower() in name.lower()]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ControlError(
            f"midi.input: no MIDI input port {wanted!r}; the ports there are: {listing}"
        )
    raise ControlError(
        f"midi.input: {wanted!r} is part of {len(found)} ports' names "
        f"({'; '.join(found)}): give more of the name, or its number"
    )


class MidiInput:
    """A MIDI input port played into an engine through its learnt mappings.

    Parameters
    ----------
    engine : Engine
        Receives what the mappings send, through :meth:`Engine.post`; its ``status()`` gains
        the input's counters (``midi_port``, ``midi_messages``, ``midi_events``,
        ``midi_errors``).
    mapping : MidiMap
        The engine's mappings (``Surface.midi`` of
        :func:`caminos.engine.control.surface.attach`).
    config : MidiConfig
        The port (``input``, not empty) and the MIDI system (``api``).
    """

    def __init__(self, engine: Any, mapping: MidiMap, config: MidiConfig) -> None:
        if not config.input.strip():
            raise ControlError("midi.input: no MIDI input port named (empty)")
        self.engine = engine
        self.mapping = mapping
        self.config = config
        self.port_name = ""
        self.counters = {"midi_messages": 0, "midi_events": 0, "midi_errors": 0}
        self._port: Any = None
        self._handled = threading.Condition()
        self._logged = -1e9
        from caminos.engine.control.surface import attach_midi

        attach_midi(engine, self)  # the composition root wires the input onto the engine

    def start(self) -> "MidiInput":
        """Read the mappings file, find the port and open it; returns self.

        Raises
        ------
        ControlError
            No MIDI system, no such port (the ports there are are listed), or it cannot be
            opened.
        """
        self.mapping.load()
        midi = backend(self.config.api)
        name = find_port(self.config.input, input_names(self.config.api))
        try:
            self._port = midi.open_input(name, callback=self._receive)
        except Exception as exc:
            raise ControlError(f"midi: cannot open the MIDI input port {name!r} ({exc})") from None
        self.port_name = name
        log.info("MIDI: listening to %s", name)
        return self

    def stop(self) -> None:
        """Close the port (its callback thread ends with it)."""
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def status(self) -> dict[str, Any]:
        """The port and the counters, for ``/engine/status``."""
        return {"midi_port": self.port_name, **self.counters}

    def wait_handled(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` MIDI messages have been handled (learnt from, or their events
        posted); whether they were within ``timeout`` seconds."""
        with self._handled:
            return self._handled.wait_for(lambda: self.counters["midi_messages"] >= count, timeout)

    def __enter__(self) -> "MidiInput":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _receive(self, message: Any) -> None:
        """mido's callback, in the port's thread: never raises."""
        try:
            if message.type == "control_change":
                self._play(CC, message.channel + 1, message.control, message.value)
            elif message.type in ("note_on", "note_off"):
                self._play(message.type, message.channel + 1, message.note, message.velocity)
            else:
                return
        except Exception as exc:  # never let one message stop the port's thread
            self._refused(f"midi: {exc}")
        with self._handled:
            self.counters["midi_messages"] += 1
            self._handled.notify_all()

    def _play(self, kind: str, channel: int, number: int, value: int) -> None:
        try:
            events = self.mapping.receive(kind, channel, number, value)
        except ControlError as exc:  # the mappings file could not be written
            self._refused(str(exc))
            return
        for address, args in events:
            try:
                self.engine.post(address, *args)  # counted in control_errors when refused
                self.counters["midi_events"] += 1
            except ControlError as exc:
                self._refused(str(exc))

    def _refused(self, reason: str) -> None:
        self.counters["midi_errors"] += 1
        now = time.monotonic()
        if now - self._logged >= ERROR_LOG_SECONDS:
            self._logged = now
            log.warning("MIDI: %s (%d refused in all)", reason, self.counters["midi_errors"])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m caminos.engine.control.midi``: print the MIDI input ports by number."""
    parser = argparse.ArgumentParser(
        prog="python -m caminos.engine.control.midi",
        description="The MIDI input ports [midi] input can name.",
    )
    parser.add_argument(
        "--api",
        default="",
        choices=MIDI_APIS,
        help="MIDI system: jack, alsa (default: rtmidi's default)",
    )
    args = parser.parse_args(argv)
    try:
        names = input_names(args.api)
    except ControlError as exc:
        print(exc, file=sys.stderr)
        return 1
    for i, name in enumerate(names):
        print(f"{i}: {name}")
    if not names:
        print("no MIDI input ports")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
