"""Helpers shared by every test folder: the tiny training presets, a small random MIDI piece, a line of
quarter notes."""

from __future__ import annotations

import random
from pathlib import Path

from composer.midi_io import write_midi
from composer.music import Note, Score, Track

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints" / "lstm-bach"
TINY = {"size": "tiny", "batch_size": 4, "seq_len": 16, "lr": 1e-2}  # attention LSTM
TINY_MUSEGAN = dict(size="tiny", batch_size=4, sample_every=0, save_every=2)


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


def quarter_notes(pitch: int, bars: int = 2) -> list[Note]:
    """Quarter notes at ``pitch`` through ``bars`` bars of 4/4."""
    return [Note(s, 4, pitch) for s in range(0, bars * 16, 4)]
