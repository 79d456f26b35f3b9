"""Bad MIDI input: each family gives one MidiError naming the file, and one line + exit 2 in the CLI.

Odd but valid files (type 2, running status, velocity-0 note-offs, unclosed notes) load.
"""

from __future__ import annotations

import io
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from composer import load_corpus, midi_io, read_midi, write_midi
from composer.cli import main
from composer.errors import MidiError
from composer.music import Note, Score, Track
from tests.data.make_fixtures import fixtures

DATA = Path(__file__).resolve().parent / "data"


BAD = {  # fixture -> words its message must hold
    "not-midi.mid": "not a valid MIDI file",
    "empty.mid": "empty file",
    "truncated.mid": "truncated",
    "zero-tracks.mid": "no tracks",
    "smpte.mid": "SMPTE",
    "zero-ticks-per-beat.mid": "ticks_per_beat is 0",
    "huge-delta.mid": "absurd length",
    "data-byte-over-127.mid": "data byte",
    "invalid-key-signature.mid": "KeySignatureError",
    "missing-tracks.mid": "claims 3 tracks",
    "track-count-ffff.mid": "claims 65535 tracks",
    "hours-long.mid": "hours",
}


def test_fixtures_are_what_make_fixtures_writes():
    for name, data in fixtures().items():
        assert (DATA / name).read_bytes() == data, f"run python tests/data/make_fixtures.py ({name})"
    assert len((DATA / "hours-long.mid").read_bytes()) == 44


@pytest.mark.parametrize("name", sorted(BAD))
def test_read_midi_raises_one_line_naming_the_file(name):
    path = DATA / name
    with pytest.raises(MidiError) as err:
        read_midi(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert BAD[name] in message
    assert "\n" not in message


@pytest.mark.parametrize("name", sorted(BAD))
def test_render_bad_file_exits_2_with_one_line(name, tmp_path):
    result = CliRunner().invoke(main, ["render", str(DATA / name), "--png", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and name in lines[0] and BAD[name] in lines[0]
    assert result.stdout == ""
    assert not (tmp_path / "x.png").exists()


COMPOSER = [sys.executable, "-c", "from composer.cli import main; main(prog_name='composer')"]


def _limit_memory():  # 2 GiB of address space: a parser that tried to allocate an absurd roll would fail
    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))


@pytest.mark.parametrize("name", ["not-midi.mid", "hours-long.mid", "track-count-ffff.mid", "huge-delta.mid"])
def test_render_bad_file_in_a_subprocess_has_no_traceback(name, tmp_path):
    proc = subprocess.run(
        [*COMPOSER, "render", str(DATA / name), "--png", str(tmp_path / "x.png")],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_memory,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and name in proc.stderr


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MidiError, match=f"^{tmp_path / 'nope.mid'}: cannot read file"):
        read_midi(tmp_path / "nope.mid")
    with pytest.raises(MidiError, match=f"^{tmp_path}: cannot read file .it is a folder, not a MIDI file.$"):
        read_midi(tmp_path)
    result = CliRunner().invoke(
        main, ["render", str(tmp_path / "nope.mid"), "--png", str(tmp_path / "x.png")]
    )
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and "nope.mid" in result.stderr


def test_millions_of_notes_are_capped(monkeypatch):
    assert read_midi(DATA / "many-notes.mid").n_notes == 1000
    monkeypatch.setattr(midi_io, "MAX_NOTES", 500)
    with pytest.raises(MidiError, match="more than 500 notes"):
        read_midi(DATA / "many-notes.mid")


def test_file_size_is_capped(monkeypatch):
    monkeypatch.setattr(midi_io, "MAX_FILE_BYTES", 4096)
    with pytest.raises(MidiError, match="many-notes.mid: file is 6,027 bytes, over the 4,096-byte limit"):
        read_midi(DATA / "many-notes.mid")


class _Endless(io.RawIOBase):
    """An endless stream of zero bytes that counts what was read from it."""

    def __init__(self):
        self.served = 0

    def readable(self):
        return True

    def readinto(self, b):
        b[:] = bytes(len(b))
        self.served += len(b)
        return len(b)


def test_endless_input_is_read_only_up_to_the_limit(monkeypatch):
    monkeypatch.setattr(midi_io, "MAX_FILE_BYTES", 4096)
    with pytest.raises(MidiError, match="^/dev/zero: more than 4,096 bytes, over the 4,096-byte limit"):
        read_midi("/dev/zero")
    endless = _Endless()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(endless, buffer_size=1024)))
    with pytest.raises(MidiError, match="^<stdin>: more than 4,096 bytes"):
        midi_io.read_midi_ticks("-")
    assert endless.served <= 4096 + 1024


def test_read_midi_ticks_from_stdin_applies_the_same_checks(monkeypatch):
    data = (DATA / "many-notes.mid").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    midi = midi_io.read_midi_ticks("-")
    assert midi.name == "<stdin>" and sum(len(p.notes) for p in midi.parts) == 1000
    monkeypatch.setattr(midi_io, "MAX_STEPS", 100)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    with pytest.raises(MidiError, match="^<stdin>: absurd length"):
        midi_io.read_midi_ticks("-")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    with pytest.raises(MidiError, match="^<stdin>: empty file"):
        midi_io.read_midi_ticks("-")


def test_steps_cap(monkeypatch):
    monkeypatch.setattr(midi_io, "MAX_STEPS", 100)
    with pytest.raises(MidiError, match="absurd length"):
        read_midi(DATA / "many-notes.mid")  # 1000 one-step notes


def test_odd_but_valid_files_load():
    def notes(name):
        return [t.notes for t in read_midi(DATA / name).tracks]

    c4 = Note(0, 4, 60, 64)
    assert notes("type2.mid") == [[c4], [Note(4, 4, 64, 64)]]  # type 2: tracks play one after another
    assert notes("running-status.mid") == [[c4, Note(0, 4, 64, 64), Note(0, 4, 67, 64)]]
    assert notes("velocity-zero-note-off.mid") == [[Note(0, 2, 60, 64)]]
    assert notes("unclosed-notes.mid") == [[Note(0, 4, 64, 64), Note(0, 8, 60, 64)]]  # closed at track end
    zero_tempo = read_midi(DATA / "zero-tempo.mid")
    assert zero_tempo.bpm == 120.0 and zero_tempo.tracks[0].notes == [c4]
    odd_meter = read_midi(DATA / "meter-1-32.mid")  # a 1/32 bar is half a step: ignored
    assert odd_meter.time_signature == (4, 4) and odd_meter.n_bars == 1


def test_a_folder_of_every_bad_file_keeps_its_one_good_file(tmp_path, cache_dir):
    for name in BAD:
        shutil.copy(DATA / name, tmp_path / name)
    good = Score([Track("Lead", 0, False, [Note(0, 4, 60), Note(4, 4, 62)])])
    write_midi(good, tmp_path / "good.mid")
    corpus = load_corpus(tmp_path)
    assert corpus.ids == ["good.mid"]
    assert corpus.pieces[0].tracks == good.tracks
    assert sorted(p for p, _ in corpus.skipped) == sorted(BAD)
    result = CliRunner().invoke(main, ["corpus", "info", str(tmp_path), "--json"])
    assert result.exit_code == 0


def test_a_folder_of_only_bad_files_exits_2(tmp_path, cache_dir):
    for name in BAD:
        shutil.copy(DATA / name, tmp_path / name)
    result = CliRunner().invoke(main, ["corpus", "info", str(tmp_path)])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and "no usable piece" in result.stderr
