"""Offline rendering: a sound file through STFT, phase recovery and the safety stages to a file.

The ``caminos render`` command (:mod:`caminos.engine.cli.main`) in library form: read and resample
(:mod:`caminos.engine.dsp.audio_io`), take magnitudes, optionally stretch or freeze them, recover a
phase
(:mod:`caminos.engine.dsp.phase`), overlap-add, DC-block and limit (the output chain,
:mod:`caminos.engine.dsp.output`), write atomically. Each channel is processed on its own, so
inter-channel phase is kept only by the
``input`` method: that is the known limitation of stereo renders with the other methods.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from caminos.engine.core.config import Config, progress_disable
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.audio_io import check_output_format, read_audio, write_audio_atomic
from caminos.engine.dsp.output import OutputChain
from caminos.engine.dsp.phase import (
    OFFLINE_METHODS,
    STREAMING_METHODS,
    make_streaming,
    reconstruct,
    run_streaming,
)
from caminos.engine.dsp.spectral import istft, latency_samples, n_frames_for, stft

MAX_STRETCH = 100.0  # longest stretch factor accepted; 1 minute becomes 100
MIN_STRETCH = 0.01  # shortest


@dataclass(frozen=True)
class RenderReport:
    """What a render did and how fast.

    Attributes
    ----------
    in_path, out_path : str
        The files read and written.
    method : str
        The phase-recovery method.
    sample_rate : int
        Sample rate of the output in Hz.
    channels : int
        1 or 2.
    seconds_in, seconds_out : float
        Durations of input and output in seconds.
    wall_seconds : float
        Time the render took, reading and writing included, in seconds.
    peak_dbfs : float
        Highest absolute output sample in dBFS (``-inf`` for silence).
    limiter_reduction_db : float
        Largest gain reduction of the safety limiter in dB (0 if it never acted).
    limiter_seconds : float
        Time during which the limiter reduced the gain, in seconds.
    latency_samples : int or None
        Latency this chain would have live (analysis, look-ahead, synthesis, limiter), in
        samples; ``None`` for the offline methods, which need the whole file. The rendered file
        itself is aligned with the input: the latency is compensated.
    nonfinite_samples : int
        NaN or infinite samples the limiter replaced by silence (0 unless something is wrong).
    """

    in_path: str
    out_path: str
    method: str
    sample_rate: int
    channels: int
    seconds_in: float
    seconds_out: float
    wall_seconds: float
    peak_dbfs: float
    limiter_reduction_db: float
    limiter_seconds: float
    latency_samples: int | None
    nonfinite_samples: int

    @property
    def realtime_factor(self) -> float:
        """Seconds of output rendered per second of wall time."""
        return self.seconds_out / self.wall_seconds if self.wall_seconds > 0 else math.inf

    @property
    def latency_ms(self) -> float | None:
        """:attr:`latency_samples` in milliseconds."""
        if self.latency_samples is None:
            return None
        return 1000.0 * self.latency_samples / self.sample_rate

    def summary(self) -> str:
        """A few human-readable lines, as ``caminos render`` prints them."""
        layout = "mono" if self.channels == 1 else "stereo"
        latency = (
            "whole file (offline method)"
            if self.latency_samples is None
            else f"{self.latency_samples} samples = {self.latency_ms:.1f} ms"
        )
        lines = [
            f"rendered: {self.out_path} ({self.seconds_out:.2f} s, {layout}, {self.sample_rate} Hz)"
            f" from {self.in_path} ({self.seconds_in:.2f} s)",
            f"phase method: {self.method}",
            f"wall time: {self.wall_seconds:.2f} s, real-time factor: {self.realtime_factor:.1f}x",
            f"peak: {self.peak_dbfs:.2f} dBFS, limiter gain reduction: "
            f"{self.limiter_reduction_db:.2f} dB max over {self.limiter_seconds:.3f} s",
            f"latency if played live: {latency}",
        ]
        if self.nonfinite_samples:
            lines.append(
                f"warning: {self.nonfinite_samples} NaN/Inf samples from phase recovery "
                "were replaced by silence"
            )
        return "\n".join(lines)


def stretch_magnitudes(magnitudes: np.ndarray, stretch: float, n_frames_out: int) -> np.ndarray:
    """Time-stretch a magnitude spectrogram by linear interpolation between frames.

    Output frame ``j`` is the input at fractional frame position ``j / stretch`` (the last
    frame repeats beyond the end).

    Parameters
    ----------
    magnitudes : ndarray, shape (n_frames, n_bins)
        Linear magnitudes.
    stretch : float > 0
        Duration factor: above 1 longer and slower, below 1 shorter.
    n_frames_out : int > 0
        Number of frames to produce.

    Returns
    -------
    ndarray, shape (n_frames_out, n_bins), float64
    """
    last = len(magnitudes) - 1
    position = np.minimum(np.arange(n_frames_out) / stretch, last)
    before = np.floor(position).astype(np.int64)
    after = np.minimum(before + 1, last)
    weight = (position - before)[:, None]
    return (1.0 - weight) * magnitudes[before] + weight * magnitudes[after]


def freeze_frame(freeze_at: float, n_frames: int, config: Config) -> int:
    """Index of the frame centred nearest to ``freeze_at`` seconds of the input.

    Frame ``m`` is centred on input sample ``m*hop - (n_fft - hop) + n_fft/2`` (see
    :mod:`caminos.engine.dsp.spectral`); the index is clipped to the frames that exist.
    """
    n_fft, hop = config.stft.n_fft, config.stft.hop
    centre_offset = n_fft // 2 - (n_fft - hop)
    index = round((freeze_at * config.audio.sample_rate - centre_offset) / hop)
    return int(min(max(index, 0), n_frames - 1))


def _check_request(method: str, stretch: float, freeze_at: float | None) -> None:
    """Refuse impossible combinations before any file is read."""
    if method not in STREAMING_METHODS + OFFLINE_METHODS:
        raise ParameterError(
            f"unknown phase method {method!r}; expected one of "
            f"{', '.join(STREAMING_METHODS + OFFLINE_METHODS)}"
        )
    if not (math.isfinite(stretch) and MIN_STRETCH <= stretch <= MAX_STRETCH):
        raise ParameterError(f"stretch must lie in [{MIN_STRETCH}, {MAX_STRETCH}], got {stretch}")
    if freeze_at is not None:
        if not (math.isfinite(freeze_at) and freeze_at >= 0.0):
            raise ParameterError(f"freeze_at must be a time in seconds >= 0, got {freeze_at}")
        if stretch != 1.0:
            raise ParameterError(
                "stretch and freeze_at cannot be combined; render one, then the other"
            )
    if method == "input" and (stretch != 1.0 or freeze_at is not None):
        raise ParameterError(
            "phase method 'input' cannot stretch or freeze: the source's own "
            "phase no longer matches the moved magnitudes; use pv or rtpghi"
        )


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def render(
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    config: Config,
    method: str | None = None,
    stretch: float = 1.0,
    freeze_at: float | None = None,
    progress: bool | None = None,
) -> RenderReport:
    """Render a sound file through magnitude-only phase recovery into a new sound file.

    Per channel: :func:`caminos.engine.dsp.spectral.stft`, magnitudes, optional time-stretch or
    freeze,
    :func:`caminos.engine.dsp.phase.reconstruct` (or its streaming methods frame by frame), then
    :func:`caminos.engine.dsp.spectral.istft`; then a 5 Hz DC blocker and the safety limiter at
    ``config.render.ceiling_db``, and an atomic write in ``config.render.subtype``. The output
    is aligned with the input (every latency compensated), and its samples as stored in the
    file never exceed the ceiling (the limiter keeps one step of the format below it).

    Parameters
    ----------
    in_path : path
        Any sound file libsndfile reads, mono or stereo; resampled to
        ``config.audio.sample_rate``.
    out_path : path
        The file to write; its extension chooses the format. Never left partial: on failure
        it is not created, and an existing file is left as it was.
    config : Config
        STFT, phase and render settings.
    method : str, optional
        Phase-recovery method (see :mod:`caminos.engine.dsp.phase`); defaults to
        ``config.phase.method``.
    stretch : float in [0.01, 100]
        Duration factor: 2.0 renders twice as long (magnitudes interpolated between frames).
    freeze_at : float, optional
        Time in seconds of the input from which on every frame repeats the frame at that
        time; the output keeps the input's length. Not combined with ``stretch``.
    progress : bool, optional
        Show a progress bar on stderr (True) or not (False); ``None`` shows one on a terminal
        when ``config.render.progress`` is set and the output is at least 5 seconds long.

    Returns
    -------
    RenderReport

    Raises
    ------
    AudioFileError
        The input is missing, unreadable, empty or not finite, or the output cannot be written
        (its folder, extension and sample format are checked before any work).
    ParameterError
        Unknown method, stretch out of range, freeze time past the end, ``input`` with a
        stretch or freeze, or an output path that is the input.
    """
    started = time.perf_counter()
    method = method or config.phase.method
    stretch = float(stretch)
    freeze_at = None if freeze_at is None else float(freeze_at)
    _check_request(method, stretch, freeze_at)
    if _same_file(in_path, out_path):
        raise ParameterError(
            f"{out_path}: the output would overwrite the input; choose another file name"
        )
    # Build the streaming method first: an unavailable one fails before any work is done.
    streaming = (
        None if method in OFFLINE_METHODS else make_streaming(method, config.stft, config.phase)
    )

    samples, info = read_audio(in_path, config.audio.sample_rate)
    check_output_format(out_path, info.channels, config.render.subtype)  # before the work
    rate = config.audio.sample_rate
    n_in = len(samples)
    if freeze_at is not None and freeze_at >= n_in / rate:
        raise ParameterError(
            f"freeze time {freeze_at} s lies past the end of {in_path} ({n_in / rate:.3f} s)"
        )
    n_out = max(1, round(n_in * stretch))
    n_frames_out = n_frames_for(n_out, config.stft)
    hide = progress_disable(config.render, n_out / rate, progress)
    steps = info.channels * (1 if streaming is None else n_frames_out)
    output = np.zeros((n_out, info.channels))

    def render_channel(channel: int, bar: tqdm) -> None:
        frames = stft(samples[:, channel], config.stft)
        magnitudes = np.abs(frames)
        reference = frames if method == "input" else None
        if stretch != 1.0:
            magnitudes = stretch_magnitudes(magnitudes, stretch, n_frames_out)
        elif freeze_at is not None:
            held = freeze_frame(freeze_at, len(magnitudes), config)
            magnitudes[held + 1 :] = magnitudes[held]
        del frames
        if streaming is None:
            recovered = reconstruct(magnitudes, method, config.stft, config.phase)
            bar.update(1)
        else:
            # One method instance per channel: each keeps its own history.
            phase = streaming if channel == 0 else make_streaming(method, config.stft, config.phase)
            phase.reset()
            recovered = run_streaming(phase, magnitudes, reference, bar.update)
        output[:, channel] = istft(recovered, config.stft, length=n_out)

    with tqdm(
        total=steps,
        desc=f"render {method}",
        unit="frame" if streaming else "channel",
        disable=hide,
        leave=False,
    ) as bar:
        # Channels are independent and the phase kernels release the GIL, so threads render
        # them in parallel: a stereo render takes about the time of a mono one on 2 cores.
        workers = min(info.channels, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for done in [pool.submit(render_channel, c, bar) for c in range(info.channels)]:
                done.result()

    chain = OutputChain(rate, info.channels, config)
    output = chain.process_offline(output)
    limiter = chain.limiter
    peak = float(np.max(np.abs(output)))
    write_audio_atomic(out_path, output, rate, config.render.subtype)

    live_latency = None
    if streaming is not None:
        live_latency = (
            latency_samples(config.stft, streaming.lookahead_frames) + limiter.latency_samples
        )
    return RenderReport(
        in_path=os.fspath(in_path),
        out_path=os.fspath(out_path),
        method=method,
        sample_rate=rate,
        channels=info.channels,
        seconds_in=n_in / rate,
        seconds_out=n_out / rate,
        wall_seconds=time.perf_counter() - started,
        peak_dbfs=20.0 * math.log10(peak) if peak > 0 else -math.inf,
        limiter_reduction_db=limiter.max_reduction_db,
        limiter_seconds=limiter.reduced_samples / rate,
        latency_samples=live_latency,
        nonfinite_samples=limiter.nonfinite_samples,
    )


def synthesize(
    magnitudes: np.ndarray,
    out: str | os.PathLike,
    config: Config,
    method: str,
    n_samples: int | None = None,
) -> float:
    """Magnitudes to a mono sound file: phase recovery, overlap-add, then the output chain
    (DC blocker and safety limiter), written atomically in ``render.subtype``.

    The last step of ``caminos reconstruct``, ``morph``, ``say`` and ``babble``.

    Parameters
    ----------
    magnitudes : ndarray, shape (n_frames, n_bins)
        Linear STFT magnitudes.
    out : path
        The file to write.
    config : Config
        STFT, phase and render settings.
    method : str
        Phase-recovery method (:mod:`caminos.engine.dsp.phase`).
    n_samples : int, optional
        Length of the output in samples (default: what the frames span).

    Returns
    -------
    float
        The output's peak in dBFS.
    """
    recovered = reconstruct(magnitudes, method, config.stft, config.phase)
    y = istft(recovered, config.stft, length=n_samples)[:, None]
    rate = config.audio.sample_rate
    y = OutputChain(rate, 1, config).process_offline(y)
    write_audio_atomic(out, y, rate, config.render.subtype)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf
