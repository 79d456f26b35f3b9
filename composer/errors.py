"""The one family of user-facing errors; the CLI turns each into a single line and exit status 2.

``show_path`` is how every message names a file: one line, whatever bytes the name holds.
"""

from __future__ import annotations

import os


class ComposerError(Exception):
    """A failure the user can act on: bad input file, missing checkpoint, unknown port.

    The message names the offending thing (a path, a value) and the reason, in one line.
    """

    exit_code = 2


class MidiError(ComposerError):
    """A MIDI file that cannot be read or would not fit (corrupt, truncated, absurdly long)."""


class CorpusError(ComposerError):
    """A corpus that cannot be loaded, or that holds no usable piece."""


class CheckpointError(ComposerError):
    """A checkpoint that is missing, corrupt, or does not match the corpus it is used with."""


class OutputError(ComposerError):
    """An output that cannot be written: a missing folder, a full disk, a folder in the way."""


class CheckpointInTheWay(OutputError):
    """A folder training would write over: a shipped checkpoint (``shipped``), or a run's checkpoint
    that the caller neither resumes nor forces over. The CLI says which options get past it."""

    def __init__(self, folder, shipped: bool):
        self.folder, self.shipped = folder, shipped
        what = "is a checkpoint shipped with composer" if shipped else "already holds a checkpoint"
        super().__init__(f"{show_path(folder)} {what}")


class OutputClosed(OutputError):
    """The reader of standard output went away (``| head``): the CLI exits quietly, as cat does."""

    exit_code = 141  # 128 + SIGPIPE, what a shell reports for a writer killed by a closed pipe


class SamplingError(ComposerError):
    """Sampling that cannot go on: the model stopped moving forward in time."""


class OptionError(ComposerError):
    """A value a library call cannot use, named by its parameter: the CLI shows it as its flag.

    ``param`` is the parameter's name (``bpm``, ``vary``), ``value`` what was given, ``reason`` what
    is wrong or what to give instead. ``str()`` reads ``bpm 0: choose ...``; the CLI writes ``--bpm
    0: choose ...``.
    """

    def __init__(self, param: str, value, reason: str):
        self.param, self.value, self.reason = param, value, reason
        super().__init__(f"{param} {_shown(value)}: {reason}")


def _shown(value) -> str:
    """A value as a message shows it: text as written (one line), anything else as repr."""
    if isinstance(value, str):
        return show_path(value)
    if isinstance(value, (list, tuple)):
        return ",".join(_shown(v) for v in value)
    return str(value)


class Interrupted(ComposerError):
    """Ctrl-C during training, after the checkpoint was saved in ``folder`` (None: nothing saved
    now): one line and exit status 130."""

    exit_code = 130  # as a shell reports a SIGINT-killed command

    def __init__(self, message: str, folder=None):
        super().__init__(message)
        self.folder = folder


def show_path(path: str | bytes | os.PathLike) -> str:
    """``path`` printable on one line: undecodable bytes as \\xNN, control characters as \\n, \\t, \\x1b.

    Python keeps undecodable file-name bytes as lone surrogates (\\udcNN); they, and every control
    character, are escaped, so an error message stays one line and never writes raw bytes to a
    terminal.
    """
    text = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)
