"""MIDI ports: the only module that imports rtmidi (lazily), so the rest of composer.live runs without it.

An OutputPort sends raw message bytes and can tell whether its destination still exists, because
python-rtmidi does not report a vanished port (python-rtmidi #98): the scheduler polls ``alive()``.
``--api jack`` output goes through composer.live.jackmidi instead (events written at their frame);
ALSA, CoreMIDI and WinMM hand each message to the OS synchronously, so closing loses nothing.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from composer.errors import OptionError
from composer.live.portbase import DEFAULT_VIRTUAL, ApiUnavailable, PortError, pick

APIS = ("auto", "alsa", "jack", "coremidi", "winmm")
VANISHED = 3  # exit status of composer.live.watch when the port is gone
_RTMIDI_API = {
    "alsa": "API_LINUX_ALSA",
    "jack": "API_UNIX_JACK",
    "coremidi": "API_MACOSX_CORE",
    "winmm": "API_WINDOWS_MM",
}


def _rtmidi():
    try:
        import rtmidi
    except ImportError as e:  # pragma: no cover - python-rtmidi is a dependency
        raise PortError(f"python-rtmidi is not importable ({e}); pip install python-rtmidi") from None
    return rtmidi


def _api_id(api: str) -> int:
    rtmidi = _rtmidi()
    if api not in APIS:
        raise PortError(f"unknown MIDI API {api!r}; choose one of {', '.join(APIS)}")
    if api == "auto":
        return rtmidi.API_UNSPECIFIED
    api_id = getattr(rtmidi, _RTMIDI_API[api])
    if api_id not in rtmidi.get_compiled_api():
        raise PortError(f"MIDI API {api!r} is not compiled into this python-rtmidi build")
    return api_id


def _open(kind: str, api: str, client: str):
    """A MidiOut or MidiIn on ``api``; a backend that cannot start (no ALSA sequencer, no JACK server)
    becomes one PortError line naming the APIs that do work here."""
    rtmidi = _rtmidi()
    api_id = _api_id(api)
    cls = rtmidi.MidiOut if kind == "out" else rtmidi.MidiIn
    try:
        with _quiet_stderr():  # libasound/libjack print their own lines; ours says it once
            return cls(api_id, name=client)
    except Exception:  # rtmidi raises SystemError/RtMidiError with multi-line backend text
        raise ApiUnavailable(api, _why(api), [a for a in working_apis() if a != api]) from None


def _why(api: str) -> str:
    if api == "jack":
        return " (is a JACK server running?)"
    if api in ("alsa", "auto") and sys.platform.startswith("linux"):
        return " (no ALSA sequencer: /dev/snd/seq is missing)"
    return ""


def working_apis() -> list[str]:
    """The APIs compiled into python-rtmidi whose backend starts on this machine right now."""
    rtmidi = _rtmidi()
    compiled = set(rtmidi.get_compiled_api())
    ok = []
    for api in APIS[1:]:
        if getattr(rtmidi, _RTMIDI_API[api]) not in compiled:
            continue
        try:
            with _quiet_stderr():
                rtmidi.MidiOut(getattr(rtmidi, _RTMIDI_API[api]), name="composer-probe").delete()
        except Exception:
            continue
        ok.append(api)
    return ok


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (C libraries write there directly) for the duration of the block."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def list_ports(api: str = "auto") -> tuple[list[str], list[str]]:
    """Names of the ports one can send to (outputs) and receive from (inputs) on ``api``."""
    out = _open("out", api, "composer-list")
    inp = _open("in", api, "composer-list")
    try:
        return list(out.get_ports()), list(inp.get_ports())
    finally:
        out.delete()
        inp.delete()


def check_virtual() -> None:
    if sys.platform.startswith("win"):
        raise PortError("Windows MIDI (WinMM) has no virtual ports; pick an existing output port by name")


@dataclass
class OutputPort:
    """An open rtmidi output: ``send`` raw bytes; ``alive()`` is False once the destination is gone."""

    midi: object
    name: str
    target: str | None  # the destination port name, or None for a virtual port
    watcher: subprocess.Popen | None = None

    def send(self, message: tuple[int, ...] | list[int]) -> None:
        try:
            self.midi.send_message(message)
        except Exception as e:
            raise PortError(f"MIDI port {self.name!r} failed while sending: {e}") from None

    def watch(self, api: str) -> None:
        """Start the watchdog process (composer.live.watch) that exits once the target port is gone."""
        if self.target is not None and self.watcher is None:
            cmd = [sys.executable, "-m", "composer.live.watch", api, self.target]
            self.watcher = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    lookahead = 0.0  # messages are sent when due: the scheduler's absolute-time loop times them

    def send_at(self, message, due: float | None) -> None:
        self.send(message)

    def cancel(self) -> list[tuple[int, ...]]:
        return []  # nothing is queued on our side

    def drain(self, timeout: float = 0.0) -> None:
        """Nothing to wait for: ALSA, CoreMIDI and WinMM take each message synchronously."""

    def connections(self) -> int | None:
        return None  # rtmidi cannot tell who listens to a virtual port

    def alive(self) -> bool:
        """False once the destination port is gone; never blocks (only asks whether the watchdog runs)."""
        if self.watcher is None:
            return True
        return self.watcher.poll() != VANISHED

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.kill()
            self.watcher.wait()
        if self.midi is None:
            return
        midi, self.midi = self.midi, None  # closing twice would crash inside rtmidi
        try:
            midi.close_port()
            midi.delete()
        except Exception:
            pass


def open_output(api: str = "auto", port: str | None = None, virtual: str | None = None) -> OutputPort:
    """Open an existing output port by substring (``port``) or create a virtual one named ``virtual``.

    With neither given, a virtual port named "composer" is created.
    """
    if port is not None and virtual is not None:
        raise OptionError(
            "virtual", virtual, f"give either an existing port ({port!r}) or a virtual one, not both"
        )
    if port is None:
        check_virtual()
    if api == "jack":  # sample-accurate JACK-Client backend, imported only here
        from composer.live import jackmidi

        return jackmidi.open_output(port, virtual)
    if port is None:
        name = virtual or DEFAULT_VIRTUAL
        midi = _open("out", api, name)
        midi.open_virtual_port("out")
        return OutputPort(midi, f"{name}:out", None)
    midi = _open("out", api, "composer")
    names = list(midi.get_ports())
    index = pick(names, port, "output")
    midi.open_port(index, "out")  # ALSA/CoreMIDI/WinMM connect synchronously: no settling wait
    out = OutputPort(midi, names[index], names[index])
    out.watch(api)
    return out


@dataclass
class InputPort:
    """An open rtmidi input that calls ``callback(message, timestamp)`` for every message, clocks included."""

    midi: object
    name: str

    def close(self) -> None:
        if self.midi is None:
            return
        midi, self.midi = self.midi, None
        try:
            midi.cancel_callback()
            midi.close_port()
            midi.delete()
        except Exception:
            pass


def open_input(
    callback: Callable[[list[int], float], None],
    api: str = "auto",
    port: str | None = None,
    virtual: str | None = None,
    clock: Callable[[], float] | None = None,
) -> InputPort:
    """Open an input port (existing by substring, or virtual) and deliver each message to ``callback``.

    The timestamp passed is ``clock()`` at arrival (time.perf_counter by default), not rtmidi's delta;
    with ``api="jack"`` it is the message's frame in seconds, JACK output's clock.
    """
    clock = clock or time.perf_counter
    if api == "jack" and port is not None:  # stamped with its frame, on JackOutput's clock
        from composer.live import jackmidi

        return jackmidi.JackInput(callback, port)
    if port is None:
        check_virtual()
        name = virtual or DEFAULT_VIRTUAL
        midi = _open("in", api, name)
        midi.open_virtual_port("in")
        full = f"{name}:in"
    else:
        midi = _open("in", api, "composer")
        names = list(midi.get_ports())
        index = pick(names, port, "input")
        midi.open_port(index, "in")
        full = names[index]
    midi.ignore_types(sysex=True, timing=False, active_sense=True)
    midi.set_callback(lambda event, _data: callback(event[0], clock()))
    return InputPort(midi, full)
