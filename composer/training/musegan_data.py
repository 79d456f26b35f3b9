"""MuseGAN training data: phrases of ``n_bars`` cut from piano rolls, and the track-mapping rule.

Tracks of a MIDI folder map to model tracks by voice order: each piece's pitched (non-drum) tracks
are sorted from highest to lowest mean pitch and the first ``n_tracks`` become model tracks 0..N-1
(like Soprano, Alto, Tenor, Bass); a piece with fewer pitched tracks is skipped. The bach corpus is
already in SATB order. Only pieces in the model's meter (4/4 at 16 steps per bar) are used.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from composer.errors import CorpusError
from composer.music import Score
from composer.representations.pianoroll import to_pianoroll

METER = (4, 4)


def to_voice_order(score: Score, n_tracks: int) -> Score | None:
    """The score's ``n_tracks`` highest pitched tracks, highest mean pitch first; None if too few."""
    pitched = [t for t in score.tracks if not t.is_drum and t.notes]
    if len(pitched) < n_tracks:
        return None
    pitched.sort(key=lambda t: -float(np.mean([n.pitch for n in t.notes])))
    return replace(score, tracks=pitched[:n_tracks])


def to_phrases(pieces: list[Score], n_bars: int, n_tracks: int, n_pitches: int = 84) -> np.ndarray:
    """Every window of ``n_bars`` consecutive bars (stride one bar) of every usable piece.

    Windows with a bar in which no track sounds are left out.

    Returns
    -------
    ndarray, shape=(phrases, n_bars, 16, n_pitches, n_tracks), dtype=bool
    """
    out = []
    for score in pieces:
        if score.time_signature != METER or score.resolution != 4:
            continue
        score = to_voice_order(score, n_tracks)
        if score is None:
            continue
        roll = to_pianoroll(score, n_pitches=n_pitches)  # (bars, 16, P, T)
        sounding = roll.any(axis=(1, 2, 3))  # (bars,)
        for b in range(len(roll) - n_bars + 1):
            if sounding[b : b + n_bars].all():
                out.append(roll[b : b + n_bars])
    if not out:
        raise CorpusError(
            f"no {n_bars}-bar phrase in 4/4 with at least {n_tracks} pitched tracks in this corpus"
        )
    return np.stack(out)


def batch_indices(n: int, batch_size: int, seed: int, step: int, k: int) -> np.ndarray:
    """Indices of the k-th batch at ``step``: derived from (seed, step, k) only, so resume is exact."""
    return np.random.default_rng([seed, step, k]).integers(0, n, size=batch_size)
