"""A supervised pool of worker processes that read MIDI files: a file that crashes or hangs its worker
costs only that file, which is listed as skipped with the reason, and the pool goes on.

Each worker takes one path at a time over a pipe and answers with the Score encoded as JSON plus an
int32 note array (never pickle). The parent watches every worker's deadline; a worker past
``timeout`` seconds is killed and replaced, as is one that dies (a segfault in a parser, the memory
limit). Workers start from a forkserver, so a parent holding threads (torch) is never forked.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import resource
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import numpy as np

from composer.errors import ComposerError
from composer.music import Note, Score, Track

WORKER_MEMORY = 3 * 2**30  # address space per worker: a runaway parse fails there, not on the box
BATCH = 16  # paths sent to a worker at once (see ReaderPool)

Reader = Callable[[Path, int], tuple[Score | None, str] | bytes]


def default_workers() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def read_all(
    files: list[Path], resolution: int, read: Reader, workers: int, timeout: float
) -> list[tuple[Score | None, str]]:
    """``read(path, resolution)`` for every file in ``workers`` processes, in the order of ``files``.

    ``read`` must be a module-level function (it is named, not pickled, for the workers).
    """
    with ReaderPool(read, resolution, min(workers, len(files)), timeout) as readers:
        return readers.read_all(files)


class ReaderPool:
    """Supervised reader processes kept across calls of ``read_all`` (a corpus read shard by shard).

    ``read`` returns (Score or None, reason), or its own encoding as bytes, which ``decode`` (default
    from_bytes) turns back into a result; a file skipped by the pool itself (a crash, a hang) gets
    ``decode(to_bytes(None, reason))``.

    A worker is sent up to ``batch`` paths at once and answers each as it finishes: a round trip per
    file cost more than reading the file. When a worker crashes or hangs, the file it was reading is
    skipped and the rest of its batch goes back to the queue.
    """

    def __init__(self, read: Reader, resolution: int, workers: int, timeout: float, decode=None, batch=BATCH):
        self.read, self.resolution, self.timeout, self.batch = read, resolution, timeout, batch
        self.decode: Callable[[bytes], Any] = decode or from_bytes
        self.ctx = multiprocessing.get_context("forkserver")
        self.ctx.set_forkserver_preload([read.__module__])  # each worker then starts with the reader imported
        self.starting: dict[Connection, _Worker] = {}
        self.idle: list[_Worker] = []
        self.size = max(1, workers)
        for _ in range(self.size):
            self._start()

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        worker = _Worker(self.ctx, self.read, self.resolution)
        self.starting[worker.conn] = worker

    def close(self) -> None:
        for worker in self.idle + list(self.starting.values()):
            worker.stop()
        self.idle, self.starting = [], {}

    def read_all(self, files: list[Path], done: Callable[[int], None] | None = None) -> list:
        """The result of every file, in order; ``done(1)`` as each finishes (a progress bar)."""
        results: list = [None] * len(files)
        todo = deque(range(len(files)))
        busy: dict[Connection, _Batch] = {}
        try:
            while todo or busy:
                while todo and self.idle:
                    # smaller batches as the queue empties, so that the workers finish together
                    n = max(1, min(self.batch, len(todo) // (2 * self.size)))
                    job = _Batch(self.idle.pop(), deque(todo.popleft() for _ in range(n)), time.monotonic())
                    job.worker.conn.send_bytes(b"\0".join(os.fsencode(files[i]) for i in job.files))
                    busy[job.worker.conn] = job
                for index, reason in self._wait(busy, results, todo):
                    if reason:  # the pool skipped the file itself
                        results[index] = self.decode(to_bytes(None, reason))
                    if done:
                        done(1)
        finally:  # an error or Ctrl-C mid-way: the busy workers hold stale requests
            for job in busy.values():
                job.worker.stop()
        return results

    def _wait(self, busy: dict, results: list, todo: deque) -> list[tuple[int, str]]:
        """Wait for answers (or the soonest deadline); (index, reason the pool skipped it or "")."""
        # A file's clock starts when its worker is free for it, so a slow start is not a hang.
        soonest = min((job.started + self.timeout for job in busy.values()), default=None)
        wait_for = None if soonest is None else max(0.0, soonest - time.monotonic())
        finished = []
        for conn in wait(list(busy) + list(self.starting), timeout=wait_for):
            if conn in self.starting:
                self.idle.append(_ready(self.starting.pop(conn)))
                continue
            job = busy[conn]
            try:
                while True:  # every answer already waiting
                    results[job.files[0]] = self.decode(conn.recv_bytes())
                    finished.append((job.files.popleft(), ""))
                    job.started = time.monotonic()
                    if not job.files or not conn.poll():
                        break
            except (EOFError, OSError):  # the worker died on this file
                finished.append(
                    (job.files.popleft(), f"the parser crashed (worker exit code {job.worker.stop()})")
                )
                self._requeue(busy.pop(conn), todo)
                continue
            if not job.files:
                self.idle.append(busy.pop(conn).worker)
        now = time.monotonic()
        for conn, job in list(busy.items()):
            if now - job.started > self.timeout:
                job.worker.stop()
                finished.append(
                    (job.files.popleft(), f"timed out after {self.timeout:g} s (the parser hung)")
                )
                self._requeue(busy.pop(conn), todo)
        return finished

    def _requeue(self, job: _Batch, todo: deque) -> None:
        """The files a stopped worker had not reached go back to the front of the queue; a new
        worker takes its place."""
        todo.extendleft(reversed(job.files))
        self._start()


@dataclass
class _Batch:
    worker: _Worker
    files: deque  # indices not answered yet, the one being read first
    started: float  # when the worker began the first of them


def _ready(worker: _Worker) -> _Worker:
    """The worker, once its first message (ready) is read; a worker that died starting is an error."""
    try:
        worker.conn.recv_bytes()
    except (EOFError, OSError):
        code = worker.stop()
        raise ComposerError(f"a MIDI reader process could not start (exit code {code})") from None
    return worker


class _Worker:
    def __init__(self, ctx, read: Reader, resolution: int):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, read, resolution), daemon=True)
        self.process.start()
        child.close()

    def stop(self) -> int | None:
        """Kill the worker (it may be hung) and return its exit code."""
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        return self.process.exitcode


def keep_freed_memory(pad: int = 16 * 2**20) -> None:
    """Let glibc keep ``pad`` bytes of freed heap instead of handing it back to the system at once.

    Reading a file makes and frees a few dozen arrays of tens of KiB; by default glibc trims the heap
    after each, and the pages fault back in for the next file: that took half of the numpy time of
    a read on this VM. A no-op where the C library has no mallopt (not glibc).
    """
    try:
        ctypes.CDLL(None).mallopt(-2, pad)  # M_TOP_PAD
    except (OSError, AttributeError):
        pass


def _serve(conn: Connection, read: Reader, resolution: int) -> None:
    """A worker: read each path sent, answer with the encoded result, until the pipe closes."""
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    keep_freed_memory()
    conn.send_bytes(b"ready")
    while True:
        try:
            batch = conn.recv_bytes().split(b"\0")  # paths cannot hold a NUL
        except (EOFError, OSError):
            return
        for raw in batch:
            try:
                result = read(Path(os.fsdecode(raw)), resolution)
            except MemoryError:
                result = (None, f"over the worker's memory limit of {WORKER_MEMORY // 2**30} GiB")
            conn.send_bytes(result if isinstance(result, bytes) else to_bytes(*result))


def note_rows(score: Score) -> np.ndarray:
    """Every note of ``score``: int32 rows of track index, start, duration, pitch, velocity."""
    rows = [
        (ti, n.start, n.duration, n.pitch, n.velocity) for ti, t in enumerate(score.tracks) for n in t.notes
    ]
    return np.array(rows, dtype=np.int32).reshape(-1, 5)


def to_bytes(score: Score | None, reason: str, rows: np.ndarray | None = None, **extra) -> bytes:
    """A read result as JSON (everything but the notes, and ``extra``), a NUL byte, then the int32 note
    rows (``rows``, else ``note_rows(score)``)."""
    if score is None:
        return json.dumps({"reason": reason}).encode()
    rows = note_rows(score) if rows is None else rows
    return json.dumps({**score_meta(score), **extra}).encode() + b"\0" + rows.tobytes()


def score_meta(score: Score) -> dict:
    """A Score's fields but its notes, as JSON keeps them (lists, not tuples)."""
    return {
        "tracks": [[t.name, t.program, t.is_drum] for t in score.tracks],
        "score": [
            score.resolution,
            score.bpm,
            list(score.time_signature),
            score.key,
            score.title,
            score.length,
        ],
    }


def from_bytes(data: bytes) -> tuple[Score | None, str]:
    """The inverse of to_bytes."""
    head, _, notes = data.partition(b"\0")
    meta = json.loads(head)
    if "reason" in meta:
        return None, meta["reason"]
    tracks = [Track(name, program, is_drum, []) for name, program, is_drum in meta["tracks"]]
    for ti, start, duration, pitch, velocity in np.frombuffer(notes, dtype=np.int32).reshape(-1, 5).tolist():
        tracks[ti].notes.append(Note(start, duration, pitch, velocity))
    resolution, bpm, meter, key, title, length = meta["score"]
    return Score(tracks, resolution, bpm, tuple(meter), key, title, length), ""
