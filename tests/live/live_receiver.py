"""A real JACK MIDI listener for the live tests: a JACK-Client input that stamps each message with its frame.

The stamp is the cycle's first frame (``last_frame_time``) plus the event's offset in the cycle:
the frame the sender wrote it at. So timing is measured sample-accurately, independent of when
this process got to run, and a cycle the server skipped under load does not shift later stamps
(jack_midi_dump -a counts its own cycles instead, which drifts when cycles are skipped).
"""

import threading
import time
import uuid

import jack

from composer.live.jackmidi import _realtime_thread

RATE = 48000  # the test server's sample rate (conftest.py)


class Receiver:
    """A JACK MIDI input named ``<client>:in`` that records (seconds, message) for every message.

    Seconds are frames / the server's rate.
    """

    def __init__(self, name=None):
        self.lock = threading.Lock()
        self.got = []
        self.started = False
        self.client = self.jack = jack.Client(name or f"rx-{uuid.uuid4().hex[:6]}", no_start_server=True)
        self.port = self.jack.midi_inports.register("in")
        self.name = self.port.name  # what --port takes
        self.rate = self.jack.samplerate
        self.jack.set_process_callback(self._process)
        self.jack.activate()

    def _process(self, frames):
        if not self.started:  # a listener thread as a DAW runs it: realtime where the OS allows
            self.started = _realtime_thread()
        f0 = self.client.last_frame_time
        events = [
            ((f0 + offset) / self.rate, tuple(bytes(data)))
            for offset, data in self.port.incoming_midi_events()
        ]
        if events:
            with self.lock:
                self.got.extend(events)

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
        if self.jack is not None:
            client, self.jack = self.jack, None
            client.deactivate()
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
