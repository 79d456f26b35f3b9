"""Event ids for the attention LSTM: scores -> (ids, bar positions), and the flat training stream.

NumPy only (no torch), so that generation can encode a prime without importing torch.
"""

from __future__ import annotations

import numpy as np

from composer.music import Score
from composer.representations.tokens import STREAMS, Vocab, to_tokens

IGNORE = -100  # target id that the loss skips (the BOS between pieces)


def to_events(score: Score, vocab: Vocab, steps_per_bar: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ids and bar positions of a score's events.

    Returns
    -------
    ids : ndarray, shape=(n, 4), int64
    positions : ndarray, shape=(n,), int64
        Onset of each event modulo the bar length.
    """
    tokens = to_tokens(score)
    spb = steps_per_bar or score.steps_per_bar
    return vocab.encode(tokens), np.cumsum(tokens[:, 0]) % spb


def to_stream(events: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Pieces joined into one stream, each preceded by a BOS event at bar position 0.

    Returns ids (N, 4) and positions (N,).
    """
    ids, pos = [], []
    for e, p in events:
        ids += [np.full((1, len(STREAMS)), Vocab.BOS, np.int64), e]
        pos += [np.zeros(1, np.int64), p]
    return np.concatenate(ids), np.concatenate(pos)


def to_windows(ids: np.ndarray, pos: np.ndarray, starts: np.ndarray, length: int):
    """Training windows: inputs are events [s, s+T), targets events [s+1, s+T+1).

    Returns x (B, T, 4), xpos (B, T), y (B, T, 4) with IGNORE where the target is a BOS, ypos (B, T).
    """
    idx = starts[:, None] + np.arange(length)[None, :]  # (B, T)
    x, y = ids[idx], ids[idx + 1]  # (B, T, 4)
    y = np.where((y[..., :1] == Vocab.BOS), IGNORE, y)
    return x, pos[idx], y, pos[idx + 1]
