"""`composer evaluate --model lstm`: per-event NLL (nats) and accuracy of a checkpoint on a corpus
split, next to baselines fitted on the training split (unigram, best n-gram, LSTM without attention)."""

from __future__ import annotations

from pathlib import Path

from composer.corpora import load_corpus
from composer.evaluate.baselines import fit_baselines
from composer.paths import default_checkpoint
from composer.representations.token_codec import TokenCodec
from composer.representations.tokens import STREAMS
from composer.training.lstm import check_compatible, load_lstm
from composer.training.scoring import score_events


def evaluate_lstm(
    checkpoint=None, corpus_source: str = "bach", split: str = "test", baseline_checkpoint=None
) -> dict:
    """The report of `composer evaluate --model lstm` (see the JSON shape in the README)."""
    folder = Path(checkpoint) if checkpoint else default_checkpoint("lstm")
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


def format_likelihood(report: dict) -> str:
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
