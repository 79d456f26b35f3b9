"""Sampling rules of the token streams: which values the next event may take, given what is placed.

The grammar keeps every event well formed (never BOS or UNK, a rest only where the tokenizer makes
one, a note with a positive duration). The voice-leading rules, for four-voice chorales, additionally
keep each voice in its SATB range (measured in the output key), forbid a candidate pitch that makes
parallel fifths or octaves with a voice already struck at the same onset (against both voices'
previous notes), place the voices of one onset in track order, and end the piece on an authentic
cadence: on the last beat before the last bar all four voices strike the dominant (its seventh
optional, the bass on the dominant and lowest, the leading tone present), then the last
bar starts with a chord of all four voices on the tonic triad, lasting at least half the bar, the
bass on the tonic and lowest, the third present; generation stops there. Form: in some pieces
(``choose_motif``) one soprano bar repeats the rhythm and intervals of the soprano two or four bars
earlier, at a transposition the model picks with its first note, as chorale phrases repeat. When no
value satisfies every rule, the rules are dropped in order (the motif first where it applies, then
parallels, the cadence, the ranges) rather than failing.

Pitches here are in the codec's space (tonic C when it normalizes keys); ``shift`` moves them to the
output key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from composer.representations.tokens import REST
from composer.theory import SATB_RANGES, is_parallel

TRIADS = {"major": (0, 4, 7), "minor": (0, 3, 7, 4)}  # minor may end on the major third (tierce de Picardie)
DOMINANT = (7, 11, 2, 5)  # the dominant seventh chord above the tonic: root, leading tone, fifth, seventh
MOTIF_SHARE = 0.35  # pieces with a repeated soprano bar: about Bach's 12.7% of recurring bars in 8
MOTIF_DISTANCES = (2, 4)  # bars between a motif and its repeat: a phrase or two later


@dataclass
class SampleState:
    """What the rules need to know about the piece sampled so far."""

    n_tracks: int
    spb: int  # steps per bar
    mode: str = "major"
    shift: int = 0  # semitones from the codec's pitches to the output key
    end: int | None = None  # step where the piece ends; None: it never does
    rules: bool = False
    onset: int = 0  # onset of the last event placed
    first: bool = True  # the next event is the piece's first
    last_track: int = -1  # track of the last event at ``onset``; -1 before any
    struck: dict[int, int] = field(default_factory=dict)  # track -> pitch struck at ``onset``
    previous: dict[int, int] = field(default_factory=dict)  # track -> its pitch at its previous onset
    chosen: dict[str, int] = field(default_factory=dict)  # raw values of the event being sampled
    motif: tuple[int, int] | None = None  # (bar, later bar): the soprano of the second repeats the first
    soprano: list[tuple[int, int, int]] = field(default_factory=list)  # track 0's (onset, duration, pitch)
    bars: int = 0  # bars generated before ``end`` (after any prime): the cadence stays inside them
    beat: int = 4  # steps per quarter note: the cadence's dominant lasts one

    @property
    def final_bar(self) -> int | None:
        """Step where the last bar starts (the cadence), when rules apply and the piece has an end."""
        return self.end - self.spb if self.rules and self.end is not None and self.end >= self.spb else None

    @property
    def dominant(self) -> int | None:
        """Step where the cadence's dominant chord starts, a quarter note before the final bar, when
        the final bar has one and the piece is long enough to hold it."""
        final = self.final_bar
        if final is None or final - self.beat < self.end - self.bars * self.spb:
            return None
        return final - self.beat

    @property
    def done(self) -> bool:
        """The final chord is complete (rules), or the piece's end is reached."""
        if self.end is None:
            return False
        if self.final_bar is not None and self.onset == self.final_bar and len(self.struck) == self.n_tracks:
            return True
        return self.onset >= self.end

    def advance(self, values: dict[str, int]) -> None:
        """Record a sampled event (raw values shift, track, pitch, duration)."""
        if values["shift"] > 0:
            self.previous.update(self.struck)
            self.struck, self.last_track = {}, -1
        self.onset += values["shift"]
        self.first = False
        if values["pitch"] != REST:
            self.struck[values["track"]] = values["pitch"]
            self.last_track = values["track"]
            if values["track"] == 0:
                self.soprano.append((self.onset, values["duration"], values["pitch"]))
        self.chosen = {}

    def motif_notes(self) -> list[tuple[int, int, int]] | None:
        """The repeat's soprano notes (onset, duration, interval from its first note), onsets in the
        repeating bar; None without a motif, before its bar is complete, or when it has fewer than
        two notes (nothing to repeat)."""
        if not self.rules or self.motif is None:
            return None
        bar, later = self.motif
        start, stop = bar * self.spb, (bar + 1) * self.spb
        if self.onset < stop:
            return None
        notes = [n for n in self.soprano if start <= n[0] < stop]
        if len(notes) < 2:
            return None
        move = (later - bar) * self.spb
        return [(on + move, d, p - notes[0][2]) for on, d, p in notes]


def grammar(stream: str, values: np.ndarray, state: SampleState, max_shift: int) -> np.ndarray:
    """Values of ``stream`` that keep the event well formed, shape=(len(values),) bool."""
    chosen = state.chosen
    ok = np.ones(len(values), bool)
    if stream == "shift" and state.first:  # start on the downbeat, not with a pickup bar
        ok &= values == 0
    elif stream == "track":
        ok &= values < state.n_tracks
    elif stream == "pitch":
        rest_ok = chosen.get("shift") == max_shift and chosen.get("track", 0) == 0
        ok &= (values != REST) | rest_ok
    elif stream == "duration":
        ok &= (values == 0) if chosen.get("pitch") == REST else (values > 0)
    return ok


def voice_leading(stream: str, values: np.ndarray, state: SampleState) -> list[np.ndarray]:
    """The voice-leading rules for ``stream``, strictest first: a list of bool masks, each to be
    dropped (from the first) when the combination leaves nothing."""
    motif = _motif_rule(stream, values, state)
    if stream == "shift":
        return motif + _shift_rules(values, state)
    if stream == "track":
        return motif + _track_rules(values, state)
    if stream == "pitch":
        rules = _pitch_rules(values, state)
        return rules[:1] + motif + rules[1:]  # the soprano is placed first: parallels never bind it
    onset = state.onset + state.chosen.get("shift", 0)
    if stream == "duration" and state.final_bar is not None and onset == state.final_bar:
        return [values >= state.spb // 2]  # the final chord lasts at least half the bar
    if stream == "duration" and state.dominant is not None and onset == state.dominant:
        return [values == state.final_bar - state.dominant]  # the dominant lasts to the final bar
    return motif


def choose_motif(first_bar: int, end_bar: int, rng: np.random.Generator) -> tuple[int, int] | None:
    """(bar, later bar) whose soprano the rules make repeat, in a share MOTIF_SHARE of pieces; never
    the cadence's two bars. None for the other pieces, or when the piece is too short."""
    pairs = [(b, b + d) for d in MOTIF_DISTANCES for b in range(first_bar, end_bar) if b + d <= end_bar - 3]
    if not pairs or rng.random() >= MOTIF_SHARE:
        return None
    return pairs[int(rng.integers(len(pairs)))]


def _motif_rule(stream: str, values: np.ndarray, state: SampleState) -> list[np.ndarray]:
    """The repeating bar: the soprano strikes exactly at the motif's onsets (never between them in
    that bar, and no shift skips one), with its durations and, after its first note, its intervals."""
    notes = state.motif_notes()
    if notes is None:
        return []
    onsets = [n[0] for n in notes]
    bar_start = onsets[0] // state.spb * state.spb
    onset = state.onset + state.chosen.get("shift", 0)
    if stream == "shift":
        ahead = [o for o in onsets if o > state.onset]
        return [state.onset + values <= ahead[0]] if ahead else []
    soprano_new = state.chosen.get("shift") != 0 or state.first or 0 not in state.struck
    if stream == "track":
        if onset in onsets and soprano_new:
            return [values == 0]
        if bar_start <= onset < bar_start + state.spb:
            return [values != 0]
        return []
    if state.chosen.get("track") != 0 or onset not in onsets:
        return []
    i = onsets.index(onset)
    if stream == "duration":
        return [values == notes[i][1]]
    if i == 0:  # the repeat's first note picks its transposition, one that keeps the rest in range
        lo, hi = SATB_RANGES[0]
        steps = [n[2] for n in notes]
        real = values + state.shift
        return [(values != REST) & (real + min(steps) >= lo) & (real + max(steps) <= hi)]
    first = [p for o, _, p in state.soprano if o == onsets[0]]
    return [values == first[0] + notes[i][2]] if first else []


def _shift_rules(values: np.ndarray, state: SampleState) -> list[np.ndarray]:
    ok = np.ones(len(values), bool)
    if state.last_track >= state.n_tracks - 1:  # every voice struck at this onset: move on
        ok &= values > 0
    final, dominant = state.final_bar, state.dominant
    if dominant is not None and state.onset < dominant:  # land on the dominant, never past it
        ok &= state.onset + values <= dominant
    elif dominant is not None and state.onset == dominant:  # its voices share one onset, then the end
        ok &= (values == 0) if state.last_track < state.n_tracks - 1 else (state.onset + values == final)
    if final is not None:
        if state.onset < final:  # land on the last bar's downbeat, never past it
            ok &= state.onset + values <= final
        else:  # the final chord: its voices share one onset
            ok &= values == 0
    return [ok]


def _track_rules(values: np.ndarray, state: SampleState) -> list[np.ndarray]:
    same_onset = state.chosen.get("shift") == 0 and not state.first
    last = state.last_track if same_onset else -1
    ok = values > last
    onset = state.onset + state.chosen.get("shift", 0)
    if onset in (state.final_bar, state.dominant) and onset is not None:  # the cadence misses no voice
        ok &= values == last + 1
    return [ok]


def _pitch_rules(values: np.ndarray, state: SampleState) -> list[np.ndarray]:
    track = state.chosen.get("track", 0)
    real = values + state.shift  # pitches in the output key
    lo, hi = SATB_RANGES[min(track, len(SATB_RANGES) - 1)]
    in_range = (values == REST) | ((real >= lo) & (real <= hi))
    onset = state.onset + state.chosen.get("shift", 0)
    same_onset = state.chosen.get("shift") == 0 and not state.first
    struck = state.struck if same_onset else {}  # a new onset has nothing struck yet
    mine = state.previous.get(track)
    no_parallels = np.ones(len(values), bool)
    for other, pitch in struck.items():
        theirs = state.previous.get(other)
        if other == track or mine is None or theirs is None or abs(theirs - mine) % 12 not in (0, 7):
            continue
        # only a candidate at the same perfect interval can be parallel: test those few exactly
        for i in np.flatnonzero((values != REST) & (np.abs(values - pitch) % 12 == abs(theirs - mine) % 12)):
            v = int(values[i])
            lower_first = track > other  # higher track index = lower voice
            prev, cur = ((mine, theirs), (v, pitch)) if lower_first else ((theirs, mine), (pitch, v))
            no_parallels[i] = not is_parallel(prev, cur)
    rules = [no_parallels]
    if state.final_bar is not None and onset == state.final_bar:
        rules.append(_cadence(values, track, state))
    elif state.dominant is not None and onset == state.dominant:
        rules.append(_dominant(values, track, state))
    return rules + [in_range]


def _dominant(values: np.ndarray, track: int, state: SampleState) -> np.ndarray:
    """The dominant before the final chord: its root in the bass and lowest, the other voices on
    its triad or seventh, the tenor supplies a missing leading tone."""
    pcs = values % 12  # the codec's tonic is pitch class 0
    if track == state.n_tracks - 1:
        return (values != REST) & (pcs == 7) & (values < min(state.struck.values(), default=REST))
    placed = {p % 12 for p in state.struck.values()} if state.chosen.get("shift") == 0 else set()
    allowed = {11} if track == state.n_tracks - 2 and 11 not in placed else set(DOMINANT)
    return (values != REST) & np.isin(pcs, sorted(allowed))


def _cadence(values: np.ndarray, track: int, state: SampleState) -> np.ndarray:
    """The final chord: tonic triad, the bass on the tonic and lowest, the tenor supplies a missing third."""
    pcs = values % 12  # the codec's tonic is pitch class 0
    if track == state.n_tracks - 1:  # the root in the bass, below every other voice
        return (values != REST) & (pcs == 0) & (values < min(state.struck.values(), default=REST))
    allowed = set(TRIADS[state.mode])
    placed = {p % 12 for p in state.struck.values()} if state.chosen.get("shift") == 0 else set()
    # (at the final onset every voice before this one was struck there, so ``struck`` is the chord)
    thirds = {3, 4} if state.mode == "minor" else {4}
    allowed -= {3, 4} - placed if placed & {3, 4} else set()  # one third, not both (minor may raise it)
    if track == state.n_tracks - 2 and not placed & thirds:
        allowed = thirds
    return (values != REST) & np.isin(pcs, sorted(allowed))
