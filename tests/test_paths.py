"""composer.paths: `latest`, corpus names, run folders and the cache folder."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from composer.errors import CheckpointError
from composer.paths import (
    cache_dir,
    corpus_source,
    is_shipped,
    resolve_checkpoint,
    run_dir,
    shipped_checkpoint,
)


def test_latest_is_the_newest_run_of_that_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, model, mtime in (("old", "lstm", 100), ("new", "lstm", 300), ("gan", "musegan", 400)):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "meta.json").write_text(json.dumps({"model": model}))
        os.utime(tmp_path / "runs" / name / "meta.json", (mtime, mtime))
    (tmp_path / "runs" / "junk").mkdir()
    (tmp_path / "runs" / "junk" / "meta.json").write_text("{not json")
    assert resolve_checkpoint("latest", "lstm") == Path("runs/new")
    assert resolve_checkpoint("latest", "musegan") == Path("runs/gan")
    assert resolve_checkpoint("runs/old", "lstm") == Path("runs/old")
    assert resolve_checkpoint(None, "lstm") is None
    (tmp_path / "runs" / "gan" / "meta.json").unlink()
    with pytest.raises(CheckpointError, match=f"latest: no musegan checkpoint under {tmp_path / 'runs'}"):
        resolve_checkpoint("latest", "musegan")


def test_corpus_names_and_run_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert [corpus_source(s) for s in ("Bach", "BACH", "bach")] == ["bach"] * 3
    assert run_dir("lstm", "Bach") == Path("runs/lstm-bach")
    (tmp_path / "My Songs").mkdir()
    assert run_dir("musegan", tmp_path / "My Songs") == Path("runs/musegan-My Songs")
    assert run_dir("lstm", ".") == Path(f"runs/lstm-{tmp_path.name}")
    (tmp_path / "Bach").mkdir()  # a folder of that name is the user's corpus, not the chorales
    assert corpus_source("Bach") == "Bach"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_CACHE_HOME is the Linux user cache")
def test_cache_dir_is_the_variable_else_the_user_cache_never_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv("COMPOSER_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("COMPOSER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "composer"
    assert is_shipped(shipped_checkpoint("lstm-bach") / "last") and not is_shipped(tmp_path / "checkpoints")
