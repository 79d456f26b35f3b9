"""The `composer` command: a click group; each command parses its options, calls the library, prints.

Heavy modules (torch, music21, matplotlib) are imported inside the commands that need them, so that
`composer --help` and a cold `composer generate` start fast. Any ComposerError becomes one line on
stderr and exit status 2.
"""

from __future__ import annotations

import contextlib
import json
import warnings

import click

from composer import __version__
from composer.errors import ComposerError, Interrupted, OutputClosed


class ComposerGroup(click.Group):
    """A click group that turns ComposerError, and a bad option of a command, into one line on stderr
    and its exit status (2; 130 after Ctrl-C), never a traceback or a usage block. A closed standard
    output (``| head``) ends the command quietly, as it ends cat."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (OutputClosed, BrokenPipeError):
            _quiet_stdout()
            ctx.exit(OutputClosed.exit_code)
        except Interrupted as e:
            click.echo(_one_line(e), err=True)
            ctx.exit(e.exit_code)
        except ComposerError as e:
            click.echo(f"composer: error: {_one_line(e)}", err=True)
            ctx.exit(e.exit_code)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx else "composer"
            click.echo(f"composer: error: {_one_line(e.format_message())} (see {where} --help)", err=True)
            ctx.exit(2)


def _one_line(message) -> str:
    """A message on one line, whatever file names it holds (their bytes escaped, as show_path does)."""
    from composer.errors import show_path

    return show_path(str(message))


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush to a closed pipe raises nothing."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _quiet_libraries() -> None:
    """Library chatter (matplotlib's font and layout warnings) stays off stderr: a successful command
    prints only its own lines."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", module=r"matplotlib(\..*)?$")
    logging.getLogger("matplotlib").setLevel(logging.ERROR)


class Finite(click.ParamType):
    """A float in [low, high] that refuses NaN and inf: FloatRange lets NaN through every bound."""

    name = "float"

    def __init__(self, low: float, high: float, low_open: bool = False):
        self.low, self.high, self.low_open = low, high, low_open

    def convert(self, value, param, ctx):
        import math

        number = click.FLOAT.convert(value, param, ctx)
        inside = (self.low < number) if self.low_open else (self.low <= number)
        if not (math.isfinite(number) and inside and number <= self.high):
            bracket = "(" if self.low_open else "["
            self.fail(
                f"{value!r} is not a finite number in {bracket}{self.low:g}, {self.high:g}]", param, ctx
            )
        return number

    def get_metavar(self, param, ctx=None) -> str:
        return f"FLOAT {'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"


MIN_BPM = 4  # a MIDI file's slowest tempo is 0xFFFFFF microseconds per beat, 3.58 bpm
BPM = Finite(MIN_BPM, 1000)


def _examples(*lines: str) -> str:
    """A --help epilog of example command lines, kept as written (click rewraps text otherwise)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def _corpus_source(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--corpus and --reference: built-in corpus names in any case ("Bach" is "bach")."""
    from composer.paths import corpus_source

    return None if value is None else corpus_source(value)


@click.group(
    cls=ComposerGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_examples(
        "composer generate --bars 8 > out.mid",
        "composer train --corpus bach",
        "composer generate --checkpoint latest --bars 16 -o mine.mid",
    ),
)
@click.version_option(__version__, prog_name="composer")
def main() -> None:
    """Learn music from Bach chorales or MIDI folders, and compose it."""
    _quiet_libraries()


@main.group(epilog=_examples("composer corpus info bach", "composer corpus info ~/midi --json"))
def corpus() -> None:
    """Inspect a corpus: "bach" (music21's chorales) or a folder of MIDI files."""


@corpus.command("info", epilog=_examples("composer corpus info bach", "composer corpus info ~/midi --json"))
@click.argument("source", callback=_corpus_source)
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

    with _notices_on_stderr():
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
        click.echo(f"skipped     {show_path(s['path'])}: {_one_line(s['reason'])}")


@contextlib.contextmanager
def _notices_on_stderr():
    """The library's notices (a cache entry rebuilt, a cache not written) as one line each on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = lambda message, *args, **kwargs: click.echo(
            f"composer: notice: {_one_line(str(message))}", err=True
        )
        yield


@main.command(epilog=_examples("composer render out.mid --png out.png"))
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
CHECKPOINT_HELP = "Checkpoint folder, or latest (the newest under ./runs); default: the shipped one."


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


def _output_options(f):
    """-o and --format, for every command that writes a score."""
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(["midi", "musicxml"]),
        default=None,
        help="Output format [from the -o extension, else midi].",
    )(f)
    return click.option("-o", "--output", default="-", help="Output file; - is standard output.")(f)


def _port_options(f):
    """--api, --port, --virtual, --clock, --delay and --no-wait: where and how to play (composer.live)."""
    options = [
        click.option("--api", type=API_CHOICES, default="auto", show_default=True, help="MIDI backend."),
        click.option("--port", default=None, help="Existing output port whose name contains this."),
        click.option("--virtual", default=None, help="Create a virtual output port [composer]."),
        click.option("--clock", "send_clock", is_flag=True, help="Send MIDI beat clock with Start/Stop."),
        click.option("--delay", type=Finite(0, 60), help="Lead-in seconds [0; 1 if virtual on ALSA]."),
        click.option(
            "--no-wait", is_flag=True, help="With --virtual: start without waiting for a connection."
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _start_training(model: str, opts: dict):
    """The training folder (--out, else runs/<model>-<corpus>), checked and announced before any work."""
    from pathlib import Path

    from composer.paths import run_dir
    from composer.training.loop import check_out_folder

    out = Path(opts["out"]) if opts["out"] else run_dir(model, opts["corpus_source"])
    check_out_folder(out, opts["resume"], opts["force"])
    click.echo(f"{'resuming' if opts['resume'] else 'training'} {model}: writing to {out}", err=True)
    return out


def _generate_command(model: str, folder) -> str:
    """The exact `composer generate` line that composes with a trained checkpoint."""
    import shlex

    which = "" if model == "lstm" else f" --model {model}"
    return f"composer generate{which} --checkpoint {shlex.quote(str(folder))} --bars 8 > out.mid"


def _credit(model: str, checkpoint) -> str:
    """The composer credit of a generated score: this program, its version and the model it used."""
    from pathlib import Path

    return f"composer {__version__} ({Path(checkpoint).name if checkpoint else f'{model}-bach'})"


def _checkpoint(checkpoint: str | None, model: str):
    """--checkpoint as a folder: latest is the newest run of this model under ./runs."""
    from composer.paths import resolve_checkpoint

    return resolve_checkpoint(checkpoint, model)


@main.command(
    epilog=_examples(
        "composer train --corpus bach              # writes runs/lstm-bach",
        "composer train --corpus ~/midi --model musegan --out runs/my-gan",
        "composer train --resume --out runs/lstm-bach",
    )
)
@click.option("--model", type=click.Choice(MODELS), default="lstm", show_default=True, help="Model to train.")
@click.option(
    "--corpus",
    "corpus_source",
    default="bach",
    show_default=True,
    callback=_corpus_source,
    help='"bach" or a MIDI folder.',
)
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
    type=Finite(0, 10, low_open=True),
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
@click.option("--out", "out", default=None, help="Checkpoint folder (default runs/<model>-<corpus>).")
@click.option("--resume", is_flag=True, help="Continue training from the checkpoint in --out.")
@click.option("--force", is_flag=True, help="Overwrite a checkpoint already in --out.")
@click.option(
    "--transpose", type=click.IntRange(0, 11), default=None, help="Augment by ±N semitones [lstm 3]."
)
@click.option(
    "--patience",
    type=click.IntRange(1, None),
    default=None,
    help="Epochs of no better validation [6].",
)
@click.option(
    "--device", default="auto", show_default=True, help="auto (cuda, then mps, then cpu), cuda, mps or cpu."
)
@click.option("--compile", is_flag=True, help="torch.compile the model (off by default).")
@click.option(
    "--dropout", type=click.FloatRange(0, 1, max_open=True), default=None, help="LSTM dropout [0.4]."
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
    type=Finite(0, 4, low_open=True),
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
    if _rank() == 0:
        opts["out"] = _start_training(model, opts)
    try:
        folder = _train(model, opts)
    except ComposerError as e:
        if _rank() != 0:  # under torchrun every rank meets the same error: rank 0 alone says so
            ctx.exit(2)
        raise e
    if _rank() == 0:
        click.echo(f"wrote {_one_line(folder)}; compose with it:", err=True)
        click.echo(f"  {_generate_command(model, folder)}", err=True)


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


@main.command(
    epilog=_examples(
        "composer generate --bars 8 > out.mid",
        "composer generate --seed 3 --format musicxml -o chorale.musicxml",
        "composer generate --model musegan --bars 16 --vary melody:0 -o gan.mid",
        "composer generate --checkpoint latest --prime mine.mid -o more.mid",
    )
)
@click.option("--model", type=click.Choice(MODELS), default="lstm", show_default=True)
@click.option("--checkpoint", default=None, help=CHECKPOINT_HELP)
@click.option("--bars", type=click.IntRange(1, 10_000), default=8, show_default=True, help="Bars to compose.")
@_output_options
@click.option("--bpm", type=BPM, default=None, help="Tempo 4-1000 (default: the corpus's).")
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True)
@click.option("--temperature", type=Finite(0, 100), default=1.0, show_default=True)
@click.option("--top-k", type=click.IntRange(0, None), default=0, show_default=True, help="0 = off.")
@click.option("--top-p", type=Finite(0, 1, low_open=True), default=0.95, show_default=True, help="1 = off.")
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
    from dataclasses import replace

    _check_model_options(ctx, model)
    fmt = _output_format(output, fmt)
    port = {k: opts.pop(k) for k in ("api", "port", "virtual", "send_clock", "delay", "no_wait")}
    if (
        not play_it
        and any(v not in (None, False, "auto") for v in port.values())
        or (no_write and not play_it)
    ):
        raise ComposerError(
            "--api, --port, --virtual, --clock, --delay, --no-wait and --no-write need --play"
        )
    write = not (play_it and (no_write or (output == "-" and sys.stdout.isatty())))
    if write:
        _check_destination(output, fmt)
    opts = _for_model(opts, model)
    opts["checkpoint"] = _checkpoint(opts["checkpoint"], model)
    if model == "lstm":
        from composer.generation.lstm import generate_lstm

        score = generate_lstm(**opts)
    else:
        from composer.generation.musegan import generate_musegan

        score = generate_musegan(**{**opts, "programs": _parse_programs(opts["programs"])})
    from composer.midi_io import write_midi
    from composer.musicxml import write_musicxml

    if write and fmt == "musicxml":
        title = f"composer {model}, seed {opts['seed']}"
        write_musicxml(replace(score, title=title), output, credit=_credit(model, opts["checkpoint"]))
    elif write:
        write_midi(score, output)
    if write and output != "-":
        click.echo(f"wrote {_one_line(output)}", err=True)
    if play_it:
        from composer.live import play_score

        stats = _run_playback(play_score, score, _port_settings(**port), bpm=opts.get("bpm"), on_wait=_say)
        click.echo(f"played {stats.sent} messages", err=True)


@main.command(
    epilog=_examples(
        "composer evaluate --checkpoint runs/lstm-bach --split test",
        "composer evaluate out.mid gan.mid --reference bach --nearest",
    )
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--model", type=click.Choice(MODELS), default="lstm", show_default=True)
@click.option("--checkpoint", default=None, help=CHECKPOINT_HELP)
@click.option("--corpus", "corpus_source", default="bach", show_default=True, callback=_corpus_source)
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True)
@click.option("--baseline-checkpoint", default=None, help="No-attention LSTM (default: the shipped one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--reference",
    default="bach",
    show_default=True,
    callback=_corpus_source,
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

    opts["checkpoint"] = _checkpoint(opts["checkpoint"], model)
    report = evaluate_lstm(**opts)
    click.echo(json.dumps(report, indent=1) if as_json else format_report(report))


EXTENSIONS = {".mid": "midi", ".midi": "midi", ".smf": "midi", ".musicxml": "musicxml", ".xml": "musicxml"}


def _output_format(output: str, fmt: str | None) -> str:
    """--format, or the one the -o extension names (midi when it names none); a contradiction is an
    error, not XML in a .mid file."""
    import os

    implied = EXTENSIONS.get(os.path.splitext(output)[1].lower()) if output != "-" else None
    if fmt and implied and fmt != implied:
        raise ComposerError(f"-o {_one_line(output)} names a {implied} file, but --format is {fmt}")
    return fmt or implied or "midi"


def _check_destination(output: str, fmt: str) -> None:
    """Refuse, before any work, to write to a terminal or into a folder that does not exist."""
    import sys

    if output == "-" and sys.stdout.isatty():
        kind, ext = ("MusicXML", "musicxml") if fmt == "musicxml" else ("MIDI", "mid")
        raise ComposerError(f"refusing to write {kind} to a terminal; redirect (> out.{ext}) or use -o FILE")
    from composer.atomic import check_output

    check_output(output)


def _parse_programs(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(p) for p in text.split(",")]
    except ValueError:
        raise ComposerError(f"--programs {text!r}: expected GM programs 0-127 separated by commas") from None


def _port_settings(api, port, virtual, send_clock, delay, no_wait=False, sync=None):
    from composer.live import PortOptions

    return PortOptions(
        api=api, port=port, virtual=virtual, clock=send_clock, sync=sync, delay=delay, wait=not no_wait
    )


def _say(text: str) -> None:
    """A status line from the player (what it waits for), flushed: scripts wait on it."""
    click.echo(f"composer: {text}", err=True)


def _run_playback(start, *args, **kwargs):
    """Run a composer.live play function; a signal ends it with one line and exit 128 + signal."""
    import signal

    from composer.live.session import Stopped, signals_stop_playback

    try:
        with signals_stop_playback():  # from here on, not only once a port is open
            return start(*args, **kwargs)
    except KeyboardInterrupt as e:
        signum = e.signum if isinstance(e, Stopped) else signal.SIGINT
        lost = getattr(e, "unconfirmed", None)
        done = f"closing note-offs not confirmed: {lost}" if lost else "all notes off"
        click.echo(f"composer: stopped by {signal.Signals(signum).name}; {done}", err=True)
        raise SystemExit(128 + signum) from None


@main.command(epilog=_examples("composer ports", "composer ports --api jack"))
@click.option("--api", type=API_CHOICES, default="auto", show_default=True, help="MIDI backend.")
def ports(api: str) -> None:
    """List the MIDI ports to send to (--port) and to sync from (--sync)."""
    from composer.live import list_ports

    outputs, inputs = list_ports(api)
    click.echo("send to (--port):")
    for name in outputs:
        click.echo(f"  {name}")
    click.echo("sync from (--sync):")
    for name in inputs:
        click.echo(f"  {name}")


@main.command(
    epilog=_examples(
        'composer play out.mid --port "DAW:midi_in"',
        "composer generate --bars 8 | composer play - --virtual composer",
    )
)
@click.argument("midi_file")
@_port_options
@click.option("--bpm", type=BPM, help="Tempo 4-1000 (tempo changes keep their ratios).")
@click.option("--loop", is_flag=True, help="Repeat until stopped.")
@click.option("--sync", default=None, help="Follow the MIDI clock on this input port (start/stop/continue).")
def play(midi_file: str, bpm: float | None, loop: bool, sync: str | None, **port) -> None:
    """Play MIDI_FILE (or - for stdin) to a MIDI port, in time, with no stuck notes."""
    from composer.live import play_file

    options = _port_settings(**port, sync=sync)
    stats = _run_playback(play_file, midi_file, options, bpm=bpm, loop=loop, on_wait=_say)
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


@main.command(
    epilog=_examples(
        'composer live --model lstm --bars 16 --port "DAW:midi_in" --clock',
        "composer live --model musegan --virtual composer",
    )
)
@click.option("--model", type=click.Choice(MODELS), default="lstm", show_default=True)
@click.option("--checkpoint", default=None, help=CHECKPOINT_HELP)
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True)
@click.option("--bars", type=click.IntRange(1, None), help="Stop after N bars (default: endless).")
@click.option("--channels", default=None, help="MIDI channel per track, 1-16, e.g. 1,2,3,4 (drums on 10).")
@click.option("--bpm", type=BPM, help="Tempo 4-1000 (default: the checkpoint's).")
@click.option("--sync", default=None, help="Follow the MIDI clock on this input port.")
@_port_options
def live(model: str, checkpoint, seed: int, bars, channels, bpm, sync, **port) -> None:
    """Compose endlessly and stream to a MIDI port; generation runs ahead in a background thread."""
    import importlib

    from composer.live import play_live

    module = importlib.import_module(f"composer.generation.{model}")
    stream = module.stream_bars(checkpoint=_checkpoint(checkpoint, model), seed=seed)
    options = _port_settings(**port, sync=sync)
    channels = _parse_channels(channels)
    _run_playback(play_live, stream, options, bars, channels, bpm, on_wait=_say, on_exit=_report_live)


def _report_live(gen, stats) -> None:
    """Bars, messages and headroom of a `live` run, however it ended (``stats`` is None when stopped)."""
    headroom = gen.headroom()
    sent = f"{stats.sent} messages" if stats is not None else "stopped"
    click.echo(
        f"played {len(gen.bar_seconds)} bars ({sent}); generation "
        + (f"{headroom:.0f}x faster than real time" if headroom else "time not measurable")
        + (f"; first bar (with model loading) {gen.bar_seconds[0]:.2f} s" if gen.bar_seconds else "")
        + f"; playback waited {gen.waits} times",
        err=True,
    )


@main.command(
    "harmonize",
    epilog=_examples(
        "composer harmonize tune.mid -o chorale.mid",
        'composer harmonize tune.musicxml --key "G major" -o chorale.musicxml',
    ),
)
@click.argument("melody", type=click.Path(dir_okay=False))
@_output_options
@click.option(
    "--voice",
    type=click.Choice(["soprano", "alto", "tenor", "bass"]),
    default="soprano",
    show_default=True,
    help="The voice the melody is kept in.",
)
@click.option(
    "--key", default=None, help='Key of the melody, e.g. "Eb major", Am [the file\'s, else guessed].'
)
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True)
@click.option(
    "--rules/--no-rules", default=True, show_default=True, help="Voice-leading rules and final cadence."
)
@click.option("--checkpoint", default=None, help="Harmonizer checkpoint folder (default: the shipped one).")
def harmonize_melody(
    melody: str, output: str, fmt: str | None, voice: str, key, seed: int, rules: bool, checkpoint
):
    """Write alto, tenor and bass under MELODY (.mid or .musicxml), keeping it note for note, to -o
    (MIDI or MusicXML by its extension) or to stdout when that is not a terminal."""
    from composer.generation.harmonize import check_voice, harmonize, load_harmonizer
    from composer.generation.melody import read_melody
    from composer.midi_io import write_midi
    from composer.musicxml import write_musicxml

    fmt = _output_format(output, fmt)
    _check_destination(output, fmt)
    model = load_harmonizer(checkpoint)
    check_voice(model, voice, melody)
    if key is not None:
        from composer.representations.token_codec import parse_key

        parse_key(key)
    line, notices = read_melody(melody)
    score, more = harmonize(line, model, key=key, seed=seed, rules=rules, name=melody)
    for notice in notices + more:
        click.echo(f"composer: {notice}", err=True)
    (write_musicxml if fmt == "musicxml" else write_midi)(score, output)
    if output != "-":
        click.echo(f"wrote {_one_line(output)}", err=True)
