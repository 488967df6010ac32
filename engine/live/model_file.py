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

Computing the numbers takes about 1.9 s of a start of ``caminos play`` (a process that imports
torch, loads the checkpoint and folds its layers). They are kept in a cache
(:class:`HopModelCache`, ``$XDG_CACHE_HOME/caminos/hop-models``) under a key of everything they
are made from: the checkpoint's bytes, the framing, the sample rate, the versions of torch and
numpy and the source of the code that computes them (``models/*.py``). A later start with the
same key copies the file (``caminos play`` starts about 1.8 s sooner); a changed checkpoint, a
new torch or an edited model module is a new key. A cached file that does not load is computed
again; a cache that cannot be written is left alone.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from pathlib import Path

from caminos.engine.core.config import Config, user_cache_folder
from caminos.engine.core.errors import CheckpointError

FILE_NAME = "hop-model.npz"
# The modules whose code makes the numbers (caminos.models, by path: importing it would import
# torch into the supervisor).
MODEL_SOURCES = Path(__file__).resolve().parent.parent.parent / "models"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/caminos/hop-models`` (``~/.cache/caminos/hop-models`` by default)."""
    return user_cache_folder() / "hop-models"


def _version(distribution: str) -> str:
    """The installed version of ``distribution`` ("" when it is not installed)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""


class HopModelCache:
    """Hop model files by a key of everything they are made from (see the module's text).

    Parameters
    ----------
    folder : path
        Where the files are kept (made when the first is written).
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def key(self, config: Config) -> str:
        """The key of ``config``'s model numbers: hex digits of a SHA-256.

        Raises
        ------
        CheckpointError
            The checkpoint cannot be read (the message names it).
        """
        checkpoint = Path(config.model.checkpoint_path())
        digest = hashlib.sha256()
        try:
            digest.update(checkpoint.read_bytes())
        except OSError as exc:
            raise CheckpointError(f"{checkpoint}: cannot be read ({exc.strerror})") from None
        versions = [_version(name) for name in ("torch", "numpy")]
        framing = [config.stft.n_fft, config.stft.hop, config.audio.sample_rate, versions]
        digest.update(json.dumps(framing).encode())
        for source in sorted(MODEL_SOURCES.glob("*.py")):
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
        return digest.hexdigest()

    def path(self, key: str) -> Path:
        """Where the file of ``key`` is kept."""
        return self.folder / f"{key}.npz"

    def fetch(self, key: str, target: str) -> bool:
        """Copy the file of ``key`` to ``target`` if it is kept and loads; whether it was."""
        from caminos.models.shape import HopModel  # numpy only

        kept = self.path(key)
        if not kept.is_file():
            return False
        try:
            HopModel.load(kept)
            shutil.copyfile(kept, target)
        except (CheckpointError, OSError):
            return False
        return True

    def keep(self, key: str, source: str) -> None:
        """Keep a copy of ``source`` as the file of ``key``, whole or not at all (nothing when the
        folder cannot be written: the cache is a convenience)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = self.folder / f".{key}.{os.getpid()}.partial"
            shutil.copyfile(source, partial)
            os.replace(partial, self.path(key))
        except OSError:
            return


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

    Parameters
    ----------
    cache : HopModelCache or None
        Where computed files are kept and found again (None: computed at every start).

    Attributes
    ----------
    path : str
        The file, once :meth:`write` has written it; "" before.
    from_cache : bool
        Whether the last :meth:`write` found the file in the cache.
    """

    def __init__(self, cache: HopModelCache | None = None) -> None:
        self.cache = cache
        self.folder: Path | None = None
        self.path = ""
        self.from_cache = False

    def write(self, config: Config) -> str:
        """Compute the configured checkpoint's numbers in a spawned process and save them in a
        new temporary folder (removing any earlier one); returns the file's path.

        Raises
        ------
        CheckpointError
            As :func:`save_hop_model` (the spawned process's error, raised here).
        """
        self.remove()  # a file of an earlier start
        key = self.cache.key(config) if self.cache is not None else ""
        self.folder = Path(tempfile.mkdtemp(prefix="caminos-model-"))
        path = str(self.folder / FILE_NAME)
        self.from_cache = self.cache is not None and self.cache.fetch(key, path)
        if not self.from_cache:
            with ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            ) as pool:
                pool.submit(save_hop_model, config, path).result()
            if self.cache is not None:
                self.cache.keep(key, path)
        self.path = path
        return path

    def remove(self) -> None:
        """Remove the folder and the file (nothing when none was made)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None
        self.path = ""
