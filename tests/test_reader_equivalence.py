"""The symusic reader against the mido reader it replaced: identical tokens and piano rolls.

Where they differ by design (read_midi's docstring): unnamed tracks are named "track N" (mido's reader
said "track N ch C"), a channel whose program changes between notes is split per program, and of
several notes of one channel and pitch left sounding at a track's end only the first is kept.

The mido reader (composer 0.1.0's read_midi) is kept here, in the test only, as the reference. Both
read every fixture in tests/data, all 350 chorales written as MIDI, and a few hundred seeded random
files with the edge cases that differ between parsers: running status, velocity-0 note-offs,
zero-length and overlapping notes of one pitch, several channels per track, drums, type-2 files,
tempo, meter and key changes, unclosed notes and trailing silence.
"""

from __future__ import annotations

import io
import random
from collections import defaultdict
from pathlib import Path

import mido
import numpy as np
import pytest

from composer import read_midi, to_pianoroll, to_tokens, write_midi
from composer.errors import MidiError
from composer.keys import spell_key
from composer.midi_io import _meter_fits
from composer.music import Note, Score, Track

DATA = Path(__file__).resolve().parent / "data"


# The reference: composer 0.1.0's reader, on mido's message objects.
def _mido_score(mid: mido.MidiFile, name: str, resolution: int) -> Score:
    tpb = mid.ticks_per_beat
    tempos: list[tuple[int, int]] = []  # (tick, microseconds per beat)
    meta: dict[str, object] = {}
    programs: dict[tuple[int, int], int] = {}
    names: dict[int, str] = {}
    raw: dict[tuple[int, int], list[tuple[int, int, int, int]]] = defaultdict(list)
    offset, end_tick = 0, 0
    for ti, track in enumerate(mid.tracks):
        tick = offset
        opened: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        for msg in track:
            tick += msg.time
            kind = msg.type
            if kind == "note_on" and msg.velocity > 0:
                opened[msg.channel, msg.note].append((tick, msg.velocity))
            elif kind in ("note_off", "note_on"):
                stack = opened.get((msg.channel, msg.note))
                if stack:
                    start, vel = stack.pop(0)
                    raw[ti, msg.channel].append((start, tick, msg.note, vel))
            elif kind == "program_change":
                programs.setdefault((ti, msg.channel), msg.program)
            elif kind == "set_tempo" and msg.tempo > 0:  # a tempo of 0 would divide by zero later
                tempos.append((tick, msg.tempo))
            elif kind == "time_signature" and _meter_fits(msg.numerator, msg.denominator, resolution):
                meta.setdefault("time_signature", (msg.numerator, msg.denominator))
            elif kind == "key_signature":
                meta.setdefault("key", _mido_key_name(msg.key))
            elif kind == "track_name":
                names.setdefault(ti, msg.name.strip())
        for (ch, pitch), stack in opened.items():  # never closed: end them with the track
            raw[ti, ch].extend((start, tick, pitch, vel) for start, vel in stack)
        end_tick = max(end_tick, tick)
        if mid.type == 2:
            offset = tick
    tracks = []
    for (ti, ch), notes in sorted(raw.items()):
        program = programs.get((ti, ch), next((p for (_, c), p in programs.items() if c == ch), 0))
        track = Track(
            name=names.get(ti, "") or f"track {ti} ch {ch + 1}",
            program=program,
            is_drum=ch == 9,
            notes=_quantize(notes, tpb, resolution),
        )
        if track.notes:
            tracks.append(track)
    bpm = mido.tempo2bpm(min(tempos)[1]) if tempos else 120.0
    last = round(end_tick * resolution / tpb)  # where the file ends, trailing silence included
    return Score(
        tracks=tracks,
        resolution=resolution,
        bpm=round(bpm, 3),
        time_signature=meta.get("time_signature", (4, 4)),
        key=meta.get("key"),
        title=Path(name).stem,
        length=last if last > max((n.end for t in tracks for n in t.notes), default=0) else 0,
    )


def _quantize(notes: list[tuple[int, int, int, int]], tpb: int, resolution: int) -> list[Note]:
    by_pitch: dict[int, list[Note]] = defaultdict(list)
    for start_tick, end_tick, pitch, vel in sorted(notes):
        start = round(start_tick * resolution / tpb)
        end = max(start + 1, round(end_tick * resolution / tpb))
        same = by_pitch[pitch]
        if same and same[-1].end > start:  # overlap after rounding: cut the earlier note
            prev = same.pop()
            if start > prev.start:
                same.append(Note(prev.start, start - prev.start, pitch, prev.velocity))
        same.append(Note(start, end - start, pitch, vel))
    return sorted(n for same in by_pitch.values() for n in same)


def _mido_key_name(key: str) -> str:
    return spell_key(key)  # mido's "Gb" and "Ebm" in composer's one spelling: "F# major", "Eb minor"


def _reference(data: bytes, name: str, resolution: int = 4) -> Score:
    return _mido_score(mido.MidiFile(file=io.BytesIO(data)), name, resolution)


def _assert_same(path: Path, resolution: int = 4, named: bool = True) -> Score:
    """Both readers give the same tokens, roll, tempo, meter, key, length and tracks."""
    ref = _reference(path.read_bytes(), str(path), resolution)
    new = read_midi(path, resolution)
    assert np.array_equal(to_tokens(new), to_tokens(ref)), path.name
    if ref.tracks:  # to_pianoroll needs at least one track
        assert np.array_equal(to_pianoroll(new), to_pianoroll(ref)), path.name
    assert (new.bpm, new.time_signature, new.key, new.length, new.title) == (
        ref.bpm,
        ref.time_signature,
        ref.key,
        ref.length,
        ref.title,
    )
    assert [(t.notes, t.is_drum) for t in new.tracks] == [(t.notes, t.is_drum) for t in ref.tracks]
    if named:
        assert [(t.name, t.program) for t in new.tracks] == [(t.name, t.program) for t in ref.tracks]
    return new


GOOD_FIXTURES = sorted(
    p.name
    for p in DATA.glob("*.mid")
    if p.name
    in {
        "many-notes.mid",
        "meter-1-32.mid",
        "running-status.mid",
        "type2.mid",
        "unclosed-notes.mid",
        "velocity-zero-note-off.mid",
        "zero-tempo.mid",
    }
)


@pytest.mark.parametrize("name", GOOD_FIXTURES)
def test_fixtures_read_the_same(name):
    _assert_same(DATA / name, named=False)  # unnamed tracks: names differ (see read_midi)


def test_every_fixture_the_old_reader_refused_is_refused():
    for path in sorted(DATA.glob("*.mid")):
        try:
            _reference(path.read_bytes(), str(path))
            old = None
        except Exception as e:
            old = e
        if path.name in GOOD_FIXTURES:
            assert old is None
            continue
        with pytest.raises(MidiError):  # refused by the new reader too (messages: test_bad_input.py)
            read_midi(path)


def test_all_chorales_written_as_midi_read_the_same(bach, tmp_path):
    assert len(bach.pieces) == 350
    for i, score in enumerate(bach.pieces):
        path = tmp_path / f"{i:03d}.mid"
        write_midi(score, path)
        new = _assert_same(path)
        assert new.tracks == score.tracks


def _random_file(rng: random.Random) -> bytes:
    """A file with several tracks and the edge cases listed at the top; one program per channel."""
    fmt = rng.choice([0, 1, 1, 2])
    tpb = rng.choice([96, 480, 100, 7, 1000])
    mid = mido.MidiFile(type=fmt, ticks_per_beat=tpb)
    for ti in range(1 if fmt == 0 else rng.randint(1, 3)):
        events = []  # (tick, order, message)
        if rng.random() < 0.7:
            events.append((0, 0, mido.MetaMessage("track_name", name=f"part {ti}")))
        channels = rng.sample([0, 1, 2, 9], rng.randint(1, 3))
        for ch in channels:
            if rng.random() < 0.7:
                events.append((0, 0, mido.Message("program_change", channel=ch, program=rng.randrange(128))))
        for _ in range(rng.randint(0, 40)):
            ch, pitch = rng.choice(channels), rng.choice([60, 62, 64, 36])  # few pitches: overlaps
            start = rng.randrange(8 * tpb)
            length = rng.choice([0, 1, tpb // 4, tpb // 3, tpb, rng.randrange(4 * tpb)])
            velocity = rng.randint(1, 127)
            on = mido.Message("note_on", channel=ch, note=pitch, velocity=velocity)
            events.append((start, rng.random(), on))
            off = (
                mido.Message("note_on", channel=ch, note=pitch, velocity=0)
                if rng.random() < 0.5
                else mido.Message("note_off", channel=ch, note=pitch, velocity=rng.randrange(128))
            )
            events.append((start + length, 1 + rng.random(), off))  # after the note-ons of its tick
        if rng.random() < 0.3:  # one note left sounding, on a pitch of its own (see the test below)
            ch = rng.choice(channels)
            events.append((rng.randrange(8 * tpb), 0, mido.Message("note_on", channel=ch, note=100 + ch)))
        for _ in range(rng.randint(0, 2)):
            tick = rng.randrange(8 * tpb)
            events.append(
                (tick, 0, mido.MetaMessage("set_tempo", tempo=rng.choice([0, 250_000, 500_000, 1_000_000])))
            )
            meter = rng.choice([(4, 4), (3, 4), (6, 8), (1, 32), (5, 16)])
            events.append(
                (tick, 0, mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1]))
            )
            events.append(
                (tick, 0, mido.MetaMessage("key_signature", key=rng.choice(["C", "F#m", "Bb", "Ebm"])))
            )
        events.sort(key=lambda e: (e[0], e[1]))
        track, now = mido.MidiTrack(), 0
        for tick, _, msg in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=rng.choice([0, 0, tpb, 9 * tpb])))
        mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


@pytest.mark.parametrize("resolution", [4, 12])
def test_random_files_read_the_same(tmp_path, resolution):
    rng = random.Random(resolution)
    compared = 0
    for i in range(150):
        path = tmp_path / f"{i}.mid"
        path.write_bytes(_random_file(rng))
        _assert_same(path, resolution, named=False)
        compared += 1
    assert compared == 150


def _track_file(body: bytes, division: int = 96) -> bytes:
    return (
        b"MThd"
        + bytes([0, 0, 0, 6, 0, 1, 0, 1])
        + division.to_bytes(2, "big")
        + b"MTrk"
        + len(body).to_bytes(4, "big")
        + body
    )


def test_where_the_readers_differ_by_design(tmp_path):
    eot = b"\x00\xff\x2f\x00"
    # two notes of C4 left sounding: the old reader closed both at the end, the new one the first only
    (tmp_path / "two-open.mid").write_bytes(_track_file(b"\x00\x90\x3c\x40\x60\x90\x3c\x50\x60\xff\x2f\x00"))
    assert [t.notes for t in read_midi(tmp_path / "two-open.mid").tracks] == [[Note(0, 8, 60, 64)]]
    assert [t.notes for t in _reference((tmp_path / "two-open.mid").read_bytes(), "x").tracks] == [
        [Note(0, 4, 60, 64), Note(4, 4, 60, 80)]  # the first cut where the second starts
    ]
    # a program change between two notes of channel 1: one track per program, in program order
    body = b"\x00\xc0\x05\x00\x90\x3c\x40\x60\x80\x3c\x00\x00\xc0\x02\x00\x90\x3e\x40\x60\x80\x3e\x00" + eot
    (tmp_path / "program-change.mid").write_bytes(_track_file(body))
    new = read_midi(tmp_path / "program-change.mid")
    assert [(t.name, t.program, t.notes) for t in new.tracks] == [
        ("track 0 part 1", 2, [Note(4, 4, 62, 64)]),
        ("track 0 part 2", 5, [Note(0, 4, 60, 64)]),
    ]
    old = _reference((tmp_path / "program-change.mid").read_bytes(), "x")
    assert [(t.name, t.program, t.notes) for t in old.tracks] == [
        ("track 0 ch 1", 5, [Note(0, 4, 60, 64), Note(4, 4, 62, 64)])
    ]


M21_MIDI = sorted((Path(__import__("music21").__file__).parent).rglob("*.mid"))
SPLIT_BY_PROGRAM = {"test04.mid"}  # its string parts switch between programs 45, 48 and 49


@pytest.mark.parametrize("path", M21_MIDI, ids=[p.name for p in M21_MIDI])
def test_music21s_real_midi_files_read_the_same(path):
    """The 23 MIDI files bundled with music21, written by notation programs and sequencers."""
    if path.name not in SPLIT_BY_PROGRAM:
        _assert_same(path, named=False)
        return
    new, ref = read_midi(path), _reference(path.read_bytes(), str(path))
    assert len(new.tracks) > len(ref.tracks)  # one track per program rather than per channel
    assert sorted(n for t in new.tracks for n in t.notes) == sorted(n for t in ref.tracks for n in t.notes)
