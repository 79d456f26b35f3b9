"""File writes: composer's own files atomically, and the user's outputs as a careful Unix tool does.

``atomic_write``/``atomic_path`` (checkpoints, caches, pictures): write a temporary file beside the
target, then rename it into place; a crash or Ctrl-C mid-write leaves the old file (or none), never
a half-written one.

``write_output`` (``-o``): a regular file is replaced atomically (keeping its permissions); a
symlink is written through, to its target; a device, FIFO or standard output is written in place,
never renamed over; a missing folder is an error, never created. A path that cannot be written (a
folder, a missing or read-only location, a full disk) is a one-line OutputError; a closed standard
output is OutputClosed, which the CLI ends quietly.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from composer.errors import OutputClosed, OutputError, show_path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, how: str = "wb", mode: int | None = None) -> Iterator[IO]:
    """Open a temporary file for writing (``how`` as for open); on success it replaces ``path``
    with permissions ``mode`` (default 0666 less the umask), on error it is removed."""
    with atomic_path(path, mode) as tmp, open(tmp, how) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, mode: int | None = None) -> Iterator[Path]:
    """A temporary path to hand to a library that writes by file name; renamed onto ``path`` on success."""
    path = Path(path)
    tmp = None
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "is a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix + ".tmp")
        os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask() if mode is None else mode)  # mkstemp makes 0600
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(f"{show_path(path)}: cannot write ({e.strerror or e})") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output(dest: str | os.PathLike) -> Path | None:
    """Where ``write_output`` will write: None for standard output or a special file (a device, a FIFO,
    ``/dev/stdout``: written in place), else the regular file to replace (a symlink resolved). Raises
    OutputError, before any work is done, for a folder or a missing folder."""
    if dest == "-":
        return None
    try:
        mode = os.stat(dest).st_mode  # through any symlink
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise OutputError(f"{show_path(dest)}: cannot write ({e.strerror})") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"{show_path(dest)}: cannot write (is a folder)")
    if mode is not None and not stat.S_ISREG(mode):
        return None
    path = Path(os.path.realpath(dest)) if os.path.islink(dest) else Path(dest)
    if not path.parent.is_dir():
        raise OutputError(f"{show_path(dest)}: cannot write (no such folder: {show_path(path.parent)})")
    return path


def write_output(data: bytes, dest: str | os.PathLike | IO[bytes]) -> None:
    """``data`` to ``dest``: ``"-"`` (standard output), a binary file object, or a path (see module doc)."""
    if dest == "-":
        _write_stream(data, sys.stdout.buffer, "standard output")
        return
    if hasattr(dest, "write"):
        _write_stream(data, dest, getattr(dest, "name", "output"))
        return
    path = check_output(dest)
    if path is None:  # a device or FIFO: written in place (a rename would replace it with a file)
        try:
            fd = os.open(dest, os.O_WRONLY)
        except OSError as e:
            raise OutputError(f"{show_path(dest)}: cannot write ({e.strerror})") from None
        with os.fdopen(fd, "wb") as f:
            _write_stream(data, f, show_path(dest))
        return
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)  # a replaced file keeps its permissions
    except FileNotFoundError:
        mode = None
    with atomic_write(path, mode=mode) as f:
        _write_stream(data, f, show_path(dest))


def _write_stream(data: bytes, f: IO[bytes], name: str) -> None:
    try:
        f.write(data)
        f.flush()
    except BrokenPipeError:
        raise OutputClosed(f"{name}: closed by its reader") from None
    except OSError as e:
        raise OutputError(f"{name}: cannot write ({e.strerror or e})") from None
