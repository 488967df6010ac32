"""Text into phonemes with the espeak-ng program: the voice's front end.

Every utterance starts here: ``espeak-ng -q -x --sep=" "`` turns text into espeak's phoneme
mnemonics (``p ** u 'e B a`` for Spanish *prueba*), words separated by two spaces and clauses
by new lines. The same mnemonics name the phoneme events of espeak's library
(:mod:`caminos.models.voice.teacher`), so the acoustic model's training alignment and its input at
run
time share one alphabet, and mnemonics in ``[[...]]`` are spoken back by espeak itself.
"""

from __future__ import annotations

import shutil
import subprocess

from caminos.models.voice.errors import EspeakMissingError, VoiceError
from caminos.models.voice.languages import language

MAX_TEXT_CHARS = 20000  # one utterance; longer text is refused rather than stalling the worker
STRESS_MARKS = "',"  # primary and secondary stress, written before a vowel; not phonemes
PAUSE = "_"  # the token between clauses (espeak's short pause)
TIMEOUT_S = 20.0


def espeak_program() -> str:
    """Path of the ``espeak-ng`` program; raises :class:`EspeakMissingError` when absent."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise EspeakMissingError("the espeak-ng program (not on PATH)")
    return path


def check_text(text: str) -> str:
    """``text`` stripped; raises :class:`VoiceError` if it is not a non-empty string."""
    if not isinstance(text, str):
        raise VoiceError(f"text must be a string, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise VoiceError("text is empty; give at least one word to say")
    if len(stripped) > MAX_TEXT_CHARS:
        raise VoiceError(
            f"text is {len(stripped)} characters long; at most {MAX_TEXT_CHARS} per utterance"
        )
    return stripped


def split_token(token: str) -> tuple[str, int]:
    """A mnemonic with its stress marks removed, and its stress (0 none, 1 secondary, 2 primary)."""
    stress = 2 if "'" in token else 1 if "," in token else 0
    return token.strip(STRESS_MARKS).replace("'", "").replace(",", ""), stress


def _run(lines: str, code: str) -> str:
    program = espeak_program()
    voice = language(code).espeak
    try:
        done = subprocess.run(
            [program, "-q", "-x", "--sep= ", "-v", voice],
            input=lines.encode("utf-8"),
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise EspeakMissingError("the espeak-ng program") from None
    except subprocess.TimeoutExpired:
        raise VoiceError(
            f"espeak-ng took more than {TIMEOUT_S:.0f} s to phonemize {len(lines)} characters"
        ) from None
    if done.returncode != 0:
        raise VoiceError(
            f"espeak-ng failed on language {code!r}: "
            f"{done.stderr.decode('utf-8', 'replace').strip()}"
        )
    return done.stdout.decode("utf-8", "replace")


def _words(line: str) -> list[list[str]]:
    words = []
    for chunk in line.split("  "):
        tokens = [split_token(t)[0] for t in chunk.split(" ") if t.strip()]
        tokens = [t for t in tokens if t and t != "_:" and not t.startswith("_")]
        if tokens:
            words.append(tokens)
    return words


def phonemize(text: str, code: str) -> list[list[list[str]]]:
    """Phonemes of ``text`` in language ``code``, as clauses of words of mnemonics.

    Parameters
    ----------
    text : str
        Any text espeak-ng reads (numbers and punctuation included); not empty.
    code : str
        A language code of :data:`caminos.models.voice.languages.CODES`.

    Returns
    -------
    list of clauses, each a list of words, each a list of phoneme mnemonics (stress removed)

    Raises
    ------
    VoiceError
        Empty text, an unknown language, or espeak-ng failing.
    EspeakMissingError
        espeak-ng is not installed.
    """
    text = check_text(text)
    language(code)
    clauses = [_words(line) for line in _run(text, code).splitlines()]
    clauses = [c for c in clauses if c]
    if not clauses:
        raise VoiceError(f"espeak-ng found nothing to say in {text[:60]!r} ({code})")
    return clauses


def phonemize_words(words: list[str], code: str) -> list[list[str]]:
    """Phonemes of each of ``words`` on its own (one espeak-ng run for all of them).

    Used to build lexicons: each word goes on its own line, ended by a full stop so espeak
    treats it as its own sentence. A word espeak turns into several words (numbers,
    abbreviations) is returned joined.

    Returns
    -------
    list, one list of mnemonics per input word (empty where espeak found nothing)
    """
    language(code)
    if not words:
        return []
    out = _run("\n".join(f"{w}." for w in words) + "\n", code).splitlines()
    out = [line for line in out if line.strip()]
    if len(out) != len(words):
        raise VoiceError(
            f"espeak-ng returned {len(out)} lines for {len(words)} words ({code}); "
            "a word holds a line break or sentence punctuation"
        )
    return [[p for word in _words(line) for p in word] for line in out]
