"""What several commands share: option types, option groups, checkpoint and output helpers."""

from __future__ import annotations

import math

import click

from composer import __version__
from composer.errors import ComposerError

MODELS = ("lstm", "musegan")
CHECKPOINT_HELP = "Checkpoint folder, or latest (the newest under ./runs); default: the shipped one."
API_CHOICES = click.Choice(["auto", "alsa", "jack", "coremidi", "winmm"])
EXTENSIONS = {".mid": "midi", ".midi": "midi", ".smf": "midi", ".musicxml": "musicxml", ".xml": "musicxml"}


class Finite(click.ParamType):
    """A float in [low, high] that refuses NaN and inf: FloatRange lets NaN through every bound."""

    name = "float"

    def __init__(self, low: float, high: float, low_open: bool = False, high_open: bool = False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        above = (self.low < number) if self.low_open else (self.low <= number)
        below = (number < self.high) if self.high_open else (number <= self.high)
        if not (math.isfinite(number) and above and below):
            self.fail(f"{value!r} is not a finite number in {self._bounds()}", param, ctx)
        return number

    def _bounds(self) -> str:
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"

    def get_metavar(self, param, ctx=None) -> str:
        return f"FLOAT {self._bounds()}"


MIN_BPM = 4  # a MIDI file's slowest tempo is 0xFFFFFF microseconds per beat, 3.58 bpm
BPM = Finite(MIN_BPM, 1000)


class ModelOption(click.Option):
    """An option that only some models read (``models``); given with another model it is an error,
    not silently ignored (see ``check_model_options``)."""

    def __init__(self, *args, models: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.models = models


def check_model_options(ctx: click.Context, model: str) -> None:
    """Refuse an option given on the command line that ``model`` does not read."""
    for param in ctx.command.params:
        owners = getattr(param, "models", None)
        if owners is None or model in owners or param.name not in ctx.params:
            continue
        if ctx.get_parameter_source(param.name) != click.core.ParameterSource.DEFAULT:
            which = " or ".join(f"--model {m}" for m in owners)
            raise ComposerError(f"{param.opts[0]} applies to {which}, not --model {model}")


def given(ctx: click.Context, names) -> dict:
    """The options among ``names`` that were given on the command line (not left at their default)."""
    default = click.core.ParameterSource.DEFAULT
    return {n: ctx.params[n] for n in names if n in ctx.params and ctx.get_parameter_source(n) != default}


def examples(*lines: str) -> str:
    """A --help epilog of example command lines, kept as written (click rewraps text otherwise)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def corpus_source(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--corpus and --reference: built-in corpus names in any case ("Bach" is "bach")."""
    from composer.paths import corpus_source

    return None if value is None else corpus_source(value)


def one_line(message) -> str:
    """A message on one line, whatever file names it holds (their bytes escaped, as show_path does)."""
    from composer.errors import show_path

    return show_path(str(message))


def output_options(f):
    """-o and --format, for every command that writes a score."""
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(["midi", "musicxml"]),
        default=None,
        help="Output format [from the -o extension, else midi].",
    )(f)
    return click.option("-o", "--output", default="-", help="Output file; - is standard output.")(f)


def port_options(f):
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


def resolve_checkpoint(checkpoint: str | None, model: str):
    """--checkpoint as a folder: latest is the newest run of this model under ./runs."""
    from composer.paths import resolve_checkpoint

    return resolve_checkpoint(checkpoint, model)


def credit(model: str, checkpoint) -> str:
    """The composer credit of a generated score: this program, its version and the model it used."""
    from pathlib import Path

    return f"composer {__version__} ({Path(checkpoint).name if checkpoint else f'{model}-bach'})"


def output_format(output: str, fmt: str | None) -> str:
    """--format, or the one the -o extension names (midi when it names none); a contradiction is an
    error, not XML in a .mid file."""
    import os

    implied = EXTENSIONS.get(os.path.splitext(output)[1].lower()) if output != "-" else None
    if fmt and implied and fmt != implied:
        raise ComposerError(f"-o {one_line(output)} names a {implied} file, but --format is {fmt}")
    return fmt or implied or "midi"


def check_destination(output: str, fmt: str) -> None:
    """Refuse, before any work, to write to a terminal or into a folder that does not exist."""
    import sys

    if output == "-" and sys.stdout.isatty():
        kind, ext = ("MusicXML", "musicxml") if fmt == "musicxml" else ("MIDI", "mid")
        raise ComposerError(f"refusing to write {kind} to a terminal; redirect (> out.{ext}) or use -o FILE")
    from composer.atomic import check_output

    check_output(output)


def set_torch_threads(device: str = "cpu") -> None:
    """One torch thread on a CPU run (COMPOSER_THREADS to change it): several threads on a shared CPU
    spin-wait on each other, so 1 is faster there. Only the CLI decides this, never the library."""
    import os

    import torch

    from composer.device import pick_device

    if pick_device(device).type == "cpu":
        torch.set_num_threads(int(os.environ.get("COMPOSER_THREADS", "1")))
