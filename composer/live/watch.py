"""A watchdog process: exits with status 3 once a MIDI port is gone (python-rtmidi does not report it).

It runs apart from the player because listing ports is a round trip to the MIDI server that holds
the GIL and, on a loaded machine, can block for 100 ms: inside the player that would delay notes.
The player only asks the OS whether this process is still running, which never blocks.

    python -m composer.live.watch API PORT_NAME [INTERVAL]
"""

from __future__ import annotations

import os
import sys
import time

from composer.live.ports import VANISHED, _open


def main(argv: list[str]) -> int:
    api, name = argv[0], argv[1]
    interval = float(argv[2]) if len(argv) > 2 else 0.25
    parent = os.getppid()
    midi = _open("out", api, "composer-watch")
    while os.getppid() == parent:  # the player is gone: stop watching
        if name not in midi.get_ports():
            return VANISHED
        time.sleep(interval)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
