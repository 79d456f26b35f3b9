"""composer: learns music from Bach chorales or MIDI folders and composes it."""

from composer.corpora import Corpus, load_corpus
from composer.errors import ComposerError
from composer.midi_io import read_midi, write_midi
from composer.music import Note, Score, Track
from composer.musicxml import write_musicxml
from composer.representations import Vocab, from_pianoroll, from_tokens, to_pianoroll, to_tokens
from composer.version import __version__ as __version__  # re-exported: composer.__version__

__all__ = [
    "ComposerError",
    "Corpus",
    "Note",
    "Score",
    "Track",
    "Vocab",
    "from_pianoroll",
    "from_tokens",
    "load_corpus",
    "read_midi",
    "to_pianoroll",
    "to_tokens",
    "write_midi",
    "write_musicxml",
]
