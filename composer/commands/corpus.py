"""`composer corpus`: inspect a corpus (built-in "bach" or a folder of MIDI files), or prepare a
folder as memory-mapped shards (composer.corpora.shards)."""

from __future__ import annotations

import contextlib
import json
import warnings

import click

from composer.commands.common import corpus_source, examples, one_line


@click.group(epilog=examples("composer corpus info bach", "composer corpus info ~/midi --json"))
def corpus() -> None:
    """Inspect a corpus ("bach", music21's chorales, or a folder of MIDI files), or prepare a folder as shards."""


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
        sharded = None if no_cache else _sharded_info(source, seed)
        if sharded is not None and not as_json:
            return _echo_sharded_info(sharded)
        info = sharded or load_corpus(source, seed=seed, use_cache=not no_cache, workers=workers).info()
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


@corpus.command(
    "prepare",
    epilog=examples("composer corpus prepare ~/midi", "composer corpus prepare ~/lakh --workers 16"),
)
@click.argument("folder")
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    default=None,
    help="Processes that read the files [default: every core].",
)
@click.option(
    "--shard-files",
    type=click.IntRange(1, 1_000_000),
    default=1000,
    show_default=True,
    help="Files per shard (a rerun keeps finished shards only with the same value).",
)
def corpus_prepare(folder: str, workers: int | None, shard_files: int) -> None:
    """Prepare a folder of MIDI files as memory-mapped shards that training streams from.

    Shards are written one at a time: an interrupted preparation, run again, keeps the shards it
    finished; a damaged shard is rebuilt.
    """
    from pathlib import Path

    from tqdm import tqdm

    from composer.corpora.shards import prepare_shards, shard_dir

    bar = tqdm(desc="prepare", unit="file", disable=None, dynamic_ncols=True)

    def progress(n: int, total: int) -> None:
        bar.total = total
        bar.update(n)

    with notices_on_stderr():
        try:
            index = prepare_shards(folder, workers=workers, progress=progress, shard_files=shard_files)
        finally:
            bar.close()
    where = shard_dir(Path(index["corpus"]), index["settings"]["resolution"])
    click.echo(
        f"{index['pieces']:,} pieces ({len(index['skipped']):,} skipped), {index['notes']:,} notes in "
        f"{len(index['shards'])} shards ({index['kept_shards']} kept) in {index['prepare_seconds']:.1f} s: "
        f"{one_line(where)}"
    )


def _sharded_info(source: str, seed: int) -> dict | None:
    """`corpus info` of a folder prepared by `corpus prepare` and unchanged since: its index alone."""
    from composer.corpora.sharded import info_of
    from composer.corpora.shards import read_index

    index = read_index(source) if source != "bach" else None
    return None if index is None else info_of(index, seed)


def _echo_sharded_info(info: dict) -> None:
    from composer.errors import show_path

    split = info["split"]
    click.echo(f"corpus      {show_path(info['corpus'])}")
    click.echo(f"pieces      {info['pieces']}  (skipped {len(info['skipped'])})")
    click.echo(f"notes       {info['notes']:,}")
    click.echo(f"tokens      {info['tokens']:,}")
    click.echo(f"shards      {info['shards']}  ({info['shard_bytes'] / 2**20:.1f} MiB, memory-mapped)")
    click.echo(f"split       train {split['train']}, validation {split['validation']}, test {split['test']}")
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
