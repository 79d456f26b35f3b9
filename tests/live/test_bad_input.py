"""Bad input to live playback fails with one line and exit 2 before any MIDI port is opened.

No JACK needed: opening a port would fail the test (``open_output`` is replaced), so each error
must come from reading the file or checking the options first.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from composer import midi_io
from composer.cli import main
from composer.errors import OptionError
from composer.live import session
from composer.live.session import PortOptions, play_live
from composer.music import Note, Score, Track

DATA = Path(__file__).resolve().parents[1] / "data"
COMPOSER = [sys.executable, "-c", "from composer.cli import main; main(prog_name='composer')"]


@pytest.fixture
def no_ports(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a MIDI port was opened for bad input")

    monkeypatch.setattr(session, "open_output", refuse)
    monkeypatch.setattr(session, "open_input", refuse)


def _one_line_exit_2(args, input=None):
    result = CliRunner().invoke(main, args, input=input)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "name, why",
    [
        ("not-midi.mid", "not a valid MIDI file"),
        ("truncated.mid", "truncated"),
        ("hours-long.mid", "absurd length of"),
        ("huge-delta.mid", "absurd length"),
        ("smpte.mid", "SMPTE"),
    ],
)
def test_play_bad_or_absurd_file_is_one_line(no_ports, name, why):
    line = _one_line_exit_2(["play", str(DATA / name), "--port", "nowhere"])
    assert f"{DATA / name}: " in line and why in line


def test_play_folder_is_one_line(no_ports, tmp_path):
    line = _one_line_exit_2(["play", str(tmp_path), "--port", "nowhere"])
    assert f"{tmp_path}: " in line and "is a folder, not a MIDI file" in line


def test_play_oversized_stdin_is_one_line(no_ports, monkeypatch):
    monkeypatch.setattr(midi_io, "MAX_FILE_BYTES", 4096)
    data = (DATA / "many-notes.mid").read_bytes()  # 6,027 bytes of valid MIDI
    line = _one_line_exit_2(["play", "-", "--port", "nowhere"], input=data)
    assert "<stdin>: more than 4,096 bytes, over the 4,096-byte limit" in line


def test_play_too_many_notes_on_stdin_is_one_line(no_ports, monkeypatch):
    monkeypatch.setattr(midi_io, "MAX_NOTES", 500)
    data = (DATA / "many-notes.mid").read_bytes()
    line = _one_line_exit_2(["play", "-", "--port", "nowhere"], input=data)
    assert "<stdin>: more than 500 notes" in line


def _limit_memory():  # 1 GiB of address space: reading endless input whole would fail
    resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
@pytest.mark.parametrize("source", ["-", "/dev/zero"])
def test_play_endless_input_stops_at_the_size_limit(source):
    with open("/dev/zero", "rb") as zeros:  # as stdin: endless input
        proc = subprocess.run(
            [*COMPOSER, "play", source, "--port", "nowhere"],
            stdin=zeros,
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=_limit_memory,
        )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    name = "<stdin>" if source == "-" else source
    assert f"{name}: more than {midi_io.MAX_FILE_BYTES:,} bytes" in proc.stderr


def _four_track_bars():
    while True:
        yield Score(tracks=[Track(name=f"t{i}", notes=[Note(0, 4, 60 + i)]) for i in range(4)])


def test_live_with_fewer_channels_than_tracks_fails_before_playback(no_ports):
    with pytest.raises(OptionError, match=r"^channels 1,2: 2 channels for 4 tracks$"):  # the CLI: --channels
        play_live(_four_track_bars(), PortOptions(port="nowhere"), n_bars=2, channels=[0, 1])
