"""Seeded fuzzing: hundreds of broken MIDI files and cache entries, in process, in a few seconds.

Every MIDI mutant either reads into a clean Score (notes inside the caps and ranges) and clean
playback messages (every note-on closed by a note-off), or raises one MidiError line naming the
file; no other exception type ever escapes. Every damaged cache entry is
a miss that is rebuilt to the same pieces. benchmarks/bench_fuzz.py runs 5,000+ mutants through the CLI.
"""

from __future__ import annotations

import random
import warnings
from collections import Counter
from pathlib import Path

import pytest

from composer import load_corpus, read_midi, write_midi
from composer.corpora.cache import CacheWarning
from composer.errors import MidiError
from composer.live.events import from_midi_ticks
from composer.midi_io import MAX_NOTES, MAX_STEPS, read_midi_ticks
from composer.music import Note, Score, Track
from tests.midi_mutants import KINDS, mutate

DATA = Path(__file__).resolve().parent / "data"
N_MUTANTS = 400


def _seeds(tmp_path: Path, bach) -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted(DATA.glob("*.mid")) if p.stat().st_size > 0]
    for score in bach.pieces[:3]:
        write_midi(score, tmp_path / "seed.mid")
        seeds.append((tmp_path / "seed.mid").read_bytes())
    return seeds


def _assert_clean(score: Score) -> None:
    assert score.n_notes <= MAX_NOTES and score.n_steps <= MAX_STEPS
    for track in score.tracks:
        assert track.notes == sorted(track.notes)
        for n in track.notes:
            assert n.start >= 0 and n.duration >= 1 and 0 <= n.pitch <= 127 and 1 <= n.velocity <= 127


def _assert_playable(events: list) -> None:
    """Beats in order, bytes in range, and on each channel and pitch every note-on closed later."""
    assert [b for b, _ in events] == sorted(b for b, _ in events)
    sounding = Counter()
    for _, (status, *data) in events:
        assert 0x80 <= status <= 0xEF and all(0 <= d <= 127 for d in data)
        if status & 0xF0 in (0x80, 0x90):
            sounding[status & 0x0F, data[0]] += 1 if status & 0xF0 == 0x90 else -1
            assert sounding[status & 0x0F, data[0]] >= 0
    assert not +sounding


def test_midi_mutants_read_cleanly_or_raise_one_midi_error(tmp_path, bach):
    rng = random.Random(20261121)
    seeds = _seeds(tmp_path, bach)
    outcomes = Counter()
    for i in range(N_MUTANTS):
        kind, data = mutate(rng.choice(seeds), rng, KINDS[i % len(KINDS)])
        path = tmp_path / f"m{i}.mid"
        path.write_bytes(data)
        try:
            score = read_midi(path)
        except MidiError as e:
            message = str(e)
            assert message.startswith(f"{path}: ") and "\n" not in message, (kind, message)
            outcomes[kind, "refused"] += 1
            continue
        _assert_clean(score)
        _assert_playable(from_midi_ticks(read_midi_ticks(path)).events)
        outcomes[kind, "read"] += 1
    assert sum(outcomes.values()) == N_MUTANTS
    for kind in KINDS:  # each kind produced both outcomes, so the harness reaches past the header
        assert outcomes[kind, "refused"] + outcomes[kind, "read"] > 0, kind
    assert sum(n for (_, what), n in outcomes.items() if what == "read") > N_MUTANTS // 10
    assert sum(n for (_, what), n in outcomes.items() if what == "refused") > N_MUTANTS // 10


def _cache_mutants(rng: random.Random, data: bytes, n: int) -> list[bytes]:
    out = []
    for _ in range(n):
        damaged = bytearray(data)
        how = rng.choice(["flip", "truncate", "zero", "append"])
        if how == "flip":
            for _ in range(rng.randint(1, 4)):
                damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        elif how == "truncate":
            del damaged[rng.randrange(len(damaged)) :]
        elif how == "zero":
            at = rng.randrange(len(damaged))
            damaged[at : at + 16] = bytes(len(damaged[at : at + 16]))
        else:
            damaged += bytes(rng.randrange(1, 64))
        out.append(bytes(damaged))
    return out


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_damaged_cache_entries_are_rebuilt_to_the_same_pieces(tmp_path, cache_dir, suffix):
    folder = tmp_path / "songs"
    folder.mkdir()
    for i in range(3):
        notes = [Note(4 * k, 4, 60 + i + k, 70 + k) for k in range(6)]
        write_midi(Score([Track("Lead", i, False, notes)], title=str(i)), folder / f"{i}.mid")
    fresh = load_corpus(folder)
    (entry,) = cache_dir.glob(f"*{suffix}")
    good = entry.read_bytes()  # noqa: F841
    rng = random.Random(len(suffix))
    notices = 0
    for damaged in _cache_mutants(rng, good, 40):
        entry.write_bytes(damaged)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            again = load_corpus(folder)
            assert again.pieces == fresh.pieces and again.ids == fresh.ids
        notices += sum(issubclass(w.category, CacheWarning) for w in caught)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheWarning)  # rebuilt (or harmless): a silent hit now
            assert load_corpus(folder).pieces == fresh.pieces
    assert notices >= 30  # most damage is seen; the rest (e.g. flips in zip padding) is harmless
