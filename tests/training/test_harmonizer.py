"""Training the harmonizer: an interrupted run resumes exactly."""

from __future__ import annotations

import torch


def test_training_resumes_exactly(tmp_path, bach):
    from composer.checkpoint import load_checkpoint
    from composer.training.harmonizer import train_harmonizer

    opts = {"size": "tiny", "batch_size": 2, "eval_every": 2, "lr": 1e-2}
    train_harmonizer(out=tmp_path / "straight", steps=4, **opts)
    train_harmonizer(out=tmp_path / "resumed", steps=4, stop_after=2, **opts)
    train_harmonizer(out=tmp_path / "resumed", resume=True, steps=4)
    a = load_checkpoint(tmp_path / "straight" / "last")[1]
    b = load_checkpoint(tmp_path / "resumed" / "last")[1]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
