"""A few spectrum frames a second of the live output, and the latents they came from, in shared
memory: what the control page draws as its scrolling spectrogram and on its map (the field's
centre, every voice, and the speakers' places).

The DSP process writes (:class:`caminos.engine.dsp.spectrum_writer.SpectrumWriter`), the
control process reads (:class:`SpectrumTap`), as :class:`caminos.engine.core.ring.SharedCounters`
publishes counters. Frames go into a small ring whose count is stored after the frame, so a
reader never sees a frame before it is complete; a reader that falls more than :data:`FRAMES`
behind skips to the newest. This module is the block and its layout alone, numpy only: the
supervisor, which makes the block, never loads the writer's numba kernels (86 of its 128 MB).

A frame holds, after its :data:`BANDS` levels, the latent of each voice (rotated coordinates,
the first :data:`LATENT_DIMS` axes) and each voice's place on the map's plane (std; what
:meth:`caminos.engine.clock.field.LatentField.places` writes). The block's size is fixed when it
is made, for up to ``voices`` voices (the output channels: one voice per channel); its header
holds its shape, so a process that attaches by name needs nothing else, and how many voices
the writer fills.
"""

from __future__ import annotations

import math

import numpy as np

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
COUNT_CELL, _BANDS, _DIMS, _FRAMES, _VOICES, USED_CELL = range(6)  # header cells (int64)


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

    def __init__(
        self,
        dims: int = LATENT_DIMS,
        name: str | None = None,
        bands: int = BANDS,
        frames: int = FRAMES,
        voices: int = 1,
    ) -> None:
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
            int(v) for v in self.header[[_BANDS, _DIMS, _FRAMES, _VOICES]]
        )
        self.rows = np.ndarray(
            (self.frames, self._row_floats(self.bands, self.dims, self.frames, self.voices)),
            dtype=np.float32,
            buffer=buf,
            offset=_HEADER_BYTES,
        )
        if self._owner:
            self.rows[:] = 0.0

    @staticmethod
    def _row_floats(bands: int, dims: int, frames: int, voices: int) -> int:
        return bands + voices * (dims + 2)

    @property
    def count(self) -> int:
        """Frames written so far."""
        return int(self.header[COUNT_CELL])

    @property
    def used(self) -> int:
        """Voices the writer fills (at most :attr:`voices`; 0 before the first frame)."""
        return int(self.header[USED_CELL])

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
        latents = picked[:, bands : bands + voices * dims].reshape(n, voices, dims)
        places = picked[:, bands + voices * dims :].reshape(n, voices, 2)
        return picked[:, :bands], latents[:, :used], places[:, :used]

    def _release_views(self) -> None:
        self.header = self.rows = None  # type: ignore[assignment]
