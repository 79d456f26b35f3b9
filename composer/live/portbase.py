"""What every MIDI backend shares (rtmidi in composer.live.ports, JACK in composer.live.jackmidi): the
port errors, the default virtual port name, and choosing a port by name."""

from __future__ import annotations

from composer.errors import ComposerError

DEFAULT_VIRTUAL = "composer"


class PortError(ComposerError):
    """A MIDI backend or port that cannot be used: unknown name, missing backend, vanished port."""


class ApiUnavailable(PortError):
    """A MIDI API whose backend does not start here (no ALSA sequencer, no JACK server); ``working``
    lists the APIs that do, which the CLI offers as its ``--api`` choices."""

    def __init__(self, api: str, why: str, working: list[str]):
        self.api, self.why, self.working = api, why, working
        super().__init__(self.describe(str))

    def describe(self, choice) -> str:
        """The message, each working API written as ``choice(api)``."""
        if self.working:
            tail = "MIDI APIs that work here: " + ", ".join(choice(a) for a in self.working)
        else:
            hint = "" if self.api == "jack" else f" (start a JACK server for {choice('jack')})"
            tail = f"no other MIDI API works on this machine{hint}"
        return f"MIDI API {self.api!r} is not available here{self.why}; {tail}"


class DeliveryError(PortError):
    """Messages handed to a port could not be confirmed as delivered (a stalled or vanished server)."""


def pick(names: list[str], wanted: str, what: str) -> int:
    """Index of the port whose name contains ``wanted`` (an exact match wins over substrings)."""
    if wanted in names:
        return names.index(wanted)
    hits = [i for i, n in enumerate(names) if wanted.lower() in n.lower()]
    if len(hits) == 1:
        return hits[0]
    listing = ", ".join(repr(n) for n in names) or "none"
    if hits:
        raise PortError(
            f"{what} port {wanted!r} is ambiguous; it matches {', '.join(repr(names[i]) for i in hits)}"
        )
    raise PortError(f"no {what} port matches {wanted!r}; available {what} ports: {listing}")
