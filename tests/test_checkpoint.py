"""Checkpoint folders: unique tensor names per save, crash safety of a same-step save, model kinds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from composer import checkpoint
from composer.checkpoint import load_checkpoint, load_checkpoint_numpy, read_meta, save_checkpoint
from composer.errors import CheckpointError

SHIPPED_LSTM = Path(__file__).resolve().parents[1] / "checkpoints" / "lstm-bach"


def _save(folder, value: float, step: int = 5, model: str = "lstm"):
    return save_checkpoint(
        folder, {"model": model, "step": step}, {"w": torch.full((2,), value)}, {"m": torch.ones(1)}
    )


def test_saving_the_same_step_again_writes_new_files_and_removes_the_old(tmp_path):
    _save(tmp_path, 1.0)
    first = read_meta(tmp_path)["files"]
    _save(tmp_path, 2.0)
    second = read_meta(tmp_path)["files"]
    assert set(first.values()).isdisjoint(second.values())
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == sorted(second.values())
    assert second["model"].startswith("model-5-") and second["optimizer"].startswith("optimizer-5-")
    _, weights, train_state = load_checkpoint(tmp_path, with_train_state=True)
    assert weights["w"].tolist() == [2.0, 2.0] and train_state["m"].tolist() == [1.0]


def test_a_crash_before_meta_json_is_replaced_keeps_the_old_pair(tmp_path, monkeypatch):
    _save(tmp_path, 1.0)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after the tensor files, before meta.json

    monkeypatch.setattr(checkpoint, "atomic_write", crash)
    with pytest.raises(KeyboardInterrupt):
        _save(tmp_path, 2.0)
    meta, weights, _ = load_checkpoint(tmp_path, with_train_state=True)
    assert meta["step"] == 5 and weights["w"].tolist() == [1.0, 1.0]


def test_files_named_the_old_way_still_load(tmp_path):
    save_file({"w": torch.arange(3.0)}, str(tmp_path / "model-3.safetensors"))
    meta = {
        "model": "lstm",
        "step": 3,
        "format": checkpoint.FORMAT,
        "files": {"model": "model-3.safetensors"},
    }
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    assert load_checkpoint(tmp_path)[1]["w"].tolist() == [0.0, 1.0, 2.0]
    assert load_checkpoint_numpy(tmp_path, kind="lstm")[1]["w"].tolist() == [0.0, 1.0, 2.0]
    _save(tmp_path, 4.0, step=4)  # the next save replaces and removes the old-style file
    assert not (tmp_path / "model-3.safetensors").exists()


@pytest.mark.skipif(not (SHIPPED_LSTM / "meta.json").exists(), reason="no shipped lstm checkpoint")
def test_the_shipped_lstm_checkpoint_loads():
    meta, weights = load_checkpoint_numpy(SHIPPED_LSTM, kind="lstm")
    assert meta["model"] == "lstm" and weights


def test_kind_refuses_a_checkpoint_of_another_model(tmp_path):
    _save(tmp_path, 1.0, model="musegan")
    with pytest.raises(CheckpointError, match=rf"^{tmp_path}: holds a 'musegan' model, not an lstm$"):
        load_checkpoint(tmp_path, kind="lstm")
    with pytest.raises(CheckpointError, match="holds a 'musegan' model, not an lstm"):
        load_checkpoint_numpy(tmp_path, kind="lstm")
    assert load_checkpoint(tmp_path, kind="musegan")[0]["model"] == "musegan"
    _save(tmp_path / "l", 1.0)
    with pytest.raises(CheckpointError, match="holds a 'lstm' model, not a musegan"):
        load_checkpoint(tmp_path / "l", kind="musegan")


@pytest.mark.parametrize("name", ["lstm-bach", "lstm-bach-noattn", "musegan-bach"])
def test_the_shipped_format_1_checkpoints_pass_validation_and_the_shape_check(name):
    from composer.models.attention_lstm import AttentionLSTM, LSTMConfig
    from composer.models.musegan import Generator, MuseGANConfig

    folder = SHIPPED_LSTM.parent / name
    if not (folder / "meta.json").exists():
        pytest.skip(f"no shipped {name}")
    kind = name.split("-")[0]
    build = {
        "lstm": lambda c: AttentionLSTM(LSTMConfig.from_dict(c)),
        "musegan": lambda c: Generator(MuseGANConfig.from_dict(c)),
    }[kind]
    meta, weights, _ = load_checkpoint(folder, kind=kind, like=build)
    assert meta["format"] == 1 and set(weights) == set(build(meta["config"]).state_dict())


def test_a_full_disk_while_saving_is_one_line_and_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    from composer.errors import OutputError

    _save(tmp_path, 1.0)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("composer.atomic.os.replace", full)
    with pytest.raises(
        OutputError, match=r"model-5-[0-9a-f]{8}.safetensors: cannot write \(No space left on device\)$"
    ):
        _save(tmp_path, 2.0)
    assert load_checkpoint(tmp_path)[1]["w"].tolist() == [1.0, 1.0]
    assert len(list(tmp_path.iterdir())) == 3  # meta.json, the two old tensor files: no temporary left
