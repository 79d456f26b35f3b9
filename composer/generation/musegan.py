"""MuseGAN sampling: any number of bars, phrase after phrase, with per-latent controls.

A piece holds its style and groove latents fixed while its chords and melody latents walk on from
phrase to phrase (z_k = rho * z_{k-1} + sqrt(1 - rho^2) * noise_k, so every z stays standard normal
and neighbouring phrases are related). Each latent is drawn from its own stream, seeded by
(seed, latent, track, phrase), so ``vary={"melody:0"}`` re-samples the soprano's melody and leaves
every other input, and so every other track's output, untouched.

Decoding: each voice is monophonic (argmax pitch per step, a rest where the tanh output is below 0);
a voice that would rest for a whole bar takes its argmax at every step of that bar instead, so no
bar is empty. Held steps become one sustained note, also across phrase boundaries.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from composer.checkpoint import load_checkpoint
from composer.errors import CheckpointError, ComposerError
from composer.models.musegan import LATENTS, Generator, MuseGANConfig
from composer.music import Score, Track, crop
from composer.paths import shipped_checkpoint
from composer.representations.pianoroll import from_pianoroll

DEFAULT_CHECKPOINT = shipped_checkpoint("musegan-bach")
FLOW = 0.7  # rho: how much of a phrase's chords/melody latent carries into the next phrase
THRESHOLD = 0.0  # tanh output above this sounds


def load_generator(checkpoint: str | Path | None = None) -> tuple[Generator, dict]:
    """The generator (eval mode, CPU) and meta of a musegan checkpoint; None is the shipped one."""
    folder = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
    like = lambda config: Generator(MuseGANConfig.from_dict(config))  # noqa: E731 (shapes checked first)
    meta, state, _ = load_checkpoint(folder, kind="musegan", like=like)
    gen = Generator(MuseGANConfig.from_dict(meta["config"]))
    try:
        gen.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(
            f"{folder}: weights do not match its config ({str(e).splitlines()[0]})"
        ) from None
    return gen.eval(), meta


def parse_vary(vary: str | Iterable[str] | None, n_tracks: int) -> set[str]:
    """Check --vary values: chords, style, melody:N or groove:N (N a track index)."""
    items = [vary] if isinstance(vary, str) else list(vary or [])
    out = set()
    for item in items:
        name, _, track = item.partition(":")
        ok = name in ("chords", "style") and not track
        if name in ("melody", "groove"):
            ok = track.isdigit() and int(track) < n_tracks
        if not ok:
            raise ComposerError(
                f"--vary {item}: choose chords, style, melody:N or groove:N with N in 0..{n_tracks - 1}"
            )
        out.add(item)
    return out


def _draw(seed: int, latent: str, track: int, phrase: int, vary: set[str], z_dim: int) -> np.ndarray:
    key = latent if latent in ("chords", "style") else f"{latent}:{track}"
    salt = 1 if key in vary else 0
    rng = np.random.default_rng([seed, LATENTS.index(latent), track, phrase, salt])
    return rng.standard_normal(z_dim)


def latent_stream(cfg: MuseGANConfig, seed: int, vary: set[str], flow: float = FLOW) -> Iterator[dict]:
    """Latents of phrase 0, 1, 2, ...: dicts of chords/style (1, z) and melody/groove (1, tracks, z)."""
    z, tracks = cfg.z_dim, range(cfg.n_tracks)
    style = _draw(seed, "style", 0, 0, vary, z)
    groove = np.stack([_draw(seed, "groove", t, 0, vary, z) for t in tracks])
    chords, melody, keep = None, None, math.sqrt(1 - flow**2)
    for k in itertools.count():
        new_c = _draw(seed, "chords", 0, k, vary, z)
        new_m = np.stack([_draw(seed, "melody", t, k, vary, z) for t in tracks])
        chords = new_c if chords is None else flow * chords + keep * new_c
        melody = new_m if melody is None else flow * melody + keep * new_m
        arrays = {"chords": chords, "style": style, "melody": melody, "groove": groove}
        yield {k2: torch.from_numpy(v).float().unsqueeze(0) for k2, v in arrays.items()}


def to_binary(roll: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """Monophonic binary roll from generator output (bars, steps, pitches, tracks): argmax per step,
    a rest below ``threshold``, and argmax at every step of a voice-bar that would be all rest."""
    best = roll.argmax(axis=2)  # (bars, S, T)
    loud = roll.max(axis=2) > threshold  # (bars, S, T)
    keep = loud | ~loud.any(axis=1, keepdims=True)
    out = np.zeros(roll.shape, dtype=bool)
    b, s, t = np.nonzero(keep)
    out[b, s, best[b, s, t], t] = True
    return out


def meta_score(meta: dict, programs: list[int] | None = None, bpm: float | None = None) -> Score:
    """An empty Score with the checkpoint's tracks (names, GM programs), meter and tempo."""
    if bpm is not None and not 1 <= bpm <= 1000:
        raise ComposerError(f"--bpm {bpm}: choose a tempo between 1 and 1000")
    tracks = [Track(name=t["name"], program=int(t["program"])) for t in meta["tracks"]]
    if programs:
        if len(programs) != len(tracks) or not all(0 <= p <= 127 for p in programs):
            raise ComposerError(f"--programs {programs}: give {len(tracks)} GM programs in 0..127")
        tracks = [replace(t, program=p) for t, p in zip(tracks, programs)]
    return Score(
        tracks=tracks,
        resolution=meta.get("resolution", 4),
        bpm=float(meta.get("bpm", 100.0) if bpm is None else bpm),
        time_signature=tuple(meta.get("time_signature", (4, 4))),
    )


def to_score(roll: np.ndarray, meta: dict, **kw) -> Score:
    """Decode generator output, shape (bars, steps, pitches, tracks), to a Score (see module doc)."""
    lowest = meta.get("representation", {}).get("lowest_pitch", 24)
    return from_pianoroll(to_binary(roll), meta_score(meta, **kw), 0.5, True, lowest_pitch=lowest)


def stream_bars(checkpoint=None, seed: int = 0, **controls) -> Iterator[Score]:
    """Consecutive bars forever: Scores whose notes start in that bar (0 <= start < steps_per_bar).

    Controls: ``vary`` (str or list: chords, style, melody:N, groove:N), ``programs`` (GM program per
    track), ``bpm``, ``flow`` (0..1, how much chords/melody carry over between phrases).
    A note may sustain past its bar. Each phrase is decoded between its neighbours, so a note held
    over a phrase boundary stays one note.
    """
    gen, meta = load_generator(checkpoint)
    cfg = gen.cfg
    vary = parse_vary(controls.get("vary"), cfg.n_tracks)
    base = meta_score(meta, controls.get("programs"), controls.get("bpm"))
    latents = latent_stream(cfg, seed, vary, controls.get("flow", FLOW))
    spb, phrase_steps = cfg.steps_per_bar, cfg.n_bars * cfg.steps_per_bar

    def phrase() -> np.ndarray:
        with torch.no_grad():
            roll = gen(**next(latents))[0].float().numpy()  # (bars, S, P, T)
        return to_binary(roll)

    lowest = meta.get("representation", {}).get("lowest_pitch", 24)
    window = [np.zeros_like(cur := phrase()), cur, phrase()]  # (previous, current, next) phrases
    while True:
        score = from_pianoroll(np.concatenate(window), base, 0.5, True, lowest_pitch=lowest)
        for b in range(cfg.n_bars):
            start = phrase_steps + b * spb
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
        window = [window[1], window[2], phrase()]


def generate_musegan(checkpoint=None, bars: int = 8, seed: int = 0, prime=None, **controls) -> Score:
    """Exactly ``bars`` bars (``Score.length`` marks the end; notes held past it are cut there).

    ``controls`` as for stream_bars; sampling options of other models are ignored.
    """
    if prime:
        raise ComposerError(
            "--prime: the MuseGAN generates from latents only; use --model lstm to continue a file"
        )
    if bars < 1:
        raise ComposerError(f"--bars {bars}: give at least 1")
    keep = ("vary", "programs", "bpm", "flow")
    stream = stream_bars(checkpoint, seed, **{k: v for k, v in controls.items() if k in keep})
    first = next(stream)
    spb = first.steps_per_bar
    tracks = [list(t.notes) for t in first.tracks]
    for b in range(1, bars):
        for i, t in enumerate(next(stream).tracks):
            tracks[i] += [replace(n, start=n.start + b * spb) for n in t.notes]
    length = bars * spb
    score = replace(first, tracks=[replace(t, notes=n) for t, n in zip(first.tracks, tracks)], length=length)
    return replace(crop(score, 0, length), length=length, title=f"musegan seed {seed}")
