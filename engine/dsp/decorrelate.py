"""Spectral decorrelation: a slow random phase walk per bin, so voices made of the same frames
differ.

Two loudspeakers fed the same signal (dual mono) sound as one phantom source between them; their
magnitude-squared coherence is 1 at every frequency. No fixed filter changes that (coherence is
unchanged by any linear time-invariant filter), so decorrelating two copies needs a change that
varies in time. :class:`PhaseDecorrelator` gives each bin of a complex STFT frame a rotation by its
own phase ``phi_k(t)``, an Ornstein-Uhlenbeck walk with stationary standard deviation
``amount * MAX_STD_RADIANS`` and a correlation time of about ``1 / rate`` hops. Two voices with
different seeds keep their magnitudes and differ in phase by ``phi1 - phi2``, whose expected
coherence is ``exp(-var(phi1 - phi2))``: 0.13 at amount 1. The walk is slow (0.27 s at hop 256 and
48 kHz) so a partial's frequency wobbles by a few hertz at most, the character of a gentle chorus
or of a diffuse room, rather than the smear of a random phase per frame.

Applied to each frame between phase recovery and overlap-add
(:class:`caminos.engine.clock.phase_stage.PhaseStage`); at amount 0 nothing is touched, so the
frames are bit-identical to a stage without it.
"""

from __future__ import annotations

import math

import numpy as np

from caminos.engine.dsp.compiled import hop_kernel
from caminos.engine.dsp.random_stream import KernelRandom

MAX_STD_RADIANS = 1.0  # stationary standard deviation of each bin's phase at amount 1, radians
DEFAULT_RATE = 0.02  # per-hop innovation rate of the walk: a correlation time of 50 hops
SMEARED_ENERGY = 0.46
"""Of the energy a rotation takes out of a frame's coherent part, the share the overlap-add
keeps, measured (Hann frames of 1024 at hop 256, noise, a harmonic tone and the demo alike):
rotated bins spread the frame's signal over the whole frame, where the synthesis window tapers
it. With the coherent share ``exp(-sigma**2)`` of a phase of standard deviation ``sigma``, a
voice keeps ``exp(-sigma**2) + (1 - exp(-sigma**2)) * SMEARED_ENERGY`` of its energy:
-0.55 dB at amount 0.5, -1.8 dB at 1 (measured -0.52 .. -0.64 and -1.69 .. -2.07)."""


def decorrelation_gain(amount: float) -> float:
    """The amplitude factor that gives a decorrelated voice back the level the rotation took
    (:data:`SMEARED_ENERGY`); 1 at amount 0."""
    coherent = math.exp(-((amount * MAX_STD_RADIANS) ** 2))
    return 1.0 / math.sqrt(coherent + (1.0 - coherent) * SMEARED_ENERGY)


@hop_kernel
def _step_rotation(
    phase: np.ndarray,
    noise: np.ndarray,
    keep: float,
    kick: float,
    amount_radians: float,
    rotation: np.ndarray,
) -> None:
    """Step each bin's unit walk (``phase = keep * phase + kick * noise``) and write the unit
    phasors ``exp(i * amount_radians * phase)`` into ``rotation``."""
    for k in range(phase.shape[0]):
        phase[k] = keep * phase[k] + kick * noise[k]
        angle = amount_radians * phase[k]
        rotation[k] = complex(math.cos(angle), math.sin(angle))


class PhaseDecorrelator:
    """A per-bin random phase walk laid on complex frames, one instance per voice.

    Parameters
    ----------
    n_bins : int
        Bins per frame.
    seed : int
        Seed of the walk: voices decorrelate from each other only with different seeds.
    rate : float
        Innovation per hop, 0 < rate <= 1 (``1 / rate`` hops of correlation time).

    Notes
    -----
    The walk runs at unit variance whatever the amount, and the amount scales the angle, so a
    gliding amount moves the spread of the phases smoothly and never restarts the walk.
    :meth:`step` allocates nothing.
    """

    def __init__(self, n_bins: int, seed: int, rate: float = DEFAULT_RATE) -> None:
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"rate must be in (0, 1], got {rate!r}")
        self.seed = int(seed)
        self.keep = 1.0 - rate
        self.kick = math.sqrt(rate * (2.0 - rate))  # keeps the walk's variance at 1
        self._phase = np.zeros(n_bins)
        self._noise = np.zeros(n_bins)
        self.rotation = np.ones(n_bins, dtype=np.complex128)
        self.reset()

    def reset(self) -> None:
        """Back to the start: the walk drawn again from its seed (stationary from the start)."""
        self._random = KernelRandom(np.random.default_rng(self.seed))
        self._random.standard_normal(self._phase)

    def step(self, amount: float) -> np.ndarray:
        """Advance the walk one hop; returns this hop's rotation, the unit phasors to multiply a
        complex frame (complex128, (n_bins,)) by, bin by bin (a buffer reused every hop).

        Parameters
        ----------
        amount : float
            0 .. 1: the phases' standard deviation in units of :data:`MAX_STD_RADIANS`. Call
            only with an amount above 0: at 0 a caller leaves its frames untouched and the walk
            waits where it is.
        """
        self._random.standard_normal(self._noise)
        _step_rotation(
            self._phase, self._noise, self.keep, self.kick, amount * MAX_STD_RADIANS, self.rotation
        )
        return self.rotation
