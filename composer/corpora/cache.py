"""The prepared-corpus cache: pieces as one integer array (npz, no pickle) plus JSON metadata.

A cache entry is named by the corpus, a hash of its settings and a hash of its source files' bytes,
so a second load reads two small files, and any change to the sources or settings misses. An entry
is untrusted: it is checked (cache_check.py) before use, and a bad one is a miss that is rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from composer.atomic import atomic_write
from composer.corpora.cache_check import (
    FORMAT,
    CacheEntryError,
    check_notes,
    check_npz,
    meta_digest,
    read_meta,
    reason,
)
from composer.music import Note, Score, Track
from composer.paths import cache_dir as user_cache_dir
from composer.paths import shipped_corpora

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


class CacheWarning(UserWarning):
    """A cache entry was unusable and is being rebuilt, or could not be written: one line for the user."""


def notice(message: str) -> None:
    """Tell the user about the cache through warnings; the CLI prints each as one line on stderr."""
    warnings.warn(message, CacheWarning, stacklevel=3)


def fingerprint(paths: list[Path], root: Path) -> str:
    """sha256 over each file's path relative to ``root`` and its bytes.

    Files are hashed in chunks (a huge bogus file must not be read into memory whole); a file that
    cannot be read hashes as its error, so it is listed as skipped later instead of failing the corpus.
    """
    h = hashlib.sha256()
    for p in paths:
        h.update(os.fsencode(p.relative_to(root)) + b"\0")  # a non-UTF-8 name hashes as its bytes
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
    buf = io.BytesIO()
    np.savez_compressed(buf, notes=notes)
    # Checksums catch damage that still parses (a flipped letter in a name, a flipped pitch).
    meta["checksums"] = {"npz": hashlib.sha256(buf.getvalue()).hexdigest(), "meta": meta_digest(meta)}
    folder = cache_dir()
    with atomic_write(folder / f"{key}.npz") as f:
        f.write(buf.getvalue())
    with atomic_write(folder / f"{key}.json", "w") as f:  # written last: its presence marks a whole entry
        json.dump(meta, f)


def read_cache_meta(key: str) -> dict | None:
    """The entry's JSON when it is whole and valid, else None (a miss).

    An entry that is there but unusable (unreadable, inconsistent, oversized, an npz whose member
    headers do not match the JSON) is reported once with a CacheWarning, so the caller rebuilds and
    replaces it. A missing entry is a plain miss, without a notice.
    """
    folder = _entry_dir(key)
    if not (folder / f"{key}.json").exists():
        return None
    try:
        meta = read_meta(folder / f"{key}.json")
        check_npz(folder / f"{key}.npz", meta["summary"]["notes"], meta.get("checksums", {}).get("npz"))
    except CacheEntryError as e:
        notice(f"corpus cache entry {folder / key}.* is unusable ({e}); rebuilding it")
        return None
    return meta


def read_cache_pieces(key: str, meta: dict | None) -> list[Score]:
    """The pieces of an entry read by read_cache_meta; raises CacheEntryError when it is unusable now."""
    if meta is None:
        raise CacheEntryError("the entry is gone")
    path = _entry_dir(key) / f"{key}.npz"
    check_npz(path, meta["summary"]["notes"], meta.get("checksums", {}).get("npz"))  # it may have changed
    try:
        with np.load(path, allow_pickle=False) as z:
            notes = z["notes"]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise CacheEntryError(f"{path.name}: {reason(e)}") from None
    check_notes(notes, meta["pieces"])
    pieces = [
        Score(
            tracks=[Track(t["name"], t["program"], t["is_drum"], []) for t in p["tracks"]],
            resolution=p["resolution"],
            bpm=p["bpm"],
            time_signature=tuple(p["time_signature"]),
            key=p["key"],
            title=p["title"],
            length=p["length"],
        )
        for p in meta["pieces"]
    ]
    for pi, ti, start, duration, pitch, velocity in notes.tolist():
        pieces[pi].tracks[ti].notes.append(Note(start, duration, pitch, velocity))
    return pieces
