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

__all__ = ["LAST_SHARE", "PhraseStream", "batch_indices", "to_phrases"]


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
            for b, is_last in _starts(self._sounding(k), n_bars):
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

    def _sounding(self, k: int) -> np.ndarray | None:
        """Which bars of piece k sound, shape=(bars,), bool; None when the codec cannot use it. Read
        from the note rows for a sharded piece that the tonic move cannot push out of MIDI's range
        (no roll made), else from its roll."""
        corpus = getattr(self.pieces, "corpus", None)  # a PieceList of a ShardedCorpus
        if corpus is not None:
            i = self.pieces.indices[k]
            low, high = corpus.meta[i]["pitch"]
            if self.codec.tonic is None or (low >= 6 and high <= 121):
                return sounding_bars(self.codec, corpus.rows(i), corpus.meta[i])
        roll = self._roll(k)
        return None if roll is None else roll[..., 0].any(axis=(1, 2, 3))

    def __getitem__(self, idx):
        import torch

        rows = [self._roll(int(k))[b : b + self.n_bars] for k, b in self.where[np.asarray(idx)]]
        return torch.from_numpy(np.stack(rows))


def _starts(sounding: np.ndarray | None, n: int) -> list[tuple[int, bool]]:
    """First bars of a piece's n-bar phrases and whether each is its last, as RollCodec.to_phrases."""
    if sounding is None:
        return []
    end = int(np.nonzero(sounding)[0].max()) + 1 if sounding.any() else 0
    return [(b, b + n == end) for b in range(end - n + 1) if sounding[b : b + n].all()]


def sounding_bars(codec: RollCodec, rows: np.ndarray, meta: dict) -> np.ndarray | None:
    """``codec.encode(codec.to_voices(score))[..., 0].any(axis=(1, 2, 3))`` of a sharded piece, from
    its note rows (track, start, duration, pitch, velocity) and record entry, without making a Score
    or a roll; None where to_voices gives None. The tonic move is ignored: the caller makes sure it
    drops no note."""
    resolution, _, meter, _, _, length = meta["score"]
    if tuple(meter) != codec.time_signature or resolution != codec.resolution:
        return None
    drums = [t[2] for t in meta["tracks"]]
    tracks = rows[:, 0].astype(np.int64)
    counts = np.bincount(tracks, minlength=len(drums))
    sums = np.bincount(tracks, weights=rows[:, 3], minlength=len(drums))  # exact: integer sums
    pitched = [t for t in range(len(drums)) if not drums[t] and counts[t]]
    if len(pitched) < codec.n_tracks:
        return None
    pitched.sort(key=lambda t: -float(sums[t] / counts[t]))  # in_voice_order: highest mean first
    keep = np.isin(tracks, pitched[: codec.n_tracks])
    start = rows[keep, 1].astype(np.int64)
    end = start + rows[keep, 2]
    spb = codec.steps_per_bar
    bars = max(-(-max(length, int(end.max())) // spb), 1)
    on = end > start
    # +1 at each note's first bar, -1 after its last: a bar sounds where the running sum is positive
    edges = np.bincount(start[on] // spb, minlength=bars + 1) - np.bincount(
        (end[on] - 1) // spb + 1, minlength=bars + 1
    )
    return np.cumsum(edges[:bars]) > 0
