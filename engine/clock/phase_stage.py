"""The engine's phase stage: the live phase method, its overlap-add, and click-free switching.

Sixth and seventh stages of ``Engine.tick()``: one magnitude frame per voice in, one hop of
samples per voice out. Each voice has its own method state, random seed and overlap-add, and an
optional spectral decorrelator (:mod:`caminos.engine.dsp.decorrelate`) between them.
Every method is aligned to the engine's look-ahead (a method with less look-ahead has its input
delayed by the difference), so switching methods keeps the timing; the outgoing and incoming
methods run side by side for the crossfade, each with its own overlap-add, and their samples are
crossfaded linearly. Building a method allocates, so it happens in the thread that posts the
change (:meth:`PhaseStage.build`); playing allocates nothing. A field's voices play the RTISI
family as one bank, a group of voices in one compiled call
(:mod:`caminos.engine.clock.phase_voices`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from caminos.engine.core.config import PhaseConfig, StftConfig
from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.dsp.decorrelate import PhaseDecorrelator, decorrelation_gain
from caminos.engine.clock.phase_voices import BankedVoices, PhaseVoice, SeparateVoices
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.compiled import hop_kernel, scale_in_place
from caminos.engine.dsp.phase import STREAMING_METHODS, make_bank, make_streaming


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
    banked : bool
        Play the methods that have a bank (the RTISI family) as one, a group of voices a call
        (:meth:`process_group`); a voice's samples then do not depend on the group it plays in,
        but differ from the single-voice method's in the last bits. False (the mono layout):
        every method voice by voice.
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
        banked: bool = False,
    ) -> None:
        self.stft = stft
        self.banked = bool(banked)
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
        self.incoming: SeparateVoices | BankedVoices | None = None
        self._fade_done = 0
        hop = stft.hop
        # a switch's scratch, one row per voice: voices may run on several threads
        self._mine = np.zeros((self.voices, hop))
        self._theirs = np.zeros((self.voices, hop))
        self._ramp = np.arange(1, hop + 1) / hop  # 1/hop .. 1 within one hop
        self._weight = np.zeros((self.voices, hop))
        self._mine_rows, self._theirs_rows = tuple(self._mine), tuple(self._theirs)
        self._weight_rows = tuple(self._weight)
        self._rotations: list = [None] * self.voices  # this hop's, each voice's decorrelator's
        self._gain = 1.0  # this hop's decorrelation gain
        self._voice_ranges = tuple(range(k, k + 1) for k in range(self.voices))
        self.switches = 0

    def build(self, method: str, lookahead: int | None = None) -> SeparateVoices | BankedVoices:
        """Build (allocate) a method for every voice, aligned to ``lookahead`` (default: the
        current one): one bank for all of them where the stage is banked and the method has
        one, else one method per voice.

        Raises
        ------
        ParameterError
            Unknown or offline-only method.
        """
        lookahead = self.lookahead if lookahead is None else int(lookahead)
        phases = [
            self.phase if offset == 0 else replace(self.phase, seed=_seed(self.phase.seed, offset))
            for offset in self.seed_offsets
        ]
        if self.banked:
            bank = make_bank(method, self.stft, phases, lookahead, self.iterations)
            if bank is not None:
                return BankedVoices(bank, self.stft, lookahead)
        built = []
        for phase in phases:
            streaming = make_streaming(
                method, self.stft, phase, lookahead=lookahead, iterations=self.iterations
            )
            built.append(PhaseVoice(streaming, lookahead))
        return SeparateVoices(tuple(built))

    @property
    def method(self) -> str:
        """Name of the method now playing (the incoming one once a switch has begun)."""
        return (self.incoming or self.current).name

    @property
    def latency_samples(self) -> int:
        """The look-ahead's delay in samples (``lookahead * hop``), what the stage adds to every
        path; it changes with ``/phase/lookahead``."""
        return self.lookahead * self.stft.hop

    def switch(self, voices: SeparateVoices | BankedVoices) -> None:
        """Start crossfading to built methods (:meth:`build`); their look-ahead becomes the
        stage's.

        A switch during a switch replaces the incoming methods and restarts the fade.
        """
        voices.reset()
        self.lookahead = voices.lookahead
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

    def _build_lookahead(self, frames: int) -> SeparateVoices | BankedVoices:
        return self.build(self.method, frames)

    def set_iterations(self, iterations: int) -> None:
        """Iterations per frame of the playing methods, from the next frame on."""
        self.iterations = int(iterations)
        for voices in (self.current, self.incoming):
            if voices is not None:
                voices.set_iterations(self.iterations)

    def process(
        self,
        magnitude: np.ndarray,
        reference: np.ndarray,
        out: np.ndarray,
        decorrelate: float = 0.0,
    ) -> None:
        """One frame in, one hop of samples out for a single-voice stage that is not banked
        (shapes (n_bins,) and (hop,)); see :meth:`process_group`."""
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
        """Voice ``k``'s frame in, its hop of samples out (shape (hop,)), in a stage that is not
        banked; call :meth:`end_hop` once every voice has played its hop.

        Raises
        ------
        ParameterError
            The stage plays a bank (:meth:`process_group` then).
        """
        for voices in (self.current, self.incoming):
            if isinstance(voices, BankedVoices):
                raise ParameterError(
                    f"the phase stage plays {voices.name} as a bank: push a group of voices"
                )
        group = self._voice_ranges[k]
        self._rotate(group, decorrelate)
        rotation = self._rotations[k]
        incoming = self.incoming
        if incoming is None:
            self.current.process_one(k, magnitude, reference, out, rotation)
        else:
            self.current.process_one(k, magnitude, reference, self._mine[k], rotation)
            incoming.process_one(k, magnitude, reference, self._theirs[k], rotation)
            self._fade(k, out)
        if decorrelate > 0.0:
            out *= self._gain

    def process_group(
        self,
        group: range,
        magnitudes: np.ndarray,
        magnitude_rows,
        reference_rows,
        out_rows,
        decorrelate: float = 0.0,
    ) -> None:
        """The frames of the voices of ``group`` in, their hops of samples out, crossfading
        during a switch; call :meth:`end_hop` once every voice has played its hop.

        Parameters
        ----------
        group : range
            The voices (contiguous), those one thread plays.
        magnitudes : ndarray, shape (voices, n_bins), float64, C-contiguous
            Every voice's linear magnitudes this hop (a bank reads its group's rows).
        magnitude_rows, reference_rows : sequence of ndarray
            The rows of ``magnitudes``, and each voice's source analysis frame (complex128, zeros
            when none, for ``input``), as views made once.
        out_rows : sequence of ndarray
            Each voice's hop of samples (shape (hop,)), written.
        decorrelate : float
            0 .. 1, the amount of each voice's spectral decorrelator
            (:class:`caminos.engine.dsp.decorrelate.PhaseDecorrelator`); its level loss is made
            up (:func:`~caminos.engine.dsp.decorrelate.decorrelation_gain`).
        """
        self._rotate(group, decorrelate)
        incoming, rotations = self.incoming, self._rotations
        if incoming is None:
            self.current.process(
                group, magnitudes, magnitude_rows, reference_rows, out_rows, rotations
            )
        else:
            self.current.process(
                group, magnitudes, magnitude_rows, reference_rows, self._mine_rows, rotations
            )
            incoming.process(
                group, magnitudes, magnitude_rows, reference_rows, self._theirs_rows, rotations
            )
            k = group.start
            while k < group.stop:  # (no iterator: nothing allocated, here and below)
                self._fade(k, out_rows[k])
                k += 1
        if decorrelate > 0.0:
            k = group.start
            while k < group.stop:
                scale_in_place(out_rows[k], self._gain)
                k += 1

    def _rotate(self, group: range, decorrelate: float) -> None:
        """This hop's rotation of each voice of ``group`` (None without decorrelation)."""
        rotations, k = self._rotations, group.start
        if decorrelate > 0.0:
            while k < group.stop:
                rotations[k] = self.decorrelators[k].step(decorrelate)
                k += 1
            self._gain = decorrelation_gain(decorrelate)
        else:
            while k < group.stop:
                rotations[k] = None
                k += 1

    def _fade(self, k: int, out: np.ndarray) -> None:
        """Voice ``k``'s crossfade from the outgoing to the incoming method's samples, into
        ``out``: linear over crossfade_hops hops, the incoming method's weight sample by
        sample."""
        _crossfade(
            self._mine_rows[k],
            self._theirs_rows[k],
            self._ramp,
            float(self._fade_done),
            1.0 / self.crossfade_hops,
            self._weight_rows[k],
            out,
        )

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
        self.current.reset()
        for decorrelator in self.decorrelators:
            decorrelator.reset()


def warm_up_methods(
    stft: StftConfig, phase: PhaseConfig, lookahead: int, iterations: int, banked: bool
) -> None:
    """Compile (or load) every live method's kernels, and a switch's crossfade, on a scratch
    stage of two voices: ``/phase/method`` is applied on the hop clock, where a method's first
    frame would otherwise compile its kernel (milliseconds from numba's cache, seconds without
    one), and the overload watch switches methods by itself. The kernels do not depend on the
    number of voices, only on the arrays' kinds, which are the hop's here."""
    stage = PhaseStage(
        stft, phase, STREAMING_METHODS[0], lookahead, iterations, 2, (0, 1), banked=banked
    )
    magnitudes = np.zeros((2, stft.n_bins))
    references = np.zeros((2, stft.n_bins), dtype=np.complex128)
    out = np.zeros((2, stft.hop))
    rows = tuple(magnitudes), tuple(references), tuple(out)
    for method in STREAMING_METHODS:
        stage.switch(stage.build(method))
        for decorrelate in (0.0, 0.5):  # the first hop crossfades from the method before
            stage.process_group(range(2), magnitudes, *rows, decorrelate)
            stage.end_hop()


@hop_kernel
def _crossfade(
    mine: np.ndarray,
    theirs: np.ndarray,
    ramp: np.ndarray,
    done: float,
    scale: float,
    weight: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out = mine + (theirs - mine) * weight`` with ``weight = (ramp + done) * scale``: the
    incoming method's weight sample by sample, ``done`` hops into the fade (the same products
    and sums as numpy's, nothing allocated)."""
    for n in range(out.shape[0]):
        weight[n] = ramp[n] + done
        weight[n] *= scale
        out[n] = (theirs[n] - mine[n]) * weight[n] + mine[n]


def _seed(seed: int, offset: int) -> int:
    """A voice's seed: the configured one moved by the voice's offset, within 0 .. 2**31 - 1."""
    return (int(seed) + int(offset)) % 2**31
