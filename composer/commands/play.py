"""`composer ports`, `play` and `live`: MIDI out to a port, in time, with no stuck notes (composer.live)."""

from __future__ import annotations

import click

from composer.commands.common import (
    API_CHOICES,
    BPM,
    CHECKPOINT_HELP,
    MODELS,
    examples,
    port_options,
    resolve_checkpoint,
)
from composer.errors import ComposerError


def port_settings(api, port, virtual, send_clock, delay, no_wait=False, sync=None):
    from composer.live import PortOptions

    return PortOptions(
        api=api, port=port, virtual=virtual, clock=send_clock, sync=sync, delay=delay, wait=not no_wait
    )


def say(text: str) -> None:
    """A status line from the player (what it waits for), flushed: scripts wait on it."""
    click.echo(f"composer: {text}", err=True)


def run_playback(start, *args, **kwargs):
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


@click.command(epilog=examples("composer ports", "composer ports --api jack"))
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


@click.command(
    epilog=examples(
        'composer play out.mid --port "DAW:midi_in"',
        "composer generate --bars 8 | composer play - --virtual composer",
    )
)
@click.argument("midi_file")
@port_options
@click.option("--bpm", type=BPM, help="Tempo 4-1000 (tempo changes keep their ratios).")
@click.option("--loop", is_flag=True, help="Repeat until stopped.")
@click.option("--sync", default=None, help="Follow the MIDI clock on this input port (start/stop/continue).")
def play(midi_file: str, bpm: float | None, loop: bool, sync: str | None, **port) -> None:
    """Play MIDI_FILE (or - for stdin) to a MIDI port, in time, with no stuck notes."""
    from composer.live import play_file

    options = port_settings(**port, sync=sync)
    stats = run_playback(play_file, midi_file, options, bpm=bpm, loop=loop, on_wait=say)
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


@click.command(
    epilog=examples(
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
@port_options
def live(model: str, checkpoint, seed: int, bars, channels, bpm, sync, **port) -> None:
    """Compose endlessly and stream to a MIDI port; generation runs ahead in a background process."""
    import os

    from composer.live import play_live
    from composer.live.genproc import ChildBars

    options = port_settings(**port, sync=sync)
    channels = _parse_channels(channels)
    # in a child process: a generator thread here would hold the lock JACK's process callback needs;
    # one torch thread (COMPOSER_THREADS to change it), as set_torch_threads gives the other commands
    threads = int(os.environ.get("COMPOSER_THREADS", "1"))
    stream = ChildBars(model, resolve_checkpoint(checkpoint, model), seed, threads=threads)
    run_playback(play_live, stream, options, bars, channels, bpm, on_wait=say, on_exit=_report_live)


def _report_live(gen, stats) -> None:
    """Bars, messages and headroom of a `live` run, however it ended (``stats`` is None when stopped);
    nothing when no bar was made (the model did not load: its error is the one line)."""
    if not gen.bar_seconds:
        return
    headroom = gen.headroom()
    sent = f"{stats.sent} messages" if stats is not None else "stopped"
    click.echo(
        f"played {len(gen.bar_seconds)} bars ({sent}); generation "
        + (f"{headroom:.0f}x faster than real time" if headroom else "time not measurable")
        + (f"; first bar (with model loading) {gen.bar_seconds[0]:.2f} s" if gen.bar_seconds else "")
        + f"; playback waited {gen.waits} times",
        err=True,
    )
