"""The voices of the phase stage, played by one method: each voice alone, or a group in one call.

:class:`~caminos.engine.clock.phase_stage.PhaseStage` holds one of these per method in play (two
during a switch's crossfade). Both kinds take a group of voices (a ``range``, the voices one
thread plays) and write one hop of samples per voice, each voice through its own overlap-add:

- :class:`SeparateVoices`: one streaming method per voice (:class:`PhaseVoice`), pushed one after
  the other. Every method has it; the mono layout's one voice always plays this way.
- :class:`BankedVoices`: the voices' method as one bank
  (:func:`caminos.engine.dsp.phase.make_bank`), the group pushed in one compiled call whose FFTs
  transform the voices' frames together. The RTISI family has one; a field of two or more
  voices plays it.

Nothing here allocates while it plays: the row views are made when a method is built.
"""

from __future__ import annotations

import numpy as np

from caminos.engine.core.config import StftConfig
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
        self._mag_rows, self._ref_rows = tuple(self._mags), tuple(self._refs)
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
            np.copyto(self._mag_rows[slot], magnitude)
            np.copyto(self._ref_rows[slot], reference)
            self.method.process(self._mag_rows[oldest], self._frame, self._ref_rows[oldest])
            self._slot = oldest
        else:
            self.method.process(magnitude, self._frame, reference)
        if rotation is not None:
            np.multiply(self._frame, rotation, out=self._frame)
        self._synth.synthesize_hop(self._frame, out)

    def set_iterations(self, iterations: int) -> None:
        """Iterations per frame, for a method that has them (the RTISI family, also inside the
        combination); others ignore it."""
        if hasattr(self.method, "iterations"):
            self.method.iterations = iterations  # type: ignore[attr-defined]

    def reset(self) -> None:
        """Forget all frames."""
        self.method.reset()
        self._mags[:] = 0.0
        self._refs[:] = 0.0
        self._synth.reset()


class SeparateVoices:
    """One :class:`PhaseVoice` per voice, pushed one by one.

    Parameters
    ----------
    voices : tuple of PhaseVoice
        One per voice, all of the same method and look-ahead.
    """

    def __init__(self, voices: tuple[PhaseVoice, ...]) -> None:
        self.voices = voices
        self.name = voices[0].name
        self.lookahead = voices[0].lookahead

    def process(
        self,
        group: range,
        magnitudes: np.ndarray,
        magnitude_rows,
        reference_rows,
        out_rows,
        rotations: list,
    ) -> None:
        """One hop of the voices of ``group``: row ``k`` of ``magnitude_rows`` and
        ``reference_rows`` in, ``out_rows[k]`` (shape (hop,)) out, each complex frame turned by
        ``rotations[k]`` (None: not turned)."""
        voices, k = self.voices, group.start
        while k < group.stop:  # (no iterator: nothing allocated)
            voices[k].process(magnitude_rows[k], reference_rows[k], out_rows[k], rotations[k])
            k += 1

    def process_one(
        self, k: int, magnitude: np.ndarray, reference: np.ndarray, out: np.ndarray, rotation
    ) -> None:
        """One hop of voice ``k`` alone."""
        self.voices[k].process(magnitude, reference, out, rotation)

    def set_iterations(self, iterations: int) -> None:
        """Iterations per frame of every voice's method (where it has them)."""
        for voice in self.voices:
            voice.set_iterations(iterations)

    def reset(self) -> None:
        """Forget every voice's frames."""
        for voice in self.voices:
            voice.reset()


class BankedVoices:
    """A bank's voices: a group pushed in one call, each voice's frame then into its own
    overlap-add.

    Parameters
    ----------
    bank
        From :func:`caminos.engine.dsp.phase.make_bank`, with the stage's look-ahead (a bank's
        methods use all of it, so no frame delay is put before them).
    stft : StftConfig
        Frame settings.
    lookahead : int
        The engine's look-ahead in frames (the bank's).
    """

    def __init__(self, bank, stft: StftConfig, lookahead: int) -> None:
        self.bank = bank
        self.name = bank.name
        self.lookahead = int(lookahead)
        self._frames = np.zeros((bank.voices, stft.n_bins), dtype=np.complex128)
        self._frame_rows = tuple(self._frames)
        self._synths = tuple(
            OverlapAddSynthesizer(stft, max_pending=stft.hop) for _ in range(bank.voices)
        )

    def process(
        self,
        group: range,
        magnitudes: np.ndarray,
        magnitude_rows,
        reference_rows,
        out_rows,
        rotations: list,
    ) -> None:
        """As :meth:`SeparateVoices.process`; ``magnitudes`` (voices, n_bins), C-contiguous,
        holds the rows of ``magnitude_rows``."""
        self.bank.push_rows(group.start, group.stop, magnitudes, magnitude_rows, self._frames)
        frames, synths, k = self._frame_rows, self._synths, group.start
        while k < group.stop:  # (no iterator: nothing allocated)
            frame, rotation = frames[k], rotations[k]
            if rotation is not None:
                np.multiply(frame, rotation, out=frame)
            synths[k].synthesize_hop(frame, out_rows[k])
            k += 1

    def set_iterations(self, iterations: int) -> None:
        """Iterations per frame of every voice."""
        self.bank.iterations = iterations

    def reset(self) -> None:
        """Forget every voice's frames."""
        self.bank.reset()
        self._frames[:] = 0.0
        for synth in self._synths:
            synth.reset()
