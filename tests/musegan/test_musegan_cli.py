"""`composer train/generate/evaluate` with --model musegan, end to end on a tiny size."""

from __future__ import annotations

import json

from click.testing import CliRunner

from composer.cli import main
from composer.midi_io import read_midi


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
