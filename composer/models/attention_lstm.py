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
only) is ``forward_book``; it exists to measure how much compute the causal form saves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from composer.representations.tokens import STREAMS


@dataclass
class LSTMConfig:
    """Hyperparameters; stored in every checkpoint so the model can be rebuilt without guessing."""

    vocab_sizes: dict[str, int] = field(default_factory=dict)  # ids per stream, specials included
    n_positions: int = 16  # steps per bar (largest meter of the corpus): bar-position ids 0..n-1
    embed: int = 32
    hidden: int = 256
    head_hidden: int = 128
    layers: int = 2
    dropout: float = 0.2
    attention: bool = True
    window: int = 64  # attention span in events (the training window length)
    order: tuple[str, ...] = ("shift", "track", "pitch", "duration")
    n_modes: int = 0  # mode ids (major, minor) as an input; 0 = no key conditioning (first checkpoints)
    n_bars_left: int = 0  # bars-until-the-end ids as an input; 0 = no end conditioning

    def to_dict(self) -> dict:
        return {**asdict(self), "order": list(self.order)}

    @classmethod
    def from_dict(cls, d: dict) -> LSTMConfig:
        return cls(**{**d, "order": tuple(d["order"])})


SIZES = {
    "tiny": {"embed": 8, "hidden": 32, "head_hidden": 32},
    "small": {"embed": 16, "hidden": 128, "head_hidden": 64},
    "default": {"embed": 32, "hidden": 256, "head_hidden": 128},
    "book": {"embed": 100, "hidden": 256, "head_hidden": 128},  # the chapter's embedding 100, LSTM 256
}


@dataclass
class TrainConfig:
    """How to train: the defaults are the shipped recipe (`composer train --corpus bach --model lstm`)."""

    steps: int | None = 4000  # optimizer steps; None trains ``epochs`` epochs instead
    epochs: int | None = None
    batch_size: int = 16
    lr: float = 2e-3
    seq_len: int = 128  # events per training window (about 8 bars of chorale), and the attention span
    seed: int = 0
    transpose: int = 3  # augmentation by +-N semitones (with normalize_key: around C, the offset an input)
    patience: int = 6  # epochs without a better validation loss before stopping
    size: str = "default"  # a SIZES preset
    attention: bool = True
    dropout: float = 0.4
    normalize_key: bool = True  # move every piece to tonic C and condition on the mode
    bars_left_cap: int = 8  # condition on bars until the end, capped; 0 = off

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

    def forward_book(self, x, pos, target, tpos, cond=None):
        """The book's formulation: one target per window, attention over the whole window, heads on
        the context vector. x (B, T, 4), pos (B, T), target (B, 4), tpos (B,) -> logits (B, V_s)."""
        h = self.encode(x, pos, cond)  # (B, T, H)
        att = torch.softmax(torch.tanh(self.score(h)).squeeze(-1), dim=-1)  # (B, T)
        c = (att.unsqueeze(-1) * h).sum(1)  # (B, T, 1) * (B, T, H) -> (B, H)
        z = torch.cat([c, h[:, -1]], dim=-1) if self.config.attention else h[:, -1]  # (B, 2H)
        return self.head_logits(self.drop(z), target, tpos), att


def nll_per_stream(logits: dict[str, torch.Tensor], target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Summed cross-entropy (nats) per stream over targets whose shift id is not -100 (ignored)."""
    out = {}
    for s, lg in logits.items():
        tgt = target[..., STREAMS.index(s)].reshape(-1)  # (B*T,)
        out[s] = F.cross_entropy(
            lg.reshape(-1, lg.shape[-1]).float(), tgt, ignore_index=-100, reduction="sum"
        )
    return out
