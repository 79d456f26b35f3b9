"""Steps per second of LSTM training in 1 process or under torchrun (CPU gloo or CUDA NCCL).

    python benchmarks/bench_ddp.py --steps 60 --out /tmp/ddp1
    torchrun --standalone --nproc_per_node 2 benchmarks/bench_ddp.py --steps 60 --out /tmp/ddp2

Times the optimizer steps only (not start-up, corpus loading or validation), skipping the first 5;
rank 0 prints one JSON line with steps/s and the run's final training loss.
"""

from __future__ import annotations

import argparse
import json
import time

from composer.training import lstm


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    stamps: list[float] = []
    step = lstm._Run.train_step

    def timed(run):
        loss = step(run)
        stamps.append(time.perf_counter())
        return loss

    lstm._Run.train_step = timed
    out = lstm.train_lstm(
        "bach", out=args.out, force=True, steps=args.steps, batch_size=args.batch_size,
        seq_len=args.seq_len, size=args.size, dropout=0.0, lr=1e-2, device=args.device,
    )  # fmt: skip
    from composer.training.distributed import from_env

    rank, world, _ = from_env()
    if rank == 0:
        meta = json.loads((out / "last" / "meta.json").read_text())
        rate = (len(stamps) - 5) / (stamps[-1] - stamps[4])
        print(
            json.dumps(
                {"world": world, "steps_per_s": round(rate, 2), "train_loss": meta["history"]["train"][-1]}
            )
        )


if __name__ == "__main__":
    main()
