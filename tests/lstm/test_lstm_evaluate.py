"""`composer evaluate --model lstm`: the JSON report and the count-based baselines."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
from click.testing import CliRunner

from composer.cli import main
from composer.evaluate.baselines import NGram, Unigram, fit_baselines


def test_evaluate_json_shape(tmp_path, tiny_checkpoint):
    folder = tmp_path / "lstm-x"
    shutil.copytree(tiny_checkpoint, folder)
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
    shutil.copytree(tiny_checkpoint, tmp_path / "lstm-x-noattn")
    report = json.loads(CliRunner().invoke(main, ["evaluate", "--checkpoint", str(folder), "--json"]).stdout)
    assert report["baselines"]["lstm_no_attention"]["nll"] == model["nll"]


def test_ngram_probabilities_sum_to_one():
    rng = np.random.default_rng(0)
    sizes = {"shift": 4, "pitch": 5, "duration": 4, "track": 3}
    seqs = [np.stack([rng.integers(2, sizes[s], 40) for s in sizes], 1) for _ in range(3)]
    uni = Unigram(seqs, sizes)
    gram = NGram(seqs, 3, uni)
    events = [(a, b, c, d) for a in range(4) for b in range(5) for c in range(4) for d in range(3)]
    ctx = tuple(tuple(r) for r in seqs[0][:2].tolist())
    assert abs(sum(gram.prob(ctx, e) for e in events) - 1) < 1e-9
    assert abs(sum(math.exp(-uni.nll(e)) for e in events) - 1) < 1e-9
    report = fit_baselines(seqs, seqs[:1], seqs[1:], sizes)
    assert report["ngram"]["nll"] < report["unigram"]["nll"]
