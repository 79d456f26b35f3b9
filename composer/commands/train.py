"""`composer train`: its options are derived from each model's TrainConfig (composer.models.*).

Every field made with ``composer.options.option`` becomes a flag (``seq_len`` -> ``--seq-len``) with
its type, range, choices and help. A field several models share is one flag; where their defaults
differ the help lists each. A flag given for a model whose TrainConfig (or trainer) lacks it is an
error. Only the options given on the command line reach the trainer, so the recipe's defaults live
in the dataclasses alone. The configs import torch, so the flags are built when `train` parses or
shows its help, not when `composer` starts.
"""

from __future__ import annotations

import importlib

import click

from composer.commands.common import (
    Finite,
    ModelOption,
    check_model_options,
    corpus_source,
    examples,
    given,
    one_line,
    set_torch_threads,
)
from composer.errors import ComposerError

# model -> (module under composer.models holding its TrainConfig, trainer "module:function")
TRAINERS = {
    "lstm": ("attention_lstm", "composer.training.lstm:train_lstm"),
    "musegan": ("musegan", "composer.training.musegan:train_musegan"),
    "harmonizer": ("harmonizer", "composer.training.harmonizer:train_harmonizer"),
}
# run controls, not part of a recipe: only the trainers whose signature takes them accept them
RUN_OPTIONS = ("device", "compile")


def train_configs() -> dict[str, type]:
    """Each model's TrainConfig class."""
    return {
        m: importlib.import_module(f"composer.models.{mod}").TrainConfig for m, (mod, _) in TRAINERS.items()
    }


def trainer(model: str):
    module, name = TRAINERS[model][1].split(":")
    return getattr(importlib.import_module(module), name)


def config_options(configs: dict[str, type]) -> list[click.Option]:
    """One click option per CLI field name over all configs, in first-declared order."""
    from composer.options import option_fields

    owners: dict[str, list] = {}
    for model, cls in configs.items():
        for f in option_fields(cls):
            if f.metadata["option"]["cli"]:
                owners.setdefault(f.name, []).append((model, cls, f))
    return [_option(name, entries) for name, entries in owners.items()]


def _option(name: str, entries: list) -> click.Option:
    """The option of field ``name``, declared by (model, config class, field) ``entries``."""
    from composer.options import field_type

    model, cls, f = entries[0]
    meta, kind = f.metadata["option"], field_type(cls, f)
    defaults = {m: fld.default for m, _, fld in entries}
    shared = len(set(map(repr, defaults.values()))) == 1
    flag = "--" + name.replace("_", "-")
    help_text = meta["help"] if len(entries) == len(TRAINERS) else f"{'/'.join(defaults)}: {meta['help']}"
    if not shared:
        help_text += " [" + ", ".join(f"{m} {_shown(d)}" for m, d in defaults.items()) + "]"
    elif f.default is None:
        shared = False
    kwargs = {
        "default": f.default if shared else None,
        "show_default": shared,
        "help": help_text,
        "models": tuple(defaults),
    }
    if kind is bool:
        return ModelOption([f"{flag}/--no-{flag[2:]}", name], **kwargs)
    return ModelOption([flag, name], type=_click_type(kind, meta, entries), **kwargs)


def _click_type(kind: type, meta: dict, entries: list) -> click.ParamType:
    low, high = meta["low"], meta["high"]
    if kind is int:
        return click.IntRange(low, high)
    if kind is float:
        inf = float("inf")
        lo, hi = -inf if low is None else low, inf if high is None else high
        return Finite(lo, hi, low_open=meta["low_open"], high_open=meta["high_open"])
    if meta["choices"]:
        choices = [c for _, _, f in entries for c in f.metadata["option"]["choices"]]
        return click.Choice(list(dict.fromkeys(choices)))
    return click.STRING


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class TrainCommand(click.Command):
    """`train`, whose config options are added on first use (importing the configs imports torch)."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if not any(isinstance(p, ModelOption) for p in self.params):
            self.params.extend(config_options(train_configs()))
        return super().get_params(ctx)


@click.command(
    cls=TrainCommand,
    epilog=examples(
        "composer train --corpus bach              # writes runs/lstm-bach",
        "composer train --corpus ~/midi --model musegan --out runs/my-gan",
        "composer train --model harmonizer         # writes runs/harmonizer-bach",
        "composer train --resume --out runs/lstm-bach",
    ),
)
@click.option(
    "--model", type=click.Choice(list(TRAINERS)), default="lstm", show_default=True, help="Model to train."
)
@click.option(
    "--corpus",
    "corpus_source",
    default="bach",
    show_default=True,
    callback=corpus_source,
    help='"bach" or a MIDI folder.',
)
@click.option("--out", "out", default=None, help="Checkpoint folder (default runs/<model>-<corpus>).")
@click.option("--resume", is_flag=True, help="Continue training from the checkpoint in --out.")
@click.option("--force", is_flag=True, help="Overwrite a checkpoint already in --out.")
@click.option(
    "--device", default="auto", show_default=True, help="auto (cuda, then mps, then cpu), cuda, mps or cpu."
)
@click.option("--compile", is_flag=True, help="torch.compile the model (off by default).")
@click.pass_context
def train(ctx: click.Context, model: str, corpus_source: str, out, resume: bool, force: bool, **_) -> None:
    """Train a model on a corpus; checkpoints, loss curve and progress as it goes."""
    accepts = _parameters(model)
    _check_options(ctx, model, accepts)
    fields = [p.name for p in ctx.command.params if isinstance(p, ModelOption) and model in p.models]
    options = given(ctx, fields + [n for n in RUN_OPTIONS if n in accepts])
    train_configs()[model](**{k: v for k, v in options.items() if k in fields})  # bad values: before any work
    _check_world(ctx, options.get("batch_size") or train_configs()[model].batch_size)
    set_torch_threads(ctx.params["device"] if "device" in accepts else "cpu")
    if _rank() == 0:
        out = _start_training(model, corpus_source, out, resume, force)
    try:
        folder = trainer(model)(corpus_source, out=out, resume=resume, force=force, **options)
    except ComposerError:
        if _rank() != 0:  # under torchrun every rank meets the same error: rank 0 alone says so
            ctx.exit(2)
        raise
    if _rank() == 0:
        click.echo(f"wrote {one_line(folder)}; compose with it:", err=True)
        click.echo(f"  {_compose_command(model, folder)}", err=True)


def _check_options(ctx: click.Context, model: str, accepts: set[str]) -> None:
    """Refuse a config option of another model, or a run control this model's trainer lacks."""
    check_model_options(ctx, model)
    for name in RUN_OPTIONS:
        if name not in accepts and given(ctx, [name]):
            owners = " or ".join(f"--model {m}" for m in TRAINERS if name in _parameters(m))
            raise ComposerError(f"--{name} applies to {owners}, not --model {model}")


def _parameters(model: str) -> set[str]:
    """The parameter names of ``model``'s trainer."""
    import inspect

    return set(inspect.signature(trainer(model)).parameters)


def _check_world(ctx: click.Context, batch: int) -> None:
    """Under torchrun, a batch the world size does not divide: refused before any process group,
    folder or corpus, with one line and exit status 2 from rank 0. The other ranks exit 0 without a
    word: a rank that failed first would make torchrun SIGTERM rank 0 before it could say why."""
    from composer.training.distributed import check_world

    try:
        check_world(batch)
    except ComposerError:
        if _rank() != 0:
            ctx.exit(0)
        raise


def _rank() -> int:
    """This process's rank under torchrun; 0 otherwise."""
    import os

    return int(os.environ.get("RANK", "0") or 0)


def _start_training(model: str, source: str, out, resume: bool, force: bool):
    """The training folder (--out, else runs/<model>-<corpus>), checked and announced before any work."""
    from pathlib import Path

    from composer.paths import run_dir
    from composer.training.loop import check_out_folder

    out = Path(out) if out else run_dir(model, source)
    check_out_folder(out, resume, force)
    click.echo(f"{'resuming' if resume else 'training'} {model}: writing to {out}", err=True)
    return out


def _compose_command(model: str, folder) -> str:
    """The exact command line that composes with a trained checkpoint."""
    import shlex

    where = shlex.quote(str(folder))
    if model == "harmonizer":
        return f"composer harmonize tune.mid --checkpoint {where} -o chorale.mid"
    which = "" if model == "lstm" else f" --model {model}"
    return f"composer generate{which} --checkpoint {where} --bars 8 > out.mid"
