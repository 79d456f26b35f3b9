"""Corpora: load_corpus("bach" | folder) -> Corpus, prepared once and cached, split by piece."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from composer.corpora import cache
from composer.errors import ComposerError, CorpusError
from composer.music import DEFAULT_RESOLUTION, Score, transpose
from composer.representations.tokens import Vocab, to_tokens

SPLITS = ("train", "validation", "test")
FRACTIONS = (0.8, 0.1, 0.1)


@dataclass
class Corpus:
    """Pieces of one corpus with their ids, the files skipped (with reasons), and a seeded split.

    Pieces are read from the cache on first access, so ``info()`` alone stays fast.
    """

    name: str
    ids: list[str]
    skipped: list[tuple[str, str]]
    settings: dict
    summary: dict = field(default_factory=dict)
    _key: str = ""
    _pieces: list[Score] | None = None

    @property
    def pieces(self) -> list[Score]:
        if self._pieces is None:
            meta = cache.read_cache_meta(self._key)  # notices an unusable entry itself
            try:
                if meta is not None and meta["ids"] == self.ids:
                    self._pieces = cache.read_cache_pieces(self._key, meta)
            except cache.CacheEntryError as e:  # damaged since load_corpus looked
                cache.notice(f"corpus cache entry {self._key} is unusable ({e}); rebuilding it")
            if self._pieces is None:
                source = "bach" if self.name == "bach" else Path(self.name)
                fresh = _prepare(source, _locate(source)[2], self.settings, self._key)
                if fresh.ids != self.ids:
                    raise CorpusError(f"{self.name}: its files changed while it was loaded; run again")
                self._pieces = fresh.pieces
        return self._pieces

    def split_indices(self) -> dict[str, list[int]]:
        """Piece indices of each split: a permutation from the seed, cut 80/10/10."""
        return split_indices(len(self.ids), self.settings["seed"])

    def split(self, name: str) -> list[Score]:
        if name not in SPLITS:
            raise CorpusError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
        return [self.pieces[i] for i in self.split_indices()[name]]

    def info(self) -> dict:
        """What `composer corpus info` prints: counts, vocabulary sizes, split sizes, skipped files."""
        return {
            "corpus": self.name,
            "pieces": len(self.ids),
            **self.summary,
            "split": {k: len(v) for k, v in self.split_indices().items()},
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "settings": self.settings,
        }


def split_indices(n: int, seed: int) -> dict[str, list[int]]:
    order = np.random.default_rng(seed).permutation(n).tolist()
    n_test = round(n * FRACTIONS[2]) if n >= 10 else int(n >= 3)
    n_val = round(n * FRACTIONS[1]) if n >= 10 else int(n >= 3)
    n_train = n - n_val - n_test
    return {
        "train": sorted(order[:n_train]),
        "validation": sorted(order[n_train : n_train + n_val]),
        "test": sorted(order[n_train + n_val :]),
    }


def augment(pieces: list[Score], semitones: range = range(-5, 7)) -> list[Score]:
    """Every piece transposed by every shift in ``semitones`` (0 keeps the original)."""
    return [transpose(s, k) for s in pieces for k in semitones]


def load_corpus(
    source: str | Path,
    resolution: int = DEFAULT_RESOLUTION,
    seed: int = 0,
    use_cache: bool = True,
    workers: int | None = None,
) -> Corpus:
    """Load "bach" (music21's chorales) or a folder of MIDI files, from the cache when it is fresh.

    A cache entry that is unusable is rebuilt and replaced, with a CacheWarning. A preparation in
    which some file could not be read at all (it vanished, or is unreadable now) is not cached, so
    that the file is read again next time rather than skipped for good.

    A folder's files are read by ``workers`` processes (default: every core); see
    midi_folder.read_folder.

    Raises CorpusError when the source does not exist or holds no usable piece.
    """
    name, root, files = _locate(source)
    settings = {"resolution": resolution, "seed": seed}
    # The seed only picks the split, so it stays out of the key: another seed reuses the prepared pieces.
    key = cache.cache_key(name, {"resolution": resolution}, cache.fingerprint(files, root))
    meta = cache.read_cache_meta(key) if use_cache else None
    if meta is None:
        return _prepare(source, files, settings, key, workers)
    skipped = [tuple(s) for s in meta["skipped"]]
    corpus = Corpus(name, meta["ids"], skipped, settings, meta["summary"], key)
    if meta.get("seed", 0) != seed:  # vocabulary and OOV rate depend on the split
        corpus.summary = {**meta["summary"], **_summarize(corpus.pieces, seed)}
    return corpus


def _locate(source: str | Path) -> tuple[str, Path, list[Path]]:
    """(corpus name, root folder, source files) of "bach" or a folder."""
    from composer.corpora import bach, midi_folder

    if str(source) == "bach":
        root, files = bach.source_files()
        return "bach", root, files
    root = Path(source).expanduser().resolve()
    return str(root), root, midi_folder.source_files(root)


def _prepare(
    source: str | Path, files: list[Path], settings: dict, key: str, workers: int | None = None
) -> Corpus:
    """Parse ``files``, summarize, and write the cache entry (unless a read failed for now)."""
    from composer.corpora import bach, midi_folder

    root = None if str(source) == "bach" else Path(source).expanduser().resolve()
    name = "bach" if root is None else str(root)
    resolution, seed = settings["resolution"], settings["seed"]
    t0 = time.perf_counter()
    if name == "bach":
        pieces, ids, skipped = bach.read_chorales(resolution)
    else:
        pieces, ids, skipped = midi_folder.read_folder(root, resolution, workers, files)
    if not pieces:
        listed = "; ".join(f"{p}: {r}" for p, r in skipped[:3]) or "no .mid or .midi files"
        raise CorpusError(f"{source}: no usable piece ({listed})")
    summary = _summarize(pieces, seed)
    summary["prepare_seconds"] = round(time.perf_counter() - t0, 3)
    unread = [p for p, r in skipped if midi_folder.is_transient(r)]
    if unread:
        cache.notice(f"corpus cache not written: {len(unread)} file(s) could not be read now ({unread[0]})")
        return Corpus(name, ids, skipped, settings, summary, key, pieces)
    try:
        cache.write_cache(key, pieces, ids, {"skipped": skipped, "summary": summary, "seed": seed})
    except (OSError, ComposerError) as e:  # an unwritable cache costs speed next time, not this load
        cache.notice(f"corpus cache not written: {e}")
    return Corpus(name, ids, skipped, settings, summary, key, pieces)


def _summarize(pieces: list[Score], seed: int) -> dict:
    """Counts that `corpus info` reports, computed once when the cache is written."""
    splits = split_indices(len(pieces), seed)
    tokens = [to_tokens(s) for s in pieces]
    vocab = Vocab.fit([tokens[i] for i in splits["train"]])
    test = [tokens[i] for i in splits["test"]]
    return {
        "notes": sum(s.n_notes for s in pieces),
        "tracks": sorted({len(s.tracks) for s in pieces}),
        "time_signatures": sorted({"/".join(map(str, s.time_signature)) for s in pieces}),
        "tokens": int(sum(len(t) for t in tokens)),
        "vocab": vocab.sizes,
        "oov_rate_test": round(vocab.oov_rate(np.concatenate(test)) if test else 0.0, 5),
    }
