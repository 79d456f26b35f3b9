"""`composer evaluate --model lstm`: per-event NLL (nats) and accuracy of a checkpoint on a corpus
split, next to baselines fitted on the training split (unigram, best n-gram, LSTM without attention)."""

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


def evaluate_lstm(
    checkpoint=None, corpus_source: str = "bach", split: str = "test", baseline_checkpoint=None
) -> dict:
    """The report of `composer evaluate --model lstm` (see the JSON shape in the README)."""
    from pathlib import Path

    from composer.baselines import fit_baselines
    from composer.corpora import load_corpus
    from composer.generation.lstm import DEFAULT_CHECKPOINT
    from composer.representations.token_codec import TokenCodec
    from composer.training.lstm import check_compatible, load_lstm

    folder = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
    meta, model, _ = load_lstm(folder)
    corpus = load_corpus(corpus_source, seed=meta["corpus"]["settings"]["seed"])
    check_compatible(meta, folder, corpus)
    codec = TokenCodec.from_meta(meta)
    events = {s: [codec.encode(p) for p in corpus.split(s)] for s in ("train", "validation", split)}
    report = {
        "model": {**score_events(model, events[split], details=True), "checkpoint": str(folder)},
        "corpus": corpus.name,
        "split": split,
    }
    ids = {s: [e for e, _ in v] for s, v in events.items()}
    report["baselines"] = fit_baselines(ids["train"], ids["validation"], ids[split], codec.vocab.sizes)
    base = Path(baseline_checkpoint) if baseline_checkpoint else folder.parent / f"{folder.name}-noattn"
    if (base / "meta.json").exists():
        bmeta, bmodel, _ = load_lstm(base)
        check_compatible(bmeta, base, corpus)
        bcodec = TokenCodec.from_meta(bmeta)
        entry = {"checkpoint": str(base)}
        if bcodec.to_dict() == codec.to_dict():
            entry["nll"] = score_events(bmodel, events[split])
        else:  # another encoding (e.g. a checkpoint from before key normalization): not comparable
            entry["nll_own_encoding"] = score_events(bmodel, [bcodec.encode(p) for p in corpus.split(split)])
            entry["nll"] = None
            entry["note"] = f"{base} encodes events differently from {folder}: NLLs are not comparable"
        report["baselines"]["lstm_no_attention"] = entry
    else:
        report["baselines"]["lstm_no_attention"] = {"nll": None, "note": f"no checkpoint at {base}"}
    best = report["baselines"]["ngram"]["nll"]
    report["model"]["improvement_over_ngram"] = 1 - report["model"]["nll"] / best
    return report


def format_report(report: dict) -> str:
    """The report as aligned text lines."""
    m, b = report["model"], report["baselines"]
    lines = [
        f"{report['corpus']} {report['split']} split, {m['events']} events; NLL in nats per event",
        f"attention LSTM   nll {m['nll']:.4f}  accuracy {m['accuracy']:.3f}  ({m['checkpoint']})",
        "  per stream     " + "  ".join(f"{s} {m['nll_' + s]:.3f}/{m['accuracy_' + s]:.3f}" for s in STREAMS),
        f"unigram          nll {b['unigram']['nll']:.4f}",
        f"n-gram (order {b['ngram']['order']})  nll {b['ngram']['nll']:.4f}",
        "no-attention LSTM nll "
        + (
            f"{b['lstm_no_attention']['nll']:.4f}"
            if b["lstm_no_attention"]["nll"] is not None
            else b["lstm_no_attention"]["note"]
        ),
        f"improvement over the best n-gram: {m['improvement_over_ngram']:.1%}",
    ]
    return "\n".join(lines)
