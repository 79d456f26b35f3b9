"""Chorale metrics and the shared four-part theory (composer.theory) on literal tiny scores whose
answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from composer import theory
from composer.evaluate import chorale as cm
from composer.music import Note, Score, Track


def voices(*lines, key=None, length=0) -> Score:
    """A score from voice lines, each a list of (start, duration, pitch), in the order given."""
    tracks = [Track(f"v{i}", 52, False, [Note(s, d, p) for s, d, p in line]) for i, line in enumerate(lines)]
    return Score(tracks, key=key, length=length)


def test_satb_ranges_are_the_issue_ranges():
    assert theory.SATB_RANGES == ((60, 79), (55, 74), (48, 67), (40, 60))


@pytest.mark.parametrize(
    "prev, cur, expected",
    [
        ((60, 67), (62, 69), True),  # C4-G4 to D4-A4: parallel fifths
        ((48, 60), (50, 62), True),  # C3-C4 to D3-D4: parallel octaves
        ((48, 67), (50, 69), True),  # a twelfth to a twelfth: compound fifths count
        ((60, 60), (62, 74), True),  # unison to octave, both rising: octaves by compound
        ((62, 69), (60, 67), True),  # falling fifths
        ((48, 60), (43, 67), False),  # C3-C4 to G2-G4: contrary octaves (antiparallels)
        ((60, 67), (55, 74), False),  # contrary fifths
        ((60, 67), (60, 69), False),  # oblique: the lower voice holds
        ((59, 65), (60, 67), False),  # diminished fifth to perfect fifth
        ((60, 64), (62, 66), False),  # parallel thirds
        ((48, 55), (60, 67), False),  # both leap an octave: the same fifth, not a new one
        ((67, 60), (69, 62), True),  # crossed voices: still a fifth apart
    ],
)
def test_is_parallel(prev, cur, expected):
    assert theory.is_parallel(prev, cur) is expected


def test_one_parallel_fifth():
    score = voices([(0, 4, 67), (4, 4, 69)], [(0, 4, 60), (4, 4, 62)])
    m = cm.chorale_metrics(score)
    assert m["parallels_per_100"] == 100.0 and m["has_parallel"] == 1.0
    counts = cm.chorale_counts(score)
    assert (counts["parallels"], counts["parallels_of"]) == (1, 1)


def test_contrary_octaves_and_held_voice_are_not_parallels():
    contrary = voices([(0, 4, 60), (4, 4, 67)], [(0, 4, 48), (4, 4, 43)])
    assert cm.chorale_metrics(contrary)["parallels_per_100"] == 0.0
    # the upper voice holds G4 over C4 -> D4 -> C4: the pair's onsets are 0, 4, 8, two transitions
    held = voices([(0, 12, 67)], [(0, 4, 60), (4, 4, 62), (8, 4, 60)])
    counts = cm.chorale_counts(held)
    assert (counts["parallels"], counts["parallels_of"], counts["has_parallel"]) == (0, 2, 0)


def test_transition_needs_both_voices_sounding():
    # the lower voice rests at step 4, so 0 -> 4 and 4 -> 8 are not transitions of the pair
    score = voices([(0, 4, 67), (4, 4, 69), (8, 4, 71)], [(0, 4, 60), (8, 4, 64)])
    counts = cm.chorale_counts(score)
    assert (counts["parallels"], counts["parallels_of"]) == (0, 0)
    assert cm.chorale_metrics(score)["parallels_per_100"] is None


def test_to_voices_orders_by_mean_pitch_and_keeps_four():
    score = voices([(0, 4, 40)], [(0, 4, 72)], [(0, 4, 55)], [(0, 4, 64)], [(0, 4, 30)], [])
    assert [t.name for t in theory.to_voices(score)] == ["v1", "v3", "v2", "v0"]


def test_to_grid_latest_note_wins():
    score = voices([(0, 8, 60), (2, 2, 64)])
    pitch, onset = theory.to_grid(theory.to_voices(score), 10)
    assert pitch.tolist() == [[60, 60, 64, 64, 60, 60, 60, 60, -1, -1]]
    assert onset.tolist() == [[True, False, True] + [False] * 7]


# A V-I cadence in C: S B4-C5, A G4-G4 (struck again), T D4-E4, B G2-C3; two half notes each.
CADENCE = (
    [(0, 8, 71), (8, 8, 72)],
    [(0, 8, 67), (8, 8, 67)],
    [(0, 8, 62), (8, 8, 64)],
    [(0, 8, 43), (8, 8, 48)],
)


def test_cadence_in_root_position():
    score = voices(*CADENCE, key="C major")
    assert cm.ending_metrics(score) == {
        "ends_on_tonic": 1.0,
        "final_root_position": 1.0,
        "ends_on_tonic_root_position": 1.0,
        "authentic_cadence": 1.0,  # G B D G, then C E G C
        "tonic": 0,
    }
    m = cm.chorale_metrics(score)
    assert m["parallels_per_100"] == 0.0 and m["in_satb_range"] == 1.0
    assert m["repeated_notes"] == 1 / 8  # the alto's G4
    assert m["downbeat_triads"] == 1.0  # G B D G on the only downbeat
    assert m["rests_inside"] == 0.0 and m["voice_crossing"] == 0.0


def test_an_authentic_cadence_needs_the_dominant_over_its_root_with_the_leading_tone():
    assert cm.ending_metrics(voices(*CADENCE, key="C major"))["authentic_cadence"] == 1.0
    seventh = voices(
        [(0, 8, 77), (8, 8, 76)], CADENCE[1], [(0, 8, 59), (8, 8, 60)], CADENCE[3], key="C major"
    )
    # F5 G4 B3 G2 (V7), then E5 G4 C4 C3
    assert cm.ending_metrics(seventh)["authentic_cadence"] == 1.0
    inverted = voices(*CADENCE[:3], [(0, 8, 47), (8, 8, 48)], key="C major")  # B2 in the bass: V6
    assert cm.ending_metrics(inverted)["authentic_cadence"] == 0.0
    plagal = voices(
        [(0, 8, 72), (8, 8, 72)],
        [(0, 8, 65), (8, 8, 64)],
        [(0, 8, 57), (8, 8, 55)],
        [(0, 8, 41), (8, 8, 48)],
        key="C major",
    )  # F A C F, then C: IV-I
    e = cm.ending_metrics(plagal)
    assert (e["ends_on_tonic_root_position"], e["authentic_cadence"]) == (1.0, 0.0)
    in_g = cm.ending_metrics(voices(*CADENCE, key="G major"))  # ends on IV of G
    assert in_g["authentic_cadence"] == 0.0


def test_ending_in_another_key_or_inversion():
    assert cm.ending_metrics(voices(*CADENCE, key="G major"))["ends_on_tonic"] == 0.0
    first_inversion = voices(*CADENCE[:3], [(0, 8, 43), (8, 8, 52)], key="C major")  # bass E3
    e = cm.ending_metrics(first_inversion)
    assert (e["ends_on_tonic"], e["final_root_position"], e["ends_on_tonic_root_position"]) == (1.0, 0.0, 0.0)


def test_ending_without_fifth_counts_but_bare_octave_does_not():
    no_fifth = voices([(0, 16, 72)], [(0, 16, 64)], [(0, 16, 60)], [(0, 16, 48)], key="C major")
    assert cm.ending_metrics(no_fifth)["ends_on_tonic_root_position"] == 1.0
    bare = voices([(0, 16, 72)], [(0, 16, 60)], [(0, 16, 48)], key="C major")
    assert cm.ending_metrics(bare)["ends_on_tonic"] == 0.0
    # the soprano has stopped; the last onset (the bass's C3) sounds under held E4 G3: still a triad
    dropped = voices([(0, 4, 72)], [(0, 16, 64)], [(0, 16, 55)], [(0, 8, 43), (8, 8, 48)], key="C major")
    assert cm.ending_metrics(dropped)["ends_on_tonic_root_position"] == 1.0


def test_ending_key_estimated_when_missing():
    scale = [(i * 2, 2, p) for i, p in enumerate((60, 62, 64, 65, 67, 69, 71, 72))]
    score = voices(scale, [(0, 16, 48), (16, 4, 48)], [(16, 4, 64)], [(16, 4, 55)])
    assert cm.ending_metrics(score)["tonic"] == 0
    assert cm.ending_metrics(Score([Track()]))["ends_on_tonic"] is None


@pytest.mark.parametrize(
    "key, tonic",
    [("E- major", 3), ("Bb major", 10), ("f# minor", 6), ("Am", 9), ("C", 0), ("?", 7), (None, 7)],
)
def test_ending_tonic_reads_every_key_spelling_else_estimates(key, tonic):
    g_major = [(i * 2, 2, p) for i, p in enumerate((67, 69, 71, 72, 74, 76, 78, 79))]
    score = (g_major, [(0, 16, 55)], [(0, 16, 59)], [(0, 16, 43)])
    assert cm.ending_metrics(voices(*score, key=key))["tonic"] == tonic


def test_tenor_rest_inside_the_texture():
    score = voices([(0, 16, 72)], [(0, 16, 67)], [(0, 4, 64), (8, 8, 60)], [(0, 16, 48)])
    counts = cm.chorale_counts(score)
    assert (counts["rests_inside"], counts["rests_inside_of"]) == (4, 64)
    # a voice that starts late is not resting inside the texture before its first note
    late = voices([(0, 16, 72)], [(4, 12, 67)])
    assert cm.chorale_counts(late)["rests_inside"] == 0


def test_voice_crossing_and_range():
    # the second voice (mean pitch lower) rises above the first at step 4
    score = voices([(0, 4, 72), (4, 4, 65), (8, 8, 72)], [(0, 4, 60), (4, 4, 67), (8, 8, 57)])
    counts = cm.chorale_counts(score)
    assert (counts["crossings"], counts["crossings_of"]) == (1, 3)
    high = voices([(0, 4, 80), (4, 4, 79)], [(0, 8, 54)])  # G#5 above the soprano, F#3 below the alto
    assert cm.chorale_metrics(high)["in_satb_range"] == 1 / 3


def test_repeated_note_needs_the_same_pitch_struck_again():
    score = voices([(0, 4, 60), (4, 4, 60), (8, 4, 62), (14, 2, 62)])  # the last follows a rest
    assert cm.chorale_counts(score)["repeated"] == 1


def test_downbeat_triads():
    # bars: C major (G E C C), A minor (E C A A), C E without fifth (E C C C), G7 (F D B G)
    lines = [(67, 64, 64, 65), (64, 60, 60, 62), (60, 57, 60, 59), (48, 45, 48, 43)]
    score = voices(*[[(16 * b, 16, p) for b, p in enumerate(line)] for line in lines])
    assert cm.chorale_counts(score)["downbeat_triads"] == 2
    assert cm.chorale_metrics(score)["downbeat_triads"] == 0.5


def test_soprano_bar_recurrence_is_transposition_invariant():
    soprano = [
        (0, 4, 60), (4, 4, 62), (8, 8, 64),  # C D E
        (16, 4, 65), (20, 4, 67), (24, 8, 69),  # F G A: the same rhythm and intervals
        (32, 8, 67), (40, 8, 65),  # different
        (48, 16, 64),  # one note: not counted
    ]  # fmt: skip
    score = voices(soprano, [(0, 64, 48)])
    counts = cm.chorale_counts(score)
    assert (counts["soprano_recurring"], counts["soprano_recurring_of"]) == (2, 3)


def test_duration_histogram_and_kl():
    score = voices([(0, 1, 60), (1, 1, 62), (2, 2, 64), (4, 4, 65), (8, 20, 67)])
    counts = cm.duration_counts(score)
    assert counts.tolist() == [2, 1, 0, 1] + [0] * 12 + [1]
    m = cm.chorale_metrics(score)
    assert m["sixteenths"] == 0.4 and m["duration_histogram"][16] == 0.2
    assert cm.duration_kl(counts, counts) == pytest.approx(0.0)
    p, q = [1, 1], [1, 3]  # KL = 0.5 ln(0.5/0.25) + 0.5 ln(0.5/0.75)
    assert cm.duration_kl(p, q, eps=0) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))
    assert cm.duration_kl([1, 0], [0, 1]) > 5  # smoothed: large but finite


def test_pool_counts_weighs_every_transition():
    fifths = voices([(0, 4, 67), (4, 4, 69)], [(0, 4, 60), (4, 4, 62)])
    thirds = voices([(0, 4, 64), (4, 4, 65), (8, 4, 67), (12, 4, 69)], [(0, 16, 60)])
    pooled = cm.to_rates(cm.pool_counts([cm.chorale_counts(fifths), cm.chorale_counts(thirds)]))
    assert pooled["parallels_per_100"] == 100 * 1 / 4 and pooled["has_parallel"] == 0.5


def test_a_long_score_is_measured_bar_by_bar():
    # 5,000 bars of one C major bar (two half notes per voice): every bar recurs, every downbeat is
    # a triad; the long piece must not cost bars x notes
    bar = [(67, 72), (64, 67), (60, 64), (48, 48)]
    lines = [[(b * 16 + h * 8, 8, p[h]) for b in range(5000) for h in range(2)] for p in bar]
    counts = cm.chorale_counts(voices(*lines))
    assert (counts["soprano_recurring"], counts["soprano_recurring_of"]) == (5000, 5000)
    assert (counts["downbeat_triads"], counts["downbeat_triads_of"]) == (5000, 5000)
    assert (counts["parallels"], counts["parallels_of"]) == (0, 6 * (10_000 - 1))  # 6 pairs, 10,000 onsets


def test_parallel_mask_over_candidates():
    # the lower voice moves C4 -> D4 under G4: which upper candidates C4..G5 make parallels?
    candidates = np.arange(60, 80)
    mask = theory.parallel_mask(60, 67, 62, candidates)
    assert mask.shape == (20,) and candidates[mask].tolist() == [69]
    octaves = theory.parallel_mask(48, 60, 50, candidates)  # C3-C4, the lower voice to D3
    assert candidates[octaves].tolist() == [62, 74]
