"""MusicXML through music21: a Score as notation a musician can read.

Pitches are spelled from the key (estimated by music21 when the Score has none), so E-flat major
shows A-flat, not G-sharp, and the key signature carries the accidentals. Chorale voices are named
Soprano, Alto, Tenor and Bass, the tenor in treble-8vb clef; other parts are named by instrument.
Rests are real, visible rests, and the title and composer credit say what made the file.
"""

from __future__ import annotations

import contextlib
from collections import Counter

from composer.errors import ComposerError
from composer.keys import spell_key
from composer.midi_io import PathOrFile, _write_bytes
from composer.music import Note, Score, Track
from composer.version import __version__

VOICES = ("Soprano", "Alto", "Tenor", "Bass")
ABBREVIATIONS = {"Soprano": "S.", "Alto": "A.", "Tenor": "T.", "Bass": "B."}
# Interval above the tonic that names each pitch class (0-11 semitones). Major: raised 1st, 4th and
# 5th (leading tones of V/ii, V/V, V/vi), lowered 3rd and 7th (mixture, V7/IV). Minor: the raised
# 6th and 7th, the Neapolitan lowered 2nd, the raised 3rd (Picardy, V/iv) and raised 4th (V/V).
SPELLING = {
    "major": ("P1", "A1", "M2", "m3", "M3", "P4", "A4", "P5", "A5", "M6", "m7", "M7"),
    "minor": ("P1", "m2", "M2", "m3", "M3", "P4", "A4", "P5", "m6", "M6", "m7", "M7"),
}


def write_musicxml(score: Score, path_or_file: PathOrFile, credit: str | None = None) -> None:
    """Write a Score as MusicXML (opens in MuseScore); ``"-"`` writes to stdout.

    ``credit`` is the composer credit (default ``composer <version>``); the title is ``score.title``.
    """
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    _write_bytes(GeneralObjectExporter(to_music21(score, credit)).parse(), path_or_file)


def to_music21(score: Score, credit: str | None = None):
    """The Score as a music21 stream.Score: one Part per track, in measures, spelled in its key.

    Returns
    -------
    music21.stream.Score
        Parts with instrument, clef, key signature, meter (and tempo on the first), notes, ties
        and visible rests, every part filled to ``score.n_steps``.
    """
    from music21 import metadata, stream

    out = stream.Score()
    out.metadata = metadata.Metadata(
        title=score.title or "Untitled", composer=credit or f"composer {__version__}"
    )
    k = _key(score)
    names = part_names(score.tracks)
    end = score.n_steps / score.resolution
    for i, (track, name) in enumerate(zip(score.tracks, names)):
        out.insert(0, _part(track, name, score, k, end, with_tempo=i == 0))
    return out


def part_names(tracks: list[Track]) -> list[str]:
    """Soprano/Alto/Tenor/Bass kept; other parts named by instrument, numbered when repeated."""
    from music21 import instrument

    raw = [
        t.name
        if t.name in VOICES
        else "Drums"
        if t.is_drum
        else instrument.instrumentFromMidiProgram(t.program).instrumentName or "Part"
        for t in tracks
    ]
    counts, seen, out = Counter(raw), Counter(), []
    for name in raw:
        seen[name] += 1
        out.append(f"{name} {seen[name]}" if counts[name] > 1 and name not in VOICES else name)
    return out


def spell(midi: int, k) -> object:
    """The music21 Pitch of MIDI number ``midi`` spelled in key ``k`` (a music21 key.Key).

    Each of the 12 pitch classes is named by its interval above the tonic (SPELLING): scale tones
    as in the scale, chromatic tones as tonal music uses them (raised 4th for V/V, lowered 7th for
    V7/IV, ...). In E-flat major pitch class 8 is A-flat and 11 is B natural, never G-sharp or C-flat.
    """
    from music21 import pitch

    intervals = SPELLING["minor" if k.mode == "minor" else "major"]
    # By name: a tonic from music21's key analysis carries an explicit natural, which would be shown.
    p = pitch.Pitch(k.tonic.transpose(intervals[(midi - k.tonic.pitchClass) % 12]).name)
    p.octave = 4
    p.octave += (midi - round(p.ps)) // 12
    return p


def _key(score: Score):
    """The Score's key as a music21 key.Key, else music21's estimate from its notes (C major if none)."""
    from music21 import key, note, stream

    with contextlib.suppress(ComposerError):  # no key, or one that is not major or minor: estimate
        tonic, _, mode = spell_key(score.key).partition(" ")
        return key.Key(tonic[:1] + tonic[1:].replace("b", "-"), mode)  # music21 spells Eb "E-"
    notes = [n for t in score.tracks if not t.is_drum for n in t.notes]
    if not notes:
        return key.Key("C")
    flat = stream.Stream()
    for n in notes:
        flat.insert(
            n.start / score.resolution, note.Note(n.pitch, quarterLength=n.duration / score.resolution)
        )
    return flat.analyze("key")


def _part(track: Track, name: str, score: Score, k, end: float, with_tempo: bool):
    """One track as a Part in measures: instrument, clef, key, meter, notes, ties, visible rests."""
    from music21 import clef, instrument, key, meter, note, stream, tempo

    part = stream.Part()
    part.partName = name
    part.partAbbreviation = ABBREVIATIONS.get(name, name[:3] + ".")
    inst = (
        instrument.UnpitchedPercussion()
        if track.is_drum
        else instrument.instrumentFromMidiProgram(track.program)
    )
    inst.partName, inst.partAbbreviation = part.partName, part.partAbbreviation
    part.insert(0, inst)
    if with_tempo:
        part.insert(0, tempo.MetronomeMark(number=score.bpm))
    part.insert(0, meter.TimeSignature(f"{score.time_signature[0]}/{score.time_signature[1]}"))
    part.insert(0, key.KeySignature(k.sharps))
    _insert_notes(part, track.notes, score.resolution, k)
    part.insert(0, _clef(name, part) if not track.is_drum else clef.PercussionClef())
    bar = meter.TimeSignature(
        f"{score.time_signature[0]}/{score.time_signature[1]}"
    ).barDuration.quarterLength
    sounding = sorted((float(n.offset), float(n.offset + n.quarterLength)) for n in part.notes)
    at = 0.0
    for start, stop in [*sounding, (max(end, part.highestTime), 0.0)]:
        for offset, length in rest_lengths(at, start, bar, compound=score.time_signature[1] == 8):
            part.insert(offset, note.Rest(quarterLength=length))
        at = max(at, stop)
    part.makeMeasures(inPlace=True)
    part.makeTies(inPlace=True)
    return part


def rest_lengths(start: float, stop: float, bar: float, compound: bool = False) -> list[tuple[float, float]]:
    """(offset, length) of the rests that fill ``start``-``stop`` (quarter notes) as engravers write them.

    A whole bar gets one rest; otherwise each rest is the longest power-of-two length (whole, half,
    quarter, ...) that starts on a multiple of itself within its bar and ends by ``stop``, so beats
    stay visible: 1.5-4.0 in 4/4 is an eighth and a half rest, not a half rest across beat 3.
    In compound meters (x/8) a dotted-quarter beat rest is allowed on a beat.
    """
    out, at = [], start
    while at < stop - 1e-9:
        in_bar = at % bar
        bar_end = at - in_bar + bar
        if in_bar == 0 and stop >= bar_end:
            out.append((at, bar))
            at = bar_end
            continue
        lengths = ([1.5] if compound else []) + [4.0, 2.0, 1.0, 0.5, 0.25, 0.125, 0.0625]
        length = next(
            (d for d in lengths if in_bar % d == 0 and at + d <= min(stop, bar_end) + 1e-9),
            min(stop, bar_end) - at,  # off the grid: what is left
        )
        out.append((at, length))
        at += length
    return out


def _insert_notes(part, notes: list[Note], resolution: int, k) -> None:
    """Notes with the same onset and length become one chord; a track whose notes still overlap is
    chordified (sustained notes split and tied), since a part line holds one sound at a time."""
    from music21 import chord, note

    groups: dict[tuple[int, int], list[Note]] = {}
    for n in sorted(notes):
        groups.setdefault((n.start, n.duration), []).append(n)
    ends = 0
    overlap = False
    for (start, duration), group in sorted(groups.items()):
        overlap |= start < ends
        ends = max(ends, start + duration)
        pitches = [spell(n.pitch, k) for n in group]
        obj = note.Note(pitches[0]) if len(group) == 1 else chord.Chord(pitches)
        obj.quarterLength = duration / resolution
        obj.volume.velocity = max(n.velocity for n in group)
        part.insert(start / resolution, obj)
    if overlap:
        chords = part.chordify()
        for obj in list(part.notes):
            part.remove(obj)
        for obj in chords.notes:
            part.insert(obj.offset, obj)


def _clef(name: str, part):
    """Treble for soprano and alto, treble-8vb for the tenor, bass for the bass; else music21's best."""
    from music21 import clef

    fixed = {
        "Soprano": clef.TrebleClef,
        "Alto": clef.TrebleClef,
        "Tenor": clef.Treble8vbClef,
        "Bass": clef.BassClef,
    }
    if name in fixed:
        return fixed[name]()
    return clef.bestClef(part, recurse=True)
