"""Per-event NLL and accuracy of the attention LSTM over whole pieces: training's validation loss and
the model's figures in `composer evaluate --model lstm` (composer.evaluate.likelihood)."""

from __future__ import annotations

import numpy as np
import torch

from composer.representations.tokens import STREAMS
from composer.training.data import to_stream

BATCH_PIECES = 16


@torch.no_grad()
def score_events(model, events: list[tuple[np.ndarray, np.ndarray]], device="cpu", details: bool = False):
    """Per-event NLL of whole pieces, each from BOS, attention limited to the model's window.

    Returns the mean total NLL per event (float), or with ``details`` a dict with "nll", per-stream
    "nll_<stream>" and "accuracy_<stream>" (argmax = target), "accuracy" (all four right), "events".
    """
    model.eval()
    nll = dict.fromkeys(STREAMS, 0.0)
    correct = dict.fromkeys(STREAMS, 0)
    joint, count = 0, 0
    for b in range(0, len(events), BATCH_PIECES):
        x, xctx, y, yctx = _pad([to_stream([e]) for e in events[b : b + BATCH_PIECES]], device)
        logits, _ = model(x, xctx[..., 0], y, yctx[..., 0], window=model.config.window, cond=xctx[..., 1:])
        mask = y[..., 0] != -100  # (B, T)
        all_right = mask.clone()
        for s, lg in logits.items():
            i = STREAMS.index(s)
            lp = torch.log_softmax(lg.float(), -1)  # (B, T, V)
            nll[s] += float(-lp.gather(-1, y[..., i : i + 1].clamp(min=0)).squeeze(-1)[mask].sum())
            right = lg.argmax(-1) == y[..., i]  # (B, T)
            correct[s] += int(right[mask].sum())
            all_right &= right
        joint += int(all_right.sum())
        count += int(mask.sum())
    total = sum(nll.values()) / max(count, 1)
    if not details:
        return total
    out = {"nll": total, "accuracy": joint / max(count, 1), "events": count}
    out.update({f"nll_{s}": nll[s] / max(count, 1) for s in STREAMS})
    out.update({f"accuracy_{s}": correct[s] / max(count, 1) for s in STREAMS})
    return out


def _pad(streams, device):
    """Pieces (each BOS + events, with context (n, 3)) padded to one batch; padded targets are ignored."""
    T = max(len(ids) for ids, _ in streams) - 1
    B = len(streams)
    x = np.zeros((B, T, 4), np.int64)
    xctx = np.zeros((B, T, 3), np.int64)
    y = np.full((B, T, 4), -100, np.int64)
    yctx = np.zeros((B, T, 3), np.int64)
    for b, (ids, ctx) in enumerate(streams):
        n = len(ids) - 1
        x[b, :n], xctx[b, :n], y[b, :n], yctx[b, :n] = ids[:-1], ctx[:-1], ids[1:], ctx[1:]
    return [torch.from_numpy(a).to(device) for a in (x, xctx, y, yctx)]
