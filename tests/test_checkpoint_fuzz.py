"""Corrupted checkpoints: every variant of a tiny real checkpoint is a CheckpointError (or loads).

A seeded harness: named variants for each field composer reads (and each security case of issue 9),
then seeded byte flips and truncations. Each variant is loaded both ways generation and training load
(the NumPy runtime and torch); a sample goes through the CLI for exit 2, one line, no traceback.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

from composer.checkpoint import load_checkpoint, read_meta, save_checkpoint
from composer.cli import main
from composer.errors import CheckpointError
from tests.helpers import TINY, write_piece
from tests.test_checkpoint import minimal_meta


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(MIDI folder, checkpoint folder): a tiny LSTM trained 2 steps, with ``last/`` for --resume."""
    from composer.training.lstm import train_lstm

    root = tmp_path_factory.mktemp("fuzz")
    midis = root / "midis"
    midis.mkdir()
    for i in range(4):
        write_piece(midis / f"p{i}.mid", i, 2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMPOSER_CACHE_DIR", str(root / "cache"))
        return midis, train_lstm(str(midis), steps=2, out=root / "ck", **TINY)


@pytest.fixture
def ck(trained, tmp_path) -> Path:
    """A private copy of the tiny checkpoint, to damage."""
    return Path(shutil.copytree(trained[1], tmp_path / "ck"))


def _meta(folder: Path, edit) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    edit(meta)
    (folder / "meta.json").write_text(json.dumps(meta))


def _model_file(folder: Path) -> Path:
    return folder / json.loads((folder / "meta.json").read_text())["files"]["model"]


def _set(path: str, value):
    """An edit of meta.json that sets a dotted path."""

    def edit(meta):
        *parents, last = path.split(".")
        for p in parents:
            meta = meta[int(p)] if isinstance(meta, list) else meta[p]
        if isinstance(meta, list):
            meta[int(last)] = value
        else:
            meta[last] = value

    return lambda folder: _meta(folder, edit)


def _tensors(edit):
    def mutate(folder):
        path = _model_file(folder)
        tensors = load_file(str(path))
        edit(tensors)
        save_file(tensors, str(path))

    return mutate


def _raw(edit):
    def mutate(folder):
        path = _model_file(folder)
        path.write_bytes(edit(path.read_bytes()))

    return mutate


def _header(edit):
    """Rewrite the safetensors header JSON of the weights file."""

    def mutate(data: bytes) -> bytes:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + n])
        edit(header)
        text = json.dumps(header).encode()
        return struct.pack("<Q", len(text)) + text + data[8 + n :]

    return _raw(mutate)


def _replace_weights(make):
    def mutate(folder):
        path = _model_file(folder)
        path.unlink()
        make(path)

    return mutate


def _deep(folder):
    (folder / "meta.json").write_text("[" * 100_000 + "]" * 100_000)


def _first_tensor(header) -> str:
    return sorted(k for k in header if k != "__metadata__")[0]


VARIANTS = {  # name -> mutation of a checkpoint folder; every one must be a CheckpointError
    "files-parent": _set("files.model", "../model-1.safetensors"),
    "files-absolute": _set("files.model", "/etc/hostname"),
    "files-separator": _set("files.model", "last/model-2.safetensors"),
    "files-not-object": _set("files", ["model-2.safetensors"]),
    "files-role": _set("files.model", "optimizer-2.safetensors"),
    "files-number": _set("files.model", 5),
    "files-none": _set("files", {}),
    "meta-not-json": lambda f: (f / "meta.json").write_text("{'model': 'lstm'"),
    "meta-not-utf8": lambda f: (f / "meta.json").write_bytes(b'{"model": "\xff\xfe"}'),
    "meta-deep": _deep,
    "meta-array": lambda f: (f / "meta.json").write_text("[1, 2]"),
    "meta-missing": lambda f: (f / "meta.json").unlink(),
    "meta-fifo": lambda f: ((f / "meta.json").unlink(), os.mkfifo(f / "meta.json")),
    "format-3": _set("format", 3),
    "kind-musegan": _set("model", "musegan"),
    "meter-zero": _set("music.time_signature", [0, 4]),
    "meter-3": _set("music.time_signature", [4, 3]),
    "meter-short": _set("music.time_signature", [4]),
    "resolution-0": _set("codec.resolution", 0),
    "resolution-float": _set("codec.resolution", 4.5),
    "bpm-0": _set("music.bpm", 0),
    "bpm-string": _set("music.bpm", "fast"),
    "bpm-huge": _set("music.bpm", 1e300),
    "program-500": _set("music.tracks.0.program", 500),
    "program-negative": _set("music.tracks.0.program", -1),
    "tracks-empty": _set("music.tracks", []),
    "tracks-not-list": _set("music.tracks", {"name": "x"}),
    "track-not-object": _set("music.tracks.0", 7),
    "drum-string": _set("music.tracks.0.is_drum", "yes"),
    "track-unnamed": lambda f: _meta(f, lambda m: m["music"]["tracks"][1].pop("name")),
    "pitch-200": lambda f: _meta(f, lambda m: m["codec"]["vocab"]["values"]["pitch"].append(200)),
    "pitch-negative": lambda f: _meta(f, lambda m: m["codec"]["vocab"]["values"]["pitch"].insert(0, -3)),
    "vocab-unsorted": lambda f: _meta(f, lambda m: m["codec"]["vocab"]["values"]["pitch"].reverse()),
    "vocab-streams": _set("codec.vocab.streams", ["pitch"]),
    "vocab-not-object": _set("codec.vocab", "x"),
    "vocab-size": lambda f: _meta(f, lambda m: m["codec"]["vocab"]["values"]["duration"].pop()),
    "shift-all-zero": lambda f: _meta(
        f,
        lambda m: (
            m["codec"]["vocab"]["values"].update(shift=[0]),
            m["config"]["vocab_sizes"].update(shift=3),
        ),
    ),
    "track-value": lambda f: _meta(f, lambda m: m["codec"]["vocab"]["values"]["track"].append(9)),
    "hidden-1e9": _set("config.hidden", 1e9),
    "hidden-int-huge": _set("config.hidden", 10**9),
    "hidden-other": _set("config.hidden", 16),
    "hidden-negative": _set("config.hidden", -8),
    "hidden-nan": lambda f: (f / "meta.json").write_text(
        (f / "meta.json").read_text().replace('"hidden": 32', '"hidden": NaN')
    ),
    "embed-string": _set("config.embed", "8"),
    "hidden-string": _set("config.hidden", "32"),
    "layers-3": _set("config.layers", 3),
    "order-twice": _set("config.order", ["shift", "shift", "pitch", "duration"]),
    "positions-other": _set("config.n_positions", 99),
    "config-not-object": _set("config", [1]),
    "config-long-list": _set("config.order", list(range(100))),
    "config-missing": lambda f: _meta(f, lambda m: m.pop("config")),
    "music-missing": lambda f: _meta(f, lambda m: m.pop("music")),
    "codec-missing": lambda f: _meta(f, lambda m: m.pop("codec")),
    "codec-field-missing": lambda f: _meta(f, lambda m: m["codec"].pop("n_tracks")),
    "codec-keys-not-counts": _set("codec.keys", {"C major": "many"}),
    "codec-flag-string": _set("codec.normalize_key", "yes"),
    "codec-unknown-field": lambda f: _meta(f, lambda m: m.update(representation={})),
    "config-unknown-field": _set("config.colour", 3),
    "config-bool-hidden": _set("config.hidden", True),
    "model-unknown": _set("model", "gpt"),
    "history-string": _set("history", "long"),
    "running-strings": _set("state.running", ["a"]),
    "state-not-object": _set("state", [1]),
    "lr-negative": _set("training.lr", -1),
    "step-negative": _set("step", -1),
    "weights-missing": lambda f: _model_file(f).unlink(),
    "weights-empty": _raw(lambda d: b""),
    "weights-truncated": _raw(lambda d: d[: len(d) // 2]),
    "weights-7-bytes": _raw(lambda d: d[:7]),
    "weights-header-huge": _raw(lambda d: struct.pack("<Q", 2**62) + d[8:]),
    "weights-header-garbage": _raw(lambda d: d[:8] + b"\x00" * 16 + d[24:]),
    "weights-header-deep": _raw(lambda d: struct.pack("<Q", 200_000) + b"[" * 100_000 + b"]" * 100_000),
    "weights-offsets-beyond": _header(lambda h: h[_first_tensor(h)].update(data_offsets=[0, 10**12])),
    "weights-dtype": _header(lambda h: h[_first_tensor(h)].update(dtype="F128")),
    "weights-shape-negative": _header(lambda h: h[_first_tensor(h)].update(shape=[-1, 4])),
    "weights-shape-lies": _header(lambda h: h[_first_tensor(h)].update(shape=[1, 1])),
    "weights-extra-tensor": _tensors(lambda t: t.update(extra=t["score.bias"].clone())),
    "weights-missing-tensor": _tensors(lambda t: t.pop("score.bias")),
    "weights-wrong-shape": _tensors(lambda t: t.update({"score.bias": t["score.bias"].repeat(3)})),
    "weights-sparse-2gib": lambda f: os.truncate(_model_file(f), 2**31),  # refused unread
    "weights-folder": _replace_weights(lambda p: p.mkdir()),
    "weights-fifo": _replace_weights(os.mkfifo),
    "weights-link-out": _replace_weights(lambda p: p.symlink_to("/etc/hostname")),
    "weights-link-loop": _replace_weights(lambda p: p.symlink_to(p)),
}


# What only one loader reads: the torch model is built from the config alone, without the output's
# score settings. Both check the typed config and every tensor's name and shape before reading data.
TORCH_ONLY: set[str] = set()
NUMPY_ONLY = {"music-missing"}


def _load_both(folder: Path, name: str = "") -> None:
    """Load as `generate` does (NumPy runtime) and as `train --resume`/`evaluate` do (torch)."""
    from composer.generation.lstm import load_model
    from composer.training.lstm import load_lstm

    loaders = [f for f, skip in ((load_model, TORCH_ONLY), (load_lstm, NUMPY_ONLY)) if name not in skip]
    for load in loaders:
        with pytest.raises(CheckpointError) as err:
            load(folder)
        assert "\n" not in str(err.value) and str(folder) in str(err.value)


@pytest.fixture(autouse=True)
def no_hang():
    """A FIFO or a loop that blocks fails the test after 20 s instead of hanging the suite."""

    def fail(*_):
        raise TimeoutError("blocked")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_damaged_checkpoint_is_one_checkpoint_error(ck, name):
    VARIANTS[name](ck)
    _load_both(ck, name)


def test_the_undamaged_copy_loads(ck):
    from composer.generation.lstm import generate_lstm

    assert generate_lstm(ck, bars=1).n_steps == 16


def _flip(data: bytes, rng: random.Random, where: int) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(min(where, len(data)))
        data[i] = rng.randrange(256)
    return bytes(data)


@pytest.mark.parametrize("seed", range(40))
def test_seeded_byte_flips_and_truncations_load_or_raise_checkpoint_error(ck, seed):
    """Flips in meta.json or the weights header, or a truncation: either it loads, or CheckpointError."""
    from composer.generation.lstm import load_model
    from composer.training.lstm import load_lstm

    rng = random.Random(seed)
    target = [ck / "meta.json", _model_file(ck)][seed % 2]
    data = target.read_bytes()
    (n,) = struct.unpack("<Q", (_model_file(ck).read_bytes())[:8])
    if seed % 5 == 4:
        data = data[: rng.randrange(len(data))]
    else:
        data = _flip(data, rng, len(data) if target.name == "meta.json" else 8 + n)
    target.write_bytes(data)
    for load in (load_model, load_lstm):
        try:
            load(ck)
        except CheckpointError as e:
            assert "\n" not in str(e)


CLI_SAMPLE = ["files-parent", "meta-deep", "hidden-1e9", "shift-all-zero", "weights-fifo", "program-500"]


@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_the_cli_says_one_line_and_exits_2(ck, tmp_path, name):
    VARIANTS[name](ck)
    out = tmp_path / "x.mid"
    result = CliRunner().invoke(main, ["generate", "--checkpoint", str(ck), "-o", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and result.output.startswith(f"composer: error: {ck}")
    assert not out.exists()


def test_an_all_zero_shift_vocabulary_is_refused_by_name(ck):
    VARIANTS["shift-all-zero"](ck)
    with pytest.raises(
        CheckpointError, match=r"field codec.vocab.values.shift is \[0\], expected a shift above 0"
    ):
        read_meta(ck)


def test_sampling_that_stops_moving_on_is_an_error_not_a_loop(ck, monkeypatch):
    """A model that only ever chooses shift 0 (here forced by the mask) raises instead of looping."""
    import numpy as np

    from composer.errors import SamplingError
    from composer.generation import lstm as generation
    from composer.representations.token_codec import TokenCodec

    real = TokenCodec.allowed

    def only_zero_shift(codec, stream, state):
        ok = real(codec, stream, state)
        if stream == "shift":
            ok[generation.Vocab.N_SPECIAL :] = np.asarray(codec.vocab.values["shift"]) == 0
        return ok

    model = generation.load_model(ck)
    monkeypatch.setattr(TokenCodec, "allowed", only_zero_shift)
    with pytest.raises(SamplingError, match=r"sampling stalled: 1024 events at step 0"):
        generation.generate_lstm(ck, bars=1)
    assert model.vocab.values["shift"][0] == 0


def test_hidden_1e9_is_refused_before_anything_is_allocated(ck):
    import resource

    _set("config.hidden", 1e9)(ck)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CheckpointError, match=r"meta.json field config.hidden is 1000000000.0, expected"):
        load_checkpoint(ck, kind="lstm")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # kB


def test_a_config_that_builds_other_shapes_is_refused_on_the_meta_device(ck):
    from composer.training.lstm import load_lstm

    _set("config.hidden", 4096)(ck)  # within the config cap: the model would be 400 MB
    with pytest.raises(CheckpointError, match=r"tensor embed_pos.weight|tensor heads\.|tensor lstm\."):
        load_lstm(ck)


# Security regressions (issue 9): a shared folder can neither delete nor block.


def test_saving_over_a_hostile_meta_json_deletes_nothing_outside(tmp_path):
    victim = tmp_path / "victim.safetensors"
    victim.write_text("mine")
    own = tmp_path / "ck" / "notes.txt"
    own.parent.mkdir()
    own.write_text("also mine")
    for name in ("../victim.safetensors", str(victim), "notes.txt"):
        (tmp_path / "ck" / "meta.json").write_text(
            json.dumps({**minimal_meta(step=1), "format": 2, "files": {"model": name}})
        )
        import torch

        save_checkpoint(tmp_path / "ck", minimal_meta(step=2), {"w": torch.ones(1)})
    assert victim.read_text() == "mine" and own.read_text() == "also mine"


def test_a_link_named_like_a_weights_file_is_removed_not_its_target(tmp_path):
    import torch

    victim = tmp_path / "victim"
    victim.write_text("mine")
    folder = tmp_path / "ck"
    folder.mkdir()
    (folder / "model-1-0000abcd.safetensors").symlink_to(victim)
    (folder / "meta.json").write_text(
        json.dumps({**minimal_meta(step=1), "format": 2, "files": {"model": "model-1-0000abcd.safetensors"}})
    )
    save_checkpoint(folder, minimal_meta(step=2), {"w": torch.ones(1)})
    assert victim.read_text() == "mine" and not (folder / "model-1-0000abcd.safetensors").is_symlink()
    assert read_meta(folder)["files"]["model"].startswith("model-2-")


def test_a_fifo_named_as_the_weights_does_not_block(ck):
    VARIANTS["weights-fifo"](ck)
    with pytest.raises(CheckpointError, match="not a regular file"):
        load_checkpoint(ck)


def test_a_link_inside_the_folder_is_followed(ck):
    model = _model_file(ck)
    model.rename(ck / "elsewhere")
    model.symlink_to(ck / "elsewhere")
    assert load_checkpoint(ck, kind="lstm")[1]


# Damaged last/ on --resume: one CheckpointError in every case.

RESUME = {
    "meta-missing": lambda f: (f / "last" / "meta.json").unlink(),
    "meta-corrupt": lambda f: (f / "last" / "meta.json").write_text("{"),
    "last-missing": lambda f: shutil.rmtree(f / "last"),
    "no-optimizer": lambda f: _meta(f / "last", lambda m: m["files"].pop("optimizer")),
    "optimizer-file-missing": lambda f: next((f / "last").glob("optimizer-*")).unlink(),
    "optimizer-truncated": lambda f: next((f / "last").glob("optimizer-*")).write_bytes(b"\x08" + b"\0" * 7),
    "optimizer-groups": lambda f: _meta(
        f / "last", lambda m: m["optimizers"]["opt"].update(param_groups="x")
    ),
    "optimizer-missing": lambda f: _meta(f / "last", lambda m: m.pop("optimizers")),
    "training-missing": lambda f: _meta(f / "last", lambda m: m.pop("training")),
    "batch-size-0": lambda f: _meta(f / "last", lambda m: m["training"].update(batch_size=0)),
    "corpus-not-object": lambda f: _meta(f / "last", lambda m: m.update(corpus=3)),
    "rng-state-shape": lambda f: _retensor(f, lambda t: t.update({"rng.torch": t["rng.torch"][:10]})),
    "optimizer-tensor-names": lambda f: _retensor(f, lambda t: t.update({"state.x": t.pop("rng.torch")})),
    "weights-shapes": lambda f: _meta(f / "last", lambda m: m["config"].update(embed=4)),
}


def _retensor(folder: Path, edit) -> None:
    path = next((folder / "last").glob("optimizer-*"))
    tensors = load_file(str(path))
    edit(tensors)
    save_file(tensors, str(path))


@pytest.mark.parametrize("name", sorted(RESUME))
def test_resume_from_a_damaged_last_is_one_checkpoint_error(trained, ck, cache_dir, name):
    from composer.training.lstm import train_lstm

    RESUME[name](ck)
    with pytest.raises(CheckpointError) as err:
        train_lstm(str(trained[0]), steps=4, out=ck, resume=True, **TINY)
    assert "\n" not in str(err.value) and str(ck) in str(err.value)


def test_resume_from_the_undamaged_copy_continues(trained, ck, cache_dir):
    from composer.training.lstm import train_lstm

    train_lstm(str(trained[0]), steps=3, out=ck, resume=True, **TINY)
    assert read_meta(ck / "last")["step"] == 3


# The MuseGAN's checkpoint: the same rules, through its own loader.


@pytest.fixture
def gan(tmp_path) -> Path:
    """A hand-made MuseGAN checkpoint (untrained, width 1/32), in the layout training writes."""
    from composer.models.musegan import Generator, MuseGANConfig
    from composer.representations.pianoroll import RollCodec

    cfg = MuseGANConfig(width=1 / 32)
    codec = RollCodec(
        names=("S", "A", "T", "B"), lowest_pitch=24, n_pitches=cfg.n_pitches, channels=("hold",)
    )
    meta = {**minimal_meta("musegan", 0), "config": cfg.to_dict(), "codec": codec.to_dict()}
    return save_checkpoint(tmp_path / "gan", meta, Generator(cfg).state_dict())


GAN_VARIANTS = {
    "width-other": (_set("config.width", 0.25), "tensor "),
    "tracks-huge": (_set("config.n_tracks", 10**9), "config.n_tracks is 1000000000"),
    "tracks-fewer": (_set("config.n_tracks", 3), "field codec.names is"),
    "program-500": (_set("codec.programs.1", 500), "codec.programs is"),
    "pitches-above-127": (_set("codec.lowest_pitch", 100), "codec.n_pitches is 84"),
    "z-float": (_set("config.z_dim", 31.5), r"config.z_dim is 31.5, expected an int$"),
    "meter-zero": (_set("codec.time_signature", [4, 0]), r"time_signature is \[4, 0\]"),
    "track-unnamed": (lambda f: _meta(f, lambda m: m["codec"]["names"].pop(3)), "field codec.names is"),
    "width-string": (_set("config.width", "wide"), r"config.width is 'wide', expected a float$"),
    "codec-grid-float": (_set("codec.grid", 1.5), r"codec.grid is 1.5, expected an int$"),
    "codec-tonic-string": (_set("codec.tonic", "C"), r"codec.tonic is 'C', expected int \| None$"),
    "codec-names-string": (_set("codec.names", "SATB"), r"codec.names is 'SATB', expected one per track"),
    "rhythm-string": (_set("codec.rhythm", "swing"), r"codec.rhythm is 'swing', expected tuple"),
    "rhythm-short": (
        _set("codec.rhythm", [[1.0]] * 16),
        r"does not describe a RollCodec \(ValueError: rhythm has shape",
    ),
    "rhythm-negative": (
        _set("codec.rhythm", [[-1.0] + [2 / 15] * 15] * 16),
        r"does not describe a RollCodec \(ValueError: rhythm rows are not probabilities",
    ),
}


@pytest.mark.parametrize("name", sorted(GAN_VARIANTS))
def test_each_damaged_musegan_checkpoint_is_one_checkpoint_error(gan, name):
    from composer.generation.musegan import load_generator

    mutate, words = GAN_VARIANTS[name]
    mutate(gan)
    with pytest.raises(CheckpointError, match=words):
        load_generator(gan)


def test_the_musegan_cli_says_one_line_and_exits_2(gan, tmp_path):
    GAN_VARIANTS["tracks-huge"][0](gan)
    result = CliRunner().invoke(
        main, ["generate", "--model", "musegan", "--checkpoint", str(gan), "-o", str(tmp_path / "x.mid")]
    )
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "Traceback" not in result.output


# The harmonizer's checkpoint: the same rules, through its NumPy loader.

HARMONIZER_VARIANTS = {
    "hidden-other": (_set("config.hidden", 12), r"tensor decoder.bias_hh_l0: \[64\], config gives \[48\]"),
    "encoder-string": (_set("config.encoder", "8"), r"config.encoder is '8', expected an int$"),
    "config-unknown": (_set("config.layers", 2), r"config.layers is 2, expected no such field"),
    "codec-missing": (lambda f: _meta(f, lambda m: m.pop("codec")), "no field codec"),
    "pitch-200": (_set("codec.pitch_hi", 200), r"codec.pitch_hi is 200, expected an integer in 0..127"),
    "weights-missing-tensor": (
        _tensors(lambda t: t.pop("heads.2.2.bias")),
        r"tensor heads.2.2.bias: missing",
    ),
}


@pytest.fixture
def harmonizer(tmp_path) -> Path:
    """A hand-made harmonizer checkpoint (untrained, tiny), in the layout training writes."""
    import torch

    from composer.models.harmonizer import SIZES, Harmonizer, HarmonizerConfig
    from composer.representations.harmony_grid import HarmonyGrid

    grid = HarmonyGrid(pitch_lo=36, pitch_hi=84)
    torch.manual_seed(0)
    cfg = HarmonizerConfig(n_tokens=grid.n_tokens, n_sounding=grid.n_sounding, **SIZES["tiny"])
    meta = {**minimal_meta("harmonizer", 0), "config": cfg.to_dict(), "codec": grid.to_dict()}
    return save_checkpoint(tmp_path / "harmonizer", meta, Harmonizer(cfg).state_dict())


@pytest.mark.parametrize("name", sorted(HARMONIZER_VARIANTS))
def test_each_damaged_harmonizer_checkpoint_is_one_checkpoint_error(harmonizer, name):
    from composer.generation.harmonize import load_harmonizer

    load_harmonizer(harmonizer)  # the undamaged one loads
    mutate, words = HARMONIZER_VARIANTS[name]
    mutate(harmonizer)
    with pytest.raises(CheckpointError, match=words) as err:
        load_harmonizer(harmonizer)
    assert "\n" not in str(err.value) and str(err.value).startswith(str(harmonizer))


JUNK = [None, -1, 2**70, 1.5, "x", [], {}, [1, "a"], {"a": []}, True]


@pytest.mark.parametrize("name", ["lstm-bach-noattn", "harmonizer-bach"])
def test_seeded_damage_to_a_format_1_meta_json_loads_or_is_one_checkpoint_error(name, tmp_path):
    """Format 1 goes through checkpoint_v1 before validation: a junk value or a deleted key at a
    seeded path of the old meta.json either loads or raises one CheckpointError."""
    from composer.generation.harmonize import load_harmonizer
    from composer.generation.lstm import load_model
    from tests.test_checkpoint import FORMAT1, _format1_copy

    if not (FORMAT1.parent.parent.parent / "checkpoints" / name / "meta.json").exists():
        pytest.skip(f"no shipped {name}")
    folder = _format1_copy(name, tmp_path)
    load = load_model if name.startswith("lstm") else load_harmonizer
    original = json.loads((folder / "meta.json").read_text())
    rng = random.Random(0)
    for _ in range(60):
        meta = json.loads(json.dumps(original))
        holder, key = meta, rng.choice(sorted(meta))
        while isinstance(holder[key], dict) and holder[key] and rng.random() < 0.6:
            holder, key = holder[key], rng.choice(sorted(holder[key]))
        if rng.random() < 0.3:
            del holder[key]
        else:
            holder[key] = rng.choice(JUNK)
        (folder / "meta.json").write_text(json.dumps(meta))
        try:
            load(folder)
        except CheckpointError as e:
            assert "\n" not in str(e) and str(e).startswith(str(folder))
