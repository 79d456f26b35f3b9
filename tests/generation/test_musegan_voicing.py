"""choose_pitches: the voice-leading choice among a decoded roll's candidate pitches."""

from __future__ import annotations

import numpy as np

from composer.generation.musegan_voicing import choose_pitches
from composer.music import Score
from composer.representations.pianoroll import RollCodec


def _notes(score: Score) -> list[list[tuple[int, int, int]]]:
    return [[(n.start, n.duration, n.pitch) for n in t.notes] for t in score.tracks]


def test_voice_leading_choice_avoids_a_parallel_fifth_and_keeps_range():
    codec = RollCodec(names=("S", "B"), programs=(0, 0), lowest_pitch=48, n_pitches=36, tonic=None)
    roll = -np.ones((1, 16, 36, 2, 2), dtype=np.float32)
    roll[0, :8, 19, 0, 0] = 0.9  # soprano G4, then A4 (best) or B4 (nearly as good)
    roll[0, 8:, 21, 0, 0], roll[0, 8:, 23, 0, 0] = 0.9, 0.8
    roll[0, :8, 12, 1, 0] = roll[0, 8:, 14, 1, 0] = 0.9  # bass C4 then D4: with A4, a parallel fifth
    roll[0, 8, [21, 14], [0, 1], 1] = 0.9  # both struck at step 8
    plain = codec.decode(roll)
    assert _notes(plain)[0] == [(0, 8, 67), (8, 8, 69)]
    rows = choose_pitches(codec, codec.to_segments(roll))
    assert [[r + 48 for r in v] for v in rows] == [[67, 71], [60, 62]]
    assert _notes(codec.decode(roll, pitches=rows))[0] == [(0, 8, 67), (8, 8, 71)]


def test_voice_leading_choice_completes_a_final_tonic_triad():
    codec = RollCodec()  # SATB from C2, tonic C
    roll = -np.ones((1, 16, 48, 4, 2), dtype=np.float32)
    for voice, (row, score) in enumerate([(38, 0.9), (31, 0.9), (24, 0.9), (12, 0.9)]):  # D5 G4 C4 C3
        roll[0, :, row, voice, 0] = score
        roll[0, 0, row, voice, 1] = 0.9
    roll[0, :, 40, 0, 0] = 0.8  # the soprano's second choice: E5
    assert [t.notes[0].pitch for t in codec.decode(roll).tracks] == [74, 67, 60, 48]
    rows = choose_pitches(codec, codec.to_segments(roll))
    assert [[r + 36 for r in v] for v in rows] == [[76], [67], [60], [48]]  # C major over C
