"""`composer train --model lstm`: cross-entropy training of the attention LSTM on a corpus.

Batches are windows drawn from a seeded generator keyed by the step, so a resumed run repeats the
uninterrupted one exactly. The checkpoint folder holds the best-validation weights (what generate and
evaluate read) and ``last/``, the latest state with optimizer and RNG, which --resume continues.
"""

from __future__ import annotations

import collections
import math
import os
from pathlib import Path

import numpy as np
import torch

from composer.checkpoint import load_checkpoint, optimizer_from_tensors, optimizer_to_tensors, save_checkpoint
from composer.corpora import augment, load_corpus
from composer.device import autocast, pick_device
from composer.errors import CheckpointError, ComposerError
from composer.models.attention_lstm import AttentionLSTM, LSTMConfig, nll_per_stream
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
    augmented = augment(train, shifts)  # piece by piece, each in every shift
    vocab = vocab or Vocab.fit([to_tokens(p) for p in augmented])
    n_pos = max(p.steps_per_bar for p in corpus.pieces)
    streams = [
        to_stream([to_events(p, vocab) for p in augmented[i :: len(shifts)]]) for i in range(len(shifts))
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
            "fingerprint": loop.corpus_fingerprint(data["corpus"]),
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


def check_compatible(meta: dict, folder, corpus, vocab: Vocab | None = None) -> None:
    """Refuse a checkpoint of another corpus (or a changed one) or vocabulary: a clear CheckpointError
    instead of a shape crash or a test split that overlaps the training split."""
    loop.check_corpus(meta, folder, corpus)
    if vocab is not None and Vocab.from_dict(meta["vocab"]).values != vocab.values:
        sizes = Vocab.from_dict(meta["vocab"]).sizes
        raise CheckpointError(f"{folder}: its vocabulary {sizes} differs from this corpus's {vocab.sizes}")


def load_lstm(folder, with_train_state: bool = False, device="cpu"):
    """(meta, model, train_state) from a checkpoint folder; shape mismatches become CheckpointError."""
    like = lambda config: AttentionLSTM(LSTMConfig.from_dict(config))  # noqa: E731 (shapes checked first)
    meta, weights, train_state = load_checkpoint(folder, with_train_state, kind="lstm", like=like)
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
    force=False,
) -> Path:
    """Train (or resume) and return the checkpoint folder. See `composer train --help`.

    A folder that already holds a checkpoint is refused unless ``resume`` or ``force`` is given.
    Ctrl-C saves the checkpoint, prints one line and exits with status 130.
    """
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
    with loop.locked(out):  # a second run into the same folder is refused, naming this one's pid
        loop.check_out_folder(out, resume, force)
        loop.seed_everything(seed)
        resumed = _resume(out, opts, dev) if resume else None
        vocab = Vocab.from_dict(resumed[0]["vocab"]) if resumed else None
        data = prepare_data(corpus_source, opts["seed"], opts["transpose"], vocab)
        if resumed:
            check_compatible(resumed[0], out / "last", data["corpus"])
            state, model, tensors = resumed
        else:
            state, model = None, _new_model(data, size, attention, seq_len).to(dev)
        optimizer = torch.optim.Adam(model.parameters(), lr=opts["lr"])
        if resumed:
            with loop.restoring(out / "last"):
                optimizer_tensors = {k: v for k, v in tensors.items() if k.startswith("state.")}
                optimizer_from_tensors(optimizer, optimizer_tensors, state["optimizer"])
                loop.set_rng_state(tensors)
        return _Run(model, optimizer, data, opts, out, dev, state).train()


def _resume(out: Path, opts: dict, dev) -> tuple[dict, AttentionLSTM, dict]:
    """(meta, model, train tensors) of ``out/last``; its training options replace those in ``opts``
    (steps and epochs only where ``opts`` gives none)."""
    meta, model, tensors = load_lstm(out / "last", with_train_state=True, device=dev)
    with loop.restoring(out / "last"):
        saved = meta["training"]
        opts.update({k: saved[k] for k in ("batch_size", "lr", "seq_len", "seed", "patience")})
        opts["transpose"] = meta["corpus"]["transpose"]
        opts["steps"], opts["epochs"] = opts["steps"] or saved["steps"], opts["epochs"] or saved["epochs"]
    return meta, model, tensors


def _new_model(data: dict, size: str, attention: bool, seq_len: int) -> AttentionLSTM:
    config = LSTMConfig(
        vocab_sizes=data["vocab"].sizes,
        n_positions=data["n_positions"],
        attention=attention,
        window=seq_len,
        **SIZES[size],
    )
    return AttentionLSTM(config)


def _schedule(data: dict, opts: dict) -> tuple[int, int]:
    """(steps per epoch, total steps)."""
    events = len(data["streams"][0][0]) * len(data["streams"])
    epoch_steps = max(1, events // (opts["batch_size"] * opts["seq_len"]))
    total = opts["steps"] or (opts["epochs"] or DEFAULT_EPOCHS) * epoch_steps
    return epoch_steps, total


class _Run:
    """One training run: the loop, its per-epoch validation, and its two checkpoints (best, last)."""

    def __init__(self, model, optimizer, data: dict, opts: dict, out: Path, dev, state: dict | None):
        self.model, self.optimizer, self.data, self.opts = model, optimizer, data, opts
        self.out, self.dev = out, dev
        self.epoch_steps, self.total = _schedule(data, opts)
        self.step = state["step"] if state else 0
        self.history = state["history"] if state else {"train": [], "validation": []}
        self.stopper = loop.EarlyStopping(opts["patience"], **(state["early_stopping"] if state else {}))
        self.stopper.patience = opts["patience"]
        self.running = state["running"] if state else []
        self.progress = loop.Progress(self.total, self.step, desc="train lstm")

    def train(self) -> Path:
        """Train up to the total step count or early stop; Ctrl-C saves and exits with status 130."""
        streams = self.data["streams"]
        with loop.interruptible() as flag:
            self.progress.write(
                f"training lstm on {self.data['corpus'].name}: {len(streams[0][0]):,} events x "
                f"{len(streams)} transpositions, {self.epoch_steps} steps per epoch, "
                f"steps {self.step}->{self.total}, {self.dev}"
            )
            while self.step < self.total and not self.stopper.stop:
                self.running.append(self.train_step())
                self.step += 1
                self.progress.update(self.step, loss=float(np.mean(self.running[-50:])))
                epoch_end = self.step % self.epoch_steps == 0 or self.step == self.total
                if epoch_end:
                    self.validate()
                if flag["stop"] and not epoch_end:  # at an epoch's end, validate() saved it
                    self.save_last()
                if flag["stop"]:
                    self.progress.close()
                    loop.stop_interrupted(self.step, self.out)
        self.progress.close()
        if not (self.out / "meta.json").exists():  # no validation ran (cannot happen unless total is 0)
            raise ComposerError(f"no training step ran (total steps {self.total})")
        return self.out

    def train_step(self) -> float:
        """One optimizer step on the batch of the current step; returns its loss per target event."""
        opts = self.opts
        torch.manual_seed(loop.step_seed(opts["seed"], self.step))
        x, xpos, y, ypos = sample_batch(
            self.data["streams"], self.step, opts["seed"], opts["batch_size"], opts["seq_len"], self.dev
        )
        self.model.train()
        with autocast(self.dev):
            logits, _ = self.model(x, xpos, y, ypos)
        n = (y[..., 0] != -100).sum().clamp(min=1)
        loss = sum(nll_per_stream(logits, y).values()) / n
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return loss.item()

    def validate(self) -> None:
        """End of an epoch: validation loss, history, the best checkpoint and the loss curve."""
        from composer.evaluation import score_events

        val = score_events(self.model, self.data["validation"], self.dev)
        self.history["train"].append(float(np.mean(self.running)))
        self.history["validation"].append(val)
        self.running = []
        best = self.stopper.update(val)
        self.progress.write(
            f"epoch {len(self.history['validation'])} step {self.step}: train {self.history['train'][-1]:.4f}"
            f" validation {val:.4f}{' (best)' if best else ''}"
        )
        self.save_last()  # before the best: a kill between the two saves leaves a run --resume continues
        if best:
            save_checkpoint(self.out, self.meta(), self.model.state_dict())
        loop.write_loss_curve(self.history, self.out)  # every epoch: the curve goes on past the best

    def save_last(self) -> None:
        """``out/last``: the latest weights with optimizer and RNG state, which --resume continues."""
        tensors, info = optimizer_to_tensors(self.optimizer)
        save_checkpoint(
            self.out / "last",
            self.meta(optimizer=info),
            self.model.state_dict(),
            {**tensors, **loop.rng_state()},
        )

    def meta(self, optimizer: dict | None = None) -> dict:
        stopper = self.stopper
        state = {
            "step": self.step,
            "epoch": self.step / self.epoch_steps,
            "history": self.history,
            "early_stopping": {
                "best": stopper.best if math.isfinite(stopper.best) else 1e30,
                "bad": stopper.bad,
            },
            "running": self.running,
            "optimizer": optimizer or {},
        }
        return build_meta(self.data, self.model.config, self.opts, state)
