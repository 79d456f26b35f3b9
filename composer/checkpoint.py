"""Checkpoints: safetensors weights plus JSON metadata in one folder; never a pickle.

A checkpoint folder holds

- ``meta.json``: model kind and config, vocabulary, corpus and representation settings, training
  state (step, epoch, losses, RNG states) and the names of the two tensor files below;
- ``model-<step>-<tag>.safetensors``: the model's weights;
- ``optimizer-<step>-<tag>.safetensors``: optimizer state (and any other training tensors), for --resume.

``<tag>`` is random per save, so a save never overwrites a file that the current meta.json names (not
even when it saves the same step again). Saving writes the tensor files first, then replaces meta.json
atomically, then removes the files the previous meta.json named. meta.json is the commit point: a
crash at any moment leaves a folder whose meta.json names a complete, consistent set of files.
Loading reads whatever file names meta.json holds, so older checkpoints (``model-<step>``) still load.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors import SafetensorError

from composer.atomic import atomic_path, atomic_write
from composer.errors import CheckpointError

if TYPE_CHECKING:
    import torch

META = "meta.json"
FORMAT = 1


def save_checkpoint(
    folder: str | os.PathLike,
    meta: dict,
    model_state: dict[str, torch.Tensor],
    train_state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write one checkpoint atomically. ``meta`` must be JSON-serializable and hold ``step``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    step = int(meta["step"])
    old = _read_meta(folder) if (folder / META).exists() else None
    tag = f"{step}-{secrets.token_hex(4)}"  # unique per save: never overwrites a file meta.json names
    files = {"model": f"model-{tag}.safetensors"}
    _save_tensors(folder / files["model"], model_state)
    if train_state is not None:
        files["optimizer"] = f"optimizer-{tag}.safetensors"
        _save_tensors(folder / files["optimizer"], train_state)
    with atomic_write(folder / META, "w") as f:
        json.dump({**meta, "format": FORMAT, "files": files}, f, indent=1, sort_keys=True)
    for name in (old or {}).get("files", {}).values():
        if name not in files.values():
            (folder / name).unlink(missing_ok=True)
    return folder


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))


def load_checkpoint(
    folder: str | os.PathLike, with_train_state: bool = False, kind: str | None = None
) -> tuple[dict, dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """Read (meta, model_state, train_state); train_state is None unless asked for.

    With ``kind`` ("lstm", "musegan"), a checkpoint of another model is refused. Raises
    CheckpointError, naming the folder and the reason, when anything is missing, corrupt or of
    another kind.
    """
    folder = Path(folder)
    meta = _read_meta(folder, kind)
    model_state = _load_tensors(folder, meta["files"].get("model"))
    train_state = None
    if with_train_state:
        if "optimizer" not in meta["files"]:
            raise CheckpointError(f"{folder}: holds no optimizer state, so training cannot resume from it")
        train_state = _load_tensors(folder, meta["files"]["optimizer"])
    return meta, model_state, train_state


def read_meta(folder: str | os.PathLike) -> dict:
    """Only the JSON metadata of a checkpoint (cheap: no tensors are read)."""
    return _read_meta(Path(folder))


def _read_meta(folder: Path, kind: str | None = None) -> dict:
    path = folder / META
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such checkpoint")
    if not path.is_file():
        raise CheckpointError(f"{folder}: not a checkpoint folder (no {META})")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "files" not in meta:
        raise CheckpointError(f"{path}: not a composer checkpoint (format {FORMAT} expected)")
    if kind is not None and meta.get("model") != kind:
        article = "an" if kind == "lstm" else "a"  # as spoken: "an el-es-tee-em"
        raise CheckpointError(f"{folder}: holds a {meta.get('model')!r} model, not {article} {kind}")
    return meta


def load_checkpoint_numpy(folder: str | os.PathLike, kind: str | None = None) -> tuple[dict, dict]:
    """(meta, weights as NumPy arrays) without importing torch: for fast, torch-free inference.

    ``kind`` as for load_checkpoint.
    """
    folder = Path(folder)
    meta = _read_meta(folder, kind)
    return meta, _load_tensors(folder, meta["files"].get("model"), numpy=True)


def _load_tensors(folder: Path, name: str | None, numpy: bool = False) -> dict:
    if numpy:
        from safetensors.numpy import load_file
    else:
        from safetensors.torch import load_file
    if not name:
        raise CheckpointError(f"{folder}: {META} names no weights file")
    path = folder / name
    try:
        return load_file(str(path)) if numpy else load_file(str(path), device="cpu")
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing checkpoint file") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint weights ({e})") from None


def optimizer_to_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer's state_dict into flat tensors (for safetensors) and JSON (param groups)."""
    import torch

    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, state in sd["state"].items():
        for k, v in state.items():
            if torch.is_tensor(v):
                tensors[f"state.{idx}.{k}"] = v
            else:
                scalars[f"{idx}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_tensors(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], info: dict
) -> None:
    """Load what optimizer_to_tensors produced back into ``optimizer``."""
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        if key.startswith("state."):
            _, idx, k = key.split(".", 2)
            state.setdefault(int(idx), {})[k] = v
    for key, v in info.get("scalars", {}).items():
        idx, k = key.split(".", 1)
        state.setdefault(int(idx), {})[k] = v
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
