"""Fixtures of the attention-LSTM tests: a tiny bach checkpoint (trained once), a tiny MIDI folder."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from composer.midi_io import write_midi
from composer.music import Note, Score, Track

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "checkpoints" / "lstm-bach"
TINY = {"size": "tiny", "batch_size": 4, "seq_len": 16, "lr": 1e-2}


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny attention LSTM trained 12 steps on bach: enough to exercise every code path."""
    from composer.training.lstm import train_lstm

    return train_lstm("bach", steps=12, out=tmp_path_factory.mktemp("ck") / "tiny", **TINY)


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


@pytest.fixture
def midi_folder(tmp_path, cache_dir) -> Path:
    """Five small MIDI files (piano and two-track) in a folder, with a private corpus cache."""
    folder = tmp_path / "midis"
    folder.mkdir()
    for i in range(5):
        write_piece(folder / f"piece{i}.mid", i, 1 + i % 2)
    return folder
