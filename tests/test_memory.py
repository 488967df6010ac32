"""What each process of ``caminos play`` loads: torch only where a torch model runs, numba only
where compiled kernels run (issue 21, "a lighter tree"; sizes in ``benchmarks/memory.py``).

The supervisor and the audio process run no model: neither may import torch (200 MB a process).
The DSP and control processes run the autoencoder from its numbers in a file
(:class:`caminos.models.shape.HopModel`), so they import no torch either unless a landmark is
encoded. The voice process runs the acoustic model (torch) but renders no frame, so it must not
load the renderer's numba kernels. Checked on the modules each process imports, in a fresh
interpreter, and on the processes themselves, through JACK's dummy driver, from what they map
(``/proc/PID/maps``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.memory import measure_tree, read_memory
from caminos.engine.core.config import load_config
from caminos.models.api import DEFAULT_CHECKPOINT
from caminos.models.checkpoint import load_checkpoint
from caminos.models.voice.stream import VoiceStream
from tests.test_live_jack import jackd  # noqa: F401  (the JACK dummy server fixture)

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "numba")


def _loaded_after(code: str) -> list[str]:
    """Which of :data:`HEAVY` a fresh interpreter holds after running ``code``."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_supervisor_and_the_audio_process_import_no_torch() -> None:
    """What ``caminos play`` imports to supervise (every process's body, named by its module),
    and what the audio process imports to open the stream."""
    supervisor = _loaded_after("from caminos.engine.live.play import play")
    assert supervisor == [], supervisor
    audio = _loaded_after(
        "from caminos.engine.live.audio_process import stream_main\n"
        "from caminos.engine.live.devices import import_sounddevice\n"
        "import_sounddevice()"
    )
    assert audio == [], audio


def test_an_engine_from_the_models_numbers_imports_no_torch(tmp_path) -> None:
    """What the DSP and control processes do: an engine (and the replica's controls) built from
    a :class:`~caminos.models.shape.HopModel` file runs numba and no torch."""
    path = tmp_path / "model.npz"
    load_checkpoint(DEFAULT_CHECKPOINT).hop_model().save(path)
    loaded = _loaded_after(
        "from caminos.engine.core.config import load_config\n"
        "from caminos.engine.live.control_process import control_engine\n"
        "from caminos.models.shape import HopModel\n"
        f"engine, _ = control_engine(load_config(), 2, voice=True, "
        f"hop_model=HopModel.load({str(path)!r}))\n"
        "engine.warm_up()"
    )
    assert loaded == ["numba"], loaded


def test_the_voice_process_runs_its_model_without_the_renderers_kernels() -> None:
    stream = VoiceStream(load_config(), seed=0, process=True)
    try:
        worker = read_memory(stream.worker_pid, "voice")
    finally:
        stream.close()
    assert worker.torch and not worker.numba, worker


@pytest.mark.skipif(
    shutil.which("jackd") is None,
    reason="jackd not installed (scripts/setup.sh --test installs it)",
)
def test_each_process_of_play_maps_only_what_it_runs(jackd) -> None:  # noqa: F811
    """``caminos play`` at the defaults, after a second of output: every role is there, and the
    libraries each maps are those it runs."""
    rows = {row.role: row for row in measure_tree(play_seconds=1.0)}
    assert {"supervisor", "dsp", "control", "voice", "audio"} <= set(rows), rows
    assert not rows["supervisor"].torch and not rows["supervisor"].numba, rows["supervisor"]
    assert not rows["audio"].torch and not rows["audio"].numba, rows["audio"]
    assert rows["voice"].torch and not rows["voice"].numba, rows["voice"]
    assert rows["dsp"].numba, rows["dsp"]  # the hop path's kernels: the check sees numba
    assert not rows["dsp"].torch, rows["dsp"]  # the engine runs on the model's numbers
    assert not rows["control"].torch, rows["control"]  # torch waits for a landmark
