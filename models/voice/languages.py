"""The languages the voice speaks and babbles, and their names in espeak-ng and wordfreq.

One table used by the phonemizer, the lexicon builder, the asemic generator and the acoustic
model's language embedding (a language's index here is its embedding row, so the order is
fixed: append new languages at the end).
"""

from __future__ import annotations

from dataclasses import dataclass

from caminos.models.voice.errors import VoiceError


@dataclass(frozen=True)
class Language:
    """One language.

    Attributes
    ----------
    code : str
        Short code used by caminos' controls (``es``).
    espeak : str
        espeak-ng voice name (``es``, ``en-us``).
    wordfreq : str
        wordfreq language code of its lexicon.
    name : str
        English name, for documentation.
    """

    code: str
    espeak: str
    wordfreq: str
    name: str


LANGUAGES: tuple[Language, ...] = (
    Language("es", "es", "es", "Spanish"),
    Language("en", "en-us", "en", "English"),
    Language("fr", "fr", "fr", "French"),
    Language("de", "de", "de", "German"),
    Language("it", "it", "it", "Italian"),
    Language("pt", "pt", "pt", "Portuguese"),
    Language("ca", "ca", "ca", "Catalan"),
    Language("nl", "nl", "nl", "Dutch"),
)
CODES: tuple[str, ...] = tuple(lang.code for lang in LANGUAGES)
_BY_CODE = {lang.code: lang for lang in LANGUAGES}


def language(code: str) -> Language:
    """The :class:`Language` of ``code``; raises :class:`VoiceError` naming the known codes."""
    if not isinstance(code, str) or code not in _BY_CODE:
        raise VoiceError(f"unknown language {code!r}; the voice knows: {', '.join(CODES)}")
    return _BY_CODE[code]


def language_index(code: str) -> int:
    """Row of ``code`` in the language embedding (its position in :data:`LANGUAGES`)."""
    return CODES.index(language(code).code)
