"""torchrun with 2 CPU processes (gloo) follows the 1-process run; helpers of composer.training.distributed.

Tolerance: the 2-process run sums each step's loss and gradients in another order (two half-batch
sums, then an all-reduce, instead of one sum over the batch), so float32 results differ in the last
bits and those differences grow a little over Adam's steps. Measured after 20 tiny steps: loss
difference ~1e-7 relative, weights ~1.4e-6 absolute; the test allows 1e-5 relative and 1e-4 absolute.
Dropout is 0 so that both runs draw no per-row random masks (with dropout each rank draws its own).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from composer.errors import ComposerError
from composer.training import distributed
from tests.helpers import TINY as TINY_LSTM

ROOT = Path(__file__).resolve().parents[2]
TINY = {**TINY_LSTM, "dropout": 0.0, "device": "cpu"}
FLAGS = "--size tiny --batch-size 4 --seq-len 16 --lr 1e-2 --dropout 0 --device cpu".split()


def torchrun(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node 2 -m composer ...`` with gloo on CPU, one thread each."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COMPOSER_THREADS": "1", "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    return subprocess.run(
        [*cmd, "-m", "composer", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from composer.training.lstm import load_lstm

    return load_lstm(folder)[1].state_dict()


def test_two_processes_follow_one_and_resume_at_world_size_one(tmp_path):
    """2 processes for 10 steps, resumed in 1 process to 20, equal the 1-process 20-step run; the
    checkpoint composes exactly the bars asked for."""
    from composer.training.lstm import train_lstm

    two = tmp_path / "two"
    run = torchrun("train", *FLAGS, "--steps", "10", "--out", str(two))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stderr.count("wrote ") == 1  # rank 0 alone reports (and writes)
    assert json.loads((two / "last" / "meta.json").read_text())["step"] == 10

    train_lstm("bach", out=two, resume=True, steps=20, **TINY)  # world size 1 now
    one = train_lstm("bach", out=tmp_path / "one", steps=20, **TINY)

    a = json.loads((one / "last" / "meta.json").read_text())
    b = json.loads((two / "last" / "meta.json").read_text())
    assert a["step"] == b["step"] == 20
    # the 10-step run ended an epoch at its last step: two halves of 10 steps vs one of 20
    assert b["history"]["train"][0] != pytest.approx(b["history"]["train"][1], rel=1e-3)
    assert sum(b["history"]["train"]) / 2 == pytest.approx(a["history"]["train"][0], rel=1e-5)
    assert b["history"]["validation"][-1] == pytest.approx(a["history"]["validation"][-1], rel=1e-5)
    wa, wb = weights(one / "last"), weights(two / "last")
    assert wa.keys() == wb.keys()
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-4

    out = tmp_path / "song.mid"
    gen = subprocess.run(
        [
            sys.executable,
            "-m",
            "composer",
            "generate",
            "--checkpoint",
            str(two),
            "--bars",
            "3",
            "-o",
            str(out),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert gen.returncode == 0, gen.stderr
    from composer.midi_io import read_midi

    assert read_midi(out).n_bars == 3


def test_world_size_that_does_not_divide_the_batch_is_one_line(tmp_path):
    run = torchrun("train", *FLAGS[:2], "--batch-size", "3", "--steps", "2", "--out", str(tmp_path / "x"))
    assert run.returncode != 0
    lines = [line for line in run.stderr.splitlines() if line.startswith("composer: error:")]
    assert lines == [
        "composer: error: batch size 3 is not divisible by the world size 2; "
        "use a batch size that is a multiple of the number of processes"
    ]
    assert run.stderr.splitlines()[0] == lines[0]  # before torchrun's own summary of the failed rank
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("rank, code, said", [("0", 2, 1), ("1", 0, 0)])
def test_the_batch_check_runs_before_any_process_group(tmp_path, monkeypatch, rank, code, said):
    from click.testing import CliRunner

    from composer.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", rank)  # no MASTER_ADDR: joining a process group would fail
    result = CliRunner().invoke(main, ["train", "--batch-size", "3", "--out", str(tmp_path / "x")])
    assert result.exit_code == code and len(result.stderr.splitlines()) == said, result.output
    assert result.stdout == "" and not (tmp_path / "x").exists()


def test_shard_takes_disjoint_equal_slices():
    batch = torch.arange(12).view(6, 2)
    parts = [distributed.shard(batch, distributed.Ranks(rank=r, world=3)).tolist() for r in range(3)]
    assert parts == [[[0, 1], [2, 3]], [[4, 5], [6, 7]], [[8, 9], [10, 11]]]


def test_check_batch():
    distributed.check_batch(8, distributed.Ranks(world=4))
    with pytest.raises(ComposerError, match="batch size 6 is not divisible by the world size 4"):
        distributed.check_batch(6, distributed.Ranks(world=4))


def test_one_process_helpers_are_identities():
    ranks = distributed.Ranks()
    assert distributed.all_mean({"loss": 1.5}, ranks) == {"loss": 1.5}
    assert distributed.all_sum(torch.tensor(3), ranks).item() == 3
    assert distributed.any_rank(False, ranks) is False
    assert distributed.any_rank(True, ranks) is True
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap_ddp(model, ranks) is model
    assert distributed.sync_batchnorm(model, ranks) is model


def test_critic_gradient_averaged_over_equal_slices_is_the_global_one():
    """What average_gradients relies on in the MuseGAN: every critic-loss term (penalty included) is a
    mean over samples, so the mean of the two half-batch gradients is the full-batch gradient."""
    from composer.models.musegan import Critic, MuseGANConfig, gradient_penalty

    torch.manual_seed(0)
    cfg = MuseGANConfig(n_pitches=12, width=1 / 32, z_dim=8, n_channels=2, n_conditions=1)
    critic = Critic(cfg).double()
    shape = (4, cfg.n_bars, cfg.steps_per_bar, cfg.n_pitches, cfg.n_tracks, cfg.n_channels)
    real, fake = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
    eps, cond = (
        torch.rand(4, dtype=torch.float64),
        torch.tensor([[0.0], [1.0], [0.0], [1.0]], dtype=torch.float64),
    )

    def grads(rows: slice) -> list[torch.Tensor]:
        critic.zero_grad()
        r, f, c = real[rows], fake[rows], cond[rows]
        loss = critic(f, c).mean() - critic(r, c).mean() + 10 * gradient_penalty(critic, r, f, eps[rows], c)
        loss.backward()
        return [p.grad.clone() for p in critic.parameters()]

    full, first, second = grads(slice(0, 4)), grads(slice(0, 2)), grads(slice(2, 4))
    for g, a, b in zip(full, first, second):
        torch.testing.assert_close((a + b) / 2, g, rtol=1e-12, atol=1e-12)
