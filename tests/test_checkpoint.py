"""Checkpoint folders: unique tensor names per save, crash safety of a same-step save, model kinds,
the format-2 schema, typed configs, and format-1 folders read as format 2."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from composer import checkpoint
from composer.checkpoint import load_checkpoint, load_checkpoint_numpy, read_meta, save_checkpoint
from composer.errors import CheckpointError

SHIPPED_LSTM = Path(__file__).resolve().parents[1] / "checkpoints" / "lstm-bach"
FORMAT1 = Path(__file__).resolve().parent / "data" / "format1"
VOCAB = {"streams": ["shift", "pitch", "duration", "track"], "values": {"shift": [1], "pitch": [60]}}
VOCAB["values"].update(duration=[1], track=[0])
CODECS = {  # the least each kind's codec holds
    "lstm": {"vocab": VOCAB},
    "musegan": {"names": ["S"], "programs": [52]},
    "harmonizer": {},
}


def minimal_meta(model: str = "lstm", step: int = 5) -> dict:
    """The smallest format-2 metadata of a ``model`` checkpoint that passes validation."""
    return {"model": model, "config": {}, "codec": CODECS[model], "training": {}, "step": step, "history": {}}


def _save(folder, value: float, step: int = 5, model: str = "lstm"):
    return save_checkpoint(
        folder, minimal_meta(model, step), {"w": torch.full((2,), value)}, {"m": torch.ones(1)}
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
    meta = {**minimal_meta(step=3), "format": 2, "files": {"model": "model-3.safetensors"}}
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


SHIPPED = ["lstm-bach", "lstm-bach-noattn", "musegan-bach", "harmonizer-bach", "harmonizer-bach/last"]


def _build(kind: str):
    from composer.models.attention_lstm import AttentionLSTM, LSTMConfig
    from composer.models.harmonizer import Harmonizer, HarmonizerConfig
    from composer.models.musegan import Generator, MuseGANConfig

    return {
        "lstm": (AttentionLSTM, LSTMConfig),
        "musegan": (Generator, MuseGANConfig),
        "harmonizer": (Harmonizer, HarmonizerConfig),
    }[kind]


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_checkpoints_are_format_2_and_pass_the_typed_config_and_shape_checks(name):
    folder = SHIPPED_LSTM.parent / name
    if not (folder / "meta.json").exists():
        pytest.skip(f"no shipped {name}")
    kind = name.split("-")[0]
    build, config = _build(kind)
    meta, weights, _ = load_checkpoint(folder, kind=kind, like=build, config=config)
    assert json.loads((folder / "meta.json").read_text())["format"] == 2
    assert set(meta) >= {"format", "model", "config", "codec", "training", "step", "history", "files"}
    assert set(weights) == set(build(checkpoint.to_config(config, meta["config"], folder)).state_dict())


def _format1_copy(name: str, tmp_path: Path) -> Path:
    """The shipped ``name`` as it was in format 1: its old meta.json beside the same weights file."""
    meta = json.loads((FORMAT1 / f"{name.replace('/', '-')}.json").read_text())
    folder = tmp_path / name
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps(meta))
    for name_ in meta["files"].values():
        (folder / name_).write_bytes((SHIPPED_LSTM.parent / name / name_).read_bytes())
    return folder


@pytest.mark.parametrize("name", SHIPPED)
def test_a_format_1_folder_reads_as_the_format_2_one(name, tmp_path):
    folder = SHIPPED_LSTM.parent / name
    if not (folder / "meta.json").exists():
        pytest.skip(f"no shipped {name}")
    old, new = read_meta(_format1_copy(name, tmp_path)), read_meta(folder)
    if name == "musegan-bach":  # the fixture keeps 3 steps of the loss curves
        assert {k: v[:3] for k, v in new["history"].items()} == old["history"]
        old["history"] = new["history"]
    assert old == new


def test_format_1_generates_the_same_music_as_format_2(tmp_path):
    from composer.generation.harmonize import harmonize, load_harmonizer
    from composer.generation.lstm import generate_lstm
    from composer.generation.musegan import generate_musegan
    from composer.music import Note, Score, Track

    if not (SHIPPED_LSTM / "meta.json").exists():
        pytest.skip("no shipped checkpoints")
    shipped = SHIPPED_LSTM.parent
    for name in ("lstm-bach", "lstm-bach-noattn"):
        old = generate_lstm(_format1_copy(name, tmp_path), bars=2, seed=3)
        assert old == generate_lstm(shipped / name, bars=2, seed=3) and old.tracks[0].notes
    old = generate_musegan(_format1_copy("musegan-bach", tmp_path), bars=2, seed=3)
    assert old == generate_musegan(shipped / "musegan-bach", bars=2, seed=3) and old.tracks[0].notes
    tune = Score([Track("melody", 0, False, [Note(4 * i, 4, p) for i, p in enumerate([72, 74, 76, 72])])])
    old = harmonize(tune, load_harmonizer(_format1_copy("harmonizer-bach", tmp_path)), seed=1)[0]
    assert old == harmonize(tune, load_harmonizer(shipped / "harmonizer-bach"), seed=1)[0]


def test_save_format2_rewrites_only_meta_json(tmp_path):
    folder = _format1_copy("lstm-bach", tmp_path)
    weights = {p.name: p.read_bytes() for p in folder.glob("*.safetensors")}
    assert checkpoint.save_format2(folder) and not checkpoint.save_format2(folder)
    assert {p.name: p.read_bytes() for p in folder.glob("*.safetensors")} == weights
    assert json.loads((folder / "meta.json").read_text()) == read_meta(SHIPPED_LSTM / ".." / "lstm-bach")


@dataclass
class _Config:
    size: int
    rate: float = 0.5
    order: tuple[str, ...] = ("a", "b")
    sizes: dict[str, int] = field(default_factory=dict)
    limit: int | None = None


def test_to_config_fills_defaults_and_makes_tuples(tmp_path):
    meta = {"config": {"size": 3, "rate": 1, "order": ["x"], "sizes": {"a": 2}}}
    assert checkpoint.to_config(_Config, meta["config"], tmp_path) == _Config(3, 1.0, ("x",), {"a": 2}, None)


@pytest.mark.parametrize(
    "config, words",
    [
        ({"size": 3, "colour": 1}, r"field config.colour is 1, expected no such field of _Config$"),
        ({"size": "3"}, r"field config.size is '3', expected an int$"),
        ({"size": True}, r"field config.size is True, expected an int$"),
        ({"size": 1, "rate": float("nan")}, r"field config.rate is nan, expected a float$"),
        ({"size": 1, "order": ["a", 2]}, r"field config.order is \['a', 2\], expected tuple\[str, \.\.\.\]$"),
        ({"size": 1, "sizes": {"a": 1.5}}, r"field config.sizes is \{'a': 1.5\}, expected dict\[str, int\]$"),
        ({"size": 1, "limit": "no"}, r"field config.limit is 'no', expected int \| None$"),
        ({"rate": 1.0}, r"meta.json has no field config.size$"),
        ([1], r"field config is \[1\], expected a JSON object$"),
    ],
)
def test_to_config_refuses_what_the_dataclass_does_not_describe(tmp_path, config, words):
    with pytest.raises(CheckpointError, match=rf"^{tmp_path}: .*{words}"):
        checkpoint.to_config(_Config, config, tmp_path)


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda m: m.pop("codec"), "meta.json has no field codec"),
        (lambda m: m.update(vocab={}), "field vocab is {}, expected no such field in format 2"),
        (lambda m: m.update(model="gpt"), "field model is 'gpt', expected lstm or musegan or harmonizer"),
        (lambda m: m.update(state={"best": "low"}), "field state.best is 'low', expected numbers"),
    ],
)
def test_saving_checks_the_schema_first_and_writes_nothing_on_failure(tmp_path, edit, words):
    meta = minimal_meta()
    edit(meta)
    with pytest.raises(CheckpointError, match=words):
        save_checkpoint(tmp_path / "ck", meta, {"w": torch.ones(1)})
    assert not (tmp_path / "ck").exists()


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


def test_a_format_1_run_resumes_exactly_as_its_format_2_copy(tmp_path, session_cache_dir):
    """The shipped harmonizer's last/ in both formats, trained one step further: the same weights."""
    from composer.training.harmonizer import train_harmonizer

    shipped = SHIPPED_LSTM.parent / "harmonizer-bach"
    if not (shipped / "last" / "meta.json").exists():
        pytest.skip("no shipped harmonizer")
    runs = {}
    for fmt in (1, 2):
        out = tmp_path / f"format{fmt}"
        if fmt == 1:
            _format1_copy("harmonizer-bach", out)
            _format1_copy("harmonizer-bach/last", out)
            out = out / "harmonizer-bach"
        else:
            shutil.copytree(shipped, out)
        train_harmonizer("bach", out=out, resume=True, steps=2201)
        runs[fmt] = load_checkpoint(out / "last", with_train_state=True)
    assert runs[1][0]["step"] == runs[2][0]["step"] == 2201
    for a, b in zip(runs[1][1:], runs[2][1:]):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_first_format_1_musegan_without_a_codec_gets_the_codec_it_was_trained_with(tmp_path):
    """The first MuseGANs kept tracks, meter and pitch range at the top of meta.json: binary rolls."""
    from safetensors.torch import save_file

    from composer.generation.musegan import generate_musegan, load_generator
    from composer.models.musegan import Generator, MuseGANConfig
    from composer.representations.pianoroll import RollCodec

    cfg = MuseGANConfig(width=1 / 32)
    save_file(Generator(cfg).state_dict(), str(tmp_path / "model-7.safetensors"))
    meta = {
        "format": 1,
        "model": "musegan",
        "step": 7,
        "config": cfg.to_dict(),
        "tracks": [{"name": n, "program": 52} for n in ("S", "A", "T", "B")],
        "time_signature": [4, 4],
        "resolution": 4,
        "bpm": 90.0,
        "representation": {"kind": "pianoroll", "lowest_pitch": 24, "n_pitches": 84},
        "train": {"seed": 1, "lr": 0.001},
        "files": {"model": "model-7.safetensors"},
    }
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    _, new = load_generator(tmp_path)
    assert new["training"] == {"seed": 1, "lr": 0.001} and new["step"] == 7 and "tracks" not in new
    legacy = RollCodec(("S", "A", "T", "B"), (52,) * 4, 24, 84, 4, (4, 4), 90.0, ("hold",), None, 1, 1, 1)
    assert RollCodec.from_dict(new["codec"]) == legacy
    assert generate_musegan(tmp_path, bars=2, seed=0).bpm == 90.0


def test_a_format_2_meta_json_without_files_names_the_missing_field(tmp_path):
    (tmp_path / "meta.json").write_text(json.dumps({**minimal_meta(), "format": 2}))
    with pytest.raises(CheckpointError) as err:
        read_meta(tmp_path)
    assert str(err.value) == f"{tmp_path}: meta.json has no field files (format 2 requires it)"
