"""Count-based baselines for the LSTM's NLL: a unigram per stream, and n-grams over whole events.

Both give a probability to every event, seen or not, so their NLL is finite and comparable with the
LSTM's (nats per event, the sum over the four streams). The n-gram interpolates absolute discounting
(D = 0.75) from order n down to a base distribution, the product of the per-stream add-one unigrams.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

from composer.representations.tokens import STREAMS

DISCOUNT = 0.75


class Unigram:
    """Per-stream add-one unigrams; an event's probability is the product over streams."""

    def __init__(self, sequences: list[np.ndarray], sizes: dict[str, int]):
        self.logp = []
        for i, s in enumerate(STREAMS):
            counts = np.bincount(np.concatenate([q[:, i] for q in sequences]), minlength=sizes[s]) + 1.0
            self.logp.append(np.log(counts / counts.sum()))

    def nll(self, event: tuple[int, ...]) -> float:
        return -sum(lp[e] for lp, e in zip(self.logp, event))


class NGram:
    """Event n-gram of ``order`` (context of order-1 events, BOS-padded at a piece start)."""

    def __init__(self, sequences: list[np.ndarray], order: int, base: Unigram):
        self.order, self.base = order, base
        self.counts: list[dict[tuple, Counter]] = [defaultdict(Counter) for _ in range(order)]
        for seq in sequences:
            events = [None] * (order - 1) + [tuple(r) for r in seq.tolist()]
            for t in range(order - 1, len(events)):
                for k in range(order):  # context length k
                    self.counts[k][tuple(events[t - k : t])][events[t]] += 1
        self.totals = [{c: sum(v.values()) for c, v in table.items()} for table in self.counts]

    def prob(self, context: tuple, event: tuple) -> float:
        p = math.exp(-self.base.nll(event))
        for k in range(self.order):  # lowest order first, each interpolating with the one below
            ctx = context[len(context) - k :] if k else ()
            table = self.counts[k].get(ctx)
            if not table:
                continue
            total = self.totals[k][ctx]
            p = max(table.get(event, 0) - DISCOUNT, 0) / total + DISCOUNT * len(table) / total * p
        return p

    def nll(self, sequences: list[np.ndarray]) -> float:
        """Mean NLL per event (nats) over ``sequences``."""
        total, n = 0.0, 0
        for seq in sequences:
            events = [None] * (self.order - 1) + [tuple(r) for r in seq.tolist()]
            for t in range(self.order - 1, len(events)):
                total -= math.log(self.prob(tuple(events[t - self.order + 1 : t]), events[t]))
                n += 1
        return total / max(n, 1)


def unigram_nll(model: Unigram, sequences: list[np.ndarray]) -> float:
    n = sum(len(q) for q in sequences)
    return sum(model.nll(tuple(r)) for q in sequences for r in q.tolist()) / max(n, 1)


def fit_baselines(
    train: list[np.ndarray], validation: list[np.ndarray], test: list[np.ndarray], sizes, orders=(3, 4, 5)
) -> dict:
    """Unigram and the n-gram order that is best on ``validation``, both scored on ``test`` (ids (n, 4))."""
    uni = Unigram(train, sizes)
    grams = {k: NGram(train, k, uni) for k in orders}
    val = {k: g.nll(validation) for k, g in grams.items()}
    best = min(val, key=val.get)
    by_order = {str(k): g.nll(test) for k, g in grams.items()}
    return {
        "unigram": {"nll": unigram_nll(uni, test)},
        "ngram": {"nll": by_order[str(best)], "order": best, "by_order": by_order, "chosen_on": "validation"},
    }
