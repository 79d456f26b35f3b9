"""`composer corpus`: inspect a corpus (built-in "bach" or a folder of MIDI files)."""

from __future__ import annotations

import contextlib
import json
import warnings

import click

from composer.commands.common import corpus_source, examples, one_line


@click.group(epilog=examples("composer corpus info bach", "composer corpus info ~/midi --json"))
def corpus() -> None:
    """Inspect a corpus: "bach" (music21's chorales) or a folder of MIDI files."""


@corpus.command("info", epilog=examples("composer corpus info bach", "composer corpus info ~/midi --json"))
@click.argument("source", callback=corpus_source)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a summary.")
@click.option(
    "--seed",
    type=click.IntRange(0, None),
    default=0,
    show_default=True,
    help="Seed of the train/validation/test split.",
)
@click.option("--no-cache", is_flag=True, help="Prepare the corpus again even if a fresh cache exists.")
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    default=None,
    help="Processes that read a folder's files [default: every core].",
)
def corpus_info(source: str, as_json: bool, seed: int, no_cache: bool, workers: int | None) -> None:
    """Pieces, notes, tokens, vocabulary sizes, split sizes and skipped files of SOURCE."""
    from composer.corpora import load_corpus
    from composer.errors import show_path

    with notices_on_stderr():
        info = load_corpus(source, seed=seed, use_cache=not no_cache, workers=workers).info()
    if as_json:
        click.echo(json.dumps(info, indent=1))  # ensure_ascii: a non-UTF-8 name stays valid JSON
        return
    split = info["split"]
    click.echo(f"corpus      {show_path(info['corpus'])}")
    click.echo(f"pieces      {info['pieces']}  (skipped {len(info['skipped'])})")
    click.echo(f"notes       {info['notes']:,}")
    click.echo(f"tokens      {info['tokens']:,}  (OOV on test split {info['oov_rate_test']:.3%})")
    click.echo("vocab       " + ", ".join(f"{k} {v}" for k, v in info["vocab"].items()))
    click.echo(f"split       train {split['train']}, validation {split['validation']}, test {split['test']}")
    click.echo(f"meters      {', '.join(info['time_signatures'])}")
    for s in info["skipped"]:
        click.echo(f"skipped     {show_path(s['path'])}: {one_line(s['reason'])}")


@contextlib.contextmanager
def notices_on_stderr():
    """The library's notices (a cache entry rebuilt, a cache not written) as one line each on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = lambda message, *args, **kwargs: click.echo(
            f"composer: notice: {one_line(str(message))}", err=True
        )
        yield
