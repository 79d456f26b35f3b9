"""The one internal music type: Score / Track / Note, with time in integer steps.

Every reader returns a Score and every writer takes one. Time is counted in steps on a fixed grid of
``resolution`` steps per quarter note (4 by default, so a 4/4 bar is 16 steps), which makes scores
exact to compare, hash and round-trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

DEFAULT_RESOLUTION = 4  # steps per quarter note
DEFAULT_BPM = 100.0


@dataclass(frozen=True, order=True)
class Note:
    """One note: onset and length in steps, MIDI pitch 0-127, velocity 1-127."""

    start: int
    duration: int
    pitch: int
    velocity: int = 80

    @property
    def end(self) -> int:
        return self.start + self.duration


@dataclass
class Track:
    """One instrument or voice: a name, a General MIDI program (0-127), and its notes by onset."""

    name: str = ""
    program: int = 0
    is_drum: bool = False
    notes: list[Note] = field(default_factory=list)

    def sorted(self) -> Track:
        return replace(self, notes=sorted(self.notes))


@dataclass
class Score:
    """A piece: tracks on a shared step grid, with tempo, meter and key.

    Parameters
    ----------
    tracks : list of Track
    resolution : int
        Steps per quarter note.
    bpm : float
        Tempo in quarter notes per minute.
    time_signature : (int, int)
        Numerator and denominator, e.g. (4, 4) or (3, 4).
    key : str or None
        Key name as music21 spells it ("G major", "e minor"), or None when unknown.
    title : str
    length : int
        Minimum length in steps, for a piece that ends in silence (a piano roll's empty last bar);
        0 means it ends with its last note.
    """

    tracks: list[Track] = field(default_factory=list)
    resolution: int = DEFAULT_RESOLUTION
    bpm: float = DEFAULT_BPM
    time_signature: tuple[int, int] = (4, 4)
    key: str | None = None
    title: str = ""
    length: int = 0

    @property
    def steps_per_bar(self) -> int:
        num, den = self.time_signature
        return num * self.resolution * 4 // den

    @property
    def n_steps(self) -> int:
        """Steps up to the end of the last note, or to ``length`` when that is later."""
        return max(self.length, max((n.end for t in self.tracks for n in t.notes), default=0))

    @property
    def n_bars(self) -> int:
        """Bars needed to hold every note (a partial last bar counts as one)."""
        return -(-self.n_steps // self.steps_per_bar)

    @property
    def n_notes(self) -> int:
        return sum(len(t.notes) for t in self.tracks)

    def sorted(self) -> Score:
        """The same score with every track's notes in onset order."""
        return replace(self, tracks=[t.sorted() for t in self.tracks])


def transpose(score: Score, semitones: int) -> Score:
    """Shift every pitched (non-drum) note by ``semitones``; notes pushed outside 0-127 are dropped."""
    tracks = []
    for t in score.tracks:
        if t.is_drum:
            tracks.append(t)
            continue
        notes = [replace(n, pitch=n.pitch + semitones) for n in t.notes]
        tracks.append(replace(t, notes=[n for n in notes if 0 <= n.pitch <= 127]))
    return replace(score, tracks=tracks)


def crop(score: Score, start: int, stop: int) -> Score:
    """Notes with onsets in steps [start, stop), shifted to begin at 0; a note crossing ``stop`` is cut
    so it ends there. Notes that began before ``start`` belong to the earlier part and are left out."""
    tracks = []
    for t in score.tracks:
        notes = [
            replace(n, start=n.start - start, duration=min(n.end, stop) - n.start)
            for n in t.notes
            if start <= n.start < stop
        ]
        tracks.append(replace(t, notes=notes))
    return replace(score, tracks=tracks, length=max(0, min(score.length, stop) - start))
