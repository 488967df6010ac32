"""The README's first command: the demo score renders through the whole engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from caminos.engine.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def test_demo_score_renders(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)  # the score names the demo sound relative to the project
    out = tmp_path / "demo-out.wav"
    code = main(
        ["render", "--score", "patches/scores/demo.score", "-o", str(out), "--seconds", "11"]
    )
    assert code == 0, capsys.readouterr().err
    samples, rate = sf.read(out)
    assert rate == 48000 and samples.shape[1] == 2 and len(samples) >= 11 * 48000  # whole hops
    assert np.isfinite(samples).all()
    assert np.abs(samples).max() <= 10 ** (-0.3 / 20)
    for second in range(11):  # sounding throughout: file, voice, path
        level = np.sqrt(np.mean(samples[second * rate : (second + 1) * rate, 0] ** 2))
        assert level > 10 ** (-45 / 20), second
