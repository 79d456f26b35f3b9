"""The harmonizer's forward pass in NumPy, for torch-free harmonization.

Importing torch alone costs one to two seconds, the whole budget of a cold `composer harmonize`; this
mirror of models.harmonizer.Harmonizer (same weights, same maths, checked against it in the tests)
runs without it. It reads the typed HarmonizerConfig and every weight by its torch state_dict name
(``shapes``). ``encode`` reads the whole fixed voice at once; ``step`` and ``logits`` then write
the free voices one step at a time.
"""

from __future__ import annotations

import numpy as np

from composer.models.configs import HarmonizerConfig


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _gelu(x: np.ndarray) -> np.ndarray:
    """The tanh approximation, as nn.GELU(approximate="tanh")."""
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def _lstm(xs: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A whole sequence through one LSTM direction: xs (T, D) -> hidden states (T, H)."""
    H = w_hh.shape[1]
    gates_in = xs @ w_ih.T + b  # (T, 4H): the input part of every step at once
    h, c, out = np.zeros(H), np.zeros(H), np.empty((len(xs), H))
    for t in range(len(xs)):
        i, f, g, o = np.split(gates_in[t] + w_hh @ h, 4)  # torch's gate order
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        out[t] = h
    return out


def shapes(config: HarmonizerConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor of ``Harmonizer(config).state_dict()``, as torch names them
    (``heads.{k}.0`` and ``.2``: the two Linear layers of voice k's head)."""
    c, E, Hb, H = config, config.embed, config.encoder, config.hidden
    out = {
        "embed_fixed.weight": (c.n_sounding, E),
        "embed_strike.weight": (2, E),
        "embed_pos.weight": (c.n_positions, E),
        "embed_mode.weight": (c.n_modes, E),
        "embed_left.weight": (c.n_left, E),
        "embed_voice.weight": (c.n_sounding, E),
        "embed_onset.weight": (2, E),
    }
    for lstm, n_in, n_h, suffixes in (
        ("encoder", E, Hb, ("", "_reverse")),
        ("decoder", 2 * Hb + 3 * E, H, ("",)),
    ):
        for sx in suffixes:
            out |= {f"{lstm}.weight_ih_l0{sx}": (4 * n_h, n_in), f"{lstm}.weight_hh_l0{sx}": (4 * n_h, n_h)}
            out |= {f"{lstm}.bias_ih_l0{sx}": (4 * n_h,), f"{lstm}.bias_hh_l0{sx}": (4 * n_h,)}
    for k in range(3):
        out |= {f"heads.{k}.0.weight": (c.head, H + 2 * Hb + k * E), f"heads.{k}.0.bias": (c.head,)}
        out |= {f"heads.{k}.2.weight": (c.n_tokens, c.head), f"heads.{k}.2.bias": (c.n_tokens,)}
    return out


class HarmonizerRuntime:
    """Stateful inference: ``encode`` once, then ``step`` per grid step and ``logits`` per voice.

    The matrices that multiply an embedding are folded into lookup tables once (an embedding row
    times a weight is a row of their product), and the parts that only read the encoding are computed
    for every step at once in ``encode``: what is left per step is one recurrent matrix product and
    the heads' first layers on the decoder state. This keeps a cold run far inside a second.
    """

    def __init__(self, config: HarmonizerConfig, weights: dict[str, np.ndarray]):
        self.config = config
        w = {k: v.astype(np.float64) for k, v in weights.items()}
        self.w = w
        E, Hb, H = w["embed_voice.weight"].shape[1], config.encoder, config.hidden
        self.enc_fwd = [w["encoder.weight_ih_l0"], w["encoder.weight_hh_l0"]]
        self.enc_fwd.append(w["encoder.bias_ih_l0"] + w["encoder.bias_hh_l0"])
        self.enc_bwd = [w["encoder.weight_ih_l0_reverse"], w["encoder.weight_hh_l0_reverse"]]
        self.enc_bwd.append(w["encoder.bias_ih_l0_reverse"] + w["encoder.bias_hh_l0_reverse"])
        w_ih = w["decoder.weight_ih_l0"]  # (4H, 2Hb + 3E)
        self.dec_enc, self.dec_hh = w_ih[:, : 2 * Hb], w["decoder.weight_hh_l0"]
        self.dec_b = w["decoder.bias_ih_l0"] + w["decoder.bias_hh_l0"]
        voice, onset = w["embed_voice.weight"], w["embed_onset.weight"]  # (n_sounding, E), (2, E)
        cols = [slice(2 * Hb + j * E, 2 * Hb + (j + 1) * E) for j in range(3)]
        self.dec_voice = [(voice @ w_ih[:, c].T, onset @ w_ih[:, c].T) for c in cols]  # (n, 4H), (2, 4H)
        self.heads = []
        for k in range(3):
            w1, b1 = w[f"heads.{k}.0.weight"], w[f"heads.{k}.0.bias"]  # (F, H + 2Hb + kE)
            placed = [
                (
                    voice @ w1[:, H + 2 * Hb + j * E : H + 2 * Hb + (j + 1) * E].T,
                    onset @ w1[:, H + 2 * Hb + j * E : H + 2 * Hb + (j + 1) * E].T,
                )
                for j in range(k)
            ]
            self.heads.append(
                (
                    w1[:, :H],
                    w1[:, H : H + 2 * Hb],
                    b1,
                    placed,
                    w[f"heads.{k}.2.weight"],
                    w[f"heads.{k}.2.bias"],
                )
            )
        self.encode(np.zeros((0, 2), np.int64), np.zeros((0, 3), np.int64))

    def reset(self) -> None:
        H = self.config.hidden
        self.h, self.c = np.zeros(H), np.zeros(H)

    def encode(self, fixed: np.ndarray, context: np.ndarray) -> np.ndarray:
        """Read the fixed voice both ways: fixed (T, 2), context (T, 3) -> encoding (T, 2 * encoder)."""
        w = self.w
        x = (
            w["embed_fixed.weight"][fixed[:, 0]]
            + w["embed_strike.weight"][fixed[:, 1]]
            + w["embed_pos.weight"][context[:, 0]]
            + w["embed_mode.weight"][context[:, 1]]
            + w["embed_left.weight"][context[:, 2]]
        )  # (T, E)
        fwd = _lstm(x, *self.enc_fwd)
        bwd = _lstm(x[::-1], *self.enc_bwd)[::-1]
        self.enc = np.concatenate([fwd, bwd], axis=1)  # (T, 2Hb)
        self.gates_enc = self.enc @ self.dec_enc.T + self.dec_b  # (T, 4H)
        self.heads_enc = [self.enc @ w_enc.T + b1 for _, w_enc, b1, *_ in self.heads]  # (T, F) each
        self.reset()
        return self.enc

    def step(self, t: int, before: list[tuple[int, int]]) -> None:
        """Advance the decoder to step t, given the free voices at t - 1 as (sounding id, onset)
        pairs (an empty list at t = 0, where the model reads zeros)."""
        gates = self.gates_enc[t] + self.dec_hh @ self.h
        for (voice, onset), (s, o) in zip(self.dec_voice, before):
            gates = gates + voice[s] + onset[o]
        H = len(self.h)
        i, f, g, o = gates[:H], gates[H : 2 * H], gates[2 * H : 3 * H], gates[3 * H :]  # torch's gate order
        self.c = _sigmoid(f) * self.c + _sigmoid(i) * np.tanh(g)
        self.h = _sigmoid(o) * np.tanh(self.c)

    def logits(self, k: int, t: int, placed: list[tuple[int, int]]) -> np.ndarray:
        """Head k's logits (n_tokens,) at step t, given the k voices placed there (sounding id, onset)."""
        w_h, _, _, tables, w2, b2 = self.heads[k]
        a = self.heads_enc[k][t] + w_h @ self.h
        for (voice, onset), (s, o) in zip(tables, placed):
            a = a + voice[s] + onset[o]
        return w2 @ _gelu(a) + b2
