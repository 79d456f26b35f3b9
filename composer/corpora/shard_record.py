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
    """One piece's entry: a single expression, as it runs for every piece of every open."""
    try:
        resolution, bpm, meter, key, title, length = p["score"]
        ok = (
            type(p["id"]) is str
            and p["offset"] == offset
            and type(p["rows"]) is int
            and p["rows"] > 0
            and type(p["events"]) is int
            and p["events"] > 0
            and type(resolution) is int
            and 1 <= resolution <= 96
            and type(bpm) in (int, float)
            and 0 < bpm <= 10_000
            and len(meter) == 2
            and type(meter[0]) is int
            and type(meter[1]) is int
            and meter[0] > 0
            and meter[1] > 0
            and (key is None or type(key) is str)
            and type(title) is str
            and type(length) is int
            and length >= 0
            and len(p["pitch"]) == 2
            and all(type(x) is int and 0 <= x <= 127 for x in p["pitch"])
            and len(p["tracks"]) > 0
            and all(
                len(t) == 3
                and type(t[0]) is str
                and type(t[1]) is int
                and 0 <= t[1] <= 127
                and type(t[2]) is bool
                for t in p["tracks"]
            )
        )
    except (TypeError, KeyError, ValueError, IndexError):
        ok = False
    if not ok:
        name = p.get("id") if isinstance(p, dict) else None
        raise ShardError(f"shard {i}: malformed entry for piece {name!r} (at row {offset})")


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
