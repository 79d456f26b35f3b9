"""A real JACK MIDI client for the live tests: a virtual input that timestamps what it receives."""

import threading
import time
import uuid

from composer.live.ports import open_input


class Receiver:
    """A JACK MIDI input (virtual port) that records (perf_counter time, message) for every message."""

    def __init__(self, name=None):
        self.client = name or f"rx-{uuid.uuid4().hex[:6]}"
        self.lock = threading.Lock()
        self.got = []
        self.port = open_input(self._on, api="jack", virtual=self.client)
        self.name = self.port.name  # "<client>:in", what --port takes

    def _on(self, msg, t):
        with self.lock:
            self.got.append((t, tuple(msg)))

    def messages(self):
        with self.lock:
            return list(self.got)

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.messages()):
                return True
            time.sleep(0.01)
        return False

    def close(self):
        self.port.close()


def open_notes(msgs):
    """(channel, pitch) -> count of note-ons in ``msgs`` that no note-off (or velocity-0 on) ended."""
    open_ = {}
    for m in msgs:
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            open_[m[0] & 15, m[1]] = open_.get((m[0] & 15, m[1]), 0) + 1
        elif m[0] & 0xF0 in (0x80, 0x90) and open_.get((m[0] & 15, m[1])):
            open_[m[0] & 15, m[1]] -= 1
    return {k: v for k, v in open_.items() if v}
