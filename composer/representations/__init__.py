"""Encode/decode pairs between a Score and what the models read: token events and piano rolls."""

from composer.representations.pianoroll import from_pianoroll, to_pianoroll
from composer.representations.tokens import STREAMS, Vocab, from_tokens, to_tokens

__all__ = ["STREAMS", "Vocab", "from_pianoroll", "from_tokens", "to_pianoroll", "to_tokens"]
