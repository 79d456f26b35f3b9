"""MIDI folder ingestion in files/s: composer's load_corpus (cold) against pretty_midi's bare parse.

    python benchmarks/bench_ingest.py [--repeats 3]

The folder is the bach chorales written as MIDI files by composer.write_midi into a temporary
directory (nothing is downloaded). Rows: load_corpus(folder, use_cache=False) end to end (2 worker
processes, summary and cache write included); read_folder with 1 worker; composer.read_midi alone
per file; pretty_midi.PrettyMIDI per file. Best of --repeats runs. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import pretty_midi

    from composer import load_corpus, read_midi, write_midi
    from composer.corpora import midi_folder

    pieces = load_corpus("bach").pieces
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "chorales"
        for i, s in enumerate(pieces):
            write_midi(s, root / f"{i:03d}-{s.title}.mid")
        files = sorted(root.glob("*.mid"))
        size = sum(f.stat().st_size for f in files)
        os.environ["COMPOSER_CACHE_DIR"] = str(Path(tmp) / "cache")
        n = len(files)
        rows = [
            (
                "composer `load_corpus(folder, use_cache=False)`, 2 workers",
                _best(lambda: load_corpus(root, use_cache=False), args.repeats),
            ),
            (
                "composer `read_folder`, 1 worker",
                _best(lambda: midi_folder.read_folder(root, 4, workers=1), args.repeats),
            ),
            ("composer `read_midi` per file", _best(lambda: [read_midi(f) for f in files], args.repeats)),
            (
                "pretty_midi `PrettyMIDI(f)` per file (bare parse)",
                _best(lambda: [pretty_midi.PrettyMIDI(str(f)) for f in files], args.repeats),
            ),
        ]
    print(f"{n} files, {size / 1024:.0f} KiB in all")
    print("| what | seconds | files/s | ms/file |")
    print("|---|---:|---:|---:|")
    for what, sec in rows:
        print(f"| {what} | {sec:.2f} | {n / sec:.0f} | {1000 * sec / n:.1f} |")


if __name__ == "__main__":
    main()
