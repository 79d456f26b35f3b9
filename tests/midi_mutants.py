"""Seeded MIDI mutants for the fuzz test and benchmarks/bench_fuzz.py: broken copies of good files.

Each mutation is one of the ways real files go wrong or an attacker would try: byte flips,
truncations, chunk-length edits, huge delta times, header edits and message floods.
"""

from __future__ import annotations

import random
import struct

KINDS = ("flip", "truncate", "chunk", "delta", "header", "flood", "splice")


def mutate(data: bytes, rng: random.Random, kind: str | None = None) -> tuple[str, bytes]:
    """(kind, mutant) of ``data``; ``kind`` is drawn from KINDS when not given."""
    kind = kind or rng.choice(KINDS)
    out = bytearray(data)
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del out[rng.randrange(len(out)) :]
    elif kind == "chunk":  # a track chunk's length made shorter, longer or absurd
        at = _chunk_offsets(data)
        if at:
            pos = rng.choice(at) + 4
            size = struct.unpack(">I", data[pos : pos + 4])[0]
            new = rng.choice([0, max(0, size - rng.randint(1, 9)), size + rng.randint(1, 9), 0xFFFFFFFF])
            out[pos : pos + 4] = struct.pack(">I", new)
    elif kind == "delta":  # a huge delta time (up to 2**28 - 1 ticks) inserted before an event
        pos = rng.choice(_chunk_offsets(data) or [0]) + 8
        out[pos:pos] = rng.choice([b"\xff\xff\xff\x7f", b"\x8f\xff\xff\x7f\x90\x3c\x40"])
    elif kind == "header":  # format, track count or division
        field = rng.choice([8, 10, 12])
        value = rng.choice([0, 1, 2, 3, 0x7FFF, 0x8000, 0xE728, 0xFFFF, rng.randrange(65536)])
        out[field : field + 2] = struct.pack(">H", value)
    elif kind == "flood":  # one message repeated, with running status, inside the first track
        message = rng.choice([b"\x00\x3c\x40", b"\x00\x3c\x00", b"\x00\x10", b"\x01\x3c\x40\x01\x3c\x00"])
        status = {3: b"\x00\x90\x3c\x40", 2: b"\x00\xd0\x10"}.get(len(message), b"\x00\x90\x3c\x40")
        at = _chunk_offsets(data)
        if at:
            pos = at[0]
            flood = status + message * rng.choice([1000, 30000])
            size = struct.unpack(">I", data[pos + 4 : pos + 8])[0] + len(flood)
            out[pos + 8 : pos + 8] = flood
            out[pos + 4 : pos + 8] = struct.pack(">I", size)
    elif kind == "splice":  # a random run of bytes copied over another place
        a, b = rng.randrange(len(out)), rng.randrange(len(out))
        n = rng.randint(1, 32)
        out[b : b + n] = data[a : a + n]
    return kind, bytes(out)


def _chunk_offsets(data: bytes) -> list[int]:
    """Offsets of the MTrk chunk headers, following the chunk lengths from the MThd header."""
    offsets, pos = [], 8 + (struct.unpack(">I", data[4:8])[0] if len(data) >= 8 else 0)
    while pos + 8 <= len(data) and data[pos : pos + 4] == b"MTrk":
        offsets.append(pos)
        pos += 8 + struct.unpack(">I", data[pos + 4 : pos + 8])[0]
    return offsets
