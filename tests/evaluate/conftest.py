"""Fixtures of the evaluate tests: a two-bar score with values worked out by hand."""

from __future__ import annotations

import pytest

from composer.music import Note, Score, Track


@pytest.fixture
def two_bars():
    """Bar 1: C4 (4 steps), E4 (1), G4 (8) over a whole-bar C3; bar 2: D4 (2 steps) alone."""
    upper = Track("upper", 52, False, [Note(0, 4, 60), Note(4, 1, 64), Note(8, 8, 67), Note(16, 2, 62)])
    lower = Track("lower", 52, False, [Note(0, 16, 48)])
    return Score([upper, lower], length=32)
