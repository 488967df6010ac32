"""Sources: where the engine's magnitude frames come from, one frame per source per hop.

First stage of ``Engine.tick()`` (docs/architecture.md): the live input, the file player and the
voice each write one magnitude frame per hop (and their own analysis frame, for the ``input``
phase method, where they have one). Buffers are allocated when a source is built or a file is
loaded; :meth:`Source.frame` allocates nothing. Loading a file happens in the thread that posts
the control (:func:`load_player_file`), never on the DSP thread.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import numpy as np
from numba import njit

from caminos.engine.core.config import Config, StftConfig, shipped_file
from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.dsp.audio_io import read_audio
from caminos.engine.dsp.spectral import _AXES, StftAnalyzer, _analyze_frame, analysis_window


class Source:
    """One producer of magnitude frames.

    Attributes
    ----------
    name : str
        ``input``, ``file`` or ``voice``: the ``/source/<name>/...`` addresses.
    gain : float
        Linear gain applied to the source's magnitudes before encoding (0 silences it).
    has_reference : bool
        Whether :meth:`frame` writes the source's own analysis frame (usable by ``input`` phase).
    """

    name = ""
    has_reference = False

    def __init__(self, stft: StftConfig) -> None:
        self.stft = stft
        self.gain = 1.0

    def frame(self, magnitude: np.ndarray, reference: np.ndarray) -> bool:
        """Write this hop's magnitude frame (and analysis frame where there is one).

        Parameters
        ----------
        magnitude : ndarray, shape (n_bins,), float64
            Receives linear magnitudes times :attr:`gain`.
        reference : ndarray, shape (n_bins,), complex128
            Receives the analysis frame (times gain) when :attr:`has_reference`; untouched else.

        Returns
        -------
        bool
            True when the source sounds this hop; False when it is idle (frame left at zero).
        """
        raise NotImplementedError

    def reset(self) -> None:
        """Forget all state, as if newly built."""


class InputSource(Source):
    """The live input: samples pushed by the audio layer, analysed with the engine's STFT.

    The audio layer pushes one hop of (mono-mixed) input samples before each tick; offline and
    without an input device nothing is pushed and the source stays idle.
    """

    name = "input"
    has_reference = True

    def __init__(self, stft: StftConfig, max_block: int = 8192) -> None:
        super().__init__(stft)
        self._analyzer = StftAnalyzer(stft, max_block=max_block)
        self._pushed = False

    def push(self, samples: np.ndarray) -> None:
        """Append mono input samples (float64, any length up to ``max_block``)."""
        self._analyzer.push(samples)
        self._pushed = True

    def frame(self, magnitude: np.ndarray, reference: np.ndarray) -> bool:
        if not self._pushed or not self._analyzer.pull_frame(reference):
            return False
        _scaled_magnitude(reference, self.gain, magnitude)
        return True

    def reset(self) -> None:
        self._analyzer.reset()
        self._pushed = False


@dataclass(frozen=True)
class LoadedFile:
    """A sound file ready for the file player: mono samples at the engine's rate.

    Attributes
    ----------
    path : str
    samples : ndarray, shape (pad + n + n_fft,), float64
        ``pad = n_fft - hop`` zeros, the mono mix, then ``n_fft`` zeros: the framing of
        :func:`caminos.engine.dsp.spectral.stft`, so frame ``m`` starts at ``samples[m * hop]``.
    n_samples : int
        Length of the sound in samples (without the padding).
    """

    path: str
    samples: np.ndarray
    n_samples: int


def load_player_file(path: str | os.PathLike, config: Config) -> LoadedFile:
    """Read a sound file for the file player (any format libsndfile reads, resampled).

    Runs in the thread that posts ``/source/file/open``, so the DSP thread only swaps a reference.
    A relative path missing from the working directory is looked for in the shipped files
    (:func:`caminos.engine.core.config.shipped_file`).

    Raises
    ------
    AudioFileError
        Missing, unreadable, empty or non-finite file (the message names it).
    """
    samples, _info = read_audio(shipped_file(path), config.audio.sample_rate)
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    pad = config.stft.n_fft - config.stft.hop
    padded = np.zeros(pad + len(mono) + config.stft.n_fft)
    padded[pad:pad + len(mono)] = mono
    return LoadedFile(str(path), padded, len(mono))


class FilePlayer(Source):
    """Plays a sound file's frames: play, stop, loop, speed (negative plays backwards), position.

    The position ``p`` (in samples of the file) is where the newest hop of the next frame
    starts: the frame covers ``[p - (n_fft - hop), p + hop)``, as frame ``p / hop`` of
    :func:`caminos.engine.dsp.spectral.stft` does, and ``p`` advances ``speed * hop`` per hop. Only
    the
    magnitudes leave the player and phase is recovered afterwards, so speed changes the tempo,
    not the pitch; at speed 1 the frames equal the offline analysis of the file exactly (so the
    ``input`` method reproduces it). Looping, frames that cross the loop point read across it.
    """

    name = "file"
    has_reference = True

    def __init__(self, stft: StftConfig) -> None:
        super().__init__(stft)
        self._window = analysis_window(stft)
        self._scratch = np.zeros(stft.n_fft)
        self._wrap = np.zeros(stft.n_fft)
        self._pad = stft.n_fft - stft.hop
        self.file: LoadedFile | None = None
        self.position = 0.0  # samples of the file
        self.speed = 1.0
        self.loop = True
        self.playing = False

    def open(self, loaded: LoadedFile) -> None:
        """Swap in a loaded file, at its start, stopped."""
        self.file = loaded
        self.position = 0.0
        self.playing = False

    def seek(self, seconds: float, sample_rate: int) -> None:
        """Move to ``seconds`` from the start (clamped to the file)."""
        if self.file is not None:
            self.position = min(max(seconds * sample_rate, 0.0), float(self.file.n_samples))


    def controls(self, config: Config, sample_rate: int) -> ControlTable:
        """The ``/source/file/*`` controls of the player, as data."""
        table = ControlTable()
        add = table.add
        add("/source/file/open", (Arg("path", "s"),),
            "open a sound file in the file player (read before it reaches the hop clock); stopped",
            self.open, self._path, "source",
            prepare=functools.partial(load_player_file, config=config))
        add("/source/file/play", (Arg("on", "i", 0, 1),), "1 plays the file, 0 stops it",
            self._set_playing, self._playing, "source")
        add("/source/file/loop", (Arg("on", "i", 0, 1),), "1 loops the file",
            self._set_loop, self._loop, "source")
        add("/source/file/speed", (Arg("speed", "f", -8.0, 8.0, "x"),),
            "playback speed, pitch kept (negative plays backwards)",
            self._set_speed, self._speed, "source")
        add("/source/file/pos", (Arg("seconds", "f", 0.0, None, "s"),),
            "jump to a time in the file, in seconds",
            functools.partial(self.seek, sample_rate=sample_rate),
            functools.partial(self._seconds, sample_rate), "source")
        return table

    def _path(self) -> tuple[str]:
        return (self.file.path if self.file else "",)

    def _set_playing(self, on: int) -> None:
        self.playing = bool(on) and self.file is not None

    def _playing(self) -> tuple[int]:
        return (int(self.playing),)

    def _set_loop(self, on: int) -> None:
        self.loop = bool(on)

    def _loop(self) -> tuple[int]:
        return (int(self.loop),)

    def _set_speed(self, speed: float) -> None:
        self.speed = speed

    def _speed(self) -> tuple[float]:
        return (self.speed,)

    def _seconds(self, sample_rate: int) -> tuple[float]:
        return (self.position / sample_rate,)
    def frame(self, magnitude: np.ndarray, reference: np.ndarray) -> bool:
        loaded = self.file
        if loaded is None or not self.playing or loaded.n_samples == 0:
            return False
        n, pad, hop = loaded.n_samples, self._pad, self.stft.hop
        start = int(math.floor(self.position))
        if not self.loop and not -hop < start < n + pad:
            self.playing = False
            self.position = 0.0 if self.speed >= 0 else float(n)
            return False
        if self.loop and (start < pad or start + hop > n):
            _copy_wrapped(loaded.samples[pad:pad + n], n, (start - pad) % n, self._wrap)
            _analyze_frame(self._wrap, 0, self._window, self._scratch, reference, _AXES)
        elif start < 0:  # playing backwards past the start, not looping: one partial frame
            self._wrap[:] = 0.0
            self._wrap[-start:] = loaded.samples[:self.stft.n_fft + start]
            _analyze_frame(self._wrap, 0, self._window, self._scratch, reference, _AXES)
        else:
            _analyze_frame(loaded.samples, start, self._window, self._scratch, reference, _AXES)
        _scaled_magnitude(reference, self.gain, magnitude)
        self.position += self.speed * hop
        if self.loop:
            self.position %= n
        return True

    def reset(self) -> None:
        self.position = 0.0
        self.playing = False


class VoiceSource(Source):
    """The voice model's frames (:class:`caminos.models.voice.stream.VoiceStream` or any object with
    ``next_frame(out) -> bool``); it has no analysis phase of its own.

    Parameters
    ----------
    stft : StftConfig
    stream : object, optional
        The voice stream; attached later by the engine.
    wait : bool
        Offline: before each frame, wait for the stream's worker (``wait_ready()``) rather than
        play silence until it catches up, so a render does not depend on the machine's speed.
    """

    name = "voice"

    def __init__(self, stft: StftConfig, stream: object | None = None, wait: bool = False) -> None:
        super().__init__(stft)
        self.wait = wait
        self.stream: object | None = None
        self._wait_ready = None
        self.attach(stream)

    def attach(self, stream: object | None) -> None:
        """Play ``stream``; what it offers is looked up here once, not every hop."""
        self.stream = stream
        self._wait_ready = getattr(stream, "wait_ready", None) if self.wait else None

    def frame(self, magnitude: np.ndarray, reference: np.ndarray) -> bool:
        stream = self.stream
        if stream is None:
            return False
        if self._wait_ready is not None:
            self._wait_ready()
        if not stream.next_frame(magnitude):  # type: ignore[attr-defined]
            return False
        if self.gain != 1.0:
            magnitude *= self.gain
        return True

    def reset(self) -> None:
        if self.stream is not None and hasattr(self.stream, "reset"):
            self.stream.reset()


@njit(cache=True, nogil=True)
def _scaled_magnitude(frame: np.ndarray, gain: float, out: np.ndarray) -> None:
    """``out = |frame| * gain``, and ``frame *= gain``, in one pass."""
    for k in range(frame.shape[0]):
        frame[k] *= gain
        out[k] = abs(frame[k])


@njit(cache=True, nogil=True)
def _copy_wrapped(samples: np.ndarray, n: int, start: int, out: np.ndarray) -> None:
    """``out[i] = samples[(start + i) % n]``: a frame that runs over a loop's end."""
    for i in range(out.shape[0]):
        out[i] = samples[(start + i) % n]

