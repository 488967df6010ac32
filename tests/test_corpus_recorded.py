"""The recorded part of the training corpus: MIDI writing, a small build from the Debian packages
(skipped, with the reason, where they are not installed; scripts/setup.sh --test installs them)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from caminos.models.corpus import build, recorded

MISSING = recorded.available()
needs_packages = pytest.mark.skipif(
    bool(MISSING), reason="needs " + ", ".join(MISSING) + " (scripts/setup.sh --test)"
)


def test_midi_file_is_a_standard_format_zero_file() -> None:
    data = recorded.midi_file(40, [(0.5, 1.0, 60, 100), (2.0, 0.5, 64, 80)])
    assert data[:4] == b"MThd" and struct.unpack(">IHHH", data[4:14]) == (6, 0, 1, 480)
    assert data[14:18] == b"MTrk"
    length = struct.unpack(">I", data[18:22])[0]
    track = data[22:]
    assert len(track) == length and track.endswith(b"\xff\x2f\x00")
    assert bytes([0xC0, 40]) in track  # program change
    assert bytes([0x90, 60, 100]) in track and bytes([0x80, 64, 0]) in track


def test_variable_length_quantities() -> None:
    assert recorded._variable_length(0) == b"\x00"
    assert recorded._variable_length(127) == b"\x7f"
    assert recorded._variable_length(128) == b"\x81\x00"
    assert recorded._variable_length(960) == b"\x87\x40"


def test_sonic_pi_listing_is_parsed(tmp_path) -> None:
    (tmp_path / "README.md").write_text(
        "# Samples\n\n* `:drum_heavy_kick` - http://x/4832/\n"
        "* `:ambi_choir` - http://x/207809/\nother text\n"
    )
    assert recorded.sonic_pi_sources(tmp_path) == {
        "drum_heavy_kick": "http://x/4832/",
        "ambi_choir": "http://x/207809/",
    }


@needs_packages
def test_a_small_corpus_holds_out_whole_instruments_and_pitches(tmp_path) -> None:
    build.build(
        tmp_path,
        0,
        {"harmonic": 1},
        {"harmonic": 1},
        programs={40: "violin"},
        heldout_programs={41: "viola"},
        chords=2,
    )
    train = {p.name for p in (tmp_path / "train").iterdir()}
    heldout = {p.name for p in (tmp_path / "heldout").iterdir()}
    assert any(n.startswith("gm-violin-") for n in train)
    assert any(n.startswith("gm-violin-") for n in heldout)  # every fourth pitch
    assert not any(n.startswith("gm-viola-") for n in train)
    assert any(n.startswith("gm-viola-") for n in heldout)
    # chords of the training instruments in train, of the held-out ones in heldout
    assert {n for n in train if n.startswith("chord-")} == {
        "chord-000-2n.flac",
        "chord-001-3n.flac",
    }
    assert {n for n in heldout if n.startswith("chord-")} == {"chord-heldout-000-2n.flac"}
    recorded_names = {n for n in train | heldout if n.startswith(("gm-", "sonicpi-", "chord-"))}
    assert not {n for n in train if n in recorded_names} & heldout  # a file in one split only
    rows = (tmp_path / "sources.tsv").read_text().splitlines()
    assert rows[0] == "file\tpackage\torigin\tlicence"
    listed = {row.split("\t")[0]: row.split("\t") for row in rows[1:]}
    for name in train | heldout:
        if name.startswith(("gm-", "sonicpi-", "chord-")):
            assert name in listed, name
    assert "violin" in listed["chord-000-2n.flac"][2]
    assert "viola" in listed["chord-heldout-000-2n.flac"][2]
    assert all(r[3] in ("MIT", "CC0 1.0") for r in listed.values())
    note = next(n for n in sorted(train) if n.startswith("gm-violin-"))
    x, rate = sf.read(tmp_path / "train" / note)
    assert rate == 48_000 and -25.0 < 20 * np.log10(np.max(np.abs(x))) < -2.5


def test_chords_are_drawn_within_the_instruments_ranges_and_shapes() -> None:
    from caminos.models.corpus import chords

    rng = np.random.default_rng(4)
    for size in (2, 3, 4):
        for _ in range(40):
            chord = chords.draw_chord(recorded.TRAIN_PROGRAMS, rng, size=size)
            keys = [key for key, _, _, _, _ in chord]
            assert len(chord) == size and len(set(keys)) == size
            assert tuple(k - keys[0] for k in keys) in chords.SHAPES[size]
            for key, program, velocity, onset, gain in chord:
                assert program in recorded.TRAIN_PROGRAMS
                assert 50 <= velocity <= 110 and 0.0 <= onset <= chords.MAX_STAGGER_S
                assert -chords.SPREAD_DB <= gain <= 0.0


@needs_packages
def test_chords_render_their_notes_into_the_corpus(tmp_path) -> None:
    """Rendered chords hold their notes: the multi-pitch tracker finds at least two of a chord's
    keys in its held part, and every file's notes are listed for sources.tsv."""
    from caminos.engine.core.config import StftConfig
    from caminos.engine.dsp.spectral import stft
    from caminos.models.corpus import chords
    from caminos.models.multipitch import MultiPitchTracker

    rng = np.random.default_rng(7)
    organ = {19: "church-organ"}
    records = chords.render_chords(tmp_path, 3, organ, rng)
    assert [r.file for r in records] == [
        "chord-000-2n.flac",
        "chord-001-3n.flac",
        "chord-002-4n.flac",
    ]
    tracker = MultiPitchTracker(1024, recorded.SAMPLE_RATE)
    for record in records:
        x, rate = sf.read(tmp_path / record.file)
        assert rate == recorded.SAMPLE_RATE and -24.5 < 20 * np.log10(np.abs(x).max()) < -2.5
        keys = [
            int(part.split()[1]) for part in record.origin.split("(")[1].split(")")[0].split(", ")
        ]
        mags = np.abs(stft(x, StftConfig(n_fft=1024, hop=256)))
        f0, _ = tracker.track(mags)
        held = f0[len(f0) // 4 : len(f0) // 2]  # inside the held part
        found = {round(69 + 12 * np.log2(f / 440.0)) for row in held for f in row if f > 0}
        assert len(found & set(keys)) >= 2, (record.origin, sorted(found))
