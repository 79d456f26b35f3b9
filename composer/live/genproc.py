"""Generation for `composer live` in a child process: bars come over a pipe as JSON lines.

JACK's process callback is Python and needs the interpreter lock (GIL). A generator thread in the
same process holds that lock while it samples, so the callback waited for it and, on an
asynchronous server, missed its cycle: a `composer live` stopped by Ctrl-C during the first bars
made jackd report composer late 27-85 times in a few seconds (state "Running": inside its callback)
and once lost the closing note-offs (benchmarks/RESULTS.md, "Live on an asynchronous server,
continued"). In a process of its own the generator has its own lock; the player's process only reads
a line per bar. The child measures its own time per bar (``ChildBars.seconds``) for the headroom.

    python -m composer.live.genproc MODEL CHECKPOINT SEED   # one JSON line per bar on stdout
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict

from composer.errors import ComposerError
from composer.music import Note, Score, Track

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")


def to_json(score: Score, seconds: float) -> str:
    """One bar and the seconds it took to generate, as one line of JSON."""
    return json.dumps({"seconds": seconds, "bar": asdict(score)}, separators=(",", ":"))


def from_json(line: str) -> tuple[Score, float]:
    """The (bar, seconds) of a ``to_json`` line.

    Raises
    ------
    ComposerError
        The line is the child's error report (``{"error": message}``).
    """
    record = json.loads(line)
    if "error" in record:
        raise ComposerError(record["error"])
    bar = record["bar"]
    tracks = [Track(**{**t, "notes": [Note(**n) for n in t["notes"]]}) for t in bar.pop("tracks")]
    bar["time_signature"] = tuple(bar["time_signature"])
    return Score(tracks=tracks, **bar), record["seconds"]


class ChildBars:
    """Iterator of one-bar Scores from ``stream_bars`` of ``model`` run in a child process.

    ``threads``: torch threads in the child (OMP_NUM_THREADS), None to inherit. ``seconds`` is the
    child's generation time for the bar returned last. ``close()`` stops it.
    """

    def __init__(self, model: str, checkpoint, seed: int, threads: int | None = None):
        cmd = [sys.executable, "-m", "composer.live.genproc", model, str(checkpoint or ""), str(seed)]
        env = None if threads is None else {**os.environ, "OMP_NUM_THREADS": str(threads)}  # torch's pool
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, env=env
        )
        self.seconds: float | None = None

    def __iter__(self) -> ChildBars:
        return self

    def __next__(self) -> Score:
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise ComposerError(f"the generator process stopped (exit status {code})")
        bar, self.seconds = from_json(line)
        return bar

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def _as_child() -> None:
    """Signals are the parent's to act on (a terminal's Ctrl-C reaches the whole group): the parent
    kills this process when it is done, and the kernel does if the parent dies first. Realtime
    (SCHED_RR 1, below JACK's threads) where allowed, so a busy machine does not starve it."""
    for name in STOP_SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(1))
    except (AttributeError, OSError):
        pass


def _send(line: str) -> None:
    """One record to the parent: stdout is the pipe ChildBars reads, never a terminal."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(model: str, checkpoint: str, seed: int) -> None:
    import importlib

    _as_child()
    try:
        bars = importlib.import_module(f"composer.generation.{model}").stream_bars(
            checkpoint=checkpoint or None, seed=seed
        )
        while True:
            t0 = time.perf_counter()
            bar = next(bars)
            _send(to_json(bar, time.perf_counter() - t0))
    except ComposerError as e:
        _send(json.dumps({"error": str(e)}))
        sys.exit(2)
    except BrokenPipeError:  # the parent is done
        sys.exit(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
