"""The NumPy runtime of the attention LSTM against torch, on the shipped checkpoint."""

from __future__ import annotations

import numpy as np

from tests.helpers import SHIPPED


def test_shipped_checkpoint_numpy_runtime_matches_torch():
    """The next-event distributions of the shipped checkpoint, torch against the NumPy mirror."""
    import torch

    from composer.corpora import load_corpus
    from composer.generation.lstm import load_model
    from composer.representations.tokens import STREAMS
    from composer.training.data import to_stream
    from composer.training.lstm import load_lstm

    meta, model, _ = load_lstm(SHIPPED)
    model.eval()
    numpy_model = load_model(SHIPPED)
    piece = load_corpus("bach", seed=0).split("test")[0]
    ids, ctx = to_stream([numpy_model.codec.encode(piece)])
    ids, ctx = ids[:41], ctx[:41]
    x, xctx = torch.from_numpy(ids[None, :-1]), torch.from_numpy(ctx[None, :-1])
    y, yctx = torch.from_numpy(ids[None, 1:]), torch.from_numpy(ctx[None, 1:])
    with torch.no_grad():
        logits, _ = model(x, xctx[..., 0], y, yctx[..., 0], window=model.config.window, cond=xctx[..., 1:])
    rt = numpy_model.runtime
    rt.reset()
    for t in range(40):
        z, _ = rt.step(ids[t], ctx[t])
        known = []
        for s in model.config.order:
            expected = torch.log_softmax(logits[s][0, t].double(), -1).numpy()
            got = rt.logits(s, z, known)
            np.testing.assert_allclose(got - np.logaddexp.reduce(got), expected, atol=1e-4)
            known.append(rt.embedding(s, int(ids[t + 1, STREAMS.index(s)])))
            if s == "shift":
                known.append(rt.embedding("pos", int(ctx[t + 1, 0])))
