"""Sound files in and out: decoding, checking and resampling on read; atomic writing.

First and last stage of an offline render (:mod:`caminos.engine.dsp.render`), and the file player's
loader:
everything downstream may assume finite float64 samples at the engine's sample rate, and a
render that fails half-way never leaves a partial or clobbered output file behind.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from caminos.engine.core.errors import AudioFileError

MAX_CHANNELS = 2  # caminos plays mono and stereo; see read_audio for why not more
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
                    "(mix it down to 1 or 2 channels first)")
            samples = handle.read(dtype="float64", always_2d=True)
            info = AudioInfo(path=name, format=handle.format, subtype=handle.subtype,
                             file_sample_rate=int(handle.samplerate), sample_rate=int(sample_rate),
                             channels=int(handle.channels), file_frames=len(samples))
    except AudioFileError:
        raise
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise AudioFileError(f"{name}: not a sound file caminos can read ({exc})") from None
    if len(samples) == 0:
        raise AudioFileError(f"{name}: holds no samples")
    bad = ~np.isfinite(samples)
    if bad.any():
        first = int(np.argmax(bad.any(axis=1)))
        raise AudioFileError(f"{name}: holds {int(bad.sum())} NaN or infinite samples (the first "
                             f"at {first / info.file_sample_rate:.3f} s)")
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
        raise AudioFileError(f"{path}: unknown sound file extension {path.suffix!r}; use .wav, "
                             ".flac, .aiff or another that libsndfile writes")
    if not sf.check_format(extension, subtype):
        raise AudioFileError(f"{path}: {extension} files cannot hold {subtype} samples; choose "
                             "another extension (.wav, .flac) or render.subtype")
    return extension


def write_audio_atomic(path: str | os.PathLike, samples: np.ndarray, sample_rate: int,
                       subtype: str = "PCM_24") -> None:
    """Write a sound file so that it appears whole or not at all.

    The samples go to a hidden temporary file in the same folder, which is renamed over
    ``path`` only once it is complete (a rename within one file system is atomic). On any
    failure the temporary file is removed and an existing file at ``path`` is left untouched.

    Parameters
    ----------
    path : path
        The output file; its extension chooses the container (``.wav``, ``.flac``, ``.aiff``...).
    samples : ndarray, shape (n_samples,) or (n_samples, channels), float
        Finite samples; integer subtypes clip them to [-1, 1).
    sample_rate : int > 0
        Sample rate in Hz.
    subtype : str
        libsndfile sample format: ``PCM_16``, ``PCM_24``, ``FLOAT`` and the like.

    Raises
    ------
    AudioFileError
        The folder is missing or not writable, the extension or subtype is unusable, the
        samples are not finite, or writing failed. The message names the path.
    """
    target = Path(path)
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim not in (1, 2) or samples.size == 0:
        raise AudioFileError(f"{target}: nothing to write (samples of shape {samples.shape})")
    if not np.isfinite(samples).all():
        raise AudioFileError(f"{target}: refusing to write NaN or infinite samples")
    if target.is_dir():
        raise AudioFileError(f"{target}: is a folder; give a file name to write")
    folder = target.parent
    if not folder.is_dir():
        raise AudioFileError(f"{target}: folder {folder} does not exist")
    container = _output_format(target, subtype)
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
        sf.write(temporary, samples, int(sample_rate), subtype=subtype, format=container)
        os.replace(temporary, target)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if isinstance(exc, (sf.LibsndfileError, RuntimeError, OSError, ValueError)):
            raise AudioFileError(f"{target}: writing failed ({exc})") from None
        raise
