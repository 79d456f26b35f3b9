"""The command line: --help, --version, corpus info, render (CliRunner and subprocess), every command's
examples, and train/generate/evaluate --model musegan end to end on a tiny size."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from composer import __version__, read_midi, write_midi
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


def _commands(group, path=()):
    for name, command in sorted(group.commands.items()):
        yield (*path, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


def test_every_command_help_ends_with_examples_of_that_command():
    from click.testing import CliRunner

    from composer.cli import main

    paths = [(), *_commands(main)]
    assert ("corpus", "info") in paths and ("train",) in paths and ("live",) in paths
    for path in paths:
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, path
        examples = [line.strip() for line in result.output.split("Examples:\n")[1].splitlines()]
        assert all(line.startswith("composer ") for line in examples), path
        assert any(line.startswith(" ".join(("composer", *path))) for line in examples), path


def test_train_20_steps_then_generate_and_evaluate(tmp_path, one_thread):
    out = tmp_path / "run"
    args = ["train", "--corpus", "bach", "--model", "musegan", "--steps", "20", "--out", str(out)]
    result = CliRunner().invoke(main, args + ["--size", "tiny", "--batch-size", "8", "--sample-every", "10"])
    assert result.exit_code == 0, result.output
    assert (out / "meta.json").exists() and (out / "samples" / "step-000020.png").exists()
    midi = tmp_path / "out.mid"
    args = ["generate", "--model", "musegan", "--checkpoint", str(out), "--bars", "3", "-o", str(midi)]
    result = CliRunner().invoke(main, args + ["--vary", "groove:1", "--programs", "52,53,54,55"])
    assert result.exit_code == 0, result.output
    score = read_midi(midi)
    assert score.n_bars == 3 and [t.program for t in score.tracks] == [52, 53, 54, 55]
    result = CliRunner().invoke(main, ["evaluate", str(midi), "--reference", "bach", "--nearest", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    keys = {
        "used_pitch_classes_merged",
        "used_pitch_classes_per_track",
        "qualified_note_rate",
        "pitch_class_entropy",
        "scale_consistency",
        "tonal_distance",
        "empty_bar_rate",
        "polyphony",
        "pitch_range",
    }
    assert keys <= set(report["samples"]) and keys <= set(report["reference"])
    assert "max_verbatim_bars" in report["samples"]


def test_bad_options_give_one_line(tmp_path):
    result = CliRunner().invoke(main, ["generate", "--model", "musegan", "--checkpoint", str(tmp_path / "x")])
    assert result.exit_code == 2 and "no such checkpoint" in result.output
    result = CliRunner().invoke(main, ["generate", "--model", "musegan", "--programs", "a,b", "-o", "x.mid"])
    assert result.exit_code == 2 and "--programs" in result.output
