"""The only file-format module: read_midi / write_midi through mido, write_musicxml through music21.

Untrusted MIDI is read defensively: the file size, note count, length in steps and length in seconds
are capped before anything is allocated from them, and every parse failure becomes one MidiError
that names the file and the reason.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from collections import defaultdict
from pathlib import Path
from typing import IO

import mido

from composer.atomic import write_output
from composer.errors import ComposerError, MidiError
from composer.music import DEFAULT_RESOLUTION, Note, Score, Track

MAX_FILE_BYTES = 8 * 2**20  # real MIDI files are far smaller; this bounds mido's message objects
MAX_NOTES = 500_000
MAX_SECONDS = 2 * 3600.0
MAX_STEPS = 500_000  # 2 h at 250 bpm, 4 steps per quarter
WRITE_TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9

PathOrFile = str | os.PathLike | IO[bytes]


def read_midi(path: str | os.PathLike, resolution: int = DEFAULT_RESOLUTION) -> Score:
    """Read a standard MIDI file into a Score quantized to ``resolution`` steps per quarter.

    Quantization works on ticks, not seconds, so tempo changes do not move notes off the grid: an
    event at tick ``t`` lands on step ``round(t * resolution / ticks_per_beat)``. A note's end is
    rounded the same way and is at least one step after its start. When two notes of one pitch
    overlap in a track after rounding, the earlier one is cut where the later one starts.

    One Track is made per (MIDI track, channel) that holds notes; channel 10 is drums. Tempo, time
    signature and key are the first of each in the file (120 bpm and 4/4 when absent); a tempo of 0
    and a meter whose bar is not a whole number of steps are ignored. Type-2 files play their tracks
    one after another. Silence after the last note, up to the end of the longest track, is kept in
    ``Score.length``.

    Raises
    ------
    MidiError
        As read_midifile: the file is missing, a folder, not MIDI, truncated, uses SMPTE timing or
        ticks_per_beat 0, holds invalid bytes or key signature, or is absurdly long.
    """
    mid = read_midifile(path, resolution)
    return _to_score(mid, _name(path), resolution)


def read_midifile(path_or_dash: str | os.PathLike, resolution: int = DEFAULT_RESOLUTION) -> mido.MidiFile:
    """Read and check a MIDI file from a path, or from standard input for ``"-"``.

    At most MAX_FILE_BYTES are read, so /dev/zero, a FIFO or endless stdin is refused rather than
    read until memory runs out. The parsed file is checked against MAX_NOTES, MAX_STEPS (counted at
    ``resolution`` steps per quarter) and MAX_SECONDS before it is returned.

    Raises
    ------
    MidiError
        One line naming the file (``<stdin>`` for ``"-"``) and the reason.
    """
    name = _name(path_or_dash)
    data = _read_bounded(path_or_dash, name)
    if not data:
        raise MidiError(f"{name}: empty file (0 bytes), not MIDI")
    claimed = int.from_bytes(data[10:12], "big") if data[:4] == b"MThd" and len(data) >= 12 else 0
    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except EOFError:
        why = f"; the header claims {claimed} tracks" if claimed > 1 else ""
        raise MidiError(f"{name}: truncated MIDI file (it ends inside a chunk{why})") from None
    except Exception as e:  # mido raises OSError, ValueError, KeySignatureError, IndexError, ...
        raise MidiError(f"{name}: not a valid MIDI file ({_reason(e)})") from None
    tpb = mid.ticks_per_beat
    if tpb < 0:
        raise MidiError(f"{name}: SMPTE timing (frames per second) is not supported, only ticks per beat")
    if tpb == 0:
        raise MidiError(f"{name}: ticks_per_beat is 0")
    if not mid.tracks:
        # mido reads a claimed count of 0xFFFF as -1 and then reads no track at all.
        why = (
            f"the header claims {claimed} tracks but none could be read"
            if claimed
            else "the file has no tracks"
        )
        raise MidiError(f"{name}: {why}")
    _check_limits(mid, name, resolution)
    return mid


def _name(path_or_dash: str | os.PathLike) -> str:
    return "<stdin>" if path_or_dash == "-" else str(path_or_dash)


def _read_bounded(path_or_dash: str | os.PathLike, name: str) -> bytes:
    """The bytes of the file, reading at most MAX_FILE_BYTES + 1 of them."""
    limit = MAX_FILE_BYTES
    try:
        if path_or_dash == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path_or_dash, "rb") as f:
                st = os.fstat(f.fileno())
                if stat.S_ISREG(st.st_mode) and st.st_size > limit:
                    raise MidiError(
                        f"{name}: file is {st.st_size:,} bytes, over the {limit:,}-byte limit for MIDI"
                    )
                data = f.read(limit + 1)
    except IsADirectoryError:
        raise MidiError(f"{name}: cannot read file (it is a folder, not a MIDI file)") from None
    except OSError as e:
        raise MidiError(f"{name}: cannot read file ({e.strerror or e})") from None
    if len(data) > limit:
        raise MidiError(f"{name}: more than {limit:,} bytes, over the {limit:,}-byte limit for MIDI")
    return data


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _check_limits(mid: mido.MidiFile, name: str, resolution: int) -> None:
    """Refuse a file over MAX_NOTES, MAX_STEPS or MAX_SECONDS (type-2 tracks play one after another)."""
    tempos: list[tuple[int, int]] = []
    offset, n_notes, end_tick = 0, 0, 0
    for track in mid.tracks:
        tick = offset
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                n_notes += 1
            elif msg.type == "set_tempo" and msg.tempo > 0:
                tempos.append((tick, msg.tempo))
        end_tick = max(end_tick, tick)
        if mid.type == 2:
            offset = tick
    if n_notes > MAX_NOTES:
        raise MidiError(f"{name}: more than {MAX_NOTES:,} notes, too many to load")
    _check_length(name, end_tick, mid.ticks_per_beat, sorted(tempos), resolution)


def _to_score(mid: mido.MidiFile, name: str, resolution: int) -> Score:
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
                meta.setdefault("key", _key_from_mido(msg.key))
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
            is_drum=ch == DRUM_CHANNEL,
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


def _meter_fits(numerator: int, denominator: int, resolution: int) -> bool:
    """Whether a bar of this meter is a whole number of steps, at least one (1/32 at 4 per quarter is not)."""
    bar = numerator * resolution * 4
    return numerator > 0 and bar % denominator == 0 and bar >= denominator


def _check_length(name: str, end_tick: int, tpb: int, tempos: list[tuple[int, int]], resolution: int) -> None:
    steps = end_tick * resolution / tpb
    if steps > MAX_STEPS:
        raise MidiError(
            f"{name}: absurd length of {end_tick:,} ticks ({steps:,.0f} steps); the limit is {MAX_STEPS:,} steps"
        )
    seconds, last_tick, tempo = 0.0, 0, 500_000
    for tick, new_tempo in tempos + [(end_tick, 0)]:
        tick = min(tick, end_tick)
        seconds += (tick - last_tick) * tempo / 1e6 / tpb
        last_tick, tempo = tick, new_tempo
    if seconds > MAX_SECONDS:
        raise MidiError(
            f"{name}: absurd length of {seconds / 3600:,.1f} hours; the limit is {MAX_SECONDS / 3600:.0f} hours"
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


def _key_from_mido(key: str) -> str:
    minor = key.endswith("m")
    return f"{key.rstrip('m')} {'minor' if minor else 'major'}"


def _key_to_mido(key: str | None) -> str | None:
    if not key:
        return None
    tonic, _, mode = key.partition(" ")
    tonic = tonic[0].upper() + tonic[1:].replace("-", "b")
    name = tonic + ("m" if mode == "minor" else "")
    return name if name in mido.midifiles.meta._key_signature_encode else None


def to_midifile(score: Score) -> mido.MidiFile:
    """The Score as a type-1 mido.MidiFile: a conductor track, then one track per Score track."""
    tpb = WRITE_TICKS_PER_BEAT
    if tpb % score.resolution:
        raise ComposerError(f"resolution {score.resolution} does not divide {tpb} ticks per beat")
    scale = tpb // score.resolution
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    conductor = mido.MidiTrack()
    if score.title:
        conductor.append(mido.MetaMessage("track_name", name=score.title))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(score.bpm)))
    num, den = score.time_signature
    conductor.append(mido.MetaMessage("time_signature", numerator=num, denominator=den))
    key = _key_to_mido(score.key)
    if key:
        conductor.append(mido.MetaMessage("key_signature", key=key))
    conductor.append(mido.MetaMessage("end_of_track", time=score.length * scale))  # trailing silence
    mid.tracks.append(conductor)
    for channel, track in zip(default_channels(score.tracks), score.tracks):
        # At one tick, note-offs go first so a repeated note is not cut by its own predecessor.
        events = []
        for n in (n for n in track.notes if n.duration > 0):  # a 0-step note would leave its note-on open
            events.append((n.start * scale, 1, n.pitch, n.velocity))
            events.append((n.end * scale, 0, n.pitch, 0))
        events.sort()
        msgs = mido.MidiTrack()
        msgs.append(mido.MetaMessage("track_name", name=track.name))
        if not track.is_drum:
            msgs.append(mido.Message("program_change", channel=channel, program=track.program))
        now = 0
        for tick, on, pitch, vel in events:
            kind = "note_on" if on else "note_off"
            msgs.append(mido.Message(kind, channel=channel, note=pitch, velocity=vel, time=tick - now))
            now = tick
        msgs.append(mido.MetaMessage("end_of_track", time=0))
        mid.tracks.append(msgs)
    return mid


def default_channels(tracks: list[Track]) -> list[int]:
    """0-based MIDI channel per track: drums on DRUM_CHANNEL (9), the others on 0, 1, 2, ... skipping 9."""
    melodic = [c for c in range(16) if c != DRUM_CHANNEL]
    out, i = [], 0
    for t in tracks:
        if t.is_drum:
            out.append(DRUM_CHANNEL)
        else:
            out.append(melodic[i % len(melodic)])
            i += 1
    return out


def write_midi(score: Score, path_or_file: PathOrFile) -> None:
    """Write a Score as a standard MIDI file to a path, a binary file object or ``"-"`` (stdout);
    how each kind of path is written is composer.atomic.write_output's."""
    if not MIN_BPM <= score.bpm <= 60e6:  # a MIDI tempo is 1..0xFFFFFF microseconds per beat
        raise ComposerError(f"tempo {score.bpm} bpm: a MIDI file holds {MIN_BPM:.2f} to 60,000,000 bpm")
    buf = io.BytesIO()
    to_midifile(score).save(file=buf)
    _write_bytes(buf.getvalue(), path_or_file)


MIN_BPM = 60e6 / 0xFFFFFF


def _write_bytes(data: bytes, dest: PathOrFile) -> None:
    """``data`` to standard output (``"-"``), a binary file object, or a path (write_output)."""
    write_output(data, dest)


def to_music21(score: Score):
    """The Score as a music21 stream.Score: one Part per track with instrument, key and meter."""
    from music21 import instrument, key, meter, note, stream, tempo

    out = stream.Score()
    if score.title:
        from music21 import metadata

        out.metadata = metadata.Metadata(title=score.title)
    q = score.resolution
    for i, track in enumerate(score.tracks):
        part = stream.Part(id=f"P{i + 1}")
        part.partName = track.name or f"Track {i + 1}"
        inst = (
            instrument.UnpitchedPercussion()
            if track.is_drum
            else instrument.instrumentFromMidiProgram(track.program)
        )
        inst.partName = part.partName
        part.insert(0, inst)
        if i == 0:
            part.insert(0, tempo.MetronomeMark(number=score.bpm))
        part.insert(0, meter.TimeSignature(f"{score.time_signature[0]}/{score.time_signature[1]}"))
        if score.key:
            tonic, _, mode = score.key.partition(" ")
            part.insert(0, key.Key(tonic.replace("b", "-") if len(tonic) > 1 else tonic, mode or "major"))
        for n in track.notes:
            m21 = note.Note(n.pitch, quarterLength=n.duration / q)
            m21.volume.velocity = n.velocity
            part.insert(n.start / q, m21)
        out.insert(0, part)
    return out


def write_musicxml(score: Score, path_or_file: PathOrFile) -> None:
    """Write a Score as MusicXML (opens in MuseScore) through music21; ``"-"`` writes to stdout."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    _write_bytes(GeneralObjectExporter(to_music21(score)).parse(), path_or_file)
