"""Voice-leading-aware pitch choice for decoded MuseGAN notes (``generate_musegan(rules=True)``).

The codec fixes where every note starts and ends; this module only picks each note's pitch among
the model's ``TOP`` best rows for it. At each onset, the voices that strike a note choose together
(every combination of their candidates, scored at once with NumPy) the one that maximises the
model's own scores minus penalties for a parallel fifth or octave with any other voice
(``theory.is_parallel``, the definition the chorale figures count), for leaving the voice's
SATB range and for crossing a neighbouring voice, plus a bonus for a complete major or minor triad
on a downbeat and for a final chord that is the tonic triad over the tonic. The model still writes
the music: with every weight zero this is the plain argmax decoding.
"""

from __future__ import annotations

import itertools

import numpy as np

from composer.representations.pianoroll import RollCodec, Segment
from composer.theory import SATB_RANGES, TRIADS, parallel_mask

TOP = 3  # candidates per note
PARALLEL = 1.0  # penalty per parallel fifth or octave (scores are mean tanh values in [-1, 1])
RANGE = 1.0  # penalty for a note outside its voice's range
CROSSING = 0.5  # penalty per pair of neighbouring voices that cross
TRIAD = 0.5  # bonus for a complete major or minor triad on a downbeat
CADENCE = 1.0  # bonus for ending on the tonic triad in root position
# every major and minor triad as a 12-bit pitch-class mask, with its root
_TRIADS = {sum(1 << ((r + i) % 12) for i in t): r for r in range(12) for t in TRIADS}


def choose_pitches(codec: RollCodec, segments: list[list[Segment]]) -> list[list[int]]:
    """Rows (pitch - codec.lowest_pitch) for every segment, voice by voice, in onset order.

    Ranges apply when the codec has four voices (SATB); the cadence bonus when it has a tonic.
    """
    n = len(segments)
    length = max((s.end for segs in segments for s in segs), default=0)
    sounding = np.full((n, length), -1)  # (voices, steps): chosen MIDI pitch, -1 for a rest
    ends = np.zeros((n, length), dtype=int)  # (voices, steps): end of the note sounding there
    chosen: list[list[int]] = [[] for _ in range(n)]
    by_start: dict[int, list[tuple[int, Segment]]] = {}
    for v, segs in enumerate(segments):
        for seg in segs:
            by_start.setdefault(seg.start, []).append((v, seg))
            ends[v, seg.start : seg.end] = seg.end
    for t in sorted(by_start):
        striking = by_start[t]
        options = [_candidates(seg, codec.lowest_pitch) for _, seg in striking]
        pitches = np.array(list(itertools.product(*[o[0] for o in options])))  # (K, striking)
        scores = np.array(list(itertools.product(*[o[1] for o in options]))).sum(axis=1)  # (K,)
        cur = np.tile(sounding[:, t], (len(pitches), 1))  # (K, voices)
        cur[:, [v for v, _ in striking]] = pitches
        final = codec.tonic is not None and (ends[:, t] == length).all()
        prev = sounding[:, t - 1] if t else np.full(n, -1)
        gain = scores + _bonus(cur, t % codec.steps_per_bar == 0, codec.tonic if final else None)
        best = int(np.argmax(gain - _penalty(prev, cur)))
        for (v, seg), pitch in zip(striking, pitches[best]):
            sounding[v, seg.start : seg.end] = pitch
            chosen[v].append(int(pitch) - codec.lowest_pitch)
    return chosen


def _candidates(seg: Segment, lowest: int) -> tuple[list[int], list[float]]:
    """The ``TOP`` best MIDI pitches of a segment and their scores, best first."""
    rows = np.argsort(-seg.scores)[:TOP]
    return [int(r) + lowest for r in rows], [float(seg.scores[r]) for r in rows]


def _penalty(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Per candidate chord (K, voices): parallels between every pair of voices sounding in both
    chords (voice i above voice j, as chorale_metrics counts them), range and crossings."""
    k, n = cur.shape
    cost = np.zeros(k)
    for i, j in itertools.combinations(range(n), 2):  # i above j
        if prev[i] >= 0 and prev[j] >= 0:
            both = (cur[:, i] >= 0) & (cur[:, j] >= 0)
            cost += PARALLEL * (both & parallel_mask(prev[j], prev[i], cur[:, j], cur[:, i]))
    if n == len(SATB_RANGES):
        low, high = np.array(SATB_RANGES).T  # (voices,)
        cost += RANGE * ((cur >= 0) & ((cur < low) | (cur > high))).sum(axis=1)
    for i in range(n - 1):
        cost += CROSSING * ((cur[:, i] >= 0) & (cur[:, i + 1] >= 0) & (cur[:, i] < cur[:, i + 1]))
    return cost


def _bonus(cur: np.ndarray, downbeat: bool, tonic: int | None) -> np.ndarray:
    """Per candidate chord (K, voices): TRIAD on a downbeat with a complete triad; CADENCE when
    ``tonic`` is given (the chord is the last) and the chord is its triad over a tonic bass."""
    masks = np.where(cur >= 0, 1 << (cur % 12), 0)
    masks = np.bitwise_or.reduce(masks, axis=1)  # (K,): the chord's pitch classes
    roots = np.array([_TRIADS.get(int(m), -1) for m in masks])  # (K,): -1 when not a triad
    bonus = np.zeros(len(cur))
    if downbeat:
        bonus += TRIAD * (roots >= 0)
    if tonic is not None:
        bonus += CADENCE * ((roots == tonic) & (cur[:, -1] % 12 == tonic))
    return bonus
