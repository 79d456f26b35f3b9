"""MuseGAN modules and WGAN-GP training: shapes, penalty, one step, checkpoints, resume, divergence."""

from __future__ import annotations

import math

import pytest
import torch
from presets import TINY_MUSEGAN as TINY
from torch import nn

from composer.checkpoint import load_checkpoint, read_meta
from composer.errors import ComposerError
from composer.models.musegan import Critic, Generator, MuseGANConfig, gradient_penalty, sample_latents
from composer.representations.pianoroll import RollCodec
from composer.training import musegan as training
from composer.training.musegan_data import to_phrases


@pytest.mark.parametrize("n_bars", [2, 4])
def test_generator_and_critic_shapes(n_bars):
    cfg = MuseGANConfig(n_bars=n_bars, width=1 / 32, z_dim=8)
    gen, critic = Generator(cfg), Critic(cfg)
    z = sample_latents(cfg, 3, torch.Generator().manual_seed(0))
    assert z["chords"].shape == (3, 8) and z["melody"].shape == (3, 4, 8)
    out = gen(**z)
    assert out.shape == (3, n_bars, 16, 84, 4, 1)
    assert out.abs().max() <= 1
    assert critic(out).shape == (3,)


def test_hold_onset_channels_and_the_last_phrase_condition():
    cfg = MuseGANConfig(n_pitches=48, width=1 / 32, z_dim=8, n_channels=2, n_conditions=1)
    gen, critic = Generator(cfg).eval(), Critic(cfg)
    z = sample_latents(cfg, 2, torch.Generator().manual_seed(0))
    ending, middle = torch.ones(2, 1), torch.zeros(2, 1)
    out = gen(**z, condition=ending)
    assert out.shape == (2, 2, 16, 48, 4, 2)
    assert not torch.equal(out, gen(**z, condition=middle))  # the flag reaches the output
    assert not torch.equal(critic(out, ending), critic(out, middle))  # and the critic's score
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())


def test_gradient_penalty_of_a_linear_critic():
    # f(x) = sum(w * x) has gradient w everywhere, so the penalty is (||w|| - 1)^2 exactly.
    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.full((2, 3), 0.5))  # ||w|| = sqrt(6 * 0.25)

        def forward(self, x):
            return (x * self.w).flatten(1).sum(1)

    real, fake = torch.randn(5, 2, 3), torch.randn(5, 2, 3)
    gp = gradient_penalty(Linear(), real, fake, torch.rand(5))
    assert gp.item() == pytest.approx((math.sqrt(1.5) - 1) ** 2, rel=1e-6)


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


def test_checkpoint_round_trip(tiny_checkpoint):
    from composer.generation.musegan import load_generator

    meta, state, train_state = load_checkpoint(tiny_checkpoint, with_train_state=True)
    assert meta["model"] == "musegan" and meta["step"] == 2
    codec = RollCodec.from_dict(meta["codec"])
    assert codec.names == ("Soprano", "Alto", "Tenor", "Bass") and codec.programs == (52,) * 4
    assert codec.time_signature == (4, 4) and codec.channels == ("hold", "onset") and codec.tonic == 0
    assert meta["config"]["n_channels"] == 2 and meta["config"]["n_conditions"] == 1
    assert meta["corpus"]["last_phrases"] > 0 and len(meta["history"]["critic"]) == 2
    assert any(k.startswith("critic.") for k in train_state) and any(
        k.startswith("opt_g.") for k in train_state
    )
    gen, _ = load_generator(tiny_checkpoint)
    assert all(torch.equal(gen.state_dict()[k], v) for k, v in state.items())
    assert (tiny_checkpoint / "losses.png").stat().st_size > 0


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
