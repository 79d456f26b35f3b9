"""A MIDI clock source for the ``--sync`` tests: a JACK output in its own process that sends each
pulse at its exact frame.

In pytest's process a JACK client's process callback waits for the GIL whenever a test thread holds
it, and an asynchronous server drops the MIDI of a client that is late: the clock would lose pulses
or a Start through no fault of composer's. So, like live_receiver.py, the JACK client lives in a
child process whose threads are realtime where the OS allows, and the test drives it over a pipe.
The child paces the pulses itself (each handed to the port 30 ms before its frame at most), so a
test thread that runs late delays the next pulse but never moves one already queued.

    python -m tests.live.clock_sender BPM   # prints "ready PORT", then answers each command line
    send HEX...   -> "send FRAME"      once the message is queued where the next pulse would go
    pulse N       -> "pulse FRAME"     once N more pulses are queued (paced); FRAME is the last one's
    connections   -> "connections N"   ports connected to the clock port
    cycles N      -> "cycles 1|0"      whether the server ran N more process cycles within 2 s
"""

import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.live.live_receiver import set_realtime, stop_child

AHEAD = 0.03  # seconds: a pulse is handed to the port no earlier than this before its frame
ROOT = Path(__file__).resolve().parents[2]  # the child imports composer and tests from here


class ClockSender:
    """The parent's side: ``send(msg)``, ``pulse(n)`` and ``pulse_until(done)`` return once the
    child has queued the messages with their frames."""

    def __init__(self, bpm):
        cmd = [sys.executable, "-m", "tests.live.clock_sender", str(bpm)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().split()
        if first[:1] != ["ready"]:
            self.close()
            raise RuntimeError(f"the JACK clock sender did not start: {first}")
        self.name = first[1]  # what --sync takes

    def _ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().split()
        if not reply:
            raise RuntimeError(f"the JACK clock sender exited on {line!r} (status {self.proc.poll()})")
        return int(reply[1])

    def send(self, msg):
        """``msg`` where the next pulse would go (20 ms from now after a pause)."""
        return self._ask("send " + bytes(msg).hex(" "))

    def pulse(self, n=1):
        """``n`` pulses on from the last, each queued no more than AHEAD before its frame."""
        return self._ask(f"pulse {n}")

    def pulse_until(self, done, limit=24 * 16):
        for _ in range(limit):
            if done():
                return True
            self.pulse()
        return done()

    def connections(self):
        return self._ask("connections")

    def wait_cycles(self, n):
        return bool(self._ask(f"cycles {n}"))

    def close(self):
        stop_child(self.proc)


def main(bpm):
    from composer.live.jackmidi import JackOutput  # its process callback makes itself FIFO 60

    out = JackOutput(f"clk-{uuid.uuid4().hex[:6]}", None)
    step, next_ = 60.0 / bpm / 24, None
    set_realtime(20)  # the pacing thread: wakes on time beside the CPU-bound load
    print("ready", out.name, flush=True)
    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "send":
            if next_ is None or next_ < out.clock() + 0.01:
                next_ = out.clock() + 0.02
            out.send_at(bytes.fromhex("".join(args)), next_)
            reply = out.frame_at(next_)
        elif cmd == "pulse":
            for _ in range(int(args[0])):
                if next_ is None or next_ < out.clock() + 0.001:  # the test paused: carry on from now
                    next_ = out.clock() + 0.005
                while out.clock() < next_ - AHEAD:
                    time.sleep(0.002)
                out.send_at((0xF8,), next_)
                reply = out.frame_at(next_)
                next_ += step
        elif cmd == "connections":
            reply = out.connections()
        elif cmd == "cycles":
            reply = int(out.wait_cycles(int(args[0])))
        print(cmd, reply, flush=True)
    out.close()


if __name__ == "__main__":
    main(float(sys.argv[1]))
