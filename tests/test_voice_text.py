"""The voice's text side: espeak-ng phonemizer, lexicons, n-gram model and asemic generator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from caminos.models.voice.babble import (
    AsemicGenerator,
    BabbleSettings,
    language_model,
    real_words,
    shared_vocab,
)
from caminos.models.voice.errors import EspeakMissingError, VoiceError
from caminos.models.voice.languages import CODES, language
from caminos.models.voice.lexicon import lexicon
from caminos.models.voice.ngram import NgramModel
from caminos.models.voice.phonemes import phonemize, phonemize_words, split_token


def test_phonemize_spanish_clauses_and_words():
    clauses = phonemize("hola mundo, ¿qué tal?", "es")
    assert clauses == [[["o", "l", "a"], ["m", "u", "n", "d", "o"]], [["k", "e"], ["t", "a", "l"]]]


def test_phonemize_every_language_gives_phonemes_in_the_shared_vocabulary():
    vocab = set(shared_vocab())
    for code in CODES:
        words = [p for clause in phonemize("uno dos tres", code) for w in clause for p in w]
        assert words, code
        assert set(words) <= vocab | {"_"}, code


def test_split_token_reads_stress():
    assert split_token("'a") == ("a", 2)
    assert split_token(",e") == ("e", 1)
    assert split_token("**") == ("**", 0)


def test_phonemize_words_keeps_one_entry_per_word():
    assert phonemize_words(["casa", "perro"], "es") == [["k", "a", "s", "a"], ["p", "e", "R2", "o"]]


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_is_refused(text):
    with pytest.raises(VoiceError, match="empty"):
        phonemize(text, "es")


def test_unknown_language_names_the_known_ones():
    with pytest.raises(VoiceError, match="unknown language 'xx'.*es, en"):
        phonemize("hola", "xx")
    with pytest.raises(VoiceError):
        language("ES")


def test_missing_espeak_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EspeakMissingError, match="apt-get install espeak-ng"):
        phonemize("hola", "es")


def test_lexicons_are_shipped_for_every_language():
    for code in CODES:
        words = lexicon(code)
        assert len(words) > 10000, code
        assert all(0 < len(w) <= 20 for w in words[:1000])
    assert ("k", "a", "s", "a") in real_words("es")


def test_ngram_distributions_sum_to_one_and_back_off():
    vocab = ("a", "b", "c")
    model = NgramModel(vocab, [("a", "b"), ("a", "b"), ("a", "c"), ("b",)], order=3)
    for history in ([], [0], [0, 1], [2, 2, 2]):
        for order in (1, 2, 3):
            p = model.distribution(history, order)
            assert p.shape == (4,)
            assert math.isclose(p.sum(), 1.0, rel_tol=1e-12)
            assert np.all(p > 0)
    # after "a", "b" is twice as likely as "c" at order 2, not at order 1
    p2 = model.distribution([0], 2)
    assert p2[1] > 1.5 * p2[2]
    assert model.distribution([], 1)[1] > model.distribution([], 1)[2]
    # an unseen context falls back on the lower order
    np.testing.assert_allclose(model.distribution([2, 2], 3), model.distribution([2], 2))


def test_ngram_refuses_bad_input():
    with pytest.raises(VoiceError, match="order"):
        NgramModel(("a",), [("a",)], order=5)
    with pytest.raises(VoiceError, match="'z'"):
        NgramModel(("a",), [("z",)], order=2)
    with pytest.raises(VoiceError, match="at least one"):
        NgramModel(("a",), [], order=2)


def test_generator_is_deterministic_for_a_seed():
    a = AsemicGenerator(BabbleSettings({"es": 1.0, "en": 1.0}), seed=7).words(30)
    b = AsemicGenerator(BabbleSettings({"es": 1.0, "en": 1.0}), seed=7).words(30)
    c = AsemicGenerator(BabbleSettings({"es": 1.0, "en": 1.0}), seed=8).words(30)
    assert a == b
    assert a != c
    assert {code for code, _ in a} == {"es", "en"}


def _entropy_bits(words) -> float:
    counts: dict[str, int] = {}
    for _, word in words:
        for p in word:
            counts[p] = counts.get(p, 0) + 1
    p = np.array(list(counts.values()), dtype=float)
    p /= p.sum()
    return float(-(p * np.log2(p)).sum())


def test_higher_temperature_gives_higher_phoneme_entropy():
    entropies = [
        _entropy_bits(
            AsemicGenerator(BabbleSettings({"es": 1.0}, temperature=t), seed=1).words(300)
        )
        for t in (0.3, 1.0, 3.0)
    ]
    assert entropies[0] < entropies[1] < entropies[2]


def test_generated_words_are_not_real_words():
    words = AsemicGenerator(BabbleSettings({"es": 1.0}, likeness=0.85), seed=3).words(300)
    known = real_words("es")
    novel = sum(w not in known for _, w in words) / len(words)
    assert novel >= 0.95


def test_likeness_one_gives_real_words_and_zero_gives_foreign_phonemes():
    real = AsemicGenerator(BabbleSettings({"es": 1.0}, likeness=1.0), seed=0).words(50)
    assert all(w in real_words("es") for _, w in real)
    inventory = {p for w in lexicon("es") for p in w}
    noise = AsemicGenerator(BabbleSettings({"es": 1.0}, likeness=0.0), seed=0).words(50)
    foreign = sum(p not in inventory for _, w in noise for p in w)
    assert foreign > 0.5 * sum(len(w) for _, w in noise)


def test_rising_likeness_makes_words_more_probable_under_the_language():
    model = language_model("es")

    def mean_logp(likeness):
        words = AsemicGenerator(BabbleSettings({"es": 1.0}, likeness=likeness), seed=2).words(100)
        return np.mean([model.log_probability(w) / (len(w) + 1) for _, w in words])

    scores = [mean_logp(x) for x in (0.0, 0.2, 0.5, 0.9)]
    assert scores == sorted(scores)


def test_word_length_scales_words():
    short = AsemicGenerator(BabbleSettings({"it": 1.0}, word_length=0.5), seed=0).words(200)
    long = AsemicGenerator(BabbleSettings({"it": 1.0}, word_length=2.0), seed=0).words(200)
    assert np.mean([len(w) for _, w in long]) > 1.3 * np.mean([len(w) for _, w in short])


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"likeness": 1.5}, "likeness"),
        ({"temperature": 0.0}, "temperature"),
        ({"word_length": 9}, "word_length"),
        ({"languages": {"xx": 1}}, "unknown language"),
        ({"languages": {"es": 0}}, "above 0"),
        ({"languages": {"es": -1}}, ">= 0"),
    ],
)
def test_babble_settings_are_checked(changes, match):
    with pytest.raises(VoiceError, match=match):
        BabbleSettings(**{"languages": {"es": 1.0}, **changes})


def test_word_count_is_checked():
    generator = AsemicGenerator(seed=0)
    assert generator.words(0) == []
    for bad in (-1, 10001, 2.5, True):
        with pytest.raises(VoiceError, match="number of words"):
            generator.words(bad)


def test_missing_espeak_library_names_the_package(monkeypatch):
    import caminos.models.voice.teacher as teacher

    monkeypatch.setattr(teacher, "_instance", None)
    monkeypatch.setattr(teacher, "LIBRARY_NAMES", ("libno-such-espeak.so.9",))
    monkeypatch.setattr(teacher.ctypes.util, "find_library", lambda name: None)
    with pytest.raises(EspeakMissingError, match="libespeak-ng1"):
        teacher.speak("hola", "es")


def test_teacher_gives_audio_and_phoneme_starts():
    from caminos.models.voice.teacher import speak

    spoken = speak("hola mundo", "es", rate=200, pitch=40, variant="f2")
    assert spoken.sample_rate == 22050 and len(spoken.audio) > 0.3 * 22050
    assert spoken.phonemes[:3] == ("o", "l", "a")
    assert np.all(np.diff(spoken.starts) >= 0)
    with pytest.raises(VoiceError, match="variant"):
        speak("hola", "es", variant="x9")
    with pytest.raises(VoiceError, match="rate"):
        speak("hola", "es", rate=10)
