"""RollCodec: literal encode/decode round trips, the decoding rules, phrases, keys, and pitch choice."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from composer.generation.musegan_voicing import choose_pitches
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
