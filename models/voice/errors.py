"""Errors of the voice: one :class:`VoiceError` under caminos' root, and the missing-espeak case.

Raised by every module of :mod:`caminos.models.voice` for input the voice cannot take (unknown
language,
empty text, a babble request out of range) or a missing system dependency; the messages name
the value that was wrong and what was expected.
"""

from __future__ import annotations

from caminos.engine.core.errors import CaminosError


class VoiceError(CaminosError, ValueError):
    """Text, language or a voice control is not usable; the message names which."""


class EspeakMissingError(VoiceError):
    """espeak-ng (the program or its library) is not installed."""

    def __init__(self, what: str = "the espeak-ng program") -> None:
        super().__init__(
            f"{what} was not found; the voice needs espeak-ng: install it with "
            "`apt-get install espeak-ng libespeak-ng1` (Debian/Ubuntu)"
        )
