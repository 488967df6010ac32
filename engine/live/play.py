"""``caminos play``: start the live engine, report its latency, supervise it until stopped.

Between the command line (:mod:`caminos.engine.cli.main`) and the live machinery
(:mod:`caminos.engine.live.supervisor`): prints
what a performer needs at start-up (devices, latency broken down, OSC port), a status line while
playing, and a final report; in installation mode it logs to a rotating file instead and follows
the daily schedule.
"""

from __future__ import annotations

import faulthandler
import logging
import sys
from pathlib import Path

from caminos.engine.core.config import Config
from caminos.engine.live.preflight import check_play
from caminos.engine.live.schedule import Schedule, installation_logger
from caminos.engine.live.supervisor import LivePlayer

# The supervisor's stop joins the audio, control and DSP processes for at most 76 s in all before
# it kills them; a stop still running after this long prints every thread's stack to stderr, so
# a hang says where it is.
STOP_STACKS_AFTER_S = 90.0


def play(
    config: Config,
    seconds: float | None = None,
    report_path: str | None = None,
    record: str | None = None,
    status_every: float = 1.0,
    osc: bool = True,
    score: str | None = None,
    loop_score: bool = False,
    web: bool = False,
) -> int:
    """Play live until ``seconds`` pass or Ctrl-C; returns the exit status (0).

    With ``score``, the score plays from the first hop (looping with ``loop_score``), its events
    on their hops as ``caminos render --score`` places them; OSC controls it on top. With
    ``web``, the control page is served (:mod:`caminos.engine.control.web`) and its address
    printed, with a QR
    code for a phone when it is reachable from other machines.

    Raises
    ------
    AudioDeviceError
        No PortAudio or no usable device (the message lists what was found).
    CaminosError
        An input a live process would refuse (a bad score line, a missing file, a
        ``--record`` folder that cannot be written), before any process starts
        (:func:`caminos.engine.live.preflight.check_play`); or the engine failed to start.
    """
    # before any process starts
    check_play(config, score=score, record=record, osc=osc, web=web)
    installation = config.engine.installation
    log = installation_logger(config) if installation else logging.getLogger("caminos.play")
    if not installation:
        log.addHandler(logging.StreamHandler(sys.stderr))
        log.setLevel(logging.INFO)
    schedule = (
        Schedule(config.engine.start_time, config.engine.stop_time)
        if installation and config.engine.start_time
        else None
    )
    player = LivePlayer(
        config, record=record, osc=osc, log=log, score=score, loop_score=loop_score, web=web
    )
    say = log.info if installation else print
    say(f"caminos play: {player.devices.description}; starting the engine...")
    try:
        player.start()
    except BaseException:
        player.stop()
        raise
    lat = player.latency_breakdown()
    hop_ms = 1000.0 * config.stft.hop / config.audio.sample_rate
    osc_port = int(player.front["osc_port"])
    say(
        f"playing at {config.audio.sample_rate} Hz, hop {config.stft.hop} ({hop_ms:.2f} ms), "
        f"phase {config.engine.phase_method} look-ahead {config.engine.lookahead}"
        + (f", OSC on port {osc_port}" if osc_port else ", no OSC server")
        + (f", score {score}" + (" (looping)" if loop_score else "") if score else "")
    )
    if web:
        for line in web_lines(config, int(player.front["web_port"]), player.web_token):
            say(line)
    say(
        f"latency: input->output {lat['input_to_output_ms']:.1f} ms (device in "
        f"{lat['device_in_ms']:.1f} + engine {lat['algorithmic_ms']:.1f} + buffer "
        f"{lat['buffer_ms']:.1f} + device out {lat['device_out_ms']:.1f}); control->sound "
        f"{lat['control_to_sound_ms']:.1f} ms"
    )
    try:
        # installation mode logs a status line every engine.status_every seconds: a failing
        # installation leaves a trace of when its xruns, underruns and restarts began
        player.run(
            seconds,
            status_every=config.engine.status_every if installation else status_every,
            on_status=say,
            schedule=schedule,
        )
    except KeyboardInterrupt:
        say("stopping")
    finally:
        _stacks_if_stop_hangs()
        try:
            report = player.stop()
        finally:
            faulthandler.cancel_dump_traceback_later()
        if report_path:
            Path(report_path).write_text(report.to_json())
        say(
            f"played {report.seconds:.1f} s: {report.callbacks} callbacks, "
            f"{report.xruns} xruns, {report.underruns} underruns in {report.extra['holes']} gaps "
            f"(the longest {report.extra['longest_hole_ms']:.0f} ms), {report.restarts} restarts, "
            f"peak {report.peak_dbfs:.1f} dBFS"
        )
    return 0


def _stacks_if_stop_hangs() -> None:
    """Print every thread's stack to stderr if the stop is still running after
    :data:`STOP_STACKS_AFTER_S` (nothing when stderr is not a file, as under a test's capture)."""
    try:
        faulthandler.dump_traceback_later(STOP_STACKS_AFTER_S)
    except (OSError, ValueError, RuntimeError):  # no file descriptor behind sys.stderr
        pass


def web_lines(config: Config, port: int, token: str) -> list[str]:
    """What ``caminos play --web`` prints: the page's URL (with its token off loopback) and, off
    loopback, the URL as a QR code of text lines for a phone's camera."""
    web = config.web
    if web.loopback:
        return [f"control page: http://{web.host}:{port}/"]
    host = web.host if web.host not in ("0.0.0.0", "::", "") else _own_address()
    url = f"http://{host}:{port}/?token={token}"
    lines = [f"control page: {url} (the token is needed off this machine)"]
    import segno

    qr = segno.make(url, error="m")
    lines.extend(_qr_text(qr))
    return lines


def _own_address() -> str:
    """This machine's address on its network (what a phone on the same network reaches)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent by connect()
            return probe.getsockname()[0]
        except OSError:
            return socket.gethostname()


def _qr_text(qr) -> list[str]:
    """A QR code as lines of half-block characters (two modules a character, quiet zone of 2),
    readable from a terminal with dark text on a light background or the reverse."""
    rows = [[bool(v) for v in row] for row in qr.matrix_iter(scale=1, border=2)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    blocks = {
        (True, True): "\u2588",
        (True, False): "\u2580",
        (False, True): "\u2584",
        (False, False): " ",
    }
    return [
        "".join(blocks[(top, bottom)] for top, bottom in zip(rows[i], rows[i + 1]))
        for i in range(0, len(rows), 2)
    ]
