"""Four-part harmony that several layers share: SATB voices and ranges, each voice as one line on the
step grid, parallel fifths and octaves, triads (key profiles are in composer.keys).

Voices are a score's pitched tracks in SATB order: highest mean pitch first (``to_voices``). Each
voice is read as one line on the step grid (``to_grid``): at every step it sounds the pitch of the
note that started most recently (the higher one when two start together), or nothing. Representations
(the token rules, the harmony grid), samplers (harmonize, MuseGAN voicing) and the chorale metrics
(composer.evaluate.chorale) all read these one definitions, so what a sampler avoids is what the
metrics count.
"""

from __future__ import annotations

import numpy as np

from composer.music import Score, Track

SATB_RANGES = ((60, 79), (55, 74), (48, 67), (40, 60))  # S C4-G5, A G3-D5, T C3-G4, B E2-C4 (inclusive)
PERFECT = (0, 7)  # interval classes of unisons/octaves and fifths (compound intervals included)
TRIADS = (frozenset({0, 4, 7}), frozenset({0, 3, 7}))  # major, minor; as pitch classes above the root


def to_voices(score: Score, n_voices: int = 4) -> list[Track]:
    """The ``n_voices`` highest pitched (non-drum, non-empty) tracks, highest mean pitch first."""
    pitched = [t for t in score.tracks if not t.is_drum and t.notes]
    pitched.sort(key=lambda t: -float(np.mean([n.pitch for n in t.notes])))
    return pitched[:n_voices]


def to_grid(voices: list[Track], n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Each voice as one line on the step grid.

    Returns
    -------
    pitch : ndarray, shape=(voices, n_steps), dtype=int16
        Sounding pitch, -1 where the voice is silent.
    onset : ndarray, shape=(voices, n_steps), dtype=bool
        Where the voice starts a note.
    """
    pitch = np.full((len(voices), n_steps), -1, np.int16)
    onset = np.zeros((len(voices), n_steps), bool)
    for v, track in enumerate(voices):
        for n in sorted(track.notes, key=lambda n: (n.start, n.pitch)):  # later (then higher) wins
            pitch[v, n.start : n.end] = n.pitch
            onset[v, n.start] = True
    return pitch, onset


def is_parallel(prev: tuple[int, int], cur: tuple[int, int]) -> bool:
    """Whether two voices moving from ``prev`` = (lower, upper) to ``cur`` = (lower, upper) make
    parallel (consecutive) perfect fifths or octaves.

    True when the interval between the voices (absolute, so crossed voices count too) is a perfect
    fifth both times, or an octave/unison both times, compound intervals included (a 12th counts as a
    5th, a 15th or unison as an 8ve), and both voices move in the same direction to new pitch classes.
    Contrary or oblique motion between perfect intervals (antiparallels, a held voice) is not counted,
    nor a voice pair that only leaps by octaves; a diminished fifth to a perfect fifth is not counted.
    """
    return bool(parallel_mask(*prev, *cur))


def parallel_mask(lo0, up0, lo1, up1) -> np.ndarray:
    """is_parallel over arrays (any shapes that broadcast): the lower and upper voices' pitches
    before (``lo0``, ``up0``) and after (``lo1``, ``up1``); e.g. every candidate pitch of one voice
    against the voices already placed. Returns a bool ndarray of the broadcast shape."""
    lo0, up0, lo1, up1 = (np.asarray(x, np.int32) for x in (lo0, up0, lo1, up1))
    i0, i1 = np.abs(up0 - lo0) % 12, np.abs(up1 - lo1) % 12
    perfect = (i0 == i1) & np.isin(i0, PERFECT)
    same_way = np.sign(lo1 - lo0) * np.sign(up1 - up0) > 0
    return perfect & same_way & ((lo1 - lo0) % 12 != 0)
