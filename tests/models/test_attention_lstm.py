"""AttentionLSTM: shapes, causality, one backward step, and the NumPy runtime matching it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from composer.models.attention_lstm import AttentionLSTM, LSTMConfig, nll_per_stream

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SIZES = {"shift": 12, "pitch": 49, "duration": 22, "track": 6}


def make(attention=True, **kw) -> AttentionLSTM:
    torch.manual_seed(0)
    cfg = LSTMConfig(
        vocab_sizes=SIZES,
        n_positions=16,
        embed=8,
        hidden=16,
        head_hidden=12,
        attention=attention,
        window=8,
        dropout=0.0,
        **kw,
    )
    return AttentionLSTM(cfg).eval()


def batch(B=2, T=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.stack([torch.randint(2, SIZES[s], (B, T), generator=g) for s in SIZES], -1)  # (B, T, 4)
    pos = torch.randint(0, 16, (B, T), generator=g)
    return x, pos


@pytest.mark.parametrize("attention", [True, False])
def test_shapes(attention):
    m = make(attention)
    x, pos = batch()
    logits, att = m(x, pos, x, pos)
    assert {s: tuple(v.shape) for s, v in logits.items()} == {s: (2, 10, n) for s, n in SIZES.items()}
    if attention:
        assert att.shape == (2, 10, 10)
        assert torch.allclose(att.sum(-1), torch.ones(2, 10))
        assert (att.triu(1) == 0).all()  # nothing attends to the future
    else:
        assert att is None


@pytest.mark.parametrize("attention", [True, False])
def test_book_formulation_of_the_benchmark(attention):
    """benchmarks/bench_lstm.py's forward_book (the book's one target per window) on the same model."""
    spec = importlib.util.spec_from_file_location("bench_lstm", BENCHMARKS / "bench_lstm.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    x, pos = batch()
    book, weights = bench.forward_book(make(attention), x, pos, x[:, -1], pos[:, -1])
    assert {s: tuple(v.shape) for s, v in book.items()} == {s: (2, n) for s, n in SIZES.items()}
    assert weights.shape == (2, 10)
    assert torch.allclose(weights.sum(-1), torch.ones(2))


def test_causal_future_tokens_change_nothing_before():
    m = make()
    x, pos = batch(B=1, T=12)
    y, ypos = batch(B=1, T=12, seed=1)
    logits, att = m(x, pos, y, ypos)
    x2, y2 = x.clone(), y.clone()
    x2[:, 7:] = 2
    y2[:, 7:] = 3
    logits2, att2 = m(x2, pos, y2, ypos)
    for s in SIZES:
        assert torch.equal(logits[s][:, :7], logits2[s][:, :7])
        assert not torch.equal(logits[s][:, 7:], logits2[s][:, 7:])
    assert torch.equal(att[:, :7], att2[:, :7])


def test_window_limits_attention():
    m = make()
    x, pos = batch(B=1, T=12)
    _, att = m(x, pos, x, pos, window=4)
    t = torch.arange(12)
    assert (att[0][t[None, :] <= t[:, None] - 4] == 0).all()
    assert torch.allclose(att.sum(-1), torch.ones(1, 12))


def test_one_backward_step_lowers_loss():
    m = make().train()
    x, pos = batch(B=4, T=16)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        logits, _ = m(x, pos, x, pos)
        loss = sum(nll_per_stream(logits, x).values()) / x[..., 0].numel()
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[1] < losses[0]


def test_ignored_targets_cost_nothing():
    m = make()
    x, pos = batch(B=1, T=6)
    y = x.clone()
    y[:, 3:] = -100
    logits, _ = m(x, pos, y, pos)
    full = nll_per_stream(logits, y)
    part = nll_per_stream({s: v[:, :3] for s, v in logits.items()}, y[:, :3])
    assert all(torch.allclose(full[s], part[s]) for s in SIZES)


@pytest.mark.parametrize("attention,conditioned", [(True, False), (False, False), (True, True)])
def test_numpy_runtime_matches_torch(attention, conditioned):
    from composer.generation.runtime import Runtime
    from composer.representations.tokens import STREAMS

    m = make(attention, **({"n_modes": 2, "n_bars_left": 9} if conditioned else {}))
    x, pos = batch(B=1, T=12)
    y, ypos = batch(B=1, T=12, seed=3)
    g = torch.Generator().manual_seed(5)
    cond = torch.stack(
        [torch.randint(0, 2, (1, 12), generator=g), torch.randint(0, 9, (1, 12), generator=g)], -1
    )
    with torch.no_grad():
        logits, att = m(x, pos, y, ypos, window=m.config.window, cond=cond)
    rt = Runtime(m.config, {k: v.numpy() for k, v in m.state_dict().items()})
    for t in range(12):
        ctx = np.array([int(pos[0, t]), *cond[0, t].tolist()])
        z, a = rt.step(x[0, t].numpy(), ctx)
        known = []
        for s in m.config.order:
            np.testing.assert_allclose(rt.logits(s, z, known), logits[s][0, t].numpy(), atol=1e-5)
            known.append(rt.embedding(s, int(y[0, t, STREAMS.index(s)])))
            if s == "shift":
                known.append(rt.embedding("pos", int(ypos[0, t])))
        if attention:
            np.testing.assert_allclose(a, att[0, t, max(0, t - 7) : t + 1].numpy(), atol=1e-6)
