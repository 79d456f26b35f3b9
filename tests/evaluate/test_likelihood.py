"""`composer evaluate --model lstm`: the JSON report."""

from __future__ import annotations

import json
import math
import shutil

from click.testing import CliRunner

from composer.cli import main


def test_evaluate_json_shape(tmp_path, lstm_checkpoint):
    folder = tmp_path / "lstm-x"
    shutil.copytree(lstm_checkpoint, folder)
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--model",
            "lstm",
            "--checkpoint",
            str(folder),
            "--corpus",
            "bach",
            "--split",
            "test",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= {"model", "baselines"}
    model = report["model"]
    for key in ("nll", "accuracy", "nll_shift", "nll_pitch", "nll_duration", "nll_track", "accuracy_pitch"):
        assert math.isfinite(model[key])
    assert abs(sum(model[f"nll_{s}"] for s in ("shift", "pitch", "duration", "track")) - model["nll"]) < 1e-6
    assert set(report["baselines"]) == {"unigram", "ngram", "lstm_no_attention"}
    assert report["baselines"]["ngram"]["order"] in (3, 4, 5)
    assert report["baselines"]["ngram"]["nll"] < report["baselines"]["unigram"]["nll"]
    assert report["baselines"]["lstm_no_attention"]["nll"] is None  # no lstm-x-noattn beside it
    shutil.copytree(lstm_checkpoint, tmp_path / "lstm-x-noattn")
    report = json.loads(CliRunner().invoke(main, ["evaluate", "--checkpoint", str(folder), "--json"]).stdout)
    assert report["baselines"]["lstm_no_attention"]["nll"] == model["nll"]
