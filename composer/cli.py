"""The `composer` command: a click group that gathers the commands of composer.commands and turns
every library error into one line on stderr.

Heavy modules (torch, music21, matplotlib) are imported inside the commands that need them, so that
`composer --help` and a cold `composer generate` start fast. Any ComposerError becomes one line on
stderr and exit status 2; an OptionError (a bad value the library names by its parameter) is shown
with the flag that gave it.
"""

from __future__ import annotations

import logging

import click

from composer import __version__
from composer.commands.common import examples, one_line
from composer.commands.corpus import corpus
from composer.commands.evaluate import evaluate
from composer.commands.generate import generate
from composer.commands.harmonize import harmonize_melody
from composer.commands.play import live, play, ports
from composer.commands.render import render
from composer.commands.train import train
from composer.errors import CheckpointInTheWay, ComposerError, Interrupted, OptionError, OutputClosed
from composer.live.portbase import ApiUnavailable

# library parameters whose flag is not their name with dashes
FLAGS = {"corpus_source": "--corpus", "send_clock": "--clock", "fmt": "--format"}


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
            click.echo(_one_line_of(e), err=True)
            ctx.exit(e.exit_code)
        except ComposerError as e:
            click.echo(f"composer: error: {_one_line_of(e)}", err=True)
            ctx.exit(e.exit_code)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx else "composer"
            click.echo(f"composer: error: {one_line(e.format_message())} (see {where} --help)", err=True)
            ctx.exit(2)


def flag(param: str) -> str:
    """The command-line flag of a library parameter: ``top_k`` -> ``--top-k``."""
    return FLAGS.get(param, "--" + param.replace("_", "-"))


def _one_line_of(error: ComposerError) -> str:
    """The message of ``error`` on one line, naming the options that get past it: an OptionError
    names the flag of its parameter."""
    text = str(error)
    if isinstance(error, OptionError):
        text = flag(error.param) + text[len(error.param) :]
    elif isinstance(error, CheckpointInTheWay) and error.shipped:
        text += "; train into another --out DIR"
    elif isinstance(error, CheckpointInTheWay):
        text += "; choose another --out DIR, or use --resume to continue it or --force to overwrite it"
    elif isinstance(error, ApiUnavailable):
        text = error.describe(lambda api: f"--api {api}")
    elif isinstance(error, Interrupted) and error.folder is not None:
        text += f" (continue with --resume --out {error.folder})"
    return one_line(text)


class _Notices(logging.Handler):
    """The library's log lines on stderr: progress as it is, notices (WARNING and up) as "composer: ..."."""

    def emit(self, record: logging.LogRecord) -> None:
        text = one_line(record.getMessage())
        click.echo(text if record.levelno < logging.WARNING else f"composer: {text}", err=True)


def _show_notices() -> None:
    """Route the ``composer`` loggers to stderr, once per process."""
    logger = logging.getLogger("composer")
    if not any(isinstance(h, _Notices) for h in logger.handlers):
        logger.addHandler(_Notices())
    logger.setLevel(logging.INFO)
    logger.propagate = False


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


@click.group(
    cls=ComposerGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=examples(
        "composer generate --bars 8 > out.mid",
        "composer train --corpus bach",
        "composer generate --checkpoint latest --bars 16 -o mine.mid",
    ),
)
@click.version_option(__version__, prog_name="composer")
def main() -> None:
    """Learn music from Bach chorales or MIDI folders, and compose it."""
    _quiet_libraries()
    _show_notices()


for command in (corpus, render, train, generate, evaluate, ports, play, live, harmonize_melody):
    main.add_command(command)
