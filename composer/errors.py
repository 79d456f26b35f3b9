"""The one family of user-facing errors; the CLI turns each into a single line and exit status 2."""


class ComposerError(Exception):
    """A failure the user can act on: bad input file, missing checkpoint, unknown port.

    The message names the offending thing (a path, a value) and the reason, in one line.
    """


class MidiError(ComposerError):
    """A MIDI file that cannot be read or would not fit (corrupt, truncated, absurdly long)."""


class CorpusError(ComposerError):
    """A corpus that cannot be loaded, or that holds no usable piece."""


class CheckpointError(ComposerError):
    """A checkpoint that is missing, corrupt, or does not match the corpus it is used with."""
