"""Training of the harmonizer: cross-entropy of the free voices given the fixed one, on whole chorales.

Every 4/4 and 3/4 chorale of the training split is one sequence (key-normalized, soprano fixed).
Batches are drawn from a generator keyed by (seed, step), and dropout is seeded per step, so a resumed
run repeats the uninterrupted one exactly. The folder holds the best-validation weights (what
`composer harmonize` reads) and ``last/``, the latest state with optimizer, which ``resume`` continues.

The shipped checkpoint's recipe is the defaults of TrainConfig: ``composer train --model
harmonizer`` (2200 steps of 8 chorales, AdamW at 3e-3 with a cosine decay, dropout 0.2; about 40
minutes on one thread of the shared 2-core box).
"""

from __future__ import annotations

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
from composer.corpora import load_corpus
from composer.errors import CheckpointError
from composer.models.harmonizer import SIZES, Harmonizer, HarmonizerConfig, TrainConfig
from composer.paths import run_dir
from composer.representations.harmony_grid import METERS, N_SPECIAL, HarmonyGrid, normalize
from composer.training import loop

KIND = "harmonizer"


def fit_grid(pieces, margin: int = 2) -> HarmonyGrid:
    """A grid whose pitch table covers every voice of ``pieces`` (moved to C), with a margin."""
    pitches = [n.pitch for p in pieces for t in normalize(p)[0].tracks for n in t.notes]
    return HarmonyGrid(pitch_lo=min(pitches) - margin, pitch_hi=max(pitches) + margin)


def usable(pieces):
    """Four-voice chorales in a meter the grid numbers (4/4, 3/4)."""
    return [p for p in pieces if len(p.tracks) == 4 and tuple(p.time_signature) in METERS]


def prepare_data(corpus_source: str = "bach", seed: int = 0, grid: HarmonyGrid | None = None) -> dict:
    corpus = load_corpus(corpus_source, seed=seed)
    train = usable(corpus.split("train"))
    grid = grid or fit_grid(train)
    return {
        "corpus": corpus,
        "grid": grid,
        "train": [grid.encode(p) for p in train],
        "validation": [grid.encode(p) for p in usable(corpus.split("validation"))],
    }


def to_batch(items: list[dict]) -> tuple[torch.Tensor, ...]:
    """Pieces padded to the longest: fixed (B, T, 2), context (B, T, 3), state (B, T, 3, 2), targets
    (B, T, 3), mask (B, T) true inside each fixed voice's span."""
    T = max(len(it["targets"]) for it in items)
    B = len(items)
    fixed = np.zeros((B, T, 2), np.int64)
    ctx = np.zeros((B, T, 3), np.int64)
    state = np.zeros((B, T, 3, 2), np.int64)
    targets = np.zeros((B, T, 3), np.int64)
    mask = np.zeros((B, T), bool)
    for b, it in enumerate(items):
        n = len(it["targets"])
        fixed[b, :n], ctx[b, :n], state[b, :n], targets[b, :n] = (
            it["fixed"],
            it["context"],
            it["state"],
            it["targets"],
        )
        mask[b, it["span"][0] : min(it["span"][1], n)] = True
    return tuple(torch.from_numpy(a) for a in (fixed, ctx, state, targets, mask))


def nll(model: Harmonizer, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(summed NLL in nats over masked steps and voices, masked voice-steps, notes struck there)."""
    fixed, ctx, state, targets, mask = batch
    logits = model(fixed, ctx, state)  # (B, T, 3, V)
    ce = torch.nn.functional.cross_entropy(logits.flatten(0, 2), targets.flatten(), reduction="none")
    m = mask[..., None].expand_as(targets).flatten()
    notes = ((targets >= N_SPECIAL) & mask[..., None]).sum()
    return (ce * m).sum(), m.sum(), notes


@torch.no_grad()
def evaluate(model: Harmonizer, items: list[dict], batch_size: int = 8) -> dict:
    """NLL of the free voices given the fixed one: nats per voice-step and per note struck."""
    model.eval()
    total = steps = notes = 0.0
    for i in range(0, len(items), batch_size):
        s, n, k = nll(model, to_batch(items[i : i + batch_size]))
        total, steps, notes = total + float(s), steps + int(n), notes + int(k)
    model.train()
    return {"nll_per_step": total / max(steps, 1), "nll_per_note": total / max(notes, 1), "notes": int(notes)}


def build_meta(data: dict, config: HarmonizerConfig, cfg: TrainConfig, state: dict) -> dict:
    """The checkpoint's metadata (format 2, composer.checkpoint_meta); ``state`` holds step, history
    and the loop's state."""
    corpus = {"name": data["corpus"].name, "fingerprint": loop.corpus_fingerprint(data["corpus"])}
    music = {"bpm": 100.0, "program": 52}
    return to_meta(KIND, config, data["grid"], cfg, corpus=corpus, music=music, **state)


def train_harmonizer(
    corpus_source: str = "bach",
    train_cfg: TrainConfig | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    **options,
) -> Path:
    """Train (or resume) a harmonizer; returns the checkpoint folder (default runs/harmonizer-<corpus>).

    ``train_cfg`` is the recipe (default: the shipped one), ``options`` TrainConfig fields to change in
    it (None: unchanged). A resumed run keeps its saved recipe, except for ``steps`` and
    ``stop_after`` given in ``options``. Ctrl-C saves and raises Interrupted.
    """
    folder = Path(out) if out else run_dir(KIND, corpus_source)
    given = {k: v for k, v in options.items() if v is not None}
    cfg = replace(train_cfg or TrainConfig(), **given)
    loop.check_out_folder(folder, resume, force)
    if resume:
        meta, weights, train_state = load_checkpoint(
            folder / "last", with_train_state=True, kind=KIND, like=Harmonizer, config=HarmonizerConfig
        )
        kept = {k: v for k, v in given.items() if k in ("steps", "stop_after")}
        cfg = to_config(TrainConfig, {**meta["training"], "stop_after": 0, **kept}, folder, "training")
        grid = to_codec(HarmonyGrid, meta["codec"], folder)
    else:
        grid, meta = None, None
    data = prepare_data(corpus_source, cfg.seed, grid)
    if meta is not None:
        loop.check_corpus(meta, folder, data["corpus"])
    config = HarmonizerConfig(
        n_tokens=data["grid"].n_tokens,
        n_sounding=data["grid"].n_sounding,
        n_positions=data["grid"].n_positions,
        n_left=data["grid"].bars_left_cap + 1,
        **SIZES[cfg.size],
    )
    loop.seed_everything(cfg.seed)
    model = Harmonizer(config)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    step, history, best = 0, {"train": [], "validation": []}, math.inf
    if meta is not None:
        model.load_state_dict(weights)
        optimizer_from_tensors(opt, train_state, meta["optimizers"]["opt"])
        loop.set_rng_state(train_state)
        step, history, best = meta["step"], meta["history"], meta["state"]["best"]
    progress = loop.Progress(cfg.steps, step, desc="harmonizer")
    running = []
    with loop.interruptible() as flag:
        stop = cfg.stop_after or cfg.steps
        while step < min(stop, cfg.steps) and not flag["stop"]:
            torch.manual_seed(loop.step_seed(cfg.seed, step))
            lr = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))  # cosine to zero
            for g in opt.param_groups:
                g["lr"] = lr
            rng = np.random.default_rng([cfg.seed, step, 1])
            items = [data["train"][i] for i in rng.choice(len(data["train"]), cfg.batch_size, replace=False)]
            total, count, _ = nll(model, to_batch(items))
            loss = total / count
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            running.append(loss.item())
            progress.update(step, loss=float(np.mean(running[-20:])))
            if step % cfg.eval_every == 0 or step in (stop, cfg.steps) or flag["stop"]:
                val = evaluate(model, data["validation"])
                history["train"].append(float(np.mean(running)))
                history["validation"].append(val["nll_per_step"])
                running = []
                progress.write(
                    f"step {step} validation {val['nll_per_step']:.4f} nats/step, {val['nll_per_note']:.3f}/note"
                )
                state = {
                    "step": step,
                    "history": history,
                    "state": {"best": min(best, val["nll_per_step"]), "validation": val},
                }
                if val["nll_per_step"] < best:
                    best = state["state"]["best"]
                    save_checkpoint(folder, build_meta(data, config, cfg, state), model.state_dict())
                tensors, info = optimizer_to_tensors(opt)
                save_checkpoint(
                    folder / "last",
                    {**build_meta(data, config, cfg, state), "optimizers": {"opt": info}},
                    model.state_dict(),
                    {**tensors, **loop.rng_state()},
                )
    progress.close()
    if flag["stop"]:
        loop.stop_interrupted(step, folder)
    if not (folder / "meta.json").exists():
        raise CheckpointError(f"{folder}: training ended before a checkpoint was saved")
    return folder
