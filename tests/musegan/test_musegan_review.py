"""MuseGAN review fixes: voice order with drums, resume checks, --out refusal, Ctrl-C, --bpm, --nearest."""

from __future__ import annotations

import os
import shutil
import signal

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from presets import TINY_MUSEGAN as TINY

from composer.checkpoint import load_checkpoint, read_meta
from composer.cli import main
from composer.compare import CopyIndex, evaluate_scores
from composer.errors import CheckpointError, ComposerError, CorpusError, Interrupted
from composer.generation.musegan import generate_musegan, meta_score
from composer.midi_io import read_midi, write_midi
from composer.music import Note, Score, Track
from composer.representations.pianoroll import RollCodec
from composer.training import musegan as training
from composer.training.musegan_data import to_phrases, to_voice_order


def _line(pitch: int, bars: int = 2) -> list[Note]:
    """Quarter notes at ``pitch`` through ``bars`` bars of 4/4."""
    return [Note(s, 4, pitch) for s in range(0, bars * 16, 4)]


@pytest.fixture
def drum_file(tmp_path):
    """A 4-track file: bass (program 32), drums, soprano (73), alto (71), in that order."""
    tracks = [
        Track("bass", 32, False, _line(40)),
        Track("drums", 0, True, _line(36) + _line(42)),
        Track("soprano", 73, False, _line(76)),
        Track("alto", 71, False, _line(67)),
    ]
    path = tmp_path / "drums.mid"
    write_midi(Score(tracks=tracks), path)
    return path


def test_a_four_track_file_with_drums_keeps_drums_out_of_the_voices(drum_file):
    score = read_midi(drum_file)
    assert len(score.tracks) == 4 and [t.is_drum for t in score.tracks] == [False, True, False, False]
    with pytest.raises(CorpusError, match="with 4 pitched tracks in this corpus"):
        to_phrases(RollCodec(), [score], 2)  # three pitched tracks: not usable as four voices
    assert to_voice_order(score, 4) is None
    voiced = to_voice_order(score, 3)
    assert [t.name for t in voiced.tracks] == ["soprano", "alto", "bass"]
    codec = RollCodec.fit([score], n_tracks=3)
    assert codec.names == ("soprano", "alto", "bass") and codec.programs == (73, 71, 32)
    rolls, last = to_phrases(codec, [score], 2)  # (phrases, bars, 16, 48, 3, 2), lowest pitch 36
    assert rolls.shape == (1, 2, 16, 48, 3, 2) and last.tolist() == [True]
    # the final bass note E2 becomes C2: everything moves down a major third
    assert [sorted(set(np.nonzero(rolls[0, ..., t, 0])[2] + 36)) for t in range(3)] == [[72], [63], [36]]
    assert CopyIndex([score], ["drums"], n_voices=3).nearest(score)["max_verbatim_bars"] == 2
    assert (
        CopyIndex([score], ["drums"], n_voices=3).nearest(Score(tracks=score.tracks[1:2]))["nearest"] is None
    )


def test_resume_uses_the_saved_seed_for_the_corpus_split(tmp_path, one_thread):
    straight = training.train_musegan("bach", out=str(tmp_path / "a"), steps=4, seed=3, **TINY)
    training.train_musegan("bach", out=str(tmp_path / "b"), steps=2, seed=3, **TINY)
    resumed = training.train_musegan("bach", out=str(tmp_path / "b"), steps=4, seed=0, resume=True, **TINY)
    ma, sa, _ = load_checkpoint(straight)
    mb, sb, _ = load_checkpoint(resumed)
    assert mb["training"]["seed"] == 3 and ma["history"] == mb["history"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_with_another_corpus_or_model_is_a_clear_error(tmp_path, tiny_checkpoint, cache_dir):
    folder = tmp_path / "midis"
    folder.mkdir()
    for i in range(3):
        write_midi(Score(tracks=[Track("a", 0, False, _line(60 + i))]), folder / f"p{i}.mid")
    out = tmp_path / "ck"
    shutil.copytree(tiny_checkpoint, out)
    with pytest.raises(CheckpointError, match=r"ck: was trained on corpus 'bach', not '.*midis'"):
        training.train_musegan(str(folder), out=str(out), steps=4, resume=True, **TINY)
    from composer.training.lstm import load_lstm

    with pytest.raises(CheckpointError, match=r"ck: holds a 'musegan' model, not an lstm"):
        load_lstm(out)


def test_changed_corpus_is_refused_on_resume(tmp_path, tiny_checkpoint):
    import json

    out = tmp_path / "ck"
    shutil.copytree(tiny_checkpoint, out)
    meta = json.loads((out / "meta.json").read_text())
    meta["corpus"]["fingerprint"] = "0" * 16
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="has changed since this checkpoint was trained"):
        training.train_musegan("bach", out=str(out), steps=4, resume=True, **TINY)


def test_out_folder_with_a_checkpoint_is_refused_unless_resume_or_force(
    tmp_path, tiny_checkpoint, one_thread
):
    out = tmp_path / "ck"
    shutil.copytree(tiny_checkpoint, out)
    message = (
        f"{out} already holds a checkpoint; choose another --out DIR, "
        "or use --resume to continue it or --force to overwrite it"
    )
    with pytest.raises(ComposerError) as err:
        training.train_musegan("bach", out=str(out), steps=1, **TINY)
    assert str(err.value) == message
    assert read_meta(out)["step"] == 2  # untouched
    result = CliRunner().invoke(main, ["train", "--model", "musegan", "--out", str(out), "--size", "tiny"])
    assert result.exit_code == 2 and result.output.strip() == f"composer: error: {message}"
    training.train_musegan("bach", out=str(out), steps=1, force=True, **TINY)
    assert read_meta(out)["step"] == 1 and len(read_meta(out)["history"]["critic"]) == 1
    assert sorted(p.name.split("-")[0] for p in out.glob("*.safetensors")) == ["model", "optimizer"]


def test_ctrl_c_saves_prints_one_line_and_exits_130(tmp_path, monkeypatch, capsys, one_thread):
    real_step = training.train_step

    def interrupting(*args):
        if args[8] == 3:  # the step argument: Ctrl-C arrives during step 3
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(*args)

    monkeypatch.setattr(training, "train_step", interrupting)
    out = tmp_path / "c"
    with pytest.raises(Interrupted) as stop:  # the CLI prints it as one line, exit status 130
        training.train_musegan("bach", out=str(out), steps=100, **{**TINY, "save_every": 100})
    assert stop.value.exit_code == 130
    assert (
        str(stop.value)
        == f"interrupted at step 3; checkpoint saved in {out} (continue with --resume --out {out})"
    )
    assert read_meta(out)["step"] == 3 and (out / "losses.png").exists()
    monkeypatch.setattr(training, "train_step", real_step)
    training.train_musegan("bach", out=str(out), steps=5, resume=True, **TINY)
    assert read_meta(out)["step"] == 5 and len(read_meta(out)["history"]["gp"]) == 5


@pytest.mark.parametrize("bpm", [0, -5, 1000.5])
def test_bpm_outside_1_to_1000_is_an_error(tiny_checkpoint, bpm):
    meta = read_meta(tiny_checkpoint)
    with pytest.raises(ComposerError, match=rf"--bpm {bpm}: choose a tempo between 1 and 1000"):
        meta_score(meta, bpm=bpm)
    with pytest.raises(ComposerError, match="--bpm"):
        generate_musegan(tiny_checkpoint, bars=1, bpm=bpm)
    assert meta_score(meta, bpm=1).bpm == 1.0 and meta_score(meta).bpm == 100.0


def test_nearest_without_a_usable_reference_piece_is_a_corpus_error(tmp_path, cache_dir):
    folder = tmp_path / "two-voices"
    folder.mkdir()
    for i in range(3):  # two pitched tracks: no piece has the four voices the bar index compares
        tracks = [Track("hi", 0, False, _line(72 + i)), Track("lo", 0, False, _line(48 + i))]
        write_midi(Score(tracks=tracks), folder / f"p{i}.mid")
    sample = Score(tracks=[Track(str(v), 52, False, _line(60 + 5 * v)) for v in range(4)])
    with pytest.raises(CorpusError, match=r"two-voices: no reference piece for --nearest .*at least 4"):
        evaluate_scores([sample], reference=str(folder), nearest=True)
    assert evaluate_scores([sample], reference=str(folder))["reference"]["pieces"] == 3
    path = tmp_path / "sample.mid"
    write_midi(sample, path)
    result = CliRunner().invoke(main, ["evaluate", str(path), "--reference", str(folder), "--nearest"])
    assert result.exit_code == 2 and "no reference piece for --nearest" in result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1
