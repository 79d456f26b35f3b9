"""Voice-leading-aware pitch choice for decoded MuseGAN notes (``generate_musegan(rules=True)``).

The codec fixes where every note starts and ends; this module only picks each note's pitch among
the model's ``TOP`` best rows for it. At each onset, the voices that strike a note choose together
(every combination of their candidates, scored at once with NumPy) the one that maximises the
model's own scores minus penalties for a parallel fifth or octave with any other voice
(``theory.is_parallel``, the definition the chorale figures count), for leaving the voice's
SATB range, for crossing a neighbouring voice and for striking the same pitch again, plus a bonus
for a complete major or minor triad on a downbeat (where the ``TOP_DOWNBEAT`` best rows are
candidates). The model still writes the music: with every weight zero this is the plain argmax
decoding.

A piece's ending (``end_on_chord``, then ``choose_pitches(..., ending=True)``) is the chorale's
authentic cadence, the rule the LSTM's sampler also follows: on the last beat before the last bar
every voice strikes the dominant (its seventh optional, the leading tone present, its root in the
bass), and the last bar opens with the tonic triad held for half a bar (the tonic in the bass, the
third present: major in a major piece; in a minor one, whichever third the model scores higher).
In each chord every voice takes the chord tone the model scores best for it in its range, nearest
its previous note, chosen together against parallels and crossings.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from composer.representations.pianoroll import RollCodec, Segment
from composer.theory import SATB_RANGES, TRIADS, parallel_mask

TOP = 3  # candidates per note
TOP_DOWNBEAT = 5  # candidates per note struck on a downbeat, where a triad is sought
PARALLEL = 1.0  # penalty per parallel fifth or octave (scores are mean tanh values in [-1, 1])
RANGE = 1.0  # penalty for a note outside its voice's range
CROSSING = 0.5  # penalty per pair of neighbouring voices that cross
MOTION = 0.1  # penalty per semitone a voice moves into a cadence chord (the nearest tone is best)
REPEAT = 0.3  # penalty per voice striking again the pitch it just held (the rhythm decoding cut there)
TRIAD = 1.0  # bonus for a complete major or minor triad on a downbeat
# the cadence's chords as (pitch classes above the tonic, the bass's first, the one that must sound)
TONIC = (((0, 4, 7), 4), ((0, 3, 7), 3))  # the tonic triad, major or minor, with its third
DOMINANT = (((7, 11, 2, 5), 11),)  # the dominant (seventh optional) with its leading tone
# every major and minor triad as a 12-bit pitch-class mask
_TRIADS = frozenset(sum(1 << ((r + i) % 12) for i in t) for r in range(12) for t in TRIADS)


def end_on_chord(codec: RollCodec, segments: list[list[Segment]], roll: np.ndarray) -> list[list[Segment]]:
    """The segments with the cadence's two chords in place of the model's notes: one segment per
    voice on the last beat before the last bar (the dominant, a quarter note), one over the first
    half of the last bar (the tonic), then silence (a chorale's last bar, its upbeat given to the
    first). Notes sounding into the cadence are cut where it starts. Scores are each voice's mean
    hold over the chord's steps. A piece of one bar has only the final chord.

    roll : ndarray, shape=(bars, steps, pitches, tracks, channels)
    """
    bars, spb = roll.shape[:2]
    flat, last, beat = roll.reshape(bars * spb, *roll.shape[2:]), (bars - 1) * spb, codec.resolution
    chords = [(last - beat, last), (last, last + spb // 2)] if bars > 1 else [(last, last + spb // 2)]
    cut = chords[0][0]
    out = []
    for t, segs in enumerate(segments):
        kept = [replace(g, end=min(g.end, cut)) for g in segs if g.start < cut]
        out.append(kept + [Segment(a, b, flat[a:b, :, t, 0].mean(axis=0)) for a, b in chords])
    return out


def choose_pitches(codec: RollCodec, segments: list[list[Segment]], ending: bool = False) -> list[list[int]]:
    """Rows (pitch - codec.lowest_pitch) for every segment, voice by voice, in onset order.

    Ranges apply when the codec has four voices (SATB). With ``ending`` (segments from end_on_chord)
    and a codec with a tonic, the last two chords are the cadence of the module doc.
    """
    n = len(segments)
    length = max((s.end for segs in segments for s in segs), default=0)
    sounding = np.full((n, length), -1)  # (voices, steps): chosen MIDI pitch, -1 for a rest
    chosen: list[list[int]] = [[] for _ in range(n)]
    by_start: dict[int, list[tuple[int, Segment]]] = {}
    for v, segs in enumerate(segments):
        for seg in segs:
            by_start.setdefault(seg.start, []).append((v, seg))
    cadence = {}  # onset -> the chords allowed there (end_on_chord's dominant, then the tonic)
    if ending and codec.tonic is not None and all(segments):
        final = segments[0][-1].start
        cadence = {final - codec.resolution: DOMINANT, final: TONIC}
    for t in sorted(by_start):
        striking = by_start[t]
        voices, downbeat = [v for v, _ in striking], t % codec.steps_per_bar == 0
        prev = sounding[:, t - 1] if t else np.full(n, -1)  # each voice's pitch before t, -1 a rest
        chords = None
        if t in cadence and len(striking) == n:
            allowed = cadence[t] if cadence[t] is not TONIC else _tonic_chords(sounding[:, :t], codec.tonic)
            chords = _voicings(codec, [g for _, g in striking], allowed)
        if chords is not None:
            pitches, scores = chords
            scores = scores - MOTION * np.where(prev >= 0, np.abs(pitches - prev), 0).sum(axis=1)
        else:
            top = TOP_DOWNBEAT if downbeat else TOP
            options = [_candidates(seg, codec.lowest_pitch, top) for _, seg in striking]
            pitches = np.array(list(itertools.product(*[o[0] for o in options])))  # (K, striking)
            scores = np.array(list(itertools.product(*[o[1] for o in options]))).sum(axis=1)  # (K,)
        cur = np.tile(sounding[:, t], (len(pitches), 1))  # (K, voices)
        cur[:, voices] = pitches
        repeats = (pitches == prev[voices]).sum(axis=1)  # (K,)
        gain = scores - REPEAT * repeats + (TRIAD * _is_triad(cur) if downbeat else 0.0)
        best = int(np.argmax(gain - _penalty(prev, cur)))
        for (v, seg), pitch in zip(striking, pitches[best]):
            sounding[v, seg.start : seg.end] = pitch
            chosen[v].append(int(pitch) - codec.lowest_pitch)
    return chosen


def _candidates(seg: Segment, lowest: int, top: int) -> tuple[list[int], list[float]]:
    """The ``top`` best MIDI pitches of a segment and their scores, best first."""
    rows = np.argsort(-seg.scores)[:top]
    return [int(r) + lowest for r in rows], [float(seg.scores[r]) for r in rows]


def _tonic_chords(played: np.ndarray, tonic: int) -> tuple:
    """TONIC's chords that suit the piece so far (``played``: MIDI pitches by voice and step, -1 for
    rests): a piece whose major third sounds at least as long as its minor third ends major; a minor
    one may end either way (the major third being the tierce de Picardie)."""
    heard = (played[played >= 0] - tonic) % 12
    return TONIC[:1] if (heard == 4).sum() >= (heard == 3).sum() else TONIC


def _voicings(codec: RollCodec, segs: list[Segment], chords) -> tuple[np.ndarray, np.ndarray] | None:
    """Every voicing of ``chords`` (TONIC or DOMINANT: (pitch classes above the tonic, the one
    that must sound) pairs, the first pitch class in the bass) over ``segs`` (one per voice,
    highest first), each voice in its SATB range (four voices) or within a fifth of its best row:
    (pitches (K, voices), model scores (K,)); None if there is none."""
    rows = np.arange(codec.n_pitches)
    pitches = rows + codec.lowest_pitch
    found = []
    for tones, needed in chords:
        tones = [(codec.tonic + i) % 12 for i in tones]
        options = []
        for v, seg in enumerate(segs):
            ok = np.isin(pitches % 12, tones[:1] if v == len(segs) - 1 else tones)
            if len(segs) == len(SATB_RANGES):
                low, high = SATB_RANGES[v]
                ok &= (pitches >= low) & (pitches <= high)
            else:
                ok &= np.abs(rows - seg.scores.argmax()) <= 7
            options.append((pitches[ok], seg.scores[ok]))
        voicings = np.array(list(itertools.product(*[o[0] for o in options])))  # (K, voices)
        scores = np.array(list(itertools.product(*[o[1] for o in options]))).sum(axis=1)
        keep = (voicings % 12 == (codec.tonic + needed) % 12).any(axis=1) if len(voicings) else []
        if np.any(keep):
            found.append((voicings[keep], scores[keep]))
    if not found:
        return None
    return np.vstack([v for v, _ in found]), np.concatenate([s for _, s in found])


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


def _is_triad(cur: np.ndarray) -> np.ndarray:
    """Per candidate chord (K, voices): whether its pitch classes are a complete major or minor triad."""
    masks = np.where(cur >= 0, 1 << (cur % 12), 0)
    masks = np.bitwise_or.reduce(masks, axis=1)  # (K,): the chord's pitch classes
    return np.array([int(m) in _TRIADS for m in masks])
