"""Timed MIDI events for playback: a Score or a decoded MIDI file -> (beat, message bytes), plus a tempo map.

Events are timed in beats (quarter notes), not seconds, so one list can follow a tempo map, a
``--bpm`` override, a loop, or an external MIDI clock; the Timeline turns beats into clock times.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from composer.midi_io import MidiTicks, default_channels
from composer.music import Score

Event = tuple[float, tuple[int, ...]]  # (beat, raw MIDI bytes)
NOTE_OFF, NOTE_ON, CONTROL, PROGRAM, BEND = 0x80, 0x90, 0xB0, 0xC0, 0xE0


def program_events(score: Score, channels: list[int], beat: float = 0.0) -> list[Event]:
    """A program change per non-drum track, at ``beat``."""
    return [
        (beat, (PROGRAM | ch, t.program & 0x7F)) for t, ch in zip(score.tracks, channels) if not t.is_drum
    ]


def to_events(
    score: Score, channels: list[int] | None = None, offset: float = 0.0, programs: bool = True
) -> list[Event]:
    """The Score as note events in beat order, each track on its channel.

    At one beat, note-offs come before note-ons, so a repeated pitch is not cut by its predecessor.

    Parameters
    ----------
    score : Score
    channels : list of int, optional
        0-based MIDI channel per track; midi_io.default_channels(score.tracks) when None.
    offset : float
        Beats added to every event (a bar's position in an endless stream).
    programs : bool
        Start with a program change per non-drum track.
    """
    channels = default_channels(score.tracks) if channels is None else channels
    if len(channels) < len(score.tracks):
        raise ValueError(f"{len(score.tracks)} tracks but only {len(channels)} channels")
    q = score.resolution
    keyed = []
    for t, ch in zip(score.tracks, channels):
        for n in t.notes:
            keyed.append((offset + n.start / q, 1, (NOTE_ON | ch, n.pitch, n.velocity)))
            keyed.append((offset + n.end / q, 0, (NOTE_OFF | ch, n.pitch, 0)))
    keyed.sort(key=lambda e: (e[0], e[1]))
    notes = [(beat, msg) for beat, _, msg in keyed]
    return (program_events(score, channels, offset) if programs else []) + notes


@dataclass
class MidiFileEvents:
    """A MIDI file's channel messages in play order, its length and tempo map, in beats."""

    events: list[Event]
    length: float  # beats up to the end of the longest track
    tempos: list[tuple[float, float]]  # (beat, seconds per beat), first at beat 0


# At one tick: note-offs, then program changes, controllers and pitch bends, then note-ons, so a
# repeated pitch is not cut by its predecessor and a note starts with its channel's settings.
_OFF, _SETUP, _ON = 0, 1, 2


def from_midi_ticks(midi: MidiTicks) -> MidiFileEvents:
    """The messages to play a decoded MIDI file (midi_io.read_midi_ticks), timed in beats.

    Each part (one MIDI track, channel and program, as read_midi makes Tracks) plays on its own
    channel, midi_io.default_channels of the parts: drums on channel 10, the others on 1, 2, 3...
    Each non-drum part starts with its program change at beat 0; its controllers and pitch bends
    keep their ticks; its notes are read_midi's notes at tick resolution (same-pitch overlaps cut
    the same way), so every note-on has its note-off, at least a tick later. Tempo changes are
    kept; of several at one tick the last in track order wins.
    """
    tpb = midi.ticks_per_beat
    channels = default_channels(midi.parts)
    rows = [np.zeros((0, 7), dtype=np.int64)]  # tick, order, part, status, data 1, data 2, length
    for i, (part, ch) in enumerate(zip(midi.parts, channels)):
        if not part.is_drum:
            rows.append(np.array([[0, _SETUP, i, PROGRAM | ch, part.program & 0x7F, 0, 2]]))
        c, b = part.controls, part.bends + [0, 8192]  # a bend is sent as 14 bits, 8192 at rest
        rows.append(_rows(c[:, 0], _SETUP, i, CONTROL | ch, c[:, 1], c[:, 2]))
        rows.append(_rows(b[:, 0], _SETUP, i, BEND | ch, b[:, 1] & 0x7F, b[:, 1] >> 7))
    notes = midi.note_rows(tpb)  # part, start, duration, pitch, velocity
    part, start, end, pitch = notes[:, 0], notes[:, 1], notes[:, 1] + notes[:, 2], notes[:, 3]
    status = np.asarray(channels, dtype=np.int64)[part]
    rows.append(_rows(start, _ON, part, NOTE_ON | status, pitch, notes[:, 4]))
    rows.append(_rows(end, _OFF, part, NOTE_OFF | status, pitch, 0))
    table = np.concatenate(rows)
    table = table[np.lexsort((table[:, 2], table[:, 1], table[:, 0]))]  # stable: file order kept
    events = [
        (tick / tpb, (st, d1, d2) if n == 3 else (st, d1)) for tick, _, _, st, d1, d2, n in table.tolist()
    ]
    tempos: list[tuple[float, float]] = [(0.0, 0.5)]
    for tick, tempo in sorted(midi.tempos, key=lambda t: t[0]):
        if tick == 0 or tempos[-1][0] == tick / tpb:
            tempos[-1] = (tick / tpb, tempo / 1e6)
        else:
            tempos.append((tick / tpb, tempo / 1e6))
    return MidiFileEvents(events, midi.end / tpb, tempos)


def _rows(ticks, order, part, status, data1, data2) -> np.ndarray:
    """Event rows (see from_midi_ticks) of 3-byte messages, one per tick, the other columns broadcast."""
    n = len(ticks)
    return np.stack(np.broadcast_arrays(ticks, order, part, status, data1, data2, 3), axis=1).reshape(n, 7)


class Timeline:
    """Beats -> clock times from a tempo map, optionally looping every ``loop`` beats.

    ``at(beat)`` is ``start + seconds(beat)``: every time is computed from the start, never by adding
    up deltas, so no error builds up over a long stream.
    """

    def __init__(self, tempos: list[tuple[float, float]], loop: float | None = None):
        self.beats = [b for b, _ in tempos]
        self.spb = [s for _, s in tempos]
        self.secs = [0.0]
        for i in range(1, len(tempos)):
            self.secs.append(self.secs[-1] + (self.beats[i] - self.beats[i - 1]) * self.spb[i - 1])
        self.loop = loop
        self.loop_seconds = self._seconds(loop) if loop else None
        self.start: float | None = None

    @classmethod
    def fixed(cls, bpm: float) -> Timeline:
        return cls([(0.0, 60.0 / bpm)])

    def scaled(self, bpm: float) -> Timeline:
        """The same tempo map played so that its first tempo is ``bpm`` (changes keep their ratios)."""
        k = 60.0 / bpm / self.spb[0]
        return Timeline([(b, s * k) for b, s in zip(self.beats, self.spb)], self.loop)

    def _seconds(self, beat: float) -> float:
        i = bisect.bisect_right(self.beats, beat) - 1
        return self.secs[i] + (beat - self.beats[i]) * self.spb[i]

    def seconds(self, beat: float) -> float:
        """Seconds from the start to ``beat``."""
        if self.loop:
            k, rest = divmod(beat, self.loop)
            return k * self.loop_seconds + self._seconds(rest)
        return self._seconds(beat)

    def begin(self, now: float) -> None:
        self.start = now

    def at(self, beat: float) -> float | None:
        """Absolute clock time of ``beat``; None before ``begin``."""
        return None if self.start is None else self.start + self.seconds(beat)

    @property
    def bpm(self) -> float:
        return 60.0 / self.spb[0]


def looped(events: list[Event], length: float, times: int | None) -> Iterator[Event]:
    """``events`` repeated every ``length`` beats, ``times`` times (forever when None)."""
    if length <= 0:
        raise ValueError("cannot loop a piece of length 0")
    for k in itertools.count() if times is None else range(times):
        for beat, msg in events:
            yield beat + k * length, msg


def with_clock(events: Iterable[Event], end: float | None = None) -> Iterator[Event]:
    """``events`` with MIDI beat clock merged in: Start at beat 0, 24 clocks per beat, Stop at the end.

    The clock keeps ticking up to ``end`` (or the last event), so a follower sees the last note end.
    """
    yield 0.0, (0xFA,)
    tick = 0
    last = 0.0
    for beat, msg in events:
        while tick / 24 <= beat:
            yield tick / 24, (0xF8,)
            tick += 1
        yield beat, msg
        last = beat
    stop = max(last, end or 0.0)
    while tick / 24 <= stop:
        yield tick / 24, (0xF8,)
        tick += 1
    yield stop, (0xFC,)
