"""The flat training stream of the attention LSTM: encoded pieces joined with BOS events, and windows.

Pieces are encoded by ``TokenCodec.encode``; NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from composer.representations.tokens import STREAMS, Vocab

IGNORE = -100  # target id that the loss skips (the BOS between pieces)


def to_stream(events: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Pieces joined into one stream, each preceded by a BOS event at bar position 0 with the piece's
    conditioning (mode, bars left at its start).

    ``events`` are (ids (n, 4), context (n, 3)) pairs from ``TokenCodec.encode``; returns ids (N, 4)
    and context (N, 3).
    """
    ids, ctx = [], []
    for e, c in events:
        c = np.asarray(c, np.int64).reshape(len(e), -1)
        bos = c[:1].copy() if len(c) else np.zeros((1, c.shape[1]), np.int64)
        bos[:, 0] = 0
        ids += [np.full((1, len(STREAMS)), Vocab.BOS, np.int64), e]
        ctx += [bos, c]
    return np.concatenate(ids), np.concatenate(ctx)


def to_windows(ids: np.ndarray, ctx: np.ndarray, starts: np.ndarray, length: int):
    """Training windows: inputs are events [s, s+T), targets events [s+1, s+T+1).

    Returns x (B, T, 4), xctx (B, T, 3), y (B, T, 4) with IGNORE where the target is a BOS, yctx (B, T, 3).
    """
    idx = starts[:, None] + np.arange(length)[None, :]  # (B, T)
    x, y = ids[idx], ids[idx + 1]  # (B, T, 4)
    y = np.where((y[..., :1] == Vocab.BOS), IGNORE, y)
    return x, ctx[idx], y, ctx[idx + 1]


class PieceStream:
    """The stream ``to_stream`` would build from pieces, without building it: each piece is encoded
    when a window first reaches it (``encode(k)`` gives piece k's ids and context), and the last
    CACHED pieces are kept. Windows equal to_windows' over the joined stream, row for row.

    ``lengths`` are the pieces' event counts (what ``encode`` will return), known beforehand from the
    corpus index, so the stream's length and window positions need no encoding.
    """

    CACHED = 512

    def __init__(self, encode, lengths: np.ndarray):
        self.encode = encode
        self.ends = np.cumsum(np.asarray(lengths, np.int64) + 1)  # each piece is a BOS and its events
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def block(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Piece k as it sits in the stream: its BOS event, then its events."""
        if k not in self._cache:
            if len(self._cache) >= self.CACHED:
                del self._cache[next(iter(self._cache))]  # the oldest: dicts keep insertion order
            ids, ctx = to_stream([self.encode(k)])
            want = self.ends[k] - (self.ends[k - 1] if k else 0)
            if len(ids) != want:
                raise ValueError(f"piece {k} encodes to {len(ids) - 1} events, not the {want - 1} indexed")
            self._cache[k] = ids, ctx
        return self._cache[k]

    def span(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Events [a, b) of the stream: ids (b - a, 4), context (b - a, 3)."""
        k = int(np.searchsorted(self.ends, a, side="right"))
        first = a - (self.ends[k - 1] if k else 0)
        ids, ctx = [], []
        while sum(len(x) for x in ids) < b - a + first:
            i, c = self.block(k)
            ids.append(i)
            ctx.append(c)
            k += 1
        ids, ctx = np.concatenate(ids), np.concatenate(ctx)
        return ids[first : first + b - a], ctx[first : first + b - a]

    def windows(self, starts: np.ndarray, length: int):
        """to_windows over the stream: x (B, T, 4), xctx (B, T, 3), y (B, T, 4), yctx (B, T, 3)."""
        parts = [to_windows(*self.span(s, s + length + 1), np.zeros(1, np.int64), length) for s in starts]
        return tuple(np.concatenate(p) for p in zip(*parts))


def windows(stream, starts: np.ndarray, length: int):
    """Windows of an in-memory stream (ids, context) or of a PieceStream, alike."""
    if isinstance(stream, PieceStream):
        return stream.windows(starts, length)
    return to_windows(*stream, starts, length)


def stream_length(stream) -> int:
    return len(stream) if isinstance(stream, PieceStream) else len(stream[0])


def piece_stream(corpus, indices: list[int], shift: int, codec) -> PieceStream:
    """The training stream of ShardedCorpus pieces ``indices`` transposed by ``shift``, encoded by
    ``codec`` as they are reached. Event counts come from the index; a piece that the transposition
    plus the codec's key move (at most 6 semitones) could push past MIDI's range is encoded now,
    since notes that leave the range are dropped and change its count."""
    from composer.music import transpose
    from composer.representations.tokens import MAX_SHIFT

    meta = [corpus.meta[i] for i in indices]
    lengths = np.array([p["events"] for p in meta], np.int64)
    low, high = (np.array([p["pitch"][j] for p in meta], np.int64) for j in (0, 1))
    unsure = (low + shift - 6 < 0) | (high + shift + 6 > 127) | (codec.max_shift != MAX_SHIFT)

    def encode(k: int):
        score = corpus.score(indices[k])
        return codec.encode(transpose(score, shift) if shift else score)  # transpose(s, 0) equals s

    for k in np.flatnonzero(unsure):
        lengths[k] = len(encode(int(k))[0])
    return PieceStream(encode, lengths)


class EncodedPieces(Sequence):
    """``[encode(k) for k in range(n)]``, each encoded when first read and then kept: validation
    pieces that cost nothing before the first epoch ends."""

    def __init__(self, encode, n: int):
        self.encode, self._done = encode, [None] * n

    def __len__(self) -> int:
        return len(self._done)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        if self._done[k] is None:
            self._done[k] = self.encode(k)
        return self._done[k]
