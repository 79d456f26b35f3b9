"""The harmonizer: a bidirectional LSTM reads the whole fixed voice, a causal LSTM writes the others.

Design (issue 14). A cadence is prepared before the melody gets there, so the model must see where
the melody is going: the encoder is a bidirectional LSTM over the fixed voice's whole line (its
sounding pitch, where it strikes, the position in the bar, the mode and the bars left), so each
step's encoding holds the melody both behind and ahead of it. The decoder is a one-layer causal LSTM
over the steps; its input at step t is the encoding at t and the three free voices at t - 1. At each
step the free voices are written one after another (bass, alto, tenor): each voice's head reads the
decoder state and the voices already written at that step, so the chord is sampled as a whole and
the voice-leading rules can check each candidate against the voices placed before it.

Modules and config only; the grid encoding is composer.representations.harmony_grid, the NumPy
forward pass for generation composer.generation.harmonize.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from composer.models.configs import HarmonizerConfig
from composer.options import check_options, option

__all__ = ["SIZES", "Harmonizer", "HarmonizerConfig", "TrainConfig"]


SIZES = {
    "tiny": {"embed": 8, "encoder": 8, "hidden": 16, "head": 16, "dropout": 0.0},
    "default": {},
    "large": {"embed": 48, "encoder": 96, "hidden": 192, "head": 192, "dropout": 0.3},
}


@dataclass
class TrainConfig:
    """How to train: the defaults are the shipped recipe (`composer train --model harmonizer`): 2200
    steps of 8 chorales, AdamW at 3e-3 with a cosine decay to zero."""

    steps: int = option(2200, "Optimizer steps to train (in total, when resuming).", low=1)
    batch_size: int = option(8, "Chorales per optimizer step.", low=1)
    lr: float = option(3e-3, "Peak learning rate (AdamW, cosine decay).", low=0, high=10, low_open=True)
    seed: int = option(0, "Seed of the split, the weights and every batch.", low=0)
    eval_every: int = option(100, "Validate (and checkpoint) every N steps.", low=1, cli=False)
    size: str = option("default", "Model size (SIZES).", choices=SIZES)
    # stop (and save) at this step, to continue later with resume; 0: at ``steps``
    stop_after: int = option(0, "Stop (and save) at this step; 0 = at steps.", low=0, cli=False)

    def __post_init__(self):
        check_options(self)

    def to_dict(self) -> dict:
        return asdict(self)


class Harmonizer(nn.Module):
    """Logits of the free voices' tokens given the fixed voice."""

    def __init__(self, cfg: HarmonizerConfig):
        super().__init__()
        self.cfg = cfg
        E = cfg.embed
        self.embed_fixed = nn.Embedding(cfg.n_sounding, E)
        self.embed_strike = nn.Embedding(2, E)
        self.embed_pos = nn.Embedding(cfg.n_positions, E)
        self.embed_mode = nn.Embedding(cfg.n_modes, E)
        self.embed_left = nn.Embedding(cfg.n_left, E)
        self.encoder = nn.LSTM(E, cfg.encoder, batch_first=True, bidirectional=True)
        self.embed_voice = nn.Embedding(cfg.n_sounding, E)  # a free voice's sounding pitch
        self.embed_onset = nn.Embedding(2, E)  # whether it strikes there
        self.decoder = nn.LSTM(2 * cfg.encoder + 3 * E, cfg.hidden, batch_first=True)
        self.drop = nn.Dropout(cfg.dropout)
        self.heads = nn.ModuleList(
            nn.Sequential(
                nn.Linear(cfg.hidden + 2 * cfg.encoder + k * E, cfg.head),
                nn.GELU(approximate="tanh"),
                nn.Linear(cfg.head, cfg.n_tokens),
            )
            for k in range(3)
        )

    def voices(self, state: torch.Tensor) -> torch.Tensor:
        """Embeddings of the free voices' (sounding id, onset), (B, T, 3, 2) -> (B, T, 3, E)."""
        return self.embed_voice(state[..., 0]) + self.embed_onset(state[..., 1])

    def forward(self, fixed: torch.Tensor, context: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """fixed (B, T, 2), context (B, T, 3), state (B, T, 3, 2) -> logits (B, T, 3, n_tokens).

        ``state`` holds the free voices at each step (teacher forcing); the decoder reads them a step
        late, and head k reads voices 0..k-1 of the same step.
        """
        x = (
            self.embed_fixed(fixed[..., 0])
            + self.embed_strike(fixed[..., 1])
            + self.embed_pos(context[..., 0])
            + self.embed_mode(context[..., 1])
            + self.embed_left(context[..., 2])
        )  # (B, T, E)
        enc, _ = self.encoder(self.drop(x))  # (B, T, 2 * encoder)
        enc = self.drop(enc)
        voices = self.voices(state)  # (B, T, 3, E)
        before = torch.cat([torch.zeros_like(voices[:, :1]), voices[:, :-1]], dim=1)  # step t - 1
        h, _ = self.decoder(torch.cat([enc, before.flatten(2)], dim=-1))  # (B, T, H)
        z = torch.cat([self.drop(h), enc], dim=-1)
        out = [head(torch.cat([z, voices[:, :, :k].flatten(2)], dim=-1)) for k, head in enumerate(self.heads)]
        return torch.stack(out, dim=2)  # (B, T, 3, n_tokens)
