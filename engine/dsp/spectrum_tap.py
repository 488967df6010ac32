"""A few spectrum frames a second of the live output, and the latents they came from, in shared
memory: what the control page draws as its scrolling spectrogram and on its map (the field's
centre, every voice, and the speakers' places).

The DSP process writes (:class:`SpectrumWriter`), the control process reads
(:class:`SpectrumTap`), as :class:`caminos.engine.core.ring.SharedCounters` publishes counters. On
the hop
clock it costs one copy of the hop's output into a history buffer, and every ``every_hops`` hops
one windowed FFT of that history reduced to :data:`BANDS` peak levels: numba kernels on buffers
made in ``__init__``, no allocation, no lock. Frames go into a small ring whose count is stored
after the frame, so a reader never sees a frame before it is complete; a reader that falls more
than :data:`FRAMES` behind skips to the newest.

A frame holds, after its :data:`BANDS` levels, the latent of each voice (rotated coordinates,
the first :data:`LATENT_DIMS` axes) and each voice's place on the map's plane (std; what
:meth:`caminos.engine.clock.field.LatentField.places` writes). The block's size is fixed when it
is made, for up to ``voices`` voices (the output channels: one voice per channel); its header
holds its shape, so a process that attaches by name needs nothing else, and how many voices
the writer fills.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import rocket_fft  # noqa: F401  (registers the FFT for numba; r2c below)
from numba import njit
from rocket_fft import r2c

from caminos.engine.core.config import MAX_CHANNELS
from caminos.engine.core.ring import _SharedBlock

BANDS = 64  # spectrum bands a frame holds, log-spaced
FRAMES = 64  # frames the ring holds (about four seconds at the default rate)
FRAMES_PER_SECOND = 15.0  # how often the DSP process writes one (the page scrolls at this rate)
LATENT_DIMS = 16  # latent axes kept per frame (the most a model has: /latent/z takes 16)
LOWEST_HZ = 40.0  # lower edge of the lowest band
FLOOR_DB = -120.0  # level written for silence, dBFS
MAX_VOICES = MAX_CHANNELS  # voices a frame may hold: one per output channel
_HEADER_BYTES = 64  # int64: frame count, bands, dims, frames, voices, voices written; a cache line
_COUNT, _BANDS, _DIMS, _FRAMES, _VOICES, _USED = range(6)


def band_edges(n_fft: int, sample_rate: int, bands: int = BANDS) -> np.ndarray:
    """FFT bin edges of ``bands`` log-spaced bands from :data:`LOWEST_HZ` to Nyquist.

    Returns
    -------
    ndarray of int64, shape (bands + 1,)
        Band ``b`` holds bins ``edges[b] .. edges[b + 1] - 1``; every band holds at least one
        bin (the lowest bands are one bin wide where the log spacing is finer than a bin).
    """
    n_bins = n_fft // 2 + 1
    lowest = max(1, int(round(LOWEST_HZ * n_fft / sample_rate)))
    if n_bins - lowest < bands:
        raise ValueError(f"{bands} bands need more than {n_bins} FFT bins above {LOWEST_HZ} Hz")
    wanted = np.geomspace(lowest, n_bins, bands + 1)
    edges = np.empty(bands + 1, dtype=np.int64)
    edges[0] = lowest
    for b in range(1, bands + 1):  # at least one bin each, and room left for the bands above
        edges[b] = min(max(int(round(wanted[b])), edges[b - 1] + 1), n_bins - (bands - b))
    return edges


def band_centres_hz(edges: np.ndarray, n_fft: int, sample_rate: int) -> list[float]:
    """Geometric centre of each band, in Hz (for the page's frequency labels)."""
    hz = edges.astype(np.float64) * sample_rate / n_fft
    return [float(math.sqrt(max(lo, 1e-9) * hi)) for lo, hi in zip(hz[:-1], hz[1:])]


@njit(cache=True, nogil=True)
def _push_history(history: np.ndarray, samples: np.ndarray) -> None:
    """Shift ``history`` left by ``len(samples)`` and append them."""
    n, hop = history.shape[0], samples.shape[0]
    for i in range(n - hop):
        history[i] = history[i + hop]
    for i in range(hop):
        history[n - hop + i] = samples[i]


@njit(cache=True, nogil=True)
def _bands_db(history: np.ndarray, window: np.ndarray, scratch: np.ndarray,
              spectrum: np.ndarray, axes: np.ndarray, edges: np.ndarray, scale: float,
              floor_db: float, out: np.ndarray) -> None:
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


@njit(cache=True, nogil=True)
def _store_row(rows: np.ndarray, index: int, bands: np.ndarray, latents: np.ndarray,
               places: np.ndarray, voices: int, dims: int, header: np.ndarray) -> None:
    """Row ``index`` of the ring (float32): the band levels, then ``voices`` latents of ``dims``
    axes, then ``voices`` places (x, y); ``latents`` is (dims,) for one voice or (voices, dims),
    rows and axes past what it has are 0. The voices written go into the header."""
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
    header[_USED] = used


class SpectrumTap(_SharedBlock):
    """The shared block: a header (frames written, the ring's shape, voices written), then a
    ring of spectrum frames (dBFS per band), each with every voice's latent (rotated
    coordinates, first ``dims`` axes) and place on the map's plane (std).

    Parameters
    ----------
    dims : int
        Latent axes kept per voice (a model with fewer leaves the rest 0).
    name : str, optional
        Attach to a block another process made (its :attr:`name`); its shape is read from the
        block, and ``dims``, ``bands``, ``frames`` and ``voices`` are ignored. By default a new
        block.
    bands, frames : int
        Bands per frame and frames in the ring.
    voices : int
        Voices a frame holds at most (1 .. :data:`MAX_VOICES`): the output channels.
    """

    def __init__(self, dims: int = LATENT_DIMS, name: str | None = None, bands: int = BANDS,
                 frames: int = FRAMES, voices: int = 1) -> None:
        if name is None:
            if not 1 <= int(voices) <= MAX_VOICES:
                raise ValueError(f"a spectrum tap holds 1 .. {MAX_VOICES} voices, got {voices}")
            shape = (int(bands), int(dims), int(frames), int(voices))
            super().__init__(_HEADER_BYTES + shape[2] * 4 * self._row_floats(*shape), None)
        else:
            super().__init__(0, name)  # the size is the block's own
        buf = self._shm.buf
        self.header = np.ndarray((_HEADER_BYTES // 8,), dtype=np.int64, buffer=buf, offset=0)
        if self._owner:
            self.header[:] = 0
            self.header[[_BANDS, _DIMS, _FRAMES, _VOICES]] = shape
        self.bands, self.dims, self.frames, self.voices = (
            int(v) for v in self.header[[_BANDS, _DIMS, _FRAMES, _VOICES]])
        self.rows = np.ndarray((self.frames, self._row_floats(self.bands, self.dims, self.frames,
                                                              self.voices)),
                               dtype=np.float32, buffer=buf, offset=_HEADER_BYTES)
        if self._owner:
            self.rows[:] = 0.0

    @staticmethod
    def _row_floats(bands: int, dims: int, frames: int, voices: int) -> int:
        return bands + voices * (dims + 2)

    @property
    def count(self) -> int:
        """Frames written so far."""
        return int(self.header[_COUNT])

    @property
    def used(self) -> int:
        """Voices the writer fills (at most :attr:`voices`; 0 before the first frame)."""
        return int(self.header[_USED])

    def publish(self) -> None:
        """The row at ``count % frames`` is complete: make it visible (writer only)."""
        self.header[_COUNT] += 1

    def since(self, seen: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """Frames written after the first ``seen``, oldest first (at most the ring's length).

        Returns
        -------
        count : int
            Frames written so far (pass it back as ``seen`` next time).
        spectra : ndarray, shape (n, bands), float32
            Levels in dBFS per band.
        latents : ndarray, shape (n, voices, dims), float32
            Each voice's latent in each frame, in the engine's rotated coordinates
            (``voices``: those the writer fills, :attr:`used`).
        places : ndarray, shape (n, voices, 2), float32
            Each voice's place on the map's plane in each frame, in latent std.
        """
        count = self.count
        first = max(seen, count - self.frames + 1)  # the oldest row may be being overwritten
        order = [i % self.frames for i in range(first, count)]
        return (count, *self._split(self.rows[order].copy()))

    def latest(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The newest frame's latents (voices, dims) and places (voices, 2), or None before
        the first frame."""
        count = self.count
        if count == 0:
            return None
        _, latents, places = self._split(self.rows[[(count - 1) % self.frames]].copy())
        return latents[0], places[0]

    def _split(self, picked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, bands, dims, voices = len(picked), self.bands, self.dims, self.voices
        used = max(1, min(self.used, voices))
        latents = picked[:, bands:bands + voices * dims].reshape(n, voices, dims)
        places = picked[:, bands + voices * dims:].reshape(n, voices, 2)
        return picked[:, :bands], latents[:, :used], places[:, :used]

    def _release_views(self) -> None:
        self.header = self.rows = None  # type: ignore[assignment]


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

    def __init__(self, tap: SpectrumTap, n_fft: int, hop: int, sample_rate: int,
                 places: Callable[[np.ndarray], None] | None = None) -> None:
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
        self.tap.header[_COUNT] = count

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
        _bands_db(self._history, self._window, self._scratch, self._spectrum, self._axes,
                  self.edges, self._scale, FLOOR_DB, self._bands)
        if self._place is not None:
            self._place(self._places)
        _store_row(tap.rows, tap.count % tap.frames, self._bands, latents, self._places,
                   tap.voices, tap.dims, tap.header)
        tap.publish()
