"""`composer evaluate`: a model's likelihood on a corpus split, or music metrics of composed files."""

from __future__ import annotations

import json

import click

from composer.commands.common import CHECKPOINT_HELP, MODELS, corpus_source, examples, resolve_checkpoint
from composer.errors import ComposerError

SPLITS = ("train", "validation", "test")


@click.command(
    epilog=examples(
        "composer evaluate --checkpoint runs/lstm-bach --split test",
        "composer evaluate out.mid gan.mid --reference bach --nearest",
    )
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--model", type=click.Choice(MODELS), default="lstm", show_default=True)
@click.option("--checkpoint", default=None, help=CHECKPOINT_HELP)
@click.option("--corpus", "corpus_source", default="bach", show_default=True, callback=corpus_source)
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True)
@click.option("--baseline-checkpoint", default=None, help="No-attention LSTM (default: the shipped one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--reference",
    default="bach",
    show_default=True,
    callback=corpus_source,
    help="With FILES: corpus to compare against.",
)
@click.option(
    "--nearest",
    is_flag=True,
    help="With FILES: longest four-voice copy of a reference piece (any offset or key).",
)
def evaluate(files: tuple[str, ...], model: str, as_json: bool, reference: str, nearest: bool, **opts):
    """Per-event NLL (nats) and accuracy of a model on a corpus split, against n-gram baselines.

    With FILES: music metrics (UPC, QN, tonal distance, ...) and the chorale group (parallels, ranges,
    cadences, ...) of the files against --reference.
    """
    if files:
        from composer.evaluate.compare import evaluate_scores, format_comparison
        from composer.midi_io import read_midi

        report = evaluate_scores([read_midi(f) for f in files], reference, nearest)
        click.echo(json.dumps(report, indent=1) if as_json else format_comparison(report))
        return
    if model != "lstm":
        raise ComposerError(
            f"--model {model} has no likelihood to measure; compose files and score them instead: "
            "composer evaluate FILE.mid... --reference bach"
        )
    from composer.commands.common import set_torch_threads
    from composer.evaluate.likelihood import evaluate_lstm, format_likelihood

    set_torch_threads()
    opts["checkpoint"] = resolve_checkpoint(opts["checkpoint"], model)
    report = evaluate_lstm(**opts)
    click.echo(json.dumps(report, indent=1) if as_json else format_likelihood(report))
