"""The DSP process's side of the spectrum tap: the live output's spectrum a few times a second,
with the voices' latents and places, into a :class:`caminos.engine.dsp.spectrum_tap.SpectrumTap`.

On the hop clock it costs one copy of the hop's output into a history buffer, and every
``every_hops`` hops one windowed FFT of that history reduced to the tap's band levels: numba
kernels on buffers made in ``__init__``, no allocation, no lock.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import rocket_fft  # noqa: F401  (registers the FFT for numba; r2c below)
from rocket_fft import r2c

from caminos.engine.dsp.compiled import hop_kernel
from caminos.engine.dsp.spectrum_tap import (
    COUNT_CELL,
    FLOOR_DB,
    FRAMES_PER_SECOND,
    MAX_VOICES,
    USED_CELL,
    SpectrumTap,
    band_edges,
)


@hop_kernel
def _push_history(history: np.ndarray, samples: np.ndarray) -> None:
    """Shift ``history`` left by ``len(samples)`` and append them."""
    n, hop = history.shape[0], samples.shape[0]
    for i in range(n - hop):
        history[i] = history[i + hop]
    for i in range(hop):
        history[n - hop + i] = samples[i]


@hop_kernel
def _bands_db(
    history: np.ndarray,
    window: np.ndarray,
    scratch: np.ndarray,
    spectrum: np.ndarray,
    axes: np.ndarray,
    edges: np.ndarray,
    scale: float,
    floor_db: float,
    out: np.ndarray,
) -> None:
    """Windowed FFT of ``history``; each band's loudest bin in dBFS into ``out`` (float32)."""
    for n in range(window.shape[0]):
        scratch[n] = history[n] * window[n]
    r2c(scratch, spectrum, axes, True, 1.0, 1)
    for b in range(out.shape[0]):
        peak = 0.0
        for k in range(edges[b], edges[b + 1]):
            power = spectrum[k].real * spectrum[k].real + spectrum[k].imag * spectrum[k].imag
            if power > peak:
                peak = power
        level = floor_db
        if peak > 0.0:
            level = max(10.0 * math.log10(peak * scale), floor_db)
        out[b] = level


@hop_kernel
def _store_row(
    rows: np.ndarray,
    bands: np.ndarray,
    latents: np.ndarray,
    places: np.ndarray,
    voices: int,
    dims: int,
    header: np.ndarray,
) -> None:
    """The ring's next row (float32; at the header's count, modulo the ring's length): the
    band levels, then ``voices`` latents of ``dims`` axes, then ``voices`` places (x, y);
    ``latents`` is (dims,) for one voice or (voices, dims), rows and axes past what it has are
    0. The voices written go into the header, then the count that publishes the row (here,
    so that no number is made in Python)."""
    index = header[COUNT_CELL] % rows.shape[0]
    n_bands = bands.shape[0]
    for b in range(n_bands):
        rows[index, b] = bands[b]
    if latents.ndim == 1:
        used = 1
        for k in range(voices):
            for d in range(dims):
                value = 0.0
                if k == 0 and d < latents.shape[0]:
                    value = latents[d]
                rows[index, n_bands + k * dims + d] = value
    else:
        used = min(voices, latents.shape[0])
        for k in range(voices):
            for d in range(dims):
                value = 0.0
                if k < used and d < latents.shape[1]:
                    value = latents[k, d]
                rows[index, n_bands + k * dims + d] = value
    base = n_bands + voices * dims
    for k in range(voices):
        for j in range(2):
            value = 0.0
            if k < used and k < places.shape[0]:
                value = places[k, j]
            rows[index, base + 2 * k + j] = value
    header[USED_CELL] = used
    header[COUNT_CELL] += 1  # after the row: publishes it


class SpectrumWriter:
    """The DSP process's side: keeps the output's last ``n_fft`` samples and, every
    ``every_hops`` hops, writes their spectrum, the voices' latents and their places into a
    :class:`SpectrumTap`.

    Parameters
    ----------
    tap : SpectrumTap
        Where frames go.
    n_fft, hop, sample_rate : int
        The engine's frame size and hop in samples, and its rate in Hz.
    places : callable, optional
        ``places(out)`` writes each voice's place on the map's plane (std) into ``out``, shape
        (:data:`MAX_VOICES`, 2), rows from 0
        (:meth:`caminos.engine.clock.field.LatentField.places`); called only on the hops that
        write a frame. Without it the places are 0.
    """

    def __init__(
        self,
        tap: SpectrumTap,
        n_fft: int,
        hop: int,
        sample_rate: int,
        places: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        self.tap = tap
        self.hop = int(hop)
        self.every_hops = max(1, int(round(sample_rate / hop / FRAMES_PER_SECOND)))
        self.edges = band_edges(n_fft, sample_rate, tap.bands)
        self._history = np.zeros(n_fft)
        self._window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
        self._scratch = np.zeros(n_fft)
        self._spectrum = np.zeros(n_fft // 2 + 1, dtype=np.complex128)
        self._axes = np.zeros(1, dtype=np.int64)
        self._bands = np.zeros(tap.bands, dtype=np.float32)
        # a full-scale sine's peak bin is n_fft / 4 under a Hann window: that is 0 dBFS
        self._scale = (4.0 / n_fft) ** 2
        self._place = places
        self._places = np.zeros((MAX_VOICES, 2))
        self._countdown = self.every_hops

    def warm_up(self, samples: np.ndarray, latents: np.ndarray) -> None:
        """Run both kernels once on arrays like those :meth:`push` will get (so they are loaded
        before the first hop), then forget them: the tap stays empty."""
        count = self.tap.count
        for _ in range(self.every_hops):
            self.push(samples, latents)
        self._history[:] = 0.0
        self.tap.header[COUNT_CELL] = count

    def push(self, samples: np.ndarray, latents: np.ndarray) -> None:
        """One hop of output (``samples``: shape (hop,), float64) and the latents decoded for it
        (rotated coordinates): (voices, dims), or (dims,) for one voice; call once per hop on
        the hop clock. Allocates no array (the ``places`` callable aside, called on frame hops
        only)."""
        _push_history(self._history, samples)
        self._countdown -= 1
        if self._countdown > 0:
            return
        self._countdown = self.every_hops
        tap = self.tap
        _bands_db(
            self._history,
            self._window,
            self._scratch,
            self._spectrum,
            self._axes,
            self.edges,
            self._scale,
            FLOOR_DB,
            self._bands,
        )
        if self._place is not None:
            self._place(self._places)
        _store_row(tap.rows, self._bands, latents, self._places, tap.voices, tap.dims, tap.header)
