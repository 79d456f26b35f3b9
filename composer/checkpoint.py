"""Checkpoints: save_checkpoint / load_checkpoint of safetensors weights plus JSON metadata; never a pickle.

A checkpoint folder holds

- ``meta.json``: the format-2 schema of composer.checkpoint_meta, the same for every model: model
  kind, model config, codec, training config, step, loss history, loop state, optimizers' JSON part,
  and the names of the two tensor files below;
- ``model-<step>-<tag>.safetensors``: the model's weights;
- ``optimizer-<step>-<tag>.safetensors``: optimizer state (and any other training tensors), for --resume.

``<tag>`` is random per save, so a save never overwrites a file that the current meta.json names (not
even when it saves the same step again). Saving checks the metadata against the schema, writes the
tensor files, then replaces meta.json atomically, then removes the files the previous meta.json named.
meta.json is the commit point: a crash at any moment leaves a folder whose meta.json names a complete,
consistent set of files. Format-1 folders (and their ``model-<step>.safetensors``) still load, read
as format 2 (composer.checkpoint_v1); saving always writes format 2.

A folder may come from anyone, so loading trusts nothing in it (composer.checkpoint_meta checks the
JSON): files are plain names inside the folder of composer's own pattern, opened only when they are
regular files (a FIFO never blocks, a symlink never leads out), JSON and tensor headers are read
with bounded size and depth, the config is checked field by field against its dataclass
(``to_config``), and the tensors' shapes are compared with the model the config describes, built on
torch's meta device, before any tensor is read. Only files of composer's pattern that the previous
meta.json names are ever deleted.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from composer.atomic import atomic_path, atomic_write
from composer.checkpoint_meta import FORMAT, check_files, check_meta, to_codec, to_config, to_meta
from composer.checkpoint_v1 import from_format1
from composer.errors import CheckpointError, show_path

if TYPE_CHECKING:
    import torch

META = "meta.json"
MAX_META_BYTES = 64 * 2**20  # a long run's loss history is a few MB
MAX_HEADER_BYTES = 16 * 2**20  # safetensors' own limit is 100 MB; composer's headers are a few kB
MAX_TENSOR_BYTES = 2**30  # the book-size MuseGAN's weights are about 35 MB
DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}

__all__ = [
    "FORMAT",
    "load_checkpoint",
    "load_checkpoint_numpy",
    "read_meta",
    "save_checkpoint",
    "save_format2",
    "to_codec",
    "to_config",
    "to_meta",
]


def save_checkpoint(
    folder: str | os.PathLike,
    meta: dict,
    model_state: dict[str, torch.Tensor],
    train_state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write one checkpoint atomically; returns ``folder``.

    ``meta`` holds the format-2 fields (composer.checkpoint_meta) but ``format`` and ``files``, which
    this adds. It is checked as a loader would check it before anything is written, so what composer
    writes always loads (a CheckpointError here is composer's own bug, not the user's).
    """
    folder = Path(folder)
    step = meta.get("step")  # check_meta names a missing or bad one before its file name is used
    tag = f"{step}-{secrets.token_hex(4)}"  # unique per save: never overwrites a file meta.json names
    files = {"model": f"model-{tag}.safetensors"}
    if train_state is not None:
        files["optimizer"] = f"optimizer-{tag}.safetensors"
    meta = check_meta({**meta, "format": FORMAT, "files": files}, folder)
    folder.mkdir(parents=True, exist_ok=True)
    old = _previous_files(folder)
    _save_tensors(folder / files["model"], model_state)
    if train_state is not None:
        _save_tensors(folder / files["optimizer"], train_state)
    with atomic_write(folder / META, "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    for name in old - set(files.values()):
        path = folder / name
        if stat.S_ISREG(_lstat(path)) or stat.S_ISLNK(_lstat(path)):  # unlinking a link leaves its target
            path.unlink(missing_ok=True)
    return folder


def save_format2(folder: str | os.PathLike) -> bool:
    """Rewrite a format-1 checkpoint's meta.json as format 2, in place and atomically; the tensor
    files are left as they are, byte for byte. Returns whether there was anything to rewrite."""
    folder = Path(folder)
    data = _read_json(folder / META, folder)
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return False
    meta = _read_meta(folder)
    with atomic_write(folder / META, "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    return True


def _previous_files(folder: Path) -> set[str]:
    """Names the current meta.json gives, if they are all of composer's own pattern; else none (a
    damaged or foreign meta.json deletes nothing)."""
    try:
        return set(check_files(_read_json(folder / META, folder).get("files"), folder).values())
    except (CheckpointError, AttributeError):
        return set()


def _lstat(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp))
        except SafetensorError as e:  # how safetensors reports a full disk or a vanished folder
            raise OSError(str(e).splitlines()[0]) from None


def load_checkpoint(
    folder: str | os.PathLike,
    with_train_state: bool = False,
    kind: str | None = None,
    like: Callable[[object], torch.nn.Module] | None = None,
    config: type | None = None,
) -> tuple[dict, dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """Read (meta, model_state, train_state); ``meta`` is format 2 whatever format the folder holds,
    train_state is None unless asked for.

    With ``kind`` ("lstm", "musegan", "harmonizer"), a checkpoint of another model is refused. With
    ``config`` (the model's config dataclass), ``meta["config"]`` is checked against its fields
    (``to_config``). ``like`` builds the model from the config (the ``config`` instance when given,
    else the dict): it is built on torch's meta device (no memory), and its state_dict must have the
    weights file's tensor names and shapes before any tensor is read. Raises CheckpointError, naming
    the folder and the reason, when anything is missing, corrupt, of another kind or of other shapes.
    """
    folder = Path(folder)
    meta = _read_meta(folder, kind)
    typed = meta["config"] if config is None else to_config(config, meta["config"], folder)
    check = None if like is None else (lambda shapes: check_shapes(folder, typed, like, shapes))
    model_state = _read_tensors(folder, meta["files"]["model"], check=check)
    train_state = None
    if with_train_state:
        if "optimizer" not in meta["files"]:
            raise CheckpointError(
                f"{show_path(folder)}: holds no optimizer state, so training cannot resume from it"
            )
        train_state = _read_tensors(folder, meta["files"]["optimizer"])
    return meta, model_state, train_state


def read_meta(folder: str | os.PathLike) -> dict:
    """Only the JSON metadata of a checkpoint, validated, as format 2 (cheap: no tensors are read)."""
    return _read_meta(Path(folder))


def _read_meta(folder: Path, kind: str | None = None) -> dict:
    if not folder.exists():
        raise CheckpointError(f"{show_path(folder)}: no such checkpoint")
    if not (folder / META).exists():
        raise CheckpointError(f"{show_path(folder)}: not a checkpoint folder (no {META})")
    meta = _read_json(folder / META, folder)
    if isinstance(meta, dict) and meta.get("format") == 1:
        meta = from_format1(meta, folder)
    return check_meta(meta, folder, kind)


def _read_json(path: Path, folder: Path):
    """Parsed JSON of a regular file inside ``folder``, at most MAX_META_BYTES."""
    data = _read_file(path, folder, MAX_META_BYTES)
    try:
        return json.loads(data)
    except RecursionError:
        raise CheckpointError(f"{show_path(path)}: corrupt checkpoint metadata (nested too deeply)") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{show_path(path)}: corrupt checkpoint metadata ({e})") from None


def _open(path: Path, folder: Path) -> int:
    """A read-only descriptor of ``path`` if it is a regular file inside ``folder`` (a symlink may
    point within the folder, never out of it); never blocks on a FIFO."""
    where = show_path(path)
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            target = Path(os.path.realpath(path))
            if not target.is_relative_to(Path(os.path.realpath(folder))):
                raise CheckpointError(f"{where}: a link out of the checkpoint folder, not read")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise CheckpointError(f"{where}: missing checkpoint file") from None
    except OSError as e:
        raise CheckpointError(f"{where}: cannot read ({e.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CheckpointError(f"{where}: not a regular file, not read")
    return fd


def _read_file(path: Path, folder: Path, limit: int) -> bytes:
    fd = _open(path, folder)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise CheckpointError(
                f"{show_path(path)}: {size:,} bytes, more than a checkpoint holds ({limit:,})"
            )
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise CheckpointError(f"{show_path(path)}: cannot read ({e.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise CheckpointError(f"{show_path(path)}: grew while read, more than {limit:,} bytes")
    return data


def _read_tensors(folder: Path, name: str, numpy: bool = False, check=None) -> dict:
    """The tensors of a file named in meta.json: its header is read and checked first (entries
    against the file's size, then ``check(shapes)``), and only then the data."""
    path = folder / name
    fd = _open(path, folder)
    try:
        size = os.fstat(fd).st_size
        if size > MAX_TENSOR_BYTES:
            raise CheckpointError(f"{show_path(path)}: {size:,} bytes, more than a checkpoint holds")
        head = os.pread(fd, 8, 0)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        shapes = _header(os.pread(fd, n, 8) if 0 <= n <= MAX_HEADER_BYTES else b"", n, size, path)
        if check is not None:
            check(shapes)
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(size + 1)
    except OSError as e:
        raise CheckpointError(f"{show_path(path)}: cannot read ({e.strerror})") from None
    finally:
        os.close(fd)
    if len(data) != size:
        raise CheckpointError(f"{show_path(path)}: changed while it was read")
    return _load_tensors(data, path, numpy)


def _header(text: bytes, n: int, size: int, path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (dtype, shape) from the JSON header (``n`` bytes) of a ``size``-byte safetensors file,
    each entry checked against the data that follows it."""
    bad = f"{show_path(path)}: corrupt checkpoint weights"
    if size < 8:
        raise CheckpointError(f"{bad} (a {size}-byte file)")
    if not 0 <= n <= min(MAX_HEADER_BYTES, size - 8) or len(text) != n:
        raise CheckpointError(f"{bad} (header of {n:,} bytes in a {size:,}-byte file)")
    try:
        header = json.loads(text)
    except (RecursionError, UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{bad} (header: {type(e).__name__})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{bad} (header is not an object)")
    out, body = {}, size - 8 - n
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
            count = 1
            for dim in shape:
                count *= dim if isinstance(dim, int) and dim >= 0 else -(2**70)
            ok = 0 <= begin <= end <= body and end - begin == count * DTYPE_BYTES[dtype]
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise CheckpointError(f"{bad} (tensor {show_path(str(key))}: {str(entry)[:80]})")
        out[key] = (dtype, tuple(shape))
    return out


def _load_tensors(data: bytes, path: Path, numpy: bool = False) -> dict:
    from safetensors import SafetensorError

    try:
        if numpy:
            from safetensors.numpy import load
        else:
            from safetensors.torch import load
        return load(data)
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"{show_path(path)}: corrupt checkpoint weights ({e})") from None


def check_shapes(folder: Path, config, like: Callable, shapes: dict[str, tuple]) -> None:
    """The model ``like(config)``, built on the meta device, has exactly ``shapes``."""
    import torch

    try:
        with torch.device("meta"):
            model = like(config)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    except (TypeError, ValueError, KeyError, RuntimeError, AttributeError, OverflowError, IndexError) as e:
        _not_a_model(folder, e)
    _compare_shapes(folder, expected, shapes)


def _not_a_model(folder: Path, e: Exception) -> None:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    raise CheckpointError(f"{show_path(folder)}: meta.json field config does not describe a model ({text})")


def _compare_shapes(folder: Path, expected: dict[str, tuple], shapes: dict[str, tuple]) -> None:
    for key in sorted(expected.keys() | shapes.keys()):
        got = shapes[key][1] if key in shapes else None
        if got != expected.get(key):
            want = list(expected[key]) if key in expected else "no such tensor"
            has = list(got) if got is not None else "missing"
            raise CheckpointError(
                f"{show_path(folder)}: weights do not match the stored config (tensor {show_path(key)}: "
                f"{has}, config gives {want})"
            )


def load_checkpoint_numpy(
    folder: str | os.PathLike,
    kind: str | None = None,
    config: type | None = None,
    shapes: Callable[[object], dict[str, tuple[int, ...]]] | None = None,
) -> tuple[dict, dict]:
    """(meta, weights as NumPy arrays) without importing torch: for fast, torch-free inference.

    ``kind`` and ``config`` as for load_checkpoint; ``meta`` is format 2. ``shapes`` plays the part
    of load_checkpoint's ``like``: it maps the config to the name -> shape of every tensor the model
    has, and the weights file's header must match it before any tensor is read.
    """
    folder = Path(folder)
    meta = _read_meta(folder, kind)
    typed = meta["config"] if config is None else to_config(config, meta["config"], folder)
    check = None
    if shapes is not None:
        try:
            expected = shapes(typed)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
            _not_a_model(folder, e)
        check = lambda found: _compare_shapes(folder, expected, found)  # noqa: E731
    return meta, _read_tensors(folder, meta["files"]["model"], numpy=True, check=check)


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
