"""Training runs are safe: one run per --out folder, and a kill at any save leaves a run --resume continues."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from composer.checkpoint import read_meta
from composer.cli import main
from composer.errors import ComposerError
from composer.training import loop
from tests.helpers import TINY, write_piece

ROOT = Path(__file__).resolve().parents[2]
HOLD = "import sys, time; from composer.training.loop import locked\nwith locked(sys.argv[1]):\n print('held', flush=True); time.sleep(60)"


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock on tmp_path/out; yields (folder, its pid)."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline() == "held\n"
    yield out, proc.pid
    proc.kill()
    proc.wait()


def test_a_second_run_into_a_locked_folder_is_refused_naming_the_first(holder):
    out, pid = holder
    message = f"{out}: another training run (pid {pid}) is writing to this folder"
    with pytest.raises(ComposerError, match=rf"^{re.escape(message)}$"), loop.locked(out):
        pass
    result = CliRunner().invoke(main, ["train", "--out", str(out), "--steps", "1"])
    first = f"training lstm: writing to {out}\n"  # the CLI says where before the library takes the lock
    assert result.exit_code == 2 and result.output == f"{first}composer: error: {message}\n"
    assert not (out / "meta.json").exists()


def test_the_lock_ends_with_the_process_that_held_it(holder):
    out, _ = holder
    subprocess.run(["kill", "-9", str(holder[1])], check=True)
    for _ in range(100):  # the kernel drops a flock when the holder's last descriptor closes
        try:
            with loop.locked(out):
                assert (out / loop.LOCK).read_text() == f"{os.getpid()}\n"
            return
        except ComposerError:
            time.sleep(0.05)
    pytest.fail("the lock outlived its process")


def test_a_lock_file_that_is_not_a_file_is_refused(tmp_path):
    (tmp_path / loop.LOCK).mkdir()
    with pytest.raises(ComposerError, match=r"cannot lock the checkpoint folder|not a regular file"):
        with loop.locked(tmp_path):
            pass


class Killed(BaseException):
    """Stands in for kill -9: nothing after it runs (no except clause catches a BaseException)."""


def test_a_kill_at_the_first_best_save_leaves_a_run_that_resume_continues(tmp_path, cache_dir, monkeypatch):
    from composer.training import lstm

    midis = tmp_path / "midis"
    midis.mkdir()
    for i in range(4):
        write_piece(midis / f"p{i}.mid", i, 2)
    out = tmp_path / "ck"
    real = lstm.save_checkpoint

    def killed_at_best(folder, *args, **kwargs):
        if Path(folder) == out:  # the best checkpoint; last/ is saved before it
            raise Killed
        return real(folder, *args, **kwargs)

    monkeypatch.setattr(lstm, "save_checkpoint", killed_at_best)
    with pytest.raises(Killed):  # one transposition: an epoch of 1 step, so the first best is at step 1
        lstm.train_lstm(str(midis), steps=3, out=out, transpose=0, **TINY)
    assert read_meta(out / "last")["step"] == 1 and not (out / "meta.json").exists()
    monkeypatch.setattr(lstm, "save_checkpoint", real)
    lstm.train_lstm(str(midis), steps=3, out=out, resume=True, **TINY)
    assert read_meta(out / "last")["step"] == 3 and read_meta(out)["step"] == 3
