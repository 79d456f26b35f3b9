"""read_midi / write_midi / write_musicxml: exact round trips, quantization, paired note events."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import mido
import pytest

from composer import read_midi, write_midi, write_musicxml
from composer.errors import ComposerError, MidiError
from composer.midi_io import DRUM_CHANNEL, default_channels, to_midifile
from composer.music import Note, Score, Track


def _chords_and_drums(title: str) -> Score:
    return Score(
        tracks=[
            Track("Piano", 0, False, [Note(0, 4, 60, 90), Note(0, 4, 64, 90), Note(0, 8, 67, 70)]),
            Track("Bass", 33, False, [Note(0, 2, 36), Note(2, 2, 36), Note(4, 2, 36), Note(6, 10, 43)]),
            Track("Drums", 0, True, [Note(0, 1, 36, 100), Note(4, 1, 38, 100), Note(8, 1, 42, 60)]),
        ],
        resolution=4,
        bpm=90.0,
        time_signature=(4, 4),
        key="Bb major",
        title=title,
    )


def _waltz(title: str) -> Score:
    melody = [Note(0, 4, 66), Note(4, 4, 66), Note(8, 4, 66), Note(12, 12, 73, 110), Note(24, 1, 61, 1)]
    return Score(
        tracks=[
            Track("Violin", 40, False, melody),
            Track("Cello", 42, False, [Note(0, 12, 42), Note(12, 24, 49)]),
        ],
        resolution=4,
        bpm=160.0,
        time_signature=(3, 4),
        key="F# minor",
        title=title,
    )


def _silent_end(title: str) -> Score:
    return Score([Track("Lead", 81, False, [Note(0, 4, 72)])], 4, 120.0, (4, 4), None, title, length=32)


@pytest.mark.parametrize("make", [_chords_and_drums, _waltz, _silent_end])
def test_write_then_read_gives_identical_score_via_path(tmp_path, make):
    score = make("song")
    write_midi(score, tmp_path / "song.mid")
    assert read_midi(tmp_path / "song.mid") == score


def test_write_to_binary_file_object(tmp_path):
    score = _waltz("waltz")
    buf = io.BytesIO()
    write_midi(score, buf)
    assert buf.getvalue()[:4] == b"MThd"
    (tmp_path / "waltz.mid").write_bytes(buf.getvalue())
    assert read_midi(tmp_path / "waltz.mid") == score
    with open(tmp_path / "waltz2.mid", "wb") as f:
        write_midi(score, f)
    assert (tmp_path / "waltz2.mid").read_bytes() == buf.getvalue()


def test_write_to_stdout_matches_the_file(tmp_path, capsysbinary):
    score = _waltz("waltz")
    write_midi(score, tmp_path / "waltz.mid")
    write_midi(score, "-")
    assert capsysbinary.readouterr().out == (tmp_path / "waltz.mid").read_bytes()
    write_musicxml(score, tmp_path / "waltz.musicxml")
    write_musicxml(score, "-")
    out = capsysbinary.readouterr().out
    assert out.startswith(b"<?xml") and b"<score-partwise" in out
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left beside the targets


@pytest.mark.parametrize("write", [write_midi, write_musicxml])
def test_unwritable_path_is_one_line_error(tmp_path, write):
    (tmp_path / "plain-file").write_bytes(b"x")
    for dest in (tmp_path, tmp_path / "plain-file" / "out.mid"):
        with pytest.raises(ComposerError, match=f"^{dest}: cannot write") as err:
            write(_waltz("waltz"), dest)
        assert "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain-file"]


def test_default_channels_skip_the_drum_channel():
    tracks = [Track(is_drum=i == 3) for i in range(18)]
    channels = default_channels(tracks)
    assert channels[3] == DRUM_CHANNEL == 9
    assert channels[:3] + channels[4:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11]
    assert channels[16:] == [0, 1]  # 15 melodic channels, then around again
    assert sorted(set(channels)) == list(range(16))


def test_round_trip_literal_fields(tmp_path):
    write_midi(_chords_and_drums("x"), tmp_path / "x.mid")
    s = read_midi(tmp_path / "x.mid")
    assert (s.bpm, s.time_signature, s.key, s.resolution) == (90.0, (4, 4), "Bb major", 4)
    assert [(t.name, t.program, t.is_drum) for t in s.tracks] == [
        ("Piano", 0, False),
        ("Bass", 33, False),
        ("Drums", 0, True),
    ]
    assert s.tracks[1].notes[:3] == [Note(0, 2, 36, 80), Note(2, 2, 36, 80), Note(4, 2, 36, 80)]


def test_drums_are_written_on_channel_10(tmp_path):
    mid = to_midifile(_chords_and_drums("x"))
    channels = [{m.channel for m in t if m.type == "note_on"} for t in mid.tracks[1:]]
    assert channels[2] == {9}
    assert 9 not in channels[0] | channels[1]


def _note_events(mid: mido.MidiFile) -> tuple[Counter, Counter]:
    ons, offs = Counter(), Counter()
    for t in mid.tracks:
        for m in t:
            if m.type == "note_on" and m.velocity > 0:
                ons[m.channel, m.note] += 1
            elif m.type in ("note_on", "note_off"):
                offs[m.channel, m.note] += 1
    return ons, offs


def test_every_note_on_has_a_note_off(tmp_path, bach):
    overlapping = Score(
        [Track("x", 0, False, [Note(0, 8, 60), Note(4, 8, 60), Note(6, 0, 62), Note(6, 1, 62)])]
    )
    for i, score in enumerate([_chords_and_drums("a"), _waltz("b"), overlapping, *bach.pieces[:20]]):
        write_midi(score, tmp_path / f"{i}.mid")
        mid = mido.MidiFile(tmp_path / f"{i}.mid")
        ons, offs = _note_events(mid)
        assert ons == offs, i
        # and every note-off follows its note-on: the count sounding never goes negative
        for t in mid.tracks:
            sounding = Counter()
            for m in t:
                if m.type in ("note_on", "note_off"):
                    sounding[m.channel, m.note] += 1 if (m.type == "note_on" and m.velocity) else -1
                    assert sounding[m.channel, m.note] >= 0
            assert not +sounding


def test_zero_length_notes_are_not_written():
    mid = to_midifile(Score([Track("x", 0, False, [Note(0, 0, 60), Note(0, 2, 62)])]))
    ons, offs = _note_events(mid)
    assert ons == offs == Counter({(0, 62): 1})


def test_chorales_round_trip_through_midi(tmp_path, bach):
    for score in bach.pieces[:10]:
        write_midi(score, tmp_path / f"{score.title}.mid")
        back = read_midi(tmp_path / f"{score.title}.mid")
        assert back.tracks == score.tracks
        assert (back.time_signature, back.key, back.bpm) == (score.time_signature, score.key, score.bpm)


def _off_grid_file(path):
    """96 ticks per beat; events off the 24-tick (sixteenth) grid, and a tempo change mid-piece."""
    mid = mido.MidiFile(type=0, ticks_per_beat=96)
    events = [  # (tick, kind, pitch)
        (11, "note_on", 60),  # step 0.46 -> 0
        (13, "note_on", 64),  # step 0.54 -> 1
        (20, "note_off", 64),  # step 0.83 -> 1, so 64 gets the minimum one step: [1, 2)
        (30, "note_off", 60),  # step 1.25 -> 1: [0, 1)
        (96, "note_on", 62),  # step 4
        (190, "note_on", 62),  # step 7.92 -> 8: the earlier 62 is cut there
        (215, "note_off", 62),  # the first 62 ends at 8.96 -> 9, cut to 8
        (290, "note_off", 62),  # step 12.08 -> 12
    ]
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)])
    now = 0
    for tick, kind, pitch in events:
        if tick == 96:
            track.append(mido.MetaMessage("set_tempo", tempo=250_000, time=tick - now))
            now = tick
        track.append(mido.Message(kind, note=pitch, velocity=64, time=tick - now))
        now = tick
    mid.tracks.append(track)
    mid.save(path)


def test_quantization_of_off_grid_ticks(tmp_path):
    _off_grid_file(tmp_path / "off.mid")
    s = read_midi(tmp_path / "off.mid")
    assert s.bpm == 120.0  # the first tempo
    assert s.tracks[0].notes == [
        Note(0, 1, 60, 64),
        Note(1, 1, 64, 64),
        Note(4, 4, 62, 64),
        Note(8, 4, 62, 64),
    ]


def test_quantization_at_another_resolution(tmp_path):
    _off_grid_file(tmp_path / "off.mid")
    s = read_midi(tmp_path / "off.mid", resolution=12)  # 8 ticks per step
    assert s.tracks[0].notes[:2] == [Note(1, 3, 60, 64), Note(2, 1, 64, 64)]


def test_musicxml_parses_back_with_parts_and_notes(tmp_path):
    from music21 import converter

    score = _waltz("waltz")
    write_musicxml(score, tmp_path / "waltz.musicxml")
    parsed = converter.parse(tmp_path / "waltz.musicxml")
    assert len(parsed.parts) == 2
    for part, track in zip(parsed.parts, score.tracks):
        notes = [n for n in part.recurse().notes]
        pitches = [p.midi for n in notes for p in n.pitches if not n.tie or n.tie.type == "start"]
        assert pitches == [n.pitch for n in track.notes]
    assert parsed.recurse().getElementsByClass("TimeSignature").first().ratioString == "3/4"


def test_musicxml_of_a_chorale_to_a_file_object(bach):
    from music21 import converter

    score = bach.pieces[0]
    buf = io.BytesIO()
    write_musicxml(score, buf)
    parsed = converter.parseData(buf.getvalue().decode(), format="musicxml")
    assert [p.partName for p in parsed.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    starts = [sum(1 for n in p.recurse().notes if not n.tie or n.tie.type == "start") for p in parsed.parts]
    assert starts == [len(t.notes) for t in score.tracks]


# Bounded cost: caps are checked on symusic's arrays, before a Python object is made per event.

DATA = Path(__file__).resolve().parent / "data"


def _flood(message: bytes, n_bytes: int) -> bytes:
    """One track: a first message with its status byte, then running-status repeats up to n_bytes."""
    first = b"\x00\xd0\x10" if message == b"\x00\x10" else b"\x00\x90\x3c\x40"
    body = first + message * ((n_bytes - 40) // len(message)) + b"\x00\xff\x2f\x00"
    return b"MThd" + bytes([0, 0, 0, 6, 0, 0, 0, 1, 0, 96]) + b"MTrk" + len(body).to_bytes(4, "big") + body


def test_a_tiny_file_claiming_29990_bars_is_refused_at_once():
    assert (DATA / "many-bars.mid").stat().st_size == 43
    t0 = time.perf_counter()
    with pytest.raises(MidiError, match="absurd length of 29,990 bars; the limit is 10,000 bars$"):
        read_midi(DATA / "many-bars.mid")
    assert time.perf_counter() - t0 < 2.0  # about 1 ms; mido's reader then render took 2 minutes


CHILD = """
import resource, sys, time
from composer import read_midi
from composer.errors import MidiError
t0 = time.perf_counter()
try:
    print(read_midi(sys.argv[1]).n_notes)
except MidiError as e:
    print(e)
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


@pytest.mark.parametrize(
    "message, expected",
    [
        (b"\x00\x10", "0"),  # 4 million channel-pressure messages: no note, so an empty score
        (b"\x00\x3c\x40\x00\x3c\x00", "more than 500,000 notes, too many to load"),  # 1.4 million notes
    ],
)
def test_an_8_mb_flood_of_running_status_messages_is_cheap(tmp_path, message, expected):
    path = tmp_path / "flood.mid"
    path.write_bytes(_flood(message, 8 * 2**20 - 64))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result, usage = proc.stdout.splitlines()
    assert result.removeprefix(f"{path}: ") == expected
    seconds, peak = map(float, usage.split())
    assert seconds < 10 and peak < 2**30, usage  # mido took 17 s and 1.13 GB on such a file


def test_events_are_capped(tmp_path, monkeypatch):
    from composer import midi_io

    path = tmp_path / "flood.mid"
    path.write_bytes(_flood(b"\x00\x3c\x40\x00\x3c\x00", 6000))  # about 1,000 notes
    monkeypatch.setattr(midi_io, "MAX_EVENTS", 100)
    with pytest.raises(MidiError, match="more than 100 events, too many to load$"):
        read_midi(path)
