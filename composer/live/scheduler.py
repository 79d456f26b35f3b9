"""The playback loop: send timed events at absolute clock times, track open notes, never leave one stuck.

The clock and the sleep function are parameters, so the loop's logic is tested with a fake clock and
no waiting. Each event is due at ``timeline.at(beat)`` (start + offset); the loop sleeps until shortly
before that, then spins for sub-millisecond accuracy. A port with a ``lookahead`` (JACK) gets each
event that much early with its due time and places it itself, so the loop only sleeps (following an
external clock too, then with FOLLOW_LOOKAHEAD). Whatever ends
playback (the last event, a signal, an exception, a vanished port), ``silence`` runs in ``finally``:
events handed over but not yet out are taken back, then a note-off goes to every open note, then
sustain off (CC64 0), all sound off (CC120) and all notes off (CC123) on each used channel.
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
# How early a followed clock's events go to a port that places them itself (JACK): long enough that
# the player only sleeps (a spinning player holds the GIL that JACK's process callback needs, and an
# asynchronous server drops the MIDI of a callback that is late), short enough that a Stop takes back
# all but the events due within it.
FOLLOW_LOOKAHEAD = 0.002
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


class Restart(Exception):
    """The timeline started again from the top (MIDI Start after Stop)."""


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
        self.lookahead = getattr(port, "lookahead", 0.0)
        self.tick = getattr(port, "tick", 0.0) if self.lookahead else 0.0
        self.restarts = False  # whether a new Start on the timeline raises Restart
        self.starts = 0  # the timeline's Start count when playback (re)started

    def send(self, msg: tuple[int, ...], due: float | None = None) -> None:
        """Send ``msg`` now, or at clock time ``due`` on a port with a lookahead."""
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
        if due is not None and self.lookahead:
            self.port.send_at(msg, due)
        else:
            self.port.send(msg)
        self.stats.sent += 1

    def take_back(self) -> int:
        """Withdraw what the port holds but has not sent yet, undoing its note bookkeeping."""
        cancel = getattr(self.port, "cancel", None)
        taken = cancel() if cancel else []
        for msg in taken:
            status, ch = msg[0], msg[0] & 0x0F
            if status & 0xF0 == NOTE_ON and msg[2] > 0:
                self.open[ch, msg[1]] -= min(1, self.open[ch, msg[1]])
            elif status & 0xF0 in (NOTE_OFF, NOTE_ON):
                self.open[ch, msg[1]] += 1  # its note-on went out: it needs ending again
            elif status == 0xFC:
                self.clock_running = True
        self.stats.sent -= len(taken)
        return len(taken)

    def _watch(self, now: float) -> None:
        if now >= self._next_watch:
            self._next_watch = now + WATCH_EVERY
            if not self.port.alive():
                why = getattr(self.port, "lost", None)  # the JACK port says what went
                raise PortError(why or f"MIDI port {self.port.name!r} vanished mid-stream")

    def wait_until(self, timeline, beat: float) -> float:
        """Block until ``beat`` is due on ``timeline`` (less the port's lookahead); return its time.

        While the timeline has no time for the beat (an external clock that is stopped or not yet
        started), open notes are silenced and the loop waits.
        """
        while True:
            now = self.clock()
            self._watch(now)
            if self.restarts and timeline.starts != self.starts:
                self.starts = timeline.starts
                raise Restart
            target = timeline.at(beat)
            if target is None:
                if not getattr(timeline, "running", False):  # stopped, not just short of pulses
                    if self.lookahead:  # events handed over early for a time that no longer holds
                        self.take_back()
                    if +self.open:
                        self.release_notes()
                self.sleep(0.001)
                continue
            wait = target - self.lookahead - now
            if wait <= self.tick:  # the port's clock moves a cycle at a time: waiting less is a spin
                return target
            if self.lookahead:  # the port places the event itself: no need to spin
                self.sleep(min(wait, MAX_SLEEP))
            elif wait > SPIN:
                self.sleep(min(wait - SPIN, MAX_SLEEP))
            # else: spin; re-reading the clock is the whole loop body

    def play(self, events: Iterable[Event], timeline) -> PlayStats:
        """Send every event at its time on ``timeline``; ``begin`` it now unless it is already running."""
        if getattr(timeline, "start", 0.0) is None:  # begin one lookahead ahead: the first events on time
            timeline.begin(self.clock() + self.lookahead)
        for beat, msg in events:
            target = self.wait_until(timeline, beat)
            self.send(msg, target)
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

        SIGINT, SIGTERM, SIGHUP and SIGQUIT are blocked first thing. A signal that still gets through (one that came
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
                    self.take_back()
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
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)
)


def _block_signals():
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _unblock_signals(previous, lost: bool = False) -> None:
    """Restore the mask ``_block_signals`` returned.

    ``lost``: an interrupt came while blocking, so ``previous`` may be the already-blocked mask of a
    retry; the stop signals, never blocked elsewhere in composer, are unblocked in any case.
    """
    if not hasattr(signal, "pthread_sigmask"):
        return
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    if lost or previous is None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def play(
    events: Iterable[Event],
    port,
    timeline,
    clock=None,
    sleep=time.sleep,
    record=False,
    again: Callable[[], Iterable[Event]] | None = None,
) -> PlayStats:
    """Play ``events`` on ``port`` following ``timeline``; always ends with ``Player.silence``.

    ``again`` makes the events anew for a timeline that restarts (MIDI Start after Stop): playback
    then goes back to the top. Without it a restart carries on where the stream is.
    """
    follows = hasattr(timeline, "starts")  # an external clock, stamped on the port's clock (open_input)
    if clock is None:  # the port's own clock where it has one (JACK's frames), else the system's
        clock = getattr(port, "clock", time.perf_counter)
    player = Player(port, clock=clock, sleep=sleep, record=record)
    if follows:  # the clock may stop on any pulse: hand events over only just ahead
        player.lookahead = min(player.lookahead, FOLLOW_LOOKAHEAD)
    player.restarts = again is not None and hasattr(timeline, "starts")
    player.starts = getattr(timeline, "starts", 0)
    try:
        while True:
            try:
                stats = player.play(events, timeline)
                if player.lookahead:  # the last events are still queued: let them out before silence
                    port.drain()
                return stats
            except Restart:
                if again is not None:
                    player.take_back()
                    player.release_notes()
                    events = again()
    finally:
        player.silence()
