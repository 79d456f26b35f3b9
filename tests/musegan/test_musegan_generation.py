"""MuseGAN generation: exact bar counts, named tracks, no empty bar, seeds, --vary, stream_bars."""

from __future__ import annotations

import io
import itertools

import pytest

from composer.errors import ComposerError
from composer.generation.musegan import generate_musegan, stream_bars
from composer.midi_io import read_midi, write_midi
from composer.representations.pianoroll import to_pianoroll


@pytest.mark.parametrize("bars", [8, 3, 13])
def test_exact_bars_four_named_tracks_no_empty_bar(tiny_checkpoint, tmp_path, bars):
    score = generate_musegan(tiny_checkpoint, bars=bars, seed=1)
    path = tmp_path / "out.mid"
    write_midi(score, path)
    back = read_midi(path)
    assert back.n_bars == bars and back.n_steps == bars * 16
    assert [t.name for t in back.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert [t.program for t in back.tracks] == [52] * 4
    assert back.time_signature == (4, 4) and back.bpm == 100.0
    roll = to_pianoroll(back)  # (bars, 16, 84, 4)
    assert roll.shape[0] == bars and roll.any(axis=(1, 2, 3)).all()
    for t in back.tracks:  # each voice monophonic: no two notes of a voice overlap
        assert all(a.end <= b.start for a, b in zip(t.notes, t.notes[1:]))


def test_seed_reproduces_byte_for_byte(tiny_checkpoint):
    def midi(seed):
        buf = io.BytesIO()
        write_midi(generate_musegan(tiny_checkpoint, bars=5, seed=seed), buf)
        return buf.getvalue()

    assert midi(7) == midi(7)
    assert midi(7) != midi(8)


def test_vary_melody_0_changes_only_track_0(tiny_checkpoint):
    base = generate_musegan(tiny_checkpoint, bars=6, seed=3)
    varied = generate_musegan(tiny_checkpoint, bars=6, seed=3, vary=["melody:0"])
    assert base.tracks[0].notes != varied.tracks[0].notes
    for a, b in zip(base.tracks[1:], varied.tracks[1:]):
        assert a.notes == b.notes


@pytest.mark.parametrize("latent", ["chords", "style"])
def test_vary_shared_latents_changes_every_track(tiny_checkpoint, latent):
    base = generate_musegan(tiny_checkpoint, bars=4, seed=3)
    varied = generate_musegan(tiny_checkpoint, bars=4, seed=3, vary=[latent])
    assert base.tracks != varied.tracks


def test_programs_and_bad_controls(tiny_checkpoint):
    score = generate_musegan(tiny_checkpoint, bars=2, programs=[0, 1, 2, 3])
    assert [t.program for t in score.tracks] == [0, 1, 2, 3]
    with pytest.raises(ComposerError, match="--vary melody:4"):
        generate_musegan(tiny_checkpoint, bars=2, vary=["melody:4"])
    with pytest.raises(ComposerError, match="--programs"):
        generate_musegan(tiny_checkpoint, bars=2, programs=[1, 2])


def test_stream_bars_follows_the_contract_and_matches_generate(tiny_checkpoint):
    bars = list(itertools.islice(stream_bars(tiny_checkpoint, seed=4), 7))
    for bar in bars:
        assert [t.name for t in bar.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
        assert bar.time_signature == (4, 4) and bar.bpm == 100.0
        assert all(0 <= n.start < 16 for t in bar.tracks for n in t.notes)
        assert bar.n_notes > 0
    # generate() is the stream laid end to end and cut at the last bar line.
    whole = generate_musegan(tiny_checkpoint, bars=7, seed=4)
    for i, t in enumerate(whole.tracks):
        starts = [(n.start, n.pitch) for n in t.notes]
        assert starts == [
            (n.start + 16 * b, n.pitch) for b, bar in enumerate(bars) for n in bar.tracks[i].notes
        ]
