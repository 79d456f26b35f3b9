"""`composer train --model lstm`: cross-entropy training of the attention LSTM on a corpus.

Batches are windows drawn from a seeded generator keyed by the step, so a resumed run repeats the
uninterrupted one exactly. The checkpoint folder holds the best-validation weights (what generate and
evaluate read) and ``last/``, the latest state with optimizer and RNG, which --resume continues.
"""

from __future__ import annotations

import collections
import contextlib
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from composer.checkpoint import (
    load_checkpoint,
    optimizer_from_tensors,
    optimizer_to_tensors,
    save_checkpoint,
    to_codec,
    to_config,
    to_meta,
)
from composer.corpora import augment
from composer.corpora.sharded import ShardedCorpus, open_corpus
from composer.device import autocast
from composer.errors import CheckpointError, ComposerError
from composer.models.attention_lstm import SIZES, AttentionLSTM, LSTMConfig, TrainConfig, nll_per_stream
from composer.music import transpose
from composer.paths import run_dir
from composer.representations.token_codec import TokenCodec
from composer.training import distributed, loop
from composer.training.data import EncodedPieces, piece_stream, stream_length, to_stream, windows
from composer.training.scoring import score_events

DEFAULT_EPOCHS = 30
FIT_PIECES = 300  # training pieces a sharded corpus's codec is fitted on (as many as bach's 280)
VALIDATION_PIECES = 500  # validation pieces scored each epoch, encoded at the first (bach has 35)


def music_settings(pieces) -> dict:
    """Meter, tempo and tracks that generation uses: the most common among the pieces."""
    return _common_settings(
        [
            (tuple(p.time_signature), p.bpm, tuple((t.name, t.program, t.is_drum) for t in p.tracks))
            for p in pieces
        ]
    )


def _common_settings(pieces: list[tuple]) -> dict:
    """music_settings of (meter, bpm, track layout) triples."""
    meter = collections.Counter(m for m, _, _ in pieces).most_common(1)[0][0]
    bpm = collections.Counter(b for _, b, _ in pieces).most_common(1)[0][0]
    n_tracks = max(len(t) for _, _, t in pieces)
    layouts = collections.Counter(t for _, _, t in pieces if len(t) == n_tracks)
    tracks = [{"name": n, "program": pr, "is_drum": d} for n, pr, d in layouts.most_common(1)[0][0]]
    return {"time_signature": list(meter), "bpm": bpm, "tracks": tracks}


def prepare_data(corpus_source: str, cfg: TrainConfig, codec: TokenCodec | None = None) -> dict:
    """Corpus, codec, training streams (one per transposition) and validation events.

    A folder is read from its shards (prepared first if need be) and streamed: see _sharded_data.
    """
    corpus = open_corpus(corpus_source, seed=cfg.seed)
    if isinstance(corpus, ShardedCorpus):
        return _sharded_data(corpus, cfg, codec)
    train = corpus.split("train")
    if cfg.normalize_key:  # each piece at tonic C + k, k an input (every key would go back to C)
        codec = codec or TokenCodec.fit(train, True, cfg.bars_left_cap, max_offset=cfg.transpose)
        streams = [to_stream([codec.encode(p, k) for p in train]) for k in codec.offsets]
    else:
        shifts = range(-cfg.transpose, cfg.transpose + 1)
        augmented = augment(train, shifts)  # piece by piece, each in every shift
        codec = codec or TokenCodec.fit(augmented, False, cfg.bars_left_cap)
        streams = [
            to_stream([codec.encode(p) for p in augmented[i :: len(shifts)]]) for i in range(len(shifts))
        ]
    codec.n_positions = max(codec.n_positions, max(p.steps_per_bar for p in corpus.pieces))
    validation = [codec.encode(p) for p in corpus.split("validation")] or [codec.encode(p) for p in train[:8]]
    return {
        "corpus": corpus,
        "codec": codec,
        "streams": streams,
        "validation": validation,
        "music": music_settings(corpus.pieces),
    }


def _sharded_data(corpus: ShardedCorpus, cfg: TrainConfig, codec: TokenCodec | None) -> dict:
    """prepare_data of a prepared folder, without loading it: the streams encode pieces from the
    memory map as windows reach them. Equal to the in-memory data when the training split has at
    most FIT_PIECES pieces and the validation split at most VALIDATION_PIECES; beyond, the codec is
    fitted on the first FIT_PIECES training pieces and validation uses the first VALIDATION_PIECES."""
    split = corpus.split_indices()
    shifts = range(-cfg.transpose, cfg.transpose + 1)
    fit = [corpus.score(i) for i in split["train"][:FIT_PIECES]]
    fit = [transpose(s, k) if k else s for s in fit for k in shifts]  # as augment does
    codec = codec or TokenCodec.fit(fit, cfg.normalize_key, cfg.bars_left_cap)
    scores = [p["score"] for p in corpus.meta]  # (resolution, bpm, meter, ...): no Score built
    codec.n_positions = max(codec.n_positions, max(m[0] * r * 4 // m[1] for r, _, m, *_ in scores))
    validation = split["validation"][:VALIDATION_PIECES] or split["train"][:8]
    return {
        "corpus": corpus,
        "codec": codec,
        "streams": [piece_stream(corpus, split["train"], k, codec) for k in shifts],
        "validation": EncodedPieces(lambda k: codec.encode(corpus.score(validation[k])), len(validation)),
        "music": _common_settings(
            [(tuple(s[2]), s[1], tuple(map(tuple, p["tracks"]))) for s, p in zip(scores, corpus.meta)]
        ),
    }


def sample_batch(streams, step: int, seed: int, batch_size: int, seq_len: int, device):
    """The batch of one step: random (transposition, offset) windows from a generator keyed by step."""
    rng = np.random.default_rng([seed, step, 1])
    seq_len = min(seq_len, min(stream_length(s) for s in streams) - 1)
    which = rng.integers(len(streams), size=batch_size)
    parts = []
    for k in range(len(streams)):
        rows = np.flatnonzero(which == k)
        if len(rows):
            starts = rng.integers(0, max(stream_length(streams[k]) - seq_len - 1, 1), size=len(rows))
            parts.append(windows(streams[k], starts, seq_len))
    return [torch.from_numpy(np.concatenate(p)).to(device) for p in zip(*parts)]  # x, xctx, y, yctx


def build_meta(data: dict, config: LSTMConfig, cfg: TrainConfig, state: dict) -> dict:
    """Everything a checkpoint needs besides tensors (format 2, composer.checkpoint_meta): enough to
    rebuild, generate and resume. ``state`` holds step, history, the loop's state and optimizers."""
    corpus = {
        "name": data["corpus"].name,
        "fingerprint": loop.corpus_fingerprint(data["corpus"]),
        "settings": data["corpus"].settings,
        "transpose": cfg.transpose,
    }
    return to_meta("lstm", config, data["codec"], cfg, corpus=corpus, music=data["music"], **state)


def check_compatible(meta: dict, folder, corpus) -> None:
    """Refuse a checkpoint of another corpus (or a changed one): a clear CheckpointError instead of a
    test split that overlaps the training split."""
    loop.check_corpus(meta, folder, corpus)


def load_lstm(folder, with_train_state: bool = False, device="cpu"):
    """(meta, model, train_state) from a checkpoint folder; shape mismatches become CheckpointError."""
    meta, weights, train_state = load_checkpoint(
        folder, with_train_state, kind="lstm", like=AttentionLSTM, config=LSTMConfig
    )
    to_codec(TokenCodec, meta["codec"], folder)  # refused here, not at the first sample
    try:
        model = AttentionLSTM(to_config(LSTMConfig, meta["config"], folder))
        model.load_state_dict(weights)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{folder}: weights do not match the stored config ({str(e).splitlines()[0]})"
        ) from None
    return meta, model.to(device), train_state


def train_lstm(
    corpus_source="bach",
    train_cfg: TrainConfig | None = None,
    out=None,
    resume=False,
    device="auto",
    force=False,
    compile=False,
    **options,
) -> Path:
    """Train (or resume) and return the checkpoint folder. See `composer train --help`.

    ``train_cfg`` is the recipe (default: the shipped one); ``options`` are TrainConfig fields to
    change in it (None: unchanged), where ``epochs`` without ``steps`` trains by epochs. A resumed run
    keeps its saved recipe, except for ``steps`` and ``epochs`` given in ``options``. A folder that
    already holds a checkpoint is refused unless ``resume`` or ``force`` is given. Ctrl-C saves the
    checkpoint and raises Interrupted. Under torchrun each process trains on its slice of every
    global batch (composer.training.distributed).
    """
    ranks = distributed.setup(device)
    dev = ranks.device
    given = {k: v for k, v in options.items() if v is not None}
    if given.get("epochs") and "steps" not in given:
        given["steps"] = None
    cfg = replace(train_cfg or TrainConfig(), **given)
    out = Path(out) if out else run_dir("lstm", corpus_source)
    distributed.check_batch(cfg.batch_size, ranks)  # before the lock makes the folder (again on resume)
    # one lock per run: rank 0 holds it for all the processes of a torchrun
    with loop.locked(out) if ranks.main else contextlib.nullcontext():
        loop.check_out_folder(out, resume, force)
        loop.seed_everything(cfg.seed)
        resumed = _resume(out, given, dev) if resume else None
        if resumed:
            cfg = resumed[3]
        distributed.check_batch(cfg.batch_size, ranks)
        data = prepare_data(
            corpus_source, cfg, TokenCodec.from_dict(resumed[0]["codec"]) if resumed else None
        )
        if resumed:
            check_compatible(resumed[0], out / "last", data["corpus"])
            state, model, tensors, _ = resumed
        else:
            state, model = None, build_model(data["codec"], cfg).to(dev)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        if resumed:
            with loop.restoring(out / "last"):
                optimizer_tensors = {k: v for k, v in tensors.items() if k.startswith("state.")}
                optimizer_from_tensors(optimizer, optimizer_tensors, state["optimizers"]["opt"])
                loop.set_rng_state(tensors)
        try:
            return _Run(model, optimizer, data, cfg, out, ranks, state, compile).train()
        finally:
            distributed.finish(ranks)


def _resume(out: Path, given: dict, dev) -> tuple[dict, AttentionLSTM, dict, TrainConfig]:
    """(meta, model, train tensors, config) of ``out/last``; its saved training config wins, except
    for steps and epochs given now."""
    meta, model, tensors = load_lstm(out / "last", with_train_state=True, device=dev)
    with loop.restoring(out / "last"):
        saved = {k: v for k, v in meta["training"].items() if k in TrainConfig.__dataclass_fields__}
        saved["transpose"] = meta["corpus"]["transpose"]
        codec = meta["codec"]  # the truth: the first checkpoints' training configs predate conditioning
        saved.update(normalize_key=codec["normalize_key"], bars_left_cap=codec["bars_left_cap"])
        cfg = TrainConfig(**saved)
        if given.get("steps") or given.get("epochs"):
            cfg.steps, cfg.epochs = given.get("steps"), given.get("epochs")
    return meta, model, tensors, cfg


def build_model(codec: TokenCodec, cfg: TrainConfig) -> AttentionLSTM:
    """A fresh AttentionLSTM for the codec's vocabulary and conditioning, sized by ``cfg``."""
    config = LSTMConfig(
        vocab_sizes=codec.vocab.sizes,
        n_positions=codec.n_positions,
        attention=cfg.attention,
        window=cfg.seq_len,
        dropout=cfg.dropout,
        n_modes=codec.n_modes,
        n_bars_left=codec.n_bars_left,
        **SIZES[cfg.size],
    )
    return AttentionLSTM(config)


def _schedule(data: dict, cfg: TrainConfig) -> tuple[int, int]:
    """(steps per epoch, total steps)."""
    events = stream_length(data["streams"][0]) * len(data["streams"])
    epoch_steps = max(1, events // (cfg.batch_size * cfg.seq_len))
    total = cfg.steps or (cfg.epochs or DEFAULT_EPOCHS) * epoch_steps
    return epoch_steps, total


class _Run:
    """One training run: the loop, its per-epoch validation, and its two checkpoints (best, last)."""

    def __init__(self, model, optimizer, data, cfg: TrainConfig, out: Path, ranks, state, compile=False):
        self.model, self.optimizer, self.data, self.cfg = model, optimizer, data, cfg
        self.out, self.dev, self.ranks = out, ranks.device, ranks
        # self.model is saved and validated; self.forward (DDP and/or compiled) is what trains
        self.forward = distributed.wrap_ddp(distributed.compile_model(model, compile), ranks)
        self.epoch_steps, self.total = _schedule(data, cfg)
        self.step = state["step"] if state else 0
        self.history = state["history"] if state else {"train": [], "validation": []}
        self.stopper = loop.EarlyStopping(cfg.patience, **(state["state"]["early_stopping"] if state else {}))
        self.stopper.patience = cfg.patience
        self.running = state["state"]["running"] if state else []
        self.progress = (
            loop.Progress(self.total, self.step, desc="train lstm") if ranks.main else distributed.Silent()
        )

    def train(self) -> Path:
        """Train up to the total step count or early stop; Ctrl-C saves and exits with status 130."""
        streams = self.data["streams"]
        with loop.interruptible() as flag:
            self.progress.write(
                f"training lstm on {self.data['corpus'].name}: {stream_length(streams[0]):,} events x "
                f"{len(streams)} transpositions, {self.epoch_steps} steps per epoch, "
                f"steps {self.step}->{self.total}, {self.dev}"
                + (f" x {self.ranks.world} processes" if self.ranks.active else "")
            )
            while self.step < self.total and not self.stopper.stop:
                self.running.append(self.train_step())
                self.step += 1
                self.progress.update(self.step, loss=float(np.mean(self.running[-50:])))
                epoch_end = self.step % self.epoch_steps == 0 or self.step == self.total
                if epoch_end:
                    self.validate()
                flag["stop"] = distributed.any_rank(flag["stop"], self.ranks)
                if flag["stop"] and not epoch_end:  # at an epoch's end, validate() saved it
                    self.save_last()
                if flag["stop"]:
                    self.progress.close()
                    loop.stop_interrupted(self.step, self.out)
        self.progress.close()
        if (
            self.ranks.main and not (self.out / "meta.json").exists()
        ):  # no validation ran (cannot happen unless total is 0)
            raise ComposerError(f"no training step ran (total steps {self.total})")
        return self.out

    def train_step(self) -> float:
        """One optimizer step on the batch of the current step; returns its loss per target event.

        Under torchrun this rank trains on its slice of the global batch; its summed loss is divided
        by the global target count times the world size, so DDP's gradient average is the gradient
        of the global per-event mean, as in one process.
        """
        cfg, ranks = self.cfg, self.ranks
        torch.manual_seed(loop.step_seed(cfg.seed, self.step))
        batch = sample_batch(self.data["streams"], self.step, cfg.seed, cfg.batch_size, cfg.seq_len, self.dev)
        x, xctx, y, yctx = (distributed.shard(t, ranks) for t in batch)
        self.model.train()
        with autocast(self.dev):
            logits, _ = self.forward(x, xctx[..., 0], y, yctx[..., 0], cond=xctx[..., 1:])
        n = distributed.all_sum((y[..., 0] != -100).sum(), ranks).clamp(min=1)
        total = sum(nll_per_stream(logits, y).values())
        loss = total / n * ranks.world
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return (distributed.all_sum(total.float(), ranks) / n).item()

    def validate(self) -> None:
        """End of an epoch: validation loss, history, the best checkpoint and the loss curve."""
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
        if best and self.ranks.main:
            save_checkpoint(self.out, self.meta(), self.model.state_dict())
        if self.ranks.main:
            loop.write_loss_curve(self.history, self.out)  # every epoch: the curve goes on past the best

    def save_last(self) -> None:
        """``out/last``: the latest weights with optimizer and RNG state, which --resume continues."""
        if not self.ranks.main:
            return
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
            "history": self.history,
            "state": {
                "epoch": self.step / self.epoch_steps,
                "early_stopping": {
                    "best": stopper.best if math.isfinite(stopper.best) else 1e30,
                    "bad": stopper.bad,
                },
                "running": self.running,
            },
        }
        if optimizer is not None:
            state["optimizers"] = {"opt": optimizer}
        return build_meta(self.data, self.model.config, self.cfg, state)
