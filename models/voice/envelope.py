"""Source-filter frames: spectral envelope and aperiodicity into STFT magnitude frames, and back.

The acoustic model predicts, per hop, a spectral envelope (power in :data:`N_BANDS` bands on a
mel-like scale) and an aperiodicity per band; pitch comes from outside. :class:`FrameRenderer`
turns one such frame and an f0 in Hz into the magnitude frame the engine's analyzer would give for
a harmonic-plus-noise sound: each harmonic ``h * f0`` adds the analysis window's transform,
centred on its frequency, with amplitude set by the envelope and a phase that advances with f0 from
hop to hop (the complex sum, so neighbouring lobes interfere as they do in a real sound); noise
adds Rayleigh-distributed magnitudes shaped by the envelope times the aperiodicity.
:func:`analyse` is the inverse used on the teacher's audio. Because the envelope is a power
*density* (per bin, independent of how many harmonics fall in a band), the same envelope played
at another pitch keeps its loudness and its formants, and the pitch is exactly the one asked for.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from caminos.engine.core.config import StftConfig
from caminos.engine.dsp.compiled import hop_kernel
from caminos.engine.dsp.random_stream import KernelRandom
from caminos.engine.dsp.spectral import analysis_window, n_frames_for, stft as stft_frames
from caminos.models.voice.frame_rows import N_BANDS

MIN_BAND_HZ = 250.0  # narrowest band: wider than the harmonic spacing of most voices, so a
# band's mean power measures the envelope rather than whether a harmonic happens to fall in it
MAX_HARMONIC_HZ = 20000.0  # harmonics above are dropped (their power is negligible in speech)
LOBE_HALF_BINS = 3  # each harmonic is written over +-3 bins: the Hann main lobe and first side lobe
LOBE_OVERSAMPLING = 256  # table points per bin of the window transform
POWER_FLOOR = 1e-10  # per-bin power below which a band counts as silent
APERIODICITY_N_FFT = 2048  # 43 ms at 48 kHz: two periods of the lowest pitch searched, 60 Hz
MIN_F0_HZ, MAX_F0_HZ = 60.0, 450.0  # pitch search range of the teacher analysis
VOICING_TOP_HZ = 2000.0  # voicing is judged on the bands below this
VOICED_PERIODICITY = 0.6  # power-weighted periodicity below 2 kHz above which a hop is voiced
SILENCE_NATS = 11.5  # hops 50 dB below the loudest band power of the signal are never voiced


def band_edges_hz(sample_rate: int, n_bands: int = N_BANDS) -> np.ndarray:
    """Edges of the envelope bands in Hz, shape (n_bands + 1,), from 0 to the Nyquist frequency.

    Mel-spaced, but no band narrower than 250 Hz.
    """
    nyquist = sample_rate / 2.0
    mel_top = 2595.0 * math.log10(1.0 + nyquist / 700.0)
    edges = 700.0 * (10.0 ** (np.linspace(0.0, mel_top, n_bands + 1) / 2595.0) - 1.0)
    for i in range(1, n_bands + 1):
        edges[i] = max(edges[i], edges[i - 1] + MIN_BAND_HZ)
    scale = nyquist / edges[-1]  # the minimum width pushed the top past Nyquist: pull it back
    return edges * scale


class BandLayout:
    """Which bins belong to which band, and how band values spread back over bins.

    Parameters
    ----------
    stft : StftConfig
    sample_rate : int
        In Hz.
    """

    def __init__(self, stft: StftConfig, sample_rate: int, n_bands: int = N_BANDS) -> None:
        self.stft = stft
        self.sample_rate = sample_rate
        self.n_bands = n_bands
        self.bin_hz = sample_rate / stft.n_fft
        self.edges_hz = band_edges_hz(sample_rate, n_bands)
        self.centres_hz = 0.5 * (self.edges_hz[:-1] + self.edges_hz[1:])
        freqs = np.arange(stft.n_bins) * self.bin_hz
        band = np.clip(np.searchsorted(self.edges_hz, freqs, side="right") - 1, 0, n_bands - 1)
        self.bin_band = band
        member = np.zeros((n_bands, stft.n_bins))
        member[band, np.arange(stft.n_bins)] = 1.0
        self.mean_matrix = member / np.maximum(member.sum(axis=1, keepdims=True), 1.0)
        self.bin_freqs_hz = freqs

    def to_bins(
        self, band_values: np.ndarray, formant: float = 1.0, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Spread per-band values over bins by linear interpolation between band centres.

        ``formant`` > 1 moves every formant up by that factor (the envelope is read at
        ``f / formant``); beyond the outer centres the outer values hold. Allocates nothing when
        ``out`` (shape (n_bins,), float64) is given.
        """
        if out is None:
            out = np.empty(len(self.bin_freqs_hz))
        _interp_scaled(
            self.bin_freqs_hz,
            1.0 / formant,
            self.centres_hz,
            np.asarray(band_values, dtype=np.float64),
            out,
        )
        return out


@hop_kernel
def _breathe(aperiodicity: np.ndarray, breathiness: float) -> None:
    """``aperiodicity *= 1 - breathiness; aperiodicity += breathiness`` (numpy's, to the bit,
    without its arrays of the two numbers)."""
    keep = 1.0 - breathiness
    for k in range(aperiodicity.shape[0]):
        aperiodicity[k] *= keep
        aperiodicity[k] += breathiness


@hop_kernel
def _interp_scaled(
    x: np.ndarray, scale: float, xp: np.ndarray, fp: np.ndarray, out: np.ndarray
) -> None:
    """``out = interp(x * scale, xp, fp)`` for increasing ``x`` and ``xp``, in one merge pass."""
    j = 0
    last = xp.shape[0] - 1
    for i in range(x.shape[0]):
        q = x[i] * scale
        if q <= xp[0]:
            out[i] = fp[0]
            continue
        if q >= xp[last]:
            out[i] = fp[last]
            continue
        while xp[j + 1] < q:
            j += 1
        w = (q - xp[j]) / (xp[j + 1] - xp[j])
        out[i] = (1.0 - w) * fp[j] + w * fp[j + 1]


def _long_frames_power(x: np.ndarray, stft: StftConfig) -> np.ndarray:
    """Power spectra of :data:`APERIODICITY_N_FFT` samples centred on each caminos frame, Hann
    windowed and zero-padded to twice that (so their inverse is a linear autocorrelation)."""
    n_frames = n_frames_for(len(x), stft)
    long = APERIODICITY_N_FFT
    padded = np.zeros(len(x) + 2 * long + n_frames * stft.hop)
    padded[long : long + len(x)] = x
    first = long + stft.n_fft // 2 - (stft.n_fft - stft.hop) - long // 2  # start of frame 0
    frames = np.lib.stride_tricks.sliding_window_view(padded[first:], long)[:: stft.hop][:n_frames]
    return np.abs(np.fft.rfft(frames * _hann(long), n=2 * long, axis=1)) ** 2 + POWER_FLOOR


def _hann(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def pitch_periods(power: np.ndarray, sample_rate: int) -> np.ndarray:
    """Period in samples (fractional) of each frame, from the autocorrelation of its power.

    The lag of the highest window-normalised autocorrelation between 1/450 and 1/60 s; the
    shortest lag within 90 % of that highest is taken, which avoids picking twice the period.
    """
    long = APERIODICITY_N_FFT
    window = _hann(long)
    rho = np.correlate(window, window, "full")[long - 1 :] / np.sum(window**2)
    r = np.fft.irfft(power, axis=1)[:, :long]
    lo, hi = int(sample_rate / MAX_F0_HZ), int(sample_rate / MIN_F0_HZ)
    norm = r[:, lo:hi] / (r[:, :1] * rho[lo:hi])
    rows = np.arange(len(norm))
    i = np.argmax(norm >= 0.9 * norm.max(axis=1, keepdims=True), axis=1)
    a = norm[rows, np.maximum(i - 1, 0)]
    b = norm[rows, i]
    c = norm[rows, np.minimum(i + 1, hi - lo - 1)]
    curvature = a - 2.0 * b + c
    shift = np.where(
        np.abs(curvature) > 1e-12, 0.5 * (a - c) / np.where(curvature == 0, 1, curvature), 0.0
    )
    return lo + i + np.clip(shift, -0.5, 0.5)


class Analysis(NamedTuple):
    """What :func:`analyse` measures per hop.

    Attributes
    ----------
    log_power : ndarray, shape (n_frames, n_bands), float32
        Natural log of the mean power per bin in each band (|X|**2 units).
    aperiodicity : ndarray, shape (n_frames, n_bands), float32
        0 (harmonic) .. 1 (noise).
    f0_hz : ndarray, shape (n_frames,), float64
        Pitch from :func:`pitch_periods` (meaningful where ``voiced``).
    voiced : ndarray of bool, shape (n_frames,)
        Periodic below 2 kHz (power-weighted periodicity above :data:`VOICED_PERIODICITY`).
    """

    log_power: np.ndarray
    aperiodicity: np.ndarray
    f0_hz: np.ndarray
    voiced: np.ndarray


def analyse(x: np.ndarray, stft: StftConfig, layout: BandLayout) -> Analysis:
    """Envelope, aperiodicity and pitch of a signal, frame by frame in caminos' framing.

    The envelope comes from the caminos frames themselves. The aperiodicity of a band is one
    minus its periodicity: the band's autocorrelation at the frame's pitch period (found by
    :func:`pitch_periods`), over a :data:`APERIODICITY_N_FFT`-sample window centred on the hop and
    normalised by the window's own autocorrelation. Harmonics give 0 even while the pitch glides
    (the lag is one period, a few ms), noise gives about 0.9, and a mix gives the noise's share
    of the power, which is what :class:`FrameRenderer` takes.

    Parameters
    ----------
    x : ndarray, shape (n_samples,)
        Mono signal at ``layout.sample_rate``.

    Returns
    -------
    Analysis
    """
    power = np.abs(stft_frames(x, stft)) ** 2 + POWER_FLOOR
    mean = power @ layout.mean_matrix.T
    long = APERIODICITY_N_FFT
    long_power = _long_frames_power(x, stft)
    period = pitch_periods(long_power, layout.sample_rate)
    window = _hann(long)
    rho = np.correlate(window, window, "full")[long - 1 :] / np.sum(window**2)
    long_layout = BandLayout(
        StftConfig(n_fft=2 * long, hop=stft.hop), layout.sample_rate, layout.n_bands
    )
    cosine = np.cos(2.0 * np.pi * np.outer(period, np.arange(long + 1)) / (2 * long))
    band_power = long_power @ long_layout.mean_matrix.T
    periodicity = (
        (long_power * cosine)
        @ long_layout.mean_matrix.T
        / band_power
        / np.interp(period, np.arange(long), rho)[:, None]
    )
    aperiodicity = np.clip(1.0 - periodicity, 0.0, 1.0)
    low = layout.centres_hz < VOICING_TOP_HZ
    weights = band_power[:, low]
    low_periodicity = (periodicity[:, low] * weights).sum(axis=1) / weights.sum(axis=1)
    loud = np.log(mean.max(axis=1)) > np.log(mean.max()) - SILENCE_NATS
    return Analysis(
        np.log(mean).astype(np.float32),
        aperiodicity.astype(np.float32),
        layout.sample_rate / period,
        (low_periodicity > VOICED_PERIODICITY) & loud,
    )


def window_transform_table(stft: StftConfig) -> np.ndarray:
    """Complex transform of the analysis window at offsets -3 .. +3 bins, 256 points per bin.

    ``W(d) = sum_n w[n] exp(-2 pi i d n / n_fft)``: the frame of a unit complex exponential at
    bin ``k0`` (window starting at its phase 0) is ``W(k - k0)`` at bin ``k``.
    """
    w = analysis_window(stft)
    offsets = (
        np.arange(-LOBE_HALF_BINS * LOBE_OVERSAMPLING, LOBE_HALF_BINS * LOBE_OVERSAMPLING + 2)
        / LOBE_OVERSAMPLING
    )
    n = np.arange(stft.n_fft)
    return (np.exp(-2j * np.pi * np.outer(offsets, n) / stft.n_fft) @ w).astype(np.complex128)


@hop_kernel
def _render(
    env_power: np.ndarray,
    aperiodicity: np.ndarray,
    f0_bins: float,
    phase0: float,
    table: np.ndarray,
    oversampling: int,
    half: int,
    max_harmonic_bin: float,
    power_to_amplitude: float,
    noise: np.ndarray,
    scratch: np.ndarray,
    out: np.ndarray,
) -> None:
    n_bins = out.shape[0]
    scratch[:] = 0.0
    if f0_bins > 0.0:
        n_harm = int(max_harmonic_bin / f0_bins)
        for h in range(1, n_harm + 1):
            centre = h * f0_bins
            k0 = int(centre + 0.5)
            if k0 >= n_bins:
                break
            p = env_power[k0] * (1.0 - aperiodicity[k0])
            if p <= 0.0:
                continue
            amp = 0.5 * math.sqrt(power_to_amplitude * p * f0_bins)
            ph = h * phase0
            c = amp * complex(math.cos(ph), math.sin(ph))
            for sign in (1, -1):  # the harmonic and, near DC, its negative-frequency image
                if sign == -1:
                    if centre > half:
                        break
                    c = c.conjugate()
                lo = int(math.ceil(sign * centre - half))
                hi = int(math.floor(sign * centre + half))
                for k in range(max(lo, 0), min(hi, n_bins - 1) + 1):
                    pos = (k - sign * centre + half) * oversampling
                    i = int(pos)
                    frac = pos - i
                    scratch[k] += c * ((1.0 - frac) * table[i] + frac * table[i + 1])
    for k in range(n_bins):
        noise_power = env_power[k] * aperiodicity[k]
        re = scratch[k].real + math.sqrt(0.5 * noise_power) * noise[2 * k]
        im = scratch[k].imag + math.sqrt(0.5 * noise_power) * noise[2 * k + 1]
        out[k] = math.sqrt(re * re + im * im)


class FrameRenderer:
    """Harmonic-plus-noise magnitude frames at caminos' STFT settings.

    All buffers are allocated here; :meth:`render` allocates nothing. Holds the fundamental's phase,
    advanced by one hop per call.

    Parameters
    ----------
    stft : StftConfig
    sample_rate : int
        In Hz.
    seed : int
        Seed of the noise.
    """

    def __init__(self, stft: StftConfig, sample_rate: int, seed: int = 0) -> None:
        self.layout = BandLayout(stft, sample_rate)
        self.stft = stft
        self.sample_rate = sample_rate
        self.table = window_transform_table(stft)
        w = analysis_window(stft)
        # Harmonic amplitude A from per-bin power density P at spacing f0 (in bins):
        # A**2 = 4 P f0 / (n_fft * sum(w**2))  (Parseval over one harmonic's lobe).
        self.power_to_amplitude = 4.0 / (stft.n_fft * float(np.sum(w**2)))
        self.max_harmonic_bin = min(MAX_HARMONIC_HZ, sample_rate / 2.0) / self.layout.bin_hz
        self.seed = seed
        self.noise = np.zeros(2 * stft.n_bins)
        self.scratch = np.zeros(stft.n_bins, dtype=np.complex128)
        self.envelope = np.zeros(stft.n_bins)
        self.aperiodicity = np.zeros(stft.n_bins)
        self.reset()

    def reset(self) -> None:
        """Fundamental phase to 0 and the noise generator to its seed."""
        self.phase = 0.0
        self.random = KernelRandom(np.random.default_rng(self.seed))  # the noise, drawn in a kernel

    def render(
        self,
        log_power: np.ndarray,
        aperiodicity: np.ndarray,
        f0_hz: float,
        out: np.ndarray,
        formant: float = 1.0,
        breathiness: float = 0.0,
    ) -> None:
        """Write one magnitude frame.

        Parameters
        ----------
        log_power, aperiodicity : ndarray, shape (n_bands,)
            One frame of :func:`analyse`'s output (or the model's).
        f0_hz : float
            Fundamental in Hz; 0 renders noise only.
        out : ndarray, shape (n_bins,), float64
        formant : float
            Envelope frequency scale (1 unchanged, 1.2 formants 20 % higher).
        breathiness : float in [0, 1]
            Moves aperiodicity towards 1 (0 unchanged, 1 all noise).
        """
        env = np.exp(self.layout.to_bins(log_power, formant, out=self.envelope), out=self.envelope)
        ap = self.layout.to_bins(aperiodicity, formant, out=self.aperiodicity)
        if breathiness > 0.0:  # ap + b (1 - ap), in place
            _breathe(ap, breathiness)
        self.random.standard_normal(self.noise)
        f0_bins = f0_hz / self.layout.bin_hz
        _render(
            env,
            ap,
            f0_bins,
            self.phase,
            self.table,
            LOBE_OVERSAMPLING,
            LOBE_HALF_BINS,
            self.max_harmonic_bin,
            self.power_to_amplitude,
            self.noise,
            self.scratch,
            out,
        )
        self.phase = (self.phase + 2.0 * math.pi * f0_hz * self.stft.hop / self.sample_rate) % (
            2.0 * math.pi
        )
