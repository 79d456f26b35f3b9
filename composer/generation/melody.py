"""A user's melody for `composer harmonize`: one monophonic line read from MIDI or MusicXML.

``read_melody`` returns the line as a one-track Score on the step grid, with its meter, tempo and key,
and the notices the user should see (the highest voice taken from a polyphonic file, a pickup found,
the key guessed). MIDI goes through composer.midi_io; MusicXML through music21's converter with
``forceSource=True, storePickle=False``, so music21 neither loads nor writes a pickled copy of the
file (its parse cache would otherwise ``pickle.loads`` whatever it finds under its scratch folder).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from composer.errors import ComposerError
from composer.keys import key_name, key_scores, parse_key
from composer.music import DEFAULT_RESOLUTION, Note, Score, Track

MUSICXML = (".musicxml", ".xml", ".mxl")
MAX_MUSICXML_BYTES = 8_000_000


def read_melody(path: str, resolution: int = DEFAULT_RESOLUTION) -> tuple[Score, list[str]]:
    """The melody of a MIDI or MusicXML file, and notices about how it was read.

    Returns
    -------
    melody : Score
        One track, the highest voice: at each onset the highest note, each note cut where the next
        begins. Bar lines fall on whole bars (a pickup is padded with silence in front).
    notices : list of str
    """
    if Path(path).suffix.lower() in MUSICXML:
        score, pickup = _read_musicxml(path, resolution)
    else:
        from composer.midi_io import read_midi

        score, pickup = read_midi(path, resolution), None
    notices = []
    pitched = [t for t in score.tracks if not t.is_drum and t.notes]
    notes = sorted(n for t in pitched for n in t.notes)
    if not notes:
        raise ComposerError(f"{path}: holds no pitched notes, so there is no melody to harmonize")
    line = to_top_line(notes)
    if len(pitched) > 1 or len(line) < len(notes):
        notices.append(
            f"{path}: {len(pitched)} track(s) with {len(notes)} notes, not one line; took the highest voice "
            f"({len(line)} notes)"
        )
    spb = score.steps_per_bar
    if pickup is None:  # MIDI has no pickup bars: a file that ends inside a bar is read as having one
        end = max(line[-1].end, score.length)
        pickup = (-end) % spb if line[0].start < end % spb else 0
        if pickup:
            notices.append(
                f"{path}: it ends {end % spb} steps into a bar; read as a pickup of {end % spb} steps "
                "(bar lines moved to match)"
            )
    line = [replace(n, start=n.start + pickup) for n in line]
    track = Track("Soprano", 52, False, line)
    melody = replace(score, tracks=[track], length=0)
    if melody.key:  # a bare key signature: major or relative minor
        melody = replace(melody, key=_major_or_minor(melody.key, line))
    if not melody.key:
        melody = replace(melody, key=guess_key(line))
        notices.append(f"{path}: no key given; harmonizing in {melody.key} (give its key to choose another)")
    return melody, notices


def to_top_line(notes: list[Note]) -> list[Note]:
    """The highest voice of notes sorted by onset: at each onset the highest note, taken when it is at
    least as high as the line's note still sounding; each note is cut where the next one starts."""
    line: list[Note] = []
    by_start: dict[int, Note] = {}
    for n in notes:
        if n.start not in by_start or n.pitch > by_start[n.start].pitch:
            by_start[n.start] = n
    for start in sorted(by_start):
        n = by_start[start]
        if line and line[-1].end > start:
            if n.pitch < line[-1].pitch:
                continue
            line[-1] = replace(line[-1], duration=start - line[-1].start)
        line.append(n)
    return line


def guess_key(notes: list[Note]) -> str:
    """The key of a melody: the best Krumhansl-Kessler match, unless a key on the last note's pitch
    class matches nearly as well (melodies end on the tonic far more often than not)."""
    scores = key_scores(notes)
    best = max(scores, key=lambda k: (scores[k], -k[0]))
    final = notes[-1].pitch % 12
    on_final = max(((final, m) for m in ("major", "minor")), key=lambda k: scores[k])
    if scores[on_final] >= scores[best] - 0.15:
        best = on_final
    return key_name(*best)


def _read_musicxml(path: str, resolution: int) -> tuple[Score, int]:
    """(the notes of every part as one Score, the pickup padding in steps)."""
    try:
        size = os.stat(path).st_size
    except OSError as e:
        raise ComposerError(f"{path}: cannot read file ({e.strerror or e})") from None
    if size > MAX_MUSICXML_BYTES:
        raise ComposerError(
            f"{path}: {size:,} bytes, over the {MAX_MUSICXML_BYTES:,}-byte limit for MusicXML"
        )
    from music21 import converter

    try:
        stream = converter.parse(path, format="musicxml", forceSource=True, storePickle=False)
    except Exception as e:  # music21 raises many types for a broken file
        text = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        raise ComposerError(
            f"{path}: unreadable MusicXML ({type(e).__name__}{': ' + text if text else ''})"
        ) from None
    parts = list(getattr(stream, "parts", [])) or [stream]
    pickup = _pickup_steps(parts[0], resolution)
    tracks = [
        Track(p.partName or f"part {i + 1}", 0, False, _notes(p, resolution)) for i, p in enumerate(parts)
    ]
    ts = stream.recurse().getElementsByClass("TimeSignature").first()
    meter = (ts.numerator, ts.denominator) if ts is not None else (4, 4)
    mm = stream.recurse().getElementsByClass("MetronomeMark").first()
    bpm = float(mm.getQuarterBPM()) if mm is not None and mm.number else 100.0
    score = Score(tracks, resolution, bpm, meter, _key(stream), Path(path).stem)
    return score, pickup


def _notes(part, resolution: int) -> list[Note]:
    notes = []
    for el in part.stripTies().flatten().notes:
        ql = float(el.duration.quarterLength)
        if ql <= 0:  # grace notes take no time on the grid
            continue
        start, dur = round(float(el.offset) * resolution), max(1, round(ql * resolution))
        notes.extend(Note(start, dur, int(p.midi)) for p in el.pitches)
    return notes


def _pickup_steps(part, resolution: int) -> int:
    """Steps of silence to put before a pickup bar so that later bar lines fall on whole bars."""
    measures = list(part.getElementsByClass("Measure"))
    if not measures:
        return 0
    first = measures[0]
    if first.paddingLeft:
        return round(float(first.paddingLeft) * resolution)
    if first.barDuration.quarterLength > first.duration.quarterLength:
        return round(float(first.barDuration.quarterLength - first.duration.quarterLength) * resolution)
    return 0


def _key(stream) -> str | None:
    """The first key of the file; a bare key signature (no mode) is its major key marked with "!",
    to be told from its relative minor by the melody."""
    k = stream.recurse().getElementsByClass("KeySignature").first()
    if k is None:
        return None
    if hasattr(k, "tonic") and k.mode in ("major", "minor"):
        return key_name(k.tonic.pitchClass, k.mode)
    return key_name(k.asKey("major").tonic.pitchClass, "major") + "!"


def _major_or_minor(key: str, line: list[Note]) -> str:
    """A key signature's major key, or its relative minor when the melody ends on that tonic."""
    tonic = parse_key(key.rstrip("!"))[0]
    if key.endswith("!") and line[-1].pitch % 12 == (tonic + 9) % 12:
        return key_name(tonic + 9, "minor")
    return key.rstrip("!")
