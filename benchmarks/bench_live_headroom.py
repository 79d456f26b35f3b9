"""Generation headroom for `composer live`: seconds of music per second of generation, per model.

Pulls bars from composer.generation.<model>.stream_bars with the shipped checkpoint two ways and
reports music time over generation time (the first bar, which loads the model, is left out):

- ``live``: as `composer live` runs it: the generator in its own process (composer.live.genproc:
  SCHED_RR 1 where the OS allows, one torch thread), bars read by the BarStream worker; the time
  per bar is the child's own, and this is the headroom `composer live` prints;
- ``plain``: the same generator called in this process's main thread at normal priority, as a
  script calling stream_bars would, with CPU time per bar beside the wall time.

A model whose checkpoint is not there is reported as skipped.

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
sys.path.insert(0, str(ROOT))
from composer.commands.common import set_torch_threads  # noqa: E402
from composer.live.genproc import ChildBars  # noqa: E402
from composer.live.stream import BarStream  # noqa: E402

LIVE_PRIORITY = 5  # composer.live.session.play_live's BarStream priority


def measure_plain(model: str, bars: int, bpm: float | None) -> dict:
    stream = importlib.import_module(f"composer.generation.{model}").stream_bars(seed=0)
    first = next(stream)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(bars):
        next(stream)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    music = bars * first.steps_per_bar / first.resolution * 60.0 / (bpm or first.bpm)
    return {
        "plain_ms_per_bar": round(wall / bars * 1e3, 2),
        "plain_cpu_ms_per_bar": round(cpu / bars * 1e3, 2),
        "plain_headroom_x": round(music / wall, 1),
    }


def measure_live(model: str, bars: int, bpm: float | None) -> dict:
    child = ChildBars(model, None, seed=0, threads=1)  # as composer live
    stream = BarStream(child, n_bars=bars + 1, bpm=bpm, priority=LIVE_PRIORITY).start()
    try:
        for _ in stream.events():  # the player's side, as fast as it can: the worker never waits
            pass
    finally:
        child.close()
        stream.close()
    gen = stream.stats.bar_seconds
    return {
        "first_bar_s": round(gen[0], 2),
        "live_ms_per_bar": round(sum(gen[1:]) / bars * 1e3, 2),
        "live_headroom_x": round(stream.stats.headroom(), 1),
    }


def measure(model: str, bars: int, bpm: float | None) -> dict:
    if not (ROOT / "checkpoints" / f"{model}-bach" / "meta.json").exists():
        return {"model": model, "skipped": f"checkpoints/{model}-bach/ not found"}
    return {"model": model, "bars": bars, **measure_live(model, bars, bpm), **measure_plain(model, bars, bpm)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", type=int, default=64)
    ap.add_argument("--bpm", type=float, default=120.0, help="Tempo for the real-time side.")
    ap.add_argument("--load", type=int, default=0, help="CPU-bound processes running beside it")
    args = ap.parse_args()
    set_torch_threads()
    spin = "import time\nend = time.monotonic() + 3600\nwhile time.monotonic() < end: pass"
    load = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(args.load)]
    try:
        results = [measure(m, args.bars, args.bpm) for m in ("lstm", "musegan")]
    finally:
        for p in load:
            p.kill()
    for r in results:
        r.update(bpm=args.bpm, load_processes=args.load, loadavg=round(os.getloadavg()[0], 1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
