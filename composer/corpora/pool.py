"""A supervised pool of worker processes that read MIDI files: a file that crashes or hangs its worker
costs only that file, which is listed as skipped with the reason, and the pool goes on.

Each worker takes one path at a time over a pipe and answers with the Score encoded as JSON plus an
int32 note array (never pickle). The parent watches every worker's deadline; a worker past
``timeout`` seconds is killed and replaced, as is one that dies (a segfault in a parser, the memory
limit). Workers start from a forkserver, so a parent holding threads (torch) is never forked.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.music import Note, Score, Track

WORKER_MEMORY = 3 * 2**30  # address space per worker: a runaway parse fails there, not on the box

Reader = Callable[[Path, int], tuple[Score | None, str]]


def default_workers() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def read_all(
    files: list[Path], resolution: int, read: Reader, workers: int, timeout: float
) -> list[tuple[Score | None, str]]:
    """``read(path, resolution)`` for every file in ``workers`` processes, in the order of ``files``.

    ``read`` must be a module-level function (it is named, not pickled, for the workers).
    """
    results: list[tuple[Score | None, str] | None] = [None] * len(files)
    todo = deque(range(len(files)))
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([read.__module__])  # each worker then starts with the reader imported
    starting = {w.conn: w for w in (_Worker(ctx, read, resolution) for _ in range(min(workers, len(files))))}
    idle: list[_Worker] = []
    busy: dict[Connection, tuple[_Worker, int, float]] = {}
    try:
        while todo or busy:
            while todo and idle:
                worker, index = idle.pop(), todo.popleft()
                worker.conn.send_bytes(os.fsencode(files[index]))
                busy[worker.conn] = (worker, index, time.monotonic())
            # A file's clock starts when a ready worker gets it, so a slow start is not a hang.
            soonest = min((started + timeout for _, _, started in busy.values()), default=None)
            wait_for = None if soonest is None else max(0.0, soonest - time.monotonic())
            for conn in wait(list(busy) + list(starting), timeout=wait_for):
                if conn in starting:
                    idle.append(_ready(starting.pop(conn)))
                    continue
                worker, index, _ = busy.pop(conn)
                try:
                    results[index] = from_bytes(conn.recv_bytes())
                    idle.append(worker)
                except (EOFError, OSError):  # the worker died on this file
                    code = worker.stop()
                    results[index] = (None, f"the parser crashed (worker exit code {code})")
                    new = _Worker(ctx, read, resolution)
                    starting[new.conn] = new
            now = time.monotonic()
            for conn, (worker, index, started) in list(busy.items()):
                if now - started > timeout:
                    del busy[conn]
                    worker.stop()
                    results[index] = (None, f"timed out after {timeout:g} s (the parser hung)")
                    new = _Worker(ctx, read, resolution)
                    starting[new.conn] = new
    finally:
        for worker in idle + list(starting.values()) + [w for w, _, _ in busy.values()]:
            worker.stop()
    return results


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


def _serve(conn: Connection, read: Reader, resolution: int) -> None:
    """A worker: read each path sent, answer with the encoded result, until the pipe closes."""
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    conn.send_bytes(b"ready")
    while True:
        try:
            path = Path(os.fsdecode(conn.recv_bytes()))
        except (EOFError, OSError):
            return
        try:
            result = read(path, resolution)
        except MemoryError:
            result = (None, f"over the worker's memory limit of {WORKER_MEMORY // 2**30} GiB")
        conn.send_bytes(to_bytes(*result))


def to_bytes(score: Score | None, reason: str) -> bytes:
    """A read result as JSON (everything but the notes), a NUL byte, then int32 note rows."""
    if score is None:
        return json.dumps({"reason": reason}).encode()
    meta = {
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
    rows = [
        (ti, n.start, n.duration, n.pitch, n.velocity) for ti, t in enumerate(score.tracks) for n in t.notes
    ]
    return json.dumps(meta).encode() + b"\0" + np.array(rows, dtype=np.int32).reshape(-1, 5).tobytes()


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
