"""Sampling from the attention LSTM: N bars, or bars forever (stream_bars), optionally primed.

Runs on the NumPy runtime (no torch import), so a cold `composer generate` stays fast. Sampling draws
from a seeded NumPy generator, so the same seed and options give the same notes, byte for byte.
Within an event the heads are sampled in the model's order (shift, track, pitch, duration) with masks
that keep events well formed: never BOS or UNK, a rest only where the tokenizer makes one (a full
``max_shift`` on track 0) and always with duration 0, a note always with a positive duration.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from composer.errors import CheckpointError, ComposerError
from composer.generation.guard import OnsetGuard
from composer.music import Note, Score, Track
from composer.representations.tokens import REST, STREAMS, Vocab, to_tokens

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "checkpoints" / "lstm-bach"


@dataclass
class Sampling:
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 0.95  # 1 = off

    def __post_init__(self):
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ComposerError(
                f"sampling needs temperature >= 0, 0 < top-p <= 1, top-k >= 0 (got {self.temperature}, "
                f"{self.top_p}, {self.top_k})"
            )


@dataclass
class Model:
    """A loaded checkpoint: metadata, vocabulary, runtime, and the score settings it generates in."""

    meta: dict
    vocab: Vocab
    runtime: object
    score: Score  # empty tracks, meter, tempo

    @property
    def steps_per_bar(self) -> int:
        return self.score.steps_per_bar


def load_model(checkpoint=None, bpm: float | None = None) -> Model:
    """Read a checkpoint folder (default: the shipped one) for generation; CheckpointError if unusable."""
    from composer.checkpoint import load_checkpoint_numpy
    from composer.generation.runtime import Runtime

    folder = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
    meta, weights = load_checkpoint_numpy(folder, kind="lstm")
    try:
        vocab = Vocab.from_dict(meta["vocab"])
        runtime = Runtime(meta["config"], weights)
        music = meta["music"]
        tracks = [Track(t["name"], t["program"], t["is_drum"]) for t in music["tracks"]]
        score = Score(
            tracks=tracks,
            bpm=float(bpm or music["bpm"]),
            time_signature=tuple(music["time_signature"]),
            resolution=meta["representation"]["resolution"],
        )
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise CheckpointError(
            f"{folder}: incomplete or corrupt checkpoint ({type(e).__name__}: {e})"
        ) from None
    if bpm is not None and not 1 <= bpm <= 1000:
        raise ComposerError(f"--bpm {bpm}: choose a tempo between 1 and 1000")
    model = Model(meta, vocab, runtime, score)
    try:  # one event through every head: a config that disagrees with the weights fails here
        next(sample_events(model, 0, Sampling()))
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


def _allowed(model: Model, stream: str, chosen: dict[str, int]) -> np.ndarray:
    """Ids of ``stream`` that keep the event well formed given the streams already chosen (raw values)."""
    values = np.asarray(model.vocab.values[stream])
    ok = np.ones(len(values), bool)
    max_shift = model.meta["representation"]["max_shift"]
    if stream == "shift" and chosen.get("first"):  # start on the downbeat, not with a pickup bar
        ok &= values == 0
    elif stream == "track":
        ok &= values < len(model.score.tracks)
    elif stream == "pitch":
        rest_ok = chosen.get("shift") == max_shift and chosen.get("track", 0) == 0
        ok &= (values != REST) | rest_ok
    elif stream == "duration":
        ok &= (values == 0) if chosen.get("pitch") == REST else (values > 0)
    if not ok.any():  # nothing satisfies the constraint (tiny vocabularies): any real value
        ok[:] = True
    return np.concatenate([np.zeros(Vocab.N_SPECIAL, bool), ok])


def _sample_event(model: Model, z, rng, sp: Sampling, onset: int, first: bool = False):
    """Sample one event's ids (4,) stream by stream, each head seeing the streams chosen before it."""
    rt, ids, chosen, known = model.runtime, np.zeros(len(STREAMS), np.int64), {"first": first}, []
    for s in model.meta["config"]["order"]:
        i = _sample(rt.logits(s, z, known), _allowed(model, s, chosen), rng, sp)
        ids[STREAMS.index(s)] = i
        chosen[s] = model.vocab.values[s][i - Vocab.N_SPECIAL]
        known.append(rt.embedding(s, i))
        if s == "shift":
            known.append(rt.embedding("pos", (onset + chosen[s]) % model.steps_per_bar))
    return ids, chosen


def sample_events(model: Model, seed: int, sp: Sampling, prime: tuple | None = None):
    """Events forever after BOS and the prime: yields (onset, raw values dict, attention (n,)).

    ``prime`` is (ids (n, 4), positions (n,), onset of its last event); its events are fed, not yielded.
    """
    rng = np.random.default_rng(seed)
    rt = model.runtime
    rt.reset()
    ids, pos, onset = np.full(len(STREAMS), Vocab.BOS, np.int64), 0, 0
    if prime is not None:
        for row, row_pos in zip(prime[0], prime[1]):
            rt.step(ids, pos)
            ids, pos = row, int(row_pos)
        onset = prime[2]
    first = prime is None  # an unprimed piece starts on the downbeat
    guard = OnsetGuard()
    while True:
        z, att = rt.step(ids, pos)
        ids, chosen = _sample_event(model, z, rng, sp, onset, first)
        first = False
        onset += chosen["shift"]
        guard.check(onset)
        pos = onset % model.steps_per_bar
        yield onset, chosen, att


def _nearest(values: list[int], x: np.ndarray) -> np.ndarray:
    table = np.asarray(values)
    return table[np.abs(table[None, :] - x[:, None]).argmin(1)]


def read_prime(path: str, model: Model) -> tuple[Score, tuple]:
    """A prime MIDI file fitted to the model: tracks folded onto the model's, pitches moved by octaves
    (or clamped) into its range, other unseen values mapped to the nearest known one; each change is
    reported on stderr. Returns the adjusted Score and (ids, positions, last onset) for the runtime."""
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
    pitches = sorted(p for p in model.vocab.values["pitch"] if p != REST)
    lo, hi = pitches[0], pitches[-1]
    tracks = [replace(t, notes=[]) for t in model.score.tracks]
    moved = 0
    for ti, n in notes:
        p = n.pitch
        while p < lo and p + 12 <= hi:
            p += 12
        while p > hi and p - 12 >= lo:
            p -= 12
        p = int(_nearest(pitches, np.array([p]))[0])
        moved += p != n.pitch
        tracks[ti].notes.append(replace(n, pitch=p))
    if len(score.tracks) > len(model.score.tracks):
        _tell(f"{path}: {len(score.tracks)} tracks folded onto the model's {len(model.score.tracks)}")
    if moved:
        _tell(
            f"{path}: {moved} of {len(notes)} notes outside the model's range {lo}-{hi} moved by octaves or clamped"
        )
    prime = replace(model.score, tracks=tracks).sorted()
    tokens = to_tokens(prime)
    fitted = tokens.copy()
    for i, s in enumerate(STREAMS):
        fitted[:, i] = _nearest(model.vocab.values[s], tokens[:, i])
    if (fitted != tokens).any():
        _tell(
            f"{path}: {int((fitted != tokens).any(1).sum())} prime events use unseen steps, mapped to the nearest"
        )
    positions = np.cumsum(tokens[:, 0]) % model.steps_per_bar
    return prime, (model.vocab.encode(fitted), positions, int(tokens[:, 0].sum()))


def _tell(line: str) -> None:
    print(f"composer: {line}", file=sys.stderr)


def _to_notes(events: list[tuple[int, dict]], end: int, hold_last=True, cut=True) -> dict[int, list[Note]]:
    """Per-track notes of events with onsets before ``end``, cut at ``end`` (``cut``); the final chord
    is held to ``end`` (``hold_last``), so the music ends on the final bar line."""
    out: dict[int, list[Note]] = {}
    last = (
        max((on for on, v in events if v["pitch"] != REST and on < end), default=None) if hold_last else None
    )
    for onset, v in events:
        if v["pitch"] == REST or onset >= end:
            continue
        stop = onset + v["duration"]
        stop = end if onset == last else (min(stop, end) if cut else stop)
        out.setdefault(v["track"], []).append(Note(onset, stop - onset, v["pitch"]))
    return out


# Krumhansl-Kessler key profiles, tonic first.
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR_NAMES = ["C", "D-", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B"]
MINOR_NAMES = ["c", "c#", "d", "e-", "e", "f", "f#", "g", "g#", "a", "b-", "b"]


def estimate_key(notes: list[Note]) -> str | None:
    """The key whose Krumhansl-Kessler profile best matches the duration-weighted pitch classes,
    spelled as music21 does ("G major", "e minor"); None without notes."""
    hist = np.zeros(12)
    for n in notes:
        hist[n.pitch % 12] += n.duration
    if not hist.any():
        return None
    best = max(
        (np.corrcoef(hist, np.roll(profile, tonic))[0, 1], f"{names[tonic]} {mode}")
        for profile, names, mode in ((MAJOR, MAJOR_NAMES, "major"), (MINOR, MINOR_NAMES, "minor"))
        for tonic in range(12)
    )
    return best[1]


def _cut_overlaps(notes: list[Note]) -> list[Note]:
    """A note cut where the next note of the same pitch in its track starts (MIDI cannot overlap them)."""
    notes, last = sorted(notes), {}
    out = []
    for n in notes:
        prev = last.get(n.pitch)
        if prev is not None and out[prev].start == n.start:
            continue
        if prev is not None and out[prev].end > n.start:
            out[prev] = replace(out[prev], duration=max(n.start - out[prev].start, 1))
        last[n.pitch] = len(out)
        out.append(n)
    return [n for n in out if n.duration > 0]


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
) -> Score:
    """Compose ``bars`` bars of new music (after the prime, if any); ``Score.length`` is exactly the
    whole bars, so the MIDI file lasts exactly that long even if it ends in silence."""
    sp = Sampling(temperature, top_k, top_p)
    model = load_model(checkpoint, bpm)
    spb = model.steps_per_bar
    prime_score, prime_events, start = None, None, 0
    if prime:
        prime_score, prime_events = read_prime(prime, model)
        start = prime_score.n_bars * spb
    end = start + bars * spb
    events, attention = [], []
    for onset, values, att in sample_events(model, seed, sp, prime_events):
        if onset >= end:
            break
        events.append((onset, values))
        attention.append(att)
    notes = _to_notes(events, end)
    tracks = []
    for ti, t in enumerate(model.score.tracks):
        own = notes.get(ti, []) + (prime_score.tracks[ti].notes if prime_score and include_prime else [])
        tracks.append(replace(t, notes=_cut_overlaps(own)))
    key = estimate_key([n for t in tracks for n in t.notes])
    score = replace(model.score, tracks=tracks, title="composer lstm", length=end, key=key)
    if attention_png:
        write_attention_png(attention, 0 if prime_events is None else len(prime_events[0]), attention_png)
    if prime_score is not None and not include_prime:
        from composer.music import crop

        return crop(score, start, end)
    return score


def stream_bars(checkpoint=None, seed: int = 0, **sampling) -> Iterator[Score]:
    """Consecutive one-bar Scores forever (the live-playback contract): onsets relative to the bar
    start, notes may sustain past it; meter, tempo and tracks from the checkpoint."""
    model = load_model(checkpoint, sampling.pop("bpm", None))
    sp = Sampling(**sampling)
    spb, bar, pending = model.steps_per_bar, 0, []
    for onset, values, _ in sample_events(model, seed, sp):
        while onset >= (bar + 1) * spb:
            notes = _to_notes([(on - bar * spb, v) for on, v in pending], spb, hold_last=False, cut=False)
            tracks = [
                replace(t, notes=_cut_overlaps(notes.get(i, []))) for i, t in enumerate(model.score.tracks)
            ]
            yield replace(model.score, tracks=tracks)
            bar, pending = bar + 1, []
        pending.append((onset, values))


def write_attention_png(rows: list[np.ndarray], offset: int, path: str) -> None:
    """Heatmap of generated events (rows) against the events they attended to (columns)."""
    from composer.plots import _pyplot

    n = len(rows)
    if not n:
        raise ComposerError("no events were generated, so there is no attention to draw")
    grid = np.zeros((n, offset + n + 1))
    for i, att in enumerate(rows):
        stop = offset + i + 1  # the newest key is the input event at this step
        grid[i, stop - len(att) : stop] = att
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 7), dpi=100)
    im = ax.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xlabel("attended event (input index)")
    ax.set_ylabel("generated event")
    ax.set_title("attention weights")
    fig.colorbar(im, ax=ax)
    from composer.plots import _save

    _save(fig, path)
