"""Piano rolls: to_/from_pianoroll literally and round trip; RollCodec's encode/decode round trips, decoding
rules, phrases and keys."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from composer import from_pianoroll, to_pianoroll
from composer.music import Note, Score, Track
from composer.representations.pianoroll import RollCodec

# Two voices, one octave from C4, 16 steps per 4/4 bar, keys kept as they are.
CODEC = RollCodec(names=("S", "B"), programs=(52, 32), lowest_pitch=60, n_pitches=12, tonic=None)


def _score(*voices: list[Note]) -> Score:
    return Score(tracks=[Track(n, p, False, list(v)) for n, p, v in zip(CODEC.names, CODEC.programs, voices)])


def _notes(score: Score) -> list[list[tuple[int, int, int]]]:
    return [[(n.start, n.duration, n.pitch) for n in t.notes] for t in score.tracks]


def _silent(bars: int = 1) -> np.ndarray:
    """Generator-like output that is silent everywhere: (bars, 16, 12, 2 voices, 2 channels) of -1."""
    return -np.ones((bars, 16, 12, 2, 2), dtype=np.float32)


def test_a_re_struck_note_survives_encode_and_decode():
    score = _score([Note(0, 4, 60), Note(4, 4, 60), Note(8, 8, 62)], [Note(0, 16, 67)])
    roll = CODEC.encode(score)
    assert roll.shape == (1, 16, 12, 2, 2) and roll.dtype == bool
    hold, onset = roll[0, :, :, 0, 0], roll[0, :, :, 0, 1]  # soprano, (steps, pitches)
    assert np.nonzero(hold[:, 0])[0].tolist() == list(range(8))
    assert np.nonzero(hold[:, 2])[0].tolist() == list(range(8, 16))
    assert np.argwhere(onset).tolist() == [[0, 0], [4, 0], [8, 2]]
    assert np.argwhere(roll[0, :, :, 1, 1]).tolist() == [[0, 7]]  # the held bass note: one onset
    back = CODEC.decode(roll * 2.0 - 1)
    assert _notes(back) == [[(0, 4, 60), (4, 4, 60), (8, 8, 62)], [(0, 16, 67)]]
    assert [t.name for t in back.tracks] == ["S", "B"] and [t.program for t in back.tracks] == [52, 32]
    assert back.length == 16 and back.time_signature == (4, 4) and back.bpm == 100.0


def test_a_held_chord_is_one_note_per_voice():
    roll = _silent(2)
    roll[:, :, 4, 0, 0] = 0.9  # E4 held through both bars
    roll[:, :, 0, 1, 0] = 0.8  # C4 likewise
    roll[0, 0, 4, 0, 1] = roll[0, 0, 0, 1, 1] = 0.7  # struck once, at the start
    assert _notes(CODEC.decode(roll)) == [[(0, 32, 64)], [(0, 32, 60)]]


def test_an_onset_inside_a_held_pitch_re_strikes_it():
    roll = _silent()
    roll[0, :, 4, 0, 0] = 0.9
    roll[0, [0, 6], 4, 0, 1] = 0.5
    assert _notes(CODEC.decode(roll))[0] == [(0, 6, 64), (6, 10, 64)]


def test_one_step_blips_and_short_holes_are_decoded_away():
    roll = _silent()
    roll[0, 0:7, 0, 0, 0] = 0.9  # C4 for 7 steps ...
    roll[0, 7, [0, 2], 0, 0] = 0.5, 0.9  # ... a 1-step D4 flicker (C4 still loud: it holds on) ...
    roll[0, 8:10, 0, 0, 0] = -0.5  # ... a 2-step hole (held over: shorter than a quarter) ...
    roll[0, 10:16, 4, 0, 0] = 0.9  # ... then E4 to the end of the bar.
    roll[0, 0:8, 7, 1, 0] = 0.9  # bass: G4, a quarter rest, and a lone 1-step blip (dropped)
    roll[0, 12, 0, 1, 0] = 0.9
    assert _notes(CODEC.decode(roll)) == [[(0, 10, 60), (10, 6, 64)], [(0, 8, 67)]]


def test_notes_start_and_end_on_the_eighth_grid():
    roll = _silent()
    roll[0, 0:5, 0, 0, 0] = 0.9  # C4 for 5 steps, then E4 from step 5 (struck there)
    roll[0, 5:16, 4, 0, 0] = roll[0, 5, 4, 0, 1] = 0.9
    roll[0, 3:16, 7, 1, 0] = roll[0, 3, 7, 1, 1] = 0.9  # bass G4 from step 3, after a rest
    assert _notes(CODEC.decode(roll)) == [[(0, 6, 60), (6, 10, 64)], [(4, 12, 67)]]
    assert _notes(replace(CODEC, grid=1).decode(roll)) == [[(0, 5, 60), (5, 11, 64)], [(3, 13, 67)]]


def test_a_voice_bar_that_would_be_silent_sounds_its_best_pitch():
    roll = _silent()
    roll[0, :, 9, 0, 0] = -0.2  # never above the threshold, but the best soprano row
    assert _notes(CODEC.decode(roll))[0] == [(0, 16, 69)]


def test_codec_settings_round_trip_through_json():
    codec = RollCodec()
    assert RollCodec.from_dict(json.loads(json.dumps(codec.to_dict()))) == codec
    assert codec.shape == (16, 48, 4, 2) and codec.n_tracks == 4


def test_fit_takes_meter_names_and_programs_by_voice_order():
    low, high = Track("low", 32, False, [Note(0, 12, 40)]), Track("high", 73, False, [Note(0, 12, 76)])
    drums = Track("drums", 0, True, [Note(0, 1, 36)])
    pieces = [Score(tracks=[low, drums, high], time_signature=(3, 4))] * 2 + [Score(tracks=[high, low])]
    codec = RollCodec.fit(pieces, n_tracks=2)
    assert codec.names == ("high", "low") and codec.programs == (73, 32)
    assert codec.time_signature == (3, 4) and codec.steps_per_bar == 12
    with pytest.raises(ValueError, match="no piece has 3 pitched tracks"):
        RollCodec.fit(pieces, n_tracks=3)


def test_pieces_move_to_the_tonic_of_their_final_bass_note():
    codec = RollCodec(names=("S", "B"), programs=(0, 0))  # tonic C
    piece = Score(tracks=[Track("B", 0, False, [Note(0, 16, 50)]), Track("S", 0, False, [Note(0, 16, 78)])])
    voiced = codec.to_voices(piece)  # final bass D3: down a tone, soprano first
    assert _notes(voiced) == [[(0, 16, 76)], [(0, 16, 48)]]
    assert codec.to_voices(Score(tracks=piece.tracks, time_signature=(3, 4))) is None


def test_phrases_mark_the_last_phrase_of_each_piece():
    notes = [Note(16 * b, 16, 62 + b) for b in range(4)]  # four sounding bars, then a silent one
    piece = _score(notes, notes)
    rolls, last = CODEC.to_phrases([piece, replace_length(piece, 80)], 2)
    assert rolls.shape == (6, 2, 16, 12, 2, 2)
    assert last.tolist() == [False, False, True] * 2
    assert np.argwhere(rolls[2, :, 0, :, 0, 1]).tolist() == [[0, 4], [1, 5]]  # bars 3-4: E4, F4 struck


def replace_length(score: Score, length: int) -> Score:
    return Score(score.tracks, score.resolution, score.bpm, score.time_signature, score.key, "", length)


def test_the_key_is_named_from_the_tonic_and_the_longer_third():
    codec = RollCodec(names=("S",), programs=(0,), tonic=2)
    minor = codec.to_score([Track("S", 0, False, [Note(0, 8, 65), Note(8, 4, 66)])], 16)  # F long, F# short
    major = codec.to_score([Track("S", 0, False, [Note(0, 4, 65), Note(4, 8, 66)])], 16)
    assert (minor.key, major.key) == ("D minor", "D major")


def test_pianoroll_literal():
    s = Score(
        [Track("a", 0, False, [Note(0, 3, 24), Note(14, 4, 25)]), Track("b", 0, False, [Note(1, 1, 12)])]
    )
    roll = to_pianoroll(s, n_pitches=3)
    assert roll.shape == (2, 16, 3, 2) and roll.dtype == bool
    expected = np.zeros((32, 3, 2), bool)
    expected[0:3, 0, 0] = True
    expected[14:18, 1, 0] = True
    expected[1, 0, 1] = True  # pitch 12 is below the roll: moved up an octave to 24
    np.testing.assert_array_equal(roll.reshape(32, 3, 2), expected)


def test_pianoroll_shape_for_4_4_chorales(bach):
    four = [s for s in bach.pieces if s.time_signature == (4, 4)]
    assert len(four) > 300
    for s in four[:40]:
        roll = to_pianoroll(s)
        assert roll.shape == (s.n_bars, 16, 84, 4)
        assert roll.sum() > 0


def test_held_steps_merge_into_one_note():
    roll = np.zeros((1, 16, 84, 1), bool)
    roll[0, 2:10, 36, 0] = True
    roll[0, 12:13, 36, 0] = True
    s = from_pianoroll(roll)
    assert s.tracks[0].notes == [Note(2, 8, 60), Note(12, 1, 60)]


def test_random_polyphonic_rolls_round_trip():
    rng = np.random.default_rng(1)
    for _ in range(20):
        roll = rng.random((3, 16, 84, 4)) < 0.2
        np.testing.assert_array_equal(to_pianoroll(from_pianoroll(roll)), roll)


def test_rolls_with_silent_bars_round_trip():
    roll = np.zeros((4, 16, 84, 2), bool)
    roll[1, 3:5, 40, 1] = True  # bars 0, 2 and 3 are silent
    np.testing.assert_array_equal(to_pianoroll(from_pianoroll(roll)), roll)
    empty = np.zeros((2, 16, 84, 4), bool)
    np.testing.assert_array_equal(to_pianoroll(from_pianoroll(empty)), empty)


def test_roll_in_3_4_round_trips_with_and_without_meta():
    rng = np.random.default_rng(2)
    roll = rng.random((2, 12, 84, 4)) < 0.2
    meta = Score([Track(v, 52) for v in "SATB"], time_signature=(3, 4))
    np.testing.assert_array_equal(to_pianoroll(from_pianoroll(roll, meta)), roll)
    assert from_pianoroll(roll).time_signature == (3, 4)
    np.testing.assert_array_equal(to_pianoroll(from_pianoroll(roll)), roll)
    with pytest.raises(ValueError):
        from_pianoroll(roll, Score(time_signature=(4, 4)))


def _monophonic(rng, bars=2, tracks=4) -> np.ndarray:
    roll = np.zeros((bars * 16, 84, tracks), bool)
    pitch = rng.integers(0, 84, (bars * 16, tracks))
    sounding = rng.random((bars * 16, tracks)) < 0.7
    for t, ti in zip(*np.nonzero(sounding)):
        roll[t, pitch[t, ti], ti] = True
    return roll.reshape(bars, 16, 84, tracks)


def test_random_monophonic_rolls_round_trip_with_monophonic_true():
    rng = np.random.default_rng(3)
    for _ in range(20):
        roll = _monophonic(rng)
        s = from_pianoroll(roll, monophonic=True)
        np.testing.assert_array_equal(to_pianoroll(s), roll)


def test_monophonic_takes_argmax_per_track_and_threshold_for_floats():
    scores = np.full((1, 16, 84, 2), -1.0)  # e.g. a tanh output
    scores[0, :8, 40, 0] = 0.9
    scores[0, :8, 43, 0] = 0.6  # quieter than 40: dropped when monophonic
    scores[0, 8:, 43, 0] = 0.2  # below the threshold: a rest
    scores[0, 4:12, 50, 1] = 0.7
    scores[0, 4:12, 53, 1] = 0.8
    mono = from_pianoroll(scores, monophonic=True)
    assert mono.tracks[0].notes == [Note(0, 8, 64)]
    assert mono.tracks[1].notes == [Note(4, 8, 77)]
    poly = from_pianoroll(scores, threshold=0.5)
    assert poly.tracks[0].notes == [Note(0, 8, 64), Note(0, 8, 67)]
    mixed = from_pianoroll(scores, monophonic=[False, True], threshold=0.1)
    assert mixed.tracks[0].notes == [Note(0, 8, 64), Note(0, 16, 67)]
    assert mixed.tracks[1].notes == [Note(4, 8, 77)]


def test_chorale_rolls_round_trip(bach):
    for s in bach.pieces[:30]:
        roll = to_pianoroll(s)
        np.testing.assert_array_equal(to_pianoroll(from_pianoroll(roll, s)), roll)
        back = from_pianoroll(roll, s, monophonic=True)
        np.testing.assert_array_equal(to_pianoroll(back), roll)
