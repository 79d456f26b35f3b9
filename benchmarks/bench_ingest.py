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
- the same with workers=2 (every core of this box; the pool needs 32 files, so chorales only);
- `composer corpus prepare` (prepare_shards) into a fresh cache, 1 and 2 workers: parse, quantize,
  count events, write the shards (notes never become Note objects in the parent).

Each row gives wall and CPU seconds (CPU of this process: the 1-worker rows do all their work here),
so that the per-core ratio can be read on CPU time when the box is shared. The goal (issue 12) is
the `corpus prepare` 1-worker row at >= 20x pretty_midi per core by CPU, on the real files.

composer's readers ask glibc to keep freed heap between files (corpora.pool.keep_freed_memory, as
its worker processes do); it is set here before the first row, so pretty_midi runs with it too.

The last column is files/s over pretty_midi's, per core. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRATCH = [tempfile.gettempdir()]  # where the cold preparations write (main's temporary folder)


def _best(fn, repeats: int, min_seconds: float = 2.0) -> tuple[float, float]:
    """(wall, CPU) seconds, each the least of ``repeats`` runs, or of as many as take
    ``min_seconds`` (a 23-file folder takes milliseconds, and one hiccup of a shared box would
    decide a best of 3); on a shared box the run with the least wall time is not always the one
    with the least CPU. CPU of this process only."""
    times = []
    t_end = time.perf_counter() + min_seconds
    while len(times) < repeats or (time.perf_counter() < t_end and len(times) < 500):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    return min(w for w, _ in times), min(c for _, c in times)


def _prepare_cold(root: Path, workers: int) -> None:
    """`composer corpus prepare` end to end into a fresh cache (no shard kept from a previous run)."""
    from composer.corpora.shards import prepare_shards

    os.environ["COMPOSER_CACHE_DIR"] = tempfile.mkdtemp(prefix="shards-", dir=SCRATCH[0])
    prepare_shards(root, workers=workers)


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
    rows.append(
        ("composer `corpus prepare` (shards), end to end, 1 worker", 1, lambda: _prepare_cold(root, 1))
    )
    if n >= 32:
        rows.append(
            ("composer `corpus prepare` (shards), end to end, 2 workers", 2, lambda: _prepare_cold(root, 2))
        )
        rows.append(
            (
                "composer `load_corpus`, end to end, 2 workers",
                2,
                lambda: load_corpus(root, use_cache=False, workers=2),
            )
        )
    results = [(what, cores, *_best(fn, repeats)) for what, cores, fn in rows]
    reference, reference_cpu = n / results[0][2], n / results[0][3]
    print(f"\n{title}: {n} files, {size / 1024:.0f} KiB, load average {os.getloadavg()[0]:.1f}")
    print(
        "| what | cores | wall s | CPU s | CPU ms/file | files/s | per core vs pretty_midi (wall) | (CPU) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for what, cores, sec, cpu in results:
        by_cpu = f"{n / cpu / reference_cpu:.1f}x" if cores == 1 else "-"  # workers' CPU is not counted
        per_file = f"{cpu / n * 1e3:.3f}" if cores == 1 else "-"
        print(
            f"| {what} | {cores} | {sec:.3f} | {cpu:.3f} | {per_file} | {n / sec:,.0f} | "
            f"{n / sec / cores / reference:.1f}x | {by_cpu} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from composer.corpora.pool import keep_freed_memory

    keep_freed_memory()  # every row alike (see the module docstring)

    import music21

    from composer import load_corpus, write_midi

    pieces = load_corpus("bach").pieces
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COMPOSER_CACHE_DIR"] = str(Path(tmp) / "cache")
        SCRATCH[0] = tmp
        chorales = Path(tmp) / "chorales"
        chorales.mkdir()  # write_midi writes into existing folders only
        for i, s in enumerate(pieces):
            write_midi(s, chorales / f"{i:03d}-{s.title}.mid")
        # The chorales' 80,000 Note objects would make every garbage collection of every row slower
        # than in a `composer corpus prepare` process, which holds none.
        del pieces, s
        gc.collect()
        real = Path(tmp) / "music21-midi"
        real.mkdir()
        for f in sorted(Path(music21.__file__).parent.rglob("*.mid")):
            (real / f.name).write_bytes(f.read_bytes())
        _table("bach chorales written as MIDI", chorales, args.repeats)
        _table("music21's bundled real MIDI files", real, args.repeats)


if __name__ == "__main__":
    main()
