"""The voice as an engine source: text or babble in, one STFT magnitude frame per hop out.

:class:`VoiceStream` is what the engine's DSP thread calls once per hop. Requests (``say``,
``babble``) and controls (``set``) only post work and change targets, so they are cheap on any
thread; a worker thread phonemizes, generates asemic words and runs the acoustic model one phrase
at a time (the look-ahead is one phrase), filling a bounded ring of per-hop synthesis parameters
(:mod:`caminos.models.voice.queue`). :meth:`VoiceStream.next_frame` reads the ring at the speaking
rate and
renders the harmonic-plus-noise magnitude frame for the current, smoothed pitch, formant and
breathiness (:mod:`caminos.models.voice.envelope`), so prosody controls act at the next hop without
clicks. With ``voice.engine = "espeak"`` the worker instead analyses espeak-ng's own audio into
magnitude frames. :func:`render_offline` runs the same stream to the end without real-time pacing:
a streamed utterance equals its offline render (tested).

Why this file is longer than 500 lines: the voice as a source: the consumer's per-hop reading and
rendering and the worker's phrasing (thread or process) share the ring and the request generations.
"""

from __future__ import annotations

import atexit
import math
import multiprocessing as mp
import os
import threading
import time
import weakref
from collections import deque
from typing import Iterator

import numpy as np

from caminos.engine.core.config import Config
from caminos.engine.core.errors import CaminosError
from caminos.models.voice.errors import VoiceError
from caminos.models.voice.frame_rows import APERIODICITY, INTONATION, LOG_POWER, N_BANDS, row_width
from caminos.models.voice.languages import language_index
from caminos.models.voice.phonemes import phonemize
from caminos.models.voice.queue import DONE, GENERATION, FrameRing
from caminos.models.voice.settings import VoiceSettings

REFERENCE_HZ = 110.0  # pitch 0 (A2)
VIBRATO_HZ = 5.5
JITTER_MEMORY = 0.95  # per-hop correlation of the pitch wander
FADE_HOPS = 3  # an interrupted sound fades out over this many hops
# RingReader.take's answers (caminos.models.voice.ring_reader, imported by the consumer only)
_SILENT, _TAKEN = 0, 2
RING_SECONDS = 6.0  # synthesis look-ahead held at most
WORKER_START_S = 300.0  # a worker process loads torch and the model: allow for a busy machine
PHRASE_WORDS = (3, 7)  # babble phrases hold this many words, inclusive
PAUSE = ("_:", "_")  # appended to each phrase, as espeak-ng ends a clause


_LIVE: "weakref.WeakSet[VoiceStream]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Stop every worker before the interpreter tears torch and espeak-ng down under them."""
    for stream in list(_LIVE):
        stream.close()


class VoiceStream:
    """Speech and babble, one magnitude frame per hop.

    Parameters
    ----------
    config : Config
        STFT settings, sample rate and the ``[voice]`` section (engine, checkpoint, initial
        language, prosody and babble controls).
    checkpoint : path, optional
        Voice model for the ``neural`` engine; defaults to ``config.voice.checkpoint``.
    seed : int
        Seeds the babble (words and phrase lengths), the jitter and the noise: same seed, same
        requests and same controls give the same frames.
    process : bool
        Run the worker in its own process (live): the model loads there, not here, and
        :attr:`worker_pid` names it. False (offline) runs it in a thread of this process.

    Raises
    ------
    CheckpointError
        The neural engine's checkpoint is missing, corrupt or made for other STFT settings.
    VoiceError
        The worker process could not start (its error is repeated).
    """

    def __init__(
        self,
        config: Config,
        checkpoint: str | os.PathLike | None = None,
        seed: int = 0,
        process: bool = False,
        _attach: str | None = None,
    ) -> None:
        voice = config.voice
        self.config = config
        self.engine = voice.engine
        self.n_bins = config.stft.n_bins
        self.sample_rate = config.audio.sample_rate
        self.hop_s = config.stft.hop / self.sample_rate
        self.seed = int(seed)
        self.model = None
        self.process = bool(process)
        if self.engine == "neural" and not self.process:  # a worker process loads its own
            import torch
            from caminos.models.voice.checkpoint import load_voice_checkpoint

            self.device = "cuda" if torch.cuda.is_available() else "cpu"
            path = checkpoint if checkpoint is not None else voice.checkpoint_path()
            self.model = load_voice_checkpoint(path, config.stft, self.sample_rate, self.device)
        # Only the consumer renders frames: a worker process (``_attach``) writes rows, and never
        # loads the renderer's compiled kernels (numba and LLVM: 128 of its 380 MB).
        self.renderer = _frame_renderer(config, self.seed) if _attach is None else None
        width = row_width(self.engine, self.n_bins)
        self.ring = FrameRing(
            int(RING_SECONDS / self.hop_s), width, shared=self.process, name=_attach
        )
        self._row = np.zeros(width)
        self._row_after = np.zeros(width)
        # the neural engine's parts of a row, as views made once
        self._log_power, self._aperiodicity = self._row[LOG_POWER], self._row[APERIODICITY]
        # each level of a fade-out as a 0-d array: numpy multiplies by it without making one
        self._fade_levels = tuple(np.array(k / (FADE_HOPS + 1)) for k in range(FADE_HOPS + 1))
        self._last = np.zeros(self.n_bins)
        self.settings = VoiceSettings(config, self.seed, changed=self._forward)
        self.prosody = self.settings.prosody  # read each hop
        self._rate = self.prosody["rate"]
        self._warm_up()
        self.last_error: str | None = None
        self._jobs: deque = deque()
        self._wake = threading.Condition()
        self._worker: threading.Thread | None = None
        self._closed = False
        self._busy = False
        self._busy_generation = 0
        self._requested = 0  # process mode: the generation of the last job sent
        self._conn = None
        self._process = None
        if _attach is not None:  # the worker's side of a process-mode stream: no consumer state
            return
        self._reader = _ring_reader(self.ring)
        self.reset()
        if self.process:
            self._start_process(checkpoint)

    @property
    def generation(self) -> int:
        """The request now playing; rows of other generations are skipped (shared with the
        worker, which abandons a request as soon as it is no longer this one)."""
        return int(self.ring.state[GENERATION])

    @generation.setter
    def generation(self, value: int) -> None:
        self.ring.state[GENERATION] = value

    @property
    def position(self) -> float:
        """The consumer's position in the ring, in rows (fractional)."""
        return self._reader.position

    @position.setter
    def position(self, value: float) -> None:
        self._reader.position = value

    @property
    def worker_pid(self) -> int:
        """Process id of the worker: another process live, this one offline."""
        return self._process.pid if self._process is not None else os.getpid()

    def _start_process(self, checkpoint) -> None:
        context = mp.get_context("spawn")
        here, there = context.Pipe()
        self._process = context.Process(
            target=_worker_main,
            name="caminos-voice",
            daemon=True,
            args=(
                self.config,
                checkpoint,
                self.seed,
                self.ring.name,
                self.ring.capacity,
                self.ring.width,
                there,
                os.getpid(),
            ),
        )
        self._process.start()
        there.close()
        self._conn = here
        _LIVE.add(self)
        if not here.poll(WORKER_START_S):
            self.close()
            raise VoiceError(f"the voice process did not start in {WORKER_START_S:.0f} s")
        try:
            kind, detail = here.recv()
        except EOFError:
            kind, detail = "error", f"it exited with status {self._process.exitcode}"
        if kind != "ready":
            self.close()
            raise VoiceError(f"the voice process failed: {detail}")

    def _warm_up(self) -> None:
        """Run the model and the renderer once, so the first request pays no start-up cost."""
        if self.model is not None:
            from caminos.models.voice.acoustic import synthesize_phrase

            ck = self.model
            synthesize_phrase(
                ck.model,
                ck.normaliser,
                ck.phoneme_ids(["a", "_"]),
                np.zeros(2, int),
                0,
                self.device,
            )
        if self.renderer is not None:
            scratch = np.zeros(self.n_bins)
            # breathy, so every kernel a frame may take is compiled now, not at the first sound
            self.renderer.render(
                np.zeros(N_BANDS), np.zeros(N_BANDS), REFERENCE_HZ, scratch, breathiness=0.5
            )
            self.renderer.reset()

    # -- requests, from any thread -------------------------------------------------------------
    def say(self, text: str) -> None:
        """Speak ``text`` in the current language, interrupting whatever is sounding; raises
        as :meth:`caminos.models.voice.settings.VoiceSettings.say` checks it."""
        self._request("say", self.settings.say(text))

    def babble(self, words: int) -> None:
        """Babble ``words`` asemic words (0 to 10000), interrupting; 0 stops the voice."""
        words = self.settings.babble(words)
        self._request("babble" if words else None, words)

    def stop(self) -> None:
        """Fade the voice out and drop what is queued."""
        self.babble(0)

    def set(self, name: str, value) -> None:
        """Change a control (:meth:`caminos.models.voice.settings.VoiceSettings.set`): the
        prosody glides there from the next hop, the others apply to the next phrase."""
        self.settings.set(name, value)

    def get(self, name: str):
        """Current target of a control (as :meth:`set` takes it)."""
        return self.settings.get(name)

    def _forward(self, name: str, value) -> None:
        """A changed control, to the worker process when it phrases with it."""
        if self._conn is not None and name not in _CONSUMER_ONLY:
            self._send(("set", name, value))

    def reset(self) -> None:
        """Silence at once: drop queued requests and frames, controls at their targets."""
        self.generation = getattr(self, "generation", 0) + 1
        self._jobs.clear()
        self.ring.clear()
        self.position = float(self.ring.written)
        if self.renderer is not None:
            self.renderer.reset()
        self._jitter_random = _kernel_random(self.seed + 2)
        self._jitter = 0.0
        self._vibrato_phase = 0.0
        self.settings.land()
        self._fade = 0
        self._sounding = False

    @property
    def active(self) -> bool:
        """True while something is sounding or about to (queued requests, frames, a fade)."""
        return bool(self._fade or self._pending() or self._reader.holds_request())

    def _pending(self) -> bool:
        """The worker has, or is working on, a request of the current generation."""
        if self._conn is not None:  # a worker process marks each request done in the ring
            return (
                self._requested == self.generation and int(self.ring.state[DONE]) < self._requested
            )
        # (a worker thread serves the consumer's own stream: the generation is compared in
        # the ring, no int made on the hop)
        return bool(self._jobs) or (self._busy and self._reader.plays(self._busy_generation))

    def close(self) -> None:
        """Stop the worker (thread or process) and wait for it (at most 2 s); the stream can no
        longer speak."""
        if self._closed:
            return
        self._closed = True
        self.reset()
        with self._wake:
            self._wake.notify_all()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=2.0)
        process, self._process = self._process, None
        if process is not None:
            self._send(("close",))
            process.join(timeout=2.0)
            if process.is_alive():
                process.kill()
                process.join(timeout=2.0)
            self._conn.close()
            self._conn = None
            self.ring.close()

    def _send(self, message: tuple) -> None:
        """To the worker process: a small pickle written to its pipe, which a thread there reads
        at once, so the pipe never fills while the worker is busy with a phrase."""
        try:
            self._conn.send(message)
        except (OSError, ValueError) as exc:  # the worker died: the voice falls silent
            self.last_error = f"voice process: {exc}"

    def _request(self, kind: str | None, payload) -> None:
        if self._sounding:
            self._fade = FADE_HOPS
        self.generation += 1
        self._jobs.clear()
        if kind is not None:
            if self._closed:
                raise VoiceError("this voice stream is closed")
            if self._conn is not None:
                self._requested = self.generation
                self._send(("job", self.generation, kind, payload))
                return
            self._ensure_worker()
            self._jobs.append((self.generation, kind, payload))
            with self._wake:
                self._wake.notify_all()

    # -- the DSP thread ------------------------------------------------------------------------
    def next_frame(self, out: np.ndarray) -> bool:
        """Write the next hop's magnitude frame into ``out`` (shape (n_bins,), float64).

        Returns False, with ``out`` zeroed, when the voice is silent (nothing requested, or the
        worker has not caught up). Never raises; a failure is kept in :attr:`last_error`.
        """
        try:
            return self._next_frame(out)
        except Exception as exc:  # the DSP thread must go on whatever happens here
            self.last_error = f"next_frame: {type(exc).__name__}: {exc}"
            out[:] = 0.0
            return False

    def _next_frame(self, out: np.ndarray) -> bool:
        # Nothing here allocates: the ring's bookkeeping and the interpolation are one
        # compiled call (RingReader.take), the rest reuses buffers and views made once.
        if self._fade:
            np.multiply(self._last, self._fade_levels[self._fade], out=out)
            self._fade -= 1
            self._sounding = False
            return True
        process = self._conn is not None
        found = self._reader.take(
            self._requested if process else -1,
            not process and self._pending(),
            self._row,
            self._row_after,
        )
        if found != _TAKEN:
            out.fill(0.0)
            if found == _SILENT:
                self._sounding = False
            return False
        if self._sounding:
            self.settings.glide()
        else:  # starting from silence: nothing to glide from
            self.settings.land()
        if self.engine == "neural":
            self._render(out)
        else:
            np.copyto(out, self._row)
        self._reader.advance(self._rate.value)
        np.copyto(self._last, out)
        self._sounding = True
        return True

    def _render(self, out: np.ndarray) -> None:
        v = self.prosody
        self._jitter = (
            JITTER_MEMORY * self._jitter
            + math.sqrt(1 - JITTER_MEMORY**2) * self._jitter_random.standard_normal_value()
        )
        self._vibrato_phase = (self._vibrato_phase + 2 * math.pi * VIBRATO_HZ * self.hop_s) % (
            2 * math.pi
        )
        semitones = (
            v["pitch"].value
            + v["range"].value * self._row.item(INTONATION)
            + v["vibrato"].value * math.sin(self._vibrato_phase)
            + v["jitter"].value * self._jitter
        )
        f0 = REFERENCE_HZ * 2.0 ** (semitones / 12.0)
        self.renderer.render(
            self._log_power,
            self._aperiodicity,
            f0,
            out,
            formant=2.0 ** (v["formant"].value / 12.0),
            breathiness=v["breathiness"].value,
        )

    # -- the worker thread ---------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            _LIVE.add(self)
            self._worker = threading.Thread(target=self._work, name="caminos-voice", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        self._phrase_rng = np.random.default_rng(self.seed + 3)
        while not self._closed:
            with self._wake:
                while not self._jobs and not self._closed:
                    # no timeout: a request and close() notify it under this lock, and an idle
                    # voice never wakes (a waiting Condition makes a lock each time it waits)
                    self._wake.wait()
                if self._closed:
                    return
                # busy before the job leaves the queue, so `active` never sees a gap
                self._busy_generation = self.generation
                self._busy = True
                try:
                    generation, kind, payload = self._jobs.popleft()
                    self._busy_generation = generation
                except IndexError:
                    self._busy = False
                    continue
            wanted = lambda: generation == self.generation and not self._closed  # noqa: E731
            try:
                for rows in self._phrases(kind, payload, wanted):
                    if not self.ring.push(rows, generation, wanted):
                        break
            except CaminosError as exc:
                self.last_error = str(exc)
            except Exception as exc:  # a worker failure must not kill the voice
                self.last_error = f"voice worker: {type(exc).__name__}: {exc}"
            finally:
                self._busy = False
                self.ring.state[DONE] = generation
                with self.ring.changed:
                    self.ring.changed.notify_all()

    def _phrases(self, kind: str, payload, wanted) -> Iterator[np.ndarray]:
        if kind == "say" and self.engine == "espeak":
            yield self._espeak_frames(payload, self.settings.language, phonemes=False)
        elif kind == "say":
            code = self.settings.language
            for clause in phonemize(payload, code):
                if not wanted():
                    return
                yield self._phrase([(code, tuple(word)) for word in clause])
        else:
            left = payload
            while left > 0 and wanted():
                n = min(int(self._phrase_rng.integers(PHRASE_WORDS[0], PHRASE_WORDS[1] + 1)), left)
                yield self._phrase(self.settings.generator.words(n))
                left -= n

    def _phrase(self, words: list[tuple[str, tuple[str, ...]]]) -> np.ndarray:
        """Rows of one phrase (a clause, or a group of babbled words)."""
        if self.engine == "espeak":
            return self._espeak_phrase(words)
        from caminos.models.voice.acoustic import synthesize_phrase

        mnemonics, languages = [], []
        for code, word in words:
            mnemonics.extend(word)
            languages.extend([language_index(code)] * len(word))
        mnemonics.extend(PAUSE)
        languages.extend([languages[-1]] * len(PAUSE))
        ck = self.model
        _, log_power, aperiodicity, intonation = synthesize_phrase(
            ck.model,
            ck.normaliser,
            ck.phoneme_ids(mnemonics),
            np.array(languages),
            min(self.settings.style, ck.model.shape.n_styles - 1),
            self.device,
        )
        return np.hstack([log_power, aperiodicity, intonation[:, None]])

    def _espeak_phrase(self, words: list[tuple[str, tuple[str, ...]]]) -> np.ndarray:
        text = "[[" + " ".join("".join(w) for _, w in words) + "]]"
        return self._espeak_frames(text, words[0][0], phonemes=True)

    def _espeak_frames(self, text: str, code: str, phonemes: bool) -> np.ndarray:
        """espeak-ng's audio of ``text`` as magnitude frames; pitch, range, style set now."""
        import soxr

        from caminos.engine.dsp.spectral import stft as stft_frames
        from caminos.models.voice.teacher import VARIANTS, speak

        pitch = int(min(max(50 + 2.0 * self.prosody["pitch"].target, 0), 99))
        spread = int(min(max(12.5 * self.prosody["range"].target, 0), 99))
        spoken = speak(
            text,
            code,
            pitch=pitch,
            pitch_range=spread,
            variant=VARIANTS[self.settings.style],
            phonemes=phonemes,
        )
        audio = soxr.resample(spoken.audio, spoken.sample_rate, self.sample_rate)
        return np.abs(stft_frames(audio, self.config.stft))

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        """Block until the next hop's rows are written or the worker is idle (offline use only)."""
        reader = self._reader
        if not (reader.short_of(2) and self._pending()):  # ready: nothing made, nothing waited
            return
        deadline = time.monotonic() + timeout_s
        with self.ring.changed:
            while reader.short_of(2) and self._pending() and time.monotonic() < deadline:
                self.ring.changed.wait(0.01)


def _ring_reader(ring: FrameRing):
    """The consumer's :class:`~caminos.models.voice.ring_reader.RingReader` (imported here: a
    worker process, which only writes rows, never loads numba)."""
    from caminos.models.voice.ring_reader import RingReader

    return RingReader(ring)


def _kernel_random(seed: int):
    """A generator drawn from in kernels (:mod:`caminos.engine.dsp.random_stream`), the
    consumer's, imported here for the same reason."""
    from caminos.engine.dsp.random_stream import KernelRandom

    return KernelRandom(np.random.default_rng(seed))


def _frame_renderer(config: Config, seed: int):
    """The consumer's :class:`~caminos.models.voice.envelope.FrameRenderer` (imported here, so
    a worker process that only runs the acoustic model never loads its numba kernels)."""
    from caminos.models.voice.envelope import FrameRenderer

    return FrameRenderer(config.stft, config.audio.sample_rate, seed=seed)


# Controls that only shape the per-hop rendering on the consumer's side (glides, vibrato).
_CONSUMER_ONLY = frozenset({"rate", "vibrato", "jitter", "breathiness", "formant"})


def _worker_main(
    config: Config, checkpoint, seed: int, ring: str, capacity: int, width: int, conn, parent: int
) -> None:
    """Body of a voice worker process: load the model, then phrase requests into the ring.

    A reader thread takes every message off the pipe as it arrives (requests, settings, close)
    and hands it to the worker loop (:meth:`VoiceStream._work`, the same as a worker thread
    runs), so the engine's side never waits on a full pipe.
    """
    try:
        import torch

        torch.set_num_threads(1)
        stream = VoiceStream(config, checkpoint, seed, _attach=ring)
        if (stream.ring.capacity, stream.ring.width) != (capacity, width):
            raise VoiceError("the frame ring does not match the engine's")
    except Exception as exc:  # reported to the engine, which plays without a voice
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))

    def read() -> None:
        while not stream._closed:
            try:
                if not conn.poll(0.5):
                    if os.getppid() != parent:  # the engine's process died: do not linger
                        break
                    continue
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "job":
                _, generation, kind, payload = message
                with stream._wake:
                    stream._jobs.clear()
                    stream._jobs.append((generation, kind, payload))
                    stream._wake.notify_all()
            elif message[0] == "set":
                try:
                    stream.set(message[1], message[2])
                except VoiceError as exc:  # checked on the engine's side already
                    stream.last_error = str(exc)
            else:
                break
        stream._closed = True
        with stream._wake:
            stream._wake.notify_all()

    threading.Thread(target=read, name="caminos-voice-pipe", daemon=True).start()
    stream._work()
    stream.ring.close()


def render_offline(stream: VoiceStream, max_seconds: float = 600.0) -> np.ndarray:
    """Run a stream whose request is already posted to its end, without real-time pacing.

    Returns
    -------
    ndarray, shape (n_hops, n_bins), float64
        Every frame :meth:`VoiceStream.next_frame` wrote while the stream was active.
    """
    frames = []
    out = np.zeros(stream.n_bins)
    limit = int(max_seconds / stream.hop_s)
    while stream.active and len(frames) < limit:
        stream.wait_ready()
        if stream.next_frame(out):
            frames.append(out.copy())
    if stream.last_error:
        raise VoiceError(stream.last_error)
    return np.array(frames).reshape(-1, stream.n_bins)
