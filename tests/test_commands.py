"""composer.cli and composer.commands: train options derived from the TrainConfigs, library errors
shown with their flags, and the library leaving printing, flags and torch threads to the CLI."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from composer.cli import _one_line_of, main
from composer.commands.common import ModelOption
from composer.commands.train import train_configs
from composer.errors import CheckpointInTheWay, Interrupted, OptionError
from composer.models import attention_lstm, harmonizer, musegan
from composer.options import option_fields

PACKAGE = Path(__file__).resolve().parents[1] / "composer"


def _train_params() -> dict:
    ctx = main.make_context("composer", ["train", "--help"], resilient_parsing=True)
    command = main.get_command(ctx, "train")
    return {p.name: p for p in command.get_params(ctx) if isinstance(p, ModelOption)}


def test_every_cli_field_of_every_train_config_is_a_train_option():
    params = _train_params()
    for model, cls in train_configs().items():
        for f in option_fields(cls):
            if f.metadata["option"]["cli"]:
                assert model in params[f.name].models, (model, f.name)
    assert params["seq_len"].models == ("lstm",) and params["seq_len"].default == 128
    assert params["width"].models == ("musegan",) and params["width"].default is None
    assert params["lr"].models == ("lstm", "musegan", "harmonizer") and params["lr"].default is None
    assert params["seed"].default == 0  # one default shared by every model: shown as the default
    assert "lstm 0.002, musegan 0.001, harmonizer 0.003" in params["lr"].help
    assert set(params) == {
        "steps", "epochs", "batch_size", "lr", "seq_len", "seed", "transpose", "patience", "size",
        "attention", "dropout", "width", "tracks", "phrase_bars", "sample_every",
    }  # fmt: skip


def test_defaults_are_the_shipped_recipes():
    assert (
        attention_lstm.TrainConfig().to_dict()
        == json.loads((PACKAGE.parent / "checkpoints" / "lstm-bach" / "meta.json").read_text())["training"]
    )
    gan = musegan.TrainConfig()
    assert (gan.steps, gan.batch_size, gan.lr, gan.critic_steps, gan.gp_weight) == (2400, 32, 1e-3, 5, 10.0)
    assert musegan.SIZES[gan.size] == 0.25 and gan.phrase_bars == 2 and gan.tracks == 4
    harm = harmonizer.TrainConfig()
    assert (harm.steps, harm.batch_size, harm.lr, harm.eval_every, harm.size) == (
        2200,
        8,
        3e-3,
        100,
        "default",
    )


@pytest.mark.parametrize(
    "cls, field, value, message",
    [
        (attention_lstm.TrainConfig, "lr", 0, "lr 0: expected a finite number (0, 10]"),
        (attention_lstm.TrainConfig, "dropout", math.nan, "dropout nan: expected a finite number [0, 1)"),
        (attention_lstm.TrainConfig, "seq_len", 1.5, "seq_len 1.5: expected an integer [2, 4096]"),
        (attention_lstm.TrainConfig, "size", "huge", "size huge: choose one of tiny, small, default, book"),
        (harmonizer.TrainConfig, "size", "book", "size book: choose one of tiny, default, large"),
        (musegan.TrainConfig, "width", -1.0, "width -1.0: expected a finite number (0, 4]"),
    ],
)
def test_a_config_refuses_a_bad_value_naming_the_field(cls, field, value, message):
    with pytest.raises(OptionError) as err:
        cls(**{field: value})
    assert str(err.value) == message and err.value.param == field


@pytest.mark.parametrize(
    "args, line",
    [
        (["--model", "musegan", "--seq-len", "3"], "--seq-len applies to --model lstm, not --model musegan"),
        (["--model", "lstm", "--tracks", "2"], "--tracks applies to --model musegan, not --model lstm"),
        (
            ["--model", "harmonizer", "--device", "cpu"],
            "--device applies to --model lstm or --model musegan, not --model harmonizer",
        ),
        (["--model", "harmonizer", "--size", "book"], "--size book: choose one of tiny, default, large"),
    ],
)
def test_train_refuses_an_option_the_model_does_not_take_in_one_line(tmp_path, args, line):
    result = CliRunner().invoke(main, ["train", *args, "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and result.output == f"composer: error: {line}\n"
    assert not (tmp_path / "run").exists()


def test_the_cli_names_the_flag_of_a_library_error():
    assert _one_line_of(OptionError("top_k", 3, "too many")) == "--top-k 3: too many"
    assert _one_line_of(OptionError("corpus_source", "x", "no")) == "--corpus x: no"
    assert _one_line_of(OptionError("programs", [1, 2], "give 4")) == "--programs 1,2: give 4"
    assert str(OptionError("programs", [1, 2], "give 4")) == "programs 1,2: give 4"
    assert _one_line_of(Interrupted("stopped at step 3", folder="r/x")) == (
        "stopped at step 3 (continue with --resume --out r/x)"
    )
    assert _one_line_of(CheckpointInTheWay("r/x", shipped=True)) == (
        "r/x is a checkpoint shipped with composer; train into another --out DIR"
    )


def _library_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "cli.py" and "commands" not in path.parts:
            yield path, ast.parse(path.read_text())


def test_library_code_prints_nothing_and_leaves_torch_threads_to_the_cli():
    found = []
    for path, tree in _library_modules():
        for node in ast.walk(tree):
            name = getattr(getattr(node, "func", None), "id", None) or getattr(
                getattr(node, "func", None), "attr", None
            )
            if isinstance(node, ast.Call) and name in ("print", "set_num_threads"):
                found.append(f"{path.name}:{node.lineno} {name}")
    assert found == []


def test_library_messages_name_no_flags():
    flag = re.compile(r"(?<![\w-])--[a-z]")
    found = []
    for path, tree in _library_modules():
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if flag.search(node.value):
                    found.append((path.relative_to(PACKAGE).as_posix(), node.value))
    assert found == []


def test_train_harmonizer_writes_runs_harmonizer_corpus_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tiny = ["--model", "harmonizer", "--size", "tiny", "--batch-size", "2", "--lr", "0.01"]
    first = CliRunner().invoke(main, ["train", *tiny, "--steps", "1"])
    assert first.exit_code == 0, first.output
    folder = Path("runs") / "harmonizer-bach"
    assert f"training harmonizer: writing to {folder}" in first.output
    assert json.loads((folder / "last" / "meta.json").read_text())["step"] == 1
    again = CliRunner().invoke(main, ["train", "--model", "harmonizer", "--resume", "--steps", "2"])
    assert again.exit_code == 0, again.output
    meta = json.loads((folder / "last" / "meta.json").read_text())
    assert meta["step"] == 2 and meta["training"]["batch_size"] == 2 and meta["training"]["lr"] == 0.01
    assert dataclasses.asdict(harmonizer.TrainConfig(**meta["training"]))["size"] == "tiny"
