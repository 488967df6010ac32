"""The live processes' model: its numbers computed once, in a short-lived process, into a file.

An engine's hop path runs on a :class:`~caminos.models.shape.HopModel`, numpy arrays; computing
one from a checkpoint needs torch (the checkpoint is a torch file, and the fused codec's layers
are folded in torch), about 200 MB in any process that imports it, held until the process ends.
So before the DSP process starts, the supervisor
(:class:`~caminos.engine.live.supervisor.LivePlayer`) has a spawned process compute the numbers
for the configured checkpoint and save them in a folder the supervisor owns and removes at stop
(:class:`ModelFile`); the DSP and control processes build their engines from that file and
import no torch unless a landmark is encoded. The supervisor, which runs an installation for
months, never imports torch either.
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from caminos.engine.core.config import Config

FILE_NAME = "hop-model.npz"


def save_hop_model(config: Config, path: str) -> None:
    """Load ``config``'s checkpoint as the engine does, compute its
    :class:`~caminos.models.shape.HopModel` and save it to ``path`` (run in a process of its
    own by :meth:`ModelFile.write`: it imports torch).

    Raises
    ------
    CheckpointError
        The checkpoint is missing, damaged or made for other settings, or the file cannot be
        written.
    """
    from caminos.engine.clock.engine import load_frame_model

    checkpoint = load_frame_model(
        config.model.checkpoint_path(), config.stft, config.audio.sample_rate
    )
    checkpoint.hop_model().save(path)


class ModelFile:
    """A folder of the supervisor's own holding the configured model's
    :class:`~caminos.models.shape.HopModel` file, removed by :meth:`remove`.

    Attributes
    ----------
    path : str
        The file, once :meth:`write` has written it; "" before.
    """

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.path = ""

    def write(self, config: Config) -> str:
        """Compute the configured checkpoint's numbers in a spawned process and save them in a
        new temporary folder (removing any earlier one); returns the file's path.

        Raises
        ------
        CheckpointError
            As :func:`save_hop_model` (the spawned process's error, raised here).
        """
        self.remove()  # a file of an earlier start
        self.folder = Path(tempfile.mkdtemp(prefix="caminos-model-"))
        path = str(self.folder / FILE_NAME)
        with ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            pool.submit(save_hop_model, config, path).result()
        self.path = path
        return path

    def remove(self) -> None:
        """Remove the folder and the file (nothing when none was made)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None
        self.path = ""
