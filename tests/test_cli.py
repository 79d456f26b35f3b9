"""The foundation commands: --help, --version, corpus info, render (CliRunner and subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from composer import __version__, write_midi
from composer.cli import main
from composer.music import Note, Score, Track

COMPOSER = [sys.executable, "-c", "from composer.cli import main; main(prog_name='composer')"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*COMPOSER, *args], capture_output=True, text=True, timeout=120)


def test_help_and_version():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "corpus" in result.output and "render" in result.output
    assert CliRunner().invoke(main, ["-h"]).exit_code == 0
    proc = _run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"composer, version {__version__}"


def test_cli_module_imports_no_heavy_library():
    code = "import sys, composer.cli; print(sorted({'torch', 'music21', 'matplotlib'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_corpus_info_bach_json_in_a_subprocess():
    proc = _run("corpus", "info", "bach", "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert isinstance(info["pieces"], int) and info["pieces"] >= 350
    assert set(info["split"]) == {"train", "validation", "test"}
    assert all(isinstance(v, int) for v in info["split"].values())
    assert sum(info["split"].values()) == info["pieces"]
    assert isinstance(info["skipped"], list)
    assert all(set(s) == {"path", "reason"} for s in info["skipped"])
    assert set(info["vocab"]) == {"shift", "pitch", "duration", "track"}
    assert all(isinstance(v, int) and v > 2 for v in info["vocab"].values())
    assert info["notes"] > 50_000 and info["tokens"] >= info["notes"]


def test_corpus_info_bach_text_and_seed():
    result = CliRunner().invoke(main, ["corpus", "info", "bach"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].startswith("pieces      350")
    assert "split       train 280, validation 35, test 35" in result.stdout
    other = CliRunner().invoke(main, ["corpus", "info", "bach", "--seed", "3", "--json"])
    assert json.loads(other.stdout)["settings"]["seed"] == 3


def test_corpus_info_folder(tmp_path, cache_dir):
    (tmp_path / "songs" / "deep").mkdir(parents=True)
    for i in range(3):
        write_midi(
            Score([Track("x", 0, False, [Note(0, 4, 60 + i), Note(4, 4, 62)])]),
            tmp_path / "songs" / f"{i}.mid",
        )
    (tmp_path / "songs" / "deep" / "broken.midi").write_bytes(b"MThd\x00\x00")
    result = CliRunner().invoke(main, ["corpus", "info", str(tmp_path / "songs"), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["pieces"] == 3 and info["notes"] == 6
    assert sum(info["split"].values()) == 3
    assert [s["path"] for s in info["skipped"]] == ["deep/broken.midi"]
    assert "truncated" in info["skipped"][0]["reason"]
    text = CliRunner().invoke(main, ["corpus", "info", str(tmp_path / "songs")])
    assert "skipped     deep/broken.midi: " in text.stdout


def test_corpus_info_errors_exit_2_with_one_line(tmp_path):
    result = CliRunner().invoke(main, ["corpus", "info", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and "nowhere" in result.stderr
    proc = _run("corpus", "info", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_render_writes_a_png(tmp_path, bach):
    write_midi(bach.pieces[0], tmp_path / "chorale.mid")
    result = CliRunner().invoke(
        main, ["render", str(tmp_path / "chorale.mid"), "--png", str(tmp_path / "out.png")]
    )
    assert result.exit_code == 0, result.output
    data = (tmp_path / "out.png").read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 5000
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_render_without_png_option_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["render", str(tmp_path / "x.mid")])
    assert result.exit_code == 2 and "--png" in result.output
