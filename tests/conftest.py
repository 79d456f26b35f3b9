"""Shared fixtures: a session cache dir seeded with the committed bach cache, the bach corpus, a
private cache dir per test, tiny LSTM and MuseGAN checkpoints (trained once), a tiny MIDI folder.

Every test runs with COMPOSER_CACHE_DIR pointing into pytest's temporary folder, so no test writes
into the checkout's corpora/. The committed bach entry is copied there first, so load_corpus("bach")
stays a cache hit (about 0.3 s) instead of a 20 s preparation.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import TINY, TINY_MUSEGAN, write_piece

DATA = Path(__file__).resolve().parent / "data"
REPO_CORPORA = Path(__file__).resolve().parents[1] / "corpora"


@pytest.fixture(scope="session", autouse=True)
def session_cache_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("composer-cache")
    for entry in REPO_CORPORA.glob("bach-*"):
        shutil.copy(entry, folder / entry.name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMPOSER_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session")
def bach(session_cache_dir):
    """load_corpus("bach") with its pieces loaded, from the cache."""
    from composer import load_corpus

    corpus = load_corpus("bach")
    corpus.pieces  # noqa: B018 (loads the pieces once for every test that shares this fixture)
    return corpus


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """A fresh, empty COMPOSER_CACHE_DIR for one test (cache hit/miss tests start from nothing)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("COMPOSER_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and the machine is shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def lstm_checkpoint(tmp_path_factory) -> Path:
    """A tiny attention LSTM trained 12 steps on bach: enough to exercise every code path."""
    from composer.training.lstm import train_lstm

    return train_lstm("bach", steps=12, out=tmp_path_factory.mktemp("ck") / "tiny", **TINY)


@pytest.fixture(scope="session")
def musegan_checkpoint(tmp_path_factory):
    """A tiny MuseGAN checkpoint folder (2 generator steps on the bach corpus)."""
    import torch

    from composer.training.musegan import train_musegan

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_musegan(
            "bach", out=str(tmp_path_factory.mktemp("musegan") / "ckpt"), steps=2, **TINY_MUSEGAN
        )
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def midi_folder(tmp_path, cache_dir) -> Path:
    """Five small MIDI files (piano and two-track) in a folder, with a private corpus cache."""
    folder = tmp_path / "midis"
    folder.mkdir()
    for i in range(5):
        write_piece(folder / f"piece{i}.mid", i, 1 + i % 2)
    return folder
