"""Corpora of 1k-100k MIDI files: `composer corpus prepare` wall time, files/s and peak RSS, and the
time training takes to start on a prepared corpus.

    python benchmarks/bench_scale_corpus.py generate --files 100000 --out /tmp/scale100k [--jobs 2]
    python benchmarks/bench_scale_corpus.py prepare /tmp/scale100k [--workers 2]
    python benchmarks/bench_scale_corpus.py start /tmp/scale100k

The synthetic corpus: the 350 bach chorales, each transposed (-5..+6), re-voiced (as written, tenor
up an octave, bass down an octave, alto left out) and given one of 8 tempi, written by
composer.write_midi: 134,400 distinct files before any repeats. Generated corpora go under /tmp,
never into the repository.

``prepare`` runs `composer corpus prepare` in a fresh cache folder as a subprocess and polls
/proc every 50 ms for the resident memory and CPU time of its whole process tree (the CLI, the
forkserver and the worker processes; a process's last 50 ms of CPU may be missed); it prints wall
and CPU seconds, files/s, peak RSS and the load average before and after. ``start`` times `composer train` on the prepared corpus up to its first
optimizer step (the first progress line after "training lstm on").
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPI = (60, 66, 72, 80, 88, 96, 104, 112)


def variant(pieces, i: int):
    """The i-th synthetic piece: a chorale, transposed, re-voiced and at one tempo."""
    from composer.music import transpose

    score = pieces[i % len(pieces)]
    v = i // len(pieces)
    shift, voicing, tempo = v % 12 - 5, (v // 12) % 4, TEMPI[(v // 48) % len(TEMPI)]
    tracks = list(transpose(score, shift).tracks)
    if voicing in (1, 2) and len(tracks) >= 4:
        t = 2 if voicing == 1 else 3
        notes = [replace(n, pitch=n.pitch + (12 if voicing == 1 else -12)) for n in tracks[t].notes]
        tracks[t] = replace(tracks[t], notes=[n for n in notes if 0 <= n.pitch <= 127])
    elif voicing == 3 and len(tracks) >= 4:
        del tracks[1]
    return replace(score, tracks=tracks, bpm=float(tempo), title=f"{score.title} v{v}")


def _write_range(args) -> None:
    out, start, stop = args
    from composer import load_corpus
    from composer.midi_io import write_midi

    pieces = load_corpus("bach").pieces
    for i in range(start, stop):
        folder = out / f"{i // 1000:03d}"  # 1,000 files a folder, as large collections are laid out
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:06d}.mid"
        if not path.exists():  # a rerun completes an interrupted generation
            write_midi(variant(pieces, i), path)


def generate(files: int, out: Path, jobs: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    step = -(-files // jobs)
    t0 = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        pool.map(_write_range, [(out, s, min(s + step, files)) for s in range(0, files, step)])
    print(f"{files} files in {out} in {time.perf_counter() - t0:.1f} s")


def _tree(pid: int, cpu: dict[int, float]) -> int:
    """Resident bytes of ``pid`` and all its descendants, from /proc; each one's CPU seconds so far
    go into ``cpu`` (workers are not children the CLI waits for, so getrusage would miss them)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    ticks: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        p = int(entry.name)
        children.setdefault(int(fields[1]), []).append(p)
        rss[p] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        ticks[p] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        cpu[p] = max(cpu.get(p, 0.0), ticks.get(p, 0.0))
        todo += children.get(p, [])
    return total


def measure(cmd: list[str], env: dict, until: str | None = None) -> dict:
    """Run ``cmd``; wall and CPU seconds and peak RSS of its process tree (polled every 50 ms), and
    (with ``until``) the seconds until a line containing ``until`` appears, after which it is stopped."""
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, seen = [], []

    def read() -> None:  # tqdm writes carriage returns: split on them too
        for line in iter(proc.stdout.readline, ""):
            lines.append(line)
            if until and not seen and until in line:
                seen.append(time.perf_counter() - t0)
                proc.kill()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    peak, cpu = 0, {}
    while proc.poll() is None:
        peak = max(peak, _tree(proc.pid, cpu))
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    reader.join(5)
    return {
        "wall": wall,
        "cpu": sum(cpu.values()),
        "peak_rss_mib": peak / 2**20,
        "load": (load0, os.getloadavg()[0]),
        "until": seen[0] if seen else None,
        "code": proc.returncode,
        "output": "".join(lines),
    }


def _env(cache: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "COMPOSER_CACHE_DIR": str(cache), "COMPOSER_THREADS": "1"}


def prepare(folder: Path, workers: int, cache: Path | None) -> None:
    cache = cache or Path(tempfile.mkdtemp(prefix="composer-scale-cache-"))  # fresh: a cold preparation
    n = sum(1 for _ in folder.rglob("*.mid"))
    cmd = [sys.executable, "-m", "composer", "corpus", "prepare", str(folder), "--workers", str(workers)]
    r = measure(cmd, _env(cache))
    print(r["output"].strip().splitlines()[-1] if r["output"].strip() else "")
    print(
        f"| {n:,} | {r['wall']:.1f} | {r['cpu']:.1f} | {n / r['wall']:.0f} | {r['peak_rss_mib']:.0f} | "
        f"{r['load'][0]:.1f} -> {r['load'][1]:.1f} | exit {r['code']} | cache {cache} |"
    )


def start(folder: Path, cache: Path, model: str) -> None:
    out = Path(tempfile.mkdtemp(prefix="composer-scale-run-"))
    cmd = [sys.executable, "-m", "composer", "train", "--model", model, "--corpus", str(folder)]
    cmd += ["--size", "tiny", "--steps", "5", "--out", str(out / "run")]
    r = measure(cmd, _env(cache), until="step 1/")  # the first progress line follows the first step
    print(r["output"][-2000:])
    print(
        f"training start ({model}): {r['until']:.1f} s to the first step ({r['cpu']:.1f} s CPU); "
        f"peak RSS {r['peak_rss_mib']:.0f} MiB, load {r['load'][0]:.1f} -> {r['load'][1]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--files", type=int, required=True)
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--jobs", type=int, default=2)
    p = sub.add_parser("prepare")
    p.add_argument("folder", type=Path)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cache", type=Path)
    s = sub.add_parser("start")
    s.add_argument("folder", type=Path)
    s.add_argument("--cache", type=Path, required=True)
    s.add_argument("--model", default="lstm")
    args = parser.parse_args()
    if args.what == "generate":
        generate(args.files, args.out, args.jobs)
    elif args.what == "prepare":
        prepare(args.folder, args.workers, args.cache)
    else:
        start(args.folder, args.cache, args.model)


if __name__ == "__main__":
    main()
