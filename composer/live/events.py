"""Timed MIDI events for playback: a Score or a MIDI file -> (beat, message bytes), plus its tempo map.

Events are timed in beats (quarter notes), not seconds, so one list can follow a tempo map, a
``--bpm`` override, a loop, or an external MIDI clock; the Timeline turns beats into clock times.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import mido

from composer.midi_io import default_channels
from composer.music import Score

Event = tuple[float, tuple[int, ...]]  # (beat, raw MIDI bytes)
NOTE_OFF, NOTE_ON, CONTROL, PROGRAM = 0x80, 0x90, 0xB0, 0xC0


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
    """A MIDI file's channel and system messages in file order, its length and tempo map, in beats."""

    events: list[Event]
    length: float  # beats up to the end of the longest track
    tempos: list[tuple[float, float]]  # (beat, seconds per beat), first at beat 0


def from_midifile(mid: mido.MidiFile) -> MidiFileEvents:
    """Every non-meta message of ``mid`` in merged file order (mido.merge_tracks), timed in beats."""
    tpb = mid.ticks_per_beat
    events: list[Event] = []
    tempos: list[tuple[float, float]] = [(0.0, 0.5)]
    tick = 0
    for msg in mido.merge_tracks(mid.tracks):
        tick += msg.time
        if msg.type == "set_tempo":
            spb = msg.tempo / 1e6
            if tick == 0 or tempos[-1][0] == tick / tpb:
                tempos[-1] = (tick / tpb, spb)
            else:
                tempos.append((tick / tpb, spb))
        elif not msg.is_meta:
            events.append((tick / tpb, tuple(msg.bytes())))
    return MidiFileEvents(events, tick / tpb, tempos)


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
