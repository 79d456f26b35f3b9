"""The count-based baselines: unigram and n-gram probabilities."""

from __future__ import annotations

import math

import numpy as np

from composer.evaluate.baselines import NGram, Unigram, fit_baselines


def test_ngram_probabilities_sum_to_one():
    rng = np.random.default_rng(0)
    sizes = {"shift": 4, "pitch": 5, "duration": 4, "track": 3}
    seqs = [np.stack([rng.integers(2, sizes[s], 40) for s in sizes], 1) for _ in range(3)]
    uni = Unigram(seqs, sizes)
    gram = NGram(seqs, 3, uni)
    events = [(a, b, c, d) for a in range(4) for b in range(5) for c in range(4) for d in range(3)]
    ctx = tuple(tuple(r) for r in seqs[0][:2].tolist())
    assert abs(sum(gram.prob(ctx, e) for e in events) - 1) < 1e-9
    assert abs(sum(math.exp(-uni.nll(e)) for e in events) - 1) < 1e-9
    report = fit_baselines(seqs, seqs[:1], seqs[1:], sizes)
    assert report["ngram"]["nll"] < report["unigram"]["nll"]
