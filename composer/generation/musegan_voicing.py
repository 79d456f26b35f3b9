"""Voice-leading-aware pitch choice for decoded MuseGAN notes (``generate --rules``).

The codec fixes where every note starts and ends; this module only picks each note's pitch among
the model's ``TOP`` best rows for it. At each onset, the voices that strike a note choose together
(every combination of their candidates) the one that maximises the model's own scores minus
penalties for a parallel fifth or octave with any other voice (``chorale_metrics.is_parallel``, the
definition the chorale figures count), for leaving the voice's SATB range, and for crossing a
neighbouring voice. The model still writes the music: with every penalty zero
this is the plain argmax decoding.
"""

from __future__ import annotations

import itertools

import numpy as np

from composer.chorale_metrics import SATB_RANGES, is_parallel
from composer.representations.pianoroll import RollCodec, Segment

TOP = 3  # candidates per note
PARALLEL = 1.0  # penalty per parallel fifth or octave (scores are mean tanh values in [-1, 1])
RANGE = 1.0  # penalty for a note outside its voice's range
CROSSING = 0.5  # penalty per pair of neighbouring voices that cross


def choose_pitches(codec: RollCodec, segments: list[list[Segment]]) -> list[list[int]]:
    """Rows (pitch - codec.lowest_pitch) for every segment, voice by voice, in onset order.

    Ranges apply when the codec has four voices (SATB); parallels and crossings to any number.
    """
    n = len(segments)
    ranges = SATB_RANGES if n == 4 else ((0, 127),) * n
    length = max((s.end for segs in segments for s in segs), default=0)
    sounding = np.full((n, length), -1)  # (voices, steps): chosen MIDI pitch, -1 for a rest
    chosen: list[list[int]] = [[] for _ in range(n)]
    by_start: dict[int, list[tuple[int, Segment]]] = {}
    for v, segs in enumerate(segments):
        for seg in segs:
            by_start.setdefault(seg.start, []).append((v, seg))
    for t in sorted(by_start):
        striking = by_start[t]
        prev = sounding[:, t - 1] if t else np.full(n, -1)
        options = [_candidates(seg, codec.lowest_pitch) for _, seg in striking]
        best, best_cost = None, np.inf
        for combo in itertools.product(*options):
            cur = sounding[:, t].copy()
            score = 0.0
            for (v, _), (pitch, s) in zip(striking, combo):
                cur[v] = pitch
                score += s - RANGE * (not ranges[v][0] <= pitch <= ranges[v][1])
            cost = _penalty(prev, cur) - score
            if cost < best_cost:
                best, best_cost = combo, cost
        for (v, seg), (pitch, _) in zip(striking, best):
            sounding[v, seg.start : seg.end] = pitch
            chosen[v].append(pitch - codec.lowest_pitch)
    return chosen


def _candidates(seg: Segment, lowest: int) -> list[tuple[int, float]]:
    """The ``TOP`` best (MIDI pitch, score) of a segment, best first."""
    rows = np.argsort(-seg.scores)[:TOP]
    return [(int(r) + lowest, float(seg.scores[r])) for r in rows]


def _penalty(prev: np.ndarray, cur: np.ndarray) -> float:
    """Parallels between every pair of voices sounding in both chords (voice i above voice j > i,
    as chorale_metrics counts them), and neighbour crossings."""
    cost = 0.0
    n = len(cur)
    for i, j in itertools.combinations(range(n), 2):
        if min(prev[i], prev[j], cur[i], cur[j]) >= 0 and is_parallel((prev[j], prev[i]), (cur[j], cur[i])):
            cost += PARALLEL
    for i in range(n - 1):
        if cur[i] >= 0 and cur[i + 1] >= 0 and cur[i] < cur[i + 1]:
            cost += CROSSING
    return cost
