"""Objective music metrics: pure functions f(score) -> float, per track or over all tracks.

``track=None`` measures the tracks merged into one (every note of every track); ``track=i`` measures
track i alone. A bar or step "sounds" when any note covers it. Metrics of the MuseGAN paper (EB, UPC,
QN, TD; Dong et al. 2017) and of muspy (polyphony, pitch range, scale consistency, pitch-class
entropy). Values that have nothing to measure (e.g. UPC of a silent track) are NaN.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from composer.music import Note, Score
from composer.representations.pianoroll import to_pianoroll

MAJOR = (0, 2, 4, 5, 7, 9, 11)
# Tonal centroid (Harte, Sandler & Gasser 2006): circle of fifths, minor thirds, major thirds.
_L = np.arange(12)
TONAL_MATRIX = np.array(
    [
        np.sin(_L * 7 * np.pi / 6),
        np.cos(_L * 7 * np.pi / 6),
        np.sin(_L * 3 * np.pi / 2),
        np.cos(_L * 3 * np.pi / 2),
        0.5 * np.sin(_L * 2 * np.pi / 3),
        0.5 * np.cos(_L * 2 * np.pi / 3),
    ]
)  # (6, 12)


def to_full_roll(score: Score) -> np.ndarray:
    """The score's full-range roll, which the roll-based metrics take as ``roll`` so that one score's
    roll is computed once (music_metrics does this).

    Returns ndarray, shape=(bars, steps_per_bar, 128, tracks), dtype=bool
    """
    return to_pianoroll(score, n_pitches=128, lowest_pitch=0)


def _roll(score: Score, track: int | None, roll: np.ndarray | None) -> np.ndarray:
    """Full-range roll of one track, or of all merged: bool, shape=(bars, steps_per_bar, 128)."""
    roll = to_full_roll(score) if roll is None else roll  # (bars, S, 128, T)
    return roll.any(axis=3) if track is None else roll[..., track]


def _notes(score: Score, track: int | None) -> list[Note]:
    tracks = score.tracks if track is None else [score.tracks[track]]
    return [n for t in tracks for n in t.notes]


def empty_bar_rate(score: Score, track: int | None = None, roll: np.ndarray | None = None) -> float:
    """Fraction of bars in which nothing sounds. ``roll``: to_full_roll(score), if already at hand."""
    roll = _roll(score, track, roll)
    return float((~roll.any(axis=(1, 2))).mean())


def _chroma(roll: np.ndarray) -> np.ndarray:
    """Steps each pitch class sounds per bar, of a roll shaped (bars, S, 128); shape=(bars, 12)."""
    folded = np.pad(roll, ((0, 0), (0, 0), (0, 4))).reshape(*roll.shape[:2], 11, 12)  # 132 = 11 octaves
    return folded.sum(axis=(1, 2))


def used_pitch_classes(score: Score, track: int | None = None, roll: np.ndarray | None = None) -> float:
    """UPC: pitch classes sounding per bar, averaged over the bars that sound."""
    counts = (_chroma(_roll(score, track, roll)) > 0).sum(axis=1)  # (bars,)
    sounding = counts > 0
    return float(counts[sounding].mean()) if sounding.any() else math.nan


def qualified_note_rate(score: Score, track: int | None = None) -> float:
    """QN: fraction of notes at least an eighth long (2 steps at 4 steps per quarter)."""
    notes = _notes(score, track)
    min_steps = max(1, score.resolution // 2)
    return float(np.mean([n.duration >= min_steps for n in notes])) if notes else math.nan


def polyphony(score: Score, track: int | None = None, roll: np.ndarray | None = None) -> float:
    """Pitches sounding at once, averaged over the steps where at least one sounds."""
    counts = _roll(score, track, roll).sum(axis=2).ravel()
    counts = counts[counts > 0]
    return float(counts.mean()) if len(counts) else math.nan


def pitch_range(score: Score, track: int | None = None) -> float:
    """Highest minus lowest pitch, in semitones."""
    pitches = [n.pitch for n in _notes(score, track)]
    return float(max(pitches) - min(pitches)) if pitches else math.nan


def _pc_histogram(score: Score, track: int | None) -> np.ndarray:
    return np.bincount([n.pitch % 12 for n in _notes(score, track)], minlength=12).astype(float)


def scale_consistency(score: Score, track: int | None = None) -> float:
    """Fraction of notes in the best-fitting major scale (any of 12 tonics; natural minor included)."""
    hist = _pc_histogram(score, track)
    if not hist.sum():
        return math.nan
    best = max(sum(hist[(tonic + d) % 12] for d in MAJOR) for tonic in range(12))
    return float(best / hist.sum())


def pitch_class_entropy(score: Score, track: int | None = None) -> float:
    """Shannon entropy (bits) of the notes' pitch-class histogram: 0 for one pitch class, log2(12) max."""
    hist = _pc_histogram(score, track)
    if not hist.sum():
        return math.nan
    p = hist[hist > 0] / hist.sum()
    return float(-(p * np.log2(p)).sum())


def tonal_centroids(score: Score, track: int, roll: np.ndarray | None = None) -> np.ndarray:
    """6-D tonal centroid of each bar's duration-weighted chroma; NaN rows for silent bars.

    Returns ndarray, shape=(bars, 6)
    """
    chroma = _chroma(_roll(score, track, roll)).astype(float)  # (bars, 12)
    total = chroma.sum(axis=1, keepdims=True)  # (bars, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (chroma / total) @ TONAL_MATRIX.T


def tonal_distance(
    score: Score, a: int | None = None, b: int | None = None, roll: np.ndarray | None = None
) -> float:
    """TD: Euclidean distance between two tracks' tonal centroids, averaged over bars where both
    sound; with no tracks given, averaged over every pair of tracks (the MuseGAN paper's TD)."""
    roll = to_full_roll(score) if roll is None else roll
    if a is None or b is None:
        centroids = [tonal_centroids(score, i, roll) for i in range(roll.shape[3])]
        return _mean_distance(_pair_distances(centroids).values())
    return _distance(tonal_centroids(score, a, roll), tonal_centroids(score, b, roll))


def _distance(ca: np.ndarray, cb: np.ndarray) -> float:
    """Mean over bars where both sound of the distance between two tracks' centroids (bars, 6)."""
    d = np.linalg.norm(ca - cb, axis=1)
    d = d[~np.isnan(d)]
    return float(d.mean()) if len(d) else math.nan


def _pair_distances(centroids: list[np.ndarray]) -> dict[tuple[int, int], float]:
    return {
        (i, j): _distance(centroids[i], centroids[j])
        for i, j in itertools.combinations(range(len(centroids)), 2)
    }


def _mean_distance(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


PER_TRACK = {
    "empty_bar_rate": empty_bar_rate,
    "used_pitch_classes": used_pitch_classes,
    "qualified_note_rate": qualified_note_rate,
    "polyphony": polyphony,
    "pitch_range": pitch_range,
    "scale_consistency": scale_consistency,
    "pitch_class_entropy": pitch_class_entropy,
}
USES_ROLL = (empty_bar_rate, used_pitch_classes, polyphony)  # these take to_full_roll(score) as ``roll``


def music_metrics(score: Score) -> dict:
    """Every metric of one score: {name: overall value, ..., "tracks": {track name: {name: value}}}.

    Overall values measure the tracks merged, except ``tonal_distance`` (the mean over track pairs;
    per track, that track's mean distance to the others). Used pitch classes come twice overall:
    ``used_pitch_classes_merged`` (all tracks as one) and ``used_pitch_classes_per_track`` (the mean
    of the tracks' own values, as the MuseGAN paper reports UPC).
    """
    roll = to_full_roll(score)  # (bars, S, 128, T): computed once for every roll-based metric

    def measure(track: int | None) -> dict:
        return {
            name: f(score, track, roll) if f in USES_ROLL else f(score, track)
            for name, f in PER_TRACK.items()
        }

    out = measure(None)
    pairs = _pair_distances([tonal_centroids(score, i, roll) for i in range(len(score.tracks))])
    out["tonal_distance"] = _mean_distance(pairs.values())
    tracks = {}
    for i, t in enumerate(score.tracks):
        values = measure(i)
        values["tonal_distance"] = _mean_distance(d for (a, b), d in pairs.items() if i in (a, b))
        tracks[t.name or f"Track {i + 1}"] = values
    out["tracks"] = tracks
    out["used_pitch_classes_merged"] = out.pop("used_pitch_classes")
    own = [v["used_pitch_classes"] for v in tracks.values() if not math.isnan(v["used_pitch_classes"])]
    out["used_pitch_classes_per_track"] = float(np.mean(own)) if own else math.nan
    return out
