"""The attention LSTM's forward pass in NumPy, one event at a time, for torch-free generation.

Importing torch takes about a second, half the budget of a cold `composer generate`; this mirror of
AttentionLSTM (same weights, same maths) runs without it. It reads the typed LSTMConfig and every
weight by its torch state_dict name; ``shapes`` lists those names and shapes for a config, and the
tests check it against torch's own state_dict and the next-event distributions of the shipped
checkpoints against torch's. Attention covers the last ``window`` events, as in training, so memory
stays bounded however long it runs.
"""

from __future__ import annotations

import numpy as np

from composer.models.configs import LSTMConfig
from composer.representations.tokens import STREAMS


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _gelu(x: np.ndarray) -> np.ndarray:
    """The tanh approximation, as nn.GELU(approximate="tanh")."""
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def shapes(config: LSTMConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor of ``AttentionLSTM(config).state_dict()``, as torch names them
    (``lstm.weight_ih_l{layer}``; ``heads.{stream}.0`` and ``.2``, the two Linear layers of a head)."""
    c, E, H = config, config.embed, config.hidden
    out = {f"embed.{s}.weight": (c.vocab_sizes.get(s, 0), E) for s in STREAMS}
    out["embed_pos.weight"] = (c.n_positions, E)
    if c.n_modes:
        out["embed_mode.weight"] = (c.n_modes, E)
    if c.n_bars_left:
        out["embed_left.weight"] = (c.n_bars_left, E)
    n_in = (5 + bool(c.n_modes) + bool(c.n_bars_left)) * E
    for i in range(c.layers):
        out |= {f"lstm.weight_ih_l{i}": (4 * H, n_in if i == 0 else H), f"lstm.weight_hh_l{i}": (4 * H, H)}
        out |= {f"lstm.bias_ih_l{i}": (4 * H,), f"lstm.bias_hh_l{i}": (4 * H,)}
    out |= {"score.weight": (1, H), "score.bias": (1,)}
    width = H * (2 if c.attention else 1)
    for i, s in enumerate(c.order):
        known = i + (1 if i > 0 else 0)  # earlier streams of the target, + its bar position after shift
        out[f"heads.{s}.0.weight"] = (c.head_hidden, width + known * E)
        out[f"heads.{s}.0.bias"] = (c.head_hidden,)
        out[f"heads.{s}.2.weight"] = (c.vocab_sizes.get(s, 0), c.head_hidden)
        out[f"heads.{s}.2.bias"] = (c.vocab_sizes.get(s, 0),)
    return out


class Runtime:
    """Stateful single-event inference: ``step`` feeds one event, ``logits`` reads one head.

    ``weights`` must hold exactly the tensors ``shapes(config)`` names, of those shapes (a ValueError
    names the first that differs; composer.checkpoint checks this before reading a checkpoint's data).
    """

    def __init__(self, config: LSTMConfig, weights: dict[str, np.ndarray]):
        expected = shapes(config)
        for name in sorted(expected.keys() | weights.keys()):
            got = tuple(weights[name].shape) if name in weights else None
            if got != expected.get(name):
                raise ValueError(f"tensor {name}: {got or 'missing'}, config gives {expected.get(name)}")
        self.config = config
        w = {k: v.astype(np.float64) for k, v in weights.items()}
        self.embed = {s: w[f"embed.{s}.weight"] for s in STREAMS}
        self.embed_pos = w["embed_pos.weight"]
        # conditioning inputs of a conditioned config (mode, bars left), in the model's input order
        self.embed_cond = [
            (w[k], col) for k, col in (("embed_mode.weight", 1), ("embed_left.weight", 2)) if k in w
        ]
        self.layers = [
            (
                w[f"lstm.weight_ih_l{i}"],
                w[f"lstm.weight_hh_l{i}"],
                w[f"lstm.bias_ih_l{i}"] + w[f"lstm.bias_hh_l{i}"],
            )
            for i in range(config.layers)
        ]
        self.score_w, self.score_b = w["score.weight"][0], float(w["score.bias"][0])
        self.heads = {
            s: (
                w[f"heads.{s}.0.weight"],
                w[f"heads.{s}.0.bias"],
                w[f"heads.{s}.2.weight"],
                w[f"heads.{s}.2.bias"],
            )
            for s in config.order
        }
        self.reset()

    def reset(self) -> None:
        H = self.config.hidden
        self.state = [(np.zeros(H), np.zeros(H)) for _ in self.layers]
        self.keys = np.zeros((0, H))  # (n <= window, H) recent top-layer hidden states
        self.scores = np.zeros(0)  # (n,) their attention scores

    def step(self, ids: np.ndarray, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feed one input event: ids shape=(4,), ctx shape=(3,) (bar position, mode, bars left; the last
        two are read only by a conditioned model). Returns z (D,) and attention (n,)."""
        emb = [self.embed[s][ids[i]] for i, s in enumerate(STREAMS)] + [self.embed_pos[ctx[0]]]
        x = np.concatenate(emb + [table[ctx[col]] for table, col in self.embed_cond])
        for li, (w_ih, w_hh, b) in enumerate(self.layers):
            h, c = self.state[li]
            i, f, g, o = np.split(w_ih @ x + w_hh @ h + b, 4)  # torch's gate order
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            self.state[li] = (h, c)
            x = h
        if not self.config.attention:
            return h, np.ones(1)
        window = self.config.window
        self.keys = np.concatenate([self.keys, h[None]])[-window:]  # (n, H)
        self.scores = np.append(self.scores, np.tanh(self.score_w @ h + self.score_b))[-window:]
        att = np.exp(self.scores - self.scores.max())
        att /= att.sum()  # (n,)
        return np.concatenate([att @ self.keys, h]), att

    def logits(self, stream: str, z: np.ndarray, known: list[np.ndarray]) -> np.ndarray:
        """One head's logits, shape=(V,), from z and the embeddings of the target streams known so far."""
        w1, b1, w2, b2 = self.heads[stream]
        return w2 @ _gelu(w1 @ np.concatenate([z, *known]) + b1) + b2

    def embedding(self, stream: str, idx: int) -> np.ndarray:
        return self.embed_pos[idx] if stream == "pos" else self.embed[stream][idx]
