"""Outputs written as a careful Unix tool writes them, and the CLI's one-line errors around them.

Files, links and FIFOs are made in a temp dir; no test touches a real device.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from composer.atomic import write_output
from composer.cli import main
from composer.errors import OutputClosed, OutputError, show_path
from composer.midi_io import write_midi
from composer.music import Note, Score, Track

ROOT = Path(__file__).resolve().parents[1]
SCORE = Score(tracks=[Track("a", 0, False, [Note(0, 4, 60)])])


def _read_fifo(path: Path, into: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: into.append(path.read_bytes()), daemon=True)
    thread.start()
    return thread


def test_a_regular_file_is_replaced_atomically_keeping_its_permissions(tmp_path):
    out = tmp_path / "x.mid"
    out.write_bytes(b"old")
    out.chmod(0o640)
    inode = out.stat().st_ino
    write_output(b"new", out)
    assert out.read_bytes() == b"new" and out.stat().st_ino != inode  # a new file, renamed into place
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["x.mid"]  # no temporary file left


def test_a_symlink_is_written_through_to_its_target(tmp_path):
    target = tmp_path / "real" / "x.mid"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "link.mid"
    link.symlink_to(target)
    write_output(b"new", link)
    assert link.is_symlink() and os.readlink(link) == str(target) and target.read_bytes() == b"new"


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.mid"
    link.symlink_to(tmp_path / "made.mid")
    write_output(b"new", link)
    assert link.is_symlink() and (tmp_path / "made.mid").read_bytes() == b"new"


def test_a_fifo_is_written_in_place_never_replaced(tmp_path):
    fifo = tmp_path / "out.mid"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    write_midi(SCORE, fifo)
    reader.join(10)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and got[0].startswith(b"MThd")


def test_a_missing_folder_is_an_error_and_is_not_created(tmp_path):
    with pytest.raises(
        OutputError, match=r"missing/dir/x.mid: cannot write \(no such folder: .*missing/dir\)$"
    ):
        write_output(b"x", tmp_path / "missing" / "dir" / "x.mid")
    assert not (tmp_path / "missing").exists()


def test_a_folder_is_not_replaced(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        write_output(b"x", tmp_path)


class _Full:
    """A binary stream whose device is full, as /dev/full would be (injected: no real device)."""

    name = "full.mid"

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self):
        pass


def test_a_full_disk_is_one_line():
    with pytest.raises(OutputError, match=r"^full.mid: cannot write \(No space left on device\)$"):
        write_output(b"x", _Full())


def test_a_full_disk_during_an_atomic_write_leaves_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "x.mid"
    out.write_bytes(b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match="No space left on device"):
        write_output(b"new", out)
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.mid"]


def test_a_closed_pipe_is_output_closed():
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "wb") as f, pytest.raises(OutputClosed):
        write_output(b"x" * 100_000, f)


def _composer(*args: str, **kw) -> subprocess.CompletedProcess:
    code = "from composer.cli import main; main()"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, **kw)


def test_generate_into_a_closed_pipe_exits_quietly_as_cat_does():
    code = "from composer.cli import main; main()"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "generate", "--bars", "4"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader goes away, as `| true` does
    err = proc.stderr.read()
    assert proc.wait(60) == 141 and err == b""


def test_generate_to_a_missing_folder_is_one_line_and_makes_nothing(tmp_path):
    out = tmp_path / "missing" / "x.mid"
    result = CliRunner().invoke(main, ["generate", "-o", str(out)])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "no such folder" in result.output and not out.parent.exists()


def test_format_follows_the_extension_and_a_contradiction_is_an_error(tmp_path):
    xml = tmp_path / "x.musicxml"
    assert CliRunner().invoke(main, ["generate", "--bars", "1", "-o", str(xml)]).exit_code == 0
    assert xml.read_bytes().lstrip().startswith(b"<?xml")
    mid = tmp_path / "x.mid"
    result = CliRunner().invoke(main, ["generate", "-o", str(mid), "--format", "musicxml"])
    assert result.exit_code == 2 and not mid.exists()
    assert result.output == f"composer: error: -o {mid} names a midi file, but --format is musicxml\n"
    other = tmp_path / "x.out"
    assert CliRunner().invoke(main, ["generate", "--bars", "1", "-o", str(other)]).exit_code == 0
    assert other.read_bytes().startswith(b"MThd")


def test_generate_into_a_fifo_writes_it_in_place(tmp_path):
    fifo = tmp_path / "fifo.mid"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    result = CliRunner().invoke(main, ["generate", "--bars", "1", "-o", str(fifo)])
    reader.join(10)
    assert result.exit_code == 0 and got[0].startswith(b"MThd") and stat.S_ISFIFO(os.lstat(fifo).st_mode)


# Option ranges: NaN and inf refused, every advertised value works.


@pytest.mark.parametrize(
    "args",
    [
        ["generate", "--temperature", "nan"],
        ["generate", "--temperature", "inf"],
        ["generate", "--top-p", "nan"],
        ["generate", "--bpm", "nan"],
        ["generate", "--bpm", "3.9"],
        ["play", "x.mid", "--bpm", "-inf"],
        ["train", "--lr", "nan"],
        ["train", "--model", "musegan", "--width", "nan"],
        ["train", "--model", "musegan", "--width", "inf"],
    ],
)
def test_nan_inf_and_out_of_range_numbers_are_one_line(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "is not a finite number in" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("bpm", ["4", "1000"])
def test_the_advertised_bpm_range_works(tmp_path, bpm):
    out = tmp_path / "x.mid"
    assert CliRunner().invoke(main, ["generate", "--bars", "1", "--bpm", bpm, "-o", str(out)]).exit_code == 0
    from composer.midi_io import read_midi

    assert abs(read_midi(out).bpm - float(bpm)) < 0.01


def test_a_tempo_no_midi_file_can_hold_is_an_error_not_a_crash(tmp_path):
    from composer.errors import ComposerError

    with pytest.raises(ComposerError, match=r"tempo 2.0 bpm: a MIDI file holds 3.58 to"):
        write_midi(Score(tracks=SCORE.tracks, bpm=2.0), tmp_path / "x.mid")


# File names: undecodable bytes and control characters escaped, on one line.


def test_show_path_escapes_bytes_and_control_characters():
    assert show_path(os.fsdecode(b"caf\xe9.mid")) == "caf\\xe9.mid"
    assert show_path("a\nb\x1b[31m.mid") == "a\\nb\\x1b[31m.mid"
    assert show_path("café.mid") == "café.mid"
    assert show_path(b"x\xff") == "x\\xff"


@pytest.mark.parametrize("name", [b"caf\xe9", b"new\nline"])
def test_odd_file_names_are_one_escaped_line(tmp_path, name):
    folder = os.path.join(os.fsencode(tmp_path), name)
    os.mkdir(folder)
    result = _composer("generate", "--checkpoint", os.fsdecode(folder), "-o", str(tmp_path / "x.mid"))
    err = result.stderr.decode()
    assert result.returncode == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert show_path(os.fsdecode(name)) in err
    missing = os.path.join(folder, name, b"x.mid")
    result = _composer("generate", "-o", os.fsdecode(missing))
    assert result.returncode == 2 and result.stderr.decode().count("\n") == 1


@pytest.mark.parametrize("command", ["generate", "train", "play", "live"])
def test_help_shows_the_finite_ranges(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and re.search(r"FLOAT [\[(][0-9]", result.output)


def test_dev_stdout_style_links_to_a_pipe_are_written_in_place(tmp_path):
    read, write = os.pipe()
    link = tmp_path / "stdout"
    link.symlink_to(f"/proc/self/fd/{write}")
    if not os.path.exists(link):
        pytest.skip("no /proc/self/fd")
    write_output(b"MThd", link)
    os.close(write)
    assert os.read(read, 10) == b"MThd" and link.is_symlink()
    os.close(read)
