"""Prepared corpora bigger than memory: a folder's pieces as note shards (``.npy``, memory-mapped)
plus JSON records, written shard by shard so an interrupted preparation resumes where it stopped.

Layout of ``<cache>/shards/<corpus>-<hash>/``::

    shard-00000.npy    int32 (rows, 5): track, start, duration, pitch, velocity of each note
    shard-00000.json   the shard's files (a digest of their paths, sizes and mtimes), its pieces
                       (id, first row, rows, events, pitch range, score fields, tracks), skipped
                       files with reasons, and the npy's size and sha256
    index.json         the shards in order, counts, skipped files, fingerprint (written last)

Shard ``i`` holds the files ``[i * SHARD_FILES, (i + 1) * SHARD_FILES)`` of the sorted listing.
A shard whose record and npy check out (sources unchanged, size and sha256 as recorded) is kept;
any other is rebuilt, with one notice naming it. Every file is written atomically. No pickle: the
npy is opened with ``allow_pickle=False, mmap_mode="r"``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from composer.atomic import atomic_write
from composer.corpora import cache, midi_folder, pool
from composer.corpora.shard_record import (
    FORMAT,
    ShardError,
    check_index,
    check_record,
    read_json,
)
from composer.errors import CorpusError, show_path
from composer.music import DEFAULT_RESOLUTION
from composer.representations.tokens import MAX_SHIFT

SHARD_FILES = 1000  # files per shard: ~5 MB of notes for chorale-sized pieces, ~1 s of work to redo
COLUMNS = ("track", "start", "duration", "pitch", "velocity")

Progress = Callable[[int, int], None]  # progress(files just finished, files in all)


def shard_dir(root: Path, resolution: int) -> Path:
    """The folder that holds the shards of ``root`` read at ``resolution``."""
    blob = json.dumps({"format": FORMAT, "root": os.fsencode(root).hex(), "resolution": resolution})
    slug = "".join(c if c.isalnum() else "-" for c in str(root))[-40:].strip("-") or "corpus"
    return cache.cache_dir() / "shards" / f"{slug}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def sources_digest(files: list[Path], root: Path) -> str:
    """sha256 over each file's relative path, size and mtime: a cheap test that a shard's files are
    the ones it was built from (content hashing 100,000 files would cost more than parsing them)."""
    h = hashlib.sha256()
    cut = len(os.fsencode(os.path.join(root, "")))  # names relative to root: less root and its slash
    for p in files:
        name = os.fsencode(p)
        try:
            st = os.stat(name)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError as e:
            stamp = f"unreadable: {e.strerror}"
        h.update(name[cut:] + b"\0" + stamp.encode() + b"\0")
    return h.hexdigest()


def prepare_shards(
    source: str | Path,
    resolution: int = DEFAULT_RESOLUTION,
    workers: int | None = None,
    progress: Progress | None = None,
    shard_files: int = SHARD_FILES,
) -> dict:
    """Prepare (or finish preparing) the shards of a folder of MIDI files; returns its index.
    See prepare_records."""
    return prepare_records(source, resolution, workers, progress, shard_files, keep=False)[0]


def prepare_records(
    source: str | Path,
    resolution: int = DEFAULT_RESOLUTION,
    workers: int | None = None,
    progress: Progress | None = None,
    shard_files: int = SHARD_FILES,
    keep: bool = True,
) -> tuple[dict, list[dict]]:
    """Prepare (or finish preparing) the shards of a folder of MIDI files: (index, shard records);
    with ``keep`` False the records are not kept (memory then stays flat as the corpus grows).

    Shards already prepared from the same files are kept; a damaged one is rebuilt with a notice.
    ``progress(n, total)`` is called as files are done (a kept shard's files count at once).

    Raises CorpusError when the folder does not exist or holds no usable piece.
    """
    root = Path(source).expanduser().resolve()
    files = midi_folder.source_files(root)
    folder = shard_dir(root, resolution)
    folder.mkdir(parents=True, exist_ok=True)
    with _exclusive(folder):
        return _prepare(root, files, folder, resolution, workers, progress, shard_files, keep)


@contextlib.contextmanager
def _exclusive(folder: Path):
    """One preparation of a shard folder at a time (every rank of a torchrun opens the corpus): the
    others wait, then keep what it wrote. flock ends with its process, kill -9 included."""
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _prepare(
    root, files, folder, resolution, workers, progress, shard_files, keep
) -> tuple[dict, list[dict]]:
    """prepare_records once the folder is locked."""
    t0 = time.perf_counter()
    records, briefs, kept = [], [], 0
    workers = pool.default_workers() if workers is None else workers
    readers = None  # started at the first shard to read, kept for the others
    try:
        for i, start in enumerate(range(0, len(files), shard_files)):
            chunk = files[start : start + shard_files]
            digest = sources_digest(chunk, root)
            record = _kept_record(folder, i, digest)
            if record is None:
                if readers is None and workers > 1 and len(files) - start >= midi_folder.POOL_MIN_FILES:
                    readers = pool.ReaderPool(
                        read_record, resolution, workers, midi_folder.FILE_SECONDS, decode=from_record
                    )
                done = (lambda n: progress(n, len(files))) if progress else None
                results = _read_files(chunk, resolution, readers, done)
                record = _write_shard(folder, i, chunk, root, results, digest)
            else:
                kept += 1
                if progress:
                    progress(len(chunk), len(files))
            briefs.append(_brief(record))
            if keep:
                records.append(record)
    finally:
        if readers is not None:
            readers.close()
    index = _index(root, resolution, briefs, files, time.perf_counter() - t0, kept)
    index["shard_files"] = shard_files
    if not index["pieces"]:
        listed = "; ".join(f"{p}: {r}" for p, r in index["skipped"][:3]) or "no .mid or .midi files"
        raise CorpusError(f"{show_path(root)}: no usable piece ({listed})")
    with atomic_write(folder / "index.json", "w") as f:
        f.write(json.dumps(index))  # dumps: C encoder; dump streams in Python
    _remove_leftovers(folder, len(briefs))
    return index, records


def _remove_leftovers(folder: Path, n_shards: int) -> None:
    """Delete what earlier runs left in composer's own shard folder: temporary files of a killed
    write, and shards past the last one (the folder lost files)."""
    kept = {f"shard-{i:05d}{suffix}" for i in range(n_shards) for suffix in (".npy", ".json")}
    for path in folder.iterdir():
        killed_write = path.name.startswith((".shard-", ".index.")) and path.name.endswith(".tmp")
        past_last = path.name.startswith("shard-") and path.name not in kept
        if killed_write or past_last:
            path.unlink(missing_ok=True)


def read_index(source: str | Path, resolution: int = DEFAULT_RESOLUTION) -> dict | None:
    """The index of a prepared folder whose files have not changed since (paths, sizes and mtimes),
    read without opening a shard; None when it was never prepared, is stale, or is unusable (then a
    notice says why)."""
    root = Path(source).expanduser().resolve()
    path = shard_dir(root, resolution) / "index.json"
    if not path.exists():
        return None
    try:
        index = check_index(read_json(path))
    except ShardError as e:
        cache.notice(f"{path}: unusable ({e}); it is rebuilt by the next preparation")
        return None
    files, n = midi_folder.source_files(root), index.get("shard_files")
    if type(n) is not int or n < 1:
        return None
    digests = [sources_digest(files[i : i + n], root) for i in range(0, len(files), n)]
    return index if digests == [s.get("sources") for s in index["shards"]] else None


def read_shard(folder: Path, record: dict) -> np.ndarray:
    """A shard's notes, memory-mapped read-only, shape=(rows, 5), int32 (COLUMNS).

    Raises ShardError when the file is not what its record says (size, header, shape)."""
    path = folder / record["npy"]["name"]
    try:
        notes = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError, EOFError) as e:
        raise ShardError(f"{path.name}: {e}") from None
    if notes.dtype != np.int32 or notes.shape != (record["npy"]["rows"], len(COLUMNS)):
        raise ShardError(
            f"{path.name}: holds {notes.dtype} {notes.shape}, not int32 ({record['npy']['rows']}, 5)"
        )
    return notes


def _kept_record(folder: Path, i: int, digest: str) -> dict | None:
    """Shard ``i``'s record when it was built from the same files and its npy checks out; else None,
    with a notice when something was there but damaged."""
    path = folder / f"shard-{i:05d}.json"
    if not path.exists():
        return None
    try:
        record = check_record(read_json(path), i)
        if record["sources"] != digest or record["transient"]:
            return None  # the files changed, or some could not be read last time: read them again
        npy = folder / record["npy"]["name"]
        if not npy.exists() or npy.stat().st_size != record["npy"]["bytes"]:
            raise ShardError(f"{npy.name}: truncated or missing")
        if _sha256(npy) != record["npy"]["sha256"]:
            raise ShardError(f"{npy.name}: contents do not match its sha256")
        read_shard(folder, record)
    except ShardError as e:
        cache.notice(f"shard {folder / path.stem} is damaged ({e}); rebuilding it")
        return None
    return record


def _write_shard(folder: Path, i: int, files: list[Path], root: Path, results: list, digest: str) -> dict:
    """Shard ``i`` of ``files`` read as ``results``: its npy, then its record (which marks a whole shard)."""
    pieces, arrays, skipped, offset = [], [], [], 0
    cut = len(os.path.join(root, ""))  # files are listed under root: less root and its slash
    for path, (meta, notes, reason) in zip(files, results):
        rel = str(path)[cut:]
        if meta is None:
            skipped.append((rel, reason))
            continue
        pieces.append({"id": rel, "offset": offset, "rows": len(notes), **meta})
        arrays.append(notes)
        offset += len(notes)
    notes = np.concatenate(arrays) if arrays else np.zeros((0, len(COLUMNS)), np.int32)
    buf = io.BytesIO()
    np.save(buf, notes, allow_pickle=False)
    name = f"shard-{i:05d}.npy"
    with atomic_write(folder / name) as f:
        f.write(buf.getvalue())
    record = {
        "format": FORMAT,
        "shard": i,
        "sources": digest,
        "files": len(files),
        "transient": any(midi_folder.is_transient(r) for _, r in skipped),
        "npy": {
            "name": name,
            "rows": len(notes),
            "bytes": len(buf.getvalue()),
            "sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
        },
        "pieces": pieces,
        "skipped": skipped,
    }
    with atomic_write(folder / f"shard-{i:05d}.json", "w") as f:
        f.write(json.dumps(record))  # dumps: C encoder; dump streams in Python
    return record


def _read_files(files: list[Path], resolution: int, readers, progress: Callable[[int], None] | None) -> list:
    """(meta, notes, reason) of each file, in order: in the pool ``readers``, or here without one."""
    if readers is not None:
        results = readers.read_all(files, done=progress)
    else:
        pool.keep_freed_memory()
        results = []
        for f in files:
            results.append(read_piece(f, resolution))
            if progress:
                progress(1)
    return results


def read_record(path: Path, resolution: int) -> bytes:
    """A worker's answer for one file: JSON (score fields, tracks, events, pitch range) or a reason,
    a NUL byte, then the int32 note rows (COLUMNS). from_record reads it back as read_piece's."""
    meta, rows, reason = read_piece(path, resolution)
    if meta is None:
        return pool.to_bytes(None, reason)
    return json.dumps(meta).encode() + b"\0" + rows.tobytes()


def read_piece(path: Path, resolution: int) -> tuple[dict | None, np.ndarray | None, str]:
    """(meta, notes, "") of a file with notes, else (None, None, the reason it is skipped).

    meta holds the score fields and tracks (pool.score_meta, of the Score read_midi would give),
    the events its tokens take (count_events) and its pitch range; notes are int32 rows (COLUMNS),
    never Note objects.
    """
    midi, reason = midi_folder.read_ticks(path, resolution)
    if midi is None:
        return None, None, reason
    rows = midi.note_rows(resolution).astype(np.int32)
    if not len(rows):
        return None, None, "no notes"
    pitch = [int(rows[:, 3].min()), int(rows[:, 3].max())]
    meta = pool.score_meta(midi.to_score_frame(rows, resolution))
    return {**meta, "events": count_events(rows), "pitch": pitch}, rows, ""


def from_record(data: bytes) -> tuple[dict | None, np.ndarray | None, str]:
    """The inverse of read_record (also reads the pool's own reason-only answers)."""
    head, _, notes = data.partition(b"\0")
    meta = json.loads(head)
    if "reason" in meta:
        return None, None, meta["reason"]
    return meta, np.frombuffer(notes, dtype=np.int32).reshape(-1, len(COLUMNS)), ""


def count_events(rows: np.ndarray, max_shift: int = MAX_SHIFT) -> int:
    """len(to_tokens(score)) from a piece's note rows: one event per note, plus a rest event for every
    ``max_shift`` steps of a gap beyond the first."""
    starts = np.sort(rows[:, 1].astype(np.int64))
    gaps = starts.copy()
    gaps[1:] -= starts[:-1]  # the first gap is from 0
    long = gaps[gaps > max_shift]  # the others take no rest event
    return int(len(starts) + ((long - 1) // max_shift).sum())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(2**22):
            h.update(chunk)
    return h.hexdigest()


def _brief(record: dict) -> dict:
    """What the index needs of a shard record: the record less its pieces, which it counts."""
    brief = {k: record[k] for k in ("shard", "sources", "npy", "skipped")}
    return {**brief, "pieces": len(record["pieces"]), "events": sum(p["events"] for p in record["pieces"])}


def _index(root, resolution, records, files, seconds, kept) -> dict:
    """The corpus index from the shards' briefs: shards (name, size, sha256), counts, skipped files
    and fingerprint."""
    fingerprint = hashlib.sha256("".join(r["sources"] + r["npy"]["sha256"] for r in records).encode())
    return {
        "format": FORMAT,
        "corpus": os.fsdecode(root),
        "settings": {"resolution": resolution},
        "files": len(files),
        "pieces": sum(r["pieces"] for r in records),
        "notes": sum(r["npy"]["rows"] for r in records),
        "tokens": sum(r["events"] for r in records),
        "shards": [
            {
                "record": f"shard-{r['shard']:05d}.json",
                "sources": r["sources"],
                **{k: r["npy"][k] for k in ("name", "rows", "bytes", "sha256")},
            }
            for r in records
        ],
        "skipped": [s for r in records for s in r["skipped"]],
        "fingerprint": fingerprint.hexdigest(),
        "prepare_seconds": round(seconds, 3),
        "kept_shards": kept,
    }
