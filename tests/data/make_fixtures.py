"""Write the tiny MIDI fixtures in tests/data, one file per case, named by the case.

The malformed ones are built byte by byte with struct (no MIDI library writes a broken file on
purpose). Run ``python tests/data/make_fixtures.py`` to rewrite them; test_bad_input.py checks that
the committed files match what this script makes.
"""

from __future__ import annotations

import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
EOT = b"\x00\xff\x2f\x00"  # delta 0, end of track
NOTE = b"\x00\x90\x3c\x40" + b"\x60\x80\x3c\x40"  # C4 on at 0, off 96 ticks later (one beat at 96 tpb)


def header(fmt: int = 1, ntracks: int = 1, division: int = 96, length: int = 6) -> bytes:
    return b"MThd" + struct.pack(">IHHH", length, fmt, ntracks, division)


def track(body: bytes) -> bytes:
    return b"MTrk" + struct.pack(">I", len(body)) + body


def smf(*bodies: bytes, fmt: int = 1, ntracks: int | None = None, division: int = 96) -> bytes:
    n = len(bodies) if ntracks is None else ntracks
    return header(fmt, n, division) + b"".join(track(b) for b in bodies)


def vlq(n: int) -> bytes:
    """MIDI variable-length quantity (7 bits per byte, high bit set on all but the last)."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def many_notes(n: int) -> bytes:
    """n one-step notes in a row, with running status (note-on velocity 0 as note-off)."""
    body = b"\x00\x90\x3c\x40\x18\x3c\x00" + b"\x00\x3c\x40\x18\x3c\x00" * (n - 1)
    return smf(body + EOT)


def fixtures() -> dict[str, bytes]:
    """File name -> bytes for every fixture."""
    good = smf(NOTE + EOT)
    return {
        # Bad input: each must give one MidiError naming the file.
        "not-midi.mid": b"This is a text file that someone named .mid\n",
        "empty.mid": b"",
        "truncated.mid": good[:-6],
        "zero-tracks.mid": header(ntracks=0),
        "smpte.mid": smf(NOTE + EOT, division=0xE728),  # -25 frames per second, 40 ticks per frame
        "zero-ticks-per-beat.mid": smf(NOTE + EOT, division=0),
        "huge-delta.mid": smf(NOTE + b"\xff\xff\xff\x7f\x90\x3c\x40\x60\x80\x3c\x40" + EOT),
        "data-byte-over-127.mid": smf(b"\x00\x90\xc8\x40\x60\x80\x3c\x40" + EOT),
        "invalid-key-signature.mid": smf(b"\x00\xff\x59\x02\x09\x00" + NOTE + EOT),  # 9 sharps
        "missing-tracks.mid": smf(NOTE + EOT, ntracks=3),
        "track-count-ffff.mid": smf(NOTE + EOT, ntracks=0xFFFF),
        # 44 bytes: the slowest tempo (16.7 s per beat) and a 2**28-tick delta make about 38 hours.
        "hours-long.mid": smf(
            b"\x00\xff\x51\x03\xff\xff\xff" + b"\x00\x90\x3c\x40" + b"\xff\xff\xff\x7f\x80\x3c\x40" + EOT,
            division=0x7FFF,
        ),
        "many-notes.mid": many_notes(1000),
        # 43 bytes: one whole note of 119,960 beats at 1,000 bpm is 29,990 bars in just under 2 hours.
        "many-bars.mid": smf(
            b"\x00\xff\x51\x03\x00\xea\x60" + b"\x00\x90\x3c\x40" + vlq(119_960) + b"\x80\x3c\x40" + EOT,
            division=1,
        ),
        # Odd but valid: each loads.
        "type2.mid": smf(NOTE + EOT, b"\x00\x90\x40\x40\x60\x80\x40\x40" + EOT, fmt=2),
        "running-status.mid": smf(
            b"\x00\x90\x3c\x40\x00\x40\x40\x00\x43\x40\x60\x3c\x00\x00\x40\x00\x00\x43\x00" + EOT
        ),
        "velocity-zero-note-off.mid": smf(b"\x00\x90\x3c\x40\x30\x90\x3c\x00" + EOT),
        "unclosed-notes.mid": smf(b"\x00\x90\x3c\x40\x00\x90\x40\x40\x60\x80\x40\x40\x60\xff\x2f\x00"),
        "zero-tempo.mid": smf(b"\x00\xff\x51\x03\x00\x00\x00" + NOTE + EOT),
        "meter-1-32.mid": smf(b"\x00\xff\x58\x04\x01\x05\x18\x08" + NOTE + EOT),
    }


def main() -> None:
    for name, data in fixtures().items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    main()
