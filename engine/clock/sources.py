"""Sources: where the engine's magnitude frames come from, one frame per source channel per hop.

First stage of ``Engine.tick()`` (docs/architecture.md): the live input, the file player and the
voice each write one magnitude frame per channel per hop (and their own analysis frames, for the
``input`` phase method, where they have them). Sources keep their channels: a stereo file or a
multichannel input gives one frame per channel, up to :attr:`Source.rows` (the engine's voices;
channels beyond are folded onto them, channel ``c`` onto row ``c mod rows``), and voice ``k`` of
the engine follows channel ``k mod C`` of a source with ``C`` channels sounding. Buffers are
allocated when a source is built or a file is loaded; :meth:`Source.frame` allocates nothing.
Loading a file happens in the thread that posts the control (:func:`load_player_file`), never on the
DSP thread.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import numpy as np

from caminos.engine.core.config import Config, StftConfig, shipped_file
from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.core.errors import ParameterError
from caminos.engine.core.parameters import Parameter
from caminos.engine.dsp.audio_io import read_audio
from caminos.engine.dsp.compiled import hop_kernel, scale_in_place
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
        Whether :meth:`frames` writes the source's own analysis frames (usable by ``input``
        phase).
    rows : int
        Most channels it gives per hop (the rows of :meth:`frames`' buffers).
    """

    name = ""
    has_reference = False

    def __init__(self, stft: StftConfig, rows: int = 1) -> None:
        self.stft = stft
        self.gain = 1.0
        self.rows = int(rows)
        self._given: np.ndarray | None = None  # the magnitudes last given to frames()
        self._given_rows: tuple = ()  # and each channel's (magnitude, reference) rows

    def _rows_of(self, magnitudes: np.ndarray, references: np.ndarray) -> tuple:
        """Each channel's ``(magnitude, reference)`` rows of :meth:`frames`' buffers, as views
        made once for the arrays given (the sources' unit gives the same ones every hop: a
        view made a hop is an object)."""
        if magnitudes is not self._given:
            self._given, self._given_rows = magnitudes, tuple(zip(magnitudes, references))
        return self._given_rows

    def frames(self, magnitudes: np.ndarray, references: np.ndarray) -> int:
        """Write this hop's magnitude frame of each channel (and analysis frames where there
        are).

        Parameters
        ----------
        magnitudes : ndarray, shape (rows, n_bins), float64
            Row ``c`` receives channel ``c``'s linear magnitudes times :attr:`gain`.
        references : ndarray, shape (rows, n_bins), complex128
            Receive the analysis frames (times gain) when :attr:`has_reference`; untouched else.

        Returns
        -------
        int
            How many channels sound this hop (rows ``0 .. n - 1`` written); 0 when the source is
            idle (frames left as they were).
        """
        raise NotImplementedError

    def reset(self) -> None:
        """Forget all state, as if newly built."""


class InputSource(Source):
    """The live input: samples pushed by the audio layer, analysed with the engine's STFT.

    The audio layer pushes one hop of input samples before each tick, one column per input
    channel; channels beyond :attr:`rows` are mixed onto row ``c mod rows`` (mean). Offline and
    without an input device nothing is pushed and the source stays idle.

    Parameters
    ----------
    stft : StftConfig
    max_block : int
        Most samples pushed at once.
    rows : int
        Channels analysed (one analyser each).
    """

    name = "input"
    has_reference = True

    def __init__(self, stft: StftConfig, max_block: int = 8192, rows: int = 1) -> None:
        super().__init__(stft, rows)
        self._analyzers = [StftAnalyzer(stft, max_block=max_block) for _ in range(self.rows)]
        self._channels = 0  # channels pushed (at most rows)
        self._max_block = int(max_block)
        self._fold = np.zeros((self.rows, max_block))  # each row's samples this block
        self._fold_rows = tuple(self._fold)

    def push(self, samples: np.ndarray) -> None:
        """Append input samples: (n,) mono or (n, channels), float64, n up to ``max_block``.

        Channel ``c`` goes to row ``c`` where there are rows enough; else the channels ``row,
        row + rows, ...`` are mixed (mean) onto each row. Folded in one compiled call into
        rows made once, so a hop makes nothing."""
        if samples.ndim == 1:
            self._analyzers[0].push(samples)
            self._channels = 1
            return
        n = len(samples)
        if n > self._max_block:  # (the fold's kernel writes without bounds checks)
            raise ParameterError(f"block of {n} samples exceeds max_block={self._max_block}")
        used, row = _fold_channels(samples, self._fold), 0
        while row < used:  # (no iterator: nothing allocated)
            self._analyzers[row].push(self._fold_rows[row], n)
            row += 1
        self._channels = used

    def frames(self, magnitudes: np.ndarray, references: np.ndarray) -> int:
        channels, row, rows = self._channels, 0, self._rows_of(magnitudes, references)
        while row < channels:  # (no iterator: nothing allocated)
            magnitude, reference = rows[row]
            if not self._analyzers[row].pull_frame(reference):
                return 0
            _scaled_magnitude(reference, self.gain, magnitude)
            row += 1
        return channels

    def reset(self) -> None:
        for analyzer in self._analyzers:
            analyzer.reset()
        self._channels = 0


@dataclass(frozen=True)
class LoadedFile:
    """A sound file ready for the file player: its channels at the engine's rate.

    Attributes
    ----------
    path : str
    samples : ndarray, shape (channels, pad + n + n_fft), float64
        Per channel, ``pad = n_fft - hop`` zeros, the sound, then ``n_fft`` zeros: the framing of
        :func:`caminos.engine.dsp.spectral.stft`, so frame ``m`` starts at ``samples[:, m * hop]``.
    n_samples : int
        Length of the sound in samples (without the padding).
    """

    path: str
    samples: np.ndarray
    n_samples: int


def load_player_file(path: str | os.PathLike, config: Config, channels: int = 1) -> LoadedFile:
    """Read a sound file for the file player (any format libsndfile reads, resampled).

    Runs in the thread that posts ``/source/file/open``, so the DSP thread only swaps a reference.
    A relative path missing from the working directory is looked for in the shipped files
    (:func:`caminos.engine.core.config.shipped_file`).

    Parameters
    ----------
    path : path
    config : Config
        The sample rate and framing.
    channels : int
        Most channels kept (the engine's voices): a file with more has channel ``c`` mixed
        onto channel ``c mod channels`` (mean); 1 is the mono mix of every channel.

    Raises
    ------
    AudioFileError
        Missing, unreadable, empty or non-finite file (the message names it).
    """
    samples, _info = read_audio(shipped_file(path), config.audio.sample_rate)
    if samples.ndim == 1:
        samples = samples[:, None]
    keep = max(1, min(int(channels), samples.shape[1]))
    if keep == 1:
        folded = [samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]]
    else:
        folded = [samples[:, row::keep].mean(axis=1) for row in range(keep)]
    n = samples.shape[0]
    pad = config.stft.n_fft - config.stft.hop
    padded = np.zeros((keep, pad + n + config.stft.n_fft))
    for row, signal in enumerate(folded):
        padded[row, pad : pad + n] = signal
    return LoadedFile(str(path), padded, n)


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

    def __init__(self, stft: StftConfig, rows: int = 1) -> None:
        super().__init__(stft, rows)
        self._window = analysis_window(stft)
        self._scratch = np.zeros(stft.n_fft)
        self._wrap = np.zeros(stft.n_fft)
        self._pad = stft.n_fft - stft.hop
        self.file: LoadedFile | None = None
        self.position = 0.0  # samples of the file
        self.speed = Parameter(
            "/source/file/speed",
            Arg("speed", "f", -8.0, 8.0, "x"),
            "playback speed, pitch kept (negative plays backwards)",
            "source",
            1.0,
            smoothed=False,
        )
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
        """The ``/source/file/*`` controls of the player, as data (a file keeps up to
        :attr:`rows` channels)."""
        table = ControlTable()
        add = table.add
        add(
            "/source/file/open",
            (Arg("path", "s"),),
            "open a sound file in the file player (read before it reaches the hop clock); stopped",
            self.open,
            self._path,
            "source",
            prepare=functools.partial(load_player_file, config=config, channels=self.rows),
        )
        add(
            "/source/file/play",
            (Arg("on", "i", 0, 1),),
            "1 plays the file, 0 stops it",
            self._set_playing,
            self._playing,
            "source",
        )
        add(
            "/source/file/loop",
            (Arg("on", "i", 0, 1),),
            "1 loops the file",
            self._set_loop,
            self._loop,
            "source",
        )
        table.append(self.speed.control())
        add(
            "/source/file/pos",
            (Arg("seconds", "f", 0.0, None, "s"),),
            "jump to a time in the file, in seconds",
            functools.partial(self.seek, sample_rate=sample_rate),
            functools.partial(self._seconds, sample_rate),
            "source",
        )
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

    def _seconds(self, sample_rate: int) -> tuple[float]:
        return (self.position / sample_rate,)

    def frames(self, magnitudes: np.ndarray, references: np.ndarray) -> int:
        loaded = self.file
        if loaded is None or not self.playing or loaded.n_samples == 0:
            return 0
        n, hop = loaded.n_samples, self.stft.hop
        # (the sample position and the other large integers stay inside the kernel: a Python
        # int over 256 is an object made each hop)
        channels = _file_frames(
            loaded.samples,
            n,
            self._pad,
            hop,
            self.position,
            self.loop,
            self._wrap,
            self._window,
            self._scratch,
            references,
            magnitudes,
            self.gain,
            self.rows,
            _AXES,
        )
        if channels < 0:  # a file not looping has played out
            self.playing = False
            self.position = 0.0 if self.speed.value >= 0 else float(n)
            return 0
        self.position += self.speed.value * hop
        if self.loop:
            self.position %= n
        return channels

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

    def frames(self, magnitudes: np.ndarray, references: np.ndarray) -> int:
        stream = self.stream
        if stream is None:
            return 0
        if self._wait_ready is not None:
            self._wait_ready()
        magnitude = self._rows_of(magnitudes, references)[0][0]
        if not stream.next_frame(magnitude):  # type: ignore[attr-defined]
            return 0
        if self.gain != 1.0:
            scale_in_place(magnitude, self.gain)
        return 1

    def reset(self) -> None:
        if self.stream is not None and hasattr(self.stream, "reset"):
            self.stream.reset()


@hop_kernel
def _fold_channels(samples: np.ndarray, out: np.ndarray) -> int:
    """Each row of ``out`` (rows, at least n) from the (n, channels) ``samples``: channel
    ``row`` where there are rows enough, else the mean of channels ``row, row + rows, ...``
    (summed in order, as numpy's mean of a few); returns the rows written."""
    n, channels, rows = samples.shape[0], samples.shape[1], out.shape[0]
    used = min(channels, rows)
    for row in range(used):
        count = (channels - row + rows - 1) // rows  # channels row, row + rows, ...
        for i in range(n):
            if count == 1:
                out[row, i] = samples[i, row]
            else:
                total = 0.0
                for c in range(row, channels, rows):
                    total += samples[i, c]
                out[row, i] = total / count
    return used


@hop_kernel
def _scaled_magnitude(frame: np.ndarray, gain: float, out: np.ndarray) -> None:
    """``out = |frame| * gain``, and ``frame *= gain``, in one pass."""
    for k in range(frame.shape[0]):
        frame[k] *= gain
        out[k] = abs(frame[k])


@hop_kernel
def _file_frames(
    samples: np.ndarray,
    n: int,
    pad: int,
    hop: int,
    position: float,
    loop: bool,
    wrap: np.ndarray,
    window: np.ndarray,
    scratch: np.ndarray,
    references: np.ndarray,
    magnitudes: np.ndarray,
    gain: float,
    rows: int,
    axes: np.ndarray,
) -> int:
    """The file's frame at sample ``floor(position)`` of each of its channels (at most ``rows``):
    analysed into ``references`` (scaled by ``gain``), their magnitudes into ``magnitudes``;
    returns the channels analysed, or -1 (nothing done) when a file not looping has played out.

    ``samples`` (channels, pad + n + pad) holds the ``n`` samples of each channel between
    ``pad`` zeros. A looping file's frame that runs over its ends wraps around (through
    ``wrap``); a frame before the start of a file played backwards, not looping, is partly
    zeros."""
    start = int(math.floor(position))
    if not loop and not -hop < start < n + pad:
        return -1
    channels = min(samples.shape[0], rows)
    n_fft = window.shape[0]
    for row in range(channels):
        source = samples[row]
        reference = references[row]
        if loop and (start < pad or start + hop > n):
            _copy_wrapped(source[pad : pad + n], n, (start - pad) % n, wrap)
            _analyze_frame(wrap, 0, window, scratch, reference, axes)
        elif start < 0:  # playing backwards past the start, not looping: one partial frame
            for i in range(n_fft):
                wrap[i] = source[i + start] if i >= -start else 0.0
            _analyze_frame(wrap, 0, window, scratch, reference, axes)
        else:
            _analyze_frame(source, start, window, scratch, reference, axes)
        _scaled_magnitude(reference, gain, magnitudes[row])
    return channels


@hop_kernel
def _copy_wrapped(samples: np.ndarray, n: int, start: int, out: np.ndarray) -> None:
    """``out[i] = samples[(start + i) % n]``: a frame that runs over a loop's end."""
    for i in range(out.shape[0]):
        out[i] = samples[(start + i) % n]
