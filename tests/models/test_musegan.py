"""MuseGAN modules: generator and critic shapes, the hold/onset channels, the gradient penalty."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from composer.models.musegan import Critic, Generator, MuseGANConfig, gradient_penalty, sample_latents


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
