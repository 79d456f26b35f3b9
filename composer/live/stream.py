"""Endless generation for live playback: a worker thread pulls bars from a generator ahead of the playhead.

The generator follows the stream_bars contract: consecutive one-bar Scores, onsets relative to the
bar start, notes may sustain past the bar. The worker keeps up to ``ahead`` bars queued; the player
reads events in beat order from ``events()``, which merges each bar's notes with notes still
sustaining from earlier bars. Generation time per bar is measured, so ``headroom`` says how many
times faster than real time the generator runs.
"""

from __future__ import annotations

import heapq
import itertools
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from composer.errors import OptionError
from composer.live.events import Event, program_events, to_events
from composer.midi_io import default_channels
from composer.music import Score

_END = object()


@dataclass
class StreamStats:
    """Generation timing: seconds spent in the generator per bar, and playback waits."""

    bar_seconds: list[float] = field(default_factory=list)  # generator time per bar, first bar included
    music_seconds_per_bar: float = 0.0
    waits: int = 0  # times the player asked for a bar that was not ready yet
    waited: float = 0.0  # seconds it waited in total

    def headroom(self) -> float | None:
        """Real time of the music over generation time, leaving out the first bar (model loading)."""
        gen = self.bar_seconds[1:] or self.bar_seconds
        if not gen or sum(gen) == 0:
            return None
        return self.music_seconds_per_bar * len(gen) / sum(gen)


class BarStream:
    """Runs ``bars`` in a background thread and offers its notes as one ordered event stream.

    Parameters
    ----------
    bars : iterator of Score
        One bar per item (the stream_bars contract).
    n_bars : int or None
        Stop after this many bars; None plays forever.
    channels : list of int or None
        0-based channel per track, at least one per track; midi_io.default_channels of the first bar
        when None.
    ahead : int
        Bars the worker may generate ahead of the player.
    bpm : float or None
        Tempo used to report headroom; the first bar's tempo when None.
    clock : callable
        Clock used to time the generator.
    priority : int or None
        Run the worker under SCHED_RR at this priority where the OS allows (below the player's):
        a worker preempted by other jobs while it holds the GIL would make JACK's process callback,
        which needs the GIL, miss its cycle. Generation takes about 1% of real time, so it cannot
        starve the machine.
    """

    def __init__(
        self,
        bars: Iterator[Score],
        n_bars=None,
        channels=None,
        ahead=8,
        bpm=None,
        clock=time.perf_counter,
        priority: int | None = None,
    ):
        self.bars, self.n_bars, self.channels, self.bpm, self.clock = bars, n_bars, channels, bpm, clock
        self.priority = priority
        self.queue: queue.Queue = queue.Queue(maxsize=ahead)
        self.stop_event = threading.Event()
        self.stats = StreamStats()
        self.first: Score | None = None
        self.thread = threading.Thread(target=self._work, name="composer-live-generator", daemon=True)

    def start(self) -> BarStream:
        self.thread.start()
        return self

    def _work(self) -> None:
        if self.priority:  # best effort, see __init__
            try:
                os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(self.priority))
            except (AttributeError, OSError):
                pass
        try:
            counter = itertools.count() if self.n_bars is None else range(self.n_bars)
            for _ in counter:
                t0 = self.clock()
                bar = next(self.bars, None)
                own = getattr(self.bars, "seconds", None)  # a generator that times itself (genproc)
                self.stats.bar_seconds.append(self.clock() - t0 if own is None else own)
                if bar is None:
                    break
                if not self._put(bar):
                    return
        except BaseException as e:  # handed to the player, which re-raises it in the main thread
            self._put(e)
            return
        self._put(_END)

    def _put(self, item) -> bool:
        while not self.stop_event.is_set():
            try:
                self.queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, first: bool = False):
        try:
            item = self.queue.get_nowait()
        except queue.Empty:
            if not first:
                self.stats.waits += 1
            t0 = self.clock()
            item = self.queue.get()
            self.stats.waited += 0.0 if first else self.clock() - t0
        if isinstance(item, BaseException):
            raise item
        return item

    def wait_first(self) -> Score | None:
        """Block until the first bar is generated (the model is loaded); return it, or None if none.

        Raises
        ------
        ComposerError
            ``channels`` has fewer channels than the bar has tracks.
        """
        item = self._get(first=True)
        if item is _END:
            self._pending = None
            return None
        self.first = item
        self._pending = item
        if self.channels is None:
            self.channels = default_channels(item.tracks)
        elif len(self.channels) < len(item.tracks):
            given = ",".join(str(c + 1) for c in self.channels)
            raise OptionError(
                "channels", given, f"{len(self.channels)} channels for {len(item.tracks)} tracks"
            )
        bpm = self.bpm or item.bpm
        beats = item.steps_per_bar / item.resolution
        self.stats.music_seconds_per_bar = beats * 60.0 / bpm
        return item

    def events(self) -> Iterator[Event]:
        """Every bar's events in beat order: program changes first, then notes, bar after bar."""
        if self.first is None and self.wait_first() is None:
            return
        yield from program_events(self.first, self.channels)
        heap: list[tuple[float, int, int, tuple[int, ...]]] = []
        seq = itertools.count()
        bar, offset = self._pending, 0.0
        while bar is not None:
            for beat, msg in to_events(bar, self.channels, offset=offset, programs=False):
                heapq.heappush(heap, (beat, (msg[0] & 0xF0) == 0x90 and msg[2] > 0, next(seq), msg))
            offset += bar.steps_per_bar / bar.resolution  # later bars only add events from here on
            while heap and heap[0][0] < offset:
                beat, _, _, msg = heapq.heappop(heap)
                yield beat, msg
            item = self._get()
            bar = None if item is _END else item
        while heap:
            beat, _, _, msg = heapq.heappop(heap)
            yield beat, msg

    def close(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout=2.0)
