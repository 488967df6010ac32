"""Training data: a folder of sound files into log-magnitude frames, split by file, cached.

First stage of ``caminos train autoencoder``: every readable file is mixed to mono, resampled to
the configured rate, trimmed of leading and trailing silence and cut into STFT frames in the
running settings; frames are cached per file so a second run starts at once. Files that cannot
be used are skipped and listed with the reason, never silently; too little audio is an error that
says how much was found and how much is needed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from caminos.engine.core.config import Config
from caminos.engine.core.errors import CaminosError
from caminos.engine.dsp.spectral import stft as stft_frames
from caminos.models.autoencoder import log_magnitude

EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3")
CACHE_VERSION = 1  # bump when the frame computation changes, so stale caches are not reused
TRIM_DB = 60.0  # leading/trailing hops this far below the file's loudest hop are silence
SILENCE_DBFS = -90.0  # a hop quieter than this is silence whatever the file's loudest hop


class DataError(CaminosError):
    """A training folder holds no usable audio, or too little of it."""


@dataclass
class FrameSet:
    """Log-magnitude frames of several files laid end to end.

    Attributes
    ----------
    frames : ndarray, shape (n_frames, n_bins), float32
        ``log(|X| + MAGNITUDE_FLOOR)`` per frame.
    starts : ndarray of int64, shape (n_files,)
        Index of each file's first frame (for stacking context without crossing files).
    files : list of str
        The files, in order.
    seconds : float
        Audio after trimming, in seconds.
    """

    frames: np.ndarray
    starts: np.ndarray
    files: list[str]
    seconds: float

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class Corpus:
    """A training folder split into training and validation frames.

    Attributes
    ----------
    folder : str
        The folder.
    train, validation : FrameSet
        Split by file (by time when the folder holds a single file).
    skipped : list of (str, str)
        Files that were not used, with the reason.
    """

    folder: str
    train: FrameSet
    validation: FrameSet
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> dict:
        """Plain-type description for a checkpoint's provenance."""
        return {"folder": self.folder, "train_files": len(self.train.files),
                "validation_files": len(self.validation.files),
                "train_seconds": round(self.train.seconds, 2),
                "validation_seconds": round(self.validation.seconds, 2),
                "train_frames": len(self.train), "validation_frames": len(self.validation),
                "skipped": [f"{path}: {reason}" for path, reason in self.skipped]}


def find_sound_files(folder: str | os.PathLike) -> list[Path]:
    """Sound files under ``folder`` (recursively), by extension, sorted for reproducibility."""
    root = Path(folder)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS
                  and not p.name.startswith("."))


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/caminos/frames`` (``~/.cache/caminos/frames`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "caminos" / "frames"


def _file_key(path: Path, config: Config) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    settings = (f"v{CACHE_VERSION} sr={config.audio.sample_rate} n_fft={config.stft.n_fft} "
                f"hop={config.stft.hop} window={config.stft.window} trim={TRIM_DB} "
                f"silence={SILENCE_DBFS}")
    digest.update(settings.encode())
    return digest.hexdigest()[:40]


def read_mono(path: Path, sample_rate: int) -> np.ndarray:
    """A sound file of any channel count and rate as mono float64 at ``sample_rate``.

    Raises
    ------
    DataError
        The file cannot be decoded, is empty or holds NaN/Inf samples (message names why).
    """
    try:
        samples, file_rate = sf.read(path, dtype="float64", always_2d=True)
    except Exception as exc:  # libsndfile reports every decoding failure differently
        raise DataError(f"cannot decode ({str(exc).strip()[:160] or type(exc).__name__})") from None
    if samples.size == 0:
        raise DataError("holds no samples")
    if not np.isfinite(samples).all():
        raise DataError("holds NaN or infinite samples")
    mono = samples.mean(axis=1)
    if file_rate != sample_rate:
        mono = soxr.resample(mono, file_rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float64)


def trim_silence(x: np.ndarray, hop: int) -> np.ndarray:
    """Cut leading and trailing silence, hop by hop; empty when the whole signal is silent.

    A hop is sound when its RMS is within :data:`TRIM_DB` of the loudest hop and above
    :data:`SILENCE_DBFS`.
    """
    n_hops = len(x) // hop
    if n_hops == 0:
        return x[:0]
    rms = np.sqrt(np.mean(x[:n_hops * hop].reshape(n_hops, hop) ** 2, axis=1))
    level = 20.0 * np.log10(rms + 1e-12)
    loud = level >= max(level.max() - TRIM_DB, SILENCE_DBFS)
    if not loud.any():
        return x[:0]
    first, last = np.argmax(loud), n_hops - 1 - np.argmax(loud[::-1])
    return x[first * hop:(last + 1) * hop]


def file_frames(path: Path, config: Config, cache_dir: Path | None) -> tuple[np.ndarray, float]:
    """Log-magnitude frames of one file (float32, (n, n_bins)) and its trimmed length in seconds.

    Read from the cache when the file's content and the settings are unchanged.
    """
    cache_file = None
    if cache_dir is not None:
        cache_file = cache_dir / f"{_file_key(path, config)}.npz"
        if cache_file.exists():
            try:
                with np.load(cache_file) as cached:
                    return cached["frames"], float(cached["seconds"])
            except (OSError, ValueError, KeyError):
                cache_file.unlink(missing_ok=True)  # a damaged cache entry is rebuilt
    x = trim_silence(read_mono(path, config.audio.sample_rate), config.stft.hop)
    if len(x) < config.stft.n_fft:
        raise DataError("silent, or shorter than one frame after trimming silence")
    frames = log_magnitude(np.abs(stft_frames(x, config.stft))).astype(np.float32)
    seconds = len(x) / config.audio.sample_rate
    if cache_file is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = cache_file.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(temporary, frames=frames, seconds=seconds)
        os.replace(temporary, cache_file)
    return frames, seconds


def _frame_set(items: list[tuple[str, np.ndarray, float]], n_bins: int) -> FrameSet:
    lengths = [len(f) for _, f, _ in items]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if items else \
        np.zeros(0, np.int64)
    frames = np.concatenate([f for _, f, _ in items]) if items else np.zeros((0, n_bins), np.float32)
    return FrameSet(frames=frames, starts=starts, files=[p for p, _, _ in items],
                    seconds=float(sum(s for _, _, s in items)))


def load_corpus(folder: str | os.PathLike, config: Config, *, validation_fraction: float = 0.1,
                seed: int = 0, min_seconds: float = 10.0, cache_dir: Path | None | str = "default",
                progress: bool = False) -> Corpus:
    """Read a folder of sound files into training and validation frames.

    Parameters
    ----------
    folder : path
        Searched recursively for wav, flac, ogg, aiff (and mp3) files of any rate and channels.
    config : Config
        Sample rate and STFT settings of the frames.
    validation_fraction : float in (0, 0.5]
        Share of the files held out for validation (at least one file). With a single file, the
        last part of it, by time, is held out instead.
    seed : int
        Seed of the file split.
    min_seconds : float
        Least usable audio (after trimming silence), in seconds, to train on.
    cache_dir : path, None or "default"
        Where frames are cached (:func:`default_cache_dir` by default); ``None`` disables caching.
    progress : bool
        Show a progress bar while reading.

    Raises
    ------
    DataError
        The folder is missing, holds no sound files, no file is usable (each is listed with its
        reason), or the usable audio is shorter than ``min_seconds``.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: training folder not found")
    if not 0.0 < validation_fraction <= 0.5:
        raise DataError(f"validation_fraction must be in (0, 0.5], got {validation_fraction}")
    cache = default_cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir else None)
    paths = find_sound_files(root)
    if not paths:
        raise DataError(f"{root}: no sound files found (looked for "
                        f"{', '.join(EXTENSIONS)}, in subfolders too); 0.0 s of audio found, "
                        f"{min_seconds:g} s needed")
    if progress:
        from tqdm import tqdm
        paths_iter = tqdm(paths, desc="reading", unit="file", leave=False)
    else:
        paths_iter = paths
    usable: list[tuple[str, np.ndarray, float]] = []
    skipped: list[tuple[str, str]] = []
    for path in paths_iter:
        try:
            frames, seconds = file_frames(path, config, cache)
        except DataError as exc:
            skipped.append((str(path), str(exc)))
            continue
        usable.append((str(path), frames, seconds))
    found = sum(s for _, _, s in usable)
    listing = "".join(f"\n  skipped {p}: {r}" for p, r in skipped)
    if not usable:
        raise DataError(f"{root}: none of the {len(paths)} sound files is usable; 0.0 s of audio "
                        f"found, {min_seconds:g} s needed{listing}")
    if found < min_seconds:
        raise DataError(f"{root}: too little audio to train on: {found:.1f} s found in "
                        f"{len(usable)} usable file(s) after trimming silence, {min_seconds:g} s "
                        f"needed{listing}")
    n_bins = config.stft.n_bins
    if len(usable) == 1:
        path, frames, seconds = usable[0]
        cut = max(1, int(round(len(frames) * (1.0 - validation_fraction))))
        cut = min(cut, len(frames) - 1)
        share = cut / len(frames)
        train = _frame_set([(path, frames[:cut], seconds * share)], n_bins)
        validation = _frame_set([(path, frames[cut:], seconds * (1 - share))], n_bins)
    else:
        order = np.random.default_rng(seed).permutation(len(usable))
        n_val = min(len(usable) - 1, max(1, int(round(validation_fraction * len(usable)))))
        held = set(order[:n_val].tolist())
        train = _frame_set([u for i, u in enumerate(usable) if i not in held], n_bins)
        validation = _frame_set([u for i, u in enumerate(usable) if i in held], n_bins)
    return Corpus(folder=str(root), train=train, validation=validation, skipped=skipped)
