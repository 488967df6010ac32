"""What the live benchmarks share: their own JACK dummy server, free ports, a bare reference
stream, and an OSC client that reads the engine's replies.

Used by ``benchmarks/engine.py``, ``benchmarks/osc.py`` and ``benchmarks/web.py``. Each starts a
JACK server under a name of its own and stops only that one (a developer's own server keeps
running).
"""

from __future__ import annotations

import os
import socket
import subprocess

# A PortAudio stream of silence on the same JACK server, run as ``python -c REFERENCE_STREAM
# SECONDS [CHANNELS]`` (2 channels unless given): prints its callbacks and xruns as JSON, the
# reference that caminos' xruns are read against in the same seconds, with the monotonic times of
# its first and last callbacks and the callbacks expected between them (``expected``: a shortfall is
# callbacks the machine lost).
REFERENCE_STREAM = """
import json, sys, time
import sounddevice as sd
seconds = float(sys.argv[1])
channels = int(sys.argv[2]) if len(sys.argv) > 2 else 2
counts = {"callbacks": 0, "xruns": 0, "first": 0.0, "last": 0.0}
def callback(outdata, frames, t, status):
    now = time.monotonic()
    counts["first"] = counts["first"] or now
    counts["last"] = now
    counts["callbacks"] += 1
    counts["xruns"] += bool(status)
    outdata.fill(0)
with sd.OutputStream(samplerate=48000, blocksize=256, channels=channels, dtype="float32",
                     latency="low", callback=callback):
    time.sleep(seconds)
counts["expected"] = (counts["last"] - counts["first"]) * 48000 / 256 + 1
print(json.dumps(counts))
"""


def start_jackd(name: str, playback: int = 2) -> subprocess.Popen:
    """Start a JACK dummy server (48 kHz, 256 frames, ``playback`` output ports) named ``name``
    and wait until it serves; every JACK client this process starts afterwards finds it
    (``JACK_DEFAULT_SERVER``).

    Raises
    ------
    SystemExit
        The server did not come up within 15 s (with what ``jack_wait`` said).
    """
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1")
    server = subprocess.Popen(
        ["jackd", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256", "-P", str(playback)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    waited = subprocess.run(["jack_wait", "-w", "-t", "15"], capture_output=True, text=True)
    if "server is available" not in waited.stdout:
        stop_jackd(server)
        raise SystemExit(f"jackd -n {name} did not start: {waited.stdout}{waited.stderr}")
    return server


def stop_jackd(server: subprocess.Popen) -> None:
    """Stop the server :func:`start_jackd` started (by its process, never by name)."""
    server.terminate()
    server.wait(timeout=10)


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port on 127.0.0.1 free at this moment, for UDP (OSC) or ``socket.SOCK_STREAM`` (HTTP)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OscClient:
    """An OSC client on its own UDP port: sends to the engine and reads its replies.

    Parameters
    ----------
    port : int
        The engine's OSC port on 127.0.0.1.
    timeout : float
        Seconds a reply may take, in seconds.
    """

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.target = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout)

    def send(self, address: str, *args) -> None:
        from caminos.engine.control.osc.messages import encode_message

        self.sock.sendto(encode_message(address, args), self.target)

    def status(self) -> dict:
        """``/engine/status`` as a dict (other replies waiting on the socket are skipped)."""
        from pythonosc.osc_message import OscMessage

        self.send("/engine/status")
        while True:
            message = OscMessage(self.sock.recvfrom(65536)[0])
            if message.address == "/engine/status":
                flat = list(message.params)
                return dict(zip(flat[::2], flat[1::2]))

    def close(self) -> None:
        self.sock.close()
