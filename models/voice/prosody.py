"""Intonation contours: the shape of pitch over a phrase, in units of the pitch range.

The acoustic model gives no pitch; this module gives each hop of a phrase a contour value,
scaled live by the ``range`` control (semitones) and added to the ``pitch`` control, so that with
range 0 the voice holds exactly the pitch asked for. The contour is a declination from +0.3 to
-0.3 over the phrase, a raised-cosine accent of random height on each word, and a final fall.
"""

from __future__ import annotations

import numpy as np

DECLINATION = 0.3  # contour at the start of a phrase; minus this at its end
ACCENT = (0.2, 0.7)  # range of each word's accent height
FINAL_FALL = 0.4  # extra fall over the last word


def phrase_contour(durations: np.ndarray, words: list[tuple[int, int]],
                   rng: np.random.Generator) -> np.ndarray:
    """Contour of one phrase, one value per hop.

    Parameters
    ----------
    durations : ndarray of int, shape (n_phonemes,)
        Hops per phoneme.
    words : list of (first, stop) phoneme indices
        Each word's phonemes ``[first, stop)``.
    rng : numpy Generator
        Draws the accent heights (so a seeded stream repeats its melody).

    Returns
    -------
    ndarray, shape (sum(durations),), float64
        Semitones per semitone of range.
    """
    durations = np.asarray(durations, dtype=np.int64)
    n = int(durations.sum())
    starts = np.concatenate([[0], np.cumsum(durations)])
    t = np.arange(n, dtype=np.float64)
    contour = DECLINATION - 2.0 * DECLINATION * t / max(n - 1, 1)
    for i, (first, stop) in enumerate(words):
        a, b = int(starts[first]), int(starts[stop])
        if b <= a:
            continue
        x = (t[a:b] - a + 0.5) / (b - a)
        contour[a:b] += rng.uniform(*ACCENT) * 0.5 * (1.0 - np.cos(2.0 * np.pi * x))
        if i == len(words) - 1:
            contour[a:b] -= FINAL_FALL * x
    return contour
