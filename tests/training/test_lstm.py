"""Training the attention LSTM: checkpoint round trip, exact resume, corpus mismatch, --out refusal, the CLI."""

from __future__ import annotations

import json
import shutil

import mido
import pytest
import torch
from click.testing import CliRunner

from composer.checkpoint import read_meta
from composer.cli import main
from composer.errors import CheckpointError, ComposerError
from composer.midi_io import read_midi
from composer.training.lstm import load_lstm, train_lstm
from tests.helpers import TINY

TINY_ARGS = ["--size", "tiny", "--batch-size", "4", "--seq-len", "16"]


def test_checkpoint_round_trip(lstm_checkpoint):
    meta, model, _ = load_lstm(lstm_checkpoint)
    assert meta["model"] == "lstm" and meta["corpus"]["name"] == "bach"
    assert meta["config"]["attention"] is True and meta["music"]["time_signature"] == [4, 4]
    assert [t["name"] for t in meta["music"]["tracks"]] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert (lstm_checkpoint / "losses.png").stat().st_size > 0
    meta2, model2, train_state = load_lstm(lstm_checkpoint / "last", with_train_state=True)
    assert meta2["step"] == 12 and "rng.torch" in train_state
    assert any(k.startswith("state.") for k in train_state)
    json.dumps(meta)  # plain JSON, no pickle anywhere
    assert not list(lstm_checkpoint.rglob("*.pt")) and not list(lstm_checkpoint.rglob("*.pkl"))


def test_resume_continues_exactly(tmp_path):
    straight = train_lstm("bach", steps=6, out=tmp_path / "a", **TINY)
    train_lstm("bach", steps=3, out=tmp_path / "b", **TINY)
    resumed = train_lstm("bach", steps=6, out=tmp_path / "b", resume=True, **TINY)
    _, wa, _ = load_lstm(straight / "last")
    _, wb, _ = load_lstm(resumed / "last")
    sa, sb = wa.state_dict(), wb.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_transposition_augmentation_moves_each_piece_around_c():
    """--transpose N with key normalization: every training piece at C-N..C+N, the offset an input."""
    import numpy as np

    from composer.models.attention_lstm import TrainConfig
    from composer.representations.tokens import REST, Vocab
    from composer.training.lstm import prepare_data

    data = prepare_data("bach", TrainConfig(transpose=1))
    codec, streams = data["codec"], data["streams"]
    assert codec.max_offset == 1 and len(streams) == 3 and codec.n_modes == 6
    (down, dctx), (mid, mctx), (up, uctx) = [
        (codec.vocab.decode(ids[ids[:, 0] != Vocab.BOS]), ctx) for ids, ctx in streams
    ]
    notes = mid[:, 1] != REST
    assert notes.sum() > 10_000
    np.testing.assert_array_equal(up[notes, 1], mid[notes, 1] + 1)
    np.testing.assert_array_equal(down[notes, 1], mid[notes, 1] - 1)
    np.testing.assert_array_equal(up[:, [0, 2, 3]], mid[:, [0, 2, 3]])
    np.testing.assert_array_equal(uctx[:, 1] - mctx[:, 1], 2)  # mode ids: one (major, minor) pair per offset
    np.testing.assert_array_equal(mctx[:, 1] - dctx[:, 1], 2)
    assert set(np.unique(mctx[:, 1])) == {2, 3}  # offset 0, generation's pair: C major, C minor
    assert set(np.unique(np.concatenate([c[:, 1] for _, c in data["validation"]]))) == {2, 3}


def test_resume_with_another_corpus_is_a_clear_error(tmp_path, midi_folder, lstm_checkpoint):
    import shutil

    out = tmp_path / "ck"
    shutil.copytree(lstm_checkpoint, out)
    with pytest.raises(CheckpointError, match="trained on corpus 'bach'"):
        train_lstm(str(midi_folder), steps=2, out=out, resume=True, **TINY)
    result = CliRunner().invoke(main, ["evaluate", "--checkpoint", str(out), "--corpus", str(midi_folder)])
    assert result.exit_code == 2
    assert "trained on corpus 'bach'" in result.output and "Traceback" not in result.output


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "none"), "--resume", *TINY_ARGS])
    assert result.exit_code == 2 and "no such checkpoint" in result.output


def test_cli_train_then_generate(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["train", "--corpus", "bach", "--model", "lstm", "--steps", "4", "--out", str(out), *TINY_ARGS]
    )
    assert result.exit_code == 0, result.output
    assert (out / "meta.json").exists() and (out / "losses.png").exists()
    midi = tmp_path / "out.mid"
    result = CliRunner().invoke(main, ["generate", "--checkpoint", str(out), "--bars", "2", "-o", str(midi)])
    assert result.exit_code == 0, result.output
    assert mido.MidiFile(midi).length == pytest.approx(2 * 4 * 60 / 100)


def test_train_on_a_midi_folder(tmp_path, midi_folder):
    out = tmp_path / "folder-ck"
    result = CliRunner().invoke(
        main,
        [
            "train",
            "--corpus",
            str(midi_folder),
            "--steps",
            "3",
            "--out",
            str(out),
            "--transpose",
            "2",
            *TINY_ARGS,
        ],
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["corpus"]["name"] == str(midi_folder.resolve())
    assert len(meta["music"]["tracks"]) == 2
    midi = tmp_path / "folder.mid"
    result = CliRunner().invoke(main, ["generate", "--checkpoint", str(out), "--bars", "3", "-o", str(midi)])
    assert result.exit_code == 0, result.output
    score = read_midi(midi)
    assert score.n_bars == 3 and mido.MidiFile(midi).length == pytest.approx(3 * 4 * 60 / 100)


def test_changed_corpus_is_a_clear_error(tmp_path, lstm_checkpoint):
    import shutil

    out = tmp_path / "ck"
    shutil.copytree(lstm_checkpoint, out)
    meta = json.loads((out / "meta.json").read_text())
    meta["corpus"]["fingerprint"] = "0" * 16
    (out / "meta.json").write_text(json.dumps(meta))
    result = CliRunner().invoke(main, ["evaluate", "--checkpoint", str(out)])
    assert result.exit_code == 2 and "has changed since this checkpoint was trained" in result.output


def test_ctrl_c_saves_a_checkpoint_then_resume_continues(tmp_path):
    import signal
    import subprocess
    import sys

    out = tmp_path / "interrupted"
    cmd = [
        sys.executable,
        "-c",
        "from composer.cli import main; main()",
        "train",
        "--steps",
        "100000",
        "--out",
        str(out),
        *TINY_ARGS,
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline() == f"training lstm: writing to {out}\n"  # the CLI says where first
    assert proc.stderr.readline().startswith("training lstm on bach")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    step = json.loads((out / "last" / "meta.json").read_text())["step"]
    assert step >= 1 and proc.returncode == 130 and "Traceback" not in err
    line = f"interrupted at step {step}; checkpoint saved in {out} (continue with --resume --out {out})"
    assert err.strip().splitlines()[-1] == line and "wrote" not in err
    resumed = train_lstm("bach", steps=step + 2, out=out, resume=True, **TINY)
    assert json.loads((resumed / "last" / "meta.json").read_text())["step"] == step + 2


def test_out_folder_with_a_checkpoint_is_refused_unless_resume_or_force(tmp_path, lstm_checkpoint):
    out = tmp_path / "ck"
    shutil.copytree(lstm_checkpoint, out)
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


def test_a_folder_with_only_last_is_refused_too(tmp_path, lstm_checkpoint):
    out = tmp_path / "ck"
    shutil.copytree(lstm_checkpoint / "last", out / "last")
    with pytest.raises(ComposerError, match="already holds a checkpoint"):
        train_lstm("bach", steps=2, out=out, **TINY)
    assert json.loads((out / "last" / "meta.json").read_text())["step"] == 12
