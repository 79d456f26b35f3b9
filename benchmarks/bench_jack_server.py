"""Does a JACK server itself lose MIDI between two clients under CPU load? A baseline without composer.

JACK's own example clients (jackd2's ``jack_midiseq`` sending a note-on and a note-off every 2,400
frames, ``jack_midi_dump -r`` listening) on a dummy-driver server with ``--load`` CPU-bound processes
beside it. Every received message should come exactly 2,400 frames after the previous one and
alternate on/off; a message lost between the clients shows as the same type twice in a row, a
late or skipped cycle as a gap that is not 2,400. Nothing here is composer's code, so what this
measures is the server's own delivery.

    python benchmarks/bench_jack_server.py --seconds 60 --load 2

Configurations, one server each: ``async`` (`jackd --no-realtime`, JACK's default asynchronous mode),
``async-rt-clients`` (the same server, both clients SCHED_FIFO via chrt), ``async-rt-server`` (`jackd -R`,
JACK's realtime default, clients realtime through it) and ``sync`` (`jackd -S --no-realtime`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid

PERIOD = 2400  # frames between messages: 50 ms at 48 kHz
CONFIGS = {
    "async": (["--no-realtime"], []),
    "async-rt-clients": (["--no-realtime"], ["chrt", "-f", "70"]),
    "async-rt-server": (["-R"], []),
    "sync": (["-S", "--no-realtime"], []),
}
LINE = re.compile(r"\s*\+(\d+):\s+([0-9a-f]{2})")


def run(config: str, seconds: float, load: int) -> dict:
    server_flags, prefix = CONFIGS[config]
    env = {**os.environ, "JACK_DEFAULT_SERVER": f"bench-{uuid.uuid4().hex[:8]}"}
    procs = []
    log = tempfile.TemporaryFile()

    def start(cmd, **kw):
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, **kw)
        procs.append(p)
        return p

    try:
        start(
            ["jackd", *server_flags, "-d", "dummy", "-r", "48000", "-p", "32"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(["jack_wait", "-w", "-t", "10"], env=env, check=True, capture_output=True)
        for _ in range(load):
            start(["python3", "-c", "while True: pass"])
        start(
            [*prefix, "jack_midiseq", "seq", str(2 * PERIOD), "0", "60", str(PERIOD)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # to a file, not a pipe: a pipe nobody reads fills, and jack_midi_dump then drops events itself
        dump = start([*prefix, "jack_midi_dump", "-r", "dump"], stdout=log)
        time.sleep(1.0)
        subprocess.run(["jack_connect", "seq:out", "dump:input"], env=env, check=True)
        t0 = os.getloadavg()[0]
        time.sleep(seconds)
        subprocess.run(["jack_disconnect", "seq:out", "dump:input"], env=env)
        load_end = os.getloadavg()[0]
        dump.terminate()
        dump.wait(timeout=10)
        log.seek(0)
        out = log.read().decode(errors="replace")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
    rows = [(int(m.group(1)), m.group(2)) for m in map(LINE.match, out.splitlines()) if m]
    pairs = list(zip(rows, rows[1:]))
    return {
        "config": config,
        "server": " ".join(["jackd", *server_flags, "-d dummy -r 48000 -p 32"]),
        "clients": " ".join(prefix) or "default",
        "seconds": seconds,
        "load_processes": load,
        "loadavg": [round(t0, 2), round(load_end, 2)],
        "received": len(rows),
        "expected_at_real_time": int(seconds * 48000 / PERIOD),
        "lost_between_clients": sum(a[1] == b[1] for a, b in pairs),
        "gaps_not_2400": sum(b[0] != PERIOD for a, b in pairs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--load", type=int, default=2, help="CPU-bound processes beside the server")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    args = ap.parse_args()
    for tool in ("jackd", "jack_midiseq", "jack_midi_dump", "jack_connect", "jack_wait"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y --no-install-recommends jackd2")
    for config in args.configs.split(","):
        print(json.dumps(run(config, args.seconds, args.load)), flush=True)


if __name__ == "__main__":
    main()
