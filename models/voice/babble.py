"""Asemic words: invented words with the sound of a language, or of several at once.

The voice's babble mode asks this module for words; each is a language code and a phoneme
sequence that the acoustic model (or espeak-ng) speaks. One control, *likeness* in [0, 1], walks
from noise to language: 0 draws phonemes uniformly from every language's inventory, rising to
0.2 draws from the chosen language's inventory at its own frequencies, then n-gram order rises
from 1 to 4 until 0.9, and from 0.9 to 1 a growing share of words are real words of the lexicon
in random order. Below 1 a generated word that is a real word is rejected and drawn again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Mapping

import numpy as np

from caminos.models.voice.errors import VoiceError
from caminos.models.voice.languages import CODES, language
from caminos.models.voice.lexicon import MAX_WORD_PHONEMES, lexicon
from caminos.models.voice.ngram import MAX_ORDER, NgramModel

INVENTORY_LIKENESS = 0.2  # likeness at which the language's own unigram is reached
NGRAM_LIKENESS = 0.9  # likeness at which the full n-gram order is reached
MAX_TRIES = 50  # draws before a word that keeps coming out real is kept anyway
MAX_WORDS = 10000


@dataclass(frozen=True)
class BabbleSettings:
    """Controls of the asemic generator.

    Attributes
    ----------
    languages : mapping of str to float
        Language code to weight (need not sum to 1); each word picks its language by weight.
    likeness : float in [0, 1]
        0 noise over all phonemes, 0.2 the language's inventory, 0.9 its 4-gram phonotactics,
        1 real words.
    temperature : float in [0.05, 5]
        Sharpens (< 1) or flattens (> 1) every next-phoneme distribution.
    word_length : float in [0.25, 4]
        Scales the expected number of phonemes per word (divides the end-of-word probability).
    """

    languages: Mapping[str, float] = None  # type: ignore[assignment]
    likeness: float = 0.8
    temperature: float = 1.0
    word_length: float = 1.0

    def __post_init__(self) -> None:
        langs = dict(self.languages) if self.languages is not None else {"es": 1.0}
        for code, weight in langs.items():
            language(code)
            if not (isinstance(weight, (int, float)) and math.isfinite(weight) and weight >= 0):
                raise VoiceError(
                    f"language weight of {code!r} must be a number >= 0, got {weight!r}"
                )
        if not langs or sum(langs.values()) <= 0:
            raise VoiceError("language weights: at least one language needs a weight above 0")
        object.__setattr__(self, "languages", langs)
        _check_range("likeness", self.likeness, 0.0, 1.0)
        _check_range("temperature", self.temperature, 0.05, 5.0)
        _check_range("word_length", self.word_length, 0.25, 4.0)


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise VoiceError(f"{name} must be a number in [{lo:g}, {hi:g}], got {value!r}")


@lru_cache(maxsize=1)
def shared_vocab() -> tuple[str, ...]:
    """Every phoneme of every language's lexicon, sorted: the index space of all models."""
    return tuple(sorted({p for code in CODES for word in lexicon(code) for p in word}))


@lru_cache(maxsize=len(CODES))
def language_model(code: str) -> NgramModel:
    """The 4-gram model of ``code``, counted over its whole lexicon (cached per process)."""
    return NgramModel(shared_vocab(), lexicon(code), MAX_ORDER)


@lru_cache(maxsize=len(CODES))
def real_words(code: str) -> frozenset[tuple[str, ...]]:
    """The lexicon of ``code`` as a set, for rejecting generated real words."""
    return frozenset(lexicon(code))


class AsemicGenerator:
    """Seeded source of asemic words.

    Parameters
    ----------
    settings : BabbleSettings, optional
    seed : int
        Same seed and settings give the same words.
    models : mapping of str to NgramModel, optional
        Models to use instead of the ones counted over each whole lexicon (the benchmark
        generates from one half of a lexicon and judges with the other).
    """

    def __init__(
        self,
        settings: BabbleSettings | None = None,
        seed: int = 0,
        models: Mapping[str, NgramModel] | None = None,
    ) -> None:
        self.settings = settings or BabbleSettings()
        self.rng = np.random.default_rng(seed)
        self.models = dict(models or {})

    def update(self, **changes) -> None:
        """Change settings (``likeness=0.5``, ``languages={"es": 1}``...), validated."""
        self.settings = replace(self.settings, **changes)

    def _next_distribution(self, model: NgramModel, history: list[int]) -> np.ndarray:
        s = self.settings
        likeness = s.likeness
        if likeness < INVENTORY_LIKENESS:
            mix = likeness / INVENTORY_LIKENESS
            uniform = np.ones(model.eos + 1)
            uniform[model.eos] = 0.0
            uniform *= (1.0 - model.unigram[model.eos]) / uniform.sum()
            uniform[model.eos] = model.unigram[model.eos]
            p = (1.0 - mix) * uniform + mix * model.unigram
        else:
            span = (min(likeness, NGRAM_LIKENESS) - INVENTORY_LIKENESS) / (
                NGRAM_LIKENESS - INVENTORY_LIKENESS
            )
            position = 1.0 + span * (MAX_ORDER - 1)
            low = int(math.floor(position))
            frac = position - low
            p = model.distribution(history, low)
            if frac > 0:
                p = (1.0 - frac) * p + frac * model.distribution(history, low + 1)
        p = p.copy()
        p[model.eos] /= s.word_length
        if not history:
            p[model.eos] = 0.0  # a word has at least one phoneme
        if len(history) >= MAX_WORD_PHONEMES:
            p[:] = 0.0
            p[model.eos] = 1.0
        if s.temperature != 1.0:
            p = np.power(p, 1.0 / s.temperature, where=p > 0, out=np.zeros_like(p))
        return p / p.sum()

    def _draw(self, model: NgramModel) -> tuple[str, ...]:
        history: list[int] = []
        while True:
            p = self._next_distribution(model, history)
            token = int(self.rng.choice(len(p), p=p))
            if token == model.eos:
                return tuple(model.vocab[i] for i in history)
            history.append(token)

    def word(self) -> tuple[str, tuple[str, ...]]:
        """One word: its language code and phoneme mnemonics."""
        codes = list(self.settings.languages)
        weights = np.array([self.settings.languages[c] for c in codes], dtype=np.float64)
        code = codes[int(self.rng.choice(len(codes), p=weights / weights.sum()))]
        likeness = self.settings.likeness
        if likeness > NGRAM_LIKENESS and (
            self.rng.random() < (likeness - NGRAM_LIKENESS) / (1 - NGRAM_LIKENESS)
        ):
            words = lexicon(code)
            ranks = np.arange(1, len(words) + 1, dtype=np.float64)
            zipf = 1.0 / ranks
            return code, words[int(self.rng.choice(len(words), p=zipf / zipf.sum()))]
        model = self.models[code] if code in self.models else language_model(code)
        known = real_words(code)
        for _ in range(MAX_TRIES):
            candidate = self._draw(model)
            if candidate not in known:
                return code, candidate
        return code, candidate

    def words(self, n: int) -> list[tuple[str, tuple[str, ...]]]:
        """``n`` words (0 to 10000)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= MAX_WORDS:
            raise VoiceError(f"number of words must be an integer in [0, {MAX_WORDS}], got {n!r}")
        return [self.word() for _ in range(int(n))]
