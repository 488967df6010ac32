"""What ``caminos play`` checks before any process starts.

The live processes (:mod:`caminos.engine.live.supervisor`) read their inputs once they run: the
control process a ``--score``, the DSP process the checkpoint, ``engine.file`` and the
``--record`` folder. A refusal there comes after the DSP process has built and warmed its engine,
and with ``--record`` after it has opened its files. :func:`check_play` makes the same checks
first, in the ``caminos play`` process, so that a bad input costs one line (a
:class:`~caminos.engine.core.errors.CaminosError`, exit status 2) and starts nothing: the score is
read against the controls the control process will accept (:func:`control_engine`), with the same
parser ``caminos render --score`` uses (:func:`caminos.engine.control.score.load_score`).

The configuration itself is already checked when it is loaded
(:func:`caminos.engine.core.config.load_config`); what is checked here is what it and the command
line name: files and folders.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from caminos.engine.core.config import Config, shipped_file
from caminos.engine.core.errors import AudioFileError, CheckpointError, ControlError, ParameterError


def check_play(
    config: Config,
    score: str | None = None,
    record: str | None = None,
    osc: bool = False,
    web: bool = False,
) -> None:
    """Refuse now, with one message, whatever a live process would refuse once started.

    Parameters
    ----------
    config : Config
        The loaded configuration (its checkpoint, layout and ``engine.file`` are checked).
    score : str, optional
        ``--score``: read and checked line by line against the live controls, and against
        the configuration's sample rate and hop.
    record : str, optional
        ``--record PREFIX``: a name the recorder accepts, in a folder that can be written.
    osc, web : bool
        Whether the OSC server and the control page will listen: their ports must be free
        (a port taken between this check and the control process's start is still refused
        there, in one line).

    Raises
    ------
    CaminosError
        The first problem found; the message names the file (and the line of a score).
    """
    if record is not None:
        check_record(record)
    if osc:
        check_port("osc", config.osc.host, config.osc.port, udp=True)
    if web:
        check_port("web", config.web.host, config.web.port, udp=False)
    if config.midi.input:  # the port is there, before any process starts
        from caminos.engine.control.midi import find_port, input_names

        find_port(config.midi.input, input_names(config.midi.api))
    checkpoint = config.model.checkpoint_path()
    if checkpoint.is_dir():
        raise CheckpointError(
            f"{checkpoint}: is a folder, not a checkpoint file (model.checkpoint)"
        )
    if not checkpoint.exists():
        raise CheckpointError(f"{checkpoint}: checkpoint not found (model.checkpoint)")
    from caminos.engine.core.layouts import field_layout

    field_layout(config)  # a layout file that is missing or bad (it names the keys)
    if score is not None:
        check_score(config, score)
    elif config.engine.file:  # a score holds its own start-up events instead
        check_sound_file(config.engine.file, "--file or engine.file")


def check_score(config: Config, path: str) -> None:
    """Read the score as the control process will, against the same controls.

    Reading it against the live controls builds an engine, and with it imports torch: that
    happens in a short-lived process (:func:`score_problem`), so the ``caminos play`` process,
    which supervises an installation for months, never holds torch's memory.

    Raises
    ------
    ControlError
        ``FILE:LINE: reason`` for the first bad line, or a header that does not match the
        configuration's sample rate and hop.
    """
    if not Path(path).is_file():  # before building an engine to read it
        what = "is a folder" if Path(path).is_dir() else "file not found"
        raise ControlError(f"{path}: cannot read the score ({what})")
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        problem = pool.submit(score_problem, config, path).result()
    if problem:
        raise ControlError(problem)


def score_problem(config: Config, path: str) -> str:
    """The first problem of a score read against the live controls, ``""`` when none (run in a
    process of its own by :func:`check_score`)."""
    from caminos.engine.control.score import load_score
    from caminos.engine.core.errors import CaminosError
    from caminos.engine.live.control_process import control_engine

    # with the voice's controls: the DSP process plays a voice whenever it can load one
    engine, _surface = control_engine(config, config.audio.channels, voice=True)
    try:
        load_score(path, engine)
    except CaminosError as exc:
        return str(exc)
    finally:
        engine.close()
    return ""


def check_record(record: str) -> None:
    """``--record PREFIX``: a name ``/engine/record`` accepts, in a folder that exists (or can
    be made) and can be written, where ``PREFIX.wav`` and ``PREFIX.score`` are not folders.

    Raises
    ------
    ParameterError
        The message starts with ``--record`` and says what is wrong.
    """
    from caminos.engine.control.patch_files import check_name

    prefix = Path(record)
    try:
        check_name("--record", prefix.name)
    except ControlError as exc:
        raise ParameterError(str(exc)) from None
    folder = prefix.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent  # the recorder makes the missing folders
    if not existing.is_dir():
        raise ParameterError(f"--record {record}: {existing} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ParameterError(
            f"--record {record}: cannot write in {existing} ({exc.strerror or exc})"
        ) from None
    for suffix in (".wav", ".score"):
        target = folder / (prefix.name + suffix)
        if target.is_dir():
            raise ParameterError(f"--record {record}: {target} is a folder")


def check_port(kind: str, host: str, port: int, udp: bool) -> None:
    """Bind ``host:port`` for a moment, as the OSC server (UDP) or the control page (TCP) will.

    Raises
    ------
    ControlError
        ``KIND: cannot listen on HOST:PORT (reason)``, as the server itself says it.
    """
    if port == 0:  # any free port
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM) as probe:
        if not udp:  # as aiohttp does: a connection of a previous run in TIME_WAIT is no conflict
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ControlError(
                f"{kind}: cannot listen on {host}:{port} ({exc.strerror or exc})"
            ) from None


def check_sound_file(path: str, key: str) -> None:
    """A sound file the file player will open: it exists and libsndfile reads its header.

    Raises
    ------
    AudioFileError
        The message names the file and ``key`` (the setting or flag that gave it).
    """
    import soundfile as sf

    found = shipped_file(path)
    if not found.exists():
        raise AudioFileError(f"{path}: file not found ({key})")
    if found.is_dir():
        raise AudioFileError(f"{path}: is a folder, not a sound file ({key})")
    try:
        sf.info(os.fspath(found))
    except Exception as exc:  # libsndfile's errors, an unreadable file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioFileError(
            f"{path}: not a sound file caminos can read ({key}: {reason[:200]})"
        ) from None
