"""Robustness under fuzzing: thousands of mutated MIDI files, each with a wall-time and memory check.

    python benchmarks/bench_fuzz.py [--mutants 5000] [--cli 200] [--seed 20261121]

Seeds: the tests/data fixtures, three chorales written as MIDI, music21's 23 bundled real MIDI files
and a 1,250-bar, 66,000-note file. Mutations (tests/midi_mutants.py): byte flips, truncations,
chunk-length edits, huge delta times, header edits, running-status floods and splices, plus eight
8 MiB floods. Every input is at most 8 MiB.

Part 1 reads every mutant with composer.read_midi in 2 long-lived worker processes (one per core),
each reporting its outcome, wall time and peak RSS (ru_maxrss) after every file; a worker that runs
past 10 s on one file is killed and counted. "traceback" = any exception other than MidiError.

Part 2 runs `composer render` on the first --cli mutants as separate processes, as a user would, and
counts exit codes, tracebacks on stderr, runs over 10 s and each process's peak RSS (wait4).

Part 3 times the bounded-cost cases of issue 9: render of the 1,250-bar file, the 43-byte file that
claims 29,990 bars, and the 8 MiB running-status floods, each a fresh `composer render` process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from midi_mutants import mutate  # noqa: E402

LIMIT_S = 10.0
COMPOSER = [sys.executable, "-c", "from composer.cli import main; main(prog_name='composer')"]
WORKER = """
import json, resource, sys, time, traceback
from composer import read_midi
from composer.errors import MidiError
for line in sys.stdin:
    path = line.rstrip("\\n")
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        read_midi(path)
        outcome = "read"
    except MidiError:
        outcome = "refused"
    except BaseException:
        outcome = "traceback: " + traceback.format_exc().splitlines()[-1]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps([path, outcome, time.perf_counter() - t0, rss, time.process_time() - c0]), flush=True)
"""


def _seeds(tmp: Path) -> tuple[list[bytes], Path]:
    import music21

    from composer import load_corpus, write_midi
    from composer.music import Note, Score, Track

    seeds = [p.read_bytes() for p in sorted((REPO / "tests" / "data").glob("*.mid")) if p.stat().st_size]
    for score in load_corpus("bach").pieces[:3]:
        write_midi(score, tmp / "seed.mid")
        seeds.append((tmp / "seed.mid").read_bytes())
    seeds += [p.read_bytes() for p in sorted(Path(music21.__file__).parent.rglob("*.mid"))]
    rng = random.Random(0)
    notes = sorted(
        {Note(k * 20_000 // 16_500, rng.choice([1, 2, 4]), rng.randrange(30, 100)) for k in range(16_500)}
    )
    long = tmp / "long-1250-bars.mid"
    write_midi(Score([Track(f"t{i}", 0, False, notes) for i in range(4)], length=20_000), long)
    seeds.append(long.read_bytes())
    return seeds, long


def _flood(message: bytes, n_bytes: int) -> bytes:
    first = b"\x00\xd0\x10" if len(message) == 2 else b"\x00\x90\x3c\x40"
    body = first + message * ((n_bytes - 40) // len(message)) + b"\x00\xff\x2f\x00"
    return b"MThd" + bytes([0, 0, 0, 6, 0, 0, 0, 1, 0, 96]) + b"MTrk" + len(body).to_bytes(4, "big") + body


def _mutants(tmp: Path, seeds: list[bytes], n: int, seed: int) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    for i in range(n):
        _, data = mutate(rng.choice(seeds), rng)
        paths.append(tmp / f"m{i:05d}.mid")
        paths[-1].write_bytes(data[: 8 * 2**20])
    for i, message in enumerate(
        [b"\x00\x10", b"\x00\x3c\x40", b"\x00\x3c\x40\x00\x3c\x00", b"\x01\x3c\x40"] * 2
    ):
        paths.append(tmp / f"flood{i}.mid")
        paths[-1].write_bytes(_flood(message, 8 * 2**20 - 64 - i))
    return paths


def _in_process(paths: list[Path], workers: int = 2) -> dict:
    """Part 1: read every path in `workers` worker processes, side by side."""
    outcomes, slow, peak, longest, tracebacks, longest_cpu = Counter(), [], 0, 0.0, Counter(), 0.0
    chunks = [paths[i::workers] for i in range(workers)]
    sel = selectors.DefaultSelector()
    procs = []
    for chunk in chunks:
        proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        threading.Thread(target=_feed, args=(proc, chunk), daemon=True).start()
        sel.register(proc.stdout, selectors.EVENT_READ, proc)
        procs.append(proc)
    open_streams, buffers = len(procs), {p.stdout: b"" for p in procs}
    while open_streams:
        ready = sel.select(timeout=60)
        if not ready:  # a worker hung for a minute: stop, and count what was not reported
            for proc in procs:
                proc.kill()
            break
        for key, _ in ready:
            data = os.read(key.fileobj.fileno(), 1 << 16)
            if not data:
                sel.unregister(key.fileobj)
                open_streams -= 1
                continue
            buffers[key.fileobj] += data
            *lines, buffers[key.fileobj] = buffers[key.fileobj].split(b"\n")
            for line in lines:
                path, outcome, seconds, rss, cpu = json.loads(line)
                longest_cpu = max(longest_cpu, cpu)
                kind = outcome.split(":")[0]
                outcomes[kind] += 1
                if kind == "traceback":
                    tracebacks[outcome] += 1
                if seconds > LIMIT_S:
                    slow.append((path, seconds))
                peak, longest = max(peak, rss), max(longest, seconds)
    for proc in procs:
        proc.wait()
    outcomes["lost (worker died or hung)"] = len(paths) - sum(outcomes.values())
    return {
        "outcomes": outcomes,
        "over_10s": slow,
        "peak_rss": peak,
        "longest_cpu_s": longest_cpu,
        "longest_s": longest,
        "tracebacks": tracebacks,
    }


def _feed(proc: subprocess.Popen, chunk: list[Path]) -> None:
    try:
        proc.stdin.write("".join(f"{p}\n" for p in chunk).encode())
        proc.stdin.close()
    except BrokenPipeError:
        pass


def _cli(args: list[str]) -> tuple[int, str, float, float, int]:
    """One `composer ...` process under GNU time: exit code, stderr, wall s, CPU s, peak RSS in bytes."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%U %S %M", *COMPOSER, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    wall = time.perf_counter() - t0
    *lines, last = proc.stderr.splitlines() or ["0 0 0"]
    lines = [
        line for line in lines if not line.startswith("Command exited with non-zero status")
    ]  # GNU time's
    user, system, rss_kb = last.split()
    return proc.returncode, "\n".join(lines), wall, float(user) + float(system), int(rss_kb) * 1024


def _cli_runs(paths: list[Path], tmp: Path) -> dict:
    """Part 2: `composer render` per mutant."""
    out = {"codes": Counter(), "lines": Counter(), "tracebacks": 0, "over": 0, "cpu": 0.0, "peak": 0}
    for path in paths:
        code, err, wall, cpu, rss = _cli(["render", str(path), "--png", str(tmp / "out.png")])
        out["codes"][code] += 1
        out["lines"][len(err.splitlines())] += 1
        out["tracebacks"] += "Traceback" in err
        out["over"] += wall > LIMIT_S
        out["cpu"], out["peak"] = max(out["cpu"], cpu), max(out["peak"], rss)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=5000)
    parser.add_argument("--cli", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--parts", default="1,2,3", help="Which parts to run, e.g. 3.")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["COMPOSER_CACHE_DIR"] = str(tmp / "cache")
        seeds, long = _seeds(tmp)
        paths = _mutants(tmp, seeds, args.mutants, args.seed)
        if "1" in parts:
            t0 = time.perf_counter()
            p1 = _in_process(paths)
            print(
                f"## Part 1: {len(paths)} inputs through read_midi, 2 worker processes, {time.perf_counter() - t0:.1f} s"
            )
            print(f"- outcomes: {dict(p1['outcomes'])}")
            print(f"- tracebacks (not MidiError): {sum(p1['tracebacks'].values())} {dict(p1['tracebacks'])}")
            print(
                f"- runs over {LIMIT_S:.0f} s: {len(p1['over_10s'])}; longest {p1['longest_s']:.2f} s wall, "
                f"{p1['longest_cpu_s']:.2f} s CPU"
            )
            print(f"- peak RSS of a worker: {p1['peak_rss'] / 2**20:.0f} MiB")
        if "2" in parts:
            p2 = _cli_runs(paths[: args.cli], tmp)
            print(f"## Part 2: `composer render` on {args.cli} mutants, one process each")
            print(f"- exit codes: {dict(p2['codes'])}; stderr lines: {dict(p2['lines'])}")
            print(f"- tracebacks: {p2['tracebacks']}; runs over {LIMIT_S:.0f} s wall: {p2['over']}")
            print(
                f"- longest CPU time of a run: {p2['cpu']:.2f} s; peak RSS of a run: {p2['peak'] / 2**20:.0f} MiB"
            )
        if "3" in parts:
            print("## Part 3: bounded cost, one `composer render` process each")
            print("| input | exit | wall (s) | CPU (s) | peak RSS (MiB) |")
            print("|---|---:|---:|---:|---:|")
            cases = [
                ("1,250 bars, 66,000 notes", long),
                ("43 bytes claiming 29,990 bars", REPO / "tests" / "data" / "many-bars.mid"),
                ("8 MiB of 2-byte running-status messages", tmp / "flood0.mid"),
                ("8 MiB of 3-byte running-status notes", tmp / "flood2.mid"),
            ]
            for what, path in cases:
                code, _, wall, cpu, rss = _cli(["render", str(path), "--png", str(tmp / "out.png")])
                print(f"| {what} | {code} | {wall:.2f} | {cpu:.2f} | {rss / 2**20:.0f} |")


if __name__ == "__main__":
    main()
