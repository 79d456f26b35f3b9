"""Music metrics on literal tiny scores, with values computed by hand."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from click.testing import CliRunner

from composer.cli import main
from composer.errors import CorpusError
from composer.evaluate import metrics
from composer.evaluate.compare import CHORALE_ROWS, KEYS, CopyIndex, evaluate_scores, to_endings, to_excerpts
from composer.midi_io import write_midi
from composer.music import Note, Score, Track, crop, transpose


@pytest.fixture
def two_bars():
    """Bar 1: C4 (4 steps), E4 (1), G4 (8) over a whole-bar C3; bar 2: D4 (2 steps) alone."""
    upper = Track("upper", 52, False, [Note(0, 4, 60), Note(4, 1, 64), Note(8, 8, 67), Note(16, 2, 62)])
    lower = Track("lower", 52, False, [Note(0, 16, 48)])
    return Score([upper, lower], length=32)


def test_empty_bar_rate(two_bars):
    assert metrics.empty_bar_rate(two_bars) == 0.0
    assert metrics.empty_bar_rate(two_bars, 1) == 0.5
    assert metrics.empty_bar_rate(Score([Track(notes=[Note(0, 1, 60)])], length=64)) == 0.75


def test_used_pitch_classes(two_bars):
    assert metrics.used_pitch_classes(two_bars) == 2.0  # {C, E, G} then {D}
    assert metrics.used_pitch_classes(two_bars, 1) == 1.0  # the silent bar does not count
    assert math.isnan(metrics.used_pitch_classes(Score([Track()])))


def test_qualified_note_rate(two_bars):
    assert metrics.qualified_note_rate(two_bars) == 4 / 5  # the 1-step E4 is not qualified
    assert metrics.qualified_note_rate(two_bars, 0) == 3 / 4


def test_polyphony_and_pitch_range(two_bars):
    # steps 0-4 two pitches, 5-7 one, 8-15 two, 16-17 one: (5*2 + 3 + 8*2 + 2) / 18
    assert metrics.polyphony(two_bars) == pytest.approx(31 / 18)
    assert metrics.polyphony(two_bars, 0) == 1.0
    assert metrics.pitch_range(two_bars) == 19.0 and metrics.pitch_range(two_bars, 0) == 7.0


def test_scale_consistency_and_entropy(two_bars):
    assert metrics.scale_consistency(two_bars) == 1.0  # C D E G: all in C major
    chromatic = Score([Track(notes=[Note(i, 1, 60 + i) for i in range(4)])])
    assert metrics.scale_consistency(chromatic) == 0.75  # no major scale holds 3 semitones in a row
    # pitch classes C C D E G -> p = .4 .2 .2 .2
    expected = -(0.4 * math.log2(0.4) + 3 * 0.2 * math.log2(0.2))
    assert metrics.pitch_class_entropy(two_bars) == pytest.approx(expected)
    assert metrics.pitch_class_entropy(Score([Track(notes=[Note(0, 1, 60), Note(1, 1, 72)])])) == 0.0


def test_tonal_distance_c_against_g():
    c, g = Track("c", notes=[Note(0, 16, 60)]), Track("g", notes=[Note(0, 16, 55)])
    # phi(C) = (0, 1, 0, 1, 0, 1/2); phi(G) = (1/2, sqrt3/2, 1, 0, sqrt3/4, -1/4)
    d = math.sqrt(0.25 + (1 - math.sqrt(3) / 2) ** 2 + 1 + 1 + 3 / 16 + 0.75**2)
    assert metrics.tonal_distance(Score([c, g]), 0, 1) == pytest.approx(d)
    c_low = Track("c", notes=[Note(0, 16, 36)])
    assert metrics.tonal_distance(Score([c, c_low]), 0, 1) == pytest.approx(0.0, abs=1e-12)
    assert metrics.tonal_distance(Score([c, g, c_low])) == pytest.approx(2 * d / 3)  # mean of 3 pairs


def test_music_metrics_keys_per_track(two_bars):
    m = metrics.music_metrics(two_bars)
    assert set(m["tracks"]) == {"upper", "lower"}
    assert m["tracks"]["lower"]["empty_bar_rate"] == 0.5
    assert m["used_pitch_classes_merged"] == 2.0  # {C, E, G} then {D}
    assert m["used_pitch_classes_per_track"] == 1.5  # upper: 3 then 1; lower: 1 (bar 2 is silent)
    assert m["tracks"]["upper"]["used_pitch_classes"] == 2.0


def test_copy_is_found_at_any_offset_and_transposition(bach):
    pieces = [s for s in bach.pieces if s.time_signature == (4, 4)][:10]
    index = CopyIndex(pieces, [f"p{i}" for i in range(10)])
    copy = crop(pieces[3], 32, 32 + 3 * 16)  # bars 3-5, on the bar line
    assert index.nearest(copy) == {
        "nearest": "p3 bar 3 step 1",
        "transposition": 0,
        "copy_steps": 48,
        "max_verbatim_bars": 3.0,
    }
    # off the bar line and a minor third up; crop drops the notes held into step 37, so the copy
    # starts where the last of them would have ended
    shifted = transpose(crop(pieces[3], 37, 37 + 45), 3)
    held = max([n.end for t in pieces[3].tracks for n in t.notes if n.start < 37 < n.end], default=37)
    found = index.nearest(shifted)
    assert (held, found["copy_steps"], found["transposition"]) == (40, 42, 3)
    assert found["nearest"] == "p3 bar 3 step 9" and found["max_verbatim_bars"] == 42 / 16


def test_copy_needs_all_four_voices_and_no_silence():
    line = [Note(s, 4, p) for s, p in zip(range(0, 32, 4), (60, 62, 64, 65, 67, 65, 64, 62))]
    voices = [Track(f"v{k}", notes=[replace(n, pitch=n.pitch - 5 * k) for n in line]) for k in range(4)]
    index = CopyIndex([Score(voices)], ["four"])
    other_bass = voices[:3] + [Track("v3", notes=[replace(n, pitch=36) for n in line])]
    found = index.nearest(Score(other_bass))
    assert found["copy_steps"] == 0 and found["nearest"] is None
    assert index.nearest(Score(voices[:3]))["nearest"] is None  # three voices: no four-voice copy
    silent = Score(voices, length=64)
    assert index.nearest(silent)["copy_steps"] == 32  # the trailing silence is not a copy
    with pytest.raises(CorpusError, match="at least 4 pitched tracks"):
        CopyIndex([Score(voices[:2])], ["two"], name="tiny")


def test_evaluate_json_keys(bach, two_bars):
    excerpts = to_excerpts(bach.split("train")[:20], 2)
    assert excerpts and all(e.n_bars == 2 for e in excerpts)
    report = evaluate_scores(excerpts[:3], "bach", nearest=True)
    keys = set(KEYS) | {"chorale"}
    assert keys <= set(report["samples"]) and keys <= set(report["reference"])
    assert set(CHORALE_ROWS) <= set(report["samples"]["chorale"]) | {"duration_kl"}
    assert set(CHORALE_ROWS) <= set(report["reference"]["chorale"])
    assert report["samples"]["max_verbatim_bars"] == 2.0  # corpus excerpts copy a chorale whole


def test_to_endings_keeps_the_last_bars():
    notes = [Note(b * 16, 16, 60 + b) for b in range(5)]
    piece = Score([Track("s", notes=notes)], title="five bars")
    (end,) = to_endings([piece, Score([Track(notes=notes)], time_signature=(3, 4))], 2)  # 4/4 only
    assert end.tracks[0].notes == [Note(0, 16, 63), Note(16, 16, 64)] and end.length == 32
    assert to_endings([piece], 8)[0].tracks[0].notes == notes  # shorter than 8 bars: all of it


def test_evaluate_files_reports_the_chorale_group(tmp_path, cache_dir):
    # a V-I cadence in C, half notes: S B4-C5, A G4-G4, T D4-E4, B G2-C3
    lines = [(71, 72), (67, 67), (62, 64), (43, 48)]
    tracks = [Track(f"v{i}", 52, False, [Note(0, 8, a), Note(8, 8, b)]) for i, (a, b) in enumerate(lines)]
    path = tmp_path / "cadence.mid"
    write_midi(Score(tracks, key="C major"), path)
    folder = tmp_path / "reference"  # the cadence a fifth lower, three times: F major ending on Bb
    folder.mkdir()
    for i in range(3):
        write_midi(
            Score([replace(t, notes=[replace(n, pitch=n.pitch - 7) for n in t.notes]) for t in tracks]),
            folder / f"{i}.mid",
        )
    args = ["evaluate", str(path), "--reference", str(folder), "--nearest", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    chorale, reference = report["samples"]["chorale"], report["reference"]["chorale"]
    assert chorale["ends_on_tonic_root_position"] == 1.0 and chorale["parallels_per_100"] == 0.0
    assert chorale["repeated_notes"] == 0.125 and chorale["pieces"] == 1
    assert reference["pieces"] == 3 and reference["final_root_position"] == 1.0
    assert reference["in_satb_range"] == 7 / 8  # the bass's C2 is below E2
    assert chorale["duration_kl"] == 0.0  # the same half notes
    (copy,) = report["samples"]["files"]
    assert (copy["copy_steps"], copy["transposition"], copy["max_verbatim_bars"]) == (16, 7, 1.0)
    text = CliRunner().invoke(main, args[:-1]).output
    assert "ends_on_tonic_root_position" in text and "used_pitch_classes_per_track" in text
