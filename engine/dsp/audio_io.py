"""Sound files in and out: decoding, checking and resampling on read; atomic writing.

First and last stage of an offline render (:mod:`caminos.engine.dsp.render`), and the file player's
loader:
everything downstream may assume finite float64 samples at the engine's sample rate, and a
render that fails half-way never leaves a partial or clobbered output file behind. Files are
read mono or stereo and written with any number of channels (one per speaker), in a container
:func:`check_output_format` checks before any work.
"""

from __future__ import annotations

import numbers
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from caminos.engine.core.errors import AudioFileError
from caminos.engine.dsp.wav_header import check_channel_mask, write_channel_mask

MAX_CHANNELS = 2  # caminos reads mono and stereo; see read_audio for why not more
_CHANNEL_LIMITS = {"FLAC": 8, "MP3": 2}  # most channels libsndfile writes in these containers
_EXTENSION_ALIASES = {"AIF": "AIFF", "OGA": "OGG"}  # extensions libsndfile names otherwise


@dataclass(frozen=True)
class AudioInfo:
    """What a sound file held before it was resampled.

    Attributes
    ----------
    path : str
        The file as given.
    format : str
        libsndfile's container name (``WAV``, ``FLAC``, ``OGG``, ``MP3``...).
    subtype : str
        libsndfile's sample format (``PCM_16``, ``FLOAT``, ``VORBIS``...).
    file_sample_rate : int
        The file's own sample rate in Hz.
    sample_rate : int
        The sample rate of the returned samples in Hz.
    channels : int
        1 or 2.
    file_frames : int
        Samples per channel in the file.
    """

    path: str
    format: str
    subtype: str
    file_sample_rate: int
    sample_rate: int
    channels: int
    file_frames: int

    @property
    def seconds(self) -> float:
        """Duration of the file in seconds."""
        return self.file_frames / self.file_sample_rate

    @property
    def resampled(self) -> bool:
        """True when the samples were converted to another sample rate on reading."""
        return self.file_sample_rate != self.sample_rate


def read_audio(path: str | os.PathLike, sample_rate: int) -> tuple[np.ndarray, AudioInfo]:
    """Read a sound file into float64 samples at ``sample_rate``.

    Reads every format libsndfile reads (WAV, FLAC, OGG/Vorbis, AIFF, MP3 and more), mono or
    stereo. A file at another rate is resampled with soxr's very-high-quality filter (linear
    phase, passband flat to 0.01 dB up to 91 % of the lower Nyquist frequency).

    Files with more than two channels are refused rather than folded down: a downmix would
    silently collapse a spatial layout, which a sound artist should choose to do themselves
    (``sox in.wav -c 2 out.wav remix 1,3,5 2,4,6`` or similar).

    Parameters
    ----------
    path : path
        The sound file.
    sample_rate : int > 0
        Sample rate of the returned samples, in Hz.

    Returns
    -------
    samples : ndarray, shape (n_samples, channels), float64
        Finite samples, nominally in [-1, 1].
    info : AudioInfo
        What the file held.

    Raises
    ------
    AudioFileError
        The file is missing, not a sound file, unreadable, has no samples, more than two
        channels, or NaN/Inf samples. The message names the path.
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise AudioFileError(f"{name}: file not found")
    if os.path.isdir(name):
        raise AudioFileError(f"{name}: is a folder, not a sound file")
    try:
        with sf.SoundFile(name) as handle:
            if handle.channels > MAX_CHANNELS:
                raise AudioFileError(
                    f"{name}: has {handle.channels} channels; caminos reads mono or stereo files "
                    "(mix it down to 1 or 2 channels first)"
                )
            samples = handle.read(dtype="float64", always_2d=True)
            info = AudioInfo(
                path=name,
                format=handle.format,
                subtype=handle.subtype,
                file_sample_rate=int(handle.samplerate),
                sample_rate=int(sample_rate),
                channels=int(handle.channels),
                file_frames=len(samples),
            )
    except AudioFileError:
        raise
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise AudioFileError(f"{name}: not a sound file caminos can read ({exc})") from None
    if len(samples) == 0:
        raise AudioFileError(f"{name}: holds no samples")
    bad = ~np.isfinite(samples)
    if bad.any():
        first = int(np.argmax(bad.any(axis=1)))
        raise AudioFileError(
            f"{name}: holds {int(bad.sum())} NaN or infinite samples (the first "
            f"at {first / info.file_sample_rate:.3f} s)"
        )
    if info.resampled:
        samples = soxr.resample(samples, info.file_sample_rate, sample_rate, quality="VHQ")
        samples = np.ascontiguousarray(samples, dtype=np.float64).reshape(-1, info.channels)
    return samples, info


def _output_format(path: Path, subtype: str) -> str:
    """libsndfile's container for ``path``'s extension, checked against ``subtype``."""
    extension = path.suffix.lstrip(".").upper()
    extension = _EXTENSION_ALIASES.get(extension, extension)
    formats = sf.available_formats()
    if extension not in formats:
        raise AudioFileError(
            f"{path}: unknown sound file extension {path.suffix!r}; use .wav, "
            ".flac, .w64, .caf, .aiff or another that libsndfile writes"
        )
    if not sf.check_format(extension, subtype):
        raise AudioFileError(
            f"{path}: {extension} files cannot hold {subtype} samples; choose "
            "another extension (.wav, .flac) or render.subtype"
        )
    return extension


def check_output_format(
    path: str | os.PathLike, channels: int, subtype: str, channel_mask: int | None = None
) -> str:
    """Check that ``path`` can be written with ``channels`` channels of ``subtype``; returns
    libsndfile's container name for it.

    Cheap and writes nothing, so a render or recording calls it before any work. The extension
    chooses the container: ``.wav`` is plain WAVE for one or two channels without a mask and
    WAVE_FORMAT_EXTENSIBLE (``WAVEX``) otherwise, with ``channel_mask`` as its speaker mask (0,
    no speaker positions, when none is given); ``.flac`` holds at most 8 channels and ``.mp3``
    2; ``.w64`` (Sony Wave64) and ``.caf`` (Apple Core Audio Format) hold any number. WAVE
    files end at 4 GiB (past it libsndfile's header sizes saturate and readers stop there: at
    48 kHz, 24-bit, about 4 hours of stereo or 8 minutes of 64 channels); longer recordings
    belong in ``.w64``, ``.rf64`` or ``.caf``.

    Parameters
    ----------
    path : path
        The file to be written.
    channels : int >= 1
        Channels to write.
    subtype : str
        libsndfile sample format: ``PCM_16``, ``PCM_24``, ``FLOAT`` and the like.
    channel_mask : int, optional
        Speaker mask of a ``.wav`` file (``dwChannelMask``: 0x3 stereo, 0x33 quad, 0 no
        positions); see :mod:`caminos.engine.dsp.wav_header`.

    Returns
    -------
    str
        The container for :class:`soundfile.SoundFile`'s ``format`` (``WAV``, ``WAVEX``,
        ``FLAC``, ``W64``, ``CAF``...).

    Raises
    ------
    AudioFileError
        ``path`` is a folder or in a missing folder, its extension is unknown or cannot hold
        ``subtype`` or that many channels, or the mask is wrong or given for another container
        than WAVE. The message names the path.
    """
    target = Path(path)
    if isinstance(channels, bool) or not isinstance(channels, numbers.Integral) or channels < 1:
        raise AudioFileError(f"{target}: cannot write {channels!r} channels; give 1 or more")
    if target.is_dir():
        raise AudioFileError(f"{target}: is a folder; give a file name to write")
    folder = target.parent
    if not folder.is_dir():
        raise AudioFileError(f"{target}: folder {folder} does not exist")
    container = _output_format(target, subtype)
    if container == "WAV" and (channels > 2 or channel_mask is not None):
        container = "WAVEX"
    if channel_mask is not None:
        if container != "WAVEX":
            raise AudioFileError(
                f"{target}: a channel mask is written only in .wav files, not in "
                f"{container} files; leave it out or write .wav"
            )
        check_channel_mask(channel_mask, channels, str(target))
    limit = _CHANNEL_LIMITS.get(container)
    if limit is not None and channels > limit:
        raise AudioFileError(
            f"{target}: {container} files hold at most {limit} channels, not "
            f"{channels}; write .w64 or .caf instead (or .wav, up to 4 GiB)"
        )
    return container


class AudioWriter:
    """A sound file written block by block, in the container :func:`check_output_format`
    chooses; a WAVE_FORMAT_EXTENSIBLE file gets its speaker mask when closed.

    Shared by :func:`write_audio_atomic` and live recording
    (:class:`caminos.engine.control.score.ScoreRecorder`), so that both write the same bytes
    for the same samples.

    Parameters
    ----------
    path : path
        The file written (created or truncated).
    sample_rate : int > 0
        Sample rate in Hz.
    channels : int >= 1
        Channels of every block written.
    subtype : str
        libsndfile sample format: ``PCM_16``, ``PCM_24``, ``FLOAT`` and the like.
    channel_mask : int, optional
        Speaker mask of a ``.wav`` file; default 0 (no positions) beyond two channels.
    name : path, optional
        The file whose extension chooses the format and that errors name; default ``path``
        (another one when ``path`` is a temporary file).

    Raises
    ------
    AudioFileError
        As :func:`check_output_format`, or the file cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        sample_rate: int,
        channels: int,
        subtype: str,
        channel_mask: int | None = None,
        name: str | os.PathLike | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = Path(name) if name is not None else self.path
        container = check_output_format(self.name, channels, subtype, channel_mask)
        self._mask = None  # libsndfile's own for one or two channels: unchanged files
        if container == "WAVEX" and (channel_mask is not None or channels > 2):
            self._mask = channel_mask or 0
        try:
            self._file = sf.SoundFile(
                self.path, "w", int(sample_rate), channels, subtype=subtype, format=container
            )
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
            raise AudioFileError(f"{self.name}: cannot write ({exc})") from None

    def write(self, samples: np.ndarray) -> None:
        """Append samples of shape (n_samples, channels), or (n_samples,) for one channel."""
        self._file.write(samples)

    def close(self) -> None:
        """Finish the file: its header, then the speaker mask of a WAVE_FORMAT_EXTENSIBLE one.
        A second call does nothing."""
        if self._file.closed:
            return
        self._file.close()
        if self._mask is not None:
            write_channel_mask(self.path, self._mask)

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def write_audio_atomic(
    path: str | os.PathLike,
    samples: np.ndarray,
    sample_rate: int,
    subtype: str = "PCM_24",
    channel_mask: int | None = None,
) -> None:
    """Write a sound file so that it appears whole or not at all.

    The samples go to a hidden temporary file in the same folder, which is renamed over
    ``path`` only once it is complete (a rename within one file system is atomic). On any
    failure the temporary file is removed and an existing file at ``path`` is left untouched.
    Formats follow :func:`check_output_format`: mono and stereo without a mask exactly as
    before, more channels as WAVE_FORMAT_EXTENSIBLE in ``.wav`` (up to 4 GiB), at most 8 in
    ``.flac``, any number in ``.w64`` and ``.caf``.

    Parameters
    ----------
    path : path
        The output file; its extension chooses the container (``.wav``, ``.flac``, ``.w64``,
        ``.caf``, ``.aiff``...).
    samples : ndarray, shape (n_samples,) or (n_samples, channels), float
        Finite samples; integer subtypes clip them to [-1, 1).
    sample_rate : int > 0
        Sample rate in Hz.
    subtype : str
        libsndfile sample format: ``PCM_16``, ``PCM_24``, ``FLOAT`` and the like.
    channel_mask : int, optional
        Speaker mask of a ``.wav`` file (``dwChannelMask``: 0x3 stereo, 0x33 quad); given, the
        file is WAVE_FORMAT_EXTENSIBLE whatever its channels. Default: none for one or two
        channels, 0 (no speaker positions) beyond.

    Raises
    ------
    AudioFileError
        The folder is missing or not writable, the extension, subtype, channel count or mask
        is unusable, the samples are not finite, or writing failed. The message names the path.
    """
    target = Path(path)
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim not in (1, 2) or samples.size == 0:
        raise AudioFileError(f"{target}: nothing to write (samples of shape {samples.shape})")
    if not np.isfinite(samples).all():
        raise AudioFileError(f"{target}: refusing to write NaN or infinite samples")
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    check_output_format(target, channels, subtype, channel_mask)
    folder = target.parent
    # A fresh name opened with O_EXCL, so two renders never share a temporary file, and mode
    # 0o666 under the user's umask, so the result gets the permissions of any new file.
    temporary = None
    for _ in range(16):
        candidate = folder / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        except OSError as exc:
            raise AudioFileError(f"{target}: cannot write in {folder} ({exc.strerror})") from None
        temporary = candidate
        break
    if temporary is None:  # pragma: no cover - 16 collisions of 32 random bits
        raise AudioFileError(f"{target}: could not create a temporary file in {folder}")
    try:
        with AudioWriter(
            temporary, sample_rate, channels, subtype, channel_mask, name=target
        ) as writer:
            writer.write(samples)
        os.replace(temporary, target)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if isinstance(exc, (sf.LibsndfileError, RuntimeError, OSError, ValueError)):
            raise AudioFileError(f"{target}: writing failed ({exc})") from None
        raise
