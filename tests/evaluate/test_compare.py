"""Comparing samples with a reference corpus: the copy index, excerpts, endings and the evaluate report."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from composer.cli import main
from composer.errors import CorpusError
from composer.evaluate.compare import CHORALE_ROWS, KEYS, CopyIndex, evaluate_scores, to_endings, to_excerpts
from composer.midi_io import write_midi
from composer.music import Note, Score, Track, crop, transpose
from tests.helpers import quarter_notes


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


def test_nearest_without_a_usable_reference_piece_is_a_corpus_error(tmp_path, cache_dir):
    folder = tmp_path / "two-voices"
    folder.mkdir()
    for i in range(3):  # two pitched tracks: no piece has the four voices the bar index compares
        tracks = [Track("hi", 0, False, quarter_notes(72 + i)), Track("lo", 0, False, quarter_notes(48 + i))]
        write_midi(Score(tracks=tracks), folder / f"p{i}.mid")
    sample = Score(tracks=[Track(str(v), 52, False, quarter_notes(60 + 5 * v)) for v in range(4)])
    with pytest.raises(
        CorpusError, match=r"two-voices: no reference piece for the nearest-copy search .*at least 4"
    ):
        evaluate_scores([sample], reference=str(folder), nearest=True)
    assert evaluate_scores([sample], reference=str(folder))["reference"]["pieces"] == 3
    path = tmp_path / "sample.mid"
    write_midi(sample, path)
    result = CliRunner().invoke(main, ["evaluate", str(path), "--reference", str(folder), "--nearest"])
    assert result.exit_code == 2 and "no reference piece for the nearest-copy search" in result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1
