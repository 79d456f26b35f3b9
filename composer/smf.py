"""Standard MIDI File chunks: the header and track chunks of untrusted bytes, checked without parsing events.

The reader (midi_io.read_midi_ticks, behind read_midi and playback) hands each track chunk to symusic on its own, so that every event keeps
the index of its MIDI track, as type-2 files and first-in-track-order rules need. Before that, each
chunk is rewritten so that symusic reports what it would otherwise drop: the end-of-track time (a
marker at that time) and notes still sounding there (a note-off for every pitch of every channel
that may have one).

symusic keeps no MIDI channel numbers (its maintainers keep them out of scope, symusic issue #120):
a Part is one (track, channel, program), and playback gives each Part a channel of its own.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

import numpy as np
import symusic

END_OF_TRACK = b"\xff\x2f\x00"
END_MARKER = b"\xff\x06\x03EOT"  # a marker meta event: symusic keeps markers with their time
# Per channel: at delta 0, a note-off for each of the 128 pitches (running status after the first).
CLOSE = [bytes((0, 0x80 | ch, 0, 0)) + b"".join(bytes((0, p, 0)) for p in range(1, 128)) for ch in range(16)]
NOTE_ON = [bytes((0x90 | ch,)) for ch in range(16)]


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
    """A one-track MIDI file of ``body``, with an end marker and closing note-offs at its end.

    The marker takes the delta time of the track's end-of-track event (or comes right after the last
    event of a track without one), so its time is the track's length in ticks. The note-offs close,
    at that time, any note left sounding, as the track's end does.
    """
    events = body[: -len(END_OF_TRACK)] if body.endswith(END_OF_TRACK) else body + b"\x00"
    # A channel can only have a note left sounding if its note-on status byte occurs in the track
    # (running status needs it once); other bytes may match too, which only costs a few note-offs.
    closing = b"".join(CLOSE[ch] for ch in range(16) if NOTE_ON[ch] in events)
    body = events + END_MARKER + closing + b"\x00" + END_OF_TRACK
    return b"MThd" + struct.pack(">IHHH", 6, 1, 1, division) + b"MTrk" + struct.pack(">I", len(body)) + body


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
    controls: np.ndarray
    bends: np.ndarray
    name: str = ""  # set by the reader: the MIDI track's name, or "track 2", "track 2 part 1"

    def shift(self, ticks: int) -> None:
        self.notes[:, :2] += ticks
        self.controls[:, 0] += ticks
        self.bends[:, 0] += ticks


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
    n_notes = sum(t.note_num() for t in score.tracks)
    if n_notes > max_notes:
        raise CapError(f"more than {max_notes:,} notes, too many to load")
    n_events = n_notes + sum(len(t.controls) + len(t.pitch_bends) for t in score.tracks)
    n_events += len(score.tempos) + len(score.time_signatures) + len(score.key_signatures)
    n_events += len(score.markers)
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


def _part(track) -> Part:
    """A symusic track's notes, controllers and pitch bends as int64 arrays."""
    a = {k: v.astype(np.int64) for k, v in track.notes.numpy().items()}
    notes = np.stack([a["time"], a["time"] + a["duration"], a["pitch"], a["velocity"]], axis=1)
    c = track.controls.numpy() if len(track.controls) else {"time": [], "number": [], "value": []}
    b = track.pitch_bends.numpy() if len(track.pitch_bends) else {"time": [], "value": []}
    return Part(
        program=int(track.program),
        is_drum=bool(track.is_drum),
        notes=notes,
        controls=np.array([c["time"], c["number"], c["value"]], dtype=np.int64).T.reshape(-1, 3),
        bends=np.array([b["time"], b["value"]], dtype=np.int64).T.reshape(-1, 2),
    )


def _pairs(events, a: str, b: str, drop_zero: bool = False) -> list[tuple[int, int]]:
    """Two fields of a symusic event list as int pairs, in its (time) order; [] without numpy."""
    if not len(events):
        return []
    arrays = events.numpy()
    return [(x, y) for x, y in zip(arrays[a].tolist(), arrays[b].tolist()) if y or not drop_zero]


def _symusic_reason(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    found = re.fullmatch(r"Get (\w+)=(-?\d+)", text)
    if found:
        return f"data byte {found[2]} is over 127 ({found[1]})"
    return text.removeprefix("MiniMidi: ").removesuffix(": iostream error")
