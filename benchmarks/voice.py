"""Voice benchmark: speed of the stream, distance to the teacher, novelty and phonotactics \
of babble.

Rows ``{case, language, rtf_cpu, first_frame_ms, mcd_db, novel_word_ratio,
phonotactic_percentile}``, per language:

- ``speech`` (neural engine) and ``espeak`` (the zero-training engine): ``rtf_cpu`` is seconds of
  voice per second of CPU work on one thread (worker: phonemizer, model; DSP thread: every
  ``next_frame``), phase recovery excluded (the engine's, the same for every source);
  ``first_frame_ms`` the median time from ``say`` to the first sounding frame on a warm stream;
  ``mcd_db`` (speech only) the mel-cepstral distortion of the model's envelopes against the
  teacher's on held-out sentences (a corpus of another seed), with the teacher's durations;
  ``mean-envelope`` the same distance for a baseline that always outputs the training corpus's
  mean envelope, to show what the number means.
- ``babble``: ``novel_word_ratio`` the share of 1000 generated words (likeness 0.8) not in the
  language's lexicon; ``phonotactic_percentile`` the percentile, among real words, of the median
  per-phoneme log-probability of the generated words, all scored by a held-out 4-gram judge: the
  generator counts the lexicon's odd-ranked words, the judge its even-ranked ones, and the real
  words scored are odd-ranked ones (unseen by the judge, as the generated ones are). Goals
  (issue 6): rtf >= 10, first frame <= 50 ms, MCD <= 6 dB, novel >= 0.95,
  percentile >= 25.

    python benchmarks/voice.py --json voice.json
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread, so the timings mean one core

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from caminos.engine.core.config import load_config
from caminos.models.voice.babble import AsemicGenerator, BabbleSettings, real_words, shared_vocab
from caminos.models.voice.corpus import build_corpus
from caminos.models.voice.languages import CODES
from caminos.models.voice.lexicon import lexicon
from caminos.models.voice.ngram import NgramModel
from caminos.models.voice.quality import mcd_db
from caminos.models.voice.acoustic import synthesize_phrase
from caminos.models.voice.stream import VoiceStream, render_offline

HELD_OUT_SEED = 9001  # the training corpus uses seed 0
SENTENCES = {
    "es": ["el viento mueve las hojas del camino", "mañana volveremos a la casa vieja"],
    "en": ["the wind moves the leaves along the road", "tomorrow we will go back to the old house"],
    "fr": [
        "le vent pousse les feuilles sur le chemin",
        "demain nous rentrerons à la vieille maison",
    ],
    "de": ["der wind bewegt die blätter auf dem weg", "morgen gehen wir zurück in das alte haus"],
    "it": ["il vento muove le foglie sul sentiero", "domani torneremo alla vecchia casa"],
    "pt": ["o vento move as folhas do caminho", "amanhã voltaremos para a casa velha"],
    "ca": ["el vent mou les fulles del camí", "demà tornarem a la casa vella"],
    "nl": ["de wind beweegt de bladeren op het pad", "morgen gaan we terug naar het oude huis"],
}


def cpu_seconds() -> float:
    """CPU time of the process (all threads) and its finished children (espeak-ng), in seconds."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def stream_speed(config, request, repeats: int = 3) -> tuple[float, float]:
    """(rtf on CPU time, median first-frame ms) of a request on warm streams."""
    firsts, audio_s, cpu_s = [], 0.0, 0.0
    out = None
    for i in range(repeats):
        stream = VoiceStream(config, seed=i)
        out = np.zeros(stream.n_bins)
        start = time.perf_counter()
        cpu0 = cpu_seconds()
        request(stream)
        while not stream.next_frame(out):
            time.sleep(0.0002)
        firsts.append(1000 * (time.perf_counter() - start))
        frames = 1 + len(render_offline(stream))
        cpu_s += cpu_seconds() - cpu0
        audio_s += frames * stream.hop_s
        stream.close()
    return audio_s / cpu_s, float(np.median(firsts))


def held_out_mcd(config, corpus, code) -> tuple[float, float]:
    """MCD of the model, and of the baseline that always says the training corpus's mean
    envelope."""
    stream = VoiceStream(config)
    ck = stream.model
    scores, baseline = [], []
    for i in np.flatnonzero(corpus.languages == CODES.index(code)):
        ids = ck.phoneme_ids(corpus.phonemes[i])
        _, log_power, _, _ = synthesize_phrase(
            ck.model,
            ck.normaliser,
            ids,
            np.full(len(ids), corpus.languages[i]),
            int(corpus.styles[i]),
            durations=corpus.durations[i],
        )
        scores.append(mcd_db(corpus.log_power[i].astype(np.float64), log_power))
        mean = np.broadcast_to(ck.normaliser.mean, log_power.shape)
        baseline.append(mcd_db(corpus.log_power[i].astype(np.float64), mean))
    stream.close()
    return float(np.mean(scores)), float(np.mean(baseline))


def per_phoneme_logp(model: NgramModel, word) -> float:
    return model.log_probability(word) / (len(word) + 1)


def babble_quality(code: str, n: int = 1000) -> tuple[float, float]:
    words = lexicon(code)
    vocab = shared_vocab()
    judge = NgramModel(vocab, words[0::2])
    generator_model = NgramModel(vocab, words[1::2])
    generated = AsemicGenerator(
        BabbleSettings({code: 1.0}, likeness=0.8), seed=0, models={code: generator_model}
    ).words(n)
    known = real_words(code)
    novel = float(np.mean([w not in known for _, w in generated]))
    real_scores = np.array([per_phoneme_logp(judge, w) for w in words[1::2][:4000]])
    generated_scores = np.array([per_phoneme_logp(judge, w) for _, w in generated])
    percentile = 100.0 * float(np.mean(real_scores <= np.median(generated_scores)))
    return novel, percentile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="write the rows here")
    parser.add_argument("--languages", default=",".join(CODES), help="comma-separated codes")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    codes = [c for c in args.languages.split(",") if c]
    config = load_config()
    espeak_config = dataclasses.replace(
        config, voice=dataclasses.replace(config.voice, engine="espeak")
    )
    started = time.perf_counter()
    held_out = build_corpus(config, 5, seed=HELD_OUT_SEED, codes=tuple(codes), progress=False)
    rows = []
    for code in codes:
        neural = dataclasses.replace(config, voice=dataclasses.replace(config.voice, language=code))
        espeak = dataclasses.replace(
            espeak_config, voice=dataclasses.replace(espeak_config.voice, language=code)
        )
        text = ", ".join(SENTENCES[code])
        rtf, first = stream_speed(neural, lambda s: s.say(text))
        mcd, mcd_baseline = held_out_mcd(neural, held_out, code)
        rows.append(
            {
                "case": "speech",
                "language": code,
                "rtf_cpu": rtf,
                "first_frame_ms": first,
                "mcd_db": mcd,
                "novel_word_ratio": None,
                "phonotactic_percentile": None,
            }
        )
        rows.append(
            {
                "case": "mean-envelope",
                "language": code,
                "rtf_cpu": None,
                "first_frame_ms": None,
                "mcd_db": mcd_baseline,
                "novel_word_ratio": None,
                "phonotactic_percentile": None,
            }
        )
        rtf, first = stream_speed(espeak, lambda s: s.say(text))
        rows.append(
            {
                "case": "espeak",
                "language": code,
                "rtf_cpu": rtf,
                "first_frame_ms": first,
                "mcd_db": None,
                "novel_word_ratio": None,
                "phonotactic_percentile": None,
            }
        )
        rtf, first = stream_speed(neural, lambda s: s.babble(12))
        novel, percentile = babble_quality(code)
        rows.append(
            {
                "case": "babble",
                "language": code,
                "rtf_cpu": rtf,
                "first_frame_ms": first,
                "mcd_db": None,
                "novel_word_ratio": novel,
                "phonotactic_percentile": percentile,
            }
        )
        for row in rows[-4:]:
            shown = {k: (f"{v:.3g}" if isinstance(v, float) else v) for k, v in row.items()}
            print(" ".join(f"{k}={v}" for k, v in shown.items()), flush=True)
    print(f"{len(rows)} rows in {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
        print(f"wrote {len(rows)} rows to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
