"""Standard MIDI File chunks: the header and track chunks of untrusted bytes, checked without parsing events.

The reader (midi_io.read_midi_ticks, behind read_midi and playback) needs every event with the index
of its MIDI track, as type-2 files and first-in-track-order rules need. Each chunk is first rewritten
so that symusic reports what it would otherwise drop: the end-of-track time (a marker at that time)
and notes still sounding there (a note-off for every pitch of every channel that may have one).

Most files are then parsed by symusic once, whole (read_file): symusic keeps each MIDI track's notes
apart, and a track name put at the start of each chunk tells whose they are. A type-2 file, one
whose tempos, meters or keys come from more than one track, one symusic refuses or one over a cap
is parsed chunk by chunk instead (read_track on each, then merge_tracks), which is the reference:
both give the same FileEvents (tests/test_smf.py compares them on every kind of file).

symusic keeps no MIDI channel numbers (its maintainers keep them out of scope, symusic issue #120):
a Part is one (track, channel, program), and playback gives each Part a channel of its own.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass, field

import numpy as np
import symusic

END_OF_TRACK = b"\xff\x2f\x00"
END_MARKER = b"\xff\x06\x03EOT"  # a marker meta event: symusic keeps markers with their time
# Per channel: at delta 0, a note-off for each of the 128 pitches (running status after the first).
CLOSE = [bytes((0, 0x80 | ch, 0, 0)) + b"".join(bytes((0, p, 0)) for p in range(1, 128)) for ch in range(16)]
NOT_NOTE_ON = bytes(b for b in range(256) if b >> 4 != 0x9)  # bytes.translate deletes these
META_KINDS = (b"\xff\x51", b"\xff\x58", b"\xff\x59")  # tempo, time and key signature


class ChunkError(ValueError):
    """The chunk structure is broken; ``truncated`` when the bytes end inside a chunk."""

    def __init__(self, message: str, truncated: bool = False):
        super().__init__(message)
        self.truncated = truncated


class CapError(ValueError):
    """A track holds more notes or events than the caller allows."""


@dataclass
class Header:
    """The MThd fields, read as mido reads them: signed 16-bit integers."""

    format: int
    n_tracks: int  # as claimed; 0xFFFF reads as -1
    claimed: int  # the same, unsigned, for messages
    division: int  # ticks per quarter when > 0; SMPTE when < 0


def read_header(data: bytes) -> tuple[Header, int]:
    """The header and the offset of the first chunk after it.

    Raises
    ------
    ChunkError
        Not MIDI (no MThd), or the header itself is cut short.
    """
    if len(data) < 8:
        raise ChunkError("it ends inside the header", truncated=True)
    name, size = struct.unpack(">4sL", data[:8])
    if name != b"MThd":
        raise ChunkError("MThd not found. Probably not a MIDI file")
    if size < 6 or len(data) < 8 + 6:
        raise ChunkError("it ends inside the header", truncated=True)
    fmt, n_tracks, division = struct.unpack(">hhh", data[8:14])
    claimed = int.from_bytes(data[10:12], "big")
    return Header(fmt, n_tracks, claimed, division), 8 + size


def track_chunks(data: bytes, header: Header, offset: int) -> list[bytes]:
    """The bodies of the header's claimed number of track chunks; bytes after them are ignored.

    Raises
    ------
    ChunkError
        A chunk that is not MTrk, or bytes that end inside a chunk (``truncated``).
    """
    bodies = []
    for _ in range(max(header.n_tracks, 0)):
        if offset + 8 > len(data):
            raise ChunkError("it ends inside a chunk", truncated=True)
        name, size = struct.unpack(">4sL", data[offset : offset + 8])
        if name != b"MTrk":
            raise ChunkError("OSError: no MTrk header at start of track")
        if offset + 8 + size > len(data):
            raise ChunkError("it ends inside a chunk", truncated=True)
        bodies.append(data[offset + 8 : offset + 8 + size])
        offset += 8 + size
    return bodies


def single_track_file(body: bytes, division: int) -> bytes:
    """A one-track MIDI file of ``body``, closed as closed_body closes it."""
    return _file([closed_body(body)], division)


def closed_body(body: bytes, after_end: bytes = b"", before: bytes = b"") -> list[bytes]:
    """``body`` with an end marker (then the events ``after_end``) and closing note-offs at its end,
    and the events ``before`` at its start, as pieces to join (the body is not copied).

    The marker takes the delta time of the track's end-of-track event (or comes right after the last
    event of a track without one), so its time is the track's length in ticks. The note-offs close,
    at that time, any note left sounding, as the track's end does.
    """
    ends = body.endswith(END_OF_TRACK)
    events = memoryview(body)[: -len(END_OF_TRACK)] if ends else body
    # A channel can only have a note left sounding if its note-on status byte occurs in the track
    # (running status needs it once); other bytes may match too, which only costs a few note-offs.
    statuses, closing = body.translate(None, NOT_NOTE_ON), []
    while statuses:  # once per channel found, not once per note-on
        closing.append(CLOSE[statuses[0] & 0x0F])
        statuses = statuses.replace(statuses[:1], b"")
    closing = b"".join(sorted(closing))
    return [
        before,
        events,
        END_MARKER if ends else b"\x00" + END_MARKER,
        after_end,
        closing,
        b"\x00" + END_OF_TRACK,
    ]


def _track_name(text: str) -> bytes:
    """A track name meta event at delta 0 (``text`` shorter than 128 bytes)."""
    return b"\x00\xff\x03" + bytes((len(text),)) + text.encode()


@dataclass
class Part:
    """One symusic track: the notes of one (MIDI track, channel, program), with that channel's
    controllers and pitch bends. Arrays are int64, ticks from the file's start.

    notes: shape (n, 4), columns start tick, end tick, pitch, velocity.
    controls: shape (m, 3), columns tick, controller number, value.
    bends: shape (k, 2), columns tick, bend (-8192..8191).
    """

    program: int
    is_drum: bool
    notes: np.ndarray
    track: object = field(repr=False)  # symusic's: controls and bends are read when asked (playback)
    offset: int = 0  # ticks added by shift
    name: str = ""  # set by the reader: the MIDI track's name, or "track 2", "track 2 part 1"

    @property
    def controls(self) -> np.ndarray:
        c = self.track.controls
        c = c.numpy() if len(c) else {"time": [], "number": [], "value": []}
        controls = np.array([c["time"], c["number"], c["value"]], dtype=np.int64).T.reshape(-1, 3)
        controls[:, 0] += self.offset
        return controls

    @property
    def bends(self) -> np.ndarray:
        b = self.track.pitch_bends
        b = b.numpy() if len(b) else {"time": [], "value": []}
        bends = np.array([b["time"], b["value"]], dtype=np.int64).T.reshape(-1, 2)
        bends[:, 0] += self.offset
        return bends

    def shift(self, ticks: int) -> None:
        self.notes[:, :2] += ticks
        self.offset += ticks


@dataclass
class TrackEvents:
    """What symusic read from one track chunk, as plain arrays and tuples (ticks from the track's start).

    ``parts`` holds the symusic tracks that have notes (symusic drops a channel without notes).
    """

    name: str
    end: int
    parts: list[Part]
    tempos: list[tuple[int, int]]  # (tick, microseconds per quarter), 0 left out
    meters: list[tuple[int, int]]  # (numerator, denominator) in time order
    keys: list[tuple[int, int]]  # (sharps, minor) in time order
    n_events: int

    def shift(self, ticks: int) -> None:
        """Move every event ``ticks`` later (type-2 files play their tracks one after another)."""
        self.end += ticks
        self.tempos = [(t + ticks, v) for t, v in self.tempos]
        for part in self.parts:
            part.shift(ticks)


def read_track(body: bytes, division: int, max_notes: int, max_events: int) -> TrackEvents:
    """Parse one track chunk with symusic (see single_track_file for what is added to it).

    The counts are checked on symusic's C++ lists before any of their events becomes a Python object.

    Raises
    ------
    ChunkError
        symusic's reason, with its "Get pitch=200" turned into words.
    CapError
        More than ``max_notes`` notes or ``max_events`` events (notes, controllers, pitch bends,
        tempos, meters and keys).
    """
    try:
        score = symusic.Score.from_midi(single_track_file(body, division))
    except Exception as e:  # symusic raises RuntimeError, ValueError, IndexError... with a reason
        raise ChunkError(_symusic_reason(e)) from None
    n_notes, n_events = _counts(score)
    if n_notes > max_notes:
        raise CapError(f"more than {max_notes:,} notes, too many to load")
    if n_events > max_events:
        raise CapError(f"more than {max_events:,} events, too many to load")
    parts = [_part(track) for track in score.tracks if track.note_num()]
    return TrackEvents(
        name=next((t.name.strip() for t in score.tracks if t.name.strip()), ""),
        # The end marker is lost when symusic stops early (a damaged end-of-track): then the last note.
        end=max([m.time for m in score.markers] + [int(p.notes[:, 1].max()) for p in parts] + [0]),
        parts=parts,
        tempos=_pairs(score.tempos, "time", "mspq", drop_zero=True),
        meters=_pairs(score.time_signatures, "numerator", "denominator"),
        keys=_pairs(score.key_signatures, "key", "tonality"),
        n_events=n_events,
    )


@dataclass
class FileEvents:
    """What symusic read from a whole file, in track order, ticks from the file's start."""

    parts: list[Part]  # named (name_parts)
    tempos: list[tuple[int, int]]  # (tick, microseconds per quarter), 0 left out
    meters: list[tuple[int, int]]  # (numerator, denominator)
    keys: list[tuple[int, int]]  # (sharps, minor)
    end: int  # the end of the longest track


def merge_tracks(tracks: list[TrackEvents], one_after_another: bool) -> FileEvents:
    """The tracks read by read_track as one file; type-2 tracks (``one_after_another``) are moved to
    follow each other."""
    if one_after_another:
        offset = 0
        for track in tracks:
            length = track.end
            track.shift(offset)
            offset += length
    for ti, track in enumerate(tracks):
        name_parts(track.parts, ti, track.name)
    return FileEvents(
        parts=[part for t in tracks for part in t.parts],
        tempos=[x for t in tracks for x in t.tempos],
        meters=[x for t in tracks for x in t.meters],
        keys=[x for t in tracks for x in t.keys],
        end=max(t.end for t in tracks),
    )


def name_parts(parts: list[Part], ti: int, name: str) -> None:
    """Name the parts of MIDI track ``ti``: its name, else "track 2", or "track 2 part 1" when several."""
    for k, part in enumerate(parts):
        part.name = name or (f"track {ti}" if len(parts) == 1 else f"track {ti} part {k + 1}")


def read_file(bodies: list[bytes], division: int, max_notes: int, max_events: int) -> FileEvents | None:
    """The track chunks of a type-0 or type-1 file parsed by symusic at once: what read_track of each
    chunk and merge_tracks give, or None where one parse cannot vouch for that, and the chunks must be
    read one by one: tempos, meters or keys in more than one chunk (symusic orders them by time, the
    reader by track), a chunk whose first event lacks its status byte, a file symusic refuses or
    over a cap (the message names the first failing track or cap in track order), or a track named
    by blanks (its parts are named by their track's number and count, which one parse cannot tell).
    """
    if not all(_opens_with_status(body) for body in bodies):
        return None
    # Each chunk opens with a track name of its own, which symusic gives to all that chunk's tracks
    # unless the chunk names itself later. A digest of the file in it keeps a name in the file from
    # passing for one of these.
    digest = hashlib.blake2b(digest_size=8)
    for body in bodies:
        digest.update(body)
    tags = [f"{digest.hexdigest()} {ti}" for ti in range(len(bodies))]
    chunks = [closed_body(body, before=_track_name(tag)) for tag, body in zip(tags, bodies)]
    try:
        score = symusic.Score.from_midi(_file(chunks, division))
    except Exception:
        return None
    n_notes, n_events = _counts(score)
    if n_notes > max_notes or n_events > max_events:
        return None
    meta = (score.tempos, score.time_signatures, score.key_signatures)
    if any(
        len(events) > 1 and sum(kind in body for body in bodies) > 1 for kind, events in zip(META_KINDS, meta)
    ):
        return None  # two or more in more than one track: symusic's time order may not be track order
    tracks = [t for t in score.tracks if t.note_num()]
    names = [t.name for t in tracks]
    owner = {tag: ti for ti, tag in enumerate(tags)}
    if not all(name in owner or name.strip() for name in names):
        names = _blank_names_tagged(bodies, division, names, tags)
        if names is None:
            return None
    parts = [_part(t) for t in tracks]
    for p, name in zip(parts, names):
        if name not in owner:
            p.name = name.strip()
    for tag in dict.fromkeys(name for name in names if name in owner):
        name_parts([p for p, name in zip(parts, names) if name == tag], owner[tag], "")
    return FileEvents(
        parts=parts,
        tempos=_pairs(score.tempos, "time", "mspq", drop_zero=True),
        meters=_pairs(score.time_signatures, "numerator", "denominator"),
        keys=_pairs(score.key_signatures, "key", "tonality"),
        end=max([m.time for m in score.markers] + [int(p.notes[:, 1].max()) for p in parts] + [0]),
    )


def _blank_names_tagged(
    bodies: list[bytes], division: int, names: list[str], tags: list[str]
) -> list[str] | None:
    """``names`` with each blank one (a track named by blanks, so named by number) replaced by its
    chunk's tag, from a second parse with the tag after each chunk's last event; None when a chunk
    ended early (its own end-of-track event inside it), so that its tag was not read."""
    chunks = [closed_body(body, after_end=_track_name(tag)) for tag, body in zip(tags, bodies)]
    try:
        score = symusic.Score.from_midi(_file(chunks, division))
    except Exception:
        return None
    owners = [t.name for t in score.tracks if t.note_num()]
    if len(owners) != len(names) or not set(owners) <= set(tags):
        return None
    return [name if name.strip() else tagged for name, tagged in zip(names, owners)]


def _opens_with_status(body: bytes) -> bool:
    """Whether the first event has its status byte (a chunk may not rely on running status there;
    read_file puts a track name before it), or there is no event."""
    i = 0
    while i < 4 and i < len(body) and body[i] & 0x80:  # the delta time's continued bytes
        i += 1
    return not body or (i < 4 and i + 1 < len(body) and body[i + 1] & 0x80 != 0)


def _file(chunks: list[list[bytes]], division: int) -> bytes:
    """A type-1 MIDI file of these track chunks, each given as pieces (closed_body)."""
    pieces = [b"MThd", struct.pack(">IHHH", 6, 1, len(chunks), division)]
    for chunk in chunks:
        pieces += [b"MTrk", struct.pack(">I", sum(map(len, chunk))), *chunk]
    return b"".join(pieces)


def _counts(score) -> tuple[int, int]:
    """(notes, events) of a symusic score, events as read_track counts them."""
    n_notes = sum(t.note_num() for t in score.tracks)
    n_events = n_notes + sum(len(t.controls) + len(t.pitch_bends) for t in score.tracks)
    n_events += len(score.tempos) + len(score.time_signatures) + len(score.key_signatures)
    return n_notes, n_events + len(score.markers)


def _part(track) -> Part:
    """A symusic track's notes as an int64 array (its controllers and pitch bends when asked)."""
    a = track.notes.numpy()
    notes = np.empty((len(a["time"]), 4), dtype=np.int64)
    notes[:, 0] = a["time"]
    notes[:, 1] = a["duration"]
    notes[:, 1] += notes[:, 0]
    notes[:, 2] = a["pitch"]
    notes[:, 3] = a["velocity"]
    return Part(program=int(track.program), is_drum=bool(track.is_drum), notes=notes, track=track)


def _pairs(events, a: str, b: str, drop_zero: bool = False) -> list[tuple[int, int]]:
    """Two fields of a symusic event list as int pairs, in its (time) order; [] without numpy."""
    if len(events) <= 4:  # the usual one or two: numpy() costs more
        pairs = [(getattr(e, a), getattr(e, b)) for e in events]
        return [(int(x), int(y)) for x, y in pairs if y or not drop_zero]
    arrays = events.numpy()
    return [(x, y) for x, y in zip(arrays[a].tolist(), arrays[b].tolist()) if y or not drop_zero]


def _symusic_reason(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    found = re.fullmatch(r"Get (\w+)=(-?\d+)", text)
    if found:
        return f"data byte {found[2]} is over 127 ({found[1]})"
    return text.removeprefix("MiniMidi: ").removesuffix(": iostream error")
