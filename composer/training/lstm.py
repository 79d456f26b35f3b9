"""`composer train --model lstm`: cross-entropy training of the attention LSTM on a corpus.

Batches are windows drawn from a seeded generator keyed by the step, so a resumed run repeats the
uninterrupted one exactly. The checkpoint folder holds the best-validation weights (what generate and
evaluate read) and ``last/``, the latest state with optimizer and RNG, which --resume continues.
"""

from __future__ import annotations

import collections
import json
import math
import os
from pathlib import Path

import numpy as np
import torch

from composer.checkpoint import load_checkpoint, optimizer_from_tensors, optimizer_to_tensors, save_checkpoint
from composer.corpora import load_corpus
from composer.device import autocast, pick_device
from composer.errors import CheckpointError, ComposerError
from composer.models.attention_lstm import AttentionLSTM, LSTMConfig, nll_per_stream
from composer.music import transpose as transpose_score
from composer.representations.tokens import MAX_DURATION, MAX_SHIFT, STREAMS, Vocab, to_tokens
from composer.training import loop
from composer.training.data import to_events, to_stream, to_windows

SIZES = {
    "tiny": {"embed": 8, "hidden": 32, "head_hidden": 32},
    "small": {"embed": 16, "hidden": 128, "head_hidden": 64},
    "default": {"embed": 32, "hidden": 256, "head_hidden": 128},
    "book": {"embed": 100, "hidden": 256, "head_hidden": 128},  # the chapter's embedding 100, LSTM 256
}
DEFAULT_EPOCHS = 30


def music_settings(pieces) -> dict:
    """Meter, tempo and tracks that generation uses: the most common among the pieces."""
    meter = collections.Counter(tuple(p.time_signature) for p in pieces).most_common(1)[0][0]
    bpm = collections.Counter(p.bpm for p in pieces).most_common(1)[0][0]
    n_tracks = max(len(p.tracks) for p in pieces)
    layouts = collections.Counter(
        tuple((t.name, t.program, t.is_drum) for t in p.tracks) for p in pieces if len(p.tracks) == n_tracks
    )
    tracks = [{"name": n, "program": pr, "is_drum": d} for n, pr, d in layouts.most_common(1)[0][0]]
    return {"time_signature": list(meter), "bpm": bpm, "tracks": tracks}


def prepare_data(corpus_source: str, seed: int, semitones: int, vocab: Vocab | None = None) -> dict:
    """Corpus, vocabulary, training streams (one per transposition) and validation events."""
    corpus = load_corpus(corpus_source, seed=seed)
    train = corpus.split("train")
    shifts = range(-semitones, semitones + 1)
    augmented = [transpose_score(p, k) for k in shifts for p in train]
    vocab = vocab or Vocab.fit([to_tokens(p) for p in augmented])
    n_pos = max(p.steps_per_bar for p in corpus.pieces)
    streams = [
        to_stream([to_events(p, vocab) for p in augmented[i * len(train) : (i + 1) * len(train)]])
        for i in range(len(shifts))
    ]
    validation = [to_events(p, vocab) for p in corpus.split("validation")] or [
        to_events(p, vocab) for p in train[:8]
    ]
    return {
        "corpus": corpus,
        "vocab": vocab,
        "n_positions": n_pos,
        "streams": streams,
        "validation": validation,
        "music": music_settings(corpus.pieces),
    }


def sample_batch(streams, step: int, seed: int, batch_size: int, seq_len: int, device):
    """The batch of one step: random (transposition, offset) windows from a generator keyed by step."""
    rng = np.random.default_rng([seed, step, 1])
    seq_len = min(seq_len, min(len(ids) for ids, _ in streams) - 1)
    which = rng.integers(len(streams), size=batch_size)
    parts = []
    for k in range(len(streams)):
        ids, pos = streams[k]
        rows = np.flatnonzero(which == k)
        if len(rows):
            starts = rng.integers(0, max(len(ids) - seq_len - 1, 1), size=len(rows))
            parts.append(to_windows(ids, pos, starts, seq_len))
    return [torch.from_numpy(np.concatenate(p)).to(device) for p in zip(*parts)]  # x, xpos, y, ypos


def build_meta(data: dict, config: LSTMConfig, opts: dict, state: dict) -> dict:
    """Everything a checkpoint needs besides tensors: enough to rebuild, generate and resume."""
    return {
        "model": "lstm",
        "config": config.to_dict(),
        "vocab": data["vocab"].to_dict(),
        "corpus": {
            "name": data["corpus"].name,
            "fingerprint": corpus_fingerprint(data["corpus"]),
            "settings": data["corpus"].settings,
            "transpose": opts["transpose"],
        },
        "representation": {
            "kind": "tokens",
            "streams": list(STREAMS),
            "max_shift": MAX_SHIFT,
            "max_duration": MAX_DURATION,
            "resolution": data["corpus"].settings["resolution"],
        },
        "music": data["music"],
        "training": {
            k: opts[k] for k in ("batch_size", "lr", "seq_len", "seed", "steps", "epochs", "patience")
        },
        **state,
    }


def corpus_fingerprint(corpus) -> str:
    """A hash of the corpus's piece ids and split: it changes when the corpus or its split changes."""
    import hashlib

    text = json.dumps([corpus.ids, corpus.split_indices()], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_compatible(meta: dict, folder, corpus, vocab: Vocab | None = None) -> None:
    """Refuse a checkpoint of another model, corpus (or a changed one) or vocabulary: a clear
    CheckpointError instead of a shape crash or a test split that overlaps the training split."""
    if meta.get("model") != "lstm":
        raise CheckpointError(f"{folder}: holds a {meta.get('model')!r} model, not an lstm")
    trained_on = meta.get("corpus", {}).get("name")
    if trained_on != corpus.name:
        raise CheckpointError(f"{folder}: was trained on corpus {trained_on!r}, not {corpus.name!r}")
    if meta["corpus"].get("fingerprint") != corpus_fingerprint(corpus):
        raise CheckpointError(
            f"{folder}: corpus {corpus.name!r} has changed since this checkpoint was trained "
            "(other pieces or split); train again"
        )
    if vocab is not None and Vocab.from_dict(meta["vocab"]).values != vocab.values:
        sizes = Vocab.from_dict(meta["vocab"]).sizes
        raise CheckpointError(f"{folder}: its vocabulary {sizes} differs from this corpus's {vocab.sizes}")


def load_lstm(folder, with_train_state: bool = False, device="cpu"):
    """(meta, model, train_state) from a checkpoint folder; shape mismatches become CheckpointError."""
    meta, weights, train_state = load_checkpoint(folder, with_train_state)
    if meta.get("model") != "lstm":
        raise CheckpointError(f"{folder}: holds a {meta.get('model')!r} model, not an lstm")
    try:
        model = AttentionLSTM(LSTMConfig.from_dict(meta["config"]))
        model.load_state_dict(weights)
    except (KeyError, TypeError, RuntimeError) as e:
        raise CheckpointError(
            f"{folder}: weights do not match the stored config ({str(e).splitlines()[0]})"
        ) from None
    return meta, model.to(device), train_state


def train_lstm(
    corpus_source="bach",
    epochs=None,
    steps=None,
    batch_size=32,
    lr=2e-3,
    seq_len=64,
    seed=0,
    out=None,
    resume=False,
    transpose=0,
    patience=4,
    device="auto",
    size="default",
    attention=True,
) -> Path:
    """Train (or resume) and return the checkpoint folder. See `composer train --help`."""
    dev = pick_device(device)
    if dev.type == "cpu":  # several threads on a shared CPU spin-wait on each other: 1 is faster there
        torch.set_num_threads(int(os.environ.get("COMPOSER_THREADS", "1")))
    opts = dict(
        batch_size=batch_size,
        lr=lr,
        seq_len=seq_len,
        seed=seed,
        steps=steps,
        epochs=epochs,
        patience=patience,
        transpose=transpose,
    )
    name = "bach" if corpus_source == "bach" else Path(corpus_source).name
    out = Path(out or f"checkpoints/lstm-{name}")
    loop.seed_everything(seed)
    resumed = None
    if resume:
        resumed = load_lstm(out / "last", with_train_state=True, device=dev)
        saved = resumed[0]["training"]
        opts.update(
            {k: saved[k] for k in ("batch_size", "lr", "seq_len", "seed", "patience")},
            transpose=resumed[0]["corpus"]["transpose"],
        )
        opts["steps"], opts["epochs"] = steps or saved["steps"], epochs or saved["epochs"]
    data = prepare_data(
        corpus_source,
        opts["seed"],
        opts["transpose"],
        Vocab.from_dict(resumed[0]["vocab"]) if resumed else None,
    )
    if resumed:
        check_compatible(resumed[0], out / "last", data["corpus"])
        model, state = resumed[1], resumed[0]
    else:
        config = LSTMConfig(
            vocab_sizes=data["vocab"].sizes,
            n_positions=data["n_positions"],
            attention=attention,
            window=seq_len,
            **SIZES[size],
        )
        model, state = AttentionLSTM(config).to(dev), None
    optimizer = torch.optim.Adam(model.parameters(), lr=opts["lr"])
    if resumed:
        tensors = resumed[2]
        optimizer_from_tensors(
            optimizer, {k: v for k, v in tensors.items() if k.startswith("state.")}, state["optimizer"]
        )
        loop.set_rng_state(tensors)
    return _run(model, optimizer, data, opts, out, dev, state)


def _schedule(data: dict, opts: dict) -> tuple[int, int]:
    """(steps per epoch, total steps)."""
    events = len(data["streams"][0][0]) * len(data["streams"])
    epoch_steps = max(1, events // (opts["batch_size"] * opts["seq_len"]))
    total = opts["steps"] or (opts["epochs"] or DEFAULT_EPOCHS) * epoch_steps
    return epoch_steps, total


def _run(model, optimizer, data, opts, out: Path, dev, state: dict | None) -> Path:
    from composer.evaluation import score_events

    epoch_steps, total = _schedule(data, opts)
    step = state["step"] if state else 0
    history = state["history"] if state else {"train": [], "validation": []}
    stopper = loop.EarlyStopping(opts["patience"], **(state["early_stopping"] if state else {}))
    stopper.patience = opts["patience"]
    running = state["running"] if state else []
    progress = loop.Progress(total, step, desc="train lstm")
    with loop.interruptible() as flag:
        progress.write(
            f"training lstm on {data['corpus'].name}: {len(data['streams'][0][0]):,} events x "
            f"{len(data['streams'])} transpositions, {epoch_steps} steps per epoch, steps {step}->{total}, {dev}"
        )
        while step < total and not stopper.stop:
            torch.manual_seed(loop.step_seed(opts["seed"], step))
            x, xpos, y, ypos = sample_batch(
                data["streams"], step, opts["seed"], opts["batch_size"], opts["seq_len"], dev
            )
            model.train()
            with autocast(dev):
                logits, _ = model(x, xpos, y, ypos)
            n = (y[..., 0] != -100).sum().clamp(min=1)
            loss = sum(nll_per_stream(logits, y).values()) / n
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            running.append(loss.item())
            progress.update(step, loss=float(np.mean(running[-50:])))
            if step % epoch_steps == 0 or step == total:
                val = score_events(model, data["validation"], dev)
                history["train"].append(float(np.mean(running)))
                history["validation"].append(val)
                running = []
                best = stopper.update(val)
                progress.write(
                    f"epoch {len(history['validation'])} step {step}: train {history['train'][-1]:.4f}"
                    f" validation {val:.4f}{' (best)' if best else ''}"
                )
                new_state = _state(step, epoch_steps, history, stopper, running, optimizer)
                if best:
                    save_checkpoint(out, build_meta(data, model.config, opts, new_state), model.state_dict())
                loop.write_loss_curve(history, out)  # every epoch: the curve goes on past the best
            if flag["stop"] or step == total or stopper.stop or step % epoch_steps == 0:
                new_state = _state(step, epoch_steps, history, stopper, running, optimizer)
                tensors, info = optimizer_to_tensors(optimizer)
                new_state["optimizer"] = info
                save_checkpoint(
                    out / "last",
                    build_meta(data, model.config, opts, new_state),
                    model.state_dict(),
                    {**tensors, **loop.rng_state()},
                )
            if flag["stop"]:
                progress.close()
                raise ComposerError(f"training interrupted at step {step}; resume with --resume --out {out}")
    progress.close()
    if not (out / "meta.json").exists():  # no validation ran (cannot happen unless total is 0)
        raise ComposerError(f"no training step ran (total steps {total})")
    return out


def _state(step, epoch_steps, history, stopper, running, optimizer) -> dict:
    return {
        "step": step,
        "epoch": step / epoch_steps,
        "history": history,
        "early_stopping": {"best": stopper.best if math.isfinite(stopper.best) else 1e30, "bad": stopper.bad},
        "running": running,
        "optimizer": {},
    }
