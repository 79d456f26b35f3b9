"""MuseGAN generation: exact bar counts, named tracks, no empty bar, seeds, --vary, stream_bars."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest

from composer.checkpoint import read_meta
from composer.errors import ComposerError, OptionError
from composer.evaluate.chorale import ending_metrics
from composer.generation.musegan import (
    draw_phrases,
    generate_musegan,
    latent_stream,
    load_generator,
    meta_score,
    stream_bars,
)
from composer.midi_io import read_midi, write_midi
from composer.representations.pianoroll import to_pianoroll


@pytest.mark.parametrize("bars", [8, 3, 13])
def test_exact_bars_four_named_tracks_no_empty_bar(musegan_checkpoint, tmp_path, bars):
    score = generate_musegan(musegan_checkpoint, bars=bars, seed=1)
    path = tmp_path / "out.mid"
    write_midi(score, path)
    back = read_midi(path)
    assert back.n_bars == bars and back.n_steps == bars * 16
    assert [t.name for t in back.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert [t.program for t in back.tracks] == [52] * 4
    assert back.time_signature == (4, 4) and back.bpm == 100.0
    roll = to_pianoroll(back)  # (bars, 16, 84, 4): a plain roll of the file
    assert roll.shape[0] == bars and roll.any(axis=(1, 2, 3)).all()
    for t in back.tracks:  # each voice monophonic: no two notes of a voice overlap
        assert all(a.end <= b.start for a, b in zip(t.notes, t.notes[1:]))


def test_seed_reproduces_byte_for_byte(musegan_checkpoint):
    def midi(seed):
        buf = io.BytesIO()
        write_midi(generate_musegan(musegan_checkpoint, bars=5, seed=seed), buf)
        return buf.getvalue()

    assert midi(7) == midi(7)
    assert midi(7) != midi(8)


def _rolls(checkpoint, vary: list[str], seed: int = 3):
    """Three phrases of raw generator output, (6 bars, steps, pitches, tracks, channels)."""
    gen, _ = load_generator(checkpoint)
    return draw_phrases(gen, latent_stream(gen.cfg, seed, set(vary)), 3, last=True)


def test_vary_melody_0_changes_only_track_0(musegan_checkpoint):
    base, varied = _rolls(musegan_checkpoint, []), _rolls(musegan_checkpoint, ["melody:0"])
    assert not np.array_equal(base[..., 0, :], varied[..., 0, :])
    assert np.array_equal(base[..., 1:, :], varied[..., 1:, :])
    # decoded without voice-leading rules (which weigh every voice together), the others stay too
    base = generate_musegan(musegan_checkpoint, bars=6, seed=3, rules=False)
    varied = generate_musegan(musegan_checkpoint, bars=6, seed=3, vary=["melody:0"], rules=False)
    for a, b in zip(base.tracks[1:], varied.tracks[1:]):
        assert a.notes == b.notes


@pytest.mark.parametrize("latent", ["chords", "style"])
def test_vary_shared_latents_changes_every_track(musegan_checkpoint, latent):
    base, varied = _rolls(musegan_checkpoint, []), _rolls(musegan_checkpoint, [latent])
    assert all(not np.array_equal(base[..., t, :], varied[..., t, :]) for t in range(4))


def test_programs_and_bad_controls(musegan_checkpoint):
    score = generate_musegan(musegan_checkpoint, bars=2, programs=[0, 1, 2, 3])
    assert [t.program for t in score.tracks] == [0, 1, 2, 3]
    with pytest.raises(ComposerError, match="^vary melody:4: choose"):
        generate_musegan(musegan_checkpoint, bars=2, vary=["melody:4"])
    with pytest.raises(ComposerError, match="^programs 1,2: give 4 GM programs"):
        generate_musegan(musegan_checkpoint, bars=2, programs=[1, 2])


def test_stream_bars_follows_the_contract_and_matches_generate(musegan_checkpoint):
    bars = list(itertools.islice(stream_bars(musegan_checkpoint, seed=4), 8))
    for bar in bars:
        assert [t.name for t in bar.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
        assert bar.time_signature == (4, 4) and bar.bpm == 100.0
        assert all(0 <= n.start < 16 for t in bar.tracks for n in t.notes)
        assert bar.n_notes > 0
    # generate() draws the same phrases, the last as an ending; before it, the stream laid end to end.
    whole = generate_musegan(musegan_checkpoint, bars=8, seed=4, rules=False)
    for i, t in enumerate(whole.tracks):
        starts = [(n.start, n.pitch) for n in t.notes if n.start < 64]
        assert starts == [
            (n.start + 16 * b, n.pitch) for b, bar in enumerate(bars[:4]) for n in bar.tracks[i].notes
        ]


@pytest.mark.parametrize("bars", [4, 5])
def test_only_the_last_phrase_is_drawn_as_an_ending(musegan_checkpoint, monkeypatch, bars):
    from composer.generation import musegan

    flags, load = [], musegan.load_generator

    def spying(checkpoint):
        gen, meta = load(checkpoint)
        forward = gen.forward
        gen.forward = lambda *a, condition=None, **k: (
            flags.append(condition.item()) or forward(*a, condition=condition, **k)
        )
        return gen, meta

    monkeypatch.setattr(musegan, "load_generator", spying)
    score = generate_musegan(musegan_checkpoint, bars=bars, seed=2)
    assert flags == [0.0, 0.0, 1.0] if bars == 5 else flags == [0.0, 1.0]
    assert score.n_bars == bars and score.length == 16 * bars


@pytest.mark.parametrize("rules", [False, True])
def test_no_blips_and_no_short_holes_in_the_voices(musegan_checkpoint, rules):
    for seed in range(3):
        score = generate_musegan(musegan_checkpoint, bars=6, seed=seed, rules=rules)
        for t in score.tracks:
            # the grid decoding: notes of at least 2 steps (an eighth); the rhythm decoding (rules)
            # may write a sixteenth where the corpus has them; rests inside a voice of at least 4 (a
            # quarter) either way; only a note cut by the end of the piece may be shorter.
            assert all(n.duration >= (1 if rules else 2) for n in t.notes if n.end < score.length)
            assert all(type(n.start) is int and type(n.duration) is int for n in t.notes)
            gaps = [b.start - a.end for a, b in zip(t.notes, t.notes[1:])]
            assert all(g == 0 or g >= 4 for g in gaps), gaps


@pytest.mark.parametrize("seed", range(4))
def test_a_piece_ends_with_a_dominant_on_the_last_beat_then_the_tonic(musegan_checkpoint, seed):
    score = generate_musegan(musegan_checkpoint, bars=5, seed=seed)
    dominant = [next(n for n in t.notes if n.start == 60) for t in score.tracks]
    tonic = [t.notes[-1] for t in score.tracks]
    assert all((n.start, n.end) == (60, 64) for n in dominant)  # struck together on the last beat
    assert all((n.start, n.end) == (64, 72) for n in tonic)  # then the final chord, then silence
    assert dominant[-1].pitch % 12 == 7 and 11 in {n.pitch % 12 for n in dominant}
    assert {n.pitch % 12 for n in dominant} <= {7, 11, 2, 5}
    assert tonic[-1].pitch % 12 == 0 and {n.pitch % 12 for n in tonic} in (
        {0, 4},
        {0, 3},
        {0, 4, 7},
        {0, 3, 7},
    )
    assert ending_metrics(score)["authentic_cadence"] == 1.0
    plain = generate_musegan(musegan_checkpoint, bars=5, seed=seed, rules=False)
    assert plain.n_bars == 5 and plain != score


def test_form_restates_the_first_phrase_chords_and_soprano(musegan_checkpoint):
    gen, _ = load_generator(musegan_checkpoint)
    plain = list(itertools.islice(latent_stream(gen.cfg, 5, set()), 4))
    form = list(itertools.islice(latent_stream(gen.cfg, 5, set(), restate={2: 0}), 4))
    assert all(plain[k][n].equal(form[k][n]) for k in (0, 1) for n in plain[k])
    assert form[2]["chords"].equal(form[0]["chords"]) and form[2]["melody"][:, 0].equal(
        form[0]["melody"][:, 0]
    )
    assert not form[2]["melody"][:, 1:].equal(form[0]["melody"][:, 1:])
    assert not form[3]["chords"].equal(plain[3]["chords"])  # the walk goes on from the restatement
    roll = draw_phrases(gen, iter(form), 3, last=False)  # (6 bars, ...): soprano of bars 4-5 = 0-1
    assert np.array_equal(roll[4:6, :, :, 0], roll[0:2, :, :, 0])
    assert not np.array_equal(roll[4:6, :, :, 1:], roll[0:2, :, :, 1:])


@pytest.mark.parametrize("bpm", [0, -5, 1000.5])
def test_bpm_outside_1_to_1000_is_an_error(musegan_checkpoint, bpm):
    meta = read_meta(musegan_checkpoint)
    with pytest.raises(ComposerError, match=rf"^bpm {bpm}: choose a tempo between 1 and 1000$"):
        meta_score(meta, bpm=bpm)
    with pytest.raises(OptionError, match="^bpm "):
        generate_musegan(musegan_checkpoint, bars=1, bpm=bpm)
    assert meta_score(meta, bpm=1).bpm == 1.0 and meta_score(meta).bpm == 100.0


def test_rules_flag_reaches_the_musegan_and_is_on_by_default(tmp_path):
    """`--rules` (the default) and `--no-rules` on the shipped MuseGAN: the default is the rules'
    voicing, and turning them off changes the pitches, not the bar count."""
    from click.testing import CliRunner

    from composer.cli import main

    out = {}
    for flag in ("", "--rules", "--no-rules"):
        path = tmp_path / f"m{flag}.mid"
        args = ["generate", "--model", "musegan", "--bars", "4", "--seed", "3", "-o", str(path)]
        result = CliRunner().invoke(main, args + ([flag] if flag else []))
        assert result.exit_code == 0, result.output
        out[flag] = path.read_bytes()
        assert read_midi(path).n_bars == 4
    assert out[""] == out["--rules"] and out["--no-rules"] != out["--rules"]


def test_in_a_piece_with_form_the_soprano_rhythm_of_bars_5_6_is_that_of_bars_1_2(musegan_checkpoint):
    from composer.generation.musegan import FORM_SHARE

    chosen = [s for s in range(40) if np.random.default_rng([s, 1]).random() < FORM_SHARE]
    assert 0.1 < len(chosen) / 40 < 0.4
    soprano = generate_musegan(musegan_checkpoint, bars=8, seed=chosen[0]).tracks[0].notes
    rhythm = [(n.start, n.duration) for n in soprano]
    first = [(s, d) for s, d in rhythm if s < 32 and s + d <= 32]
    assert first and [(s + 64, d) for s, d in first] == [
        (s, d) for s, d in rhythm if 64 <= s < 96 and s + d <= 96
    ]
