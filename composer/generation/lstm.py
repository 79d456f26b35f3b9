"""Sampling from the attention LSTM: N bars, or bars forever (stream_bars), optionally primed.

Runs on the NumPy runtime (no torch import), so a cold `composer generate` stays fast. Sampling draws
from a seeded NumPy generator, so the same seed and options give the same notes, byte for byte.
Within an event the heads are sampled in the model's order (shift, track, pitch, duration), each
masked by the codec's rules (``TokenCodec.allowed``): the token grammar always, voice leading and the
final cadence with ``rules``. The codec encodes the prime and decodes the result (through
``from_tokens``); a key-normalizing codec samples in C and moves the piece to the requested key.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from composer.errors import CheckpointError, ComposerError, OptionError
from composer.generation.guard import OnsetGuard
from composer.music import Score, Track, crop
from composer.paths import default_checkpoint
from composer.plots import plot_attention
from composer.representations.token_codec import (
    TokenCodec,
    cut_overlaps,
    estimate_key,
    hold_final,
    key_name,
    key_of,
    parse_key,
    to_c,
)
from composer.representations.token_rules import SampleState, choose_motif
from composer.representations.tokens import REST, STREAMS, Vocab

__all__ = ["DEFAULT_CHECKPOINT", "Sampling", "estimate_key", "generate_lstm", "load_model", "stream_bars"]

DEFAULT_CHECKPOINT = default_checkpoint("lstm")
log = logging.getLogger(__name__)  # notices about the input; the CLI shows them on stderr


@dataclass
class Sampling:
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 0.95  # 1 = off

    def __post_init__(self):
        if not 0 <= self.temperature < math.inf or not 0 < self.top_p <= 1 or self.top_k < 0:  # NaN fails too
            raise ComposerError(
                f"sampling needs temperature >= 0, 0 < top-p <= 1, top-k >= 0 (got {self.temperature}, "
                f"{self.top_p}, {self.top_k})"
            )


@dataclass
class Model:
    """A loaded checkpoint: metadata, vocabulary, runtime, and the score settings it generates in."""

    meta: dict
    codec: TokenCodec
    runtime: object
    score: Score  # empty tracks, meter, tempo

    @property
    def vocab(self) -> Vocab:
        return self.codec.vocab

    @property
    def steps_per_bar(self) -> int:
        return self.score.steps_per_bar


def load_model(checkpoint=None, bpm: float | None = None) -> Model:
    """Read a checkpoint folder (default: the shipped one) for generation; CheckpointError if unusable."""
    from composer.checkpoint import load_checkpoint_numpy, to_codec, to_config
    from composer.generation.runtime import Runtime, shapes
    from composer.models.configs import LSTMConfig

    folder = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
    meta, weights = load_checkpoint_numpy(folder, kind="lstm", config=LSTMConfig, shapes=shapes)
    try:
        codec = to_codec(TokenCodec, meta["codec"], folder)
        runtime = Runtime(to_config(LSTMConfig, meta["config"], folder), weights)
        music = meta["music"]
        tracks = [Track(t["name"], t["program"], t["is_drum"]) for t in music["tracks"]]
        score = Score(
            tracks=tracks,
            bpm=float(bpm or music["bpm"]),
            time_signature=tuple(music["time_signature"]),
            resolution=codec.resolution,
        )
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise CheckpointError(
            f"{folder}: incomplete or corrupt checkpoint ({type(e).__name__}: {e})"
        ) from None
    if bpm is not None and not 1 <= bpm <= 1000:
        raise OptionError("bpm", bpm, "choose a tempo between 1 and 1000")
    model = Model(meta, codec, runtime, score)
    try:  # one event through every head: a config that disagrees with the weights fails here
        state = SampleState(len(score.tracks), model.steps_per_bar)
        next(sample_events(model, np.random.default_rng(0), Sampling(), state))
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise CheckpointError(f"{folder}: weights do not match the stored config ({e})") from None
    return model


def _sample(logits: np.ndarray, allowed: np.ndarray, rng: np.random.Generator, sp: Sampling) -> int:
    logits = np.where(allowed, logits, -np.inf)
    if sp.temperature == 0:
        return int(np.argmax(logits))
    logits = logits / sp.temperature
    p = np.exp(logits - logits.max())
    order = np.argsort(-p, kind="stable")
    keep = np.zeros_like(allowed)
    cut = len(order) if sp.top_k == 0 else sp.top_k
    cum = np.cumsum(p[order]) / p.sum()
    cut = min(cut, int(np.searchsorted(cum, sp.top_p)) + 1)
    keep[order[:cut]] = True
    p = np.where(keep & allowed, p, 0.0)
    return int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right").clip(0, len(p) - 1))


def _sample_event(model: Model, z, rng, sp: Sampling, state: SampleState):
    """Sample one event's ids (4,) stream by stream, each head seeing the streams chosen before it."""
    rt, ids, known = model.runtime, np.zeros(len(STREAMS), np.int64), []
    for s in model.meta["config"]["order"]:
        i = _sample(rt.logits(s, z, known), model.codec.allowed(s, state), rng, sp)
        ids[STREAMS.index(s)] = i
        state.chosen[s] = model.vocab.values[s][i - Vocab.N_SPECIAL]
        known.append(rt.embedding(s, i))
        if s == "shift":
            known.append(rt.embedding("pos", (state.onset + state.chosen[s]) % model.steps_per_bar))
    return ids, dict(state.chosen)


def sample_events(model: Model, rng, sp: Sampling, state: SampleState, prime: tuple | None = None):
    """Events until ``state.done`` (forever without an end): yields (raw values dict, attention (n,)).

    ``prime`` is (ids (n, 4), context (n, 3), onset of its last event); its events are fed, not yielded.
    """
    rt, codec, spb = model.runtime, model.codec, model.steps_per_bar
    end_bar = None if state.end is None else -(-state.end // spb)
    rt.reset()
    ids, ctx = np.full(len(STREAMS), Vocab.BOS, np.int64), codec.bos_context(state.mode, end_bar, spb)
    if prime is not None:
        for row, row_ctx in zip(prime[0], prime[1]):
            rt.step(ids, ctx)
            ids, ctx = row, row_ctx
        state.onset, state.first = prime[2], False
    guard = OnsetGuard()
    while not state.done:
        z, att = rt.step(ids, ctx)
        ids, values = _sample_event(model, z, rng, sp, state)
        state.advance(values)
        guard.check(state.onset)
        ctx = codec.context(np.array([state.onset]), state.mode, end_bar, spb)[0]
        yield values, att


def read_prime(path: str, model: Model) -> Score:
    """A prime MIDI file fitted to the model: tracks folded onto the model's, pitches moved by octaves
    (or clamped) into its range; each change is reported on stderr. Returns the adjusted Score."""
    from composer.midi_io import read_midi

    score = read_midi(path)
    notes = [
        (ti % len(model.score.tracks), n)
        for ti, t in enumerate(score.tracks)
        if not t.is_drum
        for n in t.notes
    ]
    if not notes:
        raise ComposerError(f"{path}: the prime holds no pitched notes")
    pitches = np.array(sorted(p for p in model.vocab.values["pitch"] if p != REST))
    lo, hi = int(pitches[0]), int(pitches[-1])
    tracks = [replace(t, notes=[]) for t in model.score.tracks]
    moved = 0
    for ti, n in notes:
        p = n.pitch
        while p < lo and p + 12 <= hi:
            p += 12
        while p > hi and p - 12 >= lo:
            p -= 12
        p = int(pitches[np.abs(pitches - p).argmin()])
        moved += p != n.pitch
        tracks[ti].notes.append(replace(n, pitch=p))
    if len(score.tracks) > len(model.score.tracks):
        _tell(f"{path}: {len(score.tracks)} tracks folded onto the model's {len(model.score.tracks)}")
    if moved:
        _tell(
            f"{path}: {moved} of {len(notes)} notes outside the model's range {lo}-{hi} moved by octaves or clamped"
        )
    return replace(model.score, tracks=tracks, key=score.key).sorted()


def _tell(line: str) -> None:
    """A notice about the input (what was changed to fit the model): logged for the CLI to show."""
    log.warning(line)


def _choose_key(model: Model, key: str | None, like: Score | None, rng) -> tuple[int, str]:
    """(tonic pitch class, mode) to compose in: ``key``, else the prime's, else one drawn from the
    training keys (by their counts). ComposerError when the model cannot honour ``key``."""
    codec = model.codec
    wanted = parse_key(key) if key is not None else None  # an unknown key is refused first
    if key is not None and not codec.normalize_key:
        raise ComposerError(
            f"key {key!r}: this checkpoint was trained without key conditioning, so it cannot choose a key"
        )
    if wanted is not None:
        return wanted
    if like is not None:
        return key_of(like)
    if not codec.keys:
        return 0, "major"
    names = sorted(codec.keys)
    counts = np.array([codec.keys[n] for n in names], float)
    return parse_key(names[int(rng.choice(len(names), p=counts / counts.sum()))])


def _use_rules(model: Model, rules: bool | None) -> bool:
    """Voice-leading rules: on by default for four-voice key-normalized checkpoints; asked for with
    another checkpoint, a ComposerError saying why it cannot."""
    if rules and not model.codec.supports_rules:
        raise ComposerError(
            "voice-leading rules need a four-voice checkpoint trained with key conditioning (SATB chorales); "
            f"this one has {model.codec.n_tracks} tracks"
            + ("" if model.codec.normalize_key else " and no key conditioning")
        )
    return model.codec.supports_rules if rules is None else bool(rules)


def _new_state(
    model: Model, key: tuple[int, str], end: int | None, rules: bool, bars: int = 0
) -> SampleState:
    shift = -to_c(key[0]) if model.codec.normalize_key else 0
    return SampleState(
        len(model.score.tracks),
        model.steps_per_bar,
        key[1],
        shift,
        end,
        rules,
        bars=bars,
        beat=model.score.resolution,
    )


def generate_lstm(
    checkpoint=None,
    bars: int = 8,
    bpm: float | None = None,
    seed: int = 0,
    temperature=1.0,
    top_k: int = 0,
    top_p: float = 0.95,
    prime: str | None = None,
    include_prime: bool = True,
    attention_png: str | None = None,
    key: str | None = None,
    rules: bool | None = None,
) -> Score:
    """Compose ``bars`` bars of new music (after the prime, if any); ``Score.length`` is exactly the
    whole bars, so the MIDI file lasts exactly that long even if it ends in silence.

    ``key`` ("Eb major", "Am") needs a key-conditioned checkpoint; ``rules`` (voice leading and the
    final cadence) defaults to on where the checkpoint supports it. See ``TokenCodec.allowed``.
    """
    sp = Sampling(temperature, top_k, top_p)
    model = load_model(checkpoint, bpm)
    codec, spb = model.codec, model.steps_per_bar
    rng = np.random.default_rng(seed)
    use_rules = _use_rules(model, rules)
    prime_score = read_prime(prime, model) if prime else None
    tonic, mode = _choose_key(model, key, prime_score, np.random.default_rng([seed, 1]))
    start = prime_score.n_bars * spb if prime_score else 0
    end = start + bars * spb
    state = _new_state(model, (tonic, mode), end, use_rules, bars)
    if use_rules:
        state.motif = choose_motif(start // spb, end // spb, np.random.default_rng([seed, 2]))
    rows, primed = np.zeros((0, len(STREAMS)), np.int64), None
    if prime_score is not None:
        moved, _, _ = codec.normalize(replace(prime_score, key=key_name(*key_of(prime_score))))
        rows = codec.fit_prime(moved)
        onsets = np.cumsum(rows[:, 0])
        primed = (codec.vocab.encode(rows), codec.context(onsets, mode, end // spb, spb), int(onsets[-1]))
    events, attention = [], []
    for values, att in sample_events(model, rng, sp, state, primed):
        events.append([values[s] for s in STREAMS])
        attention.append(att)
    rows = np.concatenate([rows, np.array(events, np.int64).reshape(-1, len(STREAMS))])
    like = replace(
        model.score, title="composer lstm", key=key_name(tonic, mode) if codec.normalize_key else None
    )
    # the model's own ending is held to the bar line; a cadence by the rules keeps its sampled length
    voices = codec.supports_rules  # four SATB voices: one note at a time in each
    score = hold_final(codec.decode(rows, like, state.shift), end, not state.rules, voices)
    if not codec.normalize_key:
        score = replace(score, key=estimate_key([n for t in score.tracks for n in t.notes]))
    if attention_png:
        plot_attention(attention, 0 if primed is None else len(primed[0]), attention_png)
    score = replace(score, length=end)
    if prime_score is not None and not include_prime:
        return crop(score, start, end)
    return score


def stream_bars(
    checkpoint=None, seed: int = 0, key: str | None = None, rules: bool | None = None, **sampling
) -> Iterator[Score]:
    """Consecutive one-bar Scores forever (the live-playback contract): onsets relative to the bar
    start, notes may sustain past it; meter, tempo and tracks from the checkpoint."""
    model = load_model(checkpoint, sampling.pop("bpm", None))
    sp = Sampling(**sampling)
    codec, spb = model.codec, model.steps_per_bar
    state = _new_state(model, _choose_key(model, key, None, np.random.default_rng([seed, 1])), None, False)
    state.rules = _use_rules(model, rules)  # ranges and parallels; there is no end to cadence on
    like = replace(model.score, key=None)
    bar, pending = 0, []
    for values, _ in sample_events(model, np.random.default_rng(seed), sp, state):
        while state.onset >= (bar + 1) * spb:
            yield _decode_bar(codec, pending, bar * spb, like, state.shift)
            bar, pending = bar + 1, []
        pending.append((state.onset, values))


def _decode_bar(
    codec: TokenCodec, events: list[tuple[int, dict]], start: int, like: Score, shift: int
) -> Score:
    """One bar of sampled events (onset, values) as a Score with onsets from ``start``."""
    onsets = np.array([on - start for on, _ in events], np.int64)
    rows = np.array([[0, v["pitch"], v["duration"], v["track"]] for _, v in events], np.int64).reshape(-1, 4)
    rows[:, 0] = np.diff(onsets, prepend=0)
    score = codec.decode(rows, like, shift)
    return replace(score, tracks=[replace(t, notes=cut_overlaps(t.notes)) for t in score.tracks])
