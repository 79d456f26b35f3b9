"""MuseGAN training data: phrases cut by the RollCodec, and seed-derived batches that oversample
each piece's last phrase (so the last-phrase condition sees enough endings).

Tracks of a MIDI folder map to model tracks by voice order (``in_voice_order``: highest mean pitch
first), like Soprano, Alto, Tenor, Bass; only pieces in the codec's meter are used.
"""

from __future__ import annotations

import numpy as np

from composer.errors import CorpusError
from composer.music import Score
from composer.representations.pianoroll import RollCodec

LAST_SHARE = 0.25  # share of each batch drawn from the pieces' last phrases

__all__ = ["LAST_SHARE", "batch_indices", "to_phrases"]


def to_phrases(codec: RollCodec, pieces: list[Score], n_bars: int) -> tuple[np.ndarray, np.ndarray]:
    """``codec.to_phrases`` with a CorpusError when the corpus has no phrase the codec can use.

    Returns
    -------
    rolls : ndarray, shape=(phrases, n_bars, steps, pitches, tracks, channels), dtype=bool
    last : ndarray, shape=(phrases,), dtype=bool
    """
    try:
        return codec.to_phrases(pieces, n_bars)
    except ValueError as e:
        raise CorpusError(f"{e} in this corpus") from None


def batch_indices(last: np.ndarray, batch_size: int, seed: int, step: int, k: int) -> np.ndarray:
    """Indices of the k-th batch at ``step``, derived from (seed, step, k) only, so resume is exact:
    ``LAST_SHARE`` of the batch from the last phrases (when there are any), the rest from all."""
    rng = np.random.default_rng([seed, step, k])
    ends = np.nonzero(last)[0]
    n_last = round(batch_size * LAST_SHARE) if len(ends) else 0
    return np.concatenate(
        [
            ends[rng.integers(0, len(ends), n_last)] if n_last else np.zeros(0, int),
            rng.integers(0, len(last), batch_size - n_last),
        ]
    )
