"""The attention LSTM of the "Compose" chapter, made causal: modules and config only.

Each event t is predicted from the events before it. The input at position t is event t-1 (BOS at a
piece start): one embedding per token stream plus one for the event's position in its bar, concatenated,
then two stacked LSTM layers. Additive attention scores each hidden state with Dense(1, tanh); the
softmax runs over positions s <= t only (a mask over the (T, T) score matrix, optionally limited to the
last ``window`` positions), and the weighted sum of hidden states is the context c_t.

The four streams of the target event are predicted one after another in ``order`` (shift, track, pitch,
duration): each head reads [c_t; h_t] plus the embeddings of the target's streams already known, so the
joint probability of an event factorizes exactly and the NLL of an event is the sum over its heads.
``attention=False`` is the baseline: the heads read h_t alone.

The book's formulation (one target per window, attention over the whole window, heads on the context
only) is ``forward_book`` in benchmarks/bench_lstm.py, which measures how much compute the causal form
saves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from composer.models.configs import LSTMConfig
from composer.options import check_options, option
from composer.representations.tokens import STREAMS

__all__ = ["SIZES", "AttentionLSTM", "LSTMConfig", "TrainConfig", "nll_per_stream"]


SIZES = {
    "tiny": {"embed": 8, "hidden": 32, "head_hidden": 32},
    "small": {"embed": 16, "hidden": 128, "head_hidden": 64},
    "default": {"embed": 32, "hidden": 256, "head_hidden": 128},
    "book": {"embed": 100, "hidden": 256, "head_hidden": 128},  # the chapter's embedding 100, LSTM 256
}


@dataclass
class TrainConfig:
    """How to train: the defaults are the shipped recipe (`composer train --corpus bach --model lstm`)."""

    steps: int | None = option(4000, "Optimizer steps to train (in total, when resuming).", low=1)
    epochs: int | None = option(None, "Epochs to train instead of steps (default 30, early stopping).", low=1)
    batch_size: int = option(16, "Training examples per optimizer step.", low=1)
    lr: float = option(2e-3, "Learning rate.", low=0, high=10, low_open=True)
    # about 8 bars of chorale; also the attention span
    seq_len: int = option(128, "Events per training window.", low=2, high=4096)
    seed: int = option(0, "Seed of the split, the weights and every batch.", low=0)
    # with normalize_key: each piece at tonics C-N..C+N, the offset an input beside the mode
    transpose: int = option(3, "Augment by ±N semitones.", low=0, high=11)
    patience: int = option(6, "Epochs of no better validation.", low=1)
    size: str = option("default", "Model size preset (SIZES).", choices=SIZES)
    attention: bool = option(True, "Causal attention layer.")
    dropout: float = option(0.4, "LSTM dropout.", low=0, high=1, high_open=True)
    normalize_key: bool = option(True, "Move every piece to tonic C and condition on the mode.", cli=False)
    bars_left_cap: int = option(8, "Condition on bars until the end, capped; 0 = off.", low=0, cli=False)

    def __post_init__(self):
        check_options(self)

    def to_dict(self) -> dict:
        return asdict(self)


class AttentionLSTM(nn.Module):
    def __init__(self, config: LSTMConfig):
        super().__init__()
        self.config = c = config
        self.embed = nn.ModuleDict({s: nn.Embedding(c.vocab_sizes[s], c.embed) for s in STREAMS})
        self.embed_pos = nn.Embedding(c.n_positions, c.embed)
        self.embed_mode = nn.Embedding(c.n_modes, c.embed) if c.n_modes else None
        self.embed_left = nn.Embedding(c.n_bars_left, c.embed) if c.n_bars_left else None
        n_inputs = 5 + bool(c.n_modes) + bool(c.n_bars_left)
        self.lstm = nn.LSTM(n_inputs * c.embed, c.hidden, c.layers, batch_first=True, dropout=c.dropout)
        self.score = nn.Linear(c.hidden, 1)  # Dense(1, tanh)
        self.drop = nn.Dropout(c.dropout)
        width = c.hidden * (2 if c.attention else 1)
        self.heads = nn.ModuleDict()
        for i, s in enumerate(c.order):
            known = i + (1 if i > 0 else 0)  # earlier streams of the target, + its bar position after shift
            self.heads[s] = nn.Sequential(
                nn.Linear(width + known * c.embed, c.head_hidden),
                nn.GELU(approximate="tanh"),
                nn.Linear(c.head_hidden, c.vocab_sizes[s]),
            )

    def encode(self, x: torch.Tensor, pos: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states of the input events. x (B, T, 4) ids, pos (B, T), cond (B, T, 2) mode and
        bars-left ids (used only by a conditioned config) -> (B, T, H)."""
        emb = [self.embed[s](x[..., i]) for i, s in enumerate(STREAMS)] + [self.embed_pos(pos)]
        if self.embed_mode is not None:
            emb.append(self.embed_mode(cond[..., 0]))
        if self.embed_left is not None:
            emb.append(self.embed_left(cond[..., 1]))
        h, _ = self.lstm(torch.cat(emb, dim=-1))  # (B, T, nE) -> (B, T, H)
        return h

    def attend(self, h: torch.Tensor, window: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Causal context vectors and weights. h (B, T, H) -> c (B, T, H), att (B, T, T)."""
        T = h.shape[1]
        e = torch.tanh(self.score(h)).squeeze(-1)  # (B, T, 1) -> (B, T)
        t = torch.arange(T, device=h.device)
        allowed = t[None, :] <= t[:, None]  # (T, T): query t sees keys s <= t
        if window is not None:
            allowed &= t[None, :] > t[:, None] - window
        scores = e[:, None, :].expand(-1, T, -1)  # (B, T, T): the same key scores for every query
        att = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)  # (B, T, T)
        return att @ h, att  # (B, T, T) @ (B, T, H) -> (B, T, H)

    def features(self, x: torch.Tensor, pos: torch.Tensor, window: int | None = None, cond=None):
        """What the heads read, (B, T, H or 2H), and the attention weights (B, T, T) or None."""
        h = self.encode(x, pos, cond)
        if not self.config.attention:
            return self.drop(h), None
        c, att = self.attend(h, window)
        return self.drop(torch.cat([c, h], dim=-1)), att  # (B, T, 2H)

    def head_logits(
        self, z: torch.Tensor, target: torch.Tensor, tpos: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Logits of every stream with teacher forcing. z (..., D), target (..., 4), tpos (...)."""
        out, known = {}, []
        target = target.clamp(min=0)  # ignored targets (-100) still need a valid embedding id
        for s in self.config.order:
            out[s] = self.heads[s](torch.cat([z, *known], dim=-1))  # (..., V_s)
            known.append(self.embed[s](target[..., STREAMS.index(s)]))
            if s == "shift":
                known.append(self.embed_pos(tpos))
        return out

    def forward(self, x, pos, target, tpos, window: int | None = None, cond=None):
        """Causal formulation: every position is a target.

        Parameters
        ----------
        x : LongTensor, shape=(B, T, 4)
            Input events (event t-1 at position t).
        pos : LongTensor, shape=(B, T)
            Bar position of each input event.
        target : LongTensor, shape=(B, T, 4)
            The events to predict.
        tpos : LongTensor, shape=(B, T)
            Bar position of each target event.
        cond : LongTensor, shape=(B, T, 2), optional
            Mode and bars-left ids of each input event (needed when the config is conditioned).

        Returns
        -------
        dict of stream -> logits (B, T, V_s), and attention (B, T, T) or None
        """
        z, att = self.features(x, pos, window, cond)
        return self.head_logits(z, target, tpos), att


def nll_per_stream(logits: dict[str, torch.Tensor], target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Summed cross-entropy (nats) per stream over targets whose shift id is not -100 (ignored)."""
    out = {}
    for s, lg in logits.items():
        tgt = target[..., STREAMS.index(s)].reshape(-1)  # (B*T,)
        out[s] = F.cross_entropy(
            lg.reshape(-1, lg.shape[-1]).float(), tgt, ignore_index=-100, reduction="sum"
        )
    return out
