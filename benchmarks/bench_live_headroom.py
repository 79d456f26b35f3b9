"""Generation headroom for `composer live`: seconds of music per second of generation, per model.

Pulls bars from composer.generation.<model>.stream_bars with the shipped checkpoint, as the live
worker thread does, and reports music time over generation time (the first bar, which loads the
model, is reported apart). A model whose checkpoint is not there is reported as skipped.

    python benchmarks/bench_live_headroom.py --bars 64
    python benchmarks/bench_live_headroom.py --bars 64 --bpm 120 --load 2   # two CPU-bound processes beside
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(model: str, bars: int, bpm: float | None) -> dict:
    if not (ROOT / "checkpoints" / f"{model}-bach" / "meta.json").exists():
        return {"model": model, "skipped": f"checkpoints/{model}-bach/ not found"}
    stream = importlib.import_module(f"composer.generation.{model}").stream_bars(seed=0)
    t0 = time.perf_counter()
    first = next(stream)
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(bars):
        next(stream)
    gen = time.perf_counter() - t0
    beats = first.steps_per_bar / first.resolution
    music = bars * beats * 60.0 / (bpm or first.bpm)
    return {
        "model": model,
        "bars": bars,
        "bpm": bpm or first.bpm,
        "first_bar_s": round(load, 2),
        "ms_per_bar": round(gen / bars * 1e3, 2),
        "headroom_x": round(music / gen, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", type=int, default=64)
    ap.add_argument(
        "--bpm", type=float, default=None, help="Tempo for the real-time side (default: the model's)."
    )
    ap.add_argument("--load", type=int, default=0, help="CPU-bound processes running beside it")
    args = ap.parse_args()
    spin = "import time\nend = time.monotonic() + 3600\nwhile time.monotonic() < end: pass"
    load = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(args.load)]
    try:
        results = [measure(m, args.bars, args.bpm) for m in ("lstm", "musegan")]
    finally:
        for p in load:
            p.kill()
    for r in results:
        r.update(load_processes=args.load, loadavg=round(os.getloadavg()[0], 1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
