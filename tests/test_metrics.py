"""Music metrics on literal tiny scores, with values computed by hand."""

from __future__ import annotations

import math

import pytest

from composer import metrics
from composer.compare import BarIndex, evaluate_scores, to_excerpts
from composer.music import Note, Score, Track, crop


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


def test_to_metrics_keys_per_track(two_bars):
    m = metrics.to_metrics(two_bars)
    assert set(m["tracks"]) == {"upper", "lower"}
    assert m["tracks"]["lower"]["empty_bar_rate"] == 0.5
    assert m["used_pitch_classes"] == 2.0


def test_verbatim_copy_is_found(bach):
    pieces = [s for s in bach.pieces if s.time_signature == (4, 4)][:10]
    index = BarIndex(pieces, [f"p{i}" for i in range(10)])
    copy = crop(pieces[3], 32, 32 + 3 * 16)
    found = index.nearest(copy)
    assert found == {"nearest": "p3 bar 3", "similarity": 1.0, "max_verbatim_bars": 3}
    shifted = Score(
        [
            Track(t.name, t.program, False, [Note(n.start, n.duration, n.pitch + 1) for n in t.notes])
            for t in copy.tracks
        ]
    )
    assert index.nearest(shifted)["max_verbatim_bars"] == 0


def test_evaluate_json_keys(bach, two_bars):
    excerpts = to_excerpts(bach.split("train")[:20], 2)
    assert excerpts and all(e.n_bars == 2 for e in excerpts)
    report = evaluate_scores(excerpts[:3], "bach", nearest=True)
    keys = set(metrics.PER_TRACK) | {"tonal_distance"}
    assert keys <= set(report["samples"]) and keys <= set(report["reference"])
    assert report["samples"]["max_verbatim_bars"] == 2  # training excerpts are verbatim copies
