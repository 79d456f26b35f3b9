"""Config fields a front end can offer as options: a default plus help, range and choices, checked here.

A training config is a dataclass whose fields are made with ``option``; the metadata is plain data
(no click here), so the CLI derives its flags from it and the library checks every value it is given
with ``check_options``, raising OptionError with the field's name (the CLI turns that into the flag).
"""

from __future__ import annotations

import dataclasses
import math
import typing

from composer.errors import OptionError


def option(
    default,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    choices: typing.Iterable[str] | None = None,
    cli: bool = True,
):
    """A dataclass field offered as an option: ``help`` describes it, ``low``/``high`` bound a number
    (open bounds exclude the value), ``choices`` lists the allowed strings; ``cli=False`` keeps it
    out of the command line (a library-only setting)."""
    meta = {"help": help, "low": low, "high": high, "low_open": low_open, "high_open": high_open, "cli": cli}
    meta["choices"] = tuple(choices) if choices is not None else None
    return dataclasses.field(default=default, metadata={"option": meta})


def option_fields(cls) -> list[dataclasses.Field]:
    """The fields of config class ``cls`` made with ``option``, in declaration order."""
    return [f for f in dataclasses.fields(cls) if "option" in f.metadata]


def field_type(cls, f: dataclasses.Field) -> type:
    """The value type of field ``f`` of ``cls`` (int, float, bool or str), ``X | None`` unwrapped."""
    hint = typing.get_type_hints(cls)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def describe_range(meta: dict) -> str:
    """The bounds of an option as text: ``[1, 16]``, ``(0, 10]``, ``>= 1``."""
    low, high = meta["low"], meta["high"]
    if low is not None and high is not None:
        return f"{'(' if meta['low_open'] else '['}{low:g}, {high:g}{')' if meta['high_open'] else ']'}"
    if low is not None:
        return f"{'>' if meta['low_open'] else '>='} {low:g}"
    return f"{'<' if meta['high_open'] else '<='} {high:g}" if high is not None else ""


def check_options(config) -> None:
    """Raise OptionError for the first field of ``config`` whose value is off its type, range or choices."""
    cls = type(config)
    for f in option_fields(cls):
        value, meta, kind = getattr(config, f.name), f.metadata["option"], field_type(cls, f)
        if value is None and f.default is None:
            continue
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is str:
            ok = isinstance(value, str) and (meta["choices"] is None or value in meta["choices"])
            if not ok and meta["choices"]:
                raise OptionError(f.name, value, f"choose one of {', '.join(meta['choices'])}")
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and _inside(value, meta)
            ok = ok and (kind is float or float(value).is_integer())
        if not ok:
            wanted = {int: "an integer", float: "a finite number"}.get(kind, kind.__name__)
            bounds = describe_range(meta)
            raise OptionError(f.name, value, f"expected {wanted}{' ' + bounds if bounds else ''}")


def _inside(value: float, meta: dict) -> bool:
    low, high = meta["low"], meta["high"]
    if not math.isfinite(value):
        return False
    if low is not None and (value <= low if meta["low_open"] else value < low):
        return False
    return high is None or (value < high if meta["high_open"] else value <= high)
