"""The engine's phase stage: the live phase method, its overlap-add, and click-free switching.

Sixth and seventh stages of ``Engine.tick()``: one magnitude frame per voice in, one hop of
samples per voice out. Each voice has its own method state, random seed and overlap-add, and an
optional spectral decorrelator (:mod:`caminos.engine.dsp.decorrelate`) between them.
Every method is aligned to the engine's look-ahead (a method with less look-ahead has its input
delayed by the difference), so switching methods keeps the timing; the outgoing and incoming
methods run side by side for the crossfade, each with its own overlap-add, and their samples are
crossfaded linearly. Building a method allocates, so it happens in the thread that posts the
change (:meth:`PhaseStage.build`); :meth:`PhaseStage.process` allocates nothing.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from caminos.engine.core.config import PhaseConfig, StftConfig
from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.dsp.decorrelate import PhaseDecorrelator, decorrelation_gain
from caminos.engine.dsp.phase import STREAMING_METHODS, make_streaming
from caminos.engine.dsp.phase.base import StreamingPhase
from caminos.engine.dsp.spectral import OverlapAddSynthesizer


class PhaseVoice:
    """One streaming method with the frame delay that aligns it, and its own overlap-add.

    Parameters
    ----------
    method : StreamingPhase
    lookahead : int
        The engine's look-ahead in frames; ``lookahead - method.lookahead_frames`` frames of
        delay are put before the method (never negative: methods are built with at most it).
    """

    def __init__(self, method: StreamingPhase, lookahead: int) -> None:
        stft = method.stft
        self.method = method
        self.lookahead = int(lookahead)
        self.delay = max(self.lookahead - method.lookahead_frames, 0)
        self._mags = np.zeros((self.delay + 1, stft.n_bins))
        self._refs = np.zeros((self.delay + 1, stft.n_bins), dtype=np.complex128)
        self._slot = 0
        self._frame = np.zeros(stft.n_bins, dtype=np.complex128)
        self._synth = OverlapAddSynthesizer(stft, max_pending=stft.hop)

    @property
    def name(self) -> str:
        """The method's name (``/phase/method``)."""
        return self.method.name

    def process(
        self,
        magnitude: np.ndarray,
        reference: np.ndarray,
        out: np.ndarray,
        rotation: np.ndarray | None = None,
    ) -> None:
        """Push one frame, write one hop of samples into ``out`` (shape (hop,)); the complex
        frame is multiplied by ``rotation`` (unit phasors, a decorrelator's) on its way to the
        overlap-add."""
        if self.delay:
            slot = self._slot
            oldest = (slot + 1) % (self.delay + 1)
            self._mags[slot] = magnitude
            self._refs[slot] = reference
            self.method.process(self._mags[oldest], self._frame, self._refs[oldest])
            self._slot = oldest
        else:
            self.method.process(magnitude, self._frame, reference)
        if rotation is not None:
            self._frame *= rotation
        self._synth.push_frame(self._frame)
        self._synth.pull(out)

    def reset(self) -> None:
        """Forget all frames."""
        self.method.reset()
        self._mags[:] = 0.0
        self._refs[:] = 0.0
        self._synth.reset()


class PhaseStage:
    """The live phase method of every voice; switches to another with a crossfade of
    ``crossfade_hops`` hops.

    Parameters
    ----------
    stft : StftConfig
    phase : PhaseConfig
        Tolerance and seed for the methods that use them; voice ``k`` plays with seed
        ``phase.seed + seed_offsets[k]``.
    method : str
        The starting method, a streaming one.
    lookahead, iterations : int
        Look-ahead in frames and iterations per frame.
    crossfade_hops : int
        Length of a method switch in hops (0: an immediate switch).
    seed_offsets : sequence of int, optional
        One per voice (default ``(0,)``: one voice with the configured seed). A voice's offset
        also seeds its decorrelator, so a voice sounds the same whichever others play beside it.
    """

    def __init__(
        self,
        stft: StftConfig,
        phase: PhaseConfig,
        method: str,
        lookahead: int,
        iterations: int,
        crossfade_hops: int,
        seed_offsets=(0,),
    ) -> None:
        self.stft = stft
        self.phase = phase
        self.lookahead = int(lookahead)
        self.iterations = int(iterations)
        self.crossfade_hops = int(crossfade_hops)
        self.seed_offsets = tuple(int(k) for k in seed_offsets)
        self.voices = len(self.seed_offsets)
        self.decorrelators = tuple(
            PhaseDecorrelator(stft.n_bins, _seed(phase.seed, 7919 + k)) for k in self.seed_offsets
        )
        self.current = self.build(method)
        self.incoming: tuple[PhaseVoice, ...] | None = None
        self._fade_done = 0
        hop = stft.hop
        # a switch's scratch, one row per voice: voices may run on several threads
        self._mine = np.zeros((self.voices, hop))
        self._theirs = np.zeros((self.voices, hop))
        self._ramp = np.arange(1, hop + 1) / hop  # 1/hop .. 1 within one hop
        self._weight = np.zeros((self.voices, hop))
        self.switches = 0

    def build(self, method: str, lookahead: int | None = None) -> tuple[PhaseVoice, ...]:
        """Build (allocate) a method for every voice, aligned to ``lookahead`` (default: the
        current one).

        Raises
        ------
        ParameterError
            Unknown or offline-only method.
        """
        lookahead = self.lookahead if lookahead is None else int(lookahead)
        built = []
        for offset in self.seed_offsets:
            phase = (
                self.phase
                if offset == 0
                else replace(self.phase, seed=_seed(self.phase.seed, offset))
            )
            streaming = make_streaming(
                method, self.stft, phase, lookahead=lookahead, iterations=self.iterations
            )
            built.append(PhaseVoice(streaming, lookahead))
        return tuple(built)

    @property
    def method(self) -> str:
        """Name of the method now playing (the incoming one once a switch has begun)."""
        return (self.incoming or self.current)[0].name

    @property
    def latency_samples(self) -> int:
        """The look-ahead's delay in samples (``lookahead * hop``), what the stage adds to every
        path; it changes with ``/phase/lookahead``."""
        return self.lookahead * self.stft.hop

    def switch(self, voices: tuple[PhaseVoice, ...]) -> None:
        """Start crossfading to built methods (:meth:`build`); their look-ahead becomes the
        stage's.

        A switch during a switch replaces the incoming methods and restarts the fade.
        """
        for voice in voices:
            voice.reset()
        self.lookahead = voices[0].lookahead
        if self.crossfade_hops == 0:
            self.current, self.incoming = voices, None
        else:
            self.incoming = voices
            self._fade_done = 0
        self.switches += 1

    def controls(self) -> ControlTable:
        """The ``/phase/*`` controls of the live phase stage, as data."""
        table = ControlTable()
        add = table.add
        add(
            "/phase/method",
            (Arg("method", "s", choices=STREAMING_METHODS),),
            "live phase recovery; switches with a crossfade of engine.crossfade_ms",
            self.switch,
            self._method,
            "phase",
            prepare=self.build,
        )
        add(
            "/phase/lookahead",
            (Arg("frames", "i", 0, 8, "hops"),),
            "look-ahead of the phase method in frames; changes the latency by a hop per frame",
            self.switch,
            self._lookahead,
            "phase",
            prepare=self._build_lookahead,
        )
        add(
            "/phase/iterations",
            (Arg("iterations", "i", 1, 200),),
            "iterations per frame (rtisi-la, gsrtisi-la, rtpghi+gsrtisi)",
            self.set_iterations,
            self._iterations,
            "phase",
        )
        return table

    def _method(self) -> tuple[str]:
        return (self.method,)

    def _lookahead(self) -> tuple[int]:
        return (self.lookahead,)

    def _iterations(self) -> tuple[int]:
        return (self.iterations,)

    def _build_lookahead(self, frames: int) -> tuple[PhaseVoice, ...]:
        return self.build(self.method, frames)

    def set_iterations(self, iterations: int) -> None:
        """Iterations per frame of the playing methods, from the next frame on."""
        self.iterations = int(iterations)
        for voices in (self.current, self.incoming):
            for voice in voices or ():
                _set_iterations(voice.method, self.iterations)

    def process(
        self,
        magnitude: np.ndarray,
        reference: np.ndarray,
        out: np.ndarray,
        decorrelate: float = 0.0,
    ) -> None:
        """One frame in, one hop of samples out for a single-voice stage (shapes (n_bins,) and
        (hop,)); see :meth:`process_voice`."""
        self.process_voice(0, magnitude, reference, out, decorrelate)
        self.end_hop()

    def process_voice(
        self,
        k: int,
        magnitude: np.ndarray,
        reference: np.ndarray,
        out: np.ndarray,
        decorrelate: float = 0.0,
    ) -> None:
        """Voice ``k``'s frame in, its hop of samples out (shape (hop,)), crossfading during a
        switch; call :meth:`end_hop` once every voice has played its hop.

        Parameters
        ----------
        k : int
            The voice.
        magnitude : ndarray, shape (n_bins,)
            Its linear magnitudes this hop.
        reference : ndarray, shape (n_bins,), complex128
            The analysis frame of the source it follows (zeros when none), for ``input``.
        out : ndarray, shape (hop,)
            Receives its samples.
        decorrelate : float
            0 .. 1, the amount of its spectral decorrelator
            (:class:`caminos.engine.dsp.decorrelate.PhaseDecorrelator`); its level loss is made
            up (:func:`~caminos.engine.dsp.decorrelate.decorrelation_gain`).
        """
        rotation = self.decorrelators[k].step(decorrelate) if decorrelate > 0.0 else None
        incoming = self.incoming
        if incoming is None:
            self.current[k].process(magnitude, reference, out, rotation)
        else:
            mine, theirs, weight = self._mine[k], self._theirs[k], self._weight[k]
            self.current[k].process(magnitude, reference, mine, rotation)
            incoming[k].process(magnitude, reference, theirs, rotation)
            # Linear fade over crossfade_hops hops: the incoming method's weight, sample by sample.
            np.add(self._ramp, self._fade_done, out=weight)
            weight *= 1.0 / self.crossfade_hops
            np.subtract(theirs, mine, out=out)
            out *= weight
            out += mine
        if decorrelate > 0.0:  # the level the rotation took, given back
            out *= decorrelation_gain(decorrelate)

    def end_hop(self) -> None:
        """Advance a switch's crossfade by one hop (after every voice's :meth:`process_voice`)."""
        if self.incoming is None:
            return
        self._fade_done += 1
        if self._fade_done >= self.crossfade_hops:
            self.current, self.incoming = self.incoming, None

    def reset(self) -> None:
        """Forget all frames and end any switch."""
        if self.incoming is not None:
            self.current, self.incoming = self.incoming, None
        for voice in self.current:
            voice.reset()
        for decorrelator in self.decorrelators:
            decorrelator.reset()


def _seed(seed: int, offset: int) -> int:
    """A voice's seed: the configured one moved by the voice's offset, within 0 .. 2**31 - 1."""
    return (int(seed) + int(offset)) % 2**31


def _set_iterations(method: StreamingPhase, iterations: int) -> None:
    """Set iterations on a method that has them (the RTISI family, also inside the combination)."""
    if hasattr(method, "iterations"):
        method.iterations = iterations  # type: ignore[attr-defined]
    inner = getattr(method, "_gs", None)
    if inner is not None:
        inner.iterations = iterations
