"""The folder ingest pool: a file that crashes or hangs its worker is skipped with its reason, the rest
are kept; odd file names (not UTF-8, control characters) are listed escaped, one line each."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from click.testing import CliRunner

from composer import read_midi, write_midi
from composer.cli import main
from composer.corpora import midi_folder, pool
from composer.music import Note, Score, Track


def _crashy_read(path: Path, resolution: int):
    """The worker's reader, except that it hangs on hang.mid and segfaults on crash.mid."""
    if path.name == "hang.mid":
        time.sleep(3600)
    if path.name == "crash.mid":
        os.kill(os.getpid(), signal.SIGSEGV)
    return midi_folder.read_one(path, resolution)


def _song(i: int) -> Score:
    return Score([Track("Lead", i % 8, False, [Note(4 * k, 4, 60 + (i + k) % 12) for k in range(4)])])


def test_a_crashed_or_hung_worker_costs_only_its_file(tmp_path):
    names = [f"{i:02d}.mid" for i in range(midi_folder.POOL_MIN_FILES)]
    for i, name in enumerate(names):
        write_midi(_song(i), tmp_path / name)
    for name in ("crash.mid", "hang.mid"):
        write_midi(_song(0), tmp_path / name)
    files = midi_folder.source_files(tmp_path)
    t0 = time.monotonic()
    results = pool.read_all(files, 4, _crashy_read, workers=2, timeout=3.0)
    assert time.monotonic() - t0 < 60
    by_name = {f.name: r for f, r in zip(files, results)}
    assert by_name["crash.mid"] == (None, f"the parser crashed (worker exit code {-signal.SIGSEGV})")
    assert by_name["hang.mid"] == (None, "timed out after 3 s (the parser hung)")
    for name in names:  # every other file read, exactly as in-process
        assert by_name[name] == (read_midi(tmp_path / name), ""), name


def test_a_crash_or_hang_inside_a_batch_costs_only_its_file(tmp_path):
    """Workers get 8 paths at once: the files after a crash or a hang in the same batch are read
    by another worker, not skipped."""
    names = [f"{i:02d}.mid" for i in range(40)]
    names[3], names[21] = "03-crash.mid", "21-hang.mid"
    for i, name in enumerate(names):
        write_midi(_song(i), tmp_path / name)
    files = midi_folder.source_files(tmp_path)
    assert [f.name for f in files] == names
    with pool.ReaderPool(_batch_read, 4, workers=2, timeout=3.0, batch=8) as readers:
        results = readers.read_all(files)
    assert results[3] == (None, f"the parser crashed (worker exit code {-signal.SIGSEGV})")
    assert results[21] == (None, "timed out after 3 s (the parser hung)")
    for i, name in enumerate(names):
        if i not in (3, 21):
            assert results[i] == (read_midi(tmp_path / name), ""), name


def _batch_read(path: Path, resolution: int):
    """The worker's reader, except that it segfaults on *-crash.mid and hangs on *-hang.mid."""
    if path.name.endswith("-crash.mid"):
        os.kill(os.getpid(), signal.SIGSEGV)
    if path.name.endswith("-hang.mid"):
        time.sleep(3600)
    return midi_folder.read_one(path, resolution)


def test_read_folder_uses_the_pool_and_lists_the_failures(tmp_path):
    for i in range(midi_folder.POOL_MIN_FILES):
        write_midi(_song(i), tmp_path / f"{i:02d}.mid")
    (tmp_path / "bad.mid").write_bytes(b"not midi")
    pieces, ids, skipped = midi_folder.read_folder(tmp_path, 4, workers=2)
    assert len(pieces) == midi_folder.POOL_MIN_FILES and ids == [f"{i:02d}.mid" for i in range(32)]
    assert skipped == [("bad.mid", "not a valid MIDI file (MThd not found. Probably not a MIDI file)")]
    assert pieces == [read_midi(tmp_path / i) for i in ids]


def test_results_cross_the_pipe_without_pickle_and_unchanged(bach):
    for score in bach.pieces[:5]:
        assert pool.from_bytes(pool.to_bytes(score, "")) == (score, "")
    assert pool.from_bytes(pool.to_bytes(None, "caf\udce9.mid: no notes")) == (
        None,
        "caf\udce9.mid: no notes",
    )


def test_non_utf8_and_control_character_names_are_listed_escaped(tmp_path, cache_dir):
    folder = tmp_path / "songs"
    folder.mkdir()
    write_midi(_song(1), folder / "good.mid")
    latin1 = os.path.join(os.fsencode(folder), b"caf\xe9.mid")
    with open(latin1, "wb") as f:
        f.write(b"not a MIDI file")
    write_midi(_song(2), os.fsdecode(os.path.join(os.fsencode(folder), b"ol\xe9.mid")))
    (folder / "two\nlines.mid").write_bytes(b"MThd")
    result = CliRunner().invoke(main, ["corpus", "info", str(folder)])
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stdout.splitlines() if line.startswith("skipped")]
    assert skipped == [
        "skipped     caf\\xe9.mid: not a valid MIDI file (MThd not found. Probably not a MIDI file)",
        "skipped     two\\nlines.mid: truncated MIDI file (it ends inside the header)",
    ]
    assert "pieces      2  (skipped 2)" in result.stdout
    as_json = CliRunner().invoke(main, ["corpus", "info", str(folder), "--json"])
    info = json.loads(as_json.stdout)
    assert sorted(s["path"] for s in info["skipped"]) == ["caf\udce9.mid", "two\nlines.mid"]


def test_workers_option(tmp_path, cache_dir):
    for i in range(midi_folder.POOL_MIN_FILES):
        write_midi(_song(i), tmp_path / f"{i:02d}.mid")
    result = CliRunner().invoke(main, ["corpus", "info", str(tmp_path), "--workers", "2", "--no-cache"])
    assert result.exit_code == 0 and "pieces      32  (skipped 0)" in result.stdout
    result = CliRunner().invoke(main, ["corpus", "info", str(tmp_path), "--workers", "0"])
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and "--workers" in result.stderr
