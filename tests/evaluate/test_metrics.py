"""Music metrics on literal tiny scores, with values computed by hand."""

from __future__ import annotations

import math

import pytest

from composer.evaluate import metrics
from composer.music import Note, Score, Track


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
