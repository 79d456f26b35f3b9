"""Corpora: bach counts and bar alignment, folder corpora with bad files, cache hit/miss/invalidation."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from composer import load_corpus, read_midi, write_midi
from composer.corpora import augment, midi_folder, split_indices
from composer.errors import CorpusError
from composer.music import Note, Score, Track

DATA = Path(__file__).resolve().parents[1] / "data"
BAD_FIXTURES = ["not-midi.mid", "truncated.mid", "smpte.mid", "zero-ticks-per-beat.mid", "hours-long.mid"]


# bach


def test_bach_has_four_voice_pieces(bach):
    assert len(bach.pieces) >= 350
    assert len(bach.ids) == len(bach.pieces) == len(set(bach.ids))
    for s in bach.pieces:
        assert [t.name for t in s.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
        assert all(t.notes for t in s.tracks)
        assert s.key is not None and s.resolution == 4
    assert {s.time_signature for s in bach.pieces} >= {(4, 4), (3, 4)}


def test_bach_info(bach):
    info = bach.info()
    assert info["pieces"] == len(bach.pieces) >= 350
    assert sum(info["split"].values()) == info["pieces"]
    assert set(info["split"]) == {"train", "validation", "test"}
    assert info["split"]["test"] >= 30
    assert isinstance(info["skipped"], list)
    assert all(set(s) == {"path", "reason"} and s["reason"] for s in info["skipped"])
    assert info["pieces"] + len(info["skipped"]) == 371  # music21 lists 371, 21 of them twice
    assert sum("duplicate" in s["reason"] for s in info["skipped"]) == 371 - 350
    assert set(info["vocab"]) == {"shift", "pitch", "duration", "track"}
    assert info["notes"] == sum(s.n_notes for s in bach.pieces)


def test_split_is_reproducible_and_depends_on_seed(bach):
    again = load_corpus("bach")
    assert again.split_indices() == bach.split_indices()
    other = load_corpus("bach", seed=1)  # the cached pieces serve any seed: no new preparation
    assert other.split_indices() != bach.split_indices()
    assert sum(other.info()["split"].values()) == len(bach.ids)
    assert [s.title for s in other.split("test")] == [
        bach.pieces[i].title for i in other.split_indices()["test"]
    ]
    parts = split_indices(371, 0)
    assert sorted(parts["train"] + parts["validation"] + parts["test"]) == list(range(371))
    with pytest.raises(CorpusError):
        bach.split("dev")


def test_bach_bar_lines_fall_on_bars(bach):
    """Pickups are padded, so a piece with a pickup ends where its short last bar completes it."""
    aligned = 0
    for s in bach.pieces:
        first = min(n.start for t in s.tracks for n in t.notes)
        aligned += s.n_steps % s.steps_per_bar in (0, first % s.steps_per_bar)
    assert aligned >= 0.95 * len(bach.pieces)
    # the usual pickup: one beat before the first full bar of 4/4
    firsts = [
        min(n.start for t in s.tracks for n in t.notes) for s in bach.pieces if s.time_signature == (4, 4)
    ]
    assert firsts.count(12) > len(firsts) / 2


def test_bach_full_measures_start_on_bar_lines(bach):
    from music21 import corpus

    from composer.corpora.bach import _pickup_padding

    checked = 0
    for name in bach.ids[::40]:
        score = bach.pieces[bach.ids.index(name)]
        part = corpus.parse(name).parts[0]
        pad = _pickup_padding(part)
        bar = score.steps_per_bar / score.resolution
        for m in part.getElementsByClass("Measure"):
            if m.duration.quarterLength == m.barDuration.quarterLength == bar:
                assert round((float(m.offset) + pad) * score.resolution) % score.steps_per_bar == 0, name
                checked += 1
    assert checked > 50


def test_augment_transposes_every_piece(bach):
    pieces = bach.pieces[:3]
    out = augment(pieces, range(-2, 3))
    assert len(out) == 15
    assert out[2] == pieces[0]
    assert [n.pitch for n in out[4].tracks[0].notes] == [n.pitch + 2 for n in pieces[0].tracks[0].notes]


# folders


def _good(i: int) -> Score:
    notes = [Note(4 * k, 4, 60 + (i + k) % 12) for k in range(8)]
    return Score([Track("Lead", i % 8, False, notes), Track("Bass", 33, False, [Note(0, 32, 36 + i % 12)])])


def _folder(root, n_good: int, bad=BAD_FIXTURES):
    (root / "a" / "b").mkdir(parents=True)
    suffixes = [".mid", ".MID", ".midi", ".MIDI"]
    names = []
    for i in range(n_good):
        sub = ["", "a", "a/b"][i % 3]
        name = f"{sub}/good{i}{suffixes[i % 4]}".lstrip("/")
        write_midi(_good(i), root / name)
        names.append(name)
    for j, fixture in enumerate(bad):
        shutil.copy(DATA / fixture, root / ["", "a", "a/b"][j % 3] / fixture)
    (root / "notes.txt").write_text("not a MIDI suffix, ignored")
    return names


def test_folder_keeps_every_good_file_and_lists_bad_ones(tmp_path, cache_dir):
    good = _folder(tmp_path / "songs", 7)
    corpus = load_corpus(tmp_path / "songs")
    assert sorted(corpus.ids) == sorted(good)
    assert len(corpus.pieces) == 7
    skipped = dict(corpus.skipped)
    assert sorted(p.rsplit("/", 1)[-1] for p in skipped) == sorted(BAD_FIXTURES)
    assert all(reason for reason in skipped.values())
    assert "SMPTE" in skipped["a/b/smpte.mid"] and "ticks_per_beat" in skipped["zero-ticks-per-beat.mid"]
    assert "not a valid MIDI file" in skipped["not-midi.mid"] and "hours" in skipped["a/hours-long.mid"]
    for rel, piece in zip(corpus.ids, corpus.pieces):
        assert piece.tracks == read_midi(tmp_path / "songs" / rel).tracks
    info = corpus.info()
    assert info["pieces"] == 7 and sum(info["split"].values()) == 7
    assert len(info["skipped"]) == len(BAD_FIXTURES)
    assert list(cache_dir.iterdir())  # the cache went to COMPOSER_CACHE_DIR


def test_large_folder_read_in_worker_processes_keeps_good_files(tmp_path, cache_dir):
    good = _folder(tmp_path / "many", midi_folder.POOL_MIN_FILES)
    corpus = load_corpus(tmp_path / "many", use_cache=False)
    assert sorted(corpus.ids) == sorted(good)
    assert len(corpus.skipped) == len(BAD_FIXTURES)


def test_all_bad_or_empty_or_missing_folder_is_a_corpus_error(tmp_path, cache_dir):
    (tmp_path / "bad").mkdir()
    for f in BAD_FIXTURES:
        shutil.copy(DATA / f, tmp_path / "bad" / f)
    with pytest.raises(CorpusError, match="no usable piece"):
        load_corpus(tmp_path / "bad")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no .mid or .midi files"):
        load_corpus(tmp_path / "empty")
    with pytest.raises(CorpusError, match="not a folder"):
        load_corpus(tmp_path / "nowhere")


def test_cache_hit_does_not_parse_again(tmp_path, cache_dir, monkeypatch):
    _folder(tmp_path / "songs", 4)
    first = load_corpus(tmp_path / "songs")

    def boom(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(midi_folder, "read_folder", boom)
    second = load_corpus(tmp_path / "songs")
    assert second.ids == first.ids and second.skipped == first.skipped
    assert second.pieces == first.pieces
    assert second.info() == first.info()
    with pytest.raises(AssertionError):  # a miss: other settings
        load_corpus(tmp_path / "songs", resolution=8)
    with pytest.raises(AssertionError):  # a miss: asked for
        load_corpus(tmp_path / "songs", use_cache=False)


def test_cache_is_rebuilt_when_a_file_changes(tmp_path, cache_dir, monkeypatch):
    _folder(tmp_path / "songs", 4)
    calls = []
    real = midi_folder.read_folder
    monkeypatch.setattr(midi_folder, "read_folder", lambda *a, **k: calls.append(a) or real(*a, **k))
    load_corpus(tmp_path / "songs")
    load_corpus(tmp_path / "songs")
    assert len(calls) == 1
    changed = _good(0)
    changed.tracks[0].notes.append(Note(40, 4, 90))
    write_midi(changed, tmp_path / "songs" / "good0.mid")
    corpus = load_corpus(tmp_path / "songs")
    assert len(calls) == 2
    assert corpus.pieces[corpus.ids.index("good0.mid")].tracks[0].notes[-1] == Note(40, 4, 90, 80)
    (tmp_path / "songs" / "a" / "good1.MID").unlink()
    assert len(load_corpus(tmp_path / "songs").ids) == 3
    assert len(calls) == 3


def test_cached_pieces_equal_fresh_pieces(tmp_path, cache_dir):
    _folder(tmp_path / "songs", 3, bad=[])
    write_midi(
        Score([Track("x", 0, False, [Note(0, 4, 60)])], length=64), tmp_path / "songs" / "silent-end.mid"
    )
    fresh = load_corpus(tmp_path / "songs")
    cached = load_corpus(tmp_path / "songs")
    assert cached._pieces is None  # not read yet: info() alone stays fast
    assert cached.pieces == fresh.pieces
    assert cached.pieces[cached.ids.index("silent-end.mid")].length == 64


def test_bach_from_cache_matches_summary(bach):
    tokens = bach.info()["tokens"]
    from composer import to_tokens

    assert tokens == sum(len(to_tokens(s)) for s in bach.pieces)
    assert np.isclose(bach.info()["oov_rate_test"], bach.info()["oov_rate_test"])


def test_committed_bach_cache_is_fresh():
    """The checkout's corpora/ holds the entry load_corpus("bach") looks for, so a fresh clone's first
    `composer corpus info bach` is a cache hit. Regenerate with: rm corpora/bach-*; composer corpus info bach."""
    from composer.corpora import bach as bach_module
    from composer.corpora import cache

    root, files = bach_module.source_files()
    key = cache.cache_key("bach", {"resolution": 4}, cache.fingerprint(files, root))
    assert (cache.REPO_CORPORA / f"{key}.json").exists() and (cache.REPO_CORPORA / f"{key}.npz").exists()
    assert sorted(p.name for p in cache.REPO_CORPORA.glob("bach-*")) == [f"{key}.json", f"{key}.npz"]


def test_unwritable_cache_dir_still_loads(tmp_path, monkeypatch):
    _folder(tmp_path / "songs", 2, bad=[])
    (tmp_path / "plain-file").write_text("not a folder")
    monkeypatch.setenv("COMPOSER_CACHE_DIR", str(tmp_path / "plain-file" / "cache"))
    with pytest.warns(UserWarning, match="corpus cache not written"):
        corpus = load_corpus(tmp_path / "songs")
    assert len(corpus.pieces) == 2 and corpus.info()["pieces"] == 2
