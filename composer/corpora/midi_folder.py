"""Any folder of MIDI files, searched recursively: each file is one piece, its tracks kept.

Bad files are skipped and listed with their reason; every good file is kept.
"""

from __future__ import annotations

import os
from pathlib import Path

from composer.corpora import pool
from composer.errors import ComposerError, CorpusError, show_path
from composer.midi_io import MidiTicks, read_midi, read_midi_ticks
from composer.music import Score

SUFFIXES = (".mid", ".midi")
UNREADABLE = "cannot read file"  # read_midi's reason when the OS refused the read
POOL_MIN_FILES = 32  # below this, starting worker processes costs more than it saves
FILE_SECONDS = 20.0  # read_midi takes milliseconds on any file within its caps; more is a hung parser


def source_files(root: Path) -> list[Path]:
    """Every .mid/.midi file under ``root``, sorted; symlinked folders are not followed (as rglob)."""
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder of MIDI files (nor the name of a corpus: bach)")
    # sorted as Paths sort (part by part), but on strings: sorting 100,000 Paths takes seconds
    return [Path(p) for p in sorted(_walk(str(root)), key=lambda p: p.split(os.sep))]


def _walk(folder: str):
    """Paths of MIDI files under ``folder`` by scandir, which knows each entry's type without a stat
    (rglob stats every file: 100,000 files took seconds); an unreadable subfolder is passed over."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            yield from _walk(e.path)
        elif os.path.splitext(e.name)[1].lower() in SUFFIXES and e.is_file():
            yield e.path


def read_folder(
    root: Path,
    resolution: int,
    workers: int | None = None,
    files: list[Path] | None = None,
    timeout: float = FILE_SECONDS,
) -> tuple[list[Score], list[str], list[tuple[str, str]]]:
    """Read every MIDI file under ``root`` (or ``files``, as listed by source_files).

    With ``workers`` > 1 (default: every core) and at least POOL_MIN_FILES files, the files are read
    in a supervised pool (pool.py): a file that crashes or hangs its worker for more than ``timeout``
    seconds is skipped with that reason, and the others are kept.

    Returns (pieces, ids, skipped as (path, reason)).
    """
    files = source_files(root) if files is None else files
    workers = pool.default_workers() if workers is None else workers
    if len(files) >= POOL_MIN_FILES and workers > 1:
        results = pool.read_all(files, resolution, read_one, workers, timeout)
    else:
        results = [read_one(f, resolution) for f in files]
    pieces, ids, skipped = [], [], []
    for path, (score, reason) in zip(files, results):
        rel = str(path.relative_to(root))
        if score is None:
            skipped.append((rel, reason))
        else:
            pieces.append(score)
            ids.append(rel)
    return pieces, ids, skipped


def is_transient(reason: str) -> bool:
    """Whether a skip reason is a read failure that may pass (the file vanished or is unreadable now)."""
    return reason.startswith(UNREADABLE)


def read_one(path: Path, resolution: int) -> tuple[Score | None, str]:
    """(score, "") of a file with notes, else (None, the reason it is skipped)."""
    try:
        score = read_midi(path, resolution)
    except ComposerError as e:
        return None, str(e).removeprefix(f"{show_path(path)}: ")
    if not score.n_notes:
        return None, "no notes"
    return score, ""


def read_ticks(path: Path, resolution: int) -> tuple[MidiTicks | None, str]:
    """(the file decoded, "") as read_one reads it, before quantizing; else (None, the reason)."""
    try:
        return read_midi_ticks(path, resolution), ""
    except ComposerError as e:
        return None, str(e).removeprefix(f"{show_path(path)}: ")
