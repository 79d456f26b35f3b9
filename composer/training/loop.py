"""Helpers every training loop shares: seeding, a progress display, Ctrl-C handling, early stopping,
RNG state in checkpoints, the loss-curve PNG, the lock on the output folder, and the checks before
training into or resuming from a checkpoint folder."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import random
import signal
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from composer.errors import CheckpointError, CheckpointInTheWay, ComposerError, Interrupted, show_path
from composer.paths import is_shipped

log = logging.getLogger(__name__)

INTERRUPTED = Interrupted.exit_code  # exit status after Ctrl-C, as a shell reports a SIGINT-killed command
LOCK = ".lock"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def step_seed(seed: int, step: int) -> int:
    """A seed derived from (seed, step): data order and dropout at a step do not depend on history,
    so a resumed run repeats the uninterrupted one exactly."""
    return int(np.random.default_rng([seed, step]).integers(2**62))


def rng_state() -> dict[str, torch.Tensor]:
    """Torch RNG states as tensors, for the optimizer file of a checkpoint."""
    out = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["rng.cuda"] = torch.cuda.get_rng_state()
    return out


def set_rng_state(tensors: dict[str, torch.Tensor]) -> None:
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])


class Progress:
    """A tqdm bar with loss and ETA on a terminal; otherwise plain lines (about 20 per run) logged at
    INFO on ``composer.training.loop``, which the CLI shows on stderr."""

    def __init__(self, total: int, initial: int = 0, desc: str = "train"):
        self.total, self.desc, self.t0, self.start = total, desc, time.perf_counter(), initial
        self.every = max(1, total // 20)
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True)

    def update(self, step: int, **values: float) -> None:
        text = " ".join(f"{k} {v:.4f}" for k, v in values.items())
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix_str(text, refresh=False)
        elif step % self.every == 0 or step == self.total:
            rate = (step - self.start) / max(time.perf_counter() - self.t0, 1e-9)
            eta = (self.total - step) / rate if rate > 0 else 0.0
            log.info(f"{self.desc} step {step}/{self.total} {text} eta {eta:.0f}s")

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            log.info(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def interruptible() -> Iterator[dict]:
    """Catch Ctrl-C (SIGINT) as a flag, so the loop can finish its step, save and stop cleanly.

    Yields a dict whose "stop" becomes True on the first Ctrl-C; a second Ctrl-C interrupts at once.
    """
    flag = {"stop": False}

    def handler(signum, frame):
        if flag["stop"]:
            raise Interrupted("interrupted again: stopped at once; the last checkpoint saved before stays")
        flag["stop"] = True
        log.warning("interrupted: saving a checkpoint, then stopping (Ctrl-C again to abort)")

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave Ctrl-C alone
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` evaluations."""

    def __init__(self, patience: int, best: float = float("inf"), bad: int = 0):
        self.patience, self.best, self.bad = patience, best, bad

    def update(self, loss: float) -> bool:
        """Record one validation loss; True when it is the best so far."""
        if loss < self.best:
            self.best, self.bad = loss, 0
            return True
        self.bad += 1
        return False

    @property
    def stop(self) -> bool:
        return self.bad >= self.patience

    def to_dict(self) -> dict:
        return {"patience": self.patience, "best": self.best, "bad": self.bad}


def write_loss_curve(history: dict[str, list[float]], folder: str | Path, xlabel: str = "epoch") -> Path:
    """losses.png beside the checkpoint."""
    from composer.plots import plot_losses

    path = Path(folder) / "losses.png"
    plot_losses(history, path, xlabel=xlabel)
    return path


def check_out_folder(folder: str | Path, resume: bool, force: bool) -> None:
    """Refuse to train into a shipped checkpoint (ever), or a new model into a folder that holds a
    checkpoint unless resuming or forced."""
    folder = Path(folder)
    if is_shipped(folder):
        raise CheckpointInTheWay(folder, shipped=True)
    if not (resume or force) and any((folder / sub / "meta.json").exists() for sub in (".", "last")):
        raise CheckpointInTheWay(folder, shipped=False)


def stop_interrupted(step: int, folder: str | Path) -> None:
    """After Ctrl-C and the checkpoint save: raise Interrupted (the CLI prints it, exit status 130)."""
    raise Interrupted(f"interrupted at step {step}; checkpoint saved in {show_path(folder)}", folder=folder)


@contextlib.contextmanager
def locked(folder: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on the checkpoint folder (created if missing) while training into it.

    A second run into the same folder is refused with a ComposerError naming the first one's pid,
    instead of both writing and one losing its work. The lock is ``fcntl.flock`` on ``.lock`` in the
    folder, so it ends with the process however that ends (kill -9 included).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as e:
        raise ComposerError(
            f"{show_path(folder)}: cannot lock the checkpoint folder ({e.strerror})"
        ) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ComposerError(f"{show_path(folder / LOCK)}: not a regular file; remove it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise ComposerError(f"{show_path(folder)}: cannot lock ({e.strerror})") from None
            other = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            other = other if other.isdigit() else "unknown"
            raise ComposerError(
                f"{show_path(folder)}: another training run (pid {other}) is writing to this folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def restoring(folder: str | Path) -> Iterator[None]:
    """Restoring a checkpoint's training state: any mismatch (optimizer groups, RNG state, tensor
    names, training options) becomes one CheckpointError naming the folder, not a traceback."""
    try:
        yield
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError, AttributeError) as e:
        text = str(e).splitlines()[0] if str(e) else ""
        raise CheckpointError(
            f"{show_path(folder)}: cannot resume from it ({type(e).__name__}: {text[:120]})"
        ) from None


def corpus_fingerprint(corpus) -> str:
    """A hash of the corpus's piece ids and split: it changes when the corpus or its split changes."""
    text = json.dumps([corpus.ids, corpus.split_indices()], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_corpus(meta: dict, folder: str | Path, corpus) -> None:
    """Refuse a checkpoint trained on another corpus, or on this corpus before it changed: a clear
    CheckpointError instead of a shape crash or a test split that overlaps the training split.

    ``meta["corpus"]`` holds the corpus ``name`` and ``fingerprint`` (corpus_fingerprint); a
    checkpoint saved before fingerprints were stored is checked by name only.
    """
    saved = meta.get("corpus", {})
    if not isinstance(saved, dict):
        raise CheckpointError(f"{show_path(folder)}: meta.json field corpus is not an object")
    if saved.get("name") != corpus.name:
        raise CheckpointError(
            f"{show_path(folder)}: was trained on corpus {saved.get('name')!r}, not {corpus.name!r}"
        )
    if "fingerprint" in saved and saved["fingerprint"] != corpus_fingerprint(corpus):
        raise CheckpointError(
            f"{show_path(folder)}: corpus {corpus.name!r} has changed since this checkpoint was trained "
            "(other pieces or split); train again"
        )
