"""Seconds per MuseGAN generator step (5 critic steps + 1 generator step) on this machine.

python benchmarks/bench_musegan_speed.py --size default --batch-size 32 --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

from composer.models.musegan import Critic, Generator, MuseGANConfig
from composer.representations.pianoroll import RollCodec
from composer.training.musegan import SIZES, train_step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="default", choices=sorted(SIZES))
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    codec = RollCodec()
    cfg = MuseGANConfig(
        width=SIZES[args.size],
        n_pitches=codec.n_pitches,
        n_channels=len(codec.channels),
        n_conditions=1,
    )
    torch.manual_seed(0)
    gen, critic = Generator(cfg), Critic(cfg)
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.5, 0.9))
    opt_c = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    shape = (1000, cfg.n_bars, cfg.steps_per_bar, cfg.n_pitches, cfg.n_tracks, cfg.n_channels)
    data = (torch.rand(shape) > 0.97, torch.arange(1000) % 12 == 0)  # (rolls, last-phrase flags)
    cpu = torch.device("cpu")
    train_step(gen, critic, opt_g, opt_c, data, cfg, args.batch_size, 0, 0, cpu)  # warm-up
    times = []
    for step in range(1, args.steps + 1):
        t0 = time.perf_counter()
        train_step(gen, critic, opt_g, opt_c, data, cfg, args.batch_size, 0, step, cpu)
        times.append(time.perf_counter() - t0)
    times.sort()
    params = sum(p.numel() for p in gen.parameters()), sum(p.numel() for p in critic.parameters())
    print(
        f"size {args.size} (width {cfg.width}), batch {args.batch_size}, threads {torch.get_num_threads()}: "
        f"median {times[len(times) // 2]:.3f} s, min {times[0]:.3f} s per generator step; "
        f"generator {params[0]:,} / critic {params[1]:,} parameters"
    )


if __name__ == "__main__":
    main()
