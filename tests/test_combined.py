"""RTPGHI + GSRTISI-LA: better than either part alone at the same look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from caminos.engine.core.config import StftConfig
from caminos.engine.core.errors import ParameterError
from caminos.engine.dsp.phase import reconstruct, run_streaming
from caminos.engine.dsp.phase.combined import PghiGsRtisi
from caminos.engine.dsp.spectral import stft
from tests.signals import chirp, noise_and_clicks, spectral_convergence_db

CFG = StftConfig()


@pytest.mark.parametrize("signal", [chirp, noise_and_clicks])
def test_combination_beats_its_parts_at_two_frames_of_lookahead(signal) -> None:
    target = np.abs(stft(signal(1.0), CFG))

    def sc(method: str, **kw) -> float:
        return spectral_convergence_db(reconstruct(target, method, CFG, **kw), target, CFG)

    combined = sc("rtpghi+gsrtisi", lookahead=2, iterations=8)
    assert combined < sc("gsrtisi-la", lookahead=2, iterations=8) - 1.0
    assert combined < sc("rtpghi", lookahead=1) - 3.0


def test_centred_rtpghi_seeds_better_than_causal_on_a_sweep() -> None:
    # The reason the combination spends one frame of its look-ahead on RTPGHI's gradient.
    target = np.abs(stft(chirp(1.0), CFG))
    centred = run_streaming(PghiGsRtisi(CFG, lookahead=2, iterations=8, pghi_lookahead=1), target)
    causal = run_streaming(PghiGsRtisi(CFG, lookahead=2, iterations=8, pghi_lookahead=0), target)
    assert (
        spectral_convergence_db(centred, target, CFG)
        < spectral_convergence_db(causal, target, CFG) - 5.0
    )


def test_lookahead_zero_runs_causally_and_bad_split_is_refused() -> None:
    assert PghiGsRtisi(CFG, lookahead=0).lookahead_frames == 0
    with pytest.raises(ParameterError, match="pghi_lookahead"):
        PghiGsRtisi(CFG, lookahead=0, pghi_lookahead=1)
