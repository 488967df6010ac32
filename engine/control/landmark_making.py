"""Landmarks made where a control is posted, never on the hop clock: a sound file encoded, the
voice rendered and encoded, a ``caminos encode`` file read, a saved landmark read; and a landmark
written to its file (``/landmark/*``'s ``prepare`` and ``/landmark/save``, wired by
:class:`caminos.engine.control.navigation.Navigator`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from caminos.engine.control.latent_paths import Landmark
from caminos.engine.control.patch_files import (
    file_for,
    file_to_read,
    number_rows,
    read_json,
    write_json,
)
from caminos.engine.core.errors import ControlError

FILE_VERSION = 1


def rows_of(points: np.ndarray) -> list[list[float]]:
    """Points as lists of numbers rounded to 6 decimals, for a JSON file."""
    return [[round(float(v), 6) for v in row] for row in points]


class LandmarkMaker:
    """Makes and writes landmarks for an engine, in the posting thread.

    Parameters
    ----------
    engine : Engine
        Its configuration, model (the torch codec loads on the first encoding), latent
        statistics and the hop's duration.
    folder : Path
        Where ``NAME.landmark.json`` files are written and read.

    Each ``from_*`` and :meth:`load` returns ``(name, points, source)``: rotated latent
    coordinates, one row per hop (None: a live snapshot the hop clock takes itself).
    """

    def __init__(self, engine: Any, folder: Path) -> None:
        self.engine = engine
        self.folder = folder
        self.std = engine.mixer.std
        self.dims = engine.mixer.dims
        self.hop_seconds = engine.hop / engine.sample_rate

    def from_sound(self, name: str, sound: str) -> tuple[str, np.ndarray | None, str]:
        """``/landmark/add NAME SOUND``: a sound file's latent trajectory, a ``.npz`` from
        ``caminos encode``, or ``live``."""
        if sound == "live":
            return name, None, "live"
        if sound.endswith(".npz"):
            return name, self.read_encoded(sound), sound
        from caminos.models.api import latent_trajectory, read_mono

        engine = self.engine
        latent, _ = latent_trajectory(
            read_mono(sound, engine.config), engine.checkpoint, engine.config
        )
        return name, np.asarray(latent, dtype=np.float64), sound

    def from_voice(self, name: str, language: str, text: str) -> tuple[str, np.ndarray, str]:
        """``/landmark/voice``: render the voice offline with its own stream and encode its
        frames."""
        import torch

        from caminos.models.autoencoder import log_magnitude
        from caminos.models.voice.stream import VoiceStream, render_offline

        # the torch codec first: loading it sets torch to one thread, which the render uses too
        codec = self.engine.codec
        stream = VoiceStream(self.engine.config, seed=self.engine.config.engine.seed)
        try:
            stream.set("language", language)
            if text.startswith("babble:") and text[7:].strip().isdigit():
                stream.babble(int(text[7:]))
            else:
                stream.say(text)
            frames = render_offline(stream, max_seconds=120.0)
        finally:
            stream.close()
        if len(frames) == 0:
            raise ControlError(f"/landmark/voice: the voice rendered nothing for {text!r}")
        with torch.no_grad():
            logs = log_magnitude(torch.tensor(frames, dtype=torch.float32))
            codec.start_stream()  # the voice's frames in order, as the engine reads a sound
            latent = codec.encode(logs, stream=True).double().numpy()
        return name, latent, f"voice {language}: {text}"

    def from_numbers(self, name: str, *values_std: float) -> tuple[str, np.ndarray, str]:
        """``/landmark/point``: a landmark at a point given by its first axes, in standard
        deviations."""
        return name, self.point_from_std(values_std)[None, :], "numbers"

    def point_from_std(self, values_std: tuple) -> np.ndarray:
        """A rotated latent point from its first axes in standard deviations (the others 0)."""
        if len(values_std) > self.dims:
            raise ControlError(f"at most {self.dims} axes, got {len(values_std)}")
        point = np.zeros(self.dims)
        point[: len(values_std)] = values_std
        return point * self.std

    def read_encoded(self, path: str) -> np.ndarray:
        """A landmark file written by ``caminos encode SOUND -o LANDMARK.npz``."""
        try:
            with np.load(path) as data:
                latent = np.asarray(data["latent"], dtype=np.float64)
                model = str(data["checkpoint"]) if "checkpoint" in data else ""
        except (OSError, KeyError, ValueError) as exc:
            raise ControlError(
                f"/landmark/add: {path}: not a landmark from caminos encode ({exc})"
            ) from None
        if latent.ndim != 2 or latent.shape[1] != self.dims or len(latent) == 0:
            raise ControlError(
                f"/landmark/add: {path}: expected latent frames of {self.dims} "
                f"dims, got shape {latent.shape}"
            )
        if model and model != self.engine.hop_model.name:
            raise ControlError(
                f"/landmark/add: {path}: encoded with model {model!r}; the engine "
                f"plays {self.engine.hop_model.name!r}"
            )
        return latent

    def save(self, landmark: Landmark) -> Path:
        """``/landmark/save``: the landmark as ``NAME.landmark.json`` (points in standard
        deviations); returns the file."""
        path = file_for(self.folder, "/landmark/save", landmark.name, ".landmark.json")
        write_json(
            path,
            "/landmark/save",
            {
                "caminos": "landmark",
                "version": FILE_VERSION,
                "name": landmark.name,
                "source": landmark.source,
                "model": self.engine.hop_model.name,
                "hop_seconds": self.hop_seconds,
                "points_std": rows_of(landmark.points / self.std),
            },
        )
        return path

    def load(self, name: str) -> tuple[str, np.ndarray, str]:
        """``/landmark/load``: ``NAME.landmark.json``, a file that fails to parse reported with
        its line."""
        path = file_to_read(self.folder, "/landmark/load", name, ".landmark.json")
        data = read_json(path, "/landmark/load", "landmark")
        rows = number_rows(data.get("points_std"), f"/landmark/load: {path}: points_std", self.dims)
        return name, self.points_from_rows(rows), str(data.get("source", path))

    def points_from_rows(self, rows: list[list[float]]) -> np.ndarray:
        """Rows of standard deviations (the first axes of each; the others 0) as rotated latent
        points."""
        points = np.zeros((len(rows), self.dims))
        for i, row in enumerate(rows):
            points[i, : len(row)] = row
        return points * self.std
