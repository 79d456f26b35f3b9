"""MIDI folder ingestion in files/s: composer (symusic) against pretty_midi's bare parse, per core.

    python benchmarks/bench_ingest.py [--repeats 3]

Two folders, nothing downloaded: the 350 bach chorales written as MIDI by composer.write_midi, and
the 23 real MIDI files bundled with music21 (notation programs and sequencers, 2 to 6,400 notes).
Rows, each best of --repeats:

- pretty_midi.PrettyMIDI(f) per file: its bare parse, the reference;
- mido's reader (composer 0.1.0's read_midi, kept in tests/test_reader_equivalence.py);
- composer.read_midi per file (parse and quantize);
- load_corpus(folder, use_cache=False, workers=1): end to end in one process: parse, quantize,
  tokenize (summary and vocabulary), write the cache entry;
- the same with workers=2 (every core of this box; the pool needs 32 files, so chorales only).

The last column is files/s over pretty_midi's, per core. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _mido_reader():
    spec = importlib.util.spec_from_file_location("eq", REPO / "tests" / "test_reader_equivalence.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return lambda f: module._reference(f.read_bytes(), str(f))


def _table(title: str, root: Path, repeats: int) -> None:
    import pretty_midi

    from composer import load_corpus, read_midi

    files = sorted(root.glob("*.mid"))
    n, size = len(files), sum(f.stat().st_size for f in files)
    mido_read = _mido_reader()
    rows = [
        (
            "pretty_midi `PrettyMIDI(f)` (bare parse)",
            1,
            lambda: [pretty_midi.PrettyMIDI(str(f)) for f in files],
        ),
        ("mido reader (composer 0.1.0), parse + quantize", 1, lambda: [mido_read(f) for f in files]),
        ("composer `read_midi` (symusic), parse + quantize", 1, lambda: [read_midi(f) for f in files]),
        (
            "composer `load_corpus`, end to end, 1 worker",
            1,
            lambda: load_corpus(root, use_cache=False, workers=1),
        ),
    ]
    if n >= 32:
        rows.append(
            (
                "composer `load_corpus`, end to end, 2 workers",
                2,
                lambda: load_corpus(root, use_cache=False, workers=2),
            )
        )
    results = [(what, cores, _best(fn, repeats)) for what, cores, fn in rows]
    reference = n / results[0][2]
    print(f"\n{title}: {n} files, {size / 1024:.0f} KiB")
    print("| what | cores | seconds | files/s | files/s per core vs pretty_midi |")
    print("|---|---:|---:|---:|---:|")
    for what, cores, sec in results:
        print(f"| {what} | {cores} | {sec:.3f} | {n / sec:,.0f} | {n / sec / cores / reference:.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import music21

    from composer import load_corpus, write_midi

    pieces = load_corpus("bach").pieces
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COMPOSER_CACHE_DIR"] = str(Path(tmp) / "cache")
        chorales = Path(tmp) / "chorales"
        for i, s in enumerate(pieces):
            write_midi(s, chorales / f"{i:03d}-{s.title}.mid")
        real = Path(tmp) / "music21-midi"
        real.mkdir()
        for f in sorted(Path(music21.__file__).parent.rglob("*.mid")):
            (real / f.name).write_bytes(f.read_bytes())
        _table("bach chorales written as MIDI", chorales, args.repeats)
        _table("music21's bundled real MIDI files", real, args.repeats)


if __name__ == "__main__":
    main()
