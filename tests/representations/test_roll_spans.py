"""roll_spans: the corpus rhythm table and the rhythm decoding of one voice."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from composer.music import Note, Score, Track
from composer.representations.pianoroll import RollCodec
from composer.representations.roll_spans import check_rhythm, fit_rhythm, rhythm_spans

UNIFORM = tuple(tuple([1 / 16] * 16) for _ in range(16))
QUARTERS = tuple(tuple(0.85 if d == 4 else 0.01 for d in range(1, 17)) for _ in range(16))  # mostly quarters


def _voice(pitches: list[int], n_pitches: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """hold, onset (steps, pitches) of a voice sounding ``pitches[i]`` at step i, struck where the
    pitch changes: values +1 where true, -1 elsewhere, as a confident generator's tanh output."""
    hold = -np.ones((len(pitches), n_pitches))
    onset = -np.ones((len(pitches), n_pitches))
    for i, p in enumerate(pitches):
        hold[i, p] = 1
        if i == 0 or pitches[i - 1] != p:
            onset[i, p] = 1
    return hold, onset


def test_fit_rhythm_counts_durations_by_their_first_step_in_the_bar():
    notes = [Note(0, 8, 60), Note(8, 4, 62), Note(12, 2, 64), Note(14, 2, 62), Note(16, 40, 60)]
    table = np.array(fit_rhythm([Score([Track("S", 0, False, notes)])], 16))
    assert table.shape == (16, 16)
    assert np.allclose(table.sum(axis=1), 1, atol=1e-5)
    assert table[0, 7] == pytest.approx(2 / 18, abs=1e-6)  # an 8-step note at step 0, add-one smoothed
    assert table[0, 15] == pytest.approx(2 / 18, abs=1e-6)  # the 40-step note counts as a whole bar
    assert table[12, 1] == pytest.approx(2 / 17, abs=1e-6) and table[12, 0] == pytest.approx(1 / 17, abs=1e-6)
    assert table[5, 3] == pytest.approx(1 / 16, abs=1e-6)  # a step where no note starts: uniform


@pytest.mark.parametrize(
    "bad",
    [
        UNIFORM[:15],
        tuple(row[:15] for row in UNIFORM),
        ((0.0,) + UNIFORM[0][1:],) + UNIFORM[1:],
        ((0.5,) * 16,) + UNIFORM[1:],
    ],
)
def test_a_rhythm_table_of_the_wrong_shape_or_not_probabilities_is_refused(bad):
    with pytest.raises(ValueError, match="rhythm"):
        check_rhythm(bad, 16)
    with pytest.raises(ValueError, match="rhythm"):
        RollCodec(rhythm=bad)


def test_a_held_pitch_is_one_note_and_pitch_changes_cut_it_even_for_a_sixteenth():
    hold, onset = _voice([0] * 16)
    assert rhythm_spans(hold, onset, np.ones(16, bool), UNIFORM) == [(0, 16)]
    hold, onset = _voice([0, 0, 1, 2, 3, 3, 3, 3])  # an eighth, two sixteenths, a quarter
    assert rhythm_spans(hold, onset, np.ones(8, bool), UNIFORM) == [(0, 2), (2, 3), (3, 4), (4, 8)]


def test_rests_split_runs_and_notes_never_span_more_than_a_bar():
    hold, onset = _voice([0] * 40)
    sounding = np.ones(40, bool)
    sounding[20:24] = False
    assert rhythm_spans(hold, onset, sounding, UNIFORM) == [(0, 16), (16, 20), (24, 40)]


def test_the_corpus_rhythm_decides_where_the_model_is_unsure():
    hold = np.zeros((8, 4))  # no preference between pitches 0 and 1 over a half note
    hold[:, :2] = 0.5
    onset = np.zeros((8, 4))
    spans = rhythm_spans(hold, onset, np.ones(8, bool), QUARTERS)
    assert spans == [(0, 4), (4, 8)]


def test_a_re_strike_of_the_same_pitch_needs_the_onset_channel():
    hold, onset = _voice([0] * 8)
    assert rhythm_spans(hold, onset, np.ones(8, bool), UNIFORM) == [(0, 8)]
    assert rhythm_spans(hold, onset, np.ones(8, bool), QUARTERS) == [(0, 8)]
    onset[4, 0] = 1.0  # the model strikes it again at step 4
    assert rhythm_spans(hold, onset, np.ones(8, bool), QUARTERS) == [(0, 4), (4, 8)]


def test_to_segments_uses_the_rhythm_decoding_only_when_asked_and_fitted():
    codec = RollCodec(names=("S",), programs=(0,), lowest_pitch=60, n_pitches=8, tonic=None)
    roll = -np.ones((1, 16, 8, 1, 2))
    for i, p in enumerate([0, 0, 1, 2] + [3] * 12):
        roll[0, i, p, 0, 0] = 1
    roll[0, [0, 2, 3, 4], [0, 1, 2, 3], 0, 1] = 1
    grid = [(s.start, s.end) for s in codec.to_segments(roll)[0]]
    assert (
        grid == [(0, 4), (4, 16)]
        and [(s.start, s.end) for s in codec.to_segments(roll, rhythm=True)[0]] == grid
    )
    fitted = replace(codec, rhythm=UNIFORM)
    assert [(s.start, s.end) for s in fitted.to_segments(roll, rhythm=True)[0]] == [
        (0, 2),
        (2, 3),
        (3, 4),
        (4, 16),
    ]
    assert all(type(s.start) is int and type(s.end) is int for s in fitted.to_segments(roll, rhythm=True)[0])
    assert fitted.to_segments(roll) == codec.to_segments(roll)
