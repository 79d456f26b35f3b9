"""The checkpoint schema (format 2) and its validation: a shared folder is untrusted data.

Every model (``lstm``, ``musegan``, ``harmonizer``) writes the same top-level fields to meta.json:

==============  ==========================================================================================
``format``      2
``model``       the model kind: ``lstm``, ``musegan`` or ``harmonizer``
``config``      the model's config dataclass as a dict (LSTMConfig, MuseGANConfig, HarmonizerConfig);
                ``to_config`` checks it field by field against the dataclass
``codec``       how music becomes the model's numbers, as a dict: TokenCodec (lstm), RollCodec
                (musegan), HarmonyGrid (harmonizer)
``training``    the training config (the model's TrainConfig as a dict)
``step``        optimizer steps taken
``history``     loss curves: curve name -> list of numbers
``files``       role (``model``, ``optimizer``) -> a file of this folder, ``<role>-<step>-<8 hex>.safetensors``
``music``       optional: the score settings output is written in (``bpm``, ``time_signature``, ``tracks``
                [{name, program, is_drum}]) where the codec does not hold them
``corpus``      optional: ``name`` and ``fingerprint`` of the corpus trained on, and how it was loaded
``state``       optional: the training loop's own state for --resume (epoch, early stopping, running
                loss, best loss, seconds): numbers, number lists, objects of those
``optimizers``  optional, beside ``files.optimizer``: name -> an optimizer's JSON part (``param_groups``,
                ``scalars``); its tensors are in the optimizer file
==============  ==========================================================================================

Format 1 (two key schemas under one number) is read through composer.checkpoint_v1, which turns it
into format 2 before these checks run; composer writes only format 2.

Model code builds the metadata with ``to_meta`` and reads it back with ``to_config`` (the config
dataclass, each field type-checked, so a new field needs no change here) and ``to_codec`` (the codec,
by its own ``from_dict``).

The checks are generic where they can be, so a new config field passes without a change here: every
number under ``config`` is finite and within 0..CONFIG_MAX (nothing built from it can ask for
gigabytes before the weights' shapes are compared with it); a key of a known name is checked wherever
it appears (KEY_RULES: ``bpm``, ``resolution``, ``time_signature``, ``program``, ``lr``, ...); a token
vocabulary is checked against its ranges and ``config.vocab_sizes``. Every failure is a
CheckpointError naming the folder and the field (``config.hidden``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import reprlib
import types
import typing
from pathlib import Path

from composer.errors import CheckpointError, show_path

FORMAT = 2
KINDS = ("lstm", "musegan", "harmonizer")
REQUIRED = ("format", "model", "config", "codec", "training", "step", "history", "files")
OPTIONAL = ("music", "corpus", "state", "optimizers")
CONFIG_MAX = 2**20  # a config number above this is corrupt (the book-size models use at most 1024)
MAX_DEPTH = 32  # nesting of meta.json; composer writes at most 6
MAX_LIST = 2**16  # longest list a codec holds (a vocabulary stream)
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


# Checked wherever the key appears in meta.json (but not under "optimizers", torch's own state).
KEY_RULES = {
    "bpm": _number(MIN_BPM, 60e6),
    "resolution": _int(1, 480),
    "time_signature": _meter,
    "program": _int(0, 127),
    "programs": lambda v: isinstance(v, list) and 1 <= len(v) <= 128 and all(_int(0, 127)(p) for p in v),
    "lowest_pitch": _int(0, 127),
    "pitch_lo": _int(0, 127),
    "pitch_hi": _int(0, 127),
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
KEY_RULES["programs"].text = "a list of 1..128 programs 0..127"
SKIP = ("optimizers", "history", "state")  # torch's state and free-form logs, checked on their own


def to_meta(kind: str, config, codec, training, *, step: int, history: dict, **optional) -> dict:
    """The format-2 metadata of a ``kind`` model, but ``format`` and ``files`` (save_checkpoint adds
    them): ``config``, ``codec`` and ``training`` as dicts (objects with ``to_dict``, dataclasses,
    or dicts already), and the OPTIONAL fields given (None leaves one out)."""
    unknown = optional.keys() - set(OPTIONAL)
    if unknown:
        raise TypeError(f"to_meta: no such format-{FORMAT} field {sorted(unknown)[0]!r}")
    meta = {"model": kind, "config": _as_dict(config), "codec": _as_dict(codec)}
    meta |= {"training": _as_dict(training), "step": step, "history": history}
    return meta | {k: v for k, v in optional.items() if v is not None}


def _as_dict(value) -> dict:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else dict(value)


def check_meta(meta, folder: Path, kind: str | None = None) -> dict:
    """``meta`` (parsed meta.json, format 2) if it is a well-formed composer checkpoint, of ``kind``
    when given; else CheckpointError."""
    where = show_path(folder)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{where}: not a composer checkpoint (format 1 or {FORMAT} expected)")
    model = meta.get("model")
    if kind is not None and model != kind:
        article = "an" if kind == "lstm" else "a"  # as spoken: "an el-es-tee-em"
        shown = model if isinstance(model, str) and len(model) < 40 else "unknown"
        raise CheckpointError(f"{where}: holds a {shown!r} model, not {article} {kind}")
    if model not in KINDS:
        _fail(folder, "model", model, " or ".join(KINDS))
    for key in REQUIRED:
        if key not in meta:
            raise CheckpointError(f"{where}: meta.json has no field {key} (format {FORMAT} requires it)")
    for key in meta.keys() - set(REQUIRED + OPTIONAL):
        _fail(folder, show_path(str(key)), meta[key], f"no such field in format {FORMAT}")
    check_files(meta["files"], folder)
    for key in ("config", "codec", "training", "history") + tuple(k for k in OPTIONAL if k in meta):
        if not isinstance(meta[key], dict):
            _fail(folder, key, meta[key], "a JSON object")
    _check_tree(meta["config"], folder, "config", 0, CONFIG_MAX, 64)
    _check_tree(meta["codec"], folder, "codec", -CONFIG_MAX, CONFIG_MAX, MAX_LIST)
    _check_keys(meta, folder, "")
    _check_logs(meta, folder)
    _check_tracks(meta, folder)
    if model == "lstm":
        _check_vocab(meta, folder)
    if model == "musegan":
        _check_roll(meta, folder)
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


def to_config(cls: type, values: dict, folder: Path, field: str = "config"):
    """The dataclass ``cls`` from ``values`` (meta.json's ``field``), every value checked against
    its field's type.

    A field the dict leaves out takes the dataclass's default (older checkpoints predate it); a key
    the dataclass does not know, or a value of another type, is a CheckpointError naming the field.
    Lists become tuples where the field is a tuple.
    """
    if not isinstance(values, dict):
        _fail(folder, field, values, "a JSON object")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in values.keys() - known.keys():
        _fail(folder, f"{field}.{show_path(str(key))}", values[key], f"no such field of {cls.__name__}")
    out = {}
    for name, f in known.items():
        if name not in values:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise CheckpointError(f"{show_path(folder)}: meta.json has no field {field}.{name}")
            continue
        ok, value = _typed(values[name], hints[name])
        if not ok:
            _fail(folder, f"{field}.{name}", values[name], _type_text(hints[name]))
        out[name] = value
    try:
        return cls(**out)
    except (TypeError, ValueError) as e:  # a dataclass's own __post_init__ checks
        raise CheckpointError(f"{show_path(folder)}: meta.json field {field}: {e}") from None


def to_codec(cls: type, values: dict, folder: Path):
    """The codec ``cls`` (TokenCodec, RollCodec, HarmonyGrid) from meta.json's ``codec`` by its own
    ``from_dict``, each value of a field of plain type (int, tuple[str, ...], ...) checked against
    it first; a dict it cannot read is a CheckpointError naming the folder and the codec."""
    hints = typing.get_type_hints(cls)
    for name in sorted(values.keys() & hints.keys()):
        if not dataclasses.is_dataclass(hints[name]) and not _typed(values[name], hints[name])[0]:
            _fail(folder, f"codec.{name}", values[name], _type_text(hints[name]))
    try:
        return cls.from_dict(values)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        text = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        raise CheckpointError(
            f"{show_path(folder)}: meta.json field codec does not describe a {cls.__name__} ({text[:120]})"
        ) from None


def _typed(value, hint) -> tuple[bool, object]:
    """(whether ``value`` is a JSON form of type ``hint``, the value as that type)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            ok, out = _typed(value, arg)
            if ok:
                return True, out
        return False, None
    if hint is type(None):
        return value is None, None
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return ok, float(value) if ok else None
    if hint is str:
        return isinstance(value, str), value
    if origin is tuple and isinstance(value, list):
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        pairs = [_typed(v, a) for v, a in zip(value, items)] if len(items) == len(value) else [(False, 0)]
        return all(ok for ok, _ in pairs), tuple(v for _, v in pairs)
    if origin is dict and isinstance(value, dict):
        pairs = {k: _typed(v, args[1]) for k, v in value.items()}
        return all(ok for ok, _ in pairs.values()), {k: v for k, (_, v) in pairs.items()}
    return False, None


def _type_text(hint) -> str:
    if not isinstance(hint, type):
        return str(hint).replace("typing.", "")
    return f"{'an' if hint.__name__[0] in 'aeiou' else 'a'} {hint.__name__}"


def _check_tree(value, folder: Path, field: str, lo: float, hi: float, longest: int, depth: int = 0) -> None:
    """Every number finite and in lo..hi; strings short, lists at most ``longest`` long."""
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{show_path(folder)}: meta.json nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        if not (math.isfinite(value) and lo <= value <= hi):
            _fail(folder, field, value, f"a number in {lo}..{hi}")
    elif isinstance(value, str):
        if len(value) > 64:
            _fail(folder, field, value, "a short name")
    elif isinstance(value, (list, dict)) and len(value) <= longest:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            _check_tree(v, folder, f"{field}.{show_path(str(k))}", lo, hi, longest, depth + 1)
    else:
        _fail(folder, field, value, f"at most {longest} numbers, names or flags")


def _check_keys(value, folder: Path, field: str, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{show_path(folder)}: meta.json nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for k, v in value.items():
            name = f"{field}.{k}" if field else str(k)
            if k in KEY_RULES and not KEY_RULES[k](v):
                _fail(folder, name, v, KEY_RULES[k].text)
            if k not in SKIP or depth:
                _check_keys(v, folder, name, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_keys(v, folder, f"{field}.{i}", depth + 1)


def _check_logs(meta: dict, folder: Path) -> None:
    """``history`` (number lists) and ``state`` (numbers, number lists, objects of those)."""
    for k, values in meta["history"].items():
        if not isinstance(values, list) or not all(_is_number(v) for v in values):
            _fail(folder, f"history.{k}", values, "a list of numbers")
    for k, v in meta.get("state", {}).items():
        inner = v.values() if isinstance(v, dict) else [v]
        for x in inner:
            if not (_is_number(x) or isinstance(x, list) and all(_is_number(y) for y in x)):
                _fail(folder, f"state.{k}", v, "numbers, lists of numbers, or objects of those")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_tracks(meta: dict, folder: Path) -> None:
    """``music.tracks``: 1..128 objects with a name, program and drum flag."""
    music = meta.get("music", {})
    if "tracks" not in music:
        return
    tracks = music["tracks"]
    if not isinstance(tracks, list) or not 1 <= len(tracks) <= 128:
        _fail(folder, "music.tracks", tracks, "a list of 1..128 tracks")
    for i, t in enumerate(tracks):
        ok = isinstance(t, dict) and isinstance(t.get("name"), str) and len(t["name"]) <= 256
        if not ok or "program" not in t or not isinstance(t.get("is_drum", False), bool):
            _fail(folder, f"music.tracks.{i}", t, "an object with a name, a program 0..127, is_drum")


def _check_roll(meta: dict, folder: Path) -> None:
    """A piano roll's pitches inside MIDI's 0..127; one name and program per track of the config."""
    codec, config = meta["codec"], meta["config"]
    low, n = codec.get("lowest_pitch", 0), codec.get("n_pitches", 0)
    if isinstance(low, int) and isinstance(n, int) and low + n > 128:
        _fail(folder, "codec.n_pitches", n, f"at most {128 - low}")
    for key in ("names", "programs"):
        value = codec.get(key)
        if not isinstance(value, list) or len(value) != config.get("n_tracks", len(value)):
            _fail(folder, f"codec.{key}", value, f"one per track ({config.get('n_tracks')}, config.n_tracks)")


def _check_vocab(meta: dict, folder: Path) -> None:
    """Stream values sorted and unique, in range, matching the config's sizes; a shift above 0."""
    codec = meta["codec"]
    vocab = codec.get("vocab")
    if not isinstance(vocab, dict):
        _fail(folder, "codec.vocab", vocab, "an object of streams and values")
    if vocab.get("streams") != list(STREAMS):
        _fail(folder, "codec.vocab.streams", vocab.get("streams"), list(STREAMS))
    values = vocab.get("values")
    if not isinstance(values, dict):
        _fail(folder, "codec.vocab.values", values, "an object of value lists")
    n_tracks = codec.get("n_tracks") if _int(1, 128)(codec.get("n_tracks")) else 128
    highest = {
        "shift": codec.get("max_shift", 2**16),
        "pitch": REST,
        "duration": codec.get("max_duration", 2**16),
        "track": n_tracks - 1,
    }
    sizes = meta["config"].get("vocab_sizes")
    for s in STREAMS:
        v = values.get(s)
        ok = isinstance(v, list) and 0 < len(v) <= 2**16 and all(_int(0, highest[s])(x) for x in v)
        if not ok or any(a >= b for a, b in zip(v, v[1:])):
            _fail(folder, f"codec.vocab.values.{s}", v, f"ascending distinct integers in 0..{highest[s]}")
        if isinstance(sizes, dict) and sizes.get(s) != len(v) + 2:  # + BOS and UNK
            _fail(folder, f"config.vocab_sizes.{s}", sizes.get(s), f"{len(v) + 2} (the vocabulary's size)")
    if max(values["shift"]) == 0:
        _fail(
            folder, "codec.vocab.values.shift", values["shift"], "a shift above 0 (else time never moves on)"
        )


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 2, 40, 40, 4, 4


def _fail(folder: Path, field: str, value, expected) -> None:
    shown = _SHORT.repr(value)
    raise CheckpointError(f"{show_path(folder)}: meta.json field {field} is {shown}, expected {expected}")
