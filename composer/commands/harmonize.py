"""`composer harmonize`: alto, tenor and bass under a melody, kept note for note."""

from __future__ import annotations

import click

from composer.commands.common import check_destination, examples, one_line, output_format, output_options


@click.command(
    "harmonize",
    epilog=examples(
        "composer harmonize tune.mid -o chorale.mid",
        'composer harmonize tune.musicxml --key "G major" -o chorale.musicxml',
    ),
)
@click.argument("melody", type=click.Path(dir_okay=False))
@output_options
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

    fmt = output_format(output, fmt)
    check_destination(output, fmt)
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
        click.echo(f"wrote {one_line(output)}", err=True)
