"""A path per voice: ``/channel/K/path/play NAME`` puts channel K's voice on a path of its own.

The latent field (:mod:`caminos.engine.clock.field`) places every voice around the shared
centre; a voice on its own path leaves the centre's path for its own, a path known to the
navigator (:class:`caminos.engine.control.navigation.Navigator`: made with ``/path/*``, loaded, or
recorded), played at the navigator's speed and interpolation and looped, so an installation can
run one slow path per speaker for hours. What a voice hears of its path depends on its follow:
``/channel/K/follow 0`` hears the path alone. Wired by the composition root
(:func:`caminos.engine.control.surface.attach`); :meth:`VoicePaths.on_hop` runs on the hop clock.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from caminos.engine.control.latent_paths import LatentPath, glide_row
from caminos.engine.control.navigation import Navigator
from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.core.errors import ControlError


class VoicePaths:
    """Each voice's own path player (looping), writing the mixer's per-voice path position.

    Parameters
    ----------
    engine : Engine
        Its mixer (``voice_path_position``, ``voice_path_active``), field (which voice plays
        which channel) and hop.
    navigator : Navigator
        Where paths are found by name, and the speed and interpolation they play at.
    """

    def __init__(self, engine: Any, navigator: Navigator) -> None:
        self.engine = engine
        self.mixer = engine.mixer
        self.field = engine.field
        self.navigator = navigator
        self.hop_seconds = engine.hop / engine.sample_rate
        voices = self.mixer.voices
        self.paths: list[LatentPath | None] = [None] * voices
        # seconds into each voice's path, as Python floats: no array scalar made each hop
        self.times = [0.0] * voices
        self._target = np.zeros(self.mixer.dims)
        self._jump = np.zeros(voices, dtype=np.bool_)

    def controls(self) -> ControlTable:
        """``/channel/K/path/play`` and ``/channel/K/path/stop`` for every channel of the room."""
        table = ControlTable()
        for channel in range(1, self.field.room_channels + 1):
            voice = self.field.voice_of(channel)
            table.add(
                f"/channel/{channel}/path/play",
                (Arg("path", "s"),),
                f"channel {channel}'s voice plays a path of its own, looped, at /path/speed "
                f"(/channel/{channel}/follow 0 hears it alone)",
                functools.partial(self._play, voice, channel),
                group="channel",
            )
            table.add(
                f"/channel/{channel}/path/stop",
                (),
                f"channel {channel}'s voice back on the shared path",
                functools.partial(self._stop, voice),
                group="channel",
            )
        return table

    def _play(self, voice: int | None, channel: int, name: str) -> None:
        path = self.navigator.paths.get(name)
        if path is None:
            raise ControlError(f"/channel/{channel}/path/play: no path named {name!r}")
        if len(path.points) == 0:
            raise ControlError(f"/channel/{channel}/path/play: path {name!r} has no points")
        if voice is None:  # another instance plays this channel
            return
        self.paths[voice] = path
        self.times[voice] = 0.0
        self._jump[voice] = not self.mixer.voice_path_active[voice]
        self.mixer.voice_path_active[voice] = True

    def _stop(self, voice: int | None) -> None:
        if voice is not None:
            self.paths[voice] = None
            self.mixer.voice_path_active[voice] = False

    def on_hop(self, hop: int) -> None:
        """Advance every voice's path one hop and glide its position towards it; DSP thread."""
        speed = self.navigator.speed.value
        interpolation = self.navigator.interpolation
        positions = self.mixer.voice_path_position
        coefficient = self.mixer.coefficient
        times, paths, voice = self.times, self.paths, 0
        while voice < len(paths):  # (no iterator: nothing allocated on the hop)
            path = paths[voice]
            if path is not None:
                seconds = path.seconds
                if seconds > 0.0:
                    times[voice] = (times[voice] + speed * self.hop_seconds) % seconds
                path.evaluate(times[voice], interpolation, self._target)
                # the hop a voice starts on its path it sounds there, with no glide from
                # elsewhere
                glide_row(positions, voice, self._target, coefficient, self._jump[voice])
                self._jump[voice] = False
            voice += 1

    def reset(self) -> None:
        """Every voice off its own path."""
        for voice in range(len(self.paths)):
            self._stop(voice)
