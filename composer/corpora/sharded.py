"""A prepared folder opened from its shards: piece metadata in memory, notes memory-mapped, each
Score built only when it is asked for. Training on a folder reads its corpus through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from composer.corpora import SPLITS, load_corpus, split_indices
from composer.corpora.shard_record import ShardError
from composer.corpora.shards import prepare_records, read_shard, shard_dir
from composer.errors import CorpusError
from composer.music import DEFAULT_RESOLUTION, Note, Score, Track


def open_corpus(source: str | Path, resolution: int = DEFAULT_RESOLUTION, seed: int = 0, workers=None):
    """The corpus training reads: "bach" as load_corpus gives it (in memory, 350 pieces), a folder as
    a ShardedCorpus, prepared first where its shards are missing, stale or damaged."""
    if str(source) == "bach":
        return load_corpus(source, resolution, seed, workers=workers)
    index, records = prepare_records(source, resolution, workers)
    return ShardedCorpus(shard_dir(Path(index["corpus"]), resolution), index, records, seed)


class ShardedCorpus:
    """The pieces of a prepared folder, with the interface of Corpus (name, ids, skipped, settings,
    summary, pieces, split_indices, split, info); ``pieces`` and ``split`` are lazy sequences."""

    def __init__(self, folder: Path, index: dict, records: list[dict], seed: int = 0):
        self.folder, self.index = folder, index
        self.name = index["corpus"]
        self.settings = {**index["settings"], "seed": seed}
        self.skipped = [tuple(s) for s in index["skipped"]]
        self.records = records  # as prepare_records checked them
        self.meta = [p for r in self.records for p in r["pieces"]]  # one dict per piece
        self.shard_of = np.repeat(np.arange(len(self.records)), [len(r["pieces"]) for r in self.records])
        self.ids = [p["id"] for p in self.meta]
        self.summary = {k: index[k] for k in ("notes", "tokens")}
        self._notes: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.meta)

    @property
    def pieces(self) -> PieceList:
        return PieceList(self, range(len(self)))

    def split_indices(self) -> dict[str, list[int]]:
        return split_indices(len(self), self.settings["seed"])

    def split(self, name: str) -> PieceList:
        if name not in SPLITS:
            raise CorpusError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
        return PieceList(self, self.split_indices()[name])

    def info(self) -> dict:
        return info_of(self.index, self.settings["seed"])

    def header(self, i: int) -> Score:
        """Piece ``i`` without its notes: tracks (empty), resolution, tempo, meter, key, title, length."""
        resolution, bpm, meter, key, title, length = self.meta[i]["score"]
        tracks = [Track(name, program, is_drum, []) for name, program, is_drum in self.meta[i]["tracks"]]
        return Score(tracks, resolution, bpm, tuple(meter), key, title, length)

    def rows(self, i: int) -> np.ndarray:
        """Piece ``i``'s note rows from its memory-mapped shard, shape=(notes, 5) (track, start,
        duration, pitch, velocity)."""
        s = int(self.shard_of[i])
        if s not in self._notes:
            self._notes[s] = read_shard(self.folder, self.records[s])
        p = self.meta[i]
        return self._notes[s][p["offset"] : p["offset"] + p["rows"]]

    def score(self, i: int) -> Score:
        """Piece ``i`` as read_midi read it (the same tracks, notes in the same order)."""
        score, rows = self.header(i), self.rows(i).tolist()
        if rows and not 0 <= min(r[0] for r in rows) <= max(r[0] for r in rows) < len(score.tracks):
            raise ShardError(f"{self.folder}: piece {self.ids[i]!r} names a track it does not have")
        for track, start, duration, pitch, velocity in rows:
            score.tracks[track].notes.append(Note(start, duration, pitch, velocity))
        return score


class PieceList(Sequence):
    """Pieces ``indices`` of a ShardedCorpus, each read from the memory map when indexed."""

    def __init__(self, corpus: ShardedCorpus, indices: Sequence[int]):
        self.corpus, self.indices = corpus, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return PieceList(self.corpus, self.indices[k])
        return self.corpus.score(self.indices[k])


def info_of(index: dict, seed: int = 0) -> dict:
    """What `composer corpus info` prints of a prepared folder, from its index alone."""
    return {
        "corpus": index["corpus"],
        "pieces": index["pieces"],
        "notes": index["notes"],
        "tokens": index["tokens"],
        "shards": len(index["shards"]),
        "shard_bytes": sum(s["bytes"] for s in index["shards"]),
        "split": {k: len(v) for k, v in split_indices(index["pieces"], seed).items()},
        "skipped": [{"path": p, "reason": r} for p, r in index["skipped"]],
        "settings": {**index["settings"], "seed": seed},
        "fingerprint": index["fingerprint"],
    }
