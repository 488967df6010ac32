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

from caminos.engine.core.config import Config, user_cache_folder
from caminos.engine.core.errors import CaminosError
from caminos.engine.dsp.spectral import stft as stft_frames
from caminos.models.autoencoder import log_magnitude

# Every container libsndfile reads (soundfile.available_formats(), by their usual extensions).
EXTENSIONS = (
    ".wav",
    ".wave",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".aiff",
    ".aif",
    ".aifc",
    ".mp3",
    ".caf",
    ".au",
    ".snd",
    ".w64",
    ".rf64",
    ".avr",
    ".htk",
    ".sf",
    ".ircam",
    ".mat",
    ".mpc",
    ".nist",
    ".paf",
    ".pvf",
    ".sd2",
    ".sds",
    ".svx",
    ".8svx",
    ".voc",
    ".wve",
    ".xi",
)
SPLITS = ("auto", "files", "time")
SMALL_DATA_SECONDS = 300.0  # below this much audio a folder is small data: split by time
VALIDATION_BLOCK_S = 0.4  # length of each held-out stretch of a time split, seconds
MIN_SECONDS = 2.0  # least audio a folder must hold to train on, seconds
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
        Split by file, or by time (stretches of every file, see :func:`time_split`). A FrameSet
        of a time split holds one entry per stretch, so one file may appear several times.
    skipped : list of (str, str)
        Files that were not used, with the reason.
    split : str
        ``files`` or ``time``: how ``validation`` was chosen.
    held_out : dict of str to list of (int, int)
        Each usable file's held-out frame ranges (half-open, in the file's own frames; empty for
        a file trained on whole), so a report can score what training never saw.
    """

    folder: str
    train: FrameSet
    validation: FrameSet
    skipped: list[tuple[str, str]] = field(default_factory=list)
    split: str = "files"
    held_out: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Usable audio of the folder after trimming silence, in seconds."""
        return self.train.seconds + self.validation.seconds

    @property
    def small(self) -> bool:
        """Less than :data:`SMALL_DATA_SECONDS` of audio: what a few of one's own files are."""
        return self.seconds < SMALL_DATA_SECONDS

    def summary(self) -> dict:
        """Plain-type description for a checkpoint's provenance."""
        return {
            "folder": self.folder,
            "split": self.split,
            "train_files": len(set(self.train.files)),
            "validation_files": len(set(self.validation.files)),
            "train_seconds": round(self.train.seconds, 2),
            "validation_seconds": round(self.validation.seconds, 2),
            "train_frames": len(self.train),
            "validation_frames": len(self.validation),
            "skipped": [f"{path}: {reason}" for path, reason in self.skipped],
        }


def find_sound_files(folder: str | os.PathLike) -> list[Path]:
    """Sound files under ``folder`` (recursively), by extension, sorted for reproducibility."""
    root = Path(folder)
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in EXTENSIONS and not p.name.startswith(".")
    )


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/caminos/frames`` (``~/.cache/caminos/frames`` by default)."""
    return user_cache_folder() / "frames"


def _file_key(path: Path, config: Config) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    settings = (
        f"v{CACHE_VERSION} sr={config.audio.sample_rate} n_fft={config.stft.n_fft} "
        f"hop={config.stft.hop} window={config.stft.window} trim={TRIM_DB} "
        f"silence={SILENCE_DBFS}"
    )
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
    rms = np.sqrt(np.mean(x[: n_hops * hop].reshape(n_hops, hop) ** 2, axis=1))
    level = 20.0 * np.log10(rms + 1e-12)
    loud = level >= max(level.max() - TRIM_DB, SILENCE_DBFS)
    if not loud.any():
        return x[:0]
    first, last = np.argmax(loud), n_hops - 1 - np.argmax(loud[::-1])
    return x[first * hop : (last + 1) * hop]


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
    starts = (
        np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        if items
        else np.zeros(0, np.int64)
    )
    frames = (
        np.concatenate([f for _, f, _ in items]) if items else np.zeros((0, n_bins), np.float32)
    )
    return FrameSet(
        frames=frames,
        starts=starts,
        files=[p for p, _, _ in items],
        seconds=float(sum(s for _, _, s in items)),
    )


def time_split(
    n_frames: int, block: int, every: int, gap: int, offset: int = 0
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Held-out stretches of one file, and the training stretches between them.

    Every ``every``-th block of ``block`` frames (starting with block ``offset % every``) is held
    out; ``gap`` frames on each side of a held-out stretch belong to neither part, so no training
    frame shares a sample with a validation frame when ``gap >= n_fft / hop - 1``. A file too short
    for one block and two gaps beside training frames holds out its last ``block`` frames or
    nothing.

    Parameters
    ----------
    n_frames : int
        Frames of the file.
    block, every, gap : int
        Frames per held-out stretch, one block in ``every`` held out, frames left out beside each.
    offset : int
        Which block of each ``every`` is held out (varies from file to file).

    Returns
    -------
    train, validation : list of (start, end)
        Frame ranges, half-open, in order.
    """
    if n_frames < block + 2 * gap + 2:  # too short to split: everything trains
        return [(0, n_frames)], []
    validation = []
    n_blocks = n_frames // block
    if n_blocks < every:  # a short file: its last stretch is held out
        validation.append((n_frames - block, n_frames))
    else:
        for b in range(offset % every, n_blocks, every):
            validation.append((b * block, min(n_frames, (b + 1) * block)))
    train, cursor = [], 0
    for start, end in validation:
        if start - gap > cursor:
            train.append((cursor, start - gap))
        cursor = end + gap
    if cursor < n_frames:
        train.append((cursor, n_frames))
    return train, validation


def load_corpus(
    folder: str | os.PathLike,
    config: Config,
    *,
    validation_fraction: float | None = None,
    seed: int = 0,
    min_seconds: float = MIN_SECONDS,
    cache_dir: Path | None | str = "default",
    progress: bool = False,
    split: str = "auto",
) -> Corpus:
    """Read a folder of sound files into training and validation frames.

    Parameters
    ----------
    folder : path
        Searched recursively for wav, flac, ogg, aiff (and mp3) files of any rate and channels.
    config : Config
        Sample rate and STFT settings of the frames.
    validation_fraction : float in (0, 0.5], optional
        Share held out for validation: of the files (at least one file; with a single file, its
        last part by time; default 0.1), or with a time split of every file's frames (default
        0.2, so a handful of files gives a validation set that means something).
    seed : int
        Seed of the file split.
    min_seconds : float
        Least usable audio (after trimming silence), in seconds, to train on.
    cache_dir : path, None or "default"
        Where frames are cached (:func:`default_cache_dir` by default); ``None`` disables caching.
    progress : bool
        Show a progress bar while reading.
    split : str
        ``files``: whole files are held out; ``time``: stretches of
        :data:`VALIDATION_BLOCK_S` of every file, with a gap of ``n_fft / hop`` frames on both
        sides (:func:`time_split`), so a handful of files is validated on every one of them;
        ``auto``: ``time`` below :data:`SMALL_DATA_SECONDS` of audio, ``files`` above.

    Raises
    ------
    DataError
        The folder is missing, holds no sound files, no file is usable (each is listed with its
        reason), or the usable audio is shorter than ``min_seconds``.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: training folder not found")
    if validation_fraction is not None and not 0.0 < validation_fraction <= 0.5:
        raise DataError(f"validation_fraction must be in (0, 0.5], got {validation_fraction}")
    if split not in SPLITS:
        raise DataError(f"split {split!r}: expected one of {', '.join(SPLITS)}")
    cache = (
        default_cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir else None)
    )
    paths = find_sound_files(root)
    if not paths:
        raise DataError(
            f"{root}: no sound files found (looked for the formats libsndfile "
            "reads: wav, flac, ogg, aiff, mp3, caf and others, in subfolders too); "
            f"0.0 s of audio found, {min_seconds:g} s needed"
        )
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
        silent = all(reason.startswith("silent") for _, reason in skipped)
        raise DataError(
            f"{root}: none of the {len(paths)} sound files is usable"
            f"{' (every one is silent)' if silent else ''}; 0.0 s of audio "
            f"found, {min_seconds:g} s needed{listing}"
        )
    if found < min_seconds:
        raise DataError(
            f"{root}: too little audio to train on: {found:.1f} s found in "
            f"{len(usable)} usable file(s) after trimming silence, {min_seconds:g} s "
            f"needed{listing}"
        )
    n_bins = config.stft.n_bins
    if split == "auto":
        split = "time" if found < SMALL_DATA_SECONDS else "files"
    if split == "time":
        return _time_split_corpus(root, usable, skipped, config, validation_fraction or 0.2)
    validation_fraction = validation_fraction or 0.1
    if len(usable) == 1:
        path, frames, seconds = usable[0]
        cut = max(1, int(round(len(frames) * (1.0 - validation_fraction))))
        cut = min(cut, len(frames) - 1)
        share = cut / len(frames)
        train = _frame_set([(path, frames[:cut], seconds * share)], n_bins)
        validation = _frame_set([(path, frames[cut:], seconds * (1 - share))], n_bins)
        held_out = {path: [(cut, len(frames))]}
    else:
        order = np.random.default_rng(seed).permutation(len(usable))
        n_val = min(len(usable) - 1, max(1, int(round(validation_fraction * len(usable)))))
        held = set(order[:n_val].tolist())
        train = _frame_set([u for i, u in enumerate(usable) if i not in held], n_bins)
        validation = _frame_set([u for i, u in enumerate(usable) if i in held], n_bins)
        held_out = {u[0]: ([(0, len(u[1]))] if i in held else []) for i, u in enumerate(usable)}
    return Corpus(
        folder=str(root),
        train=train,
        validation=validation,
        skipped=skipped,
        split="files",
        held_out=held_out,
    )


def _time_split_corpus(
    root: Path,
    usable: list[tuple[str, np.ndarray, float]],
    skipped: list[tuple[str, str]],
    config: Config,
    validation_fraction: float,
) -> Corpus:
    """Every file's stretches of :func:`time_split` into one corpus."""
    hop_s = config.stft.hop / config.audio.sample_rate
    block = max(4, int(round(VALIDATION_BLOCK_S / hop_s)))
    every = max(2, int(round(1.0 / validation_fraction)))
    gap = config.stft.n_fft // config.stft.hop
    train_items, validation_items = [], []
    held_out = {}
    for index, (path, frames, seconds) in enumerate(usable):
        per_frame = seconds / len(frames)
        train, validation = time_split(len(frames), block, every, gap, offset=index)
        held_out[path] = validation
        train_items += [(path, frames[a:b], (b - a) * per_frame) for a, b in train]
        validation_items += [(path, frames[a:b], (b - a) * per_frame) for a, b in validation]
    if not validation_items:
        raise DataError(
            f"{root}: every file is too short to hold out a stretch of "
            f"{block + 2 * gap + 2} frames for validation; give longer files or "
            "more of them"
        )
    n_bins = config.stft.n_bins
    return Corpus(
        folder=str(root),
        train=_frame_set(train_items, n_bins),
        validation=_frame_set(validation_items, n_bins),
        skipped=skipped,
        split="time",
        held_out=held_out,
    )
