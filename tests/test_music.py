"""Score / Track / Note: the step grid, bars, transpose and crop."""

from __future__ import annotations

from composer.music import Note, Score, Track, crop, transpose


def _score(**kw) -> Score:
    tracks = [
        Track("Piano", 0, False, [Note(0, 4, 60), Note(4, 8, 64), Note(12, 8, 127)]),
        Track("Drums", 0, True, [Note(0, 1, 36), Note(8, 1, 38)]),
    ]
    return Score(tracks, **kw)


def test_steps_per_bar_follows_meter_and_resolution():
    assert Score().steps_per_bar == 16
    assert Score(time_signature=(3, 4)).steps_per_bar == 12
    assert Score(time_signature=(6, 8)).steps_per_bar == 12
    assert Score(time_signature=(3, 2)).steps_per_bar == 24
    assert Score(resolution=12, time_signature=(4, 4)).steps_per_bar == 48


def test_lengths_count_partial_last_bar():
    s = _score()
    assert (s.n_steps, s.n_bars, s.n_notes) == (20, 2, 5)
    assert Score().n_bars == 0
    assert _score(length=40).n_steps == 40 and _score(length=40).n_bars == 3
    assert _score(length=5).n_steps == 20  # length is a minimum, notes still count


def test_transpose_shifts_pitched_notes_and_drops_out_of_range():
    up = transpose(_score(), 2)
    assert [n.pitch for n in up.tracks[0].notes] == [62, 66]  # 127 + 2 is out of range
    assert up.tracks[1].notes == _score().tracks[1].notes  # drums stay
    down = transpose(_score(), -3)
    assert [n.pitch for n in down.tracks[0].notes] == [57, 61, 124]


def test_crop_takes_onsets_in_window_and_cuts_at_stop():
    part = crop(_score(), 4, 16)
    assert part.tracks[0].notes == [Note(0, 8, 64), Note(8, 4, 127)]
    assert part.tracks[1].notes == [Note(4, 1, 38)]
    assert part.length == 0
    assert crop(_score(length=64), 16, 48).length == 32


def test_sorted_orders_notes_by_onset():
    s = Score([Track("x", 0, False, [Note(8, 1, 60), Note(0, 2, 62), Note(0, 1, 61)])])
    assert s.sorted().tracks[0].notes == [Note(0, 1, 61), Note(0, 2, 62), Note(8, 1, 60)]
