"""`composer generate`: compose bars with a checkpoint and write MIDI or MusicXML (and/or play them)."""

from __future__ import annotations

import click

from composer.commands.common import (
    BPM,
    CHECKPOINT_HELP,
    MODELS,
    Finite,
    ModelOption,
    check_destination,
    check_model_options,
    credit,
    examples,
    one_line,
    output_format,
    output_options,
    port_options,
    resolve_checkpoint,
)
from composer.commands.play import port_settings, run_playback, say
from composer.errors import ComposerError

LSTM, MUSEGAN = ("lstm",), ("musegan",)
PORT_OPTIONS = ("api", "port", "virtual", "send_clock", "delay", "no_wait")


@click.command(
    epilog=examples(
        "composer generate --bars 8 > out.mid",
        "composer generate --seed 3 --format musicxml -o chorale.musicxml",
        "composer generate --model musegan --bars 16 --vary melody:0 -o gan.mid",
        "composer generate --checkpoint latest --prime mine.mid -o more.mid",
    )
)
@click.option("--model", type=click.Choice(MODELS), default="lstm", show_default=True)
@click.option("--checkpoint", default=None, help=CHECKPOINT_HELP)
@click.option("--bars", type=click.IntRange(1, 10_000), default=8, show_default=True, help="Bars to compose.")
@output_options
@click.option("--bpm", type=BPM, default=None, help="Tempo 4-1000 (default: the corpus's).")
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True)
@click.option(
    "--temperature", cls=ModelOption, models=LSTM, type=Finite(0, 100), default=1.0, show_default=True
)
@click.option(
    "--top-k",
    cls=ModelOption,
    models=LSTM,
    type=click.IntRange(0, None),
    default=0,
    show_default=True,
    help="0 = off.",
)
@click.option(
    "--top-p",
    cls=ModelOption,
    models=LSTM,
    type=Finite(0, 1, low_open=True),
    default=0.95,
    show_default=True,
    help="1 = off.",
)
@click.option(
    "--prime",
    cls=ModelOption,
    models=LSTM,
    type=click.Path(dir_okay=False),
    default=None,
    help="MIDI file to continue.",
)
@click.option(
    "--include-prime/--no-include-prime", cls=ModelOption, models=LSTM, default=True, show_default=True
)
@click.option(
    "--attention-png",
    cls=ModelOption,
    models=LSTM,
    type=click.Path(dir_okay=False),
    default=None,
    help="Attention heatmap.",
)
@click.option(
    "--key",
    cls=ModelOption,
    models=LSTM,
    default=None,
    help='Key to compose in, e.g. "Eb major", "F# minor", Am [random].',
)
@click.option(
    "--rules/--no-rules",
    cls=ModelOption,
    models=LSTM + MUSEGAN,
    default=None,
    help="Voice-leading rules (lstm: and a final cadence) [on for four-voice chorale checkpoints; musegan: on].",
)
@click.option("--play", "play_it", is_flag=True, help="Also play it to a MIDI port (see `composer play`).")
@click.option("--no-write", is_flag=True, help="With --play: play only, write no file.")
@click.option(
    "--vary",
    cls=ModelOption,
    models=MUSEGAN,
    multiple=True,
    help="MuseGAN: re-sample only chords, style, melody:N or groove:N.",
)
@click.option(
    "--programs",
    cls=ModelOption,
    models=MUSEGAN,
    default=None,
    help="MuseGAN: GM program per track, e.g. 52,52,52,52.",
)
@port_options
@click.pass_context
def generate(
    ctx: click.Context, model: str, output: str, fmt: str, play_it: bool, no_write: bool, **opts
) -> None:
    """Compose --bars bars and write MIDI (or MusicXML) to -o, or to stdout when it is not a terminal."""
    import sys
    from dataclasses import replace

    check_model_options(ctx, model)
    fmt = output_format(output, fmt)
    port = {k: opts.pop(k) for k in PORT_OPTIONS}
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
        check_destination(output, fmt)
    opts = _for_model(ctx, opts, model)
    opts["checkpoint"] = resolve_checkpoint(opts["checkpoint"], model)
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
        write_musicxml(replace(score, title=title), output, credit=credit(model, opts["checkpoint"]))
    elif write:
        write_midi(score, output)
    if write and output != "-":
        click.echo(f"wrote {one_line(output)}", err=True)
    if play_it:
        from composer.live import play_score

        stats = run_playback(play_score, score, port_settings(**port), bpm=opts.get("bpm"), on_wait=say)
        click.echo(f"played {stats.sent} messages", err=True)


def _for_model(ctx: click.Context, opts: dict, model: str) -> dict:
    """The options without those that only another model reads."""
    other = {p.name for p in ctx.command.params if model not in getattr(p, "models", (model,))}
    return {k: v for k, v in opts.items() if k not in other}


def _parse_programs(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(p) for p in text.split(",")]
    except ValueError:
        raise ComposerError(f"--programs {text!r}: expected GM programs 0-127 separated by commas") from None
