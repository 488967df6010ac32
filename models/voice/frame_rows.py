"""What one row of the voice's frame ring holds: the acoustic model's output for one hop.

The worker (a thread offline, a process of its own live) runs the acoustic model
(:func:`caminos.models.voice.acoustic.synthesize_phrase`) and writes one row per hop into a
:class:`caminos.models.voice.queue.FrameRing`; the consumer,
:meth:`caminos.models.voice.stream.VoiceStream.next_frame` on the hop clock, reads the rows and
renders them into magnitude frames (:class:`caminos.models.voice.envelope.FrameRenderer`). This
module is the format both sides share, and nothing else: the worker process imports it without
the renderer's compiled kernels (numba and LLVM: 128 of its 380 MB).
"""

from __future__ import annotations

N_BANDS = 40  # envelope bands of the neural voice (mel-like; caminos.models.voice.envelope)
LOG_POWER = slice(0, N_BANDS)  # natural log of the mean power per bin in each band (|X|**2)
APERIODICITY = slice(N_BANDS, 2 * N_BANDS)  # per band, 0 (harmonic) .. 1 (noise)
INTONATION = 2 * N_BANDS  # pitch relative to the phrase, in units the range control scales
NEURAL_ROW_WIDTH = 2 * N_BANDS + 1  # values in a row of the neural engine


def row_width(engine: str, n_bins: int) -> int:
    """Values in one row: :data:`NEURAL_ROW_WIDTH` for the ``neural`` engine, one magnitude per
    STFT bin (``n_bins``) for ``espeak``, whose worker analyses espeak-ng's audio itself."""
    return NEURAL_ROW_WIDTH if engine == "neural" else int(n_bins)
