"""Fixtures of the attention-LSTM tests: a tiny bach checkpoint (trained once), a tiny MIDI folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from lstm_helpers import TINY, write_piece


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny attention LSTM trained 12 steps on bach: enough to exercise every code path."""
    from composer.training.lstm import train_lstm

    return train_lstm("bach", steps=12, out=tmp_path_factory.mktemp("ck") / "tiny", **TINY)


@pytest.fixture
def midi_folder(tmp_path, cache_dir) -> Path:
    """Five small MIDI files (piano and two-track) in a folder, with a private corpus cache."""
    folder = tmp_path / "midis"
    folder.mkdir()
    for i in range(5):
        write_piece(folder / f"piece{i}.mid", i, 1 + i % 2)
    return folder
