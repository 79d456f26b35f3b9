"""Helpers shared by the attention-LSTM tests (a module with a unique name, so imports never clash
with another folder's conftest)."""

from __future__ import annotations

import random
from pathlib import Path

from presets import TINY_LSTM

from composer.midi_io import write_midi
from composer.music import Note, Score, Track

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "checkpoints" / "lstm-bach"
TINY = TINY_LSTM


def write_piece(path: Path, seed: int, n_tracks: int) -> None:
    """A short random piece: a melody track, plus a bass track when ``n_tracks`` is 2."""
    rng = random.Random(seed)
    tracks = []
    for t in range(n_tracks):
        notes, now = [], 0
        while now < 8 * 16:
            d = rng.choice([2, 4, 4, 8])
            notes.append(Note(now, d, rng.randint(60, 72) - 12 * t))
            now += d
        tracks.append(Track(name=f"part {t}", program=t * 32, notes=notes))
    write_midi(Score(tracks=tracks), path)
