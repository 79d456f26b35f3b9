"""The Bach chorales bundled with music21 (371, offline), as four-track SATB Scores.

music21's Riemenschneider list names 21 files twice (the same harmonization under two numbers); the
second listing is skipped as a duplicate so that no piece lands in both the train and the test split,
leaving 350 distinct chorales.

Each chorale is parsed from its source file (MusicXML) with music21's pickle cache off: music21 would
otherwise reload any zlib pickle found in ``$TMPDIR/music21``, where another local user can plant one.

The streams are read directly rather than exported to MIDI: at least one chorale raises music21's
ExpanderException ("badly formed repeats") on MIDI export. Chorales with extra instrumental parts
keep their SATB parts, found by part name; a chorale without four voices is skipped with its reason.
"""

from __future__ import annotations

import importlib.util
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from composer.keys import key_name
from composer.music import Note, Score, Track

VOICES = ("Soprano", "Alto", "Tenor", "Bass")
CHOIR_AAHS = 52  # General MIDI program for the four voices
SOURCE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")  # what music21's bach folder holds; never .p


def source_files() -> tuple[Path, list[Path]]:
    """music21's bach corpus folder and its files, found without importing music21 (it is slow)."""
    spec = importlib.util.find_spec("music21")
    root = Path(next(iter(spec.submodule_search_locations))) / "corpus" / "bach"
    return root, sorted(p for p in root.iterdir() if p.is_file())


def chorale_names() -> list[str]:
    """The 371 chorales in Riemenschneider order, as music21 corpus names ("bach/bwv269")."""
    from music21.corpus import chorales

    return list(chorales.Iterator(returnType="filename"))


def read_chorales(resolution: int, workers: int = 2) -> tuple[list[Score], list[str], list[tuple[str, str]]]:
    """Parse every chorale once. Returns (pieces, ids, skipped as (id, reason))."""
    listed = chorale_names()
    first: dict[str, int] = {}
    for i, name in enumerate(listed):
        first.setdefault(name, i)
    names = list(first)
    from tqdm import tqdm

    with ProcessPoolExecutor(max_workers=workers) as pool:
        parsed = pool.map(_read_one, names, [resolution] * len(names), chunksize=8)
        # the first use parses 350 chorales (10-40 s): a bar on a terminal, nothing in a pipe or log
        bar = tqdm(
            parsed, total=len(names), desc="preparing the bach chorales (once)", unit="chorale", disable=None
        )
        results = list(bar)
    pieces, ids, skipped = [], [], []
    for name, (score, reason) in zip(names, results):
        if score is None:
            skipped.append((name, reason))
        else:
            pieces.append(score)
            ids.append(name)
    for i, name in enumerate(listed):
        if first[name] != i:
            skipped.append(
                (name, f"duplicate: music21 lists this file as chorale {first[name] + 1} and {i + 1}")
            )
    return pieces, ids, skipped


def _read_one(name: str, resolution: int) -> tuple[Score | None, str]:
    try:
        return from_music21(parse_source(name), name, resolution), ""
    except ValueError as e:
        return None, str(e)
    except Exception as e:  # a corrupt corpus file must not sink the other 370
        return None, f"music21 could not parse it ({type(e).__name__}: {e})"


def parse_source(name: str):
    """The music21 stream of one corpus work, parsed from its source file and never from a pickle.

    The file is the one ``corpus.parse(name)`` would pick. ``forceSource`` makes music21 skip its
    pickle cache, and ``storePickle=False`` keeps it from writing one; a source whose suffix music21
    would itself read as a pickle is refused.
    """
    from music21 import converter, corpus

    work = corpus.getWork(name)
    path = Path(work[0] if isinstance(work, list) else work)  # the first, as corpus.parse takes
    if path.suffix.lower() not in SOURCE_SUFFIXES:
        raise ValueError(f"{path.name}: not a score source file ({', '.join(SOURCE_SUFFIXES)})")
    return converter.parseFile(path, forceSource=True, storePickle=False)


def from_music21(stream, name: str, resolution: int) -> Score:
    """An SATB Score from a music21 chorale; raises ValueError when four voices cannot be found."""
    parts = list(stream.parts)
    if len(parts) != 4:
        by_name = {}
        for p in parts:
            label = (p.partName or "").strip().lower()
            for voice in VOICES:
                if label.startswith(voice.lower()) and voice not in by_name:
                    by_name[voice] = p
        if len(by_name) != 4:
            names = ", ".join(repr(p.partName) for p in parts)
            raise ValueError(f"{len(parts)} parts ({names}), and no Soprano/Alto/Tenor/Bass among them")
        parts = [by_name[v] for v in VOICES]
    ts = stream.recurse().getElementsByClass("TimeSignature").first()
    meter = (ts.numerator, ts.denominator) if ts is not None else (4, 4)
    shift = _pickup_padding(parts[0]) * resolution
    tracks = [Track(v, CHOIR_AAHS, False, _notes(p, resolution, shift)) for v, p in zip(VOICES, parts)]
    if not any(t.notes for t in tracks):
        raise ValueError("no notes")
    return Score(tracks, resolution, 100.0, meter, _key_name(stream), name.split("/")[-1])


def _pickup_padding(part) -> float:
    """Quarters of silence to put before a pickup bar so that every later bar line falls on a bar."""
    measures = part.getElementsByClass("Measure")
    if not measures:
        return 0.0
    first = measures[0]
    if first.paddingLeft:
        return float(first.paddingLeft)
    if first.number == 0 and first.barDuration.quarterLength > first.duration.quarterLength:
        return float(first.barDuration.quarterLength - first.duration.quarterLength)
    return 0.0


def _notes(part, resolution: int, shift: float) -> list[Note]:
    notes = []
    for el in part.stripTies().flatten().notes:
        ql = float(el.duration.quarterLength)
        if ql <= 0:  # grace notes take no time on the grid
            continue
        start = round((float(el.offset)) * resolution + shift)
        duration = max(1, round(ql * resolution))
        for pitch in el.pitches:
            notes.append(Note(start, duration, int(pitch.midi), 80))
    return sorted(notes)


def _key_name(stream) -> str | None:
    ks = stream.recurse().getElementsByClass("KeySignature").first()
    if ks is None:
        return None
    k = ks if hasattr(ks, "tonic") else ks.asKey("major")
    return key_name(k.tonic.pitchClass, k.mode)
