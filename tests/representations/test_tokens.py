"""Tokens and the vocabulary: literal encodings, exact round trips on chorales and synthetic scores."""

from __future__ import annotations

import numpy as np
import pytest

from composer import Vocab, from_tokens, to_tokens
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
