"""Timing error of `composer play` over a long stream on a JACK dummy server (48 kHz, -p 32).

Writes a 4-track MIDI file at 120 bpm (16ths, 8ths, quarters, half notes), plays it with
`composer play --api jack --port <receiver>` in a subprocess, timestamps every message on arrival
in this process, and reports the error against the file's times after removing the constant
latency (the median): p50, p99, max, the error's trend over time (drift) and any lost messages.

    python benchmarks/bench_live_timing.py --minutes 5
    python benchmarks/bench_live_timing.py --minutes 1 --jack-flags="--no-realtime -S"
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import mido
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "live"))
from conftest import Receiver, _server_mode, _wait_ready  # noqa: E402


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--bpm", type=float, default=120.0)
    ap.add_argument("--jack-flags", default=None, help="jackd flags before -n (default: as the tests)")
    args = ap.parse_args()
    flags = shlex.split(args.jack_flags) if args.jack_flags else _server_mode()
    name = f"composer-bench-{uuid.uuid4().hex[:6]}"
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1")
    cmd = ["jackd", *flags, "-n", name, "-d", "dummy", "-r", "48000", "-p", "32"]
    server = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_ready(server)
        rx = Receiver()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "stream.mid"
            mid = write_stream(path, args.minutes, args.bpm)
            want, t = [], 0.0
            for msg in mid:
                t += msg.time
                if not msg.is_meta:
                    want.append((t, tuple(msg.bytes())))
            play = ["composer", "play", str(path), "--api", "jack", "--port", rx.name]
            sent_path = Path(tmp) / "sent.json"
            t0 = time.time()  # the same code path as `composer play`, plus the player's own send times
            subprocess.run(
                [sys.executable, __file__, "--player", str(path), rx.name, str(sent_path)], check=True
            )
            wall = time.time() - t0
            sent = json.loads(sent_path.read_text())
        time.sleep(0.3)
        got = rx.messages()
        rx.close()
    finally:
        server.terminate()
        server.wait()
    report(want, got, sent, args, flags, play, wall)


def align(want, got) -> tuple[list[int], list[int]]:
    """Indices of the wanted and received messages that pair up, matched as sequences.

    Pairing by position alone would turn one lost message into an error for every later one.
    """
    a = [m for _, m in want]
    b = [tuple(m) for _, m in got]
    wi, gi = [], []
    for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        wi += range(block.a, block.a + block.size)
        gi += range(block.b, block.b + block.size)
    return wi, gi


def report(want, got, sent, args, flags, play, wall) -> None:
    wi, gi = align(want, got)
    lost = len(want) - len(wi)
    err = np.array([got[g][0] - want[w][0] for w, g in zip(wi, gi)])
    err = err - np.median(err)  # arrival clock and file clock differ by a constant latency
    times = np.array([want[w][0] for w in wi])
    slope = np.polyfit(times, err, 1)[0]  # seconds of error per second of music
    minute = times < 60
    last = times > times[-1] - 60
    out = {
        "messages": len(want),
        "received": len(got),
        "lost_or_out_of_order": lost,
        "timed": len(wi),
        "p50_ms": round(float(np.percentile(np.abs(err), 50)) * 1e3, 3),
        "p99_ms": round(float(np.percentile(np.abs(err), 99)) * 1e3, 3),
        "max_ms": round(float(np.abs(err).max()) * 1e3, 3),
        "worst_ms_at_s": [
            (round(abs(err[i]) * 1e3, 2), round(float(times[i]), 2)) for i in np.argsort(-np.abs(err))[:5]
        ],
        "drift_ms_per_min": round(float(slope) * 60e3, 4),
        "mean_error_first_min_ms": round(float(err[minute].mean()) * 1e3, 3),
        "mean_error_last_min_ms": round(float(err[last].mean()) * 1e3, 3),
        "music_s": round(float(times[-1]), 1),
        "wall_s": round(wall, 1),
        "jackd": " ".join(flags) + " -d dummy -r 48000 -p 32",
        "command": " ".join(play[:2])
        + f" <{args.minutes}-min {args.bpm:g}-bpm file> --api jack --port <receiver>",
    }
    send = np.abs(np.array(sent)) * 1e3
    out["sender_p50_p99_max_ms"] = [round(float(np.percentile(send, q)), 3) for q in (50, 99, 100)]
    print(json.dumps(out, indent=1))


def run_player(path: str, port: str, out: str) -> None:
    """`composer play PATH --api jack --port PORT`, recording each message's send time minus its target."""
    from composer.live.events import Timeline, from_midifile
    from composer.live.session import PortOptions, play_events, read_midifile

    piece = from_midifile(read_midifile(path))
    options = PortOptions(api="jack", port=port)
    stats = play_events(piece.events, Timeline(piece.tempos), options, end=piece.length, record=True)
    Path(out).write_text(json.dumps(stats.errors()))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--player"]:
        run_player(*sys.argv[2:5])
    else:
        main()
