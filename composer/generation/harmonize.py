"""`composer harmonize`: a melody in, a four-voice chorale out, the melody kept note for note.

The melody (composer.generation.melody) is moved by octaves into the soprano range if it lies outside
it, moved to tonic C with the grid (composer.representations.harmony_grid), read whole by the
harmonizer's bidirectional encoder, and the other three voices are sampled step by step on the NumPy
runtime (no torch import, so a cold run stays under a second). Sampling draws from a seeded NumPy
generator: the same seed and options give the same notes, byte for byte.

Each voice at each step is drawn from the model's distribution masked by

- the grammar (always): silence before the melody starts; a voice can only hold a note it sounds;
  after the melody's last onset every voice holds its note to the end, so the piece ends with it;
- the voice-leading rules (``rules``, on by default): each voice in its SATB range (in the output
  key) and never struck above the soprano; no parallel fifths or octaves against the voices already placed at that step (the melody and
  the voices written before it, bass first); at the melody's last onset every voice sounds, and when
  the melody ends on the tonic the chord is the tonic triad with its third present and the bass on
  the tonic, below every other voice (root position).

When no value satisfies every rule, the rules are dropped in order (parallels, then the cadence, then
the ranges) rather than failing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from composer.errors import CheckpointError, ComposerError
from composer.keys import key_name, parse_key
from composer.music import Score, transpose
from composer.paths import default_checkpoint
from composer.representations.harmony_grid import HOLD, N_SPECIAL, REST, VOICES, HarmonyGrid
from composer.representations.token_codec import to_c
from composer.theory import SATB_RANGES, is_parallel

DEFAULT_CHECKPOINT = default_checkpoint("harmonizer")
MAX_BARS = 128  # longest melody harmonized (the longest chorale has 49 bars)
THIRDS = {"major": (4,), "minor": (3, 4)}  # a minor piece may end on the major third (tierce de Picardie)


@dataclass
class Harmonizer:
    """A loaded checkpoint: metadata, grid and runtime."""

    meta: dict
    grid: HarmonyGrid
    runtime: object


def load_harmonizer(checkpoint=None) -> Harmonizer:
    """Read a harmonizer checkpoint (default: the shipped one); CheckpointError if unusable."""
    from composer.checkpoint import load_checkpoint_numpy, to_codec, to_config
    from composer.generation.harmonizer_runtime import HarmonizerRuntime, shapes
    from composer.models.configs import HarmonizerConfig

    folder = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
    meta, weights = load_checkpoint_numpy(folder, kind="harmonizer", config=HarmonizerConfig, shapes=shapes)
    try:
        config = to_config(HarmonizerConfig, meta["config"], folder)
        grid = to_codec(HarmonyGrid, meta["codec"], folder)
        return Harmonizer(meta, grid, HarmonizerRuntime(config, weights))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(
            f"{folder}: incomplete or corrupt checkpoint ({type(e).__name__}: {e})"
        ) from None


def check_voice(model: Harmonizer, voice: str, name: str = "melody") -> int:
    """Index of ``voice`` (soprano..bass); ComposerError unless the model holds that voice fixed."""
    names = [v.lower() for v in VOICES]
    if voice not in names:
        raise ComposerError(f"{name}: unknown voice {voice!r}; choose one of {', '.join(names)}")
    if names.index(voice) != model.grid.fixed:
        raise ComposerError(
            f"{name}: the model was not trained to hold the {voice} fixed (only the {names[model.grid.fixed]})"
        )
    return names.index(voice)


def harmonize(
    melody: Score,
    model: Harmonizer | None = None,
    key: str | None = None,
    seed: int = 0,
    rules: bool = True,
    temperature: float = 0.9,
    top_p: float = 0.9,
    name: str = "melody",
) -> tuple[Score, list[str]]:
    """Write the three other voices under a one-track melody (as read_melody returns it).

    Returns (the four-voice Score, SATB tracks, the melody as the soprano; notices for the user).
    Raises ComposerError for a melody longer than MAX_BARS bars or in a meter the model lacks.
    """
    model = model or load_harmonizer()
    grid, notices = model.grid, []
    grid.meter_id(melody.time_signature, name)
    if melody.n_bars > MAX_BARS:
        raise ComposerError(f"{name}: the melody is {melody.n_bars} bars long; the limit is {MAX_BARS}")
    tonic, mode = parse_key(key) if key else parse_key(melody.key or "C major")
    melody, moved = to_soprano_range(melody)
    if moved:
        notices.append(f"{name}: melody moved by {moved:+d} semitones (octaves) into the soprano range C4-G5")
    shift = to_c(tonic)
    fixed = melody.tracks[0]
    inputs, span = _inputs(grid, transpose(melody, shift), mode)
    model.runtime.encode(inputs[:, :2], inputs[:, 2:])
    cadence = fixed.notes[-1].pitch % 12 == tonic
    rng = np.random.default_rng(seed)
    tokens = _sample(model, inputs, span, (-shift, mode, cadence), rng, (rules, temperature, top_p))
    like = replace(melody, key=key_name(tonic, mode), title=melody.title or "composer harmonize")
    score = grid.decode(tokens, fixed, like, -shift)
    return replace(score, length=span[1]), notices


def to_soprano_range(melody: Score) -> tuple[Score, int]:
    """The melody moved by the octave shift that puts most of its notes in the soprano's SATB range
    (no shift on a tie), and that shift in semitones."""
    pitches = np.array([n.pitch for n in melody.tracks[0].notes])
    lo, hi = SATB_RANGES[0]
    best = max(range(-48, 49, 12), key=lambda s: (((pitches + s >= lo) & (pitches + s <= hi)).sum(), -abs(s)))
    return (transpose(melody, best) if best else melody), best


def _inputs(grid: HarmonyGrid, melody: Score, mode: str) -> tuple[np.ndarray, tuple[int, int]]:
    """The fixed voice's ids and the context per step, shape=(T, 5), and its span (first onset, end)."""
    from composer.theory import to_grid

    T = melody.n_steps
    pitch, onset = to_grid(melody.tracks[:1], T)
    ctx = grid.context(T, melody.steps_per_bar, grid.meter_id(melody.time_signature), mode)
    fixed = np.stack([grid.to_sounding(pitch[0].astype(np.int64)), onset[0].astype(np.int64)], axis=1)
    notes = melody.tracks[0].notes
    return np.concatenate([fixed, ctx], axis=1), (notes[0].start, T)


CHORD_TRIES = 8  # whole chords drawn at a step before single voices are redrawn to avoid parallels


def _sample(model, inputs, span, key, rng, options) -> np.ndarray:
    """Tokens of the free voices, shape=(T, 3), step by step.

    At each step the chord (bass, alto, tenor) is drawn whole, and drawn again (up to CHORD_TRIES
    times) while it makes parallels; only then is each voice redrawn alone, which keeps the harmony
    the model chose rather than patching its last voice into a worse one.
    """
    grid, rt = model.grid, model.runtime
    rules = options[0]
    T = len(inputs)
    sounding = np.full((4, T), -1, np.int64)  # pitch per voice and step, in C (-1: silent)
    sounding[grid.fixed] = np.where(inputs[:, 0] > 0, inputs[:, 0] - 1 + grid.pitch_lo, -1)
    last_onset = int(np.flatnonzero(inputs[:, 1])[-1])
    rule = Rules(grid, key, rules)
    tokens = np.full((T, 3), REST, np.int64)
    last_on = np.full(4, -1)  # each voice's last onset before the current step
    before: list[tuple[int, int]] = []
    for t in range(T):
        rt.step(t, before)
        ends = (t < span[0], t == last_onset, t > last_onset)
        for attempt in range(CHORD_TRIES + 1 if rules else 1):
            placed = _chord(
                model, t, ends, sounding, last_on, tokens, rule, rng, options, attempt == CHORD_TRIES
            )
            if placed is not None:
                break
        before = placed
        last_on[[v for k, v in enumerate(grid.free) if tokens[t, k] >= N_SPECIAL]] = t
        last_on[grid.fixed] = t if inputs[t, 1] else last_on[grid.fixed]
    return tokens


def _chord(model, t, ends, sounding, last_on, tokens, rule, rng, options, redraw) -> list | None:
    """Draw the free voices at step t into ``tokens`` and ``sounding``; returns their (sounding id,
    onset) pairs, or None when a voice makes parallels and ``redraw`` is off (voices redrawn alone)."""
    grid, rt = model.grid, model.runtime
    rules, temperature, top_p = options
    before_start, final, after = ends
    placed: list[tuple[int, int]] = []
    sounding[[v for v in grid.free], t] = -1
    for k, v in enumerate(grid.free):
        prev = int(sounding[v, t - 1]) if t else -1
        if before_start or (after and prev >= 0):  # silence before the melody; hold at the end
            tok = REST if before_start else HOLD
        else:
            masks = rule.masks(v, prev, sounding[:, t], final)
            bad = _parallel_check(grid, v, t, sounding, last_on) if rules else None
            tok = _draw(rt.logits(k, t, placed), masks, rng, temperature, top_p, bad if redraw else None)
            if not redraw and bad is not None and tok >= N_SPECIAL and bad(tok):
                return None
        tokens[t, k] = tok
        sounding[v, t] = prev if tok == HOLD else (grid.pitch_of(tok) if tok >= N_SPECIAL else -1)
        now = int(sounding[v, t])
        sid = 0 if now < 0 else min(max(now, grid.pitch_lo), grid.pitch_hi) - grid.pitch_lo + 1
        placed.append((sid, int(tok >= N_SPECIAL)))
    return placed


class Rules:
    """The masks of one harmonization: the grammar, then the rules loosest last (range, cadence)."""

    def __init__(self, grid: HarmonyGrid, key: tuple[int, str, bool], rules: bool):
        self.shift, self.mode, self.cadence = key
        self.rules = rules
        n = grid.n_tokens
        self.pitches = grid.pitch_lo + np.arange(n) - N_SPECIAL  # (n,) pitch of each token, in C
        self.strike = np.arange(n) >= N_SPECIAL
        real = self.pitches + self.shift
        self.in_range = [~self.strike | ((real >= lo) & (real <= hi)) for lo, hi in SATB_RANGES]
        self.hold_ok, self.no_hold = np.ones(n, bool), np.ones(n, bool)
        self.no_hold[HOLD] = False

    def masks(self, v: int, prev: int, chord: np.ndarray, final: bool) -> list[np.ndarray]:
        """Allowed tokens of voice v: [grammar, range, cadence]; ``chord`` holds the pitches placed at
        this step (-1 elsewhere), ``final`` whether this is the melody's last onset."""
        out = [self.hold_ok if prev >= 0 else self.no_hold]
        if not self.rules:
            return out
        top = chord[0]  # the soprano: no voice strikes above it
        out.append(self.in_range[v] if top < 0 else self.in_range[v] & (~self.strike | (self.pitches <= top)))
        if final:
            ok = out[0].copy()
            ok[REST] = False
            if self.cadence:
                pcs = np.where(self.strike, self.pitches, prev) % 12  # HOLD keeps the pitch it had
                allowed = {0} if v == 3 else {0, 7, *THIRDS[self.mode]}
                if v == 2 and not {int(p) % 12 for p in chord if p >= 0} & set(THIRDS[self.mode]):
                    allowed = set(THIRDS[self.mode])  # the tenor, written last, supplies the third
                ok &= np.isin(pcs, sorted(allowed))
                if v != 3 and chord[3] >= 0:  # above the bass, so the chord stays in root position
                    ok &= np.where(self.strike, self.pitches, prev) > chord[3]
            out.append(ok)
        return out


def _parallel_check(grid, v, t, sounding, last_on):
    """A function telling whether voice v striking token ``tok`` at step t makes parallel fifths or
    octaves with a voice already placed at t. As chorale_metrics counts them, the pair moves from
    its previous onset (the last step before t where either voice struck) to t."""
    others = []
    for u in range(4):
        if u != v and sounding[u, t] >= 0:
            p = max(last_on[v], last_on[u])
            if p >= 0 and sounding[v, p] >= 0 and sounding[u, p] >= 0:
                others.append((u, sounding[v, p], sounding[u, p], sounding[u, t]))

    def bad(tok: int) -> bool:
        p = grid.pitch_of(tok)
        for u, mine, a, b in others:
            pair = ((mine, a), (p, b)) if v > u else ((a, mine), (b, p))  # higher index = lower voice
            if is_parallel(*pair):
                return True
        return False

    return bad


def _draw(logits, masks, rng, temperature, top_p, bad) -> int:
    """A token from the masks (dropping the loosest rules when they leave nothing) by temperature and
    top-p; a candidate ``bad`` rejects (parallels) is redrawn, unless every allowed token is bad."""
    ok = masks[0]
    for k in range(len(masks), 1, -1):
        strict = masks[0]
        for m in masks[1:k]:
            strict = strict & m
        if strict.any():
            ok = strict
            break
    logits = np.where(ok, logits, -np.inf)
    full = np.exp(logits - logits.max())
    if temperature == 0:
        p = (full == 1.0).astype(float)
    else:
        p = full ** (1.0 / temperature)
        ranked = np.sort(p)[::-1]
        cut = ranked[min(int(np.searchsorted(np.cumsum(ranked), top_p * ranked.sum())), len(p) - 1)]
        p = np.where(p >= cut, p, 0.0)
    first = None
    for pool in (p, full):  # the nucleus, then every allowed token
        pool = pool.copy()
        while pool.sum() > 0:
            i = int(
                np.searchsorted(np.cumsum(pool), rng.random() * pool.sum(), side="right").clip(
                    0, len(pool) - 1
                )
            )
            first = i if first is None else first
            if bad is None or i < N_SPECIAL or not bad(i):
                return i
            pool[i] = 0.0
    return first
