"""Tokens and piano rolls: literal encodings, exact round trips on chorales and synthetic scores."""

from __future__ import annotations

import numpy as np
import pytest

from composer import Vocab, from_pianoroll, from_tokens, to_pianoroll, to_tokens
from composer.music import Note, Score, Track
from composer.representations.tokens import MAX_DURATION, MAX_SHIFT, REST


def _tiny() -> Score:
    return Score(
        [
            Track("S", 52, False, [Note(0, 4, 72), Note(4, 2, 74)]),
            Track("B", 52, False, [Note(0, 8, 48), Note(0, 8, 55)]),
        ]
    )


def test_tokens_literal():
    expected = [
        [0, 72, 4, 0],
        [0, 48, 8, 1],
        [0, 55, 8, 1],
        [4, 74, 2, 0],
    ]
    np.testing.assert_array_equal(to_tokens(_tiny()), expected)
    assert to_tokens(_tiny()).dtype == np.int64
    assert to_tokens(Score()).shape == (0, 4)


def test_long_rest_becomes_rest_chain_and_long_note_is_clamped():
    s = Score([Track("x", 0, False, [Note(3, 2, 60), Note(3 + 2 * MAX_SHIFT + 5, 100, 62)])])
    expected = [[3, 60, 2, 0], [MAX_SHIFT, REST, 0, 0], [MAX_SHIFT, REST, 0, 0], [5, 62, MAX_DURATION, 0]]
    np.testing.assert_array_equal(to_tokens(s), expected)
    back = from_tokens(to_tokens(s), s)
    assert back.tracks[0].notes == [Note(3, 2, 60), Note(3 + 2 * MAX_SHIFT + 5, MAX_DURATION, 62)]


def test_from_tokens_literal_keeps_meta():
    meta = Score([Track("S", 52), Track("B", 52)], bpm=72.0, time_signature=(3, 4), key="G major")
    back = from_tokens(to_tokens(_tiny()), meta)
    assert back.tracks == _tiny().tracks
    assert (back.bpm, back.time_signature, back.key) == (72.0, (3, 4), "G major")
    assert [t.name for t in from_tokens(to_tokens(_tiny())).tracks] == ["Track 1", "Track 2"]


def _random_score(rng, n_tracks=3, n_notes=60, gap=60) -> Score:
    tracks = []
    for ti in range(n_tracks):
        starts = np.sort(rng.integers(0, gap * n_notes // 4, n_notes))
        notes = [Note(int(s), int(rng.integers(1, 80)), int(rng.integers(30, 90))) for s in starts]
        tracks.append(Track(f"t{ti}", 0, False, notes))
    return Score(tracks).sorted()


def test_tokens_reencode_on_synthetic_scores_with_long_rests_and_chords():
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = _random_score(rng)
        tokens = to_tokens(s)
        assert (tokens[:, 1] == REST).any()  # gaps longer than MAX_SHIFT occur
        np.testing.assert_array_equal(to_tokens(from_tokens(tokens, s)), tokens)


def test_tokens_reencode_on_every_chorale(bach):
    assert len(bach.pieces) == 350
    for s in bach.pieces:
        tokens = to_tokens(s)
        again = to_tokens(from_tokens(tokens, s))
        assert np.array_equal(again, tokens), s.title


def test_tokens_decode_chorales_exactly(bach):
    """Chorale notes are short enough that decoding gives the very same notes back."""
    for s in bach.pieces[:50]:
        assert from_tokens(to_tokens(s), s).tracks == [t.sorted() for t in s.tracks]


def test_vocab_round_trip_unk_and_oov():
    vocab = Vocab.fit([to_tokens(_tiny())])
    assert vocab.values == {
        "shift": [0, 4],
        "pitch": [48, 55, 72, 74],
        "duration": [2, 4, 8],
        "track": [0, 1],
    }
    assert vocab.sizes == {"shift": 4, "pitch": 6, "duration": 5, "track": 4}
    ids = vocab.encode(to_tokens(_tiny()))
    np.testing.assert_array_equal(ids[0], [2, 4, 3, 2])
    np.testing.assert_array_equal(vocab.decode(ids), to_tokens(_tiny()))
    unseen = np.array([[0, 60, 4, 0], [4, 72, 3, 1], [0, 72, 4, 0], [99, 48, 2, 7]])
    ids = vocab.encode(unseen)
    np.testing.assert_array_equal(ids[:, 1], [Vocab.UNK, 4, 4, 2])
    assert ids[3, 0] == ids[3, 3] == Vocab.UNK
    assert vocab.oov_rate(unseen) == 0.75
    assert vocab.oov_rate(np.zeros((0, 4))) == 0.0
    with pytest.raises(ValueError):
        vocab.decode(ids)


def test_vocab_dict_round_trip_through_json():
    import json

    vocab = Vocab.fit([to_tokens(_tiny())])
    again = Vocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab
    with pytest.raises(ValueError):
        Vocab.from_dict({"streams": ["pitch"], "values": {}})


def test_vocab_on_chorales_is_small_with_low_oov(bach):
    info = bach.info()
    assert info["vocab"]["pitch"] < 60 and info["vocab"]["shift"] < 30 and info["vocab"]["duration"] < 40
    assert info["oov_rate_test"] < 0.01


# Piano rolls


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
