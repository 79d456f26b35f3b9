"""smf.read_file (one symusic parse per file) against the chunk-by-chunk reading it shortcuts.

read_file must give exactly what read_track on each chunk and merge_tracks give (parts, their
names, notes, controllers and bends, tempos, meters and keys in track order, the end), or decline
(None) so that the file is read chunk by chunk. Both are compared on every fixture, the 350
chorales, music21's real files, seeded random files and seeded broken copies of all of them; the
cases where read_file must decline are built by hand below.
"""

from __future__ import annotations

import random
from pathlib import Path

import mido
import numpy as np
import pytest

from composer import midi_io, smf, write_midi
from composer.errors import MidiError
from tests.midi_mutants import mutate
from tests.test_reader_equivalence import M21_MIDI, _random_file

DATA = Path(__file__).resolve().parent / "data"
EOT = b"\x00\xff\x2f\x00"


def _decode(data: bytes, one_parse: bool, resolution: int = 4):
    """read_midi_ticks' decoding of ``data`` (MidiTicks or the MidiError's text), with or without
    the one-parse path."""
    real = smf.read_file
    smf.read_file = real if one_parse else (lambda *args: None)
    try:
        return midi_io._decode(data, "x.mid", resolution)
    except MidiError as e:
        return str(e)
    finally:
        smf.read_file = real


def _fields(midi) -> object:
    """Everything a MidiTicks holds, as comparable values."""
    if isinstance(midi, str):
        return midi
    parts = [
        (p.name, p.program, p.is_drum, p.notes.tolist(), p.controls.tolist(), p.bends.tolist())
        for p in midi.parts
    ]
    return parts, midi.tempos, midi.meters, midi.keys, midi.end, midi.ticks_per_beat


def _assert_same(data: bytes, resolution: int = 4) -> None:
    assert _fields(_decode(data, True, resolution)) == _fields(_decode(data, False, resolution))


def _one_parse(data: bytes) -> smf.FileEvents | None:
    header, offset = smf.read_header(data)
    return smf.read_file(smf.track_chunks(data, header, offset), header.division, 10**6, 10**7)


def _file(*bodies: bytes, fmt: int = 1, division: int = 96) -> bytes:
    head = b"MThd" + (6).to_bytes(4, "big") + bytes([0, fmt, 0, len(bodies)]) + division.to_bytes(2, "big")
    return head + b"".join(b"MTrk" + len(b).to_bytes(4, "big") + b for b in bodies)


def _seeds(tmp_path: Path, bach) -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted(DATA.rglob("*.mid"))]
    for i, score in enumerate(bach.pieces):
        write_midi(score, tmp_path / f"{i:03d}.mid")
        seeds.append((tmp_path / f"{i:03d}.mid").read_bytes())
    return seeds + [p.read_bytes() for p in M21_MIDI]


def test_fixtures_chorales_and_real_files_decode_the_same_both_ways(tmp_path, bach):
    seeds = _seeds(tmp_path, bach)
    for data in seeds:
        for resolution in (4, 12):
            _assert_same(data, resolution)


def test_every_chorale_and_real_file_takes_the_one_parse(tmp_path, bach):
    """The fast path is the path: none of these falls back to chunk-by-chunk reading."""
    seeds = _seeds(tmp_path, bach)[len(list(DATA.rglob("*.mid"))) :]
    assert len(seeds) == 350 + len(M21_MIDI) == 373
    assert all(_one_parse(data) is not None for data in seeds)


def test_random_files_and_broken_copies_decode_the_same_both_ways(tmp_path, bach):
    rng = random.Random(12)
    seeds = [_random_file(rng) for _ in range(150)]
    for data in seeds:
        _assert_same(data)
    seeds += [d for d in _seeds(tmp_path, bach) if d]
    declined = refused = 0
    for _ in range(1500):
        data = mutate(rng.choice(seeds), rng)[1]
        if len(data) > midi_io.MAX_FILE_BYTES:
            continue
        _assert_same(data)
        try:
            declined += _one_parse(data) is None
        except smf.ChunkError:
            refused += 1
    assert declined > 100 and refused > 100  # both paths were exercised, not only the fast one


def test_tempos_in_two_tracks_are_read_chunk_by_chunk_in_track_order():
    # track 0: tempo 600,000 at tick 96; track 1: tempo 400,000 at 0 and 300,000 at 48
    t0 = b"\x60\xff\x51\x03\x09\x27\xc0" + b"\x00\x90\x3c\x40\x60\x80\x3c\x00" + EOT
    t1 = b"\x00\xff\x51\x03\x06\x1a\x80\x30\xff\x51\x03\x04\x93\xe0" + EOT
    data = _file(t0, t1)
    assert _one_parse(data) is None  # symusic would order them 0, 48, 96
    assert _decode(data, True).tempos == [(96, 600_000), (0, 400_000), (48, 300_000)]
    # two tempos in one track, one meter in another: each kind comes from one track only
    one = _file(t1, b"\x00\xff\x58\x04\x03\x02\x18\x08" + t0[7:])
    assert _one_parse(one) is not None
    assert _decode(one, True).tempos == [(0, 400_000), (48, 300_000)]
    assert _decode(one, True).meters == [(3, 4)]


def test_a_track_named_by_blanks_is_numbered_by_its_chunk():
    blank = b"\x00\xff\x03\x02  "  # a track name of two spaces: the parts are numbered
    two_channels = b"\x00\x90\x3c\x40\x00\x91\x3e\x40\x60\x80\x3c\x00\x00\x81\x3e\x00"
    data = _file(b"\x00\xff\x03\x03abc" + two_channels + EOT, blank + two_channels + EOT, two_channels + EOT)
    assert _one_parse(data) is not None
    midi = _decode(data, True)
    assert [p.name for p in midi.parts] == [
        "abc",
        "abc",
        "track 1 part 1",
        "track 1 part 2",
        "track 2 part 1",
        "track 2 part 2",
    ]
    _assert_same(data)


def test_a_name_shaped_like_a_tag_is_kept_as_the_tracks_name():
    note = b"\x00\x90\x3c\x40\x60\x80\x3c\x00"
    data = _file(b"\x00\xff\x03\x120123456789abcdef 1" + note + EOT, note + EOT)
    assert [p.name for p in _decode(data, True).parts] == ["0123456789abcdef 1", "track 1"]
    _assert_same(data)


def test_files_the_one_parse_declines():
    note = b"\x00\x90\x3c\x40\x60\x80\x3c\x00"
    # running status at a chunk's first event: a tag before it would change what it means
    assert _one_parse(_file(b"\x00\x3c\x40" + note + EOT)) is None
    # an end-of-track event inside a chunk with a blank name: its parts cannot be counted
    early = b"\x00\xff\x03\x01 " + note + EOT + note + EOT
    assert _one_parse(_file(early, note + EOT)) is None
    _assert_same(_file(early, note + EOT))
    # symusic refuses the file (a pitch of 200): the chunk-by-chunk reading names the reason
    bad = _file(note + EOT, b"\x00\x90\xc8\x40" + EOT)
    assert _one_parse(bad) is None
    assert _decode(bad, True) == "x.mid: not a valid MIDI file (data byte 200 is over 127 (pitch))"


def test_type2_files_are_read_chunk_by_chunk_one_track_after_another():
    note = b"\x00\x90\x3c\x40\x60\x80\x3c\x00"
    midi = _decode(_file(note + EOT, note + EOT, fmt=2), True)
    assert [p.notes.tolist() for p in midi.parts] == [[[0, 96, 60, 64]], [[96, 192, 60, 64]]]
    assert midi.end == 192


def test_over_a_cap_the_message_is_the_chunk_by_chunk_one(monkeypatch):
    monkeypatch.setattr(midi_io, "MAX_NOTES", 3)
    monkeypatch.setattr(midi_io, "MAX_EVENTS", 5)
    note = b"\x00\x90\x3c\x40\x01\x80\x3c\x00"
    controls = b"".join(b"\x00\xb0\x07\x40" for _ in range(6))
    # track 0 is over the event cap first (1 note, 6 controllers, its end marker); the file as a
    # whole is over the note cap too (5 notes), which one parse would see first
    data = _file(note + controls + EOT, note * 4 + EOT)
    assert _decode(data, True) == "x.mid: more than 5 events, too many to load"
    _assert_same(data)


def test_controllers_and_bends_are_read_when_asked_and_follow_a_type2_shift():
    mid = mido.MidiFile(type=2, ticks_per_beat=96)
    for _ in range(2):
        mid.tracks.append(
            mido.MidiTrack(
                [
                    mido.Message("control_change", control=7, value=90, time=0),
                    mido.Message("pitchwheel", pitch=-100, time=10),
                    mido.Message("note_on", note=60, velocity=50, time=0),
                    mido.Message("note_off", note=60, time=86),
                ]
            )
        )
    path_bytes = _bytes(mid)
    midi = _decode(path_bytes, True)
    assert [p.controls.tolist() for p in midi.parts] == [[[0, 7, 90]], [[96, 7, 90]]]
    assert [p.bends.tolist() for p in midi.parts] == [[[10, -100]], [[106, -100]]]


def _bytes(mid: mido.MidiFile) -> bytes:
    import io

    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


@pytest.mark.parametrize("resolution", [4, 12])
def test_note_rows_sorted_by_packed_keys_equal_a_lexsort(resolution):
    """midi_io._sorted packs columns into one key where they fit; it must order rows as lexsort does."""
    rng = np.random.default_rng(resolution)
    cols = (
        rng.integers(0, 3, 500),
        rng.integers(0, 128, 500),
        rng.integers(0, 50, 500),
        rng.integers(0, 2, 500),
    )
    packed = midi_io._sorted(cols, (2, 127, 49, 1))
    order = np.lexsort(cols[::-1])
    assert all(np.array_equal(p, c[order]) for p, c in zip(packed, cols))
    fallback = midi_io._sorted(cols, (2, 127, -1, 1))  # unknown bound: lexsort itself
    assert all(np.array_equal(p, c[order]) for p, c in zip(fallback, cols))
