"""The texture stage of ``Engine.tick()``: the sounding sources' fine structure in place of the
decoded frame's (:mod:`caminos.engine.dsp.texture`), as much as ``/latent/texture`` asks, scaled
by how much the latent follows the sources and moved with ``/latent/pitch``."""

from __future__ import annotations

import numpy as np

from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.core.parameters import Parameter
from caminos.engine.dsp.texture import (
    fine_structure,
    lay_texture,
    shift_texture,
    texture_limits_nepers,
    texture_width_bins,
    weighted_mean_rows,
)


class TextureStage:
    """Buffers, made once per voice, and the smoothed amount of the texture laid on each decoded
    frame.

    Parameters
    ----------
    n_bins : int
        Bins per frame.
    n_fft : int
        FFT size in samples.
    sample_rate : int
        In Hz.
    amount : float
        Starting amount, 0 .. 1 (``model.texture``).
    coefficient : float
        The one-pole smoothing coefficient per hop of every control.
    floor : float
        The floor added to magnitudes before their logarithm (the model's).
    voices : int
        Voices, each with its own texture (the one of the source channels it follows).
    """

    def __init__(
        self,
        n_bins: int,
        n_fft: int,
        sample_rate: int,
        amount: float,
        coefficient: float,
        floor: float,
        voices: int = 1,
    ) -> None:
        self.amount = Parameter(
            "/latent/texture",
            Arg("amount", "f", 0.0, 1.0),
            "how much the sounding sources' spectral grain (each bin's level beyond their "
            "envelope) replaces the decoded sound's, each bin moved -12 .. +3 dB at most: 0 = "
            "the model alone; scaled by /latent/follow, moved by /latent/pitch",
            "latent",
            amount,
            coefficient,
        )
        self.floor = float(floor)
        self.width = texture_width_bins(n_fft, sample_rate)
        self.low, self.high = texture_limits_nepers()
        self.voices = int(voices)
        self._mean_log = np.zeros((voices, n_bins))
        self._texture = np.zeros((voices, n_bins))
        # each voice's rows, as views made once: not two views a voice every hop
        self._mean_log_rows = list(self._mean_log)
        self._texture_rows = list(self._texture)
        self._moved = np.zeros(n_bins)
        self._scratch_log = np.zeros(n_bins)
        self._scratch_fine = np.zeros(n_bins)
        self._ready = np.zeros(voices, dtype=np.bool_)  # a voice's _texture holds a sounding hop's
        self._amount = 0.0  # this hop's amount (step)

    def controls(self) -> ControlTable:
        """``/latent/texture``, as data."""
        return ControlTable([self.amount.control()])

    def reset(self) -> None:
        """Forget the last hop's texture (the engine's reset)."""
        self._ready[:] = False

    def step(self) -> float:
        """Advance the amount's smoother one hop (once per hop, before :meth:`process_voice`)."""
        self._amount = self.amount.step()
        return self._amount

    def process(
        self,
        decoded: np.ndarray,
        source_logs: np.ndarray,
        weights: np.ndarray,
        follow: float,
        semitones: float,
        held: bool = False,
    ) -> None:
        """One hop of a single voice: :meth:`step`, then :meth:`process_voice` for voice 0."""
        self.step()
        self.process_voice(0, decoded, source_logs, weights, follow, semitones, held)

    def process_voice(
        self,
        voice: int,
        decoded: np.ndarray,
        source_logs: np.ndarray,
        weights: np.ndarray,
        follow: float,
        semitones: float,
        held: bool = False,
    ) -> None:
        """Lay this hop's texture on one voice's ``decoded`` in place; allocation-free.

        Parameters
        ----------
        voice : int
            Which voice (its own texture buffers).
        decoded : ndarray, shape (n_bins,), float64
            The voice's decoded linear magnitudes.
        source_logs : ndarray, shape (n_rows, n_bins)
            Each source channel's natural-log magnitudes this hop.
        weights : ndarray, shape (n_rows,)
            The voice's weight of each source channel this hop (0: idle or not followed).
        follow : float
            The latent's share that follows the sources, 0 .. 1.
        semitones : float
            The decoded sound's transposition (``/latent/pitch``).
        held : bool
            The latent is frozen (``/latent/freeze``): the texture of the hop it froze on is
            laid again, so a frozen sound keeps its grain instead of losing it at once.
        """
        amount = self._amount * follow
        own = self._texture_rows[voice]
        if not held:
            mean_log = self._mean_log_rows[voice]
            self._ready[voice] = weighted_mean_rows(source_logs, weights, mean_log) > 0.0
            if self._ready[voice]:
                fine_structure(mean_log, self.width, -np.inf, np.inf, own)
        if amount <= 0.0 or not self._ready[voice]:
            return
        texture = own
        if semitones != 0.0:
            shift_texture(own, 2.0 ** (semitones / 12.0), self._moved)
            texture = self._moved
        lay_texture(
            decoded,
            texture,
            amount,
            self.width,
            self.low,
            self.high,
            self.floor,
            self._scratch_log,
            self._scratch_fine,
        )
