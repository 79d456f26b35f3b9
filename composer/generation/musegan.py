"""MuseGAN sampling: any number of bars, phrase after phrase, with per-latent controls and an ending.

A piece holds its style and groove latents fixed while its chords and melody latents walk on from
phrase to phrase (z_k = rho * z_{k-1} + sqrt(1 - rho^2) * noise_k, so every z stays standard normal
and neighbouring phrases are related). Each latent is drawn from its own stream, seeded by
(seed, latent, track, phrase), so ``vary={"melody:0"}`` re-samples the soprano's melody and leaves
every other input, and so every other track's output, untouched.

A piece of N bars is drawn as whole phrases, the last one with the model's last-phrase condition,
and its first bars are dropped when N is not a whole number of phrases. Decoding belongs to the
checkpoint's RollCodec (hold/onset channels, each voice monophonic, no blips or holes). ``rules``
(on by default for a piece) adds, as the LSTM's sampler does: the rhythm decoding (notes split with
the corpus's own durations, roll_spans), each note's pitch chosen among the model's best candidates
to avoid parallel fifths and octaves, stay in range and complete downbeat triads, a final cadence
on the tonic (``musegan_voicing``), and form: in ``FORM_SHARE`` of pieces of four phrases or more
the third phrase restates the first one's chords and soprano, as a chorale's opening returns.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from composer.checkpoint import load_checkpoint, to_codec, to_config
from composer.errors import CheckpointError, OptionError
from composer.generation.musegan_voicing import choose_pitches, end_on_chord
from composer.music import Score, Track, crop
from composer.paths import default_checkpoint
from composer.representations.pianoroll import RollCodec

DEFAULT_CHECKPOINT = default_checkpoint("musegan")
FLOW = 0.7  # rho: how much of a phrase's chords/melody latent carries into the next phrase
FORM_SHARE = 0.25  # pieces of four phrases or more whose third phrase restates the first (rules)
THRESHOLD = 0.0  # tanh output above this sounds
# Torch and the model are imported where a generator is loaded or run, so that decoding, voicing
# and the options (to_score, meta_score, parse_vary) import without torch.
if TYPE_CHECKING:
    from composer.models.musegan import Generator, MuseGANConfig


def load_generator(checkpoint: str | Path | None = None) -> tuple[Generator, dict]:
    """The generator (eval mode, CPU) and meta of a musegan checkpoint; None is the shipped one."""
    from composer.models.musegan import Generator, MuseGANConfig

    folder = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
    meta, state, _ = load_checkpoint(folder, kind="musegan", like=Generator, config=MuseGANConfig)
    gen = Generator(to_config(MuseGANConfig, meta["config"], folder))
    to_codec(RollCodec, meta["codec"], folder)  # refused here, before any sampling
    try:
        gen.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(
            f"{folder}: weights do not match its config ({str(e).splitlines()[0]})"
        ) from None
    return gen.eval(), meta


def parse_vary(vary: str | Iterable[str] | None, n_tracks: int) -> set[str]:
    """Check ``vary`` values: chords, style, melody:N or groove:N (N a track index)."""
    items = [vary] if isinstance(vary, str) else list(vary or [])
    out = set()
    for item in items:
        name, _, track = item.partition(":")
        ok = name in ("chords", "style") and not track
        if name in ("melody", "groove"):
            ok = track.isdigit() and int(track) < n_tracks
        if not ok:
            raise OptionError(
                "vary", item, f"choose chords, style, melody:N or groove:N with N in 0..{n_tracks - 1}"
            )
        out.add(item)
    return out


def _draw(seed: int, latent: str, track: int, phrase: int, vary: set[str], z_dim: int) -> np.ndarray:
    from composer.models.musegan import LATENTS

    key = latent if latent in ("chords", "style") else f"{latent}:{track}"
    salt = 1 if key in vary else 0
    rng = np.random.default_rng([seed, LATENTS.index(latent), track, phrase, salt])
    return rng.standard_normal(z_dim)


def latent_stream(
    cfg: MuseGANConfig, seed: int, vary: set[str], flow: float = FLOW, restate: dict[int, int] | None = None
) -> Iterator[dict]:
    """Latents of phrase 0, 1, 2, ...: dicts of chords/style (1, z) and melody/groove (1, tracks, z).

    ``restate`` maps a phrase to an earlier one whose chords and first track's melody it takes again
    (the form of a chorale whose opening phrase returns); the phrases after it walk on from there.
    """
    import torch

    z, tracks = cfg.z_dim, range(cfg.n_tracks)
    style = _draw(seed, "style", 0, 0, vary, z)
    groove = np.stack([_draw(seed, "groove", t, 0, vary, z) for t in tracks])
    chords, melody, keep, past = None, None, math.sqrt(1 - flow**2), []
    for k in itertools.count():
        new_c = _draw(seed, "chords", 0, k, vary, z)
        new_m = np.stack([_draw(seed, "melody", t, k, vary, z) for t in tracks])
        chords = new_c if chords is None else flow * chords + keep * new_c
        melody = new_m if melody is None else flow * melody + keep * new_m
        if restate and k in restate:
            chords, melody = past[restate[k]][0], np.vstack([past[restate[k]][1][:1], melody[1:]])
        past.append((chords, melody))
        arrays = {"chords": chords, "style": style, "melody": melody, "groove": groove}
        yield {k2: torch.from_numpy(v).float().unsqueeze(0) for k2, v in arrays.items()}


def meta_score(meta: dict, programs: list[int] | None = None, bpm: float | None = None) -> Score:
    """An empty Score with the checkpoint's tracks (names, GM programs), meter and tempo."""
    if bpm is not None and not 1 <= bpm <= 1000:
        raise OptionError("bpm", bpm, "choose a tempo between 1 and 1000")
    codec = RollCodec.from_dict(meta["codec"])  # checked by load_generator
    tracks = [Track(name=n, program=p) for n, p in zip(codec.names, codec.programs)]
    if programs:
        if len(programs) != len(tracks) or not all(0 <= p <= 127 for p in programs):
            raise OptionError("programs", programs, f"give {len(tracks)} GM programs in 0..127")
        tracks = [replace(t, program=p) for t, p in zip(tracks, programs)]
    return Score(
        tracks=tracks,
        resolution=codec.resolution,
        bpm=codec.bpm if bpm is None else float(bpm),
        time_signature=codec.time_signature,
    )


def decode_roll(
    roll: np.ndarray, meta: dict, rules: bool = False, base: Score | None = None, ending: bool = False
) -> Score:
    """Decode generator output, shape (bars, steps, pitches, tracks, channels), to a Score.

    ``rules``: the rhythm decoding and the voice-leading pitch choice, and with ``ending`` the final
    cadence (see module doc). ``base`` supplies track programs and tempo (``meta_score``); the codec
    supplies the rest, and the key.
    """
    codec = RollCodec.from_dict(meta["codec"])  # checked by load_generator
    segments, pitches = codec.to_segments(roll, rhythm=rules), None
    if rules:
        segments = end_on_chord(codec, segments, roll) if ending else segments
        pitches = choose_pitches(codec, segments, ending=ending)
    score = codec.decode(roll, pitches=pitches, segments=segments)
    if base is not None:
        tracks = [replace(b, notes=t.notes) for b, t in zip(base.tracks, score.tracks)]
        score = replace(score, tracks=tracks, bpm=base.bpm)
    return score


def draw_phrases(gen: Generator, latents: Iterator[dict], n: int, last: bool) -> np.ndarray:
    """``n`` consecutive phrases, the final one drawn as the piece's last phrase when ``last`` (and
    the model has that condition). Returns ndarray, shape=(n * bars, steps, pitches, tracks, ch)."""
    import torch

    out = []
    for k in range(n):
        cond = torch.full((1, gen.cfg.n_conditions), float(last and k == n - 1))
        with torch.no_grad():
            out.append(gen(**next(latents), condition=cond)[0].float().numpy())  # (bars, S, P, T, C)
    return np.concatenate(out)


def stream_bars(checkpoint=None, seed: int = 0, **controls) -> Iterator[Score]:
    """Consecutive bars forever: Scores whose notes start in that bar (0 <= start < steps_per_bar).

    Controls: ``vary`` (str or list: chords, style, melody:N, groove:N), ``programs`` (GM program per
    track), ``bpm``, ``flow`` (0..1, how much chords/melody carry over between phrases), ``rules``.
    No phrase is an ending. A note may sustain past its bar. Each phrase is decoded between its
    neighbours, so a note held over a phrase boundary stays one note.
    """
    gen, meta = load_generator(checkpoint)
    cfg = gen.cfg
    vary = parse_vary(controls.get("vary"), cfg.n_tracks)
    base = meta_score(meta, controls.get("programs"), controls.get("bpm"))
    latents = latent_stream(cfg, seed, vary, controls.get("flow", FLOW))
    spb, phrase_steps = cfg.steps_per_bar, cfg.n_bars * cfg.steps_per_bar
    window = [draw_phrases(gen, latents, 1, False), draw_phrases(gen, latents, 1, False)]
    lead = 0  # phrases before the current one in the window: none at first, then one
    while True:
        score = decode_roll(np.concatenate(window), meta, controls.get("rules", False), base)
        for b in range(cfg.n_bars):
            start = lead * phrase_steps + b * spb
            tracks = [
                replace(
                    t,
                    notes=[
                        replace(n, start=n.start - start) for n in t.notes if start <= n.start < start + spb
                    ],
                )
                for t in score.tracks
            ]
            yield replace(base, tracks=tracks, length=spb)
        window = [*window[-2:], draw_phrases(gen, latents, 1, False)]
        lead = 1


def generate_musegan(checkpoint=None, bars: int = 8, seed: int = 0, prime=None, **controls) -> Score:
    """Exactly ``bars`` bars that end as a piece (``Score.length`` marks the end; notes held past it
    are cut there).

    Controls: ``vary``, ``programs``, ``bpm``, ``flow`` as for stream_bars, and ``rules`` (voice-leading
    pitch choice, on by default). Sampling options of other models are ignored.
    """
    if prime:
        raise OptionError(
            "prime", prime, "the MuseGAN generates from latents only; the LSTM continues a file"
        )
    if bars < 1:
        raise OptionError("bars", bars, "give at least 1")
    gen, meta = load_generator(checkpoint)
    cfg = gen.cfg
    vary = parse_vary(controls.get("vary"), cfg.n_tracks)
    base = meta_score(meta, controls.get("programs"), controls.get("bpm"))
    rules = controls.get("rules")
    rules = True if rules is None else bool(rules)
    n = -(-bars // cfg.n_bars)
    form = rules and n >= 4 and np.random.default_rng([seed, 1]).random() < FORM_SHARE
    latents = latent_stream(cfg, seed, vary, controls.get("flow", FLOW), {2: 0} if form else None)
    roll = draw_phrases(gen, latents, n, last=True)[n * cfg.n_bars - bars :]  # (bars, S, P, T, C)
    score = decode_roll(roll, meta, rules, base, ending=True)
    length = bars * cfg.steps_per_bar
    return replace(crop(score, 0, length), length=length, title=f"musegan seed {seed}")
