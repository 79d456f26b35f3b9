"""The playback loop: send timed events at absolute clock times, track open notes, never leave one stuck.

The clock and the sleep function are parameters, so the loop's logic is tested with a fake clock and
no waiting. Each event is due at ``timeline.at(beat)`` (start + offset); the loop sleeps until shortly
before that, then spins for sub-millisecond accuracy. Whatever ends playback (the last event, Ctrl-C,
SIGTERM, an exception, a vanished port), ``silence`` runs in ``finally``: a note-off for every open
note, then sustain off (CC64 0), all sound off (CC120) and all notes off (CC123) on each used channel.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from composer.live.events import CONTROL, NOTE_OFF, NOTE_ON, Event
from composer.live.ports import PortError

SPIN = 0.0015  # seconds before the target when sleeping stops and spinning starts
MAX_SLEEP = 0.02  # re-read the timeline at least this often (an external clock can move it)
WATCH_EVERY = 0.25  # seconds between checks that the output port still exists


@dataclass
class PlayStats:
    """What happened: messages sent, and for each, its target and actual send time (clock seconds)."""

    sent: int = 0
    targets: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    silenced: int = 0  # open notes that got a note-off from ``silence``
    channels: set[int] = field(default_factory=set)

    def errors(self) -> list[float]:
        """Send time minus target time for each message, seconds."""
        return [t - g for t, g in zip(self.times, self.targets)]


class Player:
    """Sends events to ``port`` in time; remembers open notes and used channels for ``silence``.

    Parameters
    ----------
    port : object with send(bytes) and alive()
    clock : callable returning seconds (time.perf_counter by default)
    sleep : callable taking seconds (time.sleep by default)
    record : bool
        Keep every message's target and send time in ``stats`` (tests and benchmarks).
    """

    def __init__(self, port, clock: Callable[[], float] = time.perf_counter, sleep=time.sleep, record=False):
        self.port, self.clock, self.sleep, self.record = port, clock, sleep, record
        self.open: Counter[tuple[int, int]] = Counter()  # (channel, pitch) -> note-ons not yet ended
        self.stats = PlayStats()
        self.clock_running = False
        self._next_watch = 0.0

    def send(self, msg: tuple[int, ...]) -> None:
        status = msg[0]
        kind, ch = status & 0xF0, status & 0x0F
        if status < 0xF0:
            self.stats.channels.add(ch)
        if kind == NOTE_ON and msg[2] > 0:
            self.open[ch, msg[1]] += 1
        elif kind == NOTE_OFF or kind == NOTE_ON:
            if self.open[ch, msg[1]] > 0:
                self.open[ch, msg[1]] -= 1
        elif status == 0xFA or status == 0xFB:
            self.clock_running = True
        elif status == 0xFC:
            self.clock_running = False
        self.port.send(msg)
        self.stats.sent += 1

    def _watch(self, now: float) -> None:
        if now >= self._next_watch:
            self._next_watch = now + WATCH_EVERY
            if not self.port.alive():
                raise PortError(f"MIDI port {self.port.name!r} vanished mid-stream")

    def wait_until(self, timeline, beat: float) -> float:
        """Block until ``beat`` is due on ``timeline``; return its target time.

        While the timeline has no time for the beat (an external clock that is stopped or not yet
        started), open notes are silenced and the loop waits.
        """
        while True:
            now = self.clock()
            self._watch(now)
            target = timeline.at(beat)
            if target is None:
                if +self.open:
                    self.release_notes()
                self.sleep(0.001)
                continue
            wait = target - now
            if wait <= 0:
                return target
            if wait > SPIN:
                self.sleep(min(wait - SPIN, MAX_SLEEP))
            # else: spin; re-reading the clock is the whole loop body

    def play(self, events: Iterable[Event], timeline) -> PlayStats:
        """Send every event at its time on ``timeline``; ``begin`` it now unless it is already running."""
        if getattr(timeline, "start", 0.0) is None:
            timeline.begin(self.clock())
        for beat, msg in events:
            target = self.wait_until(timeline, beat)
            self.send(msg)
            if self.record:
                self.stats.targets.append(target)
                self.stats.times.append(self.clock())
        return self.stats

    def release_notes(self) -> int:
        """A note-off for every open note; returns how many were sent."""
        n = 0
        for (ch, pitch), count in sorted(self.open.items()):
            for _ in range(count):
                self.port.send((NOTE_OFF | ch, pitch, 0))
                n += 1
        self.open.clear()
        return n

    def silence(self) -> None:
        """Note-off for every open note, then CC64 0, CC120, CC123 on each used channel; Stop the clock.

        SIGINT and SIGTERM are blocked first thing. A signal that still gets through (one that came
        just before they were blocked) does not cut the clean-up short: it is caught, every remaining
        message is sent (the interrupted one again), and the interrupt is raised again at the end.
        """
        blocked, interrupt, interrupts = _UNSET, None, 0
        msgs: list[tuple[int, ...]] | None = None
        sent = 0
        while True:
            try:
                if blocked is _UNSET:
                    blocked = _block_signals()
                if msgs is None:
                    msgs = self._silence_messages()
                while sent < len(msgs):
                    self.port.send(msgs[sent])
                    sent += 1
                break
            except KeyboardInterrupt as e:
                interrupt, interrupts = interrupt or e, interrupts + 1
                if interrupts > MAX_INTERRUPTS:  # a port that raises it on every send: give up
                    break
            except PortError:
                break  # the port is gone: nothing is left sounding on it
        try:
            self.stats.silenced += sum(self.open.values())
            self.open.clear()
            self.clock_running = False
        finally:
            _unblock_signals(None if blocked is _UNSET else blocked, lost=interrupt is not None)
        if interrupt is not None:
            raise interrupt

    def _silence_messages(self) -> list[tuple[int, ...]]:
        """What ``silence`` sends, in order."""
        msgs = [(NOTE_OFF | ch, pitch, 0) for (ch, pitch), n in sorted(self.open.items()) for _ in range(n)]
        msgs += [(CONTROL | ch, cc, 0) for ch in sorted(self.stats.channels) for cc in (64, 120, 123)]
        if self.clock_running:
            msgs.append((0xFC,))
        return msgs


_UNSET = object()
MAX_INTERRUPTS = 8
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _block_signals():
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def _unblock_signals(previous, lost: bool = False) -> None:
    """Restore the mask ``_block_signals`` returned.

    ``lost``: an interrupt came while blocking, so ``previous`` may be the already-blocked mask of a
    retry; SIGINT and SIGTERM, never blocked elsewhere in composer, are unblocked in any case.
    """
    if not hasattr(signal, "pthread_sigmask"):
        return
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    if lost or previous is None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def play(
    events: Iterable[Event], port, timeline, clock=time.perf_counter, sleep=time.sleep, record=False
) -> PlayStats:
    """Play ``events`` on ``port`` following ``timeline``; always ends with ``Player.silence``."""
    player = Player(port, clock=clock, sleep=sleep, record=record)
    try:
        return player.play(events, timeline)
    finally:
        player.silence()
