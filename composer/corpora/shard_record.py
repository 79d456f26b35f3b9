"""Checks of a shard's JSON record and of a corpus index: both are files on disk, so untrusted.

A record that fails a check is a damaged shard (ShardError), which prepare_shards rebuilds.
"""

from __future__ import annotations

import json
from pathlib import Path

from composer.errors import CorpusError

FORMAT = "composer-shards-1"
MAX_JSON = 256 * 2**20  # a record of 1,000 pieces is ~0.5 MB; an index of 100,000 files ~10 MB


class ShardError(CorpusError):
    """A shard or index that is not what composer wrote (truncated, tampered with, another format)."""


def read_json(path: Path) -> dict:
    """A JSON object from ``path``; ShardError when it is unreadable, oversized or not an object."""
    try:
        if path.stat().st_size > MAX_JSON:
            raise ShardError(f"{path.name}: over {MAX_JSON // 2**20} MiB")
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError, RecursionError) as e:
        raise ShardError(f"{path.name}: {type(e).__name__}: {e}") from None
    if not isinstance(data, dict):
        raise ShardError(f"{path.name}: not a JSON object")
    return data


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise ShardError(what)


def check_record(record: dict, i: int) -> dict:
    """``record`` when it is a well-formed record of shard ``i``, with contiguous piece rows."""
    _need(record.get("format") == FORMAT, f"shard {i}: format {record.get('format')!r}, not {FORMAT}")
    _need(record.get("shard") == i, f"shard {i}: record says shard {record.get('shard')!r}")
    npy = record.get("npy")
    _need(isinstance(npy, dict), f"shard {i}: no npy entry")
    _need(npy.get("name") == f"shard-{i:05d}.npy", f"shard {i}: npy name {npy.get('name')!r}")
    for key in ("rows", "bytes"):
        _need(type(npy.get(key)) is int and npy[key] >= 0, f"shard {i}: npy {key} {npy.get(key)!r}")
    _need(isinstance(npy.get("sha256"), str), f"shard {i}: no sha256")
    _need(isinstance(record.get("sources"), str), f"shard {i}: no sources digest")
    _need(isinstance(record.get("transient"), bool), f"shard {i}: no transient flag")
    pieces, skipped = record.get("pieces"), record.get("skipped")
    _need(isinstance(pieces, list) and isinstance(skipped, list), f"shard {i}: no pieces or skipped list")
    offset = 0
    for p in pieces:
        _check_piece(p, i, offset)
        offset += p["rows"]
    _need(offset == npy["rows"], f"shard {i}: pieces cover {offset} rows of {npy['rows']}")
    for s in skipped:
        _need(
            isinstance(s, list) and len(s) == 2 and all(isinstance(x, str) for x in s),
            f"shard {i}: skipped {s!r}",
        )
    return record


def _check_piece(p: dict, i: int, offset: int) -> None:
    _need(isinstance(p, dict), f"shard {i}: piece {p!r}")
    _need(isinstance(p.get("id"), str), f"shard {i}: piece id {p.get('id')!r}")
    _need(p.get("offset") == offset, f"shard {i}: piece {p['id']!r} at row {p.get('offset')!r}, not {offset}")
    for key in ("rows", "events"):
        _need(type(p.get(key)) is int and p[key] > 0, f"shard {i}: piece {p['id']!r} {key} {p.get(key)!r}")
    score, tracks, pitch = p.get("score"), p.get("tracks"), p.get("pitch")
    _need(isinstance(score, list) and len(score) == 6, f"shard {i}: piece {p['id']!r} score {score!r}")
    resolution, bpm, meter, key, title, length = score
    _need(type(resolution) is int and 1 <= resolution <= 96, f"shard {i}: resolution {resolution!r}")
    _need(isinstance(bpm, (int, float)) and 0 < bpm <= 10_000, f"shard {i}: bpm {bpm!r}")
    _need(
        isinstance(meter, list) and len(meter) == 2 and all(type(x) is int and x > 0 for x in meter),
        f"shard {i}: time signature {meter!r}",
    )
    _need(key is None or isinstance(key, str), f"shard {i}: key {key!r}")
    _need(isinstance(title, str) and type(length) is int and length >= 0, f"shard {i}: title or length")
    _need(isinstance(tracks, list) and tracks, f"shard {i}: piece {p['id']!r} tracks {tracks!r}")
    for t in tracks:
        _need(
            isinstance(t, list)
            and len(t) == 3
            and isinstance(t[0], str)
            and type(t[1]) is int
            and 0 <= t[1] <= 127
            and isinstance(t[2], bool),
            f"shard {i}: track {t!r}",
        )
    _need(
        isinstance(pitch, list) and len(pitch) == 2 and all(type(x) is int and 0 <= x <= 127 for x in pitch),
        f"shard {i}: pitch range {pitch!r}",
    )


def check_index(index: dict) -> dict:
    """``index`` when it is a well-formed corpus index (its shards are checked when opened)."""
    _need(index.get("format") == FORMAT, f"format {index.get('format')!r}, not {FORMAT}")
    for key in ("files", "pieces", "notes", "tokens"):
        _need(type(index.get(key)) is int and index[key] >= 0, f"{key} {index.get(key)!r}")
    _need(isinstance(index.get("corpus"), str), "no corpus name")
    _need(isinstance(index.get("shards"), list), "no shard list")
    _need(isinstance(index.get("skipped"), list), "no skipped list")
    _need(isinstance(index.get("settings"), dict), "no settings")
    return index
