"""The voice's controls and their values: prosody that glides, babble, language, style.

:class:`VoiceSettings` is the voice's state without the voice: every continuous control is a
:class:`~caminos.engine.core.parameters.Parameter` (the prosody's glide from hop to hop is the
parameter's own smoother), and the others (language, mix, style) are checked and kept here.
:class:`~caminos.models.voice.stream.VoiceStream` holds one and reads it each hop; the control
process holds one alone, so it refuses what the voice would refuse before anything reaches the
hop clock (:func:`voice_controls` builds the same ``/voice/*`` table on either).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, Callable

import numpy as np

from caminos.engine.core.config import Config
from caminos.engine.core.controls import Arg, Control
from caminos.engine.core.parameters import Parameter, smoothing_coefficient
from caminos.models.voice.babble import MAX_WORDS, AsemicGenerator, BabbleSettings
from caminos.models.voice.errors import VoiceError
from caminos.models.voice.languages import CODES, language
from caminos.models.voice.phonemes import check_text, espeak_program

SMOOTHING_S = 0.03  # time constant of every continuous control, in seconds
# name: (lo, hi, unit, doc); the prosody, smoothed per hop
CONTINUOUS = {
    "pitch": (-24.0, 36.0, "st", "base pitch, semitones relative to 110 Hz (A2)"),
    "range": (0.0, 24.0, "st", "intonation range; 0 holds exactly the pitch"),
    "rate": (0.25, 4.0, "", "speaking rate, 1 the model's own"),
    "vibrato": (0.0, 3.0, "st", "vibrato depth at 5.5 Hz"),
    "jitter": (0.0, 3.0, "st", "random pitch wander"),
    "breathiness": (0.0, 1.0, "", "0 as modelled .. 1 whispered"),
    "formant": (-12.0, 12.0, "st", "formant shift; negative: larger, darker voice"),
}
# name: (lo, hi, unit, doc); the babble's settings, for the next phrase
BABBLE = {
    "temperature": (0.05, 5.0, "", "babble: sharper (< 1) or wilder (> 1) phoneme choices"),
    "likeness": (0.0, 1.0, "", "babble: 0 phoneme noise .. 0.9 phonotactics .. 1 real words"),
    "word_length": (0.25, 4.0, "", "babble: scale of the mean word length"),
}
N_STYLES = 12


def parse_mix(text: str) -> dict[str, float]:
    """``"es:2,en:1"`` (or ``"es en"``) into language weights; raises :class:`VoiceError`."""
    if not isinstance(text, str) or not text.strip():
        raise VoiceError(f"language mix must be like 'es:1,en:0.5', got {text!r}")
    weights: dict[str, float] = {}
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        code, _, weight = part.partition(":")
        language(code)
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise VoiceError(
                f"language mix {text!r}: weight {weight!r} of {code} is not a number"
            ) from None
        if not (math.isfinite(value) and value >= 0):
            raise VoiceError(f"language mix {text!r}: weight of {code} must be >= 0")
        weights[code] = value
    if sum(weights.values()) <= 0:
        raise VoiceError(f"language mix {text!r}: at least one weight must be above 0")
    return weights


def checked_words(words: Any) -> int:
    """A babble's number of words, 0 .. :data:`MAX_WORDS`; raises :class:`VoiceError`."""
    if (
        isinstance(words, bool)
        or not isinstance(words, (int, np.integer))
        or not (0 <= words <= MAX_WORDS)
    ):
        raise VoiceError(
            f"babble: number of words must be an integer in [0, {MAX_WORDS}], got {words!r}"
        )
    return int(words)


class VoiceSettings:
    """Every voice control's value, checked as the voice checks it.

    Parameters
    ----------
    config : Config
        The ``[voice]`` section's starting values, and the hop (the prosody's smoothing).
    seed : int
        Seeds the babble generator.
    changed : callable, optional
        Called as ``changed(name, value)`` after a control changes (``name`` as :meth:`set`
        takes it): the stream forwards what its worker needs.

    Attributes
    ----------
    prosody : dict of str to Parameter
        ``/voice/pitch`` ... ``/voice/formant`` (:data:`CONTINUOUS`), smoothed per hop with a
        :data:`SMOOTHING_S` time constant; the renderer reads their ``value``.
    babble_settings : dict of str to Parameter
        ``/voice/temperature``, ``/voice/likeness``, ``/voice/word_length`` (:data:`BABBLE`),
        for the next phrase.
    language : str
        The language of ``say`` (the heaviest of a babble mix).
    style : int
        The espeak-ng variant, 0 .. :data:`N_STYLES` - 1.
    generator : AsemicGenerator
        The babble's word generator, with the settings above.
    """

    def __init__(
        self, config: Config, seed: int = 0, changed: Callable[[str, Any], None] | None = None
    ) -> None:
        voice = config.voice
        self.changed = changed
        coefficient = smoothing_coefficient(
            1000.0 * SMOOTHING_S, config.stft.hop, config.audio.sample_rate
        )
        self.prosody = {
            name: Parameter(
                f"/voice/{name}",
                Arg(name, "f", lo, hi, unit),
                doc,
                "voice",
                float(getattr(voice, name)),
                coefficient,
                changed=partial(self._changed, name),
            )
            for name, (lo, hi, unit, doc) in CONTINUOUS.items()
        }
        self._gliding = tuple(self.prosody.values())  # stepped each hop, by index
        self.babble_settings = {
            name: Parameter(
                f"/voice/{name}",
                Arg(name, "f", lo, hi, unit),
                doc,
                "voice",
                float(getattr(voice, name)),
                smoothed=False,
                changed=partial(self._babble_changed, name),
            )
            for name, (lo, hi, unit, doc) in BABBLE.items()
        }
        self.language = voice.language
        self.style = int(voice.style)
        self.generator = AsemicGenerator(
            BabbleSettings(
                {voice.language: 1.0},
                likeness=voice.likeness,
                temperature=voice.temperature,
                word_length=voice.word_length,
            ),
            seed=int(seed),
        )

    @property
    def settings(self) -> "VoiceSettings":
        """Itself: what :func:`voice_controls` reads on a stream or on these settings alone."""
        return self

    # -- checks of requests (the stream makes them; these settings alone only check) ---------
    def say(self, text: str) -> str:
        """Check a ``say`` request; returns the text to speak.

        Raises
        ------
        VoiceError
            ``text`` is empty or not a string.
        EspeakMissingError
            The espeak-ng program (the phonemizer) is not installed.
        """
        text = check_text(text)
        espeak_program()
        return text

    def babble(self, words: int) -> int:
        """Check a ``babble`` request's number of words; returns it."""
        return checked_words(words)

    def stop(self) -> None:
        """``/voice/stop``: nothing to stop without a voice."""

    # -- values ------------------------------------------------------------------------------
    def set(self, name: str, value: Any) -> None:
        """Change a control: the prosody glides there from the next hop, the others apply to
        the next phrase.

        Parameters
        ----------
        name : str
            ``pitch``, ``range``, ``rate``, ``vibrato``, ``jitter``, ``breathiness``, ``formant``
            (see :data:`CONTINUOUS`), ``temperature``, ``likeness``, ``word_length``,
            ``language`` (a code), ``mix`` (``"es:1,en:0.5"``) or ``style`` (0 to 11).

        Raises
        ------
        VoiceError
            Unknown name, or a value of the wrong type or out of range (the message says which).
        """
        parameter = self.prosody.get(name) or self.babble_settings.get(name)
        if parameter is not None:
            lo, hi = parameter.arg.lo, parameter.arg.hi
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (math.isfinite(value) and lo <= value <= hi)
            ):
                raise VoiceError(
                    f"voice {name} must be a number in [{lo:g}, {hi:g}], got {value!r}"
                )
            parameter.set(float(value))  # its control's way: the parameter says what changed
            return
        if name == "language":
            self.language = language(value).code
            self.generator.update(languages={self.language: 1.0})
        elif name == "mix":
            weights = parse_mix(value)
            self.generator.update(languages=weights)
            self.language = max(weights, key=weights.get)
        elif name == "style":
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or not (0 <= value < N_STYLES)
            ):
                raise VoiceError(
                    f"voice style must be an integer in [0, {N_STYLES - 1}], got {value!r}"
                )
            self.style = int(value)
        else:
            known = ", ".join(list(CONTINUOUS) + list(BABBLE) + ["language", "mix", "style"])
            raise VoiceError(f"unknown voice control {name!r}; known: {known}")
        self._changed(name, value)

    def _changed(self, name: str, value: Any) -> None:
        if self.changed is not None:
            self.changed(name, value)

    def _babble_changed(self, name: str, value: float) -> None:
        self.generator.update(**{name: float(value)})
        self._changed(name, value)

    def get(self, name: str) -> Any:
        """Current target of a control (as :meth:`set` takes it)."""
        parameter = self.prosody.get(name) or self.babble_settings.get(name)
        if parameter is not None:
            return parameter.target
        if name == "language":
            return self.language
        if name == "style":
            return self.style
        if name == "mix":
            return ",".join(f"{c}:{w:g}" for c, w in self.generator.settings.languages.items())
        raise VoiceError(f"unknown voice control {name!r}")

    def glide(self) -> None:
        """One hop of the prosody's smoothing."""
        gliding, k = self._gliding, 0
        while k < len(gliding):  # (no iterator: nothing allocated on the hop)
            gliding[k].step()
            k += 1

    def land(self) -> None:
        """The prosody at its targets at once (a sound starting from silence, a reset)."""
        gliding, k = self._gliding, 0
        while k < len(gliding):
            gliding[k].jump(gliding[k].target)
            k += 1

    # -- the controls' handlers --------------------------------------------------------------
    def set_language(self, code: str) -> None:
        self.set("language", code)

    def language_value(self) -> tuple[str]:
        return (self.language,)

    def set_mix(self, text: str) -> None:
        self.set("mix", text)

    def mix_value(self) -> tuple[str]:
        return (self.get("mix"),)

    def set_style(self, style: int) -> None:
        self.set("style", style)

    def style_value(self) -> tuple[int]:
        return (self.style,)


def voice_controls(voice: Any) -> list[Control]:
    """The ``/voice/*`` addresses, for the engine's control registry.

    Parameters
    ----------
    voice : VoiceStream or VoiceSettings
        What the actions reach (``say``, ``babble``, ``stop``) and whose ``settings`` hold the
        values: a stream speaks, settings alone only check (the control process's replica).

    Voice gain is the engine's (``/source/voice/gain``), not registered here.
    """
    settings = voice.settings
    controls = [
        Control(
            "/voice/say",
            (Arg("text", "s"),),
            "speak the text in the current language (interrupts)",
            voice.say,
            group="voice",
        ),
        Control(
            "/voice/babble",
            (Arg("words", "i", 0, MAX_WORDS),),
            "babble this many asemic words (interrupts); 0 stops",
            voice.babble,
            group="voice",
        ),
        Control(
            "/voice/stop",
            (),
            "fade the voice out and drop what is queued",
            voice.stop,
            group="voice",
        ),
        Control(
            "/voice/language",
            (Arg("code", "s", choices=CODES),),
            "language of say and babble",
            settings.set_language,
            settings.language_value,
            group="voice",
        ),
        Control(
            "/voice/mix",
            (Arg("weights", "s"),),
            "babble language weights, e.g. 'es:1,fr:0.5'",
            settings.set_mix,
            settings.mix_value,
            group="voice",
        ),
        Control(
            "/voice/style",
            (Arg("style", "i", 0, N_STYLES - 1),),
            "voice style: 0 default, 1-7 male, 8-11 female (espeak-ng variants)",
            settings.set_style,
            settings.style_value,
            group="voice",
        ),
    ]
    for parameter in (*settings.prosody.values(), *settings.babble_settings.values()):
        controls.append(parameter.control())
    return controls
