"""The acoustic model's training corpus, made offline by espeak-ng (the teacher).

Each utterance is either a sentence of real words in random order (spelled words from wordfreq,
read by espeak-ng as text) or a phrase of asemic words (given to espeak-ng as phonemes), spoken
with a random rate, pitch, pitch range and voice variant. The teacher's phoneme events give each
phoneme's start, so every hop is labelled with its phoneme;
:func:`~caminos.models.voice.envelope.analyse`
gives its envelope, aperiodicity and pitch at caminos' STFT settings; the pitch becomes an
intonation target in semitones from the utterance's median. Deterministic for a seed and an
espeak-ng version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr
from scipy.ndimage import median_filter
from tqdm import tqdm

from caminos.engine.core.config import Config
from caminos.engine.dsp.spectral import n_frames_for
from caminos.models.voice.babble import AsemicGenerator, BabbleSettings
from caminos.models.voice.envelope import BandLayout, analyse
from caminos.models.voice.errors import VoiceError
from caminos.models.voice.languages import CODES, language
from caminos.models.voice.teacher import VARIANTS, TeacherUtterance, speak

CORPUS_FILE = "voice_corpus.npz"
ASEMIC_SHARE = 0.25  # share of utterances made of asemic words
SENTENCE_WORDS = (3, 12)  # words per sentence, inclusive
SPELLED_WORDS = 5000  # sentences draw from this many most frequent words
MAX_INTONATION_ST = 8.0  # espeak-ng's widest intonation stays within this of an utterance's median
PAUSE_BEFORE = "_"  # label of the silence before the first phoneme event


@dataclass
class TeacherCorpus:
    """Labelled utterances.

    Attributes
    ----------
    phonemes : list of list of str
        Mnemonics per utterance, pauses included.
    languages : ndarray of int64, shape (n_utterances,)
        Language index (:data:`caminos.models.voice.languages.CODES`).
    styles : ndarray of int64, shape (n_utterances,)
        Variant index (:data:`caminos.models.voice.teacher.VARIANTS`).
    durations : list of ndarray of int64
        Hops per phoneme.
    log_power, aperiodicity : list of ndarray, shape (n_hops, n_bands), float32
    intonation : list of ndarray, shape (n_hops,), float32
        Pitch in semitones from the utterance's median voiced pitch; NaN where unvoiced.
    texts : list of str
        What was spoken (text, or ``[[mnemonics]]``).
    """

    phonemes: list[list[str]]
    languages: np.ndarray
    styles: np.ndarray
    durations: list[np.ndarray]
    log_power: list[np.ndarray]
    aperiodicity: list[np.ndarray]
    intonation: list[np.ndarray]
    texts: list[str]

    def __len__(self) -> int:
        return len(self.phonemes)

    @property
    def hops(self) -> int:
        return int(sum(len(x) for x in self.log_power))

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``voice_corpus.npz`` into ``folder``."""
        path = Path(folder) / CORPUS_FILE
        offsets = np.cumsum([0] + [len(p) for p in self.phonemes])
        frame_offsets = np.cumsum([0] + [len(x) for x in self.log_power])
        np.savez_compressed(
            path,
            phonemes=np.array([p for u in self.phonemes for p in u]),
            offsets=offsets,
            frame_offsets=frame_offsets,
            languages=self.languages,
            styles=self.styles,
            durations=np.concatenate(self.durations),
            log_power=np.concatenate(self.log_power),
            aperiodicity=np.concatenate(self.aperiodicity),
            intonation=np.concatenate(self.intonation),
            texts=np.array(self.texts),
        )
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "TeacherCorpus":
        """Read a corpus written by :meth:`save`; raises :class:`VoiceError` naming the file."""
        path = Path(folder) / CORPUS_FILE
        try:
            with np.load(path, allow_pickle=False) as data:
                o, f = data["offsets"], data["frame_offsets"]
                ph = data["phonemes"].tolist()
                return cls(
                    [ph[o[i] : o[i + 1]] for i in range(len(o) - 1)],
                    data["languages"],
                    data["styles"],
                    [data["durations"][o[i] : o[i + 1]] for i in range(len(o) - 1)],
                    [data["log_power"][f[i] : f[i + 1]] for i in range(len(f) - 1)],
                    [data["aperiodicity"][f[i] : f[i + 1]] for i in range(len(f) - 1)],
                    [data["intonation"][f[i] : f[i + 1]] for i in range(len(f) - 1)],
                    data["texts"].tolist(),
                )
        except FileNotFoundError:
            raise VoiceError(
                f"{path}: no voice corpus there; use --data espeak to build one "
                "(add --save-corpus DIR to keep it)"
            ) from None
        except (OSError, KeyError, ValueError) as exc:
            raise VoiceError(f"{path}: not a readable voice corpus ({exc})") from None


def intonation_semitones(f0_hz: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Pitch in semitones from the median voiced pitch, NaN where unvoiced.

    A 5-hop median filter first removes single-hop octave slips of the pitch tracker; hops further
    than 8 semitones from the median (longer slips) count as unvoiced.
    """
    out = np.full(len(f0_hz), np.nan, dtype=np.float32)
    if voiced.sum() < 3:
        return out
    semitones = median_filter(12.0 * np.log2(f0_hz), size=5, mode="nearest")
    out[voiced] = semitones[voiced] - np.median(semitones[voiced])
    out[np.abs(out) > MAX_INTONATION_ST] = np.nan  # octave errors of the tracker, not intonation
    return out


def label(utterance: TeacherUtterance, config: Config, layout: BandLayout):
    """Phonemes, hops per phoneme, envelope, aperiodicity and intonation of one teacher
    utterance."""
    rate = config.audio.sample_rate
    audio = soxr.resample(utterance.audio, utterance.sample_rate, rate)
    phonemes = list(utterance.phonemes)
    starts = utterance.starts.astype(np.float64) * rate / utterance.sample_rate
    if not phonemes or starts[0] > 0:
        phonemes.insert(0, PAUSE_BEFORE)
        starts = np.concatenate([[0.0], starts])
    analysis = analyse(audio, config.stft, layout)
    n = n_frames_for(len(audio), config.stft)
    stft = config.stft
    centres = np.arange(n) * stft.hop - (stft.n_fft - stft.hop) + stft.n_fft / 2
    owner = np.clip(np.searchsorted(starts, centres, side="right") - 1, 0, len(phonemes) - 1)
    durations = np.bincount(owner, minlength=len(phonemes)).astype(np.int64)
    return (
        phonemes,
        durations,
        analysis.log_power,
        analysis.aperiodicity,
        intonation_semitones(analysis.f0_hz, analysis.voiced),
    )


def _sentence(rng: np.random.Generator, words: list[str]) -> str:
    n = int(rng.integers(SENTENCE_WORDS[0], SENTENCE_WORDS[1] + 1))
    picked = [words[int(i)] for i in rng.integers(0, len(words), n)]
    text = ""
    for i, word in enumerate(picked):
        text += word + ("," if rng.random() < 0.12 and i < n - 1 else "") + " "
    return text.strip() + ("?" if rng.random() < 0.2 else ".")


def build_corpus(
    config: Config,
    utterances_per_language: int = 150,
    seed: int = 0,
    codes: tuple[str, ...] = CODES,
    progress: bool = True,
) -> TeacherCorpus:
    """Speak and label a corpus with espeak-ng.

    Parameters
    ----------
    config : Config
        STFT settings and sample rate of the labels.
    utterances_per_language : int >= 1
    seed : int
        Everything random (words, rates, pitches, variants) follows from it.
    codes : tuple of str
        Languages.

    Raises
    ------
    EspeakMissingError
        espeak-ng's library is not installed.
    """
    from wordfreq import top_n_list

    if utterances_per_language < 1:
        raise VoiceError(f"utterances per language must be >= 1, got {utterances_per_language}")
    rng = np.random.default_rng(seed)
    layout = BandLayout(config.stft, config.audio.sample_rate)
    out = TeacherCorpus([], np.zeros(0, np.int64), np.zeros(0, np.int64), [], [], [], [], [])
    languages, styles = [], []
    total = utterances_per_language * len(codes)
    with tqdm(total=total, desc="teacher corpus", unit="utt", disable=not progress) as bar:
        for code in codes:
            words = [w for w in top_n_list(language(code).wordfreq, SPELLED_WORDS) if w.isalpha()]
            generator = AsemicGenerator(
                BabbleSettings({code: 1.0}, likeness=0.8), seed=int(rng.integers(2**31))
            )
            for _ in range(utterances_per_language):
                asemic = rng.random() < ASEMIC_SHARE
                if asemic:
                    n = int(rng.integers(2, 8))
                    text = "[[" + " ".join("".join(w) for _, w in generator.words(n)) + "]]"
                else:
                    text = _sentence(rng, words)
                variant = int(rng.integers(len(VARIANTS)))
                spoken = speak(
                    text,
                    code,
                    rate=int(rng.integers(130, 231)),
                    pitch=int(rng.integers(25, 76)),
                    pitch_range=int(rng.integers(20, 81)),
                    variant=VARIANTS[variant],
                    phonemes=asemic,
                )
                phonemes, durations, log_power, aperiodicity, intonation = label(
                    spoken, config, layout
                )
                out.phonemes.append(phonemes)
                out.durations.append(durations)
                out.log_power.append(log_power)
                out.aperiodicity.append(aperiodicity)
                out.intonation.append(intonation)
                out.texts.append(text)
                languages.append(CODES.index(code))
                styles.append(variant)
                bar.update(1)
    out.languages = np.array(languages, dtype=np.int64)
    out.styles = np.array(styles, dtype=np.int64)
    return out
