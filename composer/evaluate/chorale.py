"""What a musician checks in a four-part chorale: pure functions f(score) -> number, no I/O.

Voices, the step grid, parallels, SATB ranges and triads are those of composer.theory, the one
definition the samplers share.

Terms used by the docstrings below:

- a **texture onset** is a step at which at least one voice starts a note;
- a **voice-pair transition** is a pair of voices and two consecutive onsets of that pair (steps at
  which either of the two starts a note) such that both voices sound at both (held notes count);
- the **span** of a voice runs from its first onset to the end of its last note.

``chorale_counts`` returns numerators and denominators, so that a group of pieces is pooled
(``pool_counts``) rather than averaged piece by piece; ``chorale_metrics`` turns one score's counts
into rates. Bach's own figures, measured with this code, are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np

from composer.errors import ComposerError
from composer.keys import estimate_key, parse_key
from composer.music import Note, Score, Track
from composer.theory import (
    SATB_RANGES,
    TRIADS,
    parallel_mask,
    to_grid,
    to_voices,
)

MAX_DURATION = 16  # histogram bins: 1..16 sixteenths, then one bin for anything longer


def _transitions(pitch: np.ndarray, onset: np.ndarray) -> tuple[int, int]:
    """(parallel transitions, voice-pair transitions) of a grid."""
    parallels = transitions = 0
    for up, lo in itertools.combinations(range(len(pitch)), 2):
        ts = np.flatnonzero(onset[up] | onset[lo])
        a, b = pitch[:, ts[:-1]], pitch[:, ts[1:]]  # (V, onsets - 1): before and after
        both = (a[up] >= 0) & (a[lo] >= 0) & (b[up] >= 0) & (b[lo] >= 0)
        transitions += int(both.sum())
        parallels += int((both & parallel_mask(a[lo], a[up], b[lo], b[up])).sum())
    return parallels, transitions


def _crossings(pitch: np.ndarray, onset: np.ndarray) -> tuple[int, int]:
    """(texture onsets where an upper voice sounds below the voice under it, texture onsets)."""
    at = pitch[:, onset.any(axis=0)]  # (V, onsets)
    crossed = np.zeros(at.shape[1], bool)
    for v in range(len(at) - 1):
        crossed |= (at[v] >= 0) & (at[v + 1] >= 0) & (at[v] < at[v + 1])
    return int(crossed.sum()), at.shape[1]


def _rests_inside(pitch: np.ndarray) -> tuple[int, int]:
    """(voice-steps silent inside the voice's span while another voice sounds, voice-steps in spans)."""
    sounding = pitch >= 0  # (V, T)
    rests = span = 0
    for v in range(len(pitch)):
        on = np.flatnonzero(sounding[v])
        if not len(on):
            continue
        inside = slice(on[0], on[-1] + 1)
        others = np.delete(sounding, v, axis=0).any(axis=0)[inside]
        rests += int((~sounding[v, inside] & others).sum())
        span += on[-1] + 1 - on[0]
    return rests, int(span)


def _in_range(voices: list[Track]) -> tuple[int, int]:
    """(notes inside their voice's SATB range, notes); voices beyond the fourth are not counted."""
    inside = total = 0
    for track, (low, high) in zip(voices, SATB_RANGES):
        inside += sum(low <= n.pitch <= high for n in track.notes)
        total += len(track.notes)
    return inside, total


def duration_counts(score: Score, voices: list[Track] | None = None) -> np.ndarray:
    """Notes by duration in sixteenths (rounded, at least 1): bins 1..16, then one for longer.

    Returns ndarray, shape=(MAX_DURATION + 1,), dtype=int64
    """
    voices = to_voices(score) if voices is None else voices
    sixteenths = [max(1, round(n.duration * 4 / score.resolution)) for t in voices for n in t.notes]
    return np.bincount(
        np.minimum(np.asarray(sixteenths, int), MAX_DURATION + 1) - 1, minlength=MAX_DURATION + 1
    )


def duration_kl(p, q, eps: float = 1e-4) -> float:
    """KL(p || q) in nats between two duration histograms (counts or shares, same bins), each smoothed
    by ``eps`` per bin so that a duration the reference never uses gives a large but finite value."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    p = p / p.sum() + eps
    q = q / q.sum() + eps
    p, q = p / p.sum(), q / q.sum()
    return float((p * np.log(p / q)).sum())


def _downbeats(score: Score, voices: list[Track]) -> tuple[int, int]:
    """(downbeats whose sounding pitch classes are exactly a major or minor triad, downbeats where
    something sounds). Every pitch sounding on the bar's first step counts, held notes included."""
    spb = score.steps_per_bar
    chroma = np.zeros((score.n_bars, 12), bool)  # (bars, 12): pitch classes sounding on each downbeat
    for n in (n for t in voices for n in t.notes):
        chroma[-(-n.start // spb) : -(-n.end // spb), n.pitch % 12] = True
    masks = chroma.astype(np.int64) @ (1 << np.arange(12))  # (bars,): each as a 12-bit mask
    triads = [sum(1 << ((r + i) % 12) for i in t) for r in range(12) for t in TRIADS]  # all 24
    return int(np.isin(masks, triads).sum()), int((masks > 0).sum())


def _sounding(voices: list[Track], step: int) -> list[int]:
    return sorted(n.pitch for t in voices for n in t.notes if n.start <= step < n.end)


def _is_triad(pcs: frozenset[int], root: int) -> bool:
    """Whether ``pcs`` is a major/minor triad on ``root``, the fifth optional (root and third suffice),
    as in many of Bach's final chords."""
    rel = frozenset((p - root) % 12 for p in pcs)
    return any(rel in (t, t - {7}) for t in TRIADS)


def _repeated(voices: list[Track]) -> tuple[int, int]:
    """(notes that re-strike their voice's previous note: same pitch, starting as it ends, notes)."""
    repeated = total = 0
    for t in voices:
        notes = sorted(t.notes)
        repeated += sum(a.pitch == b.pitch and a.end == b.start for a, b in zip(notes, notes[1:]))
        total += len(notes)
    return repeated, total


def _bar_pattern(notes: list[Note], start: int, stop: int) -> tuple:
    """Onsets, durations (cut at the bar line) and pitches relative to the first, of notes starting in
    [start, stop): the bar's rhythm and intervals, the same under transposition."""
    first = notes[0].pitch
    return tuple((n.start - start, min(n.end, stop) - n.start, n.pitch - first) for n in notes)


def _soprano_recurrence(score: Score, voices: list[Track]) -> tuple[int, int]:
    """(soprano bars whose pattern occurs in another bar of the piece, soprano bars with two or more
    onsets). A bar of one note is left out: holding a whole note twice is not a motif."""
    if not voices:
        return 0, 0
    spb, bars = score.steps_per_bar, {}
    for n in sorted(voices[0].notes):
        bars.setdefault(n.start // spb, []).append(n)
    patterns = [_bar_pattern(bar, b * spb, (b + 1) * spb) for b, bar in bars.items() if len(bar) >= 2]
    counts = Counter(patterns)
    return sum(counts[p] > 1 for p in patterns), len(patterns)


def chorale_counts(score: Score) -> dict[str, int]:
    """Numerators and denominators of every chorale metric of one score (see chorale_metrics)."""
    voices = to_voices(score)
    pitch, onset = to_grid(voices, score.n_steps)
    out = {}
    for name, (num, den) in {
        "parallels": _transitions(pitch, onset),
        "crossings": _crossings(pitch, onset),
        "in_range": _in_range(voices),
        "downbeat_triads": _downbeats(score, voices),
        "repeated": _repeated(voices),
        "rests_inside": _rests_inside(pitch),
        "soprano_recurring": _soprano_recurrence(score, voices),
    }.items():
        out[name], out[name + "_of"] = num, den
    out["has_parallel"], out["has_parallel_of"] = int(out["parallels"] > 0), 1
    out["durations"] = duration_counts(score, voices).tolist()
    return out


RATES = {  # metric name: count name, times the factor
    "parallels_per_100": ("parallels", 100.0),
    "has_parallel": ("has_parallel", 1.0),
    "voice_crossing": ("crossings", 1.0),
    "in_satb_range": ("in_range", 1.0),
    "downbeat_triads": ("downbeat_triads", 1.0),
    "repeated_notes": ("repeated", 1.0),
    "rests_inside": ("rests_inside", 1.0),
    "soprano_bar_recurrence": ("soprano_recurring", 1.0),
}


def to_rates(counts: dict) -> dict:
    """Metric values from (pooled) counts; a rate with nothing to count is None."""
    out = {}
    for name, (count, factor) in RATES.items():
        den = counts[count + "_of"]
        out[name] = factor * counts[count] / den if den else None
    durations = np.asarray(counts["durations"], float)
    out["duration_histogram"] = (durations / durations.sum()).tolist() if durations.sum() else None
    out["sixteenths"] = out["duration_histogram"][0] if out["duration_histogram"] else None
    return out


def pool_counts(counts: list[dict]) -> dict:
    """The counts of several scores summed, so that rates weigh every note/transition equally."""
    out = {k: sum(c[k] for c in counts) for k in counts[0] if k != "durations"} if counts else {}
    out["durations"] = np.sum([c["durations"] for c in counts], axis=0).tolist() if counts else []
    return out


def chorale_metrics(score: Score) -> dict:
    """Every chorale metric of one score (the terms are defined in the module docstring).

    Keys:

    - parallels_per_100: parallel 5ths/8ves (is_parallel) per 100 voice-pair transitions;
    - has_parallel: 1.0 if there is any, else 0.0;
    - voice_crossing: share of texture onsets where a voice sounds below the next lower voice;
    - in_satb_range: share of the notes of voice k inside SATB_RANGES[k];
    - downbeat_triads: share of sounding downbeats whose pitch classes are exactly a complete major
      or minor triad;
    - repeated_notes: share of notes that re-strike their voice's previous pitch as that note ends;
    - rests_inside: share of voice-steps inside a voice's span where it is silent while another
      voice sounds;
    - soprano_bar_recurrence: share of soprano bars (two or more onsets) whose rhythm and intervals
      occur in another bar of the piece, in any transposition;
    - duration_histogram: share of notes lasting 1..16 sixteenths, then longer (17 bins);
    - sixteenths: its first bin.

    A rate with nothing to count (no transition, no note) is None.
    """
    return to_rates(chorale_counts(score))


ENDING_KEYS = ("ends_on_tonic", "final_root_position", "ends_on_tonic_root_position", "authentic_cadence")
DOMINANT = frozenset({7, 11, 2, 5})  # the dominant seventh chord's pitch classes above the tonic


def summarize_chorale(scores: list[Score], endings: list[Score] | None = None) -> dict:
    """The chorale group of several pieces: rates from their pooled counts, ``pieces``, and the mean of
    each ending metric over ``endings`` (the pieces themselves by default); None where nothing counts."""
    out = to_rates(pool_counts([chorale_counts(s) for s in scores])) if scores else dict.fromkeys(RATES)
    out.setdefault("duration_histogram", None)
    out.setdefault("sixteenths", None)
    ends = [ending_metrics(s) for s in (scores if endings is None else endings)]
    for k in ENDING_KEYS:
        values = [e[k] for e in ends if e[k] is not None]
        out[k] = float(np.mean(values)) if values else None
    out["pieces"] = len(scores)
    return out


def _tonic(key: str | None, notes: list[Note]) -> int:
    """The tonic pitch class of ``key``, else (missing or unreadable) of the key of ``notes``."""
    try:
        return parse_key(key)[0]
    except ComposerError:
        return parse_key(estimate_key(notes))[0]


def ending_metrics(score: Score) -> dict:
    """How the piece ends: the chord sounding at the last texture onset (held notes included).

    The tonic is that of ``score.key`` when it is given and readable, else estimated from the notes.
    The final chord is a triad when its pitch classes are a major or minor triad, fifth optional
    (Bach often leaves it out); a voice that has stopped simply does not count, so three voices
    holding root, third and fifth still make a triad, but a bare fifth or octave does not.

    Keys: ends_on_tonic (1.0 when the final chord is a triad on the tonic, major or minor, any
    inversion), final_root_position (1.0 when the final chord is a triad with its root in the bass),
    ends_on_tonic_root_position (both), authentic_cadence (both, and the chord sounding just before
    it is the dominant in root position, its seventh optional: the leading tone and the dominant in
    the bass present, nothing outside the dominant seventh chord), tonic (the pitch class used);
    None for a silent score.
    """
    voices = to_voices(score)
    notes = [n for t in voices for n in t.notes]
    if not notes:
        return dict.fromkeys((*ENDING_KEYS, "tonic"))
    tonic = _tonic(score.key, notes)
    last = max(n.start for n in notes)
    pitches = _sounding(voices, last)
    pcs = frozenset(p % 12 for p in pitches)
    roots = [r for r in pcs if _is_triad(pcs, r)]
    on_tonic = float(tonic in roots)
    root_position = float(pitches[0] % 12 in roots)
    before = _sounding(voices, last - 1)
    degrees = frozenset((p - tonic) % 12 for p in before)
    dominant = bool(before) and (before[0] - tonic) % 12 == 7 and 11 in degrees and degrees <= DOMINANT
    return {
        "ends_on_tonic": on_tonic,
        "final_root_position": root_position,
        "ends_on_tonic_root_position": float(on_tonic and pitches[0] % 12 == tonic),
        "authentic_cadence": float(on_tonic and pitches[0] % 12 == tonic and dominant),
        "tonic": tonic,
    }
