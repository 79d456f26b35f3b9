"""Key names: the one spelling composer prints and stores ("Eb major", "F# minor"), reading every
spelling it meets (music21's "E- major", MIDI's "Ebm", "Am", a lone "c"), and the key estimate.

NumPy only, so the samplers and the MIDI reader import it without torch or music21.
"""

from __future__ import annotations

import re

import numpy as np

from composer.errors import ComposerError
from composer.music import Note

MODES = ("major", "minor")
# One name per pitch class and mode: the key signature with fewer accidentals (F# major and Gb major
# tie at six: sharps win), which is how the Bach chorales and most printed music spell them.
MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
# Krumhansl-Kessler key profiles, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY = re.compile(r"^\s*([A-Ga-g])\s*([#b\-s]*)\s*(m|min|minor|maj|major|M)?\s*$")


def parse_key(text: str) -> tuple[int, str]:
    """(tonic pitch class, mode) of a key name: "E- major", "Eb major", "Ebm", "Am", "f# minor", "c"
    (a lone lower-case letter is minor, as in music21).

    Raises
    ------
    ComposerError
        Anything else, naming the text.
    """
    m = _KEY.match(text or "")
    accidentals = m.group(2).replace("s", "#").replace("-", "b") if m else ""
    if not m or len(set(accidentals)) > 1:
        raise ComposerError(
            f"unknown key {text!r}: use a tonic and a mode, e.g. 'Eb major', 'F# minor', 'Am'"
        )
    letter, mode = m.group(1), m.group(3)
    pc = (_LETTERS[letter.upper()] + accidentals.count("#") - accidentals.count("b")) % 12
    if mode is None:
        minor = letter.islower()
    else:
        minor = mode in ("m", "min", "minor")
    return pc, MODES[int(minor)]


def key_name(pc: int, mode: str) -> str:
    """The one spelling composer writes: "Eb major", "F# minor" (flats as 'b')."""
    return f"{(MINOR_NAMES if mode == 'minor' else MAJOR_NAMES)[pc % 12]} {mode}"


def spell_key(text: str) -> str:
    """Any key name ``parse_key`` reads, in composer's spelling: "E- major" -> "Eb major",
    "Gb major" -> "F# major", "Abm" -> "G# minor"."""
    return key_name(*parse_key(text))


def key_scores(notes: list[Note]) -> dict[tuple[int, str], float]:
    """How well each key fits: the correlation of its Krumhansl-Kessler profile with the
    duration-weighted pitch classes of ``notes``, per (tonic pitch class, mode); 0 where undefined."""
    hist = np.zeros(12)
    for n in notes:
        hist[n.pitch % 12] += n.duration
    return {
        (pc, mode): float(np.nan_to_num(np.corrcoef(hist, np.roll(profile, pc))[0, 1]))
        for profile, mode in ((MAJOR_PROFILE, "major"), (MINOR_PROFILE, "minor"))
        for pc in range(12)
    }


def estimate_key(notes: list[Note]) -> str | None:
    """The best-fitting key (key_scores; ties go to the lowest tonic); None without notes."""
    if not any(n.duration for n in notes):
        return None
    scores = key_scores(notes)
    return key_name(*max(scores, key=lambda k: (scores[k], -k[0], k[1])))
