"""`composer render`: draw a MIDI file as a piano-roll picture."""

from __future__ import annotations

import click

from composer.commands.common import examples


@click.command(epilog=examples("composer render out.mid --png out.png"))
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
