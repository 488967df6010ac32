"""Phase vocoder phase advance with peak phase locking, from magnitudes alone.

The cheapest streaming method after ``random``, made for freeze and time-stretch: spectral peaks
advance their phase by their instantaneous frequency, and the bins around each peak are locked to
it (Laroche & Dolson's identity phase locking, 1999). Without the source's phase, the
instantaneous frequency comes from the log-magnitude's slope across frequency, which for a
Gaussian window gives a sinusoid's exact frequency in every bin of its lobe:
``s(k) = -pi lambda (k - f)**2 / N**2`` gives ``tgrad(k) = 2 pi a f / N`` (see
:mod:`caminos.engine.dsp.phase.pghi`). Bins between peaks integrate the frequency-direction
gradient from their
peak, which is zero for a frozen frame, so a freeze holds a rigid, non-phasey image.
"""

from __future__ import annotations

import numpy as np

from caminos.engine.core.config import StftConfig
from caminos.engine.dsp.compiled import hop_kernel
from caminos.engine.dsp.phase.base import StreamingPhase
from caminos.engine.dsp.phase.pghi import _LOG_FLOOR, _log_magnitude, _time_gradient
from caminos.engine.dsp.spectral import gaussian_lambda

_TWO_PI = 2.0 * np.pi


@hop_kernel
def _vocoder_step(
    magnitude: np.ndarray,
    hop: int,
    n_fft: int,
    lam: float,
    log_tol: float,
    logs: np.ndarray,
    tgrads: np.ndarray,
    phase: np.ndarray,
    fgrad: np.ndarray,
    peak_of: np.ndarray,
    out: np.ndarray,
) -> None:
    """Advance ``phase`` (window-centre convention, one frame) and write ``out``.

    ``logs``/``tgrads`` rows are frames m-1 and m; ``phase`` holds frame m-1 in, frame m out.
    """
    n_bins = magnitude.shape[0]
    for k in range(n_bins):
        logs[0, k] = logs[1, k]
        tgrads[0, k] = tgrads[1, k]
    top = _log_magnitude(magnitude, logs[1])
    _time_gradient(logs[1], hop, n_fft, lam, tgrads[1])
    fscale = -lam / (hop * n_fft)
    for k in range(n_bins):
        fgrad[k] = fscale * (logs[1, k] - logs[0, k])  # causal time slope of log magnitude

    # Peaks: local maxima above the tolerance. Each bin belongs to the peak on its side of the
    # magnitude minimum between two neighbouring peaks.
    threshold = top + log_tol
    n_peaks = 0
    last_peak = -1
    for k in range(n_bins):
        left = logs[1, k - 1] if k > 0 else -np.inf
        right = logs[1, k + 1] if k + 1 < n_bins else -np.inf
        v = logs[1, k]
        if v > threshold and v > left and v >= right:
            n_peaks += 1
            # Peak: advance by its instantaneous frequency (trapezoid over the hop).
            phase[k] = phase[k] + 0.5 * (tgrads[0, k] + tgrads[1, k])
            if last_peak >= 0:
                # Split the bins between the two peaks at the magnitude minimum.
                split = last_peak + 1
                for j in range(last_peak + 1, k):
                    if logs[1, j] < logs[1, split]:
                        split = j
                for j in range(last_peak + 1, k):
                    peak_of[j] = last_peak if j < split else k
            else:
                for j in range(0, k):
                    peak_of[j] = k
            peak_of[k] = k
            last_peak = k
    if n_peaks == 0:  # silence or a flat floor: every bin advances on its own
        for k in range(n_bins):
            phase[k] = phase[k] + 0.5 * (tgrads[0, k] + tgrads[1, k])
            peak_of[k] = k
    else:
        for j in range(last_peak + 1, n_bins):
            peak_of[j] = last_peak
        # Lock: integrate fgrad outwards from each peak to the bins it owns.
        for k in range(n_bins):
            if peak_of[k] != k:
                continue
            j = k + 1
            while j < n_bins and peak_of[j] == k:
                phase[j] = phase[j - 1] + 0.5 * (fgrad[j - 1] + fgrad[j])
                j += 1
            j = k - 1
            while j >= 0 and peak_of[j] == k:
                phase[j] = phase[j + 1] - 0.5 * (fgrad[j + 1] + fgrad[j])
                j -= 1
    for k in range(n_bins):
        phi = phase[k]
        phi = phi - _TWO_PI * np.floor(phi / _TWO_PI)
        phase[k] = phi
        shifted = phi - np.pi * k
        out[k] = complex(magnitude[k] * np.cos(shifted), magnitude[k] * np.sin(shifted))


class PhaseVocoder(StreamingPhase):
    """Phase vocoder phase advance with peak locking; no look-ahead, O(n_bins) per frame.

    Parameters
    ----------
    stft : StftConfig
        Frame settings.
    tolerance_db : float
        Local maxima more than this far (dB) below the frame's loudest bin are not peaks.
    """

    name = "pv"

    def __init__(self, stft: StftConfig, tolerance_db: float = -80.0) -> None:
        super().__init__(stft)
        self._lambda = gaussian_lambda(stft)
        self._log_tol = tolerance_db / 20.0 * np.log(10.0)
        k = self.n_bins
        self._logs = np.full((2, k), np.log(_LOG_FLOOR))
        self._tgrads = np.zeros((2, k))
        self._phase = np.zeros(k)
        self._fgrad = np.zeros(k)
        self._peak_of = np.zeros(k, dtype=np.int64)

    def process(
        self, magnitude: np.ndarray, out: np.ndarray, reference: np.ndarray | None = None
    ) -> None:
        _vocoder_step(
            magnitude,
            self.stft.hop,
            self.stft.n_fft,
            self._lambda,
            self._log_tol,
            self._logs,
            self._tgrads,
            self._phase,
            self._fgrad,
            self._peak_of,
            out,
        )

    def reset(self) -> None:
        """Forget all frames, as if newly constructed."""
        self._logs[:] = np.log(_LOG_FLOOR)
        self._tgrads[:] = 0.0
        self._phase[:] = 0.0
