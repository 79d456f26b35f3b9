"""Following an incoming MIDI beat clock: a Timeline whose tempo and position come from the clock.

MIDI clock sends 24 pulses per quarter note. After Start (0xFA) the first pulse is beat 0; Stop
(0xFC) pauses; Continue (0xFB) resumes where it stopped. Each Start counts in ``starts``, so a player
can tell that a Start after Stop means "from the top". Messages arrive on a backend thread, so
state changes happen under a lock; times are whatever clock stamped the messages: JACK's frames
(jackmidi.JackInput, the clock JackOutput plays on) or rtmidi's perf_counter.
"""

from __future__ import annotations

import threading
from collections import deque

CLOCK, START, CONTINUE, STOP = 0xF8, 0xFA, 0xFB, 0xFC
PPQ = 24


class ClockFollower:
    """A Timeline driven by an external clock: ``at(beat)`` extrapolates from the latest pulse.

    Parameters
    ----------
    window : int
        Pulses averaged for the tempo estimate (24 = one beat): short enough to follow a tempo
        change within a beat, long enough to smooth the jitter of single pulses.
    """

    def __init__(self, window: int = PPQ):
        self.lock = threading.Lock()
        self.pulses: deque[float] = deque(maxlen=window + 1)
        self.running = False
        self.count = 0  # pulses since Start; pulse k is beat k / 24
        self.fresh = False  # a pulse arrived since the last Start/Continue, so its time can be trusted
        self.starts = 0  # Start messages received

    def on_message(self, msg: list[int] | tuple[int, ...], t: float) -> None:
        """Feed one incoming message with its arrival time (rtmidi's callback thread)."""
        status = msg[0] if msg else 0
        with self.lock:
            if status == START:
                self.running, self.count, self.fresh = True, 0, False
                self.starts += 1
                self.pulses.clear()
            elif status == CONTINUE:
                self.running, self.fresh = True, False
                self.pulses.clear()  # the gap while stopped is not a tempo
            elif status == STOP:
                self.running = False
            elif status == CLOCK and self.running:
                self.pulses.append(t)
                self.count += 1
                self.fresh = True

    @property
    def seconds_per_beat(self) -> float | None:
        """The tempo estimate from the pulses in the window; None before two pulses."""
        with self.lock:
            return self._spb()

    def _spb(self) -> float | None:
        if len(self.pulses) < 2:
            return None
        return (self.pulses[-1] - self.pulses[0]) / (len(self.pulses) - 1) * PPQ

    @property
    def bpm(self) -> float | None:
        spb = self.seconds_per_beat
        return None if spb is None else 60.0 / spb

    def at(self, beat: float) -> float | None:
        """Clock time of ``beat``, or None while stopped, before the first pulse, or too far ahead to
        extrapolate without a tempo estimate."""
        with self.lock:
            if not (self.running and self.fresh):
                return None
            last_beat = (self.count - 1) / PPQ
            last_time = self.pulses[-1]
            if beat <= last_beat:
                return last_time - (last_beat - beat) * (self._spb() or 0.0)
            spb = self._spb()
            if spb is None:
                return None
            return last_time + (beat - last_beat) * spb

    def begin(self, now: float) -> None:
        """Nothing to do: the external clock decides when beat 0 is."""
