"""The flat training stream of the attention LSTM: encoded pieces joined with BOS events, and windows.

Pieces are encoded by ``TokenCodec.encode``; NumPy only.
"""

from __future__ import annotations

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
