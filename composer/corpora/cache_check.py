"""Checks on a corpus cache entry read from disk: its JSON, its npz member headers and its note rows.

A cache folder is untrusted data (it can be damaged, truncated, or written by someone else), so every
field is checked before use, and the npz's inflated size, dtype and shape are read from its member
headers before any array is allocated: an npz that inflates 2 MB to 2 GiB costs a few bytes of reading.
Any failure is a CacheEntryError, which the cache turns into a miss and a rebuild.
"""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

FORMAT = 2  # 2: bach without duplicate listings, Score.length, seed-free keys
MAX_META_BYTES = 256 * 2**20  # the JSON of a 100,000-piece corpus is about 50 MB
MAX_STEP = 2**31 - 1  # notes are stored as int32
NOTE_DTYPE = np.dtype("<i4")
NOTE_COLUMNS = 6  # piece, track, start, duration, pitch, velocity


class CacheEntryError(Exception):
    """A cache entry that cannot be used; internal: it always becomes a miss, never reaches the user."""


def reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def read_meta(path: Path) -> dict:
    """The entry's JSON, checked field by field against what write_cache writes."""
    try:
        size = path.stat().st_size
        if size > MAX_META_BYTES:
            raise CacheEntryError(f"{path.name} is {size:,} bytes, over the {MAX_META_BYTES:,}-byte limit")
        meta = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as e:  # RecursionError: JSON nested 100,000 deep
        raise CacheEntryError(f"{path.name}: {reason(e)}") from None
    _check(isinstance(meta, dict), "the JSON is not an object")
    checksums = meta.get("checksums", {})  # entries written before checksums have none
    _check(isinstance(checksums, dict), "checksums is not an object")
    if "meta" in checksums:
        _check(checksums["meta"] == meta_digest(meta), "the JSON does not match its checksum")
    _check(meta.get("format") == FORMAT, f"format {meta.get('format')!r}, not {FORMAT}")
    ids, pieces, skipped, summary = (meta.get(k) for k in ("ids", "pieces", "skipped", "summary"))
    _check(isinstance(ids, list) and all(isinstance(i, str) for i in ids), "ids are not a list of names")
    _check(isinstance(pieces, list) and len(pieces) == len(ids) > 0, "pieces do not match ids")
    for p in pieces:
        _check_piece(p)
    _check(
        isinstance(skipped, list)
        and all(isinstance(s, list) and len(s) == 2 and all(isinstance(x, str) for x in s) for s in skipped),
        "skipped is not a list of (path, reason)",
    )
    _check(isinstance(meta.get("seed", 0), int), "seed is not an integer")
    _check_summary(summary)
    return meta


def _check(ok: bool, why: str) -> None:
    if not ok:
        raise CacheEntryError(why)


def _is_int(x, lo: int, hi: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and lo <= x <= hi


def _check_piece(p) -> None:
    _check(isinstance(p, dict), "a piece is not an object")
    meter, tracks = p.get("time_signature"), p.get("tracks")
    bpm = p.get("bpm")
    _check(
        isinstance(p.get("title"), str)
        and _is_int(p.get("resolution"), 1, 960)
        and isinstance(bpm, (int, float))
        and math.isfinite(bpm)
        and bpm > 0
        and isinstance(meter, list)
        and len(meter) == 2
        and all(_is_int(x, 1, 2**16) for x in meter)
        and (p.get("key") is None or isinstance(p.get("key"), str))
        and _is_int(p.get("length"), 0, MAX_STEP)
        and isinstance(tracks, list),
        f"piece {p.get('title')!r} has a bad field",
    )
    for t in tracks:
        _check(
            isinstance(t, dict)
            and isinstance(t.get("name"), str)
            and _is_int(t.get("program"), 0, 127)
            and isinstance(t.get("is_drum"), bool),
            f"piece {p['title']!r} has a bad track",
        )


def _check_summary(summary) -> None:
    _check(isinstance(summary, dict), "summary is not an object")
    ints = ("notes", "tokens")
    _check(all(_is_int(summary.get(k), 0, 2**40) for k in ints), "summary counts are not integers")
    vocab, oov = summary.get("vocab"), summary.get("oov_rate_test")
    _check(
        isinstance(vocab, dict) and all(isinstance(v, int) for v in vocab.values()),
        "summary vocabulary sizes are not integers",
    )
    _check(isinstance(oov, (int, float)) and 0 <= oov <= 1, "summary OOV rate is not a fraction")
    _check(
        isinstance(summary.get("tracks"), list) and isinstance(summary.get("time_signatures"), list),
        "summary tracks or meters are not lists",
    )


def meta_digest(meta: dict) -> str:
    """sha256 of the entry's JSON without its checksums, keys sorted."""
    rest = {k: v for k, v in meta.items() if k != "checksums"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def check_npz(path: Path, n_rows: int, digest: str | None = None) -> None:
    """The npz holds one member, notes.npy: int32, shape (n_rows, 6), inflating to exactly its size.

    Only the zip directory and the first bytes of the member are read, and the compressed bytes are
    hashed when the JSON holds their sha256. The zip's recorded inflated size also bounds what
    np.load can inflate later (zipfile stops reading there).
    """
    inflated = 256 + n_rows * NOTE_COLUMNS * NOTE_DTYPE.itemsize
    try:
        size = path.stat().st_size
        _check(size <= 2 * inflated + 2**16, f"{path.name} is {size:,} bytes, too big for {n_rows:,} notes")
        if digest is not None:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(2**20):
                    h.update(chunk)
            _check(h.hexdigest() == digest, f"{path.name} does not match its checksum")
    except OSError as e:
        raise CacheEntryError(f"{path.name}: {reason(e)}") from None
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            _check([i.filename for i in infos] == ["notes.npy"], f"members {[i.filename for i in infos]}")
            with z.open(infos[0]) as f:
                version = np.lib.format.read_magic(f)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0}.get(
                    version, np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(f)
                header = f.tell()
    except CacheEntryError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise CacheEntryError(f"{path.name}: {reason(e)}") from None
    expected = (n_rows, NOTE_COLUMNS)
    _check(dtype == NOTE_DTYPE and not fortran, f"notes are {dtype}, not int32")
    _check(tuple(shape) == expected, f"notes have shape {tuple(shape)}, not {expected}")
    size = header + n_rows * NOTE_COLUMNS * NOTE_DTYPE.itemsize
    _check(infos[0].file_size == size, f"notes inflate to {infos[0].file_size:,} bytes, not {size:,}")


def check_notes(notes: np.ndarray, pieces: list[dict]) -> None:
    """Every row names an existing piece and track, and holds a note that read_midi could give."""
    if not len(notes):
        return
    pi, ti, start, duration, pitch, velocity = notes.T
    tracks = np.array([len(p["tracks"]) for p in pieces])
    _check(pi.min() >= 0 and pi.max() < len(pieces), "a note names a piece that does not exist")
    _check(bool((ti >= 0).all() and (ti < tracks[pi]).all()), "a note names a track that does not exist")
    _check(bool((start >= 0).all() and (duration >= 1).all()), "a note has a negative start or no duration")
    _check(bool((start.astype(np.int64) + duration <= MAX_STEP).all()), "a note ends past the last step")
    _check(bool(((pitch >= 0) & (pitch <= 127)).all()), "a note has a pitch outside 0-127")
    _check(bool(((velocity >= 1) & (velocity <= 127)).all()), "a note has a velocity outside 1-127")
