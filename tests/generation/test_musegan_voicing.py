"""choose_pitches: the voice-leading choice among a decoded roll's candidate pitches."""

from __future__ import annotations

import numpy as np
import pytest

from composer.generation.musegan_voicing import choose_pitches, end_on_chord
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


def test_voice_leading_choice_completes_a_downbeat_triad():
    codec = RollCodec()  # SATB from C2, tonic C
    roll = -np.ones((1, 16, 48, 4, 2), dtype=np.float32)
    for voice, (row, score) in enumerate([(38, 0.9), (31, 0.9), (24, 0.9), (12, 0.9)]):  # D5 G4 C4 C3
        roll[0, :, row, voice, 0] = score
        roll[0, 0, row, voice, 1] = 0.9
    roll[0, :, 40, 0, 0] = 0.8  # the soprano's second choice: E5
    assert [t.notes[0].pitch for t in codec.decode(roll).tracks] == [74, 67, 60, 48]
    rows = choose_pitches(codec, codec.to_segments(roll))
    assert [[r + 36 for r in v] for v in rows] == [[76], [67], [60], [48]]  # C major over C


def test_the_ending_is_a_dominant_on_the_last_beat_then_the_tonic_voices_moving_by_step():
    codec = RollCodec()  # SATB from C2, tonic C
    roll = -np.ones((2, 16, 48, 4, 2), dtype=np.float32)
    for voice, row in enumerate([40, 31, 24, 12]):  # E5 G4 C4 C3 throughout: the tonic
        roll[:, :, row, voice, 0] = 0.9
        roll[0, 0, row, voice, 1] = 0.9
    roll[0, 12:, 41, 0, 0] = 0.95  # the soprano prefers F5 on the last beat of bar 1
    segments = end_on_chord(codec, codec.to_segments(roll), roll)
    assert [[(s.start, s.end) for s in v] for v in segments] == [[(0, 12), (12, 16), (16, 24)]] * 4
    rows = choose_pitches(codec, segments, ending=True)
    # the model's chord, then V7 over G (the soprano's F5, the leading tone B3 in the tenor), then C
    # major over C: the seventh falls to E, the leading tone rises to C, the bass leaps G2-C3
    assert [[r + 36 for r in v] for v in rows] == [[76, 77, 76], [67, 67, 67], [60, 59, 60], [48, 43, 48]]


def test_a_one_bar_ending_is_the_tonic_chord_alone():
    codec = RollCodec()
    roll = -np.ones((1, 16, 48, 4, 2), dtype=np.float32)
    for voice, (row, second) in enumerate([(38, 40), (35, 36), (29, 31), (19, 12)]):
        roll[0, :, row, voice, 0] = 0.9  # D5 B4 F4 G3: a dominant seventh, the model's best
        roll[0, :, second, voice, 0] = 0.5  # E5 C5 G4 C3: its second choices
    segments = end_on_chord(codec, codec.to_segments(roll), roll)
    assert [[(s.start, s.end) for s in v] for v in segments] == [[(0, 8)]] * 4
    assert [v + 36 for (v,) in choose_pitches(codec, segments, ending=True)] == [76, 72, 67, 48]


def test_without_ending_the_last_bar_is_left_to_the_model():
    codec = RollCodec()
    roll = -np.ones((1, 16, 48, 4, 2), dtype=np.float32)
    for voice, row in enumerate([38, 35, 29, 19]):
        roll[0, :, row, voice, 0] = 0.9
        roll[0, 0, row, voice, 1] = 0.9
    assert [v + 36 for (v,) in choose_pitches(codec, codec.to_segments(roll))] == [74, 71, 65, 55]


@pytest.mark.parametrize("third_before, final_third", [(40, 64), (39, 63)])
def test_a_major_piece_ends_major_and_a_minor_one_as_the_model_prefers(third_before, final_third):
    codec = RollCodec()
    roll = -np.ones((2, 16, 48, 4, 2), dtype=np.float32)
    for voice, row in enumerate([43, third_before, 24, 12]):  # G5, E5 or Eb5, C4, C3 in bar 1
        roll[0, :, row, voice, 0] = 0.9
    for voice, row in enumerate([36, 31, 27, 12]):  # bar 2: C5 G4 Eb4 C3, the model's minor ending
        roll[1, :, row, voice, 0] = 0.9
    roll[1, :, 28, 2, 0] = 0.5  # E4, the tenor's second choice
    rows = choose_pitches(codec, end_on_chord(codec, codec.to_segments(roll), roll), ending=True)
    assert rows[2][-1] + 36 == final_third
