"""The two trivial phase methods: the source's own phase, and random phase.

``input`` is exact when the magnitudes are the source's own (a live input or file played
unchanged) and the reference for every other method; ``random`` is the floor every method must
beat and a sound of its own (a diffuse, smeared texture).
"""

from __future__ import annotations

import numpy as np

from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.compiled import hop_kernel
from caminos.engine.dsp.phase.base import StreamingPhase


@hop_kernel
def _apply_reference_phase(magnitude: np.ndarray, reference: np.ndarray, out: np.ndarray) -> None:
    """``out = magnitude * reference / |reference|``; zero phase where the reference is silent."""
    for k in range(magnitude.shape[0]):
        re = reference[k].real
        im = reference[k].imag
        norm = np.sqrt(re * re + im * im)
        if norm > 1e-300:
            out[k] = complex(magnitude[k] * re / norm, magnitude[k] * im / norm)
        else:
            out[k] = complex(magnitude[k], 0.0)


@hop_kernel
def _apply_random_phase(
    magnitude: np.ndarray, table: np.ndarray, position: np.ndarray, out: np.ndarray
) -> None:
    """Combine magnitudes with phases read cyclically from ``table``, from ``position[0]`` on
    (moved on; an array, so no Python int is made a hop)."""
    n, entry = table.shape[0], position[0]
    for k in range(magnitude.shape[0]):
        out[k] = magnitude[k] * table[entry]
        entry += 1
        if entry == n:
            entry = 0
    position[0] = entry


class InputPhase(StreamingPhase):
    """Reuse the phase of the source's own analysis frame (``reference``); no look-ahead."""

    name = "input"
    uses_reference = True

    def process(
        self, magnitude: np.ndarray, out: np.ndarray, reference: np.ndarray | None = None
    ) -> None:
        if reference is None:
            raise ParameterError(
                "phase method 'input' needs the source's own analysis frame; "
                "this source has none (use rtpghi or pv)"
            )
        _apply_reference_phase(magnitude, reference, out)

    def reset(self) -> None:
        """Nothing to forget: the method keeps no state."""


class RandomPhase(StreamingPhase):
    """Independent uniformly random phase in every bin of every frame; no look-ahead.

    Parameters
    ----------
    stft : StftConfig
        Frame settings.
    seed : int
        Seed of the phase table, so renders repeat exactly.
    """

    name = "random"

    def __init__(self, stft: StftConfig, seed: int = 0) -> None:
        super().__init__(stft)
        self.seed = seed
        # A long table of unit phasors read cyclically: a prime length so rows never line up
        # with frames (period of thousands of frames).
        rng = np.random.default_rng(seed)
        self._table = np.exp(2j * np.pi * rng.random(1_000_003))
        self._position = np.zeros(1, dtype=np.int64)  # the table's next entry

    def process(
        self, magnitude: np.ndarray, out: np.ndarray, reference: np.ndarray | None = None
    ) -> None:
        _apply_random_phase(magnitude, self._table, self._position, out)

    def reset(self) -> None:
        """Restart the phase table from its beginning."""
        self._position[0] = 0
