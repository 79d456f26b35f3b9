"""Corpora: load_corpus("bach" | folder) -> Corpus, prepared once and cached, split by piece."""

from __future__ import annotations

import time
import warnings
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
            self._pieces = cache.read_cache_pieces(self._key, cache.read_cache_meta(self._key))
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
    source: str | Path, resolution: int = DEFAULT_RESOLUTION, seed: int = 0, use_cache: bool = True
) -> Corpus:
    """Load "bach" (music21's chorales) or a folder of MIDI files, from the cache when it is fresh.

    Raises CorpusError when the source does not exist or holds no usable piece.
    """
    from composer.corpora import bach, midi_folder

    if str(source) == "bach":
        name = "bach"
        root, files = bach.source_files()
    else:
        root = Path(source).expanduser().resolve()
        name = str(root)
        files = midi_folder.source_files(root)
    settings = {"resolution": resolution, "seed": seed}
    # The seed only picks the split, so it stays out of the key: another seed reuses the prepared pieces.
    key = cache.cache_key(name, {"resolution": resolution}, cache.fingerprint(files, root))
    meta = cache.read_cache_meta(key) if use_cache else None
    if meta is None:
        t0 = time.perf_counter()
        if name == "bach":
            pieces, ids, skipped = bach.read_chorales(resolution)
        else:
            pieces, ids, skipped = midi_folder.read_folder(root, resolution)
        if not pieces:
            listed = "; ".join(f"{p}: {r}" for p, r in skipped[:3]) or "no .mid or .midi files"
            raise CorpusError(f"{source}: no usable piece ({listed})")
        summary = _summarize(pieces, seed)
        summary["prepare_seconds"] = round(time.perf_counter() - t0, 3)
        try:
            cache.write_cache(key, pieces, ids, {"skipped": skipped, "summary": summary, "seed": seed})
        except (OSError, ComposerError) as e:  # an unwritable cache costs speed next time, not this load
            warnings.warn(f"corpus cache not written: {e}", stacklevel=2)
        return Corpus(name, ids, skipped, settings, summary, key, pieces)
    skipped = [tuple(s) for s in meta["skipped"]]
    corpus = Corpus(name, meta["ids"], skipped, settings, meta["summary"], key)
    if meta.get("seed", 0) != seed:  # vocabulary and OOV rate depend on the split
        corpus.summary = {**meta["summary"], **_summarize(corpus.pieces, seed)}
    return corpus


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
