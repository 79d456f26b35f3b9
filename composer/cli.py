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
    """A click group that turns ComposerError, and a bad option of a command, into one line on stderr
    and exit status 2, never a traceback or a usage block."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ComposerError as e:
            click.echo(f"composer: error: {e}", err=True)
            ctx.exit(2)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx else "composer"
            click.echo(f"composer: error: {e.format_message()} (see {where} --help)", err=True)
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
@click.option(
    "--seed",
    type=click.IntRange(0, None),
    default=0,
    show_default=True,
    help="Seed of the train/validation/test split.",
)
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


MODELS = ("lstm", "musegan")
SPLITS = ("train", "validation", "test")


# Options that only one model reads; giving one with the other model is an error, not silently ignored.
ONLY_FOR = {
    "lstm": (
        "epochs",
        "seq_len",
        "transpose",
        "patience",
        "attention",
        "temperature",
        "top_k",
        "top_p",
        "prime",
        "include_prime",
        "attention_png",
        "key",
        "rules",
    ),
    "musegan": ("width", "tracks", "phrase_bars", "sample_every", "vary", "programs"),
}
ONLY_FOR["lstm"] += ("dropout",)


def _check_model_options(ctx: click.Context, model: str) -> None:
    for owner, names in ONLY_FOR.items():
        for name in names:
            if owner != model and name in ctx.params:
                if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT:
                    flag = "--" + name.replace("_", "-")
                    raise ComposerError(f"{flag} applies to --model {owner}, not --model {model}")


def _for_model(opts: dict, model: str) -> dict:
    """The options without those that only another model reads."""
    other = {n for owner, names in ONLY_FOR.items() if owner != model for n in names}
    return {k: v for k, v in opts.items() if k not in other}


API_CHOICES = click.Choice(["auto", "alsa", "jack", "coremidi", "winmm"])


def _port_options(f):
    """--api, --port, --virtual, --clock and --delay: where and how to play (composer.live)."""
    options = [
        click.option("--api", type=API_CHOICES, default="auto", show_default=True, help="MIDI backend."),
        click.option("--port", default=None, help="Existing output port whose name contains this."),
        click.option("--virtual", default=None, help="Create a virtual output port [composer]."),
        click.option("--clock", "send_clock", is_flag=True, help="Send MIDI beat clock with Start/Stop."),
        click.option("--delay", type=click.FloatRange(0, 60), help="Lead-in seconds [1 if virtual, else 0]."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@main.command()
@click.option("--model", type=click.Choice(MODELS), default="lstm", show_default=True, help="Model to train.")
@click.option("--corpus", "corpus_source", default="bach", show_default=True, help='"bach" or a MIDI folder.')
@click.option(
    "--epochs",
    type=click.IntRange(1, None),
    default=None,
    help="Epochs to train (default 30, early stopping).",
)
@click.option(
    "--steps",
    type=click.IntRange(1, None),
    default=None,
    help="Optimizer steps to train (instead of --epochs) [lstm 4000].",
)
@click.option("--batch-size", type=click.IntRange(1, None), default=None, help="[lstm 16, musegan 32]")
@click.option(
    "--lr",
    type=click.FloatRange(0, 10, min_open=True),
    default=None,
    help="Learning rate [lstm 2e-3, musegan 1e-3].",
)
@click.option(
    "--seq-len",
    type=click.IntRange(2, 4096),
    default=None,
    help="Events per training window [128].",
)
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True)
@click.option("--out", "out", default=None, help="Checkpoint folder (default checkpoints/<model>-<corpus>).")
@click.option("--resume", is_flag=True, help="Continue training from the checkpoint in --out.")
@click.option("--force", is_flag=True, help="Overwrite a checkpoint already in --out.")
@click.option(
    "--transpose", type=click.IntRange(0, 11), default=0, show_default=True, help="Augment by ±N semitones."
)
@click.option(
    "--patience",
    type=click.IntRange(1, None),
    default=None,
    help="Epochs of no better validation [12].",
)
@click.option(
    "--device", default="auto", show_default=True, help="auto (cuda, then mps, then cpu), cuda, mps or cpu."
)
@click.option("--compile", is_flag=True, help="torch.compile the model (off by default).")
@click.option(
    "--dropout", type=click.FloatRange(0, 1, max_open=True), default=None, help="LSTM dropout [0.3]."
)
@click.option(
    "--size",
    type=click.Choice(["tiny", "small", "default", "book"]),
    default="default",
    show_default=True,
    help="Model size: default trains on CPU; book is the size in Generative Deep Learning.",
)
@click.option("--attention/--no-attention", default=True, show_default=True, help="Causal attention layer.")
@click.option(
    "--width",
    type=click.FloatRange(0, 4, min_open=True),
    default=None,
    help="MuseGAN width [tiny 1/32, default 1/4].",
)
@click.option(
    "--tracks", type=click.IntRange(1, 16), default=4, show_default=True, help="MuseGAN tracks (voice order)."
)
@click.option("--phrase-bars", type=click.IntRange(2, 16), default=2, help="MuseGAN bars/phrase [2].")
@click.option(
    "--sample-every",
    type=click.IntRange(1, None),
    default=200,
    show_default=True,
    help="MuseGAN sample PNGs.",
)
@click.pass_context
def train(ctx: click.Context, model: str, **opts) -> None:
    """Train a model on a corpus; checkpoints, loss curve and progress as it goes."""
    _check_model_options(ctx, model)
    opts = _for_model(opts, model)
    try:
        folder = _train(model, opts)
    except ComposerError as e:
        if _rank() != 0:  # under torchrun every rank meets the same error: rank 0 alone says so
            ctx.exit(2)
        raise e
    if _rank() == 0:
        click.echo(f"wrote {folder}", err=True)


def _rank() -> int:
    """This process's rank under torchrun; 0 otherwise."""
    import os

    return int(os.environ.get("RANK", "0") or 0)


def _train(model: str, opts: dict):
    if model == "musegan":
        from composer.training.musegan import train_musegan

        folder = train_musegan(
            **{**opts, "lr": opts["lr"] or 1e-3, "batch_size": opts["batch_size"] or 32}
        )  # book
    else:
        from composer.training.lstm import train_lstm

        folder = train_lstm(**{k: v for k, v in opts.items() if v is not None})  # unset: TrainConfig
    return folder


@main.command()
@click.option("--model", type=click.Choice(MODELS), default="lstm", show_default=True)
@click.option("--checkpoint", default=None, help="Checkpoint folder (default: the shipped one).")
@click.option("--bars", type=click.IntRange(1, 10_000), default=8, show_default=True, help="Bars to compose.")
@click.option("-o", "--output", default="-", help="Output file; - is standard output.")
@click.option("--format", "fmt", type=click.Choice(["midi", "musicxml"]), default="midi", show_default=True)
@click.option("--bpm", type=click.FloatRange(1, 1000), default=None, help="Tempo (default: the corpus's).")
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True)
@click.option("--temperature", type=click.FloatRange(0, 100), default=1.0, show_default=True)
@click.option("--top-k", type=click.IntRange(0, None), default=0, show_default=True, help="0 = off.")
@click.option(
    "--top-p", type=click.FloatRange(0, 1, min_open=True), default=0.95, show_default=True, help="1 = off."
)
@click.option("--prime", type=click.Path(dir_okay=False), default=None, help="MIDI file to continue.")
@click.option("--include-prime/--no-include-prime", default=True, show_default=True)
@click.option("--attention-png", type=click.Path(dir_okay=False), default=None, help="Attention heatmap.")
@click.option("--key", default=None, help='Key to compose in, e.g. "Eb major", "F# minor", Am [random].')
@click.option(
    "--rules/--no-rules",
    default=None,
    help="Voice-leading rules and a final cadence [on for four-voice chorale checkpoints].",
)
@click.option("--play", "play_it", is_flag=True, help="Also play it to a MIDI port (see `composer play`).")
@click.option("--no-write", is_flag=True, help="With --play: play only, write no file.")
@click.option("--vary", multiple=True, help="MuseGAN: re-sample only chords, style, melody:N or groove:N.")
@click.option("--programs", default=None, help="MuseGAN: GM program per track, e.g. 52,52,52,52.")
@_port_options
@click.pass_context
def generate(
    ctx: click.Context, model: str, output: str, fmt: str, play_it: bool, no_write: bool, **opts
) -> None:
    """Compose --bars bars and write MIDI (or MusicXML) to -o, or to stdout when it is not a terminal."""
    import sys

    _check_model_options(ctx, model)
    port = {k: opts.pop(k) for k in ("api", "port", "virtual", "send_clock", "delay")}
    if (
        not play_it
        and any(v not in (None, False, "auto") for v in port.values())
        or (no_write and not play_it)
    ):
        raise ComposerError("--api, --port, --virtual, --clock, --delay and --no-write need --play")
    write = not (play_it and (no_write or (output == "-" and sys.stdout.isatty())))
    if write and output == "-" and sys.stdout.isatty():
        kind, ext = ("MusicXML", "musicxml") if fmt == "musicxml" else ("MIDI", "mid")
        raise ComposerError(f"refusing to write {kind} to a terminal; redirect (> out.{ext}) or use -o FILE")
    opts = _for_model(opts, model)
    if model == "lstm":
        from composer.generation.lstm import generate_lstm

        score = generate_lstm(**opts)
    else:
        from composer.generation.musegan import generate_musegan

        score = generate_musegan(**{**opts, "programs": _parse_programs(opts["programs"])})
    from composer.midi_io import write_midi, write_musicxml

    if write and fmt == "musicxml":
        write_musicxml(score, output)
    elif write:
        write_midi(score, output)
    if write and output != "-":
        click.echo(f"wrote {output}", err=True)
    if play_it:
        from composer.live import play_score

        stats = _run_playback(play_score, score, _port_settings(**port), bpm=opts.get("bpm"))
        click.echo(f"played {stats.sent} messages", err=True)


@main.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--model", type=click.Choice(MODELS), default="lstm", show_default=True)
@click.option("--checkpoint", default=None, help="Checkpoint folder (default: the shipped one).")
@click.option("--corpus", "corpus_source", default="bach", show_default=True)
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True)
@click.option("--baseline-checkpoint", default=None, help="No-attention LSTM (default: the shipped one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--reference", default="bach", show_default=True, help="With FILES: corpus to compare against.")
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
        from composer.compare import evaluate_scores, format_report
        from composer.midi_io import read_midi

        report = evaluate_scores([read_midi(f) for f in files], reference, nearest)
        click.echo(json.dumps(report, indent=1) if as_json else format_report(report))
        return
    if model != "lstm":
        raise ComposerError(
            f"--model {model} has no likelihood to measure; compose files and score them instead: "
            "composer evaluate FILE.mid... --reference bach"
        )
    from composer.evaluation import evaluate_lstm, format_report

    report = evaluate_lstm(**opts)
    click.echo(json.dumps(report, indent=1) if as_json else format_report(report))


def _parse_programs(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(p) for p in text.split(",")]
    except ValueError:
        raise ComposerError(f"--programs {text!r}: expected GM programs 0-127 separated by commas") from None


def _port_settings(api, port, virtual, send_clock, delay, sync=None):
    from composer.live import PortOptions

    return PortOptions(api=api, port=port, virtual=virtual, clock=send_clock, sync=sync, delay=delay)


def _run_playback(start, *args, **kwargs):
    """Run a composer.live play function; a signal ends it with one line and exit 128 + signal."""
    from composer.live.session import Stopped

    try:
        return start(*args, **kwargs)
    except KeyboardInterrupt as e:
        signum = e.signum if isinstance(e, Stopped) else 2
        click.echo(f"composer: stopped by {'SIGTERM' if signum == 15 else 'SIGINT'}; all notes off", err=True)
        raise SystemExit(128 + signum) from None


@main.command()
@click.option("--api", type=API_CHOICES, default="auto", show_default=True, help="MIDI backend.")
def ports(api: str) -> None:
    """List the MIDI output ports (to play to) and input ports (to --sync from)."""
    from composer.live import list_ports

    outputs, inputs = list_ports(api)
    click.echo("outputs:")
    for name in outputs:
        click.echo(f"  {name}")
    click.echo("inputs:")
    for name in inputs:
        click.echo(f"  {name}")


@main.command()
@click.argument("midi_file")
@_port_options
@click.option("--bpm", type=click.FloatRange(1, 1000), help="Tempo (tempo changes keep their ratios).")
@click.option("--loop", is_flag=True, help="Repeat until stopped.")
@click.option("--sync", default=None, help="Follow the MIDI clock on this input port (start/stop/continue).")
def play(midi_file: str, bpm: float | None, loop: bool, sync: str | None, **port) -> None:
    """Play MIDI_FILE (or - for stdin) to a MIDI port, in time, with no stuck notes."""
    from composer.live import play_file

    stats = _run_playback(play_file, midi_file, _port_settings(**port, sync=sync), bpm=bpm, loop=loop)
    click.echo(f"played {stats.sent} messages", err=True)


def _parse_channels(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        channels = [int(c) - 1 for c in text.split(",")]
    except ValueError:
        raise ComposerError(f"--channels {text!r}: expected numbers 1-16 separated by commas") from None
    if not all(0 <= c < 16 for c in channels):
        raise ComposerError(f"--channels {text!r}: channels are 1-16")
    return channels


@main.command()
@click.option("--model", type=click.Choice(MODELS), default="lstm", show_default=True)
@click.option("--checkpoint", default=None, help="Checkpoint folder (default: the shipped one).")
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True)
@click.option("--bars", type=click.IntRange(1, None), help="Stop after N bars (default: endless).")
@click.option("--channels", default=None, help="MIDI channel per track, 1-16, e.g. 1,2,3,4 (drums on 10).")
@click.option("--bpm", type=click.FloatRange(1, 1000), help="Tempo (default: the checkpoint's).")
@click.option("--sync", default=None, help="Follow the MIDI clock on this input port.")
@_port_options
def live(model: str, checkpoint, seed: int, bars, channels, bpm, sync, **port) -> None:
    """Compose endlessly and stream to a MIDI port; generation runs ahead in a background thread."""
    import importlib

    from composer.live import play_live

    module = importlib.import_module(f"composer.generation.{model}")
    stream = module.stream_bars(checkpoint=checkpoint, seed=seed)
    options = _port_settings(**port, sync=sync)
    channels = _parse_channels(channels)
    stats, gen = _run_playback(play_live, stream, options, n_bars=bars, channels=channels, bpm=bpm)
    headroom = gen.headroom()
    click.echo(
        f"played {len(gen.bar_seconds)} bars ({stats.sent} messages); generation "
        + (f"{headroom:.0f}x faster than real time" if headroom else "time not measurable")
        + f"; first bar (with model loading) {gen.bar_seconds[0]:.2f} s; playback waited {gen.waits} times",
        err=True,
    )
