"""TokenCodec and its sampling rules: keys, literal encodings, round trips, and the voice-leading masks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from composer.errors import ComposerError
from composer.music import Note, Score, Track
from composer.representations.token_codec import TokenCodec, key_name, parse_key, to_c
from composer.representations.token_rules import SampleState, choose_motif
from composer.representations.tokens import Vocab


@pytest.mark.parametrize(
    "text,expected",
    [
        ("E- major", (3, "major")),
        ("Eb major", (3, "major")),
        ("Am", (9, "minor")),
        ("f# minor", (6, "minor")),
        ("c", (0, "minor")),
        ("C", (0, "major")),
        ("Bbm", (10, "minor")),
        ("B", (11, "major")),
    ],
)
def test_parse_key(text, expected):
    assert parse_key(text) == expected


@pytest.mark.parametrize("text", ["H major", "", "E#b major", "C dorian", "major"])
def test_unknown_key_is_a_composer_error_naming_it(text):
    with pytest.raises(ComposerError, match="unknown key"):
        parse_key(text)


def test_key_names_and_moves_to_c():
    assert [key_name(pc, "major") for pc in (3, 6, 10)] == ["Eb major", "F# major", "Bb major"]
    assert [key_name(pc, "minor") for pc in (1, 8, 9)] == ["C# minor", "G# minor", "A minor"]
    assert [to_c(pc) for pc in (0, 2, 6, 7, 11)] == [0, -2, -6, 5, 1]


def two_bars_in_d() -> Score:
    soprano = Track("S", notes=[Note(0, 4, 74), Note(4, 4, 76), Note(16, 4, 74)])
    bass = Track("B", notes=[Note(0, 8, 62)])
    return Score(tracks=[soprano, bass], key="D major")


def test_encode_moves_to_c_and_conditions_on_mode_and_bars_left():
    score = two_bars_in_d()
    codec = TokenCodec.fit([score])
    assert codec.vocab.values == {
        "shift": [0, 4, 12],
        "pitch": [60, 72, 74],
        "duration": [4, 8],
        "track": [0, 1],
    }
    ids, ctx = codec.encode(score)
    # events (shift, pitch, duration, track) in C: (0,72,4,0) (0,60,8,1) (4,74,4,0) (12,72,4,0)
    np.testing.assert_array_equal(ids, [[2, 3, 2, 2], [2, 2, 3, 3], [3, 4, 2, 2], [4, 3, 2, 2]])
    # bar position, mode (major 0), bars left (two bars: 1 in the first, 0 in the last)
    np.testing.assert_array_equal(ctx, [[0, 0, 1], [0, 0, 1], [4, 0, 1], [0, 0, 0]])
    assert codec.keys == {"D major": 1}


def test_decode_round_trip_through_from_tokens():
    score = two_bars_in_d()
    codec = TokenCodec.fit([score])
    ids, _ = codec.encode(score)
    back = codec.decode(codec.vocab.decode(ids), score, shift=2)
    assert [t.notes for t in back.tracks] == [t.notes for t in score.tracks]
    again = TokenCodec.from_dict(codec.to_dict())
    assert again == codec
    np.testing.assert_array_equal(again.encode(score)[0], ids)


def test_minor_and_unnormalized_codecs():
    minor = Score(tracks=[Track("S", notes=[Note(0, 4, 69), Note(4, 4, 72)])], key="A minor")
    codec = TokenCodec.fit([minor], bars_left_cap=0)
    ids, ctx = codec.encode(minor)
    assert codec.vocab.values["pitch"] == [72, 75]  # A minor moved up 3 to C minor
    np.testing.assert_array_equal(ctx, [[0, 1, 0], [4, 1, 0]])
    plain = TokenCodec.fit([minor], normalize_key=False, bars_left_cap=0)
    assert plain.vocab.values["pitch"] == [69, 72] and plain.n_modes == 0 and not plain.supports_rules


def test_offsets_around_c_are_an_input_beside_the_mode():
    score = two_bars_in_d()
    codec = TokenCodec.fit([score], max_offset=1)
    assert list(codec.offsets) == [-1, 0, 1] and codec.n_modes == 6
    assert codec.vocab.values["pitch"] == [59, 60, 61, 71, 72, 73, 74, 75]  # C4/C5/D5 at -1, 0, +1
    ids, ctx = codec.encode(score, offset=1)
    raw = codec.vocab.decode(ids)
    np.testing.assert_array_equal(raw[:, 1], [73, 61, 75, 73])  # D major moved to C, then up 1
    # mode id: major (0) + 2 x (offset + 1); generation (offset 0) reads the middle pair
    np.testing.assert_array_equal(ctx[:, 1], [4, 4, 4, 4])
    np.testing.assert_array_equal(codec.encode(score)[1][:, 1], [2, 2, 2, 2])
    assert codec.bos_context("minor", 2, 16).tolist() == [0, 3, 1]
    with pytest.raises(ValueError, match="offset 2 outside"):
        codec.encode(score, offset=2)
    assert TokenCodec.from_dict(codec.to_dict()) == codec


def test_codecs_saved_before_offsets_read_as_unaugmented():
    saved = TokenCodec.fit([two_bars_in_d()]).to_dict()
    del saved["max_offset"]
    codec = TokenCodec.from_dict(saved)
    assert codec.max_offset == 0 and codec.n_modes == 2
    assert codec.bos_context("minor", None, 16).tolist() == [0, 1, 8]  # no end in sight: the cap


def chorale_codec(pitches) -> TokenCodec:
    vocab = Vocab({"shift": [0, 4, 8], "pitch": list(pitches), "duration": [4], "track": [0, 1, 2, 3]})
    return TokenCodec(vocab, normalize_key=True, n_tracks=4)


def bass_state(**kw) -> SampleState:
    """The soprano moved G4 -> A4 at this onset; the bass (C3 before) is to be placed now."""
    state = SampleState(4, 16, "major", 0, None, True, onset=4, first=False, last_track=0)
    state.struck, state.previous, state.chosen = {0: 69}, {0: 67, 3: 48}, {"shift": 0, "track": 3}
    for k, v in kw.items():
        setattr(state, k, v)
    return state


def allowed_pitches(codec: TokenCodec, state: SampleState) -> list[int]:
    mask = codec.allowed("pitch", state)
    return [v for v, ok in zip(codec.vocab.values["pitch"], mask[Vocab.N_SPECIAL :]) if ok]


def test_a_candidate_making_parallel_fifths_is_masked():
    codec = chorale_codec([48, 50, 53, 62, 67, 69])
    # D3 under A4 follows C3 under G4: parallel fifths (compound); F#3... 62 and up leave the bass range
    assert allowed_pitches(codec, bass_state()) == [48, 53]
    assert allowed_pitches(codec, bass_state(rules=False)) == [48, 50, 53, 62, 67, 69]
    assert not codec.allowed("pitch", bass_state())[: Vocab.N_SPECIAL].any()  # never BOS or UNK


def test_parallels_rule_gives_way_before_the_range():
    codec = chorale_codec([50, 62])  # the only in-range candidate makes fifths: take it, not D4
    assert allowed_pitches(codec, bass_state()) == [50]


def test_range_follows_the_output_key():
    codec = chorale_codec([36, 38, 41, 48])
    state = bass_state(struck={}, previous={}, shift=3)  # composing in Eb: C-space 36 sounds as 39
    assert allowed_pitches(codec, state) == [38, 41, 48]


def test_cadence_bass_on_the_tonic_and_tenor_supplies_the_third():
    codec = chorale_codec([48, 50, 52, 53, 55, 60, 64, 67])
    final = {"onset": 16, "end": 32, "struck": {0: 72, 1: 67, 2: 64}, "previous": {}}
    assert allowed_pitches(codec, bass_state(**final)) == [48, 60]
    tenor = bass_state(onset=16, end=32, struck={0: 72, 1: 67}, previous={}, chosen={"shift": 0, "track": 2})
    assert allowed_pitches(codec, tenor) == [52, 64]  # the third, E, inside the tenor's range


def test_shift_lands_on_the_final_downbeat_and_the_final_chord_misses_no_voice():
    codec = chorale_codec([60])
    state = bass_state(onset=12, end=32, chosen={}, last_track=3)
    shifts = codec.allowed("shift", state)[Vocab.N_SPECIAL :]
    assert shifts.tolist() == [False, True, False]  # 0 would double a voice, 8 would skip the downbeat
    state = bass_state(onset=16, end=32, last_track=0, chosen={"shift": 0})
    assert codec.allowed("track", state)[Vocab.N_SPECIAL :].tolist() == [False, True, False, False]


def motif_state(**kw) -> SampleState:
    """Bar 0's soprano C5 D5 E5 (4, 4, 8 steps) is to repeat in bar 2; bar 1 is being composed."""
    state = SampleState(4, 16, "major", 0, 64, True, onset=28, first=False, last_track=3, motif=(0, 2))
    state.soprano = [(0, 4, 72), (4, 4, 74), (8, 8, 76), (16, 16, 71)]
    for k, v in kw.items():
        setattr(state, k, v)
    return state


def allowed_values(codec: TokenCodec, stream: str, state: SampleState) -> list[int]:
    mask = codec.allowed(stream, state)[Vocab.N_SPECIAL :]
    return [v for v, ok in zip(codec.vocab.values[stream], mask) if ok]


def test_motif_repeats_the_soprano_rhythm_and_intervals():
    vocab = {
        "shift": [0, 2, 4, 8],
        "pitch": [60, 62, 64, 67, 69, 71],
        "duration": [2, 4, 8],
        "track": [0, 1, 2, 3],
    }
    codec = TokenCodec(Vocab(vocab), normalize_key=True, n_tracks=4)
    assert allowed_values(codec, "shift", motif_state()) == [2, 4]  # 8 would skip the repeat's downbeat
    at_32 = motif_state(chosen={"shift": 4})
    assert allowed_values(codec, "track", at_32) == [0]  # the motif's onset: the soprano first
    at_32.chosen["track"] = 0
    assert allowed_values(codec, "pitch", at_32) == [60, 62, 64, 67, 69, 71]  # any start: G4 here
    in_b_flat = replace(at_32, shift=10)  # sounding 10 higher, E (to G#) would leave the range at its top
    assert allowed_values(codec, "pitch", in_b_flat) == [60, 62, 64]
    assert allowed_values(codec, "duration", at_32) == [4]
    at_32.chosen["pitch"], at_32.chosen["duration"] = 67, 4
    at_32.advance(at_32.chosen)
    at_32.advance({"shift": 0, "track": 3, "pitch": 48, "duration": 4})
    assert allowed_values(codec, "shift", at_32) == [2, 4]  # up to the motif's next onset, 36
    at_34 = replace(at_32, chosen={"shift": 2})
    assert allowed_values(codec, "track", at_34) == [1, 2, 3]  # no soprano between the motif's onsets
    at_36 = replace(at_32, chosen={"shift": 4, "track": 0})
    assert allowed_values(codec, "pitch", at_36) == [69]  # D after C, so A after G
    at_40 = replace(at_36, onset=36, soprano=at_32.soprano, chosen={"shift": 4, "track": 0})
    assert allowed_values(codec, "pitch", at_40) == [71] and allowed_values(codec, "duration", at_40) == [8]
    assert allowed_values(codec, "shift", replace(at_32, onset=40)) == [2, 4, 8]  # the motif is done
    assert allowed_values(codec, "shift", motif_state(rules=False)) == [0, 2, 4, 8]  # no rules: grammar only


def test_motif_needs_two_notes_and_a_finished_bar():
    assert motif_state().motif_notes() == [(32, 4, 0), (36, 4, 2), (40, 8, 4)]
    assert motif_state(onset=12).motif_notes() is None  # bar 0 still being written
    assert motif_state(soprano=[(0, 16, 72)]).motif_notes() is None  # one note: nothing to repeat
    assert motif_state(motif=None).motif_notes() is None


def test_choose_motif_a_third_of_pieces_never_the_cadence_bars():
    draws = [choose_motif(0, 8, np.random.default_rng([seed, 2])) for seed in range(400)]
    pairs = [d for d in draws if d is not None]
    assert 0.28 < len(pairs) / len(draws) < 0.42
    assert all(later - bar in (2, 4) and 0 <= bar and later <= 6 for bar, later in pairs)
    assert {later for _, later in pairs} == {2, 3, 4, 5}  # never the cadence's two bars
    assert choose_motif(0, 3, np.random.default_rng(0)) is None  # 3 bars: no room before the cadence
    assert all(
        d is None or d[0] >= 2 for d in (choose_motif(2, 10, np.random.default_rng(s)) for s in range(50))
    )
