"""espeak-ng's C library as the teacher: audio and each phoneme's start, in-process.

Used to build the acoustic model's training corpus (the phoneme events give the alignment for
free) and by the zero-training ``espeak`` voice engine. espeak-ng's library keeps global state
and is not thread-safe, so every call holds one process-wide lock. Audio comes at espeak's own
rate (22050 Hz); callers resample.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass

import numpy as np

from caminos.models.voice.errors import EspeakMissingError, VoiceError
from caminos.models.voice.languages import language

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
CHARS_UTF8 = 1
PHONEMES = 0x100  # read [[...]] as phoneme mnemonics
EVENT_LIST_TERMINATED = 0
EVENT_PHONEME = 7
PARAM_RATE, PARAM_PITCH, PARAM_RANGE = 1, 3, 4
VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4")
LIBRARY_NAMES = ("libespeak-ng.so.1", "libespeak-ng.so", "libespeak-ng.dylib")


class _Id(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _Id),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class TeacherUtterance:
    """espeak-ng's rendering of one utterance.

    Attributes
    ----------
    audio : ndarray, shape (n_samples,), float64
        In [-1, 1].
    sample_rate : int
        In Hz (22050 for espeak-ng).
    phonemes : tuple of str
        Mnemonics in order, pauses (``_``, ``_:``) included.
    starts : ndarray of int64, shape (n_phonemes,)
        Sample at which each phoneme starts; each ends where the next starts, the last at the end.
    """

    audio: np.ndarray
    sample_rate: int
    phonemes: tuple[str, ...]
    starts: np.ndarray


class _Espeak:
    """The loaded library and its callback; one per process."""

    def __init__(self) -> None:
        lib = None
        for name in LIBRARY_NAMES + (ctypes.util.find_library("espeak-ng") or "",):
            if not name:
                continue
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if lib is None:
            raise EspeakMissingError("the espeak-ng library (libespeak-ng1)")
        self.lib = lib
        self.sample_rate = lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, None, INITIALIZE_PHONEME_EVENTS
        )
        if self.sample_rate <= 0:
            raise EspeakMissingError("a working espeak-ng library (initialisation failed)")
        self._chunks: list[bytes] = []
        self._events: list[tuple[str, int]] = []
        self._callback = _CALLBACK(self._collect)  # kept alive as long as the library uses it
        lib.espeak_SetSynthCallback(self._callback)
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.lock = threading.Lock()

    def _collect(self, wav, n_samples, events) -> int:
        if n_samples > 0:
            self._chunks.append(ctypes.string_at(wav, n_samples * 2))
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type == EVENT_PHONEME:
                name = bytes(event.id.string).split(b"\0")[0].decode("ascii", "replace")
                self._events.append((name, event.sample))
            i += 1
        return 0

    def synthesize(
        self, text: str, voice: str, rate: int, pitch: int, pitch_range: int, phonemes: bool
    ) -> TeacherUtterance:
        with self.lock:
            self._chunks, self._events = [], []
            if self.lib.espeak_SetVoiceByName(voice.encode("ascii")) != 0:
                raise VoiceError(f"espeak-ng has no voice {voice!r}")
            for param, value in (
                (PARAM_RATE, rate),
                (PARAM_PITCH, pitch),
                (PARAM_RANGE, pitch_range),
            ):
                self.lib.espeak_SetParameter(param, int(value), 0)
            data = text.encode("utf-8") + b"\0"
            buffer = ctypes.create_string_buffer(data)
            flags = CHARS_UTF8 | (PHONEMES if phonemes else 0)
            status = self.lib.espeak_Synth(buffer, len(data), 0, 0, 0, flags, None, None)
            self.lib.espeak_Synchronize()
            if status != 0:
                raise VoiceError(f"espeak-ng could not synthesize {text[:60]!r} (error {status})")
            audio = np.frombuffer(b"".join(self._chunks), dtype="<i2").astype(np.float64) / 32768.0
            names = tuple(name for name, _ in self._events)
            starts = np.array([sample for _, sample in self._events], dtype=np.int64)
        return TeacherUtterance(audio, self.sample_rate, names, starts)


_instance: _Espeak | None = None
_instance_lock = threading.Lock()


def espeak() -> _Espeak:
    """The process's espeak-ng library (loaded on first use)."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = _Espeak()
        return _instance


def speak(
    text: str,
    code: str,
    *,
    rate: int = 175,
    pitch: int = 50,
    pitch_range: int = 50,
    variant: str = "",
    phonemes: bool = False,
) -> TeacherUtterance:
    """Render ``text`` (or ``[[mnemonics]]`` with ``phonemes=True``) with espeak-ng.

    Parameters
    ----------
    text : str
        Text, or phoneme mnemonics inside ``[[ ]]``.
    code : str
        Language code (:mod:`caminos.models.voice.languages`).
    rate : int in [80, 450]
        Words per minute.
    pitch, pitch_range : int in [0, 99]
        espeak's base pitch and intonation range.
    variant : str
        One of :data:`VARIANTS` (``""`` is the language's default voice).
    """
    if variant not in VARIANTS:
        raise VoiceError(f"unknown espeak-ng variant {variant!r}; known: {', '.join(VARIANTS[1:])}")
    voice = language(code).espeak + (f"+{variant}" if variant else "")
    if not 80 <= rate <= 450 or not 0 <= pitch <= 99 or not 0 <= pitch_range <= 99:
        raise VoiceError(
            f"espeak-ng rate must lie in [80, 450] wpm and pitch, range in [0, 99]; "
            f"got rate={rate}, pitch={pitch}, range={pitch_range}"
        )
    return espeak().synthesize(text, voice, rate, pitch, pitch_range, phonemes)
