"""Corrupted-checkpoint sweep: hundreds of seeded variants of the shipped checkpoints, each run through
`composer generate` in its own process; counts tracebacks, multi-line errors, runs over 10 s of CPU
time, hangs (killed after 300 s of wall time: a loaded box needs that much) and peak RSS.

    python benchmarks/bench_checkpoint_fuzz.py --variants 300 --seed 0 --jobs 3

Each variant is a copy of checkpoints/lstm-bach (3 of 4) or checkpoints/musegan-bach (1 of 4) with one
seeded mutation: a meta.json value replaced by junk, a key deleted, bytes flipped or cut in meta.json
or in the weights file (header or body), a hostile file name, or a FIFO, folder or link where a file
should be. Expected for each: exit 0 (a harmless mutation) or exit 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANG_SECONDS = 300
JUNK = [0, -1, 1e9, 10**12, 2**64, "x", "", None, [], {}, True, 1e308, -1e308, [[[[]]]], "../x", 0.5, [0, 0]]
HOSTILE = ["../model-1.safetensors", "/etc/hostname", "model-1.safetensors/..", "", "model-1.safetensors\n"]


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in ("history", "optimizers"):
                yield from _leaves(v, (*path, k))
    elif isinstance(value, list) and value and len(value) < 200:
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    yield path


def _set(meta, path, value):
    *parents, last = path
    for p in parents:
        meta = meta[p]
    if value is _DELETE:
        del meta[last]
    else:
        meta[last] = value


_DELETE = object()


def mutate(folder: Path, rng: random.Random) -> str:
    """One seeded mutation of a checkpoint folder; returns its family's name."""
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text())
    weights = folder / meta["files"]["model"]
    family = rng.choice(
        [
            "value",
            "value",
            "value",
            "delete",
            "meta-flip",
            "meta-cut",
            "weights-header",
            "weights-cut",
            "weights-body",
            "name",
            "special",
        ]
    )
    if family in ("value", "delete"):
        paths = [p for p in _leaves(meta) if p]
        path = rng.choice(paths)
        if family == "delete" and isinstance(path[-1], str):
            _set(meta, path, _DELETE)
        else:
            _set(meta, path, rng.choice(JUNK))
        meta_path.write_text(json.dumps(meta))
    elif family == "meta-flip":
        data = bytearray(meta_path.read_bytes())
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        meta_path.write_bytes(bytes(data))
    elif family == "meta-cut":
        data = meta_path.read_bytes()
        meta_path.write_bytes(data[: rng.randrange(len(data))])
    elif family in ("weights-header", "weights-body"):
        data = bytearray(weights.read_bytes())
        (n,) = struct.unpack("<Q", data[:8])
        lo, hi = (0, 8 + n) if family == "weights-header" else (8 + n, len(data))
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(lo, hi)] = rng.randrange(256)
        weights.write_bytes(bytes(data))
    elif family == "weights-cut":
        data = weights.read_bytes()
        weights.write_bytes(data[: rng.randrange(len(data))])
    elif family == "name":
        meta["files"]["model"] = rng.choice(HOSTILE)
        meta_path.write_text(json.dumps(meta))
    else:
        target = rng.choice([weights, meta_path])
        target.unlink()
        rng.choice([os.mkfifo, os.mkdir, lambda p: p.symlink_to("/etc/hostname")])(target)
    return family


def run(folder: Path, model: str, out: Path) -> dict:
    code = "from composer.cli import main; main()"
    cmd = [sys.executable, "-c", code, "generate", "--model", model, "--checkpoint", str(folder)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COMPOSER_THREADS": "1"}
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [*cmd, "--bars", "2", "-o", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=err
        )
        deadline, status, usage = t0 + HANG_SECONDS, None, None
        while status is None:
            pid, status_, usage_ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status, usage = status_, usage_
            elif time.perf_counter() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                status = -9
            else:
                time.sleep(0.02)
        proc.returncode = 0
        err.seek(0)
        text = err.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status) if status != -9 else -9
    return {
        "exit": code,
        "seconds": time.perf_counter() - t0,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "traceback": "Traceback" in text,
        "lines": text.count("\n"),
        "stderr": text.strip()[:200],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="Variants run at once.")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    counts, families, worst = Counter(), Counter(), []
    peak, slowest, cpu = 0.0, 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for i in range(args.variants):
            model = "musegan" if i % 4 == 3 else "lstm"
            base = ROOT / "checkpoints" / f"{model}-bach"
            folder = Path(tmp) / f"v{i}"
            folder.mkdir()
            meta = json.loads((base / "meta.json").read_text())
            for name in ("meta.json", meta["files"]["model"]):
                shutil.copy(base / name, folder / name)
            jobs.append((i, model, mutate(folder, rng), folder))
        with ThreadPoolExecutor(args.jobs) as pool:
            results = pool.map(lambda job: run(job[3], job[1], job[3].with_suffix(".mid")), jobs)
            for (i, model, family, _), result in zip(jobs, results):
                families[family] += 1
                counts["exit 0" if result["exit"] == 0 else "exit 2" if result["exit"] == 2 else "other"] += 1
                counts["tracebacks"] += result["traceback"]
                counts["hangs"] += result["exit"] == -9
                counts["over 10 s CPU"] += result["cpu"] > 10
                bad_lines = result["exit"] == 2 and result["lines"] != 1
                counts["errors not one line"] += bad_lines
                if result["traceback"] or result["exit"] not in (0, 2) or bad_lines or result["cpu"] > 10:
                    worst.append((i, model, family, result))
                peak, slowest = max(peak, result["rss_mb"]), max(slowest, result["seconds"])
                cpu = max(cpu, result["cpu"])
    print(f"variants {args.variants} (seed {args.seed}); families {dict(sorted(families.items()))}")
    print(f"{dict(counts)}; peak RSS {peak:.0f} MB; most CPU {cpu:.1f} s; slowest wall {slowest:.1f} s")
    for i, model, family, result in worst[:20]:
        print(f"  variant {i} ({model}, {family}): {result}")


if __name__ == "__main__":
    main()
