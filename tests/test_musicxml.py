"""write_musicxml: notation a musician accepts, checked by reading the file back through music21."""

from __future__ import annotations

from dataclasses import replace

import pytest
from music21 import clef, converter, key

from composer import Note, Score, Track, write_musicxml
from composer.musicxml import spell

CHOIR = 52


def _eb_chorale() -> Score:
    """Two bars of E-flat major in four voices: A-flats in every voice, one B natural (V/vi) followed
    by a B-flat in the same bar, a quarter rest in the soprano and a half rest ending the bass."""
    voices = {
        "Soprano": [(0, 4, 75), (4, 4, 72), (12, 4, 68), (16, 4, 71), (20, 4, 72), (24, 8, 70)],
        "Alto": [(0, 8, 67), (8, 8, 68), (16, 16, 67)],
        "Tenor": [(0, 8, 58), (8, 8, 56), (16, 16, 58)],
        "Bass": [(0, 8, 51), (8, 8, 44), (16, 8, 46)],
    }
    tracks = [
        Track(name, CHOIR, False, [Note(s, d, p, 80) for s, d, p in notes]) for name, notes in voices.items()
    ]
    return Score(tracks=tracks, key="Eb major", title="composer lstm, seed 0", length=32)


def _tie(n, p) -> str | None:
    tie = n.getTie(p) if n.isChord else n.tie
    return tie.type if tie else None


@pytest.fixture(params=["Eb major", None], ids=["key-given", "key-estimated"])
def eb(tmp_path, request):
    """The E-flat chorale written and read back; with no key, music21 estimates it from the notes."""
    path = tmp_path / "eb.musicxml"
    write_musicxml(replace(_eb_chorale(), key=request.param), path, credit="composer 0.1.0 (lstm-bach)")
    return path, converter.parse(path)


def test_spelling_follows_the_key_with_accidentals_only_where_needed(eb):
    path, score = eb
    names = [
        (part.partName, p.nameWithOctave)
        for part in score.parts
        for n in part.recurse().notes
        for p in n.pitches
    ]
    assert [n for part, n in names if part == "Soprano"] == ["E-5", "C5", "A-4", "B4", "C5", "B-4"]
    assert [n for part, n in names if part != "Soprano"] == [
        "G4",
        "A-4",
        "G4",
        "B-3",
        "A-3",
        "B-3",
        "E-3",
        "A-2",
        "B-2",
    ]
    for part in score.parts:
        assert part.recurse().getElementsByClass(key.KeySignature).first().sharps == -3
    shown = [
        (n.measureNumber, p.nameWithOctave)
        for n in score.recurse().notes
        for p in n.pitches
        if p.accidental is not None and p.accidental.displayStatus
    ]
    assert shown == [(2, "B4"), (2, "B-4")]  # the B natural, then the flat that cancels it
    assert path.read_text().count("<accidental>") == 2


def test_estimated_key_shows_no_accidental_on_scale_tones(tmp_path):
    """A MuseGAN bar with no key: music21 estimates d minor, whose tonic D carries an explicit natural
    that must not be copied onto every D; only F# and the natural that cancels it are shown."""
    voices = {
        "Soprano": [(0, 2, 74), (4, 2, 74), (6, 2, 70), (8, 2, 72), (10, 6, 69)],
        "Alto": [(0, 4, 64), (4, 4, 65), (8, 4, 64), (12, 4, 65)],
        "Tenor": [(0, 4, 57), (6, 8, 57), (15, 1, 57)],
        "Bass": [(0, 2, 50), (2, 2, 54), (4, 2, 50), (8, 4, 45), (12, 2, 53), (14, 2, 50)],
    }
    tracks = [
        Track(name, CHOIR, False, [Note(s, d, p, 80) for s, d, p in notes]) for name, notes in voices.items()
    ]
    write_musicxml(Score(tracks=tracks, length=16), tmp_path / "d.musicxml")
    score = converter.parse(tmp_path / "d.musicxml")
    assert score.parts[0].recurse().getElementsByClass(key.KeySignature).first().sharps == -1
    shown = [
        p.nameWithOctave
        for n in score.recurse().notes
        for p in n.pitches
        if p.accidental and p.accidental.displayStatus
    ]
    assert shown == ["F#3", "F3"]


def test_parts_are_the_four_voices_with_the_tenor_in_treble_8vb(eb):
    _, score = eb
    assert [p.partName for p in score.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    clefs = [type(p.recurse().getElementsByClass(clef.Clef).first()) for p in score.parts]
    assert clefs == [clef.TrebleClef, clef.TrebleClef, clef.Treble8vbClef, clef.BassClef]


def test_rests_are_visible_and_every_bar_is_full(eb):
    path, score = eb
    soprano, bass = score.parts[0], score.parts[3]
    rests = [
        (r.measureNumber, float(r.offset), float(r.quarterLength))
        for r in soprano.recurse().notesAndRests
        if r.isRest
    ]
    assert rests == [(1, 2.0, 1.0)]
    rests = [
        (r.measureNumber, float(r.offset), float(r.quarterLength))
        for r in bass.recurse().notesAndRests
        if r.isRest
    ]
    assert rests == [(2, 2.0, 2.0)]
    assert not any(r.style.hideObjectOnPrint for r in score.recurse().getElementsByClass("Rest"))
    assert 'print-object="no"' not in path.read_text()
    for part in score.parts:
        measures = part.getElementsByClass("Measure")
        assert [float(m.duration.quarterLength) for m in measures] == [4.0, 4.0]


def test_title_and_composer_say_what_made_the_file(eb):
    _, score = eb
    assert score.metadata.bestTitle == "composer lstm, seed 0"
    assert score.metadata.composer == "composer 0.1.0 (lstm-bach)"


def test_other_parts_are_named_by_instrument_and_overlapping_notes_become_tied_chords(tmp_path):
    piano = [Note(0, 4, 60, 80), Note(0, 4, 64, 80), Note(0, 4, 67, 80), Note(2, 4, 72, 80)]
    tracks = [
        Track("right hand", 0, False, piano),
        Track("left hand", 0, False, [Note(0, 16, 48, 80)]),
        Track("track 2 ch 3", 40, False, [Note(4, 4, 76, 80)]),
    ]
    write_musicxml(Score(tracks=tracks, key="C major", length=16), tmp_path / "trio.musicxml")
    score = converter.parse(tmp_path / "trio.musicxml")
    assert [p.partName for p in score.parts] == ["Piano 1", "Piano 2", "Violin"]
    sounding = [
        (
            float(n.offset),
            float(n.quarterLength),
            [(p.midi, _tie(n, p)) for p in n.pitches],
        )
        for n in score.parts[0].recurse().notesAndRests
    ]
    assert sounding == [
        (0.0, 0.5, [(60, "start"), (64, "start"), (67, "start")]),
        (0.5, 0.5, [(60, "stop"), (64, "stop"), (67, "stop"), (72, "start")]),
        (1.0, 0.5, [(72, "stop")]),
        (1.5, 0.5, []),  # rests on the beat grid: an eighth, then a half rest on beat 3
        (2.0, 2.0, []),
    ]


@pytest.mark.parametrize(
    ("tonic", "names"),
    [
        ("E-", ["C", "D-", "D", "E-", "E", "F", "G-", "G", "A-", "A", "B-", "B"]),
        ("d", ["C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B"]),
        ("A", ["C", "C#", "D", "D#", "E", "E#", "F#", "G", "G#", "A", "A#", "B"]),
    ],
)
def test_every_pitch_class_is_spelled_from_the_tonic(tonic, names):
    k = key.Key(tonic)
    pitches = [spell(60 + i, k) for i in range(12)]
    assert [p.name for p in pitches] == names
    assert [p.midi for p in pitches] == list(range(60, 72))
