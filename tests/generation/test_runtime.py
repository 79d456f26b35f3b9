"""The NumPy runtimes against torch on the shipped checkpoints: same tensor names and shapes, and the
same next-event distributions on real chorale prefixes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from composer.generation.runtime import shapes
from composer.models.attention_lstm import AttentionLSTM, LSTMConfig
from composer.representations.tokens import STREAMS
from composer.training.data import to_stream, to_windows

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
LSTMS = [n for n in ("lstm-bach", "lstm-bach-noattn") if (CHECKPOINTS / n / "meta.json").exists()]
EVENTS = 40  # events per prefix: two bars and more of four voices


def _softmax(logits: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


@pytest.mark.parametrize(
    "config",
    [
        LSTMConfig({s: 7 for s in STREAMS}, embed=4, hidden=8, head_hidden=6, layers=3, attention=False),
        LSTMConfig({s: 5 + i for i, s in enumerate(STREAMS)}, n_modes=2, n_bars_left=9, embed=4, hidden=8),
    ],
)
def test_shapes_are_the_torch_state_dict(config):
    model = AttentionLSTM(config)
    assert shapes(config) == {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_the_harmonizer_shapes_are_the_torch_state_dict():
    from composer.generation import harmonizer_runtime
    from composer.models.harmonizer import Harmonizer, HarmonizerConfig

    config = HarmonizerConfig(n_tokens=7, n_sounding=6, n_positions=5, embed=4, encoder=3, hidden=8, head=9)
    expected = {k: tuple(v.shape) for k, v in Harmonizer(config).state_dict().items()}
    assert harmonizer_runtime.shapes(config) == expected


@pytest.mark.parametrize("name", LSTMS)
def test_a_shipped_lstm_gives_the_same_next_event_distributions_in_numpy_and_torch(name, bach):
    """Load the checkpoint both ways composer does; on three validation chorales, every head's
    distribution over the next event, given the true events before it, agrees to 1e-5."""
    from composer.generation.lstm import load_model
    from composer.training.lstm import load_lstm

    folder = CHECKPOINTS / name
    meta, model, _ = load_lstm(folder)
    numpy_model = load_model(folder)
    assert numpy_model.runtime.config == model.config  # one typed config, read once by each loader
    codec = numpy_model.codec
    for piece in bach.split("validation")[:3]:
        ids, ctx = to_stream([codec.encode(piece)])
        x, xctx, y, yctx = (torch.from_numpy(a) for a in to_windows(ids, ctx, np.array([0]), EVENTS))
        with torch.no_grad():
            logits, _ = model.eval()(x, xctx[..., 0], y, yctx[..., 0], model.config.window, xctx[..., 1:])
        rt = numpy_model.runtime
        rt.reset()
        for t in range(EVENTS):
            z, _ = rt.step(x[0, t].numpy(), xctx[0, t].numpy())
            known = []
            for s in model.config.order:
                want = _softmax(logits[s][0, t].double().numpy())
                np.testing.assert_allclose(_softmax(rt.logits(s, z, known)), want, rtol=0, atol=1e-5)
                known.append(rt.embedding(s, int(y[0, t, STREAMS.index(s)])))
                if s == "shift":
                    known.append(rt.embedding("pos", int(yctx[0, t, 0])))


def test_the_shipped_harmonizer_gives_the_same_distributions_in_numpy_and_torch(bach):
    from composer.checkpoint import load_checkpoint
    from composer.generation.harmonize import load_harmonizer
    from composer.models.harmonizer import Harmonizer, HarmonizerConfig
    from composer.training.harmonizer import usable

    folder = CHECKPOINTS / "harmonizer-bach"
    if not (folder / "meta.json").exists():
        pytest.skip("no shipped harmonizer")
    numpy_model = load_harmonizer(folder)
    _, weights, _ = load_checkpoint(folder, kind="harmonizer", like=Harmonizer, config=HarmonizerConfig)
    model = Harmonizer(numpy_model.runtime.config).eval()
    model.load_state_dict(weights)
    rt = numpy_model.runtime
    for piece in usable(bach.split("validation"))[:2]:
        e = numpy_model.grid.encode(piece)
        n = min(len(e["targets"]), 48)
        batch = [torch.from_numpy(e[k][None, :n]) for k in ("fixed", "context", "state")]
        with torch.no_grad():
            want = model(*batch)[0].double().numpy()  # (T, 3, V)
        rt.encode(e["fixed"][:n], e["context"][:n])
        before = []
        for t in range(n):
            rt.step(t, before)
            placed = [tuple(e["state"][t, k]) for k in range(3)]
            for k in range(3):
                got = _softmax(rt.logits(k, t, placed[:k]))
                np.testing.assert_allclose(got, _softmax(want[t, k]), rtol=0, atol=1e-5)
            before = placed
