"""Live playback: MIDI ports, an absolute-time scheduler, beat clock in and out, endless generation.

Only composer.live.ports imports rtmidi, and only when a port is opened.
"""

from composer.live.events import Timeline, from_midi_ticks, to_events, with_clock
from composer.live.ports import PortError, list_ports, open_input, open_output
from composer.live.scheduler import Player, PlayStats, play
from composer.live.session import PortOptions, play_file, play_live, play_score
from composer.live.stream import BarStream
from composer.live.sync import ClockFollower

__all__ = [
    "BarStream",
    "ClockFollower",
    "Player",
    "PlayStats",
    "PortError",
    "PortOptions",
    "Timeline",
    "from_midi_ticks",
    "list_ports",
    "open_input",
    "open_output",
    "play",
    "play_file",
    "play_live",
    "play_score",
    "to_events",
    "with_clock",
]
