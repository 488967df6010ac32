"""The voice's commands: ``caminos say``, ``caminos babble`` and ``caminos train voice``.

Outermost layer over :mod:`caminos.models.voice.stream` (offline render of an utterance or of
babble) and
:mod:`caminos.models.voice.train`. :func:`register` adds ``say`` and ``babble`` to ``caminos``'s
subcommands; :func:`add_train_voice` adds ``voice`` under ``caminos train``. Offline renders go
through the same phase recovery, overlap-add, DC blocker and safety limiter as every other
command (:func:`caminos.engine.dsp.render.synthesize`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from caminos.engine.cli.options import add_config_options, check_output, load_with_overrides
from caminos.engine.core.errors import CaminosError

DEFAULT_MINUTES = 5.0
DEFAULT_UTTERANCES = 150


# The voice flags that set a [voice] key of the configuration, each blamed by name when invalid.
_VOICE_KEYS = ("language", "pitch", "rate", "range", "style", "temperature", "likeness", "engine")


def _config(args: argparse.Namespace):
    """The configuration with ``--set`` and the voice flags (``--language``, ...) applied."""
    extra = {
        f"voice.{name}": (f"--{name}", getattr(args, name))
        for name in _VOICE_KEYS
        if getattr(args, name, None) is not None
    }
    return load_with_overrides(args, extra)


def train_voice_command(args: argparse.Namespace) -> int:
    """``caminos train voice``: build or read the teacher corpus, train, write the checkpoint."""
    import torch
    from caminos.models.voice.corpus import TeacherCorpus, build_corpus
    from caminos.models.voice.train import train_voice

    config = _config(args)
    out = check_output(args.out)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    if args.data == "espeak":
        corpus = build_corpus(
            config, args.utterances, seed=args.seed, progress=not args.no_progress
        )
        source = f"espeak-ng teacher, {args.utterances} utterances per language, seed {args.seed}"
        if args.save_corpus:
            Path(args.save_corpus).mkdir(parents=True, exist_ok=True)
            print(f"corpus saved: {corpus.save(args.save_corpus)}")
    else:
        corpus = TeacherCorpus.load(args.data)
        source = f"saved teacher corpus {args.data}"
    corpus_seconds = time.perf_counter() - started
    provenance = {
        "command": "caminos " + " ".join(getattr(args, "argv", []) or []),
        "corpus": source,
        "corpus_seconds": corpus_seconds,
    }
    result = train_voice(
        corpus,
        out,
        config,
        minutes=args.minutes,
        max_epochs=args.epochs,
        width=args.width,
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress,
        provenance=provenance,
    )
    print(
        f"{out}: voice model, {result.parameters} parameters, {len(corpus)} utterances "
        f"({corpus.hops} hops), corpus {corpus_seconds:.0f} s, training {result.seconds:.0f} s, "
        f"{result.epochs} epochs (best {result.best_epoch}), validation MCD "
        f"{result.mcd_db:.2f} dB, duration error {result.duration_error_hops:.2f} hops"
    )
    return 0


def add_train_voice(kinds: argparse._SubParsersAction) -> None:
    """Add ``voice`` to the models of ``caminos train``."""
    voice = kinds.add_parser(
        "voice",
        help="the voice's acoustic model",
        description="Train the voice's acoustic model on a teacher corpus: 'espeak' builds one "
        "with espeak-ng (random rates, pitches, ranges and variants; real and "
        "asemic sentences in every language), a folder reads one saved with "
        "--save-corpus. Stops after --minutes and keeps the best epoch.",
    )
    voice.add_argument(
        "--data",
        required=True,
        metavar="DIR|espeak",
        help="'espeak' or a folder holding voice_corpus.npz",
    )
    voice.add_argument("--out", required=True, metavar="PATH", help="checkpoint to write (.pt)")
    voice.add_argument(
        "--minutes",
        type=float,
        default=DEFAULT_MINUTES,
        help=f"training time budget in minutes (default {DEFAULT_MINUTES:g})",
    )
    voice.add_argument("--epochs", type=int, default=1000, help="most epochs (default 1000)")
    voice.add_argument(
        "--utterances",
        type=int,
        default=DEFAULT_UTTERANCES,
        help=f"teacher utterances per language (default {DEFAULT_UTTERANCES})",
    )
    voice.add_argument("--width", type=int, default=128, help="model channels (default 128)")
    voice.add_argument("--save-corpus", metavar="DIR", help="also write the teacher corpus here")
    voice.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    voice.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    voice.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")
    voice.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_options(voice)
    voice.set_defaults(handler=train_voice_command)


def _render(args: argparse.Namespace, request) -> int:
    """Make a stream, apply the command's controls, post the request, render, write."""
    from caminos.engine.dsp.render import synthesize
    from caminos.models.voice.stream import VoiceStream, render_offline

    config = _config(args)
    out = check_output(args.output)
    started = time.perf_counter()
    stream = VoiceStream(config, checkpoint=args.voice_model, seed=args.seed)
    try:
        for name in ("vibrato", "jitter", "breathiness", "formant", "word_length"):
            value = getattr(args, name, None)
            if value is not None:
                stream.set(name, value)
        if getattr(args, "mix", None):
            stream.set("mix", args.mix)
        request(stream)
        frames = render_offline(stream, max_seconds=getattr(args, "seconds", None) or 600.0)
        languages = stream.get("mix") if getattr(args, "mix", None) else stream.get("language")
    finally:
        stream.close()
    if not len(frames):
        raise CaminosError("the voice produced no sound")
    n_samples = len(frames) * config.stft.hop
    peak = synthesize(frames, out, config, args.phase or config.phase.method, n_samples)
    seconds = n_samples / config.audio.sample_rate
    wall = time.perf_counter() - started
    print(
        f"{out}: {seconds:.2f} s of voice ({config.voice.engine}, {languages}), "
        f"peak {peak:.1f} dBFS, rendered in {wall:.2f} s ({seconds / wall:.1f}x real time)"
    )
    return 0


def say_command(args: argparse.Namespace) -> int:
    """``caminos say TEXT -o OUT``."""
    return _render(args, lambda stream: stream.say(args.text))


def babble_command(args: argparse.Namespace) -> int:
    """``caminos babble --seconds S -o OUT``: asemic words until the duration is filled."""
    from caminos.models.voice.errors import VoiceError

    if not (args.seconds > 0 and args.seconds <= 600):
        raise VoiceError(f"--seconds must lie in (0, 600], got {args.seconds}")
    # About 3 words per second at rate 1; ask for more than enough and cut at the duration.
    words = min(10000, int(args.seconds * 4 * max(args.rate or 1.0, 1.0)) + 4)
    return _render(args, lambda stream: stream.babble(words))


def _add_voice_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="OUT", required=True, help="sound file to write")
    parser.add_argument(
        "--language", help="es, en, fr, de, it, pt, ca or nl (default: voice.language)"
    )
    parser.add_argument("--engine", choices=("neural", "espeak"), help="default: voice.engine")
    parser.add_argument("--pitch", type=float, help="semitones relative to 110 Hz (default 0)")
    parser.add_argument("--range", type=float, help="intonation range in semitones (default 4)")
    parser.add_argument("--rate", type=float, help="speaking rate, 1 the model's own")
    parser.add_argument("--style", type=int, help="0 default, 1-7 male, 8-11 female")
    parser.add_argument("--vibrato", type=float, help="vibrato depth in semitones")
    parser.add_argument("--jitter", type=float, help="random pitch wander in semitones")
    parser.add_argument("--breathiness", type=float, help="0 .. 1")
    parser.add_argument("--formant", type=float, help="formant shift in semitones")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--phase", metavar="METHOD", help="phase recovery (default: phase.method)")
    parser.add_argument(
        "--voice-model", metavar="CHECKPOINT", help="voice checkpoint (default: voice.checkpoint)"
    )
    add_config_options(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``say`` and ``babble`` to ``caminos``'s subcommands."""
    say = subparsers.add_parser(
        "say",
        help="speak a text into a sound file",
        description="Speak TEXT with the voice (neural or espeak engine) "
        "and write it through phase recovery.",
    )
    say.add_argument("text", metavar="TEXT")
    _add_voice_options(say)
    say.set_defaults(handler=say_command)

    babble = subparsers.add_parser(
        "babble",
        help="babble asemic words into a sound file",
        description="Invented words with the sound of a language (or "
        "a mix), written through phase recovery.",
    )
    babble.add_argument("--seconds", type=float, required=True, help="duration in seconds")
    babble.add_argument("--temperature", type=float, help="0.05 .. 5 (default 1)")
    babble.add_argument(
        "--likeness",
        type=float,
        help="0 phoneme noise .. 0.9 phonotactics .. 1 real words (default 0.8)",
    )
    babble.add_argument("--word-length", dest="word_length", type=float, help="0.25 .. 4")
    babble.add_argument("--mix", help="language weights, e.g. 'es:1,fr:0.5' (overrides --language)")
    _add_voice_options(babble)
    babble.set_defaults(handler=babble_command)
