"""Phonemized lexicons: each language's most frequent words as espeak-ng phonemes.

The asemic generator counts its n-gram tables from these words and rejects generated words found
among them; the voice benchmark judges phonotactics against a held-out half of them. Built once
offline by :func:`build_lexicons` (``python -m caminos.models.voice.lexicon``) from the PyPI
package
``wordfreq`` (data CC BY-SA 4.0, see ``SOURCES.md``) and shipped as ``data/lexicons.json.gz``, so
nothing is downloaded or phonemized at run time.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from functools import lru_cache
from pathlib import Path

from caminos.models.voice.errors import VoiceError
from caminos.models.voice.languages import CODES, language
from caminos.models.voice.phonemes import phonemize_words

LEXICON_PATH = Path(__file__).resolve().parent / "data" / "lexicons.json.gz"
WORDS_PER_LANGUAGE = 20000  # wordfreq's most frequent words, before filtering
MAX_WORD_PHONEMES = 20  # longer entries are compounds or junk; dropped


def _usable(word: str) -> bool:
    return word.isalpha() and len(word) >= 1


def _phonemize_robustly(words: list[str], code: str, chunk: int = 1000) -> list[list[str]]:
    """:func:`phonemize_words` in chunks; a chunk espeak merges or splits goes word by word."""
    out: list[list[str]] = []
    for start in range(0, len(words), chunk):
        part = words[start : start + chunk]
        try:
            out.extend(phonemize_words(part, code))
        except VoiceError:
            for word in part:
                try:
                    out.extend(phonemize_words([word], code))
                except VoiceError:
                    out.append([])  # espeak reads it as nothing or as two sentences: skip it
    return out


def build_lexicon(code: str, n_words: int = WORDS_PER_LANGUAGE) -> list[str]:
    """The ``n_words`` most frequent words of ``code`` as phoneme strings, most frequent first.

    Each entry is the word's mnemonics joined by spaces (``"p ** u e B a"``); duplicates (two
    spellings, one pronunciation) keep their first, most frequent, place.
    """
    from wordfreq import top_n_list

    words = [w for w in top_n_list(language(code).wordfreq, n_words) if _usable(w)]
    seen: dict[str, None] = {}
    for phonemes in _phonemize_robustly(words, code):
        if 0 < len(phonemes) <= MAX_WORD_PHONEMES:
            seen.setdefault(" ".join(phonemes), None)
    return list(seen)


def build_lexicons(
    path: str | os.PathLike = LEXICON_PATH,
    codes: tuple[str, ...] = CODES,
    n_words: int = WORDS_PER_LANGUAGE,
) -> dict[str, list[str]]:
    """Build every language's lexicon and write them to ``path`` (gzip JSON)."""
    from tqdm import tqdm
    import wordfreq

    lexicons = {code: build_lexicon(code, n_words) for code in tqdm(codes, desc="lexicons")}
    payload = {
        "source": "wordfreq "
        f"{wordfreq.__version__ if hasattr(wordfreq, '__version__') else ''}".strip()
        + f", top {n_words} words per language, espeak-ng phonemes",
        "licence": "CC BY-SA 4.0 (wordfreq data)",
        "lexicons": lexicons,
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False, separators=(",", ":"))
    os.replace(tmp, target)
    return lexicons


@lru_cache(maxsize=1)
def _load(path: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            payload = json.load(handle)
    except FileNotFoundError:
        raise VoiceError(
            f"{path}: lexicon file missing; rebuild it with "
            "`python -m caminos.models.voice.lexicon`"
        ) from None
    except (OSError, ValueError) as exc:
        raise VoiceError(
            f"{path}: lexicon file unreadable ({exc}); rebuild it with "
            "`python -m caminos.models.voice.lexicon`"
        ) from None
    return {
        code: tuple(tuple(w.split(" ")) for w in words)
        for code, words in payload["lexicons"].items()
    }


def lexicon(code: str, path: str | os.PathLike = LEXICON_PATH) -> tuple[tuple[str, ...], ...]:
    """Words of language ``code`` as tuples of mnemonics, most frequent first."""
    language(code)
    table = _load(os.fspath(path))
    if code not in table:
        raise VoiceError(f"{path}: no lexicon for language {code!r}; rebuild the file")
    return table[code]


if __name__ == "__main__":  # pragma: no cover - offline build step
    built = build_lexicons()
    for name, words in built.items():
        print(f"{name}: {len(words)} words", file=sys.stderr)
