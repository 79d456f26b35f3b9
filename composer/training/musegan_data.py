"""MuseGAN training data: phrases cut by the RollCodec, and seed-derived batches that oversample
each piece's last phrase (so the last-phrase condition sees enough endings).

Tracks of a MIDI folder map to model tracks by voice order (``to_voice_order``: highest mean pitch
first), like Soprano, Alto, Tenor, Bass; only pieces in the codec's meter are used.
"""

from __future__ import annotations

import numpy as np

from composer.errors import CorpusError
from composer.music import Score
from composer.representations.pianoroll import RollCodec, to_voice_order

METER = (4, 4)  # the meter --nearest compares in (composer.compare)
LAST_SHARE = 0.25  # share of each batch drawn from the pieces' last phrases

__all__ = ["LAST_SHARE", "METER", "PhraseStream", "batch_indices", "to_phrases", "to_voice_order"]


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


class PhraseStream:
    """The phrases ``codec.to_phrases`` would stack, without stacking them: one pass over the pieces
    finds where every phrase is (piece, first bar) and whether it is a last phrase; a batch then
    encodes the rolls of its pieces again (the last CACHED kept). Memory holds the phrase index, not
    the rolls: a 100,000-piece corpus would need about 17 GB of them.

    ``phrases[idx]`` for an index tensor gives the same bool tensor (B, bars, steps, pitches, tracks,
    channels) as ``torch.from_numpy(rolls)[idx]``.
    """

    CACHED = 256

    def __init__(self, codec: RollCodec, pieces, n_bars: int):
        self.codec, self.pieces, self.n_bars = codec, pieces, n_bars
        self._cache: dict[int, np.ndarray] = {}
        where, last = [], []
        for k in range(len(pieces)):
            for b, is_last in self._starts(self._roll(k)):
                where.append((k, b))
                last.append(is_last)
        if not where:
            to_phrases(codec, [], n_bars)  # its CorpusError, worded as for the in-memory corpus
        self.where = np.array(where, np.int64).reshape(-1, 2)  # (phrases, 2): piece, first bar
        self.last = np.array(last, bool)  # (phrases,)

    def __len__(self) -> int:
        return len(self.where)

    def _roll(self, k: int) -> np.ndarray | None:
        """Piece k in voice order, encoded (bars, steps, pitches, tracks, channels); None if unusable."""
        if k not in self._cache:
            if len(self._cache) >= self.CACHED:
                del self._cache[next(iter(self._cache))]
            voiced = self.codec.to_voices(self.pieces[k])
            self._cache[k] = None if voiced is None else self.codec.encode(voiced)
        return self._cache[k]

    def _starts(self, roll: np.ndarray | None) -> list[tuple[int, bool]]:
        """First bars of the piece's phrases and whether each is its last, as RollCodec.to_phrases."""
        if roll is None:
            return []
        sounding = roll[..., 0].any(axis=(1, 2, 3))  # (bars,)
        end = int(np.nonzero(sounding)[0].max()) + 1 if sounding.any() else 0
        n = self.n_bars
        return [(b, b + n == end) for b in range(end - n + 1) if sounding[b : b + n].all()]

    def __getitem__(self, idx):
        import torch

        rows = [self._roll(int(k))[b : b + self.n_bars] for k, b in self.where[np.asarray(idx)]]
        return torch.from_numpy(np.stack(rows))
