"""Delivery, stuck notes and timing of `composer play` / `composer live` on a default JACK server, under load.

Starts JACK's default asynchronous server (`jackd --no-realtime -d dummy -r 48000 -p 32`, no -S)
and ``--load`` CPU-bound processes beside it, then runs, against the frame-stamping receiver of the
tests (tests/live/live_receiver.py):

- ``play``: `composer play` of a 4-track 120-bpm file (16ths, 8ths, quarters, halves), ``--runs`` times;
  messages lost (paired as sequences), notes left open, timing error at the receiver (arrival frame
  minus due time, less the constant latency): p50, p99, max;
- ``live``: `composer live --model M --bars B --bpm 120`, ``--runs`` times per model; messages the
  command reported against messages received, notes left open, exit status, headroom;
- ``signals``: `composer play --loop`, stopped by SIGINT, SIGTERM, SIGHUP and SIGQUIT in turn 0.5-3 s
  after the first notes arrive, ``--runs`` times in all; exit status, notes left open, the closing controllers.

    python benchmarks/bench_live_timing.py play --minutes 5 --runs 10
    python benchmarks/bench_live_timing.py live --bars 150 --runs 10
    python benchmarks/bench_live_timing.py signals --runs 20
    python benchmarks/bench_live_timing.py play --server async-rt   # jackd -R, its realtime default
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import mido
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "live"))
from live_receiver import Receiver, open_notes  # noqa: E402

SERVERS = {  # --server: jackd flags
    "async": ["--no-realtime"],  # asynchronous, as the default server
    "async-rt": ["-R"],  # asynchronous and realtime: jackd's own default
    "sync": ["-S", "--no-realtime"],
}
PANIC = (64, 120, 123)


def write_stream(path: Path, minutes: float, bpm: float) -> mido.MidiFile:
    mid = mido.MidiFile(ticks_per_beat=480)
    beats = int(minutes * bpm)
    for t, step in enumerate((120, 240, 480, 960)):
        tr = mido.MidiTrack()
        if t == 0:
            tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
        tr.append(mido.Message("program_change", channel=t, program=t * 8))
        now = 0
        for k in range(beats * 480 // step):
            pitch = 36 + 12 * t + (k * 7) % 12
            tr.append(mido.Message("note_on", channel=t, note=pitch, velocity=80, time=k * step - now))
            tr.append(mido.Message("note_off", channel=t, note=pitch, time=step * 3 // 4))
            now = k * step + step * 3 // 4
        mid.tracks.append(tr)
    mid.save(path)
    return mid


def expected(mid: mido.MidiFile) -> list[tuple[float, tuple[int, ...]]]:
    out, t = [], 0.0
    for msg in mid:
        t += msg.time
        if not msg.is_meta:  # composer sends note-offs with release velocity 0 (read_midi drops it)
            out.append((t, (*msg.bytes()[:2], 0) if msg.type == "note_off" else tuple(msg.bytes())))
    return out


def align(want, got, window: float = 0.05) -> tuple[list[int], list[int]]:
    """Indices of wanted and received messages that pair up: the same bytes, due within ``window``
    seconds of the arrival time less the latency (the median over the first 20). Pairing by
    position, or as sequences, would turn one loss in this repetitive stream into many errors."""
    lat = float(np.median([g[0] - w[0] for w, g in zip(want[:20], got[:20])]))
    free: dict[tuple[int, ...], list[int]] = {}
    for i, (_, m) in enumerate(want):
        free.setdefault(m, []).append(i)
    wi, gi = [], []
    for j, (t, m) in enumerate(got):
        cands = free.get(m, [])
        best = min(cands, key=lambda i: abs(want[i][0] + lat - t), default=None)
        if best is not None and abs(want[best][0] + lat - t) <= window:
            cands.remove(best)
            wi.append(best)
            gi.append(j)
    return wi, gi


def without_panic(got):
    return [(t, m) for t, m in got if not (m[0] & 0xF0 == 0xB0 and m[1] in PANIC)]


def play_run(path: Path, want) -> dict:
    rx = Receiver()
    try:
        cmd = ["composer", "play", str(path), "--api", "jack", "--port", rx.name]
        r = subprocess.run(cmd, capture_output=True, text=True)
        rx.wait_for(lambda m: len(m) >= len(want), timeout=5)
        time.sleep(0.2)
        got = rx.messages()
    finally:
        rx.close()
    notes = without_panic(got)
    wi, gi = align(want, notes)
    err = np.array([notes[g][0] - want[w][0] for w, g in zip(wi, gi)])
    err = np.abs(err - np.median(err)) * 1e3
    return {
        "exit": r.returncode,
        "stderr": r.stderr.strip()[-200:],
        "messages": len(want),
        "lost": len(want) - len(wi),
        "extra": len(notes) - len(gi),
        "open_notes": sum(open_notes([m for _, m in got]).values()),
        "p50_ms": round(float(np.percentile(err, 50)), 3),
        "p99_ms": round(float(np.percentile(err, 99)), 3),
        "max_ms": round(float(err.max()), 3),
    }


def live_run(model: str, bars: int, seed: int) -> dict:
    rx = Receiver()
    try:
        cmd = ["composer", "live", "--model", model, "--bars", str(bars), "--bpm", "120", "--seed", str(seed)]
        r = subprocess.run([*cmd, "--api", "jack", "--port", rx.name], capture_output=True, text=True)
        line = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        sent = int(line.split("(")[1].split()[0]) if r.returncode == 0 else None
        rx.wait_for(lambda m: sent is not None and len(m) >= sent, timeout=5)
        time.sleep(0.2)
        got = rx.messages()
    finally:
        rx.close()
    msgs = [m for _, m in got]
    channels = {m[0] & 15 for m in msgs if m[0] < 0xF0}
    headroom = line.split("generation ")[1].split("x")[0] if "x faster" in line else None
    return {
        "model": model,
        "exit": r.returncode,
        "reported": sent,
        "received": len(msgs),
        "lost": None if sent is None else sent + 3 * len(channels) - len(msgs),
        "open_notes": sum(open_notes(msgs).values()),
        "headroom_x": headroom,
        "stderr": line[-200:],
    }


def signal_run(path: Path, sig: signal.Signals) -> dict:
    rx = Receiver()
    try:
        cmd = ["composer", "play", str(path), "--api", "jack", "--port", rx.name, "--loop"]
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        rx.wait_for(lambda m: len(m) > 10, timeout=60)  # mid-play: startup under load can take seconds
        time.sleep(random.uniform(0.5, 3))
        proc.send_signal(sig)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "hung"
        rx.wait_for(lambda m: m and m[-1][1][1:] == (123, 0), timeout=5)
        time.sleep(0.2)
        msgs = [m for _, m in rx.messages()]
    finally:
        rx.close()
    return {
        "signal": sig.name,
        "exit": code,
        "open_notes": sum(open_notes(msgs).values()),
        "closing_cc123": sum(m[0] & 0xF0 == 0xB0 and m[1] == 123 for m in msgs),
        "stderr": proc.stderr.read().strip()[-200:],
    }


def late_clients(log: Path, start: int) -> dict[str, int]:
    """Clients jackd reported late ("XRun: client = NAME was not finished") in ``log`` from byte
    ``start`` on, by name (the receiver's random name as "receiver"): who missed a cycle."""
    counts: dict[str, int] = {}
    with open(log, "rb") as f:
        f.seek(start)
        for line in f.read().decode(errors="replace").splitlines():
            if "was not finished" in line:
                name = line.split("client = ")[1].split(" was")[0]
                name = "receiver" if name.startswith("rx-") else name
                counts[name] = counts.get(name, 0) + 1
    return counts


def start_server(flags: list[str], log: Path) -> subprocess.Popen:
    name = f"composer-bench-{uuid.uuid4().hex[:6]}"
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1")
    cmd = ["jackd", *flags, "-n", name, "-d", "dummy", "-r", "48000", "-p", "32"]
    server = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 15
    while subprocess.run(["jack_lsp"], capture_output=True).returncode != 0:
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("jackd did not start")
        time.sleep(0.1)
    return server


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["play", "live", "signals"])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--minutes", type=float, default=5.0, help="play: length of the file")
    ap.add_argument("--bars", type=int, default=150, help="live: bars per run (150 = 5 min at 120 bpm)")
    ap.add_argument("--models", default="lstm,musegan")
    ap.add_argument("--load", type=int, default=2, help="CPU-bound processes beside the server")
    ap.add_argument("--server", choices=SERVERS, default="async", help="jackd mode (see SERVERS)")
    args = ap.parse_args()
    spin = "import time\nend = time.monotonic() + 7200\nwhile time.monotonic() < end: pass"
    load = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(args.load)]
    tmp = tempfile.TemporaryDirectory()
    log = Path(tmp.name) / "jackd.log"
    server = start_server(SERVERS[args.server], log)
    results = []
    try:
        path = Path(tmp.name) / "stream.mid"
        mid = write_stream(path, args.minutes if args.mode == "play" else 0.5, 120.0)
        want = expected(mid)
        sigs = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]
        for k in range(args.runs):
            start = log.stat().st_size
            if args.mode == "play":
                res = play_run(path, want)
            elif args.mode == "live":
                models = args.models.split(",")
                res = live_run(models[k % len(models)], args.bars, seed=k)
            else:
                res = signal_run(path, sigs[k % 4])
            res["late_cycles"] = late_clients(log, start)
            res["loadavg"] = round(os.getloadavg()[0], 1)
            print(json.dumps(res), flush=True)
            results.append(res)
    finally:
        server.terminate()
        server.wait()
        for p in load:
            p.kill()
        tmp.cleanup()
    summary = {
        "mode": args.mode,
        "server": " ".join(SERVERS[args.server]),
        "runs": len(results),
        "load_processes": args.load,
        "loadavg_at_end": os.getloadavg()[0],
        "runs_with_loss": sum(bool(r.get("lost")) for r in results),
        "messages_lost": sum(r.get("lost") or 0 for r in results),
        "runs_with_open_notes": sum(r["open_notes"] > 0 for r in results),
        "nonzero_exit": sum(
            r["exit"] not in (0, 128 + signal.Signals[r.get("signal", "SIGINT")]) for r in results
        )
        if args.mode == "signals"
        else sum(r["exit"] != 0 for r in results),
    }
    if args.mode == "play":
        summary["p99_ms_worst"] = max(r["p99_ms"] for r in results)
        summary["max_ms_worst"] = max(r["max_ms"] for r in results)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
