"""MIDI files: read_midi through symusic, write_midi through mido (MusicXML is composer.musicxml).

read_midi_ticks is composer's one MIDI decoder: read_midi quantizes what it returns, and playback
(composer.live.events.from_midi_ticks) sends it, so a file plays as it reads.

Untrusted MIDI is read defensively: the file size is capped before reading, and the note and event
counts, the length in steps, bars and seconds are checked on symusic's C++ arrays before a Python
object is made per note. Every parse failure becomes one MidiError that names the file and the reason.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import mido
import numpy as np

from composer import smf
from composer.atomic import write_output
from composer.errors import ComposerError, MidiError, show_path
from composer.keys import MODES, key_name, spell_key
from composer.music import DEFAULT_RESOLUTION, Note, Score, Track

MAX_FILE_BYTES = 8 * 2**20  # real MIDI files are far smaller
MAX_NOTES = 500_000
MAX_EVENTS = 1_000_000  # notes, controllers, pitch bends, tempos, meters, keys, markers
MAX_SECONDS = 2 * 3600.0
MAX_STEPS = 500_000  # 2 h at 250 bpm, 4 steps per quarter
MAX_BARS = 10_000  # 2 h of 4/4 at 333 bpm; a long real piece has about 1,500
WRITE_TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9

PathOrFile = str | os.PathLike | IO[bytes]


def read_midi(path: str | os.PathLike, resolution: int = DEFAULT_RESOLUTION) -> Score:
    """Read a standard MIDI file into a Score quantized to ``resolution`` steps per quarter.

    The file is decoded by read_midi_ticks (symusic, with every cap checked before any Python
    object is made per note), then quantized.

    Quantization works on ticks, not seconds, so tempo changes do not move notes off the grid: an
    event at tick ``t`` lands on step ``round(t * resolution / ticks_per_beat)``. A note's end is
    rounded the same way and is at least one step after its start. When two notes of one pitch
    overlap in a track after rounding, the earlier one is cut where the later one starts.

    symusic makes one track per (MIDI track, channel, program) that holds notes, and so does this
    reader: a channel whose program changes between its notes becomes one Track per program. Channel
    10 is drums. Tempo, time signature and key are the first of each in track order (120 bpm and 4/4
    when absent); a tempo of 0 and a meter whose bar is not a whole number of steps are ignored.
    Type-2 files play their tracks one after another. Notes still sounding at the end of a track end
    there. Silence after the last note, up to the end of the longest track, is kept in
    ``Score.length``.

    Raises
    ------
    MidiError
        One line naming the file and the reason: missing, a folder, not MIDI, truncated, SMPTE timing
        or ticks_per_beat 0, invalid bytes or key signature, or over a cap.
    """
    return _to_score(read_midi_ticks(path, resolution), resolution)


@dataclass
class MidiTicks:
    """A checked MIDI file at its own tick resolution: what read_midi quantizes and playback sends.

    This is composer's one decoding of MIDI bytes: symusic parses the file (smf.read_file), type-2 tracks
    already follow one another, and notes still sounding at the end of a track end there.
    """

    name: str  # as shown in messages
    ticks_per_beat: int
    parts: list[smf.Part]  # in track order; each part's name is its Track name
    tempos: list[tuple[int, int]]  # (tick, microseconds per quarter) in track order, 0 left out
    meters: list[tuple[int, int]]  # (numerator, denominator) in track order
    keys: list[tuple[int, int]]  # (sharps, minor) in track order
    end: int  # the end of the longest track, ticks

    def note_rows(self, resolution: int) -> np.ndarray:
        """Every note at ``resolution`` steps per quarter, with read_midi's rules for rounding and
        for overlaps (see read_midi); ``resolution=ticks_per_beat`` keeps ticks.

        Returns
        -------
        ndarray, shape=(n, 5)
            int64 rows of part index, start, duration (at least 1), pitch, velocity, sorted by part,
            then start, duration, pitch, velocity.
        """
        return _note_rows([p.notes for p in self.parts], self.ticks_per_beat, resolution)

    def to_score_frame(self, rows: np.ndarray, resolution: int) -> Score:
        """The Score that read_midi makes of ``rows`` (note_rows at ``resolution``), less its notes:
        every Track is there with an empty note list. A corpus keeps the rows as they are."""
        tracks = [Track(p.name, p.program, p.is_drum) for p in self.parts]
        last_note = int((rows[:, 1] + rows[:, 2]).max()) if len(rows) else 0
        tempos = sorted(self.tempos)
        bpm = mido.tempo2bpm(tempos[0][1]) if tempos else 120.0
        last = round(self.end * resolution / self.ticks_per_beat)  # trailing silence included
        length = last if last > last_note else 0
        meter = next((m for m in self.meters if _meter_fits(*m, resolution)), (4, 4))
        key = _key_from_midi(self.keys[0] if self.keys else None)
        return Score(tracks, resolution, round(bpm, 3), meter, key, Path(self.name).stem, length)


def read_midi_ticks(path_or_dash: str | os.PathLike, resolution: int = DEFAULT_RESOLUTION) -> MidiTicks:
    """Read and check a MIDI file, from a path or ``"-"`` (stdin), without quantizing it.

    At most MAX_FILE_BYTES are read, so /dev/zero, a FIFO or endless stdin is refused rather than
    read until memory runs out. The caps on steps and bars are counted at ``resolution``.

    Raises
    ------
    MidiError
        One line naming the file (``<stdin>`` for ``"-"``) and the reason (see read_midi).
    """
    name = _name(path_or_dash)
    return _decode(_read_bounded(path_or_dash, name), name, resolution)


def _name(path_or_dash: str | os.PathLike) -> str:
    return "<stdin>" if path_or_dash == "-" else show_path(path_or_dash)


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
                # Asking for limit + 1 bytes would allocate that much for every small file.
                want = min(st.st_size, limit) + 1 if stat.S_ISREG(st.st_mode) else limit + 1
                data = f.read(want)
                if len(data) == want <= limit:  # a regular file that grew after fstat
                    data += f.read(limit + 1 - want)
    except IsADirectoryError:
        raise MidiError(f"{name}: cannot read file (it is a folder, not a MIDI file)") from None
    except OSError as e:
        raise MidiError(f"{name}: cannot read file ({e.strerror or e})") from None
    if len(data) > limit:
        raise MidiError(f"{name}: more than {limit:,} bytes, over the {limit:,}-byte limit for MIDI")
    if not data:
        raise MidiError(f"{name}: empty file (0 bytes), not MIDI")
    return data


def _decode(data: bytes, name: str, resolution: int) -> MidiTicks:
    """MIDI bytes to MidiTicks: chunks checked, parsed by symusic, caps checked."""
    header, tracks = _split(data, name)
    read = None if header.format == 2 else smf.read_file(tracks, header.division, MAX_NOTES, MAX_EVENTS)
    if read is None:  # see smf.read_file: these files are read chunk by chunk
        read = smf.merge_tracks(_read_tracks(tracks, header.division, name), header.format == 2)
    meter = next((m for m in read.meters if _meter_fits(*m, resolution)), (4, 4))
    _check_caps(name, read.end, header.division, sorted(read.tempos), resolution, meter)
    keys = read.keys
    if keys and not (-7 <= keys[0][0] <= 7 and keys[0][1] in (0, 1)):
        sharps, minor = keys[0]
        why = f"KeySignatureError: key signature with {sharps} sharps and mode {minor} is not valid"
        raise MidiError(f"{name}: not a valid MIDI file ({why})")
    return MidiTicks(name, header.division, read.parts, read.tempos, read.meters, keys, read.end)


def _to_score(midi: MidiTicks, resolution: int) -> Score:
    """MidiTicks quantized to a Score (see read_midi for the rules)."""
    rows = midi.note_rows(resolution)
    score = midi.to_score_frame(rows, resolution)
    bounds = np.searchsorted(rows[:, 0], np.arange(len(score.tracks) + 1))
    flat = [Note(*row) for row in rows[:, 1:].tolist()]
    for track, a, b in zip(score.tracks, bounds[:-1], bounds[1:]):
        track.notes = flat[a:b]
    return score


def _read_tracks(tracks: list[bytes], division: int, name: str) -> list[smf.TrackEvents]:
    """Each track chunk through symusic, within MAX_NOTES and MAX_EVENTS for the whole file."""
    parsed, notes, events = [], 0, 0
    for body in tracks:
        try:
            track = smf.read_track(body, division, MAX_NOTES - notes, MAX_EVENTS - events)
        except smf.CapError as e:
            what = "notes" if "notes" in str(e) else "events"
            limit = MAX_NOTES if what == "notes" else MAX_EVENTS
            raise MidiError(f"{name}: more than {limit:,} {what}, too many to load") from None
        except smf.ChunkError as e:
            raise MidiError(f"{name}: not a valid MIDI file ({e})") from None
        notes += sum(len(p.notes) for p in track.parts)
        events += track.n_events
        parsed.append(track)
    return parsed


def _check_caps(
    name: str, end_tick: int, tpb: int, tempos: list[tuple[int, int]], resolution: int, meter: tuple[int, int]
) -> None:
    """Refuse a file longer than MAX_STEPS, MAX_BARS or MAX_SECONDS, before its notes are made."""
    if end_tick < 0:  # symusic counts ticks in 32 bits: past 2**31 they wrap
        raise MidiError(f"{name}: absurd length of more than {2**31 - 1:,} ticks")
    steps = end_tick * resolution / tpb
    if steps > MAX_STEPS:
        raise MidiError(
            f"{name}: absurd length of {end_tick:,} ticks ({steps:,.0f} steps); the limit is {MAX_STEPS:,} steps"
        )
    bars = steps / (meter[0] * resolution * 4 / meter[1])
    if bars > MAX_BARS:
        raise MidiError(f"{name}: absurd length of {bars:,.0f} bars; the limit is {MAX_BARS:,} bars")
    seconds, last_tick, tempo = 0.0, 0, 500_000
    for tick, new_tempo in tempos + [(end_tick, 0)]:
        tick = min(tick, end_tick)
        seconds += (tick - last_tick) * tempo / 1e6 / tpb
        last_tick, tempo = tick, new_tempo
    if seconds > MAX_SECONDS:
        raise MidiError(
            f"{name}: absurd length of {seconds / 3600:,.1f} hours; the limit is {MAX_SECONDS / 3600:.0f} hours"
        )


def _meter_fits(numerator: int, denominator: int, resolution: int) -> bool:
    """Whether a bar of this meter is a whole number of steps, at least one (1/32 at 4 per quarter is not)."""
    bar = numerator * resolution * 4
    return numerator > 0 and denominator > 0 and bar % denominator == 0 and bar >= denominator


def _note_rows(parts: list[np.ndarray], tpb: int, resolution: int) -> np.ndarray:
    """Ticks to steps, every part at once: each part's (n, 4) rows of start tick, end tick, pitch,
    velocity become rows of part, start, duration, pitch, velocity (see MidiTicks.note_rows).

    In each part, notes are taken in the order (start tick, end tick, pitch, velocity); when a note
    of one pitch still sounds at the next one's start step, it is cut there, or dropped if both start
    on one step.
    """
    if not parts:
        return np.zeros((0, 5), dtype=np.int64)
    part = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    ticks = np.concatenate(parts)
    top = int(ticks[:, :2].max()) if len(ticks) and ticks[:, :2].min() >= 0 else -1  # pitch, velocity < 128
    columns = (part, ticks[:, 2], ticks[:, 0], ticks[:, 1], ticks[:, 3])
    part, pitch, start_tick, end_tick, velocity = _sorted(columns, (len(parts), 127, top, top, 127))
    start = np.rint(start_tick * resolution / tpb).astype(np.int64)
    end = np.maximum(start + 1, np.rint(end_tick * resolution / tpb).astype(np.int64))
    next_start = np.concatenate((start[1:], [0]))
    same = np.concatenate(((pitch[1:] == pitch[:-1]) & (part[1:] == part[:-1]), [False]))
    overlaps = same & (end > next_start)
    if overlaps.any():  # the earlier note is cut where the next starts, dropped if both start together
        keep = ~(overlaps & (next_start == start))
        end = np.where(overlaps, next_start, end)
        columns = tuple(c.compress(keep) for c in (part, start, end - start, pitch, velocity))
    else:  # most files: no two notes of one pitch overlap on the grid
        columns = (part, start, end - start, pitch, velocity)
    top = int(end.max()) if len(end) and start.min() >= 0 else -1
    return np.stack(_sorted(columns, (len(parts), top, top, 127, 127)), axis=1)  # by part, start, ...


def _sorted(columns: tuple[np.ndarray, ...], bounds: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """The rows made of ``columns`` sorted (the first column most significant), as columns again.

    Where each column is a non-negative integer at most its bound (-1: unknown) and the bounds' bits
    add up to less than 63, the columns are packed into one int64 key, sorted and unpacked: a sort
    of values is several times faster than np.lexsort on five columns and its takes.
    """
    widths = [int(b).bit_length() for b in bounds]
    if min(bounds) < 0 or sum(widths) > 62:
        order = np.lexsort(columns[::-1])
        return tuple(c.take(order) for c in columns)
    key = columns[0].astype(np.int64)
    for column, width in zip(columns[1:], widths[1:]):
        key <<= width
        key |= column
    key.sort()
    out = []
    for width in widths[:0:-1]:
        out.append(key & ((1 << width) - 1))
        key >>= width
    return (key, *out[::-1])


def _key_from_midi(key: tuple[int, int] | None) -> str | None:
    """A MIDI key signature (sharps -7..7, minor 0 or 1) in composer's spelling: (-3, 0) "Eb major"."""
    if key is None:
        return None
    sharps, minor = key
    return key_name(sharps * 7 + 9 * minor, MODES[minor])  # each sharp is a fifth up; minor: a sixth


def _split(data: bytes, name: str) -> tuple[smf.Header, list[bytes]]:
    """The header and track chunk bodies, with mido's reasons for a broken or unusable file."""
    try:
        header, offset = smf.read_header(data)
        tracks = smf.track_chunks(data, header, offset)
    except smf.ChunkError as e:
        if not e.truncated:
            raise MidiError(f"{name}: not a valid MIDI file ({e})") from None
        claimed = int.from_bytes(data[10:12], "big") if len(data) >= 12 else 0
        why = f"; the header claims {claimed} tracks" if claimed > 1 else ""
        raise MidiError(f"{name}: truncated MIDI file ({e}{why})") from None
    if header.division < 0:
        raise MidiError(f"{name}: SMPTE timing (frames per second) is not supported, only ticks per beat")
    if header.division == 0:
        raise MidiError(f"{name}: ticks_per_beat is 0")
    if not tracks:
        # mido reads a claimed count of 0xFFFF as -1 and then reads no track at all.
        why = (
            f"the header claims {header.claimed} tracks but none could be read"
            if header.claimed
            else "the file has no tracks"
        )
        raise MidiError(f"{name}: {why}")
    return header, tracks


def _key_to_mido(key: str | None) -> str | None:
    """mido's name of a key in any spelling parse_key reads ("E- major" -> "Eb"); None for no key or
    one that is not major or minor."""
    try:
        tonic, _, mode = spell_key(key).partition(" ")
    except ComposerError:
        return None
    return tonic + ("m" if mode == "minor" else "")


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
