"""The `composer` command: a click group; each command parses its options, calls the library, prints.

Heavy modules (torch, music21, matplotlib) are imported inside the commands that need them, so that
`composer --help` and a cold `composer generate` start fast. Any ComposerError becomes one line on
stderr and exit status 2.
"""

from __future__ import annotations

import json

import click

from composer import __version__
from composer.errors import ComposerError


class ComposerGroup(click.Group):
    """A click group that turns ComposerError into one line and exit status 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ComposerError as e:
            click.echo(f"composer: error: {e}", err=True)
            ctx.exit(2)


@click.group(cls=ComposerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="composer")
def main() -> None:
    """Learn music from Bach chorales or MIDI folders, and compose it."""


@main.group()
def corpus() -> None:
    """Inspect a corpus: "bach" (music21's chorales) or a folder of MIDI files."""


@corpus.command("info")
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a summary.")
@click.option("--seed", default=0, show_default=True, help="Seed of the train/validation/test split.")
@click.option("--no-cache", is_flag=True, help="Prepare the corpus again even if a fresh cache exists.")
def corpus_info(source: str, as_json: bool, seed: int, no_cache: bool) -> None:
    """Pieces, notes, tokens, vocabulary sizes, split sizes and skipped files of SOURCE."""
    from composer.corpora import load_corpus

    info = load_corpus(source, seed=seed, use_cache=not no_cache).info()
    if as_json:
        click.echo(json.dumps(info, indent=1))
        return
    split = info["split"]
    click.echo(f"corpus      {info['corpus']}")
    click.echo(f"pieces      {info['pieces']}  (skipped {len(info['skipped'])})")
    click.echo(f"notes       {info['notes']:,}")
    click.echo(f"tokens      {info['tokens']:,}  (OOV on test split {info['oov_rate_test']:.3%})")
    click.echo("vocab       " + ", ".join(f"{k} {v}" for k, v in info["vocab"].items()))
    click.echo(f"split       train {split['train']}, validation {split['validation']}, test {split['test']}")
    click.echo(f"meters      {', '.join(info['time_signatures'])}")
    for s in info["skipped"]:
        click.echo(f"skipped     {s['path']}: {s['reason']}")


@main.command()
@click.argument("midi_file", type=click.Path(dir_okay=False))
@click.option(
    "--png",
    "png",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the picture.",
)
def render(midi_file: str, png: str) -> None:
    """Draw MIDI_FILE as a piano roll: one colour per track, bar lines marked."""
    from composer.midi_io import read_midi
    from composer.plots import plot_pianoroll

    plot_pianoroll(read_midi(midi_file), png)
    click.echo(f"wrote {png}", err=True)
