"""Validation of a checkpoint's meta.json: a shared folder is untrusted data, checked before use.

The checks are generic, so a new field passes without a change here:

- ``files`` maps a role (``model``, ``optimizer``, any lower-case word) to a plain file name of the
  pattern ``<role>-<step>[-<8 hex>].safetensors``: no folder, no ``..``, nothing outside the folder;
- every number under ``config`` is finite and within 0..CONFIG_MAX (so nothing built from the config
  can ask for gigabytes before the weights' shapes are compared with it);
- a key of a known name is checked wherever it appears (KEY_RULES: ``bpm``, ``resolution``,
  ``time_signature``, ``program``, ``seed``, ``lr``, ...);
- a token vocabulary (``vocab``) is checked against its ranges and against ``config.vocab_sizes``.

Every failure is a CheckpointError naming the folder and the field (``config.hidden``).
"""

from __future__ import annotations

import math
import re
import reprlib
from pathlib import Path

from composer.errors import CheckpointError, show_path

FORMAT = 1
CONFIG_MAX = 2**20  # a config number above this is corrupt (the book-size models use at most 1024)
MAX_DEPTH = 32  # nesting of meta.json; composer writes at most 6
FILE_NAME = re.compile(r"(?P<role>[a-z_]+)-[0-9]{1,12}(-[0-9a-f]{8})?\.safetensors")
STREAMS = ("shift", "pitch", "duration", "track")  # as composer.representations.tokens (no numpy here)
REST = 128
MIN_BPM = 60e6 / 0xFFFFFF  # the slowest tempo a MIDI file can hold: 0xFFFFFF microseconds per beat


def _int(lo: int, hi: int):
    def check(v):
        return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi

    check.text = f"an integer in {lo}..{hi}"
    return check


def _number(lo: float, hi: float, open_low: bool = False):
    def check(v):
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        return ok and (lo < v if open_low else lo <= v) and v <= hi

    check.text = f"a number in {'(' if open_low else '['}{lo:g}, {hi:g}]"
    return check


def _meter(v) -> bool:
    return (
        isinstance(v, list)
        and len(v) == 2
        and all(_int(1, 64)(x) for x in v)
        and v[1] & (v[1] - 1) == 0  # a power of two
    )


_meter.text = "[numerator 1..64, denominator a power of two up to 64]"


def _optional(rule):
    def check(v):
        return v is None or rule(v)

    check.text = f"null or {rule.text}"
    return check


# Checked wherever the key appears in meta.json (but not under "optimizer(s)", torch's own state).
KEY_RULES = {
    "bpm": _number(MIN_BPM, 60e6),
    "resolution": _int(1, 480),
    "time_signature": _meter,
    "program": _int(0, 127),
    "lowest_pitch": _int(0, 127),
    "n_pitches": _int(1, 128),
    "n_tracks": _int(1, 128),
    "step": _int(0, 2**53),
    "seed": _int(0, 2**63 - 1),
    "lr": _number(0, 10, open_low=True),
    "batch_size": _int(1, 2**16),
    "seq_len": _int(2, 2**16),
    "patience": _int(1, 2**31),
    "steps": _optional(_int(1, 2**53)),
    "epochs": _optional(_int(1, 2**31)),
    "transpose": _int(0, 11),
    "max_shift": _int(1, 2**16),
    "max_duration": _int(1, 2**16),
}
SKIP = ("optimizer", "optimizers", "history", "running")  # torch's state and free-form logs


def check_meta(meta, folder: Path, kind: str | None = None) -> dict:
    """``meta`` (parsed meta.json) if it is a well-formed composer checkpoint, else CheckpointError."""
    where = show_path(folder)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "files" not in meta:
        raise CheckpointError(f"{where}: not a composer checkpoint (format {FORMAT} expected)")
    model = meta.get("model")
    if kind is not None and model != kind:
        article = "an" if kind == "lstm" else "a"  # as spoken: "an el-es-tee-em"
        shown = model if isinstance(model, str) and len(model) < 40 else "unknown"
        raise CheckpointError(f"{where}: holds a {shown!r} model, not {article} {kind}")
    check_files(meta["files"], folder)
    if "config" in meta:
        if not isinstance(meta["config"], dict):
            _fail(folder, "config", meta["config"], "a JSON object")
        _check_config(meta["config"], folder, "config")
    _check_keys(meta, folder, "")
    _check_logs(meta, folder)
    _check_pitch_range(meta, folder)
    _check_tracks(meta, folder)
    if "vocab" in meta:
        _check_vocab(meta, folder)
    return meta


def check_files(files, folder: Path) -> dict[str, str]:
    """``files`` of meta.json: role -> plain file name of composer's own pattern (see module doc)."""
    if not isinstance(files, dict) or not isinstance(files.get("model"), str):
        _fail(folder, "files", files, 'an object naming at least the "model" file')
    for role, name in files.items():
        match = FILE_NAME.fullmatch(name) if isinstance(name, str) else None
        if match is None or match["role"] != role:
            _fail(folder, f"files.{show_path(str(role))}", name, f"a file name {role}-<step>.safetensors")
    return files


def _check_config(value, folder: Path, field: str) -> None:
    """Every number of the model config finite and in 0..CONFIG_MAX; bounded strings and lists."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        if not (math.isfinite(value) and 0 <= value <= CONFIG_MAX):
            _fail(folder, field, value, f"a number in 0..{CONFIG_MAX}")
    elif isinstance(value, str):
        if len(value) > 64:
            _fail(folder, field, value, "a short name")
    elif isinstance(value, (list, dict)) and len(value) <= 64:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            _check_config(v, folder, f"{field}.{k}")
    else:
        _fail(folder, field, value, "at most 64 numbers, names or flags")


def _check_keys(value, folder: Path, field: str, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{show_path(folder)}: meta.json nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for k, v in value.items():
            name = f"{field}.{k}" if field else str(k)
            if k in KEY_RULES and not KEY_RULES[k](v):
                _fail(folder, name, v, KEY_RULES[k].text)
            if k not in SKIP:
                _check_keys(v, folder, name, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_keys(v, folder, f"{field}.{i}", depth + 1)


def _check_logs(meta: dict, folder: Path) -> None:
    """``history`` (an object of number lists) and ``running`` (a number list), which training extends."""
    logs = [("running", meta.get("running", []))]
    history = meta.get("history", {})
    if not isinstance(history, dict):
        _fail(folder, "history", history, "an object of loss lists")
    logs += [(f"history.{k}", v) for k, v in history.items()]
    for field, values in logs:
        if not isinstance(values, list) or not all(_is_number(v) for v in values):
            _fail(folder, field, values, "a list of numbers")


def _check_pitch_range(meta: dict, folder: Path) -> None:
    """A piano roll's pitches inside MIDI's 0..127; its track count that of ``tracks``."""
    rep, config = meta.get("representation"), meta.get("config", {})
    if isinstance(rep, dict) and "lowest_pitch" in rep and "n_pitches" in rep:
        if rep["lowest_pitch"] + rep["n_pitches"] > 128:
            _fail(
                folder, "representation.n_pitches", rep["n_pitches"], f"at most {128 - rep['lowest_pitch']}"
            )
    tracks = meta.get("tracks")
    if "n_tracks" in config and isinstance(tracks, list) and len(tracks) != config["n_tracks"]:
        _fail(folder, "tracks", tracks, f"{config['n_tracks']} tracks (config.n_tracks)")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_tracks(meta: dict, folder: Path) -> None:
    """Track lists (``tracks``, ``music.tracks``): 1..128 objects with a name, program and drum flag."""
    for field, holder in (("tracks", meta), ("music.tracks", meta.get("music"))):
        if not isinstance(holder, dict) or "tracks" not in holder:
            continue
        tracks = holder["tracks"]
        if not isinstance(tracks, list) or not 1 <= len(tracks) <= 128:
            _fail(folder, field, tracks, "a list of 1..128 tracks")
        for i, t in enumerate(tracks):
            ok = isinstance(t, dict) and isinstance(t.get("name"), str) and len(t["name"]) <= 256
            if not ok or "program" not in t or not isinstance(t.get("is_drum", False), bool):
                _fail(folder, f"{field}.{i}", t, "an object with a name, a program 0..127, is_drum")


def _check_vocab(meta: dict, folder: Path) -> None:
    """Stream values sorted and unique, in range, matching the config's sizes; a shift above 0."""
    vocab, rep, music = (meta.get(k) for k in ("vocab", "representation", "music"))
    rep = rep if isinstance(rep, dict) else {}
    if not isinstance(vocab, dict):
        _fail(folder, "vocab", vocab, "an object of streams and values")
    if vocab.get("streams") != list(STREAMS):
        _fail(folder, "vocab.streams", vocab.get("streams"), list(STREAMS))
    values = vocab.get("values")
    if not isinstance(values, dict):
        _fail(folder, "vocab.values", values, "an object of value lists")
    n_tracks = len(music.get("tracks", [])) if isinstance(music, dict) else 0
    n_tracks = n_tracks or 128
    highest = {
        "shift": rep.get("max_shift", 2**16),
        "pitch": REST,
        "duration": rep.get("max_duration", 2**16),
        "track": n_tracks - 1,
    }
    sizes = meta.get("config", {}).get("vocab_sizes")
    for s in STREAMS:
        v = values.get(s)
        ok = isinstance(v, list) and 0 < len(v) <= 2**16 and all(_int(0, highest[s])(x) for x in v)
        if not ok or any(a >= b for a, b in zip(v, v[1:])):
            _fail(folder, f"vocab.values.{s}", v, f"ascending distinct integers in 0..{highest[s]}")
        if isinstance(sizes, dict) and sizes.get(s) != len(v) + 2:  # + BOS and UNK
            _fail(folder, f"config.vocab_sizes.{s}", sizes.get(s), f"{len(v) + 2} (the vocabulary's size)")
    if max(values["shift"]) == 0:
        _fail(folder, "vocab.values.shift", values["shift"], "a shift above 0 (else time never moves on)")


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 2, 40, 40, 4, 4


def _fail(folder: Path, field: str, value, expected) -> None:
    shown = _SHORT.repr(value)
    raise CheckpointError(f"{show_path(folder)}: meta.json field {field} is {shown}, expected {expected}")
