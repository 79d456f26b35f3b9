"""Where composer's files live: the shipped models and bach cache, the user cache, and training runs.

- Shipped data (read-only): the repository's top-level ``checkpoints/`` and ``corpora/``. An installed
  wheel carries them as the data-only package ``composer_data`` (see pyproject.toml), found through
  importlib.resources; a source checkout uses its own folders, so code and models always match.
- The user cache (corpus caches): ``$COMPOSER_CACHE_DIR``, else the OS's user cache folder
  (``~/.cache/composer`` on Linux, through platformdirs). Nothing is ever written into the package.
- Training runs: ``runs/<model>-<corpus>`` under the current directory; ``latest`` names the most
  recently saved one.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import os
from pathlib import Path

from composer.errors import CheckpointError

CHECKOUT = Path(__file__).resolve().parents[1]  # the repository root when running from a checkout
RUNS = Path("runs")
LATEST = "latest"
CORPUS_NAMES = ("bach",)  # built-in corpora; any other --corpus is a folder
DEFAULT_CHECKPOINTS = {"lstm": "lstm-bach", "musegan": "musegan-bach", "harmonizer": "harmonizer-bach"}


def shipped_data(sub: str) -> Path:
    """The shipped folder ``sub`` ("checkpoints" or "corpora"), read-only.

    A checkout (composer imported from a folder beside pyproject.toml and checkpoints/) uses its own;
    an installed package uses ``composer_data``, which pip and pipx unpack to real folders on disk.
    """
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "checkpoints").is_dir():
        return CHECKOUT / sub
    try:
        found = importlib.resources.files("composer_data") / sub  # a namespace package: data only
    except ModuleNotFoundError:
        raise CheckpointError(
            "composer's shipped models are missing: no source checkout and no composer_data package "
            "(reinstall composer)"
        ) from None
    except NotADirectoryError:  # Python 3.11 with an editable install beside it: a path hook in the
        found = _first_location(sub)  # namespace path, which importlib.resources cannot list
    if not isinstance(found, Path):  # composer_data installed twice on sys.path (Python >= 3.12)
        found = _first_location(sub)
    return found


def _first_location(sub: str) -> Path:
    """``sub`` in the first folder of composer_data's namespace path that has it (sys.path order)."""
    spec = importlib.util.find_spec("composer_data")
    for entry in (spec.submodule_search_locations or []) if spec else []:
        if (Path(entry) / sub).is_dir():
            return Path(entry) / sub
    raise CheckpointError(f"composer's shipped {sub} are missing (reinstall composer)")


def shipped_checkpoint(name: str) -> Path:
    """The folder of a shipped checkpoint, e.g. ``shipped_checkpoint("lstm-bach")``."""
    return shipped_data("checkpoints") / name


def default_checkpoint(model: str) -> Path:
    """The shipped checkpoint that ``model`` ("lstm", "musegan" or "harmonizer") reads when none is given."""
    return shipped_checkpoint(DEFAULT_CHECKPOINTS[model])


def shipped_corpora() -> Path:
    """The folder of the shipped, read-only corpus cache entries (the prepared bach chorales)."""
    return shipped_data("corpora")


def is_shipped(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is, or lies inside, the shipped checkpoints (which training must not touch)."""
    try:
        shipped = shipped_data("checkpoints").resolve()
    except CheckpointError:
        return False
    return Path(folder).resolve().is_relative_to(shipped)


def cache_dir() -> Path:
    """$COMPOSER_CACHE_DIR, else the user cache folder of this OS (platformdirs), e.g. ~/.cache/composer."""
    if os.environ.get("COMPOSER_CACHE_DIR"):
        return Path(os.environ["COMPOSER_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("composer", appauthor=False))


def corpus_source(source: str | os.PathLike) -> str:
    """A corpus source with built-in names in any case ("Bach" is "bach"); an existing folder wins."""
    text = str(source)
    if text.lower() in CORPUS_NAMES and not Path(text).is_dir():
        return text.lower()
    return text


def corpus_name(source: str | os.PathLike) -> str:
    """The short name of a corpus source: a built-in name, else the folder's name."""
    text = corpus_source(source)
    return text if text in CORPUS_NAMES else Path(text).resolve().name or "corpus"


def run_dir(model: str, corpus_source: str | os.PathLike) -> Path:
    """Where ``composer train`` writes by default: ``runs/<model>-<corpus>`` under the current directory."""
    return RUNS / f"{model}-{corpus_name(corpus_source)}"


def latest_run(model: str, runs: str | os.PathLike = RUNS) -> Path:
    """The run folder under ``runs`` whose checkpoint of ``model`` was saved last.

    Raises
    ------
    CheckpointError
        When ``runs`` holds no checkpoint of that model.
    """
    found = []
    for meta in Path(runs).glob("*/meta.json"):
        try:
            if json.loads(meta.read_text()).get("model") == model:
                found.append((meta.stat().st_mtime, meta.parent))
        except (OSError, ValueError, AttributeError):
            continue  # not a checkpoint of ours: not a candidate
    if not found:
        raise CheckpointError(f"{LATEST}: no {model} checkpoint under {Path(runs).resolve()}")
    return max(found)[1]


def resolve_checkpoint(checkpoint: str | os.PathLike | None, model: str) -> Path | None:
    """A checkpoint argument as a folder: None stays None (the shipped default), ``latest`` is latest_run."""
    if checkpoint is None:
        return None
    if str(checkpoint) == LATEST and not Path(LATEST).exists():
        return latest_run(model)
    return Path(checkpoint)
