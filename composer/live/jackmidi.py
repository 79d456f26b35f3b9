"""JACK MIDI output through the JACK-Client package: each event is written at its own frame in the process callback.

A sender that pushes bytes "now" (python-rtmidi's JACK backend) inherits its thread's wake-up jitter
and cannot tell what is still queued when it closes. Here the player runs on the server's own clock
(``clock()``: frames / sample rate, as a DAW's transport does) and hands each event over ahead of
time (``LOOKAHEAD``) with its due time; the process callback writes it at its frame offset inside
the cycle that contains it, so it lands on the right frame even when the player wakes late. The
frame clock, not the system clock, is what the listener hears: on a loaded machine a dummy or USB
driver's frames drift from the system clock by several percent. The callback also counts cycles,
which is how ``drain`` confirms delivery without a fixed sleep.

Only this module imports ``jack``, and only when a JACK port is opened.
"""

from __future__ import annotations

import collections
import threading
import time

from composer.live.portbase import DEFAULT_VIRTUAL, DeliveryError, PortError, pick

LOOKAHEAD = 0.05  # seconds ahead of its time an event is handed to the process callback
SETTLE_CYCLES = 2  # process cycles after a connection (or the last write) before it is taken as done
TIMEOUT = 2.0  # seconds the server may take to run those cycles before we call it stalled


def _jack():
    try:
        import jack
    except (ImportError, OSError) as e:  # OSError: the package is there but libjack is not
        raise PortError(
            f"the JACK backend needs JACK-Client and libjack ({e}); pip install JACK-Client"
        ) from None
    jack.set_error_function(lambda _msg: None)  # libjack's own lines; ours says it once
    jack.set_info_function(lambda _msg: None)
    return jack


def _realtime_thread(priority: int = 60) -> bool:
    """Best effort: run the calling (process) thread under SCHED_FIFO, as JACK does for its clients
    on a realtime server. On a --no-realtime server under load a late process cycle makes the server
    hand a reader our buffer twice or not at all; a realtime thread is not late. Needs CAP_SYS_NICE
    or an rtprio limit (the audio group); without them nothing changes."""
    import os

    try:
        if os.sched_getscheduler(0) == os.SCHED_OTHER:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return True
    except (AttributeError, OSError):
        return False


class JackOutput:
    """A JACK client with one MIDI output port; events go out at their due frame.

    ``send_at(msg, due)`` takes ``due`` on ``clock()`` (frame seconds); ``send(msg)`` goes out on
    the next cycle. ``alive()`` is False once the target port, our connection or the server is gone.
    """

    lookahead = LOOKAHEAD

    def __init__(self, client_name: str, target: str | None):
        jack = _jack()
        try:
            self.client = jack.Client(client_name, no_start_server=True)
        except jack.JackError as e:
            raise PortError(f"MIDI API 'jack' is not available: {e} (is a JACK server running?)") from None
        self.target = target
        self.frame = 0  # the frame after the last process cycle: the server's "now"
        self.lock = threading.Lock()
        self.pending: collections.deque[tuple[int, bytes]] = collections.deque()  # (due frame, bytes)
        self.cycles = 0
        self.done_at = 0  # cycle count once everything pending had been written
        self.last_frame = 0  # frames handed over never go backwards (JACK refuses out-of-order events)
        self.lost: str | None = None  # why the port is gone, set from JACK's threads
        self.jack_client = self.client  # kept for the process callback while close() runs
        self.rate = self.client.samplerate
        self.tick = self.client.blocksize / self.rate  # clock() advances this much per process cycle
        self.port = self.client.midi_outports.register("out")
        self.name = self.port.name
        self.client.set_process_callback(self._process)
        self.client.set_shutdown_callback(
            lambda _status, reason: self._lose(f"the JACK server stopped ({reason})")
        )
        self.client.set_port_connect_callback(self._on_connect)
        self.client.set_port_registration_callback(self._on_register)
        self.client.activate()

    # -- JACK's threads -------------------------------------------------------------------------
    def _process(self, frames: int) -> None:
        if self.cycles == 0:
            _realtime_thread()
        self.port.clear_buffer()
        f0 = self.jack_client.last_frame_time
        end, last = f0 + frames, 0
        self.frame = end
        with self.lock:
            wrote = False
            while self.pending and self.pending[0][0] < end:
                frame, msg = self.pending[0]
                last = min(max(frame - f0, last), frames - 1)
                try:
                    self.port.write_midi_event(last, msg)
                except Exception:  # the cycle's buffer is full: the rest goes out next cycle
                    break
                self.pending.popleft()
                wrote = True
            self.cycles += 1
            if wrote or self.pending:
                self.done_at = self.cycles + SETTLE_CYCLES + bool(self.pending)

    def _lose(self, why: str) -> None:
        self.lost = self.lost or why

    def _on_connect(self, a, b, connected: bool) -> None:
        if not connected and self.target is not None and {a.name, b.name} == {self.name, self.target}:
            self._lose(f"MIDI port {self.target!r} vanished mid-stream")

    def _on_register(self, port, registered: bool) -> None:
        if not registered and self.target is not None and port.name == self.target:
            self._lose(f"MIDI port {self.target!r} vanished mid-stream")

    # -- the player's thread --------------------------------------------------------------------
    def clock(self) -> float:
        """The server's time in seconds (frames / rate), at the resolution of one process cycle."""
        return self.frame / self.rate

    def frame_at(self, due: float) -> int:
        return round(due * self.rate)

    def send_at(self, message, due: float | None) -> None:
        """Queue ``message`` for the frame of ``due`` on ``clock()`` (None: the next cycle)."""
        if self.lost:
            raise PortError(self.lost)
        frame = 0 if due is None else self.frame_at(due)
        with self.lock:
            frame = max(frame, self.last_frame)
            self.last_frame = frame
            self.pending.append((frame, bytes(message)))
            self.done_at = self.cycles + 1 + SETTLE_CYCLES

    def send(self, message) -> None:
        self.send_at(message, None)

    def cancel(self) -> list[tuple[int, ...]]:
        """Take back every message not yet written (to stop now); returns them in order."""
        with self.lock:
            taken = [tuple(m) for _, m in self.pending]
            self.pending.clear()
            self.last_frame = 0
        return taken

    def alive(self) -> bool:
        return self.lost is None

    def wait_cycles(self, n: int, timeout: float = TIMEOUT) -> bool:
        """Block until the server has run ``n`` more process cycles; False after ``timeout`` seconds."""
        goal = self.cycles + n
        deadline = time.monotonic() + timeout
        while self.cycles < goal:
            if self.lost or time.monotonic() > deadline:
                return False
            time.sleep(0.001)
        return True

    def connections(self) -> int:
        return len(self.client.get_all_connections(self.port))

    def drain(self, timeout: float = TIMEOUT) -> None:
        """Return once every message was written in a cycle the server completed, plus SETTLE_CYCLES
        more (so a reader one cycle behind, as in asynchronous mode, has read it too).

        Raises
        ------
        DeliveryError
            The server did not get there within ``timeout`` seconds of the last due time, or the
            port was lost first: the messages still queued are counted in the message.
        """
        with self.lock:
            last_due = self.pending[-1][0] / self.rate if self.pending else self.clock()
        deadline = time.monotonic() + max(0.0, last_due - self.clock()) + timeout
        while self.cycles < self.done_at or self.pending:
            if self.lost or time.monotonic() > deadline:
                left = len(self.pending)
                why = self.lost or f"the JACK server ran no process cycle for {timeout:g} s"
                raise DeliveryError(f"{left} MIDI messages could not be delivered to JACK: {why}")
            time.sleep(0.001)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.deactivate()
            client.close()
        except Exception:
            pass


def open_output(port: str | None = None, virtual: str | None = None) -> JackOutput:
    """Connect to the JACK MIDI input whose name contains ``port``, or create ``virtual``:out.

    Returns once the server has run SETTLE_CYCLES cycles with the connection in place, so the first
    message cannot be lost to a connection still being made.
    """
    out = JackOutput((virtual or DEFAULT_VIRTUAL) if port is None else "composer", None)
    if port is None:
        return out
    try:
        names = [p.name for p in out.client.get_ports(is_midi=True, is_input=True)]
        target = names[pick(names, port, "output")]
        out.target = target
        try:
            out.client.connect(out.port, target)
        except Exception as e:  # the server refused (the port went away in between)
            raise PortError(f"cannot connect to JACK port {target!r}: {e}") from None
        if not out.wait_cycles(SETTLE_CYCLES):
            raise PortError(out.lost or f"the JACK server ran no process cycle for {TIMEOUT:g} s")
    except BaseException:
        out.close()
        raise
    return out


class JackInput:
    """A JACK MIDI input connected from ``source``: ``callback(message, seconds)`` for each event,
    stamped with its frame (frames / rate: the clock JackOutput.clock() runs on), in JACK's thread."""

    def __init__(self, callback, source: str):
        jack = _jack()
        try:
            self.client = jack.Client("composer-in", no_start_server=True)
        except jack.JackError as e:
            raise PortError(f"MIDI API 'jack' is not available: {e} (is a JACK server running?)") from None
        self.callback, self.rate = callback, self.client.samplerate
        self.port = self.client.midi_inports.register("in")
        self.jack_client = self.client
        self.client.set_process_callback(self._process)
        try:
            self.client.activate()
            names = [p.name for p in self.client.get_ports(is_midi=True, is_output=True)]
            self.name = names[pick(names, source, "input")]
            self.client.connect(self.name, self.port)
        except BaseException:
            self.close()
            raise

    def _process(self, frames: int) -> None:
        f0 = self.jack_client.last_frame_time
        for offset, data in self.port.incoming_midi_events():
            self.callback(list(bytes(data)), (f0 + offset) / self.rate)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                client.deactivate()  # cffi lets go of the GIL here, so a callback in flight can finish
                client.close()
            except Exception:
                pass
