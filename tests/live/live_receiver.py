"""A real JACK MIDI listener for the live tests: a JACK-Client input, in its own process, that stamps each
message with its frame.

The stamp is the cycle's first frame (``last_frame_time``) plus the event's offset in the cycle: the
frame the sender wrote it at. So timing is measured sample-accurately, independent of when anything
got to run, and a cycle the server skipped does not shift later stamps (jack_midi_dump -a counts its
own cycles, which drifts then). It runs in a child process whose threads are all realtime where the
OS allows, as a DAW's are: a listener that waits for the GIL held by pytest would be late, and an
asynchronous JACK server drops what a late client should have read.

    python live_receiver.py CLIENT_NAME      # prints "ready PORT", then "FRAME HEX HEX..." lines
"""

import os
import subprocess
import sys
import threading
import time
import uuid

RATE = 48000  # the test servers' sample rate (conftest.py)


class Receiver:
    """A JACK MIDI input ``<client>:in`` that records (seconds, message) for every message it reads.

    Seconds are frames / RATE.
    """

    def __init__(self, name=None):
        self.lock = threading.Lock()
        self.got = []
        cmd = [sys.executable, __file__, name or f"rx-{uuid.uuid4().hex[:6]}"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().split()
        if first[:1] != ["ready"]:
            self.close()
            raise RuntimeError(f"the JACK receiver did not start: {first}")
        self.name = first[1]  # what --port takes
        self.client = _Connector()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            frame, *data = line.split()
            with self.lock:
                self.got.append((int(frame) / RATE, tuple(int(b, 16) for b in data)))

    def messages(self):
        with self.lock:
            return list(self.got)

    def wait_for(self, predicate, timeout=10.0):
        """Poll until ``predicate(messages)`` holds; True, or False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.messages()):
                return True
            time.sleep(0.01)
        return predicate(self.messages())

    def close(self):
        stop_child(self.proc)


class _Connector:
    """``connect(a, b)`` between two JACK ports, through a short-lived client."""

    def connect(self, source, destination):
        import jack

        client = jack.Client("rx-connect", no_start_server=True)
        try:
            client.connect(source, destination)
        finally:
            client.close()


def open_notes(msgs):
    """(channel, pitch) -> count of note-ons in ``msgs`` that no note-off (or velocity-0 on) ended."""
    open_ = {}
    for m in msgs:
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            open_[m[0] & 15, m[1]] = open_.get((m[0] & 15, m[1]), 0) + 1
        elif m[0] & 0xF0 in (0x80, 0x90) and open_.get((m[0] & 15, m[1])):
            open_[m[0] & 15, m[1]] -= 1
    return {k: v for k, v in open_.items() if v}


def stop_child(proc):
    """End a child that serves a line protocol on its stdin: close the stdin (it exits when it sees
    the end), and kill it if it has not exited 5 s later."""
    if proc.poll() is None:
        proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def set_realtime(priority):
    """This thread at SCHED_FIFO ``priority`` where the OS allows it; unchanged elsewhere."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (AttributeError, OSError):
        pass


def main(name):
    import jack

    got, lock = [], threading.Lock()
    client = jack.Client(name, no_start_server=True)
    port = client.midi_inports.register("in")
    first = [True]

    def process(frames):
        if first[0]:
            first[0] = False
            set_realtime(60)
        f0 = client.last_frame_time
        events = [(f0 + offset, bytes(data).hex(" ")) for offset, data in port.incoming_midi_events()]
        if events:
            with lock:
                got.extend(events)

    client.set_process_callback(process)
    client.activate()
    set_realtime(20)
    print("ready", port.name, flush=True)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    while True:
        stopping = stop.wait(0.005)
        with lock:
            batch, got[:] = list(got), []
        if batch:
            sys.stdout.write("".join(f"{frame} {data}\n" for frame, data in batch))
            sys.stdout.flush()
        if stopping:
            break
    client.deactivate()
    client.close()


if __name__ == "__main__":
    main(sys.argv[1])
