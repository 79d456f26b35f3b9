"""Bach corpus preparation, cold (fresh cache dir) vs cached: CLI wall time and in-process load time.

    python benchmarks/bench_corpus.py [--repeats 5]

Cold runs use a fresh temporary COMPOSER_CACHE_DIR, so nothing is reused; cached runs read the entry
the cold run wrote. Prints one Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CLI = [
    sys.executable,
    "-c",
    "from composer.cli import main; main(prog_name='composer')",
    "corpus",
    "info",
    "bach",
]


def _cli_seconds(env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(CLI, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def _load_seconds(use_cache: bool, with_pieces: bool) -> float:
    from composer import load_corpus

    t0 = time.perf_counter()
    corpus = load_corpus("bach", use_cache=use_cache)
    if with_pieces:
        assert len(corpus.pieces) >= 350
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["COMPOSER_CACHE_DIR"] = cache
        env = dict(os.environ)
        cli_cold = _cli_seconds(env)
        cli_warm = statistics.median(_cli_seconds(env) for _ in range(args.repeats))
        _load_seconds(True, True)  # import music21-free modules once, so the timings below are loads only
        load_warm = statistics.median(_load_seconds(True, False) for _ in range(args.repeats))
        pieces_warm = statistics.median(_load_seconds(True, True) for _ in range(args.repeats))
    with tempfile.TemporaryDirectory() as cache:
        os.environ["COMPOSER_CACHE_DIR"] = cache
        load_cold = _load_seconds(False, True)
    rows = [
        ("`composer corpus info bach` (subprocess wall)", cli_cold, cli_warm),
        ('`load_corpus("bach")` in process, info only', load_cold, load_warm),
        ('`load_corpus("bach").pieces` in process', load_cold, pieces_warm),
    ]
    print(f"| what | cold (s) | cached (s, median of {args.repeats}) | cold / cached |")
    print("|---|---:|---:|---:|")
    for what, cold, warm in rows:
        print(f"| {what} | {cold:.2f} | {warm:.3f} | {cold / warm:.0f}x |")


if __name__ == "__main__":
    main()
