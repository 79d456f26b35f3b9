"""Many processes, one run: torch.distributed set up from torchrun's environment, each rank's slice of
the global batch, the all-reduces that make N processes follow the 1-process run, and the rank that
alone writes and prints.

Every step's global batch is drawn exactly as in one process (from the step-keyed generators), and
rank r trains on rows [r*B/N, (r+1)*B/N) of it. Gradients are averaged over ranks, so with equal
slices the update is the gradient of the global mean loss: the 1-process run, up to the order of
float sums. Nothing in a checkpoint is per rank, so a run resumes at any world size.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from composer.device import pick_device
from composer.errors import ComposerError


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run: rank, world size, rank on its machine, and its device."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, samples and the progress bar."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def from_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from the variables torchrun sets; (0, 1, 0) without torchrun."""
    try:
        return tuple(
            int(os.environ.get(k, d)) for k, d in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0))
        )
    except ValueError as e:
        raise ComposerError(f"torchrun environment: {e}") from None


def setup(device: str = "auto") -> Ranks:
    """Join the process group torchrun started (NCCL on CUDA, gloo on CPU) and pick this rank's device.

    Without torchrun (WORLD_SIZE unset or 1) nothing is initialised and the device is
    ``pick_device(device)``; under torchrun each rank takes the GPU of its local rank.
    """
    rank, world, local_rank = from_env()
    dev = pick_device(device)
    if world > 1 and dev.type == "cuda":
        dev = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Ranks(rank, world, local_rank, dev)


def check_batch(batch_size: int, ranks: Ranks) -> None:
    """Equal slices are what make the averaged gradient the global mean: refuse a remainder."""
    if batch_size % ranks.world:
        raise ComposerError(
            f"batch size {batch_size} is not divisible by the world size {ranks.world}; "
            "use a batch size that is a multiple of the number of processes"
        )


def check_world(batch_size: int) -> None:
    """check_batch against torchrun's WORLD_SIZE, before any process group is set up."""
    check_batch(batch_size, Ranks(world=from_env()[1]))


def shard(batch: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """This rank's rows of a global batch (B, ...) -> (B / world, ...)."""
    n = batch.shape[0] // ranks.world
    return batch[ranks.rank * n : (ranks.rank + 1) * n]


def all_sum(value: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """The sum over ranks of a tensor (a copy; the input is untouched). Identity in one process."""
    value = value.detach().clone()
    if ranks.active:
        dist.all_reduce(value)
    return value


def all_mean(values: dict[str, float], ranks: Ranks) -> dict[str, float]:
    """Per-rank scalars averaged over ranks (one all-reduce): the global mean when slices are equal."""
    if not ranks.active:
        return values
    total = all_sum(torch.tensor(list(values.values()), dtype=torch.float64), ranks) / ranks.world
    return dict(zip(values, total.tolist()))


def any_rank(flag: bool, ranks: Ranks) -> bool:
    """True on every rank when it is True on one (a Ctrl-C seen by one process stops them all)."""
    return bool(all_sum(torch.tensor([int(flag)]), ranks).item())


def average_gradients(module: torch.nn.Module, ranks: Ranks) -> None:
    """Replace each gradient by its mean over ranks, in one flat all-reduce.

    Used instead of DistributedDataParallel where a loss needs a double backward (the WGAN-GP
    penalty), which DDP's gradient hooks do not support.
    """
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not ranks.active or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= ranks.world
    for g, part in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(part.view_as(g))


def broadcast_module(module: torch.nn.Module, ranks: Ranks) -> None:
    """Rank 0's parameters and buffers on every rank (they already agree when seeded alike: a guard)."""
    if ranks.active:
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, 0)


def wrap_ddp(model: torch.nn.Module, ranks: Ranks) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` under torchrun; the model itself in one process."""
    if not ranks.active:
        return model
    ids = [ranks.device.index] if ranks.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def sync_batchnorm(model: torch.nn.Module, ranks: Ranks) -> torch.nn.Module:
    """On CUDA, BatchNorm layers that normalise by the statistics of the global batch, as in one
    process. PyTorch's SyncBatchNorm has no CPU kernel, so on CPU (gloo) each rank normalises by its
    own slice: the run then follows the 1-process run in distribution, not step for step."""
    if ranks.active and ranks.device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def compile_model(model: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """Compile ``model`` in place when asked (--compile): its calls run the compiled graph, while its
    state_dict keeps its plain keys, so checkpoints do not change."""
    if enabled:
        model.compile()
    return model


def finish(ranks: Ranks) -> None:
    """Wait for every rank (rank 0 may still be saving), then leave the process group."""
    if ranks.active and dist.is_initialized():
        with contextlib.suppress(Exception):
            dist.barrier()
        dist.destroy_process_group()


class Silent:
    """The progress display of ranks other than 0: it shows nothing."""

    def update(self, step: int, **values: float) -> None:
        pass

    def write(self, line: str) -> None:
        pass

    def close(self) -> None:
        pass
