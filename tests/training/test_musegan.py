"""MuseGAN WGAN-GP training: one step, checkpoints, exact resume and its checks, divergence, --out refusal,
Ctrl-C, sample images."""

from __future__ import annotations

import math
import os
import shutil
import signal

import pytest
import torch
from click.testing import CliRunner

from composer.checkpoint import load_checkpoint, read_meta
from composer.cli import main
from composer.errors import CheckpointError, ComposerError, Interrupted
from composer.midi_io import write_midi
from composer.models.musegan import Critic, Generator, MuseGANConfig
from composer.music import Score, Track
from composer.representations.pianoroll import RollCodec
from composer.training import musegan as training
from composer.training.musegan_data import to_phrases
from tests.helpers import TINY_MUSEGAN as TINY
from tests.helpers import quarter_notes


def test_one_wgan_gp_step_gives_finite_losses_and_moves_weights(bach, one_thread):
    codec = RollCodec()
    cfg = MuseGANConfig(n_pitches=48, width=1 / 32, z_dim=8, n_channels=2, n_conditions=1)
    rolls, last = to_phrases(codec, bach.pieces[:5], 2)
    assert rolls.shape[1:] == (2, 16, 48, 4, 2) and rolls.dtype == bool and last.sum() >= 1
    data = (torch.from_numpy(rolls), torch.from_numpy(last))
    torch.manual_seed(0)
    gen, critic = Generator(cfg), Critic(cfg)
    opt_g, opt_c = torch.optim.Adam(gen.parameters()), torch.optim.Adam(critic.parameters())
    before = [p.clone() for p in gen.parameters()]
    losses = training.train_step(gen, critic, opt_g, opt_c, data, cfg, 4, 0, 1, torch.device("cpu"))
    assert set(losses) == {"critic", "generator", "gp"}
    assert all(math.isfinite(v) for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, gen.parameters()))


def test_checkpoint_round_trip(musegan_checkpoint):
    from composer.generation.musegan import load_generator

    meta, state, train_state = load_checkpoint(musegan_checkpoint, with_train_state=True)
    assert meta["model"] == "musegan" and meta["step"] == 2
    codec = RollCodec.from_dict(meta["codec"])
    assert codec.names == ("Soprano", "Alto", "Tenor", "Bass") and codec.programs == (52,) * 4
    assert codec.time_signature == (4, 4) and codec.channels == ("hold", "onset") and codec.tonic == 0
    assert meta["config"]["n_channels"] == 2 and meta["config"]["n_conditions"] == 1
    assert meta["corpus"]["last_phrases"] > 0 and len(meta["history"]["critic"]) == 2
    assert any(k.startswith("critic.") for k in train_state) and any(
        k.startswith("opt_g.") for k in train_state
    )
    gen, _ = load_generator(musegan_checkpoint)
    assert all(torch.equal(gen.state_dict()[k], v) for k, v in state.items())
    assert (musegan_checkpoint / "losses.png").stat().st_size > 0


def test_resume_continues_exactly(tmp_path, one_thread):
    training.train_musegan("bach", out=str(tmp_path / "a"), steps=4, **TINY)
    training.train_musegan("bach", out=str(tmp_path / "b"), steps=2, **TINY)
    training.train_musegan("bach", out=str(tmp_path / "b"), steps=4, resume=True, **TINY)
    ma, sa, ta = load_checkpoint(tmp_path / "a", with_train_state=True)
    mb, sb, tb = load_checkpoint(tmp_path / "b", with_train_state=True)
    assert ma["history"] == mb["history"] and mb["step"] == 4
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch, one_thread):
    real_step = training.train_step

    def failing(*args):
        losses = real_step(*args)
        return {**losses, "critic": math.nan} if args[8] == 3 else losses

    monkeypatch.setattr(training, "train_step", failing)
    with pytest.raises(ComposerError, match=r"diverged at step 3 \(critic loss nan\).*step 2"):
        training.train_musegan("bach", out=str(tmp_path / "c"), steps=6, **TINY)
    assert read_meta(tmp_path / "c")["step"] == 2
    load_checkpoint(tmp_path / "c", with_train_state=True)  # complete and loadable


def test_sample_pngs_every_n_steps(tmp_path, one_thread):
    folder = training.train_musegan("bach", out=str(tmp_path / "d"), steps=2, **{**TINY, "sample_every": 1})
    assert sorted(p.name for p in (folder / "samples").iterdir()) == ["step-000001.png", "step-000002.png"]


def test_resume_uses_the_saved_seed_for_the_corpus_split(tmp_path, one_thread):
    straight = training.train_musegan("bach", out=str(tmp_path / "a"), steps=4, seed=3, **TINY)
    training.train_musegan("bach", out=str(tmp_path / "b"), steps=2, seed=3, **TINY)
    resumed = training.train_musegan("bach", out=str(tmp_path / "b"), steps=4, seed=0, resume=True, **TINY)
    ma, sa, _ = load_checkpoint(straight)
    mb, sb, _ = load_checkpoint(resumed)
    assert mb["training"]["seed"] == 3 and ma["history"] == mb["history"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_with_another_corpus_or_model_is_a_clear_error(tmp_path, musegan_checkpoint, cache_dir):
    folder = tmp_path / "midis"
    folder.mkdir()
    for i in range(3):
        write_midi(Score(tracks=[Track("a", 0, False, quarter_notes(60 + i))]), folder / f"p{i}.mid")
    out = tmp_path / "ck"
    shutil.copytree(musegan_checkpoint, out)
    with pytest.raises(CheckpointError, match=r"ck: was trained on corpus 'bach', not '.*midis'"):
        training.train_musegan(str(folder), out=str(out), steps=4, resume=True, **TINY)
    from composer.training.lstm import load_lstm

    with pytest.raises(CheckpointError, match=r"ck: holds a 'musegan' model, not an lstm"):
        load_lstm(out)


def test_changed_corpus_is_refused_on_resume(tmp_path, musegan_checkpoint):
    import json

    out = tmp_path / "ck"
    shutil.copytree(musegan_checkpoint, out)
    meta = json.loads((out / "meta.json").read_text())
    meta["corpus"]["fingerprint"] = "0" * 16
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="has changed since this checkpoint was trained"):
        training.train_musegan("bach", out=str(out), steps=4, resume=True, **TINY)


def test_out_folder_with_a_checkpoint_is_refused_unless_resume_or_force(
    tmp_path, musegan_checkpoint, one_thread
):
    out = tmp_path / "ck"
    shutil.copytree(musegan_checkpoint, out)
    hint = "; choose another --out DIR, or use --resume to continue it or --force to overwrite it"
    message = f"{out} already holds a checkpoint" + hint  # the library's words, then the CLI's hint
    with pytest.raises(ComposerError) as err:
        training.train_musegan("bach", out=str(out), steps=1, **TINY)
    assert str(err.value) == f"{out} already holds a checkpoint"
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
        str(stop.value) == f"interrupted at step 3; checkpoint saved in {out}"
    )  # the CLI adds how to resume
    assert str(stop.value.folder) == str(out)
    assert read_meta(out)["step"] == 3 and (out / "losses.png").exists()
    monkeypatch.setattr(training, "train_step", real_step)
    training.train_musegan("bach", out=str(out), steps=5, resume=True, **TINY)
    assert read_meta(out)["step"] == 5 and len(read_meta(out)["history"]["gp"]) == 5
