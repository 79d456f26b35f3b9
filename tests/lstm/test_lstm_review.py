"""LSTM review fixes: an --out folder that holds a checkpoint needs --resume or --force."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from lstm_helpers import TINY

from composer.checkpoint import read_meta
from composer.cli import main
from composer.errors import ComposerError
from composer.training.lstm import train_lstm


def test_out_folder_with_a_checkpoint_is_refused_unless_resume_or_force(tmp_path, tiny_checkpoint):
    out = tmp_path / "ck"
    shutil.copytree(tiny_checkpoint, out)
    before = (out / "meta.json").read_text()
    hint = "; choose another --out DIR, or use --resume to continue it or --force to overwrite it"
    message = f"{out} already holds a checkpoint" + hint  # the library's words, then the CLI's hint
    with pytest.raises(ComposerError) as err:
        train_lstm("bach", steps=2, out=out, **TINY)
    assert str(err.value) == f"{out} already holds a checkpoint" and (out / "meta.json").read_text() == before
    result = CliRunner().invoke(main, ["train", "--out", str(out), "--steps", "2", "--size", "tiny"])
    assert result.exit_code == 2 and result.output.strip() == f"composer: error: {message}"
    train_lstm("bach", steps=2, out=out, force=True, **TINY)
    assert read_meta(out / "last")["step"] == 2 and read_meta(out)["step"] == 2


def test_a_folder_with_only_last_is_refused_too(tmp_path, tiny_checkpoint):
    out = tmp_path / "ck"
    shutil.copytree(tiny_checkpoint / "last", out / "last")
    with pytest.raises(ComposerError, match="already holds a checkpoint"):
        train_lstm("bach", steps=2, out=out, **TINY)
    assert json.loads((out / "last" / "meta.json").read_text())["step"] == 12
