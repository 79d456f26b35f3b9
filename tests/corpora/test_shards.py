"""Sharded corpora: shards hold exactly what read_midi reads, training windows streamed from them equal
the in-memory stream's, an interrupted preparation resumes without redoing finished shards, and a
truncated or tampered shard is named in one line and rebuilt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from composer import load_corpus, read_midi, write_midi
from composer.cli import main
from composer.corpora import augment, cache
from composer.corpora.sharded import ShardedCorpus, open_corpus
from composer.corpora.shards import prepare_shards, shard_dir
from composer.models.attention_lstm import TrainConfig
from composer.music import Note, Score, Track
from composer.representations.token_codec import TokenCodec
from composer.representations.tokens import to_tokens
from composer.training.data import to_stream
from composer.training.lstm import music_settings, prepare_data, sample_batch

REPO = Path(__file__).resolve().parents[2]


def _song(i: int, top: int = 72) -> Score:
    """Two voices, 3 bars, a gap of 40 steps (two rest events) in piece 2; the top voice reaches ``top``."""
    gap = 40 if i == 2 else 0
    upper = [Note(4 * k + (gap if k > 2 else 0), 4, top - (i + k) % 5, 70 + k) for k in range(6)]
    lower = [Note(8 * k, 8, 48 + (i * 3 + k) % 7) for k in range(3)]
    return Score([Track("S", 0, False, upper), Track("B", 32, False, lower)], bpm=90.0 + i, title=f"s{i}")


def _folder(root: Path, n: int = 6) -> Path:
    root.mkdir()
    for i in range(n):
        write_midi(_song(i, top=125 if i == 4 else 72), root / f"{i:02d}.mid")  # 125: transposing drops notes
    (root / "zz-bad.mid").write_bytes(b"not midi")
    return root


def test_shards_hold_what_read_midi_reads(tmp_path, cache_dir):
    folder = _folder(tmp_path / "songs")
    index = prepare_shards(folder, workers=1, shard_files=3)
    assert [s["name"] for s in index["shards"]] == ["shard-00000.npy", "shard-00001.npy", "shard-00002.npy"]
    corpus = open_corpus(folder)
    assert isinstance(corpus, ShardedCorpus)
    expected = load_corpus(folder, use_cache=False, workers=1)
    assert corpus.ids == expected.ids == [f"{i:02d}.mid" for i in range(6)]
    assert corpus.skipped == expected.skipped == [("zz-bad.mid", expected.skipped[0][1])]
    assert list(corpus.pieces) == [read_midi(folder / i) for i in corpus.ids] == expected.pieces
    assert [p["events"] for p in corpus.meta] == [len(to_tokens(s)) for s in expected.pieces]
    assert [p["events"] for p in corpus.meta] == [6 + 3, 6 + 3, 6 + 3 + 2, 6 + 3, 6 + 3, 6 + 3]
    assert index["notes"] == 54 and index["tokens"] == 56 and index["pieces"] == 6
    assert list(corpus.split("train")) == expected.split("train")


def test_training_windows_from_shards_equal_the_in_memory_stream(tmp_path, cache_dir):
    folder = _folder(tmp_path / "songs")
    prepare_shards(folder, workers=1, shard_files=2)
    cfg = TrainConfig(transpose=2, seq_len=8, batch_size=6)
    data = prepare_data(str(folder), cfg)
    assert isinstance(data["corpus"], ShardedCorpus)
    # The in-memory path, as prepare_data builds it from load_corpus
    corpus = load_corpus(folder, seed=cfg.seed, use_cache=False, workers=1)
    train, shifts = corpus.split("train"), range(-2, 3)
    augmented = augment(train, shifts)
    codec = TokenCodec.fit(augmented, cfg.normalize_key, cfg.bars_left_cap)
    streams = [to_stream([codec.encode(p) for p in augmented[i :: len(shifts)]]) for i in range(len(shifts))]
    assert data["codec"].to_dict() == codec.to_dict()
    assert [len(s) for s in data["streams"]] == [len(ids) for ids, _ in streams]
    assert len(streams[4][0]) < len(streams[2][0])  # +2 then to C drops piece 4's top notes: counted exactly
    for step in range(20):
        lazy = sample_batch(data["streams"], step, cfg.seed, cfg.batch_size, cfg.seq_len, "cpu")
        eager = sample_batch(streams, step, cfg.seed, cfg.batch_size, cfg.seq_len, "cpu")
        for a, b in zip(lazy, eager):
            assert a.tolist() == b.tolist()
    assert data["music"] == music_settings(corpus.pieces)
    val = [codec.encode(p) for p in corpus.split("validation")]
    assert len(data["validation"]) == len(val) == 1
    assert all((a == c).all() and (b == d).all() for (a, b), (c, d) in zip(data["validation"], val))


PREPARE_THEN_HANG = textwrap.dedent(
    """
    import sys, time
    from composer.corpora.shards import prepare_shards
    calls = []
    def progress(n, total):
        calls.append(n)
        if len(calls) > 2:  # the first file of the second shard: hang until killed
            time.sleep(3600)
    prepare_shards(sys.argv[1], workers=1, progress=progress, shard_files=2)
    """
)


def test_a_preparation_killed_after_its_first_shard_resumes_from_it(tmp_path, cache_dir):
    folder = _folder(tmp_path / "songs")
    env = {**os.environ, "PYTHONPATH": str(REPO), "COMPOSER_CACHE_DIR": str(cache_dir)}
    proc = subprocess.Popen([sys.executable, "-c", PREPARE_THEN_HANG, str(folder)], env=env)
    shards = shard_dir(folder.resolve(), 4)
    deadline = time.monotonic() + 120
    while not (shards / "shard-00000.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert sorted(p.name for p in shards.iterdir()) == [".lock", "shard-00000.json", "shard-00000.npy"]
    first = (shards / "shard-00000.npy").stat()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a kept shard is no notice
        index = prepare_shards(folder, workers=1, shard_files=2)
    assert index["kept_shards"] == 1 and len(index["shards"]) == 4
    again = (shards / "shard-00000.npy").stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)  # not redone
    fresh = tmp_path / "fresh"
    os.environ["COMPOSER_CACHE_DIR"] = str(fresh)  # cache_dir's monkeypatch restores it
    clean = prepare_shards(folder, workers=1, shard_files=2)
    assert {k: v for k, v in clean.items() if k not in ("prepare_seconds", "kept_shards")} == {
        k: v for k, v in index.items() if k not in ("prepare_seconds", "kept_shards")
    }


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:-7]), "shard-00001.npy: truncated or missing"),
        (lambda p: p.write_bytes(p.read_bytes()[:-1] + b"\x7f"), "shard-00001.npy: contents do not match"),
        (lambda p: p.with_suffix(".json").write_text("{"), "shard-00001.json: JSONDecodeError"),
    ],
    ids=["truncated", "tampered", "bad-record"],
)
def test_a_damaged_shard_is_named_in_one_line_and_rebuilt(tmp_path, cache_dir, damage, reason):
    folder = _folder(tmp_path / "songs")
    before = prepare_shards(folder, workers=1, shard_files=2)
    npy = shard_dir(folder.resolve(), 4) / "shard-00001.npy"
    damage(npy)
    result = CliRunner().invoke(
        main, ["corpus", "prepare", str(folder), "--workers", "1", "--shard-files", "2"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("composer: notice: shard ") and reason in lines[0], lines
    assert lines[0].endswith("; rebuilding it")
    assert "4 shards (3 kept)" in result.stdout
    after = prepare_shards(folder, workers=1, shard_files=2)
    assert after["shards"] == before["shards"] and after["kept_shards"] == 4


def test_corpus_info_reads_the_index_without_the_shards(tmp_path, cache_dir):
    folder = _folder(tmp_path / "songs")
    runner = CliRunner()
    assert runner.invoke(main, ["corpus", "prepare", str(folder), "--workers", "1"]).exit_code == 0
    shards = shard_dir(folder.resolve(), 4)
    for npy in shards.glob("*.npy"):
        npy.unlink()  # info must not need them
    result = runner.invoke(main, ["corpus", "info", str(folder)])
    assert result.exit_code == 0, result.output
    assert "pieces      6  (skipped 1)" in result.stdout and "notes       54" in result.stdout
    assert "shards      1" in result.stdout and "zz-bad.mid: not a valid MIDI file" in result.stdout


def test_shards_are_read_without_pickle(tmp_path, cache_dir, monkeypatch):
    folder = _folder(tmp_path / "songs")
    prepare_shards(folder, workers=1)
    calls = []
    real = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: calls.append(k) or real(*a, **k))
    list(open_corpus(folder).pieces)
    assert len(calls) == 2  # the check of the kept shard, then the corpus's memory map
    assert all(k == {"allow_pickle": False, "mmap_mode": "r"} for k in calls)
    assert cache.cache_dir() == cache_dir


def test_musegan_phrases_from_shards_equal_the_stacked_ones(tmp_path, cache_dir):
    import torch

    from composer.representations.pianoroll import RollCodec
    from composer.training.musegan_data import PhraseStream

    root = tmp_path / "choir"
    root.mkdir()
    for i in range(6):  # four voices, 4 bars, bar 3 of piece 1 silent (its phrases skip it)
        tracks = [
            Track(f"V{v}", 0, False, [Note(16 * b, 16, 72 - 7 * v - i) for b in range(4) if (i, b) != (1, 2)])
            for v in range(4)
        ]
        if i == 2:  # a drum track and a low voice listed first: voice order comes from mean pitch
            tracks = [
                Track("Low", 0, False, [Note(0, 64, 30)]),
                *tracks,
                Track("Dr", 0, True, [Note(0, 4, 36)]),
            ]
        if i == 3:  # notes of 0 and 70 steps: bars 0-4 sound, the last padded
            tracks[0].notes[:] = [Note(0, 70, 90)]
        meter = (3, 4) if i == 4 else (4, 4)  # another meter: not used
        tracks = tracks if i != 5 else tracks[:3]  # three voices: not used
        write_midi(Score(tracks, title=f"c{i}", time_signature=meter), root / f"{i}.mid")
    corpus = open_corpus(root)
    pieces = list(corpus.pieces)
    for tonic in (None, 0):
        codec = RollCodec.fit(pieces, n_tracks=4, tonic=tonic)
        rolls, last = codec.to_phrases(pieces, 2)
        stream = PhraseStream(codec, corpus.pieces, 2)
        assert len(stream) == len(rolls) == 3 + 1 + 3 + 4 and stream.last.tolist() == last.tolist()
        assert stream.where.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [2, 0], [2, 1], [2, 2]] + [
            [3, b] for b in range(4)
        ]
        idx = torch.tensor([10, 0, 3, 3, 4, 8, 9])
        assert torch.equal(stream[idx], torch.from_numpy(rolls)[idx])


@pytest.mark.parametrize("workers", [1, 2])
def test_shards_of_the_chorales_as_midi_hold_what_read_midi_reads(tmp_path, cache_dir, bach, workers):
    """The 350 chorales written as MIDI, prepared in this process (read_piece) and in the pool
    (read_record's bytes): every piece, its tokens and its event count equal read_midi's."""
    folder = tmp_path / "chorales"
    folder.mkdir()
    for i, score in enumerate(bach.pieces):
        write_midi(score, folder / f"{i:03d}.mid")
    index = prepare_shards(folder, workers=workers, shard_files=200)
    corpus = open_corpus(folder)
    assert index["pieces"] == len(corpus.ids) == 350 and index["skipped"] == []
    expected = [read_midi(folder / i) for i in corpus.ids]
    assert list(corpus.pieces) == expected
    assert [p["events"] for p in corpus.meta] == [len(to_tokens(s)) for s in expected]
    assert index["tokens"] == sum(len(to_tokens(s)) for s in expected)
