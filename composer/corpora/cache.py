"""The prepared-corpus cache: pieces as one integer array (npz, no pickle) plus JSON metadata.

A cache entry is named by the corpus, a hash of its settings and a hash of its source files' bytes,
so a second load reads two small files, and any change to the sources or settings misses.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from composer.atomic import atomic_write
from composer.music import Note, Score, Track
from composer.paths import cache_dir as user_cache_dir
from composer.paths import shipped_corpora

FORMAT = 2  # 2: bach without duplicate listings, Score.length, seed-free keys
REPO_CORPORA = shipped_corpora()  # the shipped bach entry: read-only, never written


def cache_dir() -> Path:
    """Where cache entries are written: $COMPOSER_CACHE_DIR, else the user cache folder (never the package)."""
    return user_cache_dir()


def _entry_dir(key: str) -> Path:
    """The folder that holds entry ``key``: the user cache, else the shipped entries, else the user cache."""
    for folder in (cache_dir(), REPO_CORPORA):
        if (folder / f"{key}.json").exists():
            return folder
    return cache_dir()


def fingerprint(paths: list[Path], root: Path) -> str:
    """sha256 over each file's path relative to ``root`` and its bytes.

    Files are hashed in chunks (a huge bogus file must not be read into memory whole); a file that
    cannot be read hashes as its error, so it is listed as skipped later instead of failing the corpus.
    """
    h = hashlib.sha256()
    for p in paths:
        h.update(str(p.relative_to(root)).encode() + b"\0")
        try:
            with open(p, "rb") as f:
                while chunk := f.read(2**20):
                    h.update(chunk)
        except OSError as e:
            h.update(f"unreadable: {e}".encode())
        h.update(b"\0")
    return h.hexdigest()


def cache_key(name: str, settings: dict, content: str) -> str:
    blob = json.dumps({"format": FORMAT, "settings": settings, "content": content}, sort_keys=True)
    slug = "".join(c if c.isalnum() else "-" for c in name)[-40:].strip("-") or "corpus"
    return f"{slug}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def write_cache(key: str, pieces: list[Score], ids: list[str], extra: dict) -> None:
    """Store pieces and their metadata under ``key``; ``extra`` is saved beside them in the JSON."""
    rows = [
        (pi, ti, n.start, n.duration, n.pitch, n.velocity)
        for pi, s in enumerate(pieces)
        for ti, t in enumerate(s.tracks)
        for n in t.notes
    ]
    notes = np.array(rows, dtype=np.int32).reshape(-1, 6)
    meta = {
        "format": FORMAT,
        "ids": ids,
        "pieces": [
            {
                "title": s.title,
                "resolution": s.resolution,
                "bpm": s.bpm,
                "time_signature": list(s.time_signature),
                "key": s.key,
                "length": s.length,
                "tracks": [{"name": t.name, "program": t.program, "is_drum": t.is_drum} for t in s.tracks],
            }
            for s in pieces
        ],
        **extra,
    }
    folder = cache_dir()
    with atomic_write(folder / f"{key}.npz") as f:
        np.savez_compressed(f, notes=notes)
    with atomic_write(folder / f"{key}.json", "w") as f:  # written last: its presence marks a whole entry
        json.dump(meta, f)


def read_cache_meta(key: str) -> dict | None:
    path = _entry_dir(key) / f"{key}.json"
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or not (path.parent / f"{key}.npz").exists():
        return None
    return meta


def read_cache_pieces(key: str, meta: dict) -> list[Score]:
    with np.load(_entry_dir(key) / f"{key}.npz", allow_pickle=False) as z:
        notes = z["notes"]
    pieces = [
        Score(
            tracks=[Track(t["name"], t["program"], t["is_drum"], []) for t in p["tracks"]],
            resolution=p["resolution"],
            bpm=p["bpm"],
            time_signature=tuple(p["time_signature"]),
            key=p["key"],
            title=p["title"],
            length=p.get("length", 0),
        )
        for p in meta["pieces"]
    ]
    for pi, ti, start, duration, pitch, velocity in notes.tolist():
        pieces[pi].tracks[ti].notes.append(Note(start, duration, pitch, velocity))
    return pieces
