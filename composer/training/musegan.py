"""WGAN-GP training of the MuseGAN: `composer train --model musegan`.

Five critic steps per generator step, gradient-penalty weight 10, Adam (betas 0.5, 0.9). The data
are phrases cut by a RollCodec fitted on the training split (hold and onset channels, keys moved to
one tonic); both networks are conditioned on "last phrase of the piece", and a quarter of every
batch is such an ending. Every random draw of a step (batches, latents, conditions, penalty mixing
weights) is derived from (seed, step), so a resumed run repeats the uninterrupted one exactly. The
generator's weights go to the checkpoint's model file; the critic's weights and both optimizers go
to its train-state file; the codec goes into its metadata. A folder that already holds a checkpoint
is refused unless resuming or forced; Ctrl-C saves, prints one line and exits with status 130.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from dataclasses import replace
from pathlib import Path

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
from composer.corpora.sharded import ShardedCorpus, open_corpus
from composer.device import autocast
from composer.errors import ComposerError
from composer.models.musegan import (
    SIZES,
    Critic,
    Generator,
    MuseGANConfig,
    TrainConfig,
    gradient_penalty,
    sample_latents,
)
from composer.paths import run_dir
from composer.representations.pianoroll import RollCodec
from composer.training import distributed, loop
from composer.training.loop import Progress, interruptible, step_seed, write_loss_curve
from composer.training.musegan_data import PhraseStream, batch_indices, to_phrases

GP_WEIGHT = TrainConfig.gp_weight  # the shipped recipe's; a run's own are in its meta["training"]
CRITIC_STEPS = TrainConfig.critic_steps
FIT_PIECES = 300  # training pieces the RollCodec is fitted on (as many as bach's 280)
HISTORY_KEYS = ("critic", "generator", "gp")


class Divergence(ComposerError):
    """A NaN or infinite loss."""


def train_musegan(
    corpus_source: str = "bach",
    train_cfg: TrainConfig | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    device: str = "auto",
    compile: bool = False,
    **options,
) -> Path:
    """Train (or resume) a MuseGAN and return its checkpoint folder.

    ``train_cfg`` is the recipe (default: the shipped one), ``options`` fields of it to change (None:
    unchanged). ``steps`` counts generator steps in total (a resumed run trains up to it). A resumed
    run keeps its saved seed, learning rate, batch size and codec, and must be given the corpus it was
    trained on.
    ``force`` allows training a new model into a folder that holds a checkpoint. Ctrl-C saves and
    raises Interrupted; a NaN/inf loss stops with a ComposerError and leaves the last good checkpoint
    in place. Under torchrun each process trains on its slice of every global batch and gradients
    are averaged over processes (see ``train_step``).
    """
    tc = replace(train_cfg or TrainConfig(), **{k: v for k, v in options.items() if v is not None})
    seed, lr, batch_size = tc.seed, tc.lr, tc.batch_size
    ranks = distributed.setup(device)
    dev = ranks.device
    folder = Path(out) if out else run_dir("musegan", corpus_source)
    distributed.check_batch(batch_size, ranks)  # before the lock makes the folder (again on resume)
    # one lock per run: rank 0 holds it for all the processes of a torchrun
    with loop.locked(folder) if ranks.main else contextlib.nullcontext():
        loop.check_out_folder(folder, resume, force)
        state = None
        if resume:
            meta, model_state, state = load_checkpoint(
                folder, with_train_state=True, kind="musegan", like=Generator, config=MuseGANConfig
            )
            with loop.restoring(folder):
                cfg, codec = (
                    to_config(MuseGANConfig, meta["config"], folder),
                    to_codec(RollCodec, meta["codec"], folder),
                )
                tr = meta["training"]
                meta.setdefault("state", {}).setdefault("seconds", 0.0)
                seed, lr, batch_size = tr["seed"], tr["lr"], tr["batch_size"]
            corpus = open_corpus(corpus_source, seed=seed)
            loop.check_corpus(meta, folder, corpus)
        else:
            corpus = open_corpus(corpus_source, seed=seed)
            try:
                codec = RollCodec.fit(corpus.split("train")[:FIT_PIECES], n_tracks=tc.tracks)
            except ValueError as e:
                raise ComposerError(f"{corpus_source}: {e} in its training split") from None
            cfg = MuseGANConfig(
                n_tracks=tc.tracks,
                n_bars=tc.phrase_bars,
                steps_per_bar=codec.steps_per_bar,
                n_pitches=codec.n_pitches,
                z_dim=tc.z_dim,
                width=tc.width or SIZES[tc.size],
                n_channels=len(codec.channels),
                n_conditions=1,
            )
            meta = _new_meta(cfg, codec, corpus, corpus_source, tc)
        distributed.check_batch(batch_size, ranks)
        if isinstance(corpus, ShardedCorpus):  # a folder: phrases read from the memory map per batch
            rolls = PhraseStream(codec, corpus.split("train"), cfg.n_bars)
            data, last = (rolls, torch.from_numpy(rolls.last)), rolls.last
        else:
            rolls, last = to_phrases(codec, corpus.split("train"), cfg.n_bars)
            data = (torch.from_numpy(rolls), torch.from_numpy(last))
        meta["corpus"]["phrases"], meta["corpus"]["last_phrases"] = len(rolls), int(last.sum())
        torch.manual_seed(seed)  # weight init; later draws are step-derived
        gen, critic = distributed.sync_batchnorm(Generator(cfg), ranks).to(dev), Critic(cfg).to(dev)
        opt_g = torch.optim.Adam(gen.parameters(), lr=lr, betas=(0.5, 0.9))
        opt_c = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))
        if state is not None:
            with loop.restoring(folder):
                _restore(gen, critic, opt_g, opt_c, model_state, state, meta)
        for module in (gen, critic):
            distributed.broadcast_module(module, ranks)
        distributed.compile_model(gen, compile)  # the critic's penalty needs a double backward: left eager
        try:
            _loop(gen, critic, opt_g, opt_c, data, meta, folder, dev, tc, ranks)
        finally:
            distributed.finish(ranks)
        return folder


def _new_meta(cfg, codec, corpus, source, tc: TrainConfig) -> dict:
    """The metadata of a new run (format 2, composer.checkpoint_meta), at step 0."""
    corpus_info = {
        "source": str(source),
        "name": corpus.name,
        "fingerprint": loop.corpus_fingerprint(corpus),
        "split": "train",
        **corpus.settings,
    }
    training = {
        "seed": tc.seed,
        "lr": tc.lr,
        "batch_size": tc.batch_size,
        "critic_steps": tc.critic_steps,
        "gp_weight": tc.gp_weight,
        "adam_betas": [0.5, 0.9],
    }
    history = {k: [] for k in HISTORY_KEYS}
    # every random draw is derived from (seed, step) (training.loop.step_seed): no RNG state to keep
    state = {"seconds": 0.0}
    return to_meta("musegan", cfg, codec, training, step=0, history=history, corpus=corpus_info, state=state)


def _restore(gen, critic, opt_g, opt_c, model_state, state, meta) -> None:
    gen.load_state_dict(model_state)
    critic.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("critic.")})
    for prefix, opt in (("opt_g.", opt_g), ("opt_c.", opt_c)):
        tensors = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        optimizer_from_tensors(opt, tensors, meta["optimizers"][prefix[:-1]])


def save_musegan(folder, meta, gen, critic, opt_g, opt_c) -> None:
    """One atomic checkpoint: generator weights; critic and optimizer states for --resume."""
    train_state = {f"critic.{k}": v for k, v in critic.state_dict().items()}
    meta["optimizers"] = {}  # the JSON part of each optimizer; its tensors go to the optimizer file
    for name, opt in (("opt_g", opt_g), ("opt_c", opt_c)):
        tensors, info = optimizer_to_tensors(opt)
        train_state.update({f"{name}.{k}": v for k, v in tensors.items()})
        meta["optimizers"][name] = info
    save_checkpoint(folder, meta, gen.state_dict(), train_state)


def train_step(
    gen,
    critic,
    opt_g,
    opt_c,
    data,
    cfg,
    batch_size,
    seed,
    step,
    dev,
    ranks=None,
    critic_steps: int = CRITIC_STEPS,
    gp_weight: float = GP_WEIGHT,
) -> dict[str, float]:
    """One generator step after ``critic_steps`` critic steps, with penalty weight ``gp_weight``.
    Returns the losses of the last critic step.

    Under torchrun (``ranks``) every rank draws the global batch, latents and mixing weights as one
    process would and keeps its slice. The penalty is computed per sample on the local slice (its
    double backward stays inside this process: DistributedDataParallel's hooks do not support
    ``autograd.grad``), and gradients are then averaged over ranks explicitly. Every term of the
    critic and generator losses is a mean over samples, so with equal slices the average of the
    local gradients is exactly the gradient of the global mean, up to float summation order.

    ``data`` is (rolls, last): rolls (N, bars, steps, pitches, tracks, channels) bool, last (N,)
    bool. The critic sees each real phrase with its own last-phrase flag, and fakes drawn with the
    same flags; the generator step draws its flags with the same share of endings.
    """
    rolls, last = data
    ranks = ranks or distributed.Ranks(device=dev)
    mine = functools.partial(distributed.shard, ranks=ranks)
    g = torch.Generator().manual_seed(step_seed(seed, step))
    for k in range(critic_steps):
        idx = mine(torch.from_numpy(batch_indices(last.numpy(), batch_size, seed, step, k)))
        real = rolls[idx].to(dev).float() * 2 - 1  # (B, bars, steps, pitches, tracks, ch) in {-1, 1}
        cond = _condition(last[idx], cfg).to(dev)  # (B, n_conditions)
        z = {key: mine(v).to(dev) for key, v in sample_latents(cfg, batch_size, g).items()}
        eps = mine(torch.rand(batch_size, generator=g)).to(dev)
        with autocast(dev):
            with torch.no_grad():
                fake = gen(**z, condition=cond)
            w_dist = critic(real, cond).mean() - critic(fake, cond).mean()
            gp = gradient_penalty(critic, real, fake.float(), eps, cond)
            loss_c = -w_dist + gp_weight * gp
        opt_c.zero_grad(set_to_none=True)
        loss_c.backward()
        distributed.average_gradients(critic, ranks)
        opt_c.step()
    z = {key: mine(v).to(dev) for key, v in sample_latents(cfg, batch_size, g).items()}
    with autocast(dev):
        loss_g = -critic(gen(**z, condition=cond), cond).mean()
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    distributed.average_gradients(gen, ranks)
    opt_g.step()
    return distributed.all_mean({"critic": loss_c.item(), "generator": loss_g.item(), "gp": gp.item()}, ranks)


def _condition(last: torch.Tensor, cfg: MuseGANConfig) -> torch.Tensor:
    """The condition input (B, n_conditions): the last-phrase flag as 0/1, or (B, 0) without one."""
    return last.float().view(-1, 1)[:, : cfg.n_conditions]


def _loop(gen, critic, opt_g, opt_c, data, meta, folder, dev, tc: TrainConfig, ranks) -> None:
    """Train up to ``tc.steps``, saving every ``tc.save_every`` steps (rank 0 only); Ctrl-C saves and
    raises Interrupted."""
    steps, sample_every, save_every = tc.steps, tc.sample_every, tc.save_every
    cfg, tr = MuseGANConfig.from_dict(meta["config"]), meta["training"]
    progress = Progress(steps, initial=meta["step"], desc="musegan") if ranks.main else distributed.Silent()
    save = (
        functools.partial(save_musegan, folder, meta, gen, critic, opt_g, opt_c) if ranks.main else _nothing
    )
    gen.train()
    critic.train()
    t0, done = time.perf_counter(), meta["step"]
    last_saved = meta["step"]
    try:
        with interruptible() as flag:
            progress.write(f"training musegan on {meta['corpus']['name']}: steps {done}->{steps}, {dev}")
            while meta["step"] < steps and not flag["stop"]:
                step = meta["step"] + 1
                losses = train_step(
                    gen, critic, opt_g, opt_c, data, cfg, tr["batch_size"], tr["seed"], step, dev, ranks,
                    tr["critic_steps"], tr["gp_weight"],  # the run's own: saved, so a resume keeps them
                )  # fmt: skip
                bad = [k for k, v in losses.items() if not math.isfinite(v)]
                if bad:
                    raise Divergence(
                        f"training diverged at step {step} ({bad[0]} loss {losses[bad[0]]}); "
                        f"kept the last good checkpoint in {folder} (step {last_saved})"
                    )
                for k in HISTORY_KEYS:
                    meta["history"][k].append(round(losses[k], 5))
                meta["step"] = step
                progress.update(step, critic=losses["critic"], gen=losses["generator"], gp=losses["gp"])
                flag["stop"] = distributed.any_rank(flag["stop"], ranks)
                if sample_every and step % sample_every == 0 and ranks.main:
                    write_samples(gen, meta, folder, dev)
                    gen.train()
                if step % save_every == 0 or step == steps or flag["stop"]:
                    meta["state"]["seconds"] = round(meta["state"]["seconds"] + time.perf_counter() - t0, 2)
                    t0 = time.perf_counter()
                    save()
                    last_saved = step
    finally:
        progress.close()
    if meta["step"] > done and ranks.main:
        write_loss_curve(meta["history"], folder, xlabel="generator step")
    if flag["stop"]:
        if meta["step"] == done:  # stopped before its first step: still leave a resumable checkpoint
            save()
        loop.stop_interrupted(meta["step"], folder)
    if meta["step"] > done:
        progress.write(f"musegan: step {meta['step']}, checkpoint in {folder}")


def _nothing() -> None:
    """What ranks other than 0 do instead of saving."""


def write_samples(gen, meta, folder, dev, n: int = 2) -> Path:
    """Piano-roll PNG of ``n`` phrases from fixed latents (the same at every step), in samples/;
    with a last-phrase condition, the second phrase of each pair is drawn as an ending."""
    from composer.plots import plot_pianoroll

    cfg, codec = MuseGANConfig.from_dict(meta["config"]), RollCodec.from_dict(meta["codec"])
    gen.eval()
    z = sample_latents(cfg, n, torch.Generator().manual_seed(meta["training"]["seed"]))
    cond = _condition(torch.arange(n) % 2 == 1, cfg)
    with torch.no_grad():
        roll = gen(**{k: v.to(dev) for k, v in z.items()}, condition=cond.to(dev)).float().cpu().numpy()
    roll = roll.reshape(-1, *roll.shape[2:])  # (n * bars, S, P, T, C): the phrases one after another
    path = Path(folder) / "samples" / f"step-{meta['step']:06d}.png"
    path.parent.mkdir(exist_ok=True)  # the run's own folder; outputs elsewhere never make folders
    plot_pianoroll(codec.decode(roll), path, title=f"fixed-latent samples, step {meta['step']}")
    return path
