"""MuseGAN fixtures: one tiny checkpoint trained for a few steps, shared by the session."""

from __future__ import annotations

import pytest
import torch
from presets import TINY_MUSEGAN as TINY


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and the machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny MuseGAN checkpoint folder (2 generator steps on the bach corpus)."""
    from composer.training.musegan import train_musegan

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_musegan("bach", out=str(tmp_path_factory.mktemp("musegan") / "ckpt"), steps=2, **TINY)
    finally:
        torch.set_num_threads(before)
