"""A real install: the built wheel, in a fresh venv, composes and trains from any folder.

The wheel is built from a copy of the package's sources (building in place would leave build/ and
*.egg-info in the checkout), installed offline into a venv that reuses the torch already present, and
run from an empty temporary folder with no PYTHONPATH, so it can only use what the wheel carries.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from composer import read_midi

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "composer", "checkpoints", "corpora")
MAX_WHEEL_BYTES = 30 * 2**20
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "last", "samples", "*.png")


def _files(folder: Path) -> set[str]:
    """Every file below ``folder``, relative, without Python's bytecode caches."""
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


def _run(args: list[str], cwd: Path, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, timeout=timeout)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}"
    return proc


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> tuple[Path, Path]:
    """(venv folder, wheel): the wheel built from a copy of the sources, installed into a fresh venv."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=SKIP)
        else:
            shutil.copy(ROOT / name, src / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", str(src), "-w", str(tmp / "dist")], tmp, env)
    (wheel,) = (tmp / "dist").glob("composer-*.whl")
    # --without-pip: the system pip (visible through --system-site-packages) installs into the venv.
    _run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(tmp / "venv")], tmp, env
    )
    python = tmp / "venv" / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--no-index", "--no-deps", "-q", str(wheel)], tmp, env)
    return tmp / "venv", wheel


def test_wheel_carries_every_module_and_the_shipped_data_under_30_mb(venv):
    _, wheel = venv
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "composer").rglob("*.py")}
    assert modules - names == set()  # pyproject lists the packages by hand: a new one must be added
    for name in ("lstm-bach", "lstm-bach-noattn", "musegan-bach"):
        assert f"composer_data/checkpoints/{name}/meta.json" in names
        assert any(n.startswith(f"composer_data/checkpoints/{name}/model-") for n in names)
    assert any(n.startswith("composer_data/corpora/bach-") and n.endswith(".npz") for n in names)
    assert wheel.stat().st_size <= MAX_WHEEL_BYTES


def test_installed_wheel_composes_and_trains_only_under_runs(venv, tmp_path):
    folder, _ = venv
    site = next(folder.glob("lib/python*/site-packages"))
    installed_before = _files(site / "composer_data") | _files(site / "composer")
    checkout_before = _files(ROOT)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(COMPOSER_CACHE_DIR=str(work / "cache"), COMPOSER_THREADS="1")
    composer = str(folder / "bin" / "composer")

    out = _run([composer, "generate", "--bars", "8", "-o", "out.mid"], work, env)
    score = read_midi(work / "out.mid")
    assert score.n_steps == 8 * score.steps_per_bar and score.n_bars == 8, out.stderr.decode()

    trained = _run([composer, "train", "--corpus", "Bach", "--steps", "5", "--size", "tiny"], work, env)
    lines = trained.stderr.decode().splitlines()
    assert lines[0] == "training lstm: writing to runs/lstm-bach"
    assert lines[-1] == "  composer generate --checkpoint runs/lstm-bach --bars 8 > out.mid"
    _run([composer, "generate", "--checkpoint", "latest", "--bars", "2", "-o", "mine.mid"], work, env)
    assert read_midi(work / "mine.mid").n_bars == 2
    assert not (work / "cache").exists()  # bach came from the cache entry inside the wheel

    written = _files(work)
    assert {"out.mid", "mine.mid", "runs/lstm-bach/meta.json", "runs/lstm-bach/last/meta.json"} <= written
    assert {f for f in written if not f.startswith(("runs/", "cache/"))} == {"out.mid", "mine.mid"}
    assert _files(site / "composer_data") | _files(site / "composer") == installed_before
    assert _files(ROOT) == checkout_before


def test_installed_wheel_refuses_to_train_into_its_shipped_checkpoint(venv, tmp_path):
    folder, _ = venv
    site = next(folder.glob("lib/python*/site-packages"))
    shipped = site / "composer_data" / "checkpoints" / "lstm-bach"
    before = {f: (shipped / f).read_bytes() for f in _files(shipped)}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(COMPOSER_CACHE_DIR=str(tmp_path / "cache"))
    args = [str(folder / "bin" / "composer"), "train", "--steps", "5", "--size", "tiny", "--force"]
    proc = subprocess.run([*args, "--out", str(shipped)], cwd=tmp_path, env=env, capture_output=True)
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        f"composer: error: {shipped} is a checkpoint shipped with composer; train into another --out DIR\n"
    )
    assert {f: (shipped / f).read_bytes() for f in _files(shipped)} == before
