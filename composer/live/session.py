"""Playback sessions as the CLI runs them: open the port, follow a clock, play, and always clean up.

SIGTERM, SIGHUP (terminal closed, ssh dropped) and SIGQUIT (Ctrl-\\) are turned into an exception
like Ctrl-C, so all unwind through the player's ``finally`` and leave no note sounding. The process
then exits with 128 + the signal number. Nothing counts as played until the port confirms delivery.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from composer.errors import ComposerError, MidiError
from composer.live.events import Event, Timeline, from_midi_ticks, looped, to_events, with_clock
from composer.live.ports import PortError, open_input, open_output
from composer.live.scheduler import STOP_SIGNALS, PlayStats, play
from composer.live.stream import BarStream, StreamStats
from composer.live.sync import ClockFollower
from composer.midi_io import read_midi_ticks
from composer.music import Score


class Stopped(KeyboardInterrupt):
    """Playback was stopped by a signal (SIGINT, SIGTERM, SIGHUP or SIGQUIT)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.unconfirmed: str | None = None  # why the closing messages could not be confirmed


@dataclass
class PortOptions:
    """Where to play: backend, an existing port or a virtual one, and the clock options."""

    api: str = "auto"
    port: str | None = None
    virtual: str | None = None
    clock: bool = False  # send MIDI beat clock
    sync: str | None = None  # follow the clock arriving on this input port
    delay: float | None = None  # seconds of lead-in; None: 1 s for a virtual port rtmidi cannot watch, else 0
    wait: bool = True  # a virtual port waits for a connection before playing (where the backend can tell)


def _raise_stopped(signum, _frame):
    raise Stopped(signum)


@contextlib.contextmanager
def signals_stop_playback() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM, SIGHUP and SIGQUIT raise Stopped (in the main thread)."""
    if sys.platform.startswith("win"):
        yield
        return
    old = {s: signal.signal(s, _raise_stopped) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def quick_gil() -> Iterator[None]:
    """Within the block no thread holds the GIL for long: a 0.5 ms switch interval, and the objects
    alive now frozen out of the garbage collector, whose full passes over them would otherwise hold
    the GIL for milliseconds while a JACK process callback waits for it."""
    switch = sys.getswitchinterval()
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(0.0005)
    try:
        yield
    finally:
        sys.setswitchinterval(switch)
        gc.unfreeze()


@contextlib.contextmanager
def realtime_priority(priority: int = 10) -> Iterator[bool]:
    """Best effort: run the calling thread under SCHED_RR, as a DAW's MIDI thread does, where the OS
    allows it (Linux with CAP_SYS_NICE or an rtprio limit); otherwise leave it as it is.

    The scheduler sleeps between events and spins only the last SPIN seconds before each, so it
    cannot starve the machine; the kernel's RT throttling bounds it anyway.
    """
    if not hasattr(os, "sched_setscheduler") or os.environ.get("COMPOSER_NO_REALTIME"):
        yield False
        return
    try:
        old_policy, old_param = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(priority))
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        try:
            os.sched_setscheduler(0, old_policy, old_param)
        except OSError:
            pass


def play_events(
    events: Iterable[Event], timeline, options: PortOptions, end=None, record=False, again=None, on_wait=None
):
    """Open the output (and the sync input), then play ``events``; returns PlayStats once delivered.

    With ``options.sync`` the incoming clock replaces ``timeline`` and ``again()`` (fresh events)
    is played from the top on a Start after Stop; with ``options.clock`` beat clock is merged into
    the events (Start first, Stop at the end or on any interruption). ``on_wait(text)`` is told what
    the player waits for (a connection, a MIDI Start).

    Raises
    ------
    DeliveryError
        The port could not confirm that every message reached the server.
    """
    on_wait = on_wait or (lambda _text: None)
    # Realtime from open to close: JACK's process callback needs the GIL, and a main thread that the
    # machine's other jobs preempt while it holds the GIL would make the callback miss its cycle.
    with signals_stop_playback(), realtime_priority(), quick_gil():
        out = open_output(options.api, options.port, options.virtual)
        inp = None
        try:
            if options.sync:
                follower = ClockFollower()
                inp = open_input(follower.on_message, options.api, port=options.sync)
                timeline = follower
                if hasattr(out, "wait_cycles"):  # JACK connects on a later cycle: then Start is heard
                    out.wait_cycles(2)
            if options.clock:
                events = with_clock(events, end)
                again = again and (lambda make=again: with_clock(make(), end))
            _lead_in(out, options, on_wait)
            if options.sync:  # tell the user (and a DAW-side script) that Start will now be heard
                on_wait(f"waiting for MIDI Start on {options.sync}")
            stats = play(events, out, timeline, record=record, again=again)
            out.drain()
            return stats
        except BaseException as e:
            try:
                out.drain()  # the closing note-offs must get out too
            except PortError as lost:
                if isinstance(e, Stopped):  # the signal's one line must not claim what was not confirmed
                    e.unconfirmed = str(lost)
            raise
        finally:
            if inp is not None:
                inp.close()
            out.close()


def _lead_in(out, options: PortOptions, on_wait) -> None:
    """Before playing to a virtual port: wait for someone to connect, or sleep the --delay."""
    delay = options.delay
    if options.port is None and options.wait and out.connections() is not None:
        if out.connections() == 0:
            on_wait(f"waiting for a connection on {out.name}")
        while out.connections() == 0:
            time.sleep(0.02)
        out.wait_cycles(2)  # the new connection takes effect on a later process cycle
    elif delay is None and options.port is None and out.connections() is None:
        delay = 1.0  # rtmidi cannot tell when someone connects: give them a second
    if delay and not options.sync:
        time.sleep(delay)


def play_file(path: str, options: PortOptions, bpm=None, loop: bool = False, on_wait=None) -> PlayStats:
    """Play a MIDI file (or ``-``, stdin): its parts, programs, controllers, pitch bends and tempo map.

    The file is decoded as read_midi decodes it (midi_io.read_midi_ticks: size, length and note
    limits; type-2 tracks one after another) before any port is opened; events.from_midi_ticks says
    which channel each part plays on.
    """
    piece = from_midi_ticks(read_midi_ticks(path))
    if loop and piece.length <= 0:
        raise MidiError(f"{path}: the file has no length to loop")
    timeline = Timeline(piece.tempos, loop=piece.length if loop else None)
    if bpm is not None:
        timeline = timeline.scaled(bpm)

    def again():
        return looped(piece.events, piece.length, None) if loop else piece.events

    end = None if loop else piece.length
    return play_events(again(), timeline, options, end=end, again=again, on_wait=on_wait)


def play_score(score: Score, options: PortOptions, bpm=None, loop: bool = False, on_wait=None) -> PlayStats:
    """Play a Score: each track on its own channel, a program change per track at the start."""
    events = to_events(score)
    length = max(score.n_bars, 1) * score.steps_per_bar / score.resolution
    timeline = Timeline([(0.0, 60.0 / (bpm or score.bpm))], loop=length if loop else None)

    def again():
        return looped(events, length, None) if loop else events

    end = None if loop else length
    return play_events(again(), timeline, options, end=end, again=again, on_wait=on_wait)


def play_live(
    bars: Iterator[Score],
    options: PortOptions,
    n_bars: int | None = None,
    channels=None,
    bpm=None,
    on_wait=None,
    on_exit=None,
) -> tuple[PlayStats, StreamStats]:
    """Generate bars in a background thread and play them as they come; returns both stats.

    Playback starts once the first bar exists (the model is loaded); ``quick_gil`` keeps the
    generator thread from holding the GIL long when an event is due. `composer live` passes
    genproc.ChildBars, a generator in a process of its own, so sampling never holds this
    process's GIL; ``bars`` is closed at the end when it is one.
    ``on_exit(stream_stats, play_stats)`` runs however playback ends (``play_stats`` None unless it
    ended normally) (a signal or an error included), so the
    caller can report headroom every time. A Start after Stop on ``--sync`` carries on: generated
    music has no top to go back to.
    """
    stream = BarStream(bars, n_bars=n_bars, channels=channels, bpm=bpm, priority=5)
    stats = None
    try:
        with signals_stop_playback():
            stream.start()
            first = stream.wait_first()
            if first is None:
                raise ComposerError("the generator produced no bars")
            timeline = Timeline.fixed(bpm or first.bpm)
            stats = play_events(stream.events(), timeline, options, on_wait=on_wait)
        return stats, stream.stats
    finally:
        if hasattr(bars, "proc"):  # genproc.ChildBars: stop the child, which ends the worker's read
            bars.close()
        stream.close()
        if on_exit is not None:
            on_exit(stream.stats, stats)
