"""Format 1 checkpoints, read as format 2: old runs in users' ``runs/`` keep loading, unchanged.

Format 1 had one key schema per model under one number: the LSTM kept its vocabulary twice (``vocab``
and ``representation`` beside ``codec``, which the first LSTM checkpoints lack), the MuseGAN its
training config as ``train`` (its first checkpoints have no codec but ``tracks``, ``representation``
and the meter at the top), the harmonizer its codec as ``grid``. ``from_format1`` moves every field to
where format 2 keeps it (composer.checkpoint_meta); the weights are untouched, so a format-1 folder
generates the same notes as the same weights saved as format 2. Nothing here writes: composer only
ever writes format 2.
"""

from __future__ import annotations

from pathlib import Path

from composer.checkpoint_meta import OPTIONAL, REQUIRED
from composer.errors import CheckpointError, show_path

# format-1 keys of each model -> where format 2 keeps them ("state.x": the loop state's x)
MOVES = {
    "lstm": {"epoch": "state.epoch", "early_stopping": "state.early_stopping", "running": "state.running"},
    "musegan": {"train": "training", "seconds": "state.seconds"},
    "harmonizer": {
        "grid": "codec",
        "train": "training",
        "best": "state.best",
        "validation": "state.validation",
    },
}


def from_format1(meta: dict, folder: Path) -> dict:
    """The format-2 metadata of a format-1 ``meta``; CheckpointError where it lacks what format 2 needs.

    Only moves fields; checkpoint_meta.check_meta then validates the result like any format-2 meta.
    """
    kind = meta.get("model")
    if not isinstance(kind, str) or kind not in MOVES:
        return {**meta, "format": 2}  # check_meta names the unknown kind
    try:
        codec = _codec(meta, kind)
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise CheckpointError(
            f"{show_path(folder)}: format-1 meta.json lacks what its codec needs ({type(e).__name__}: {e})"
        ) from None
    out = {"format": 2, "codec": codec, "training": {}, "history": {}, "step": 0}
    for key, value in meta.items():
        where = MOVES[kind].get(key, key)
        if key == "optimizer" and value:  # one optimizer, named as format 2 names it
            out["optimizers"] = {"opt": value}
        elif where.startswith("state."):
            out.setdefault("state", {})[where[6:]] = value
        elif where in REQUIRED + OPTIONAL and where not in ("format", "state"):  # else format 1 let pass
            out[where] = value
    return out


def _codec(meta: dict, kind: str) -> dict:
    """The codec dict: format 1's own ``codec`` where it has one, else the one its fields describe."""
    if "codec" in meta or kind == "harmonizer":
        return meta.get("codec", meta.get("grid"))
    if kind == "lstm":  # the first LSTMs: no key or end conditioning
        rep = meta["representation"]
        return {
            "vocab": meta["vocab"],
            "resolution": rep["resolution"],
            "n_positions": meta["config"]["n_positions"],
            "max_shift": rep["max_shift"],
            "max_duration": rep["max_duration"],
            "normalize_key": False,
            "bars_left_cap": 0,
            "n_tracks": len(meta["music"]["tracks"]),
            "keys": {},
        }
    # the first MuseGANs: binary rolls from MIDI 24, 84 pitches, no onsets, keys as they came
    tracks, rep = meta["tracks"], meta.get("representation", {})
    return {
        "names": [t["name"] for t in tracks],
        "programs": [t["program"] for t in tracks],
        "lowest_pitch": rep.get("lowest_pitch", 24),
        "n_pitches": rep.get("n_pitches", 84),
        "resolution": meta.get("resolution", 4),
        "time_signature": meta.get("time_signature", [4, 4]),
        "bpm": meta.get("bpm", 100.0),
        "channels": ["hold"],
        "tonic": None,
        "grid": 1,
        "min_note": 1,
        "min_rest": 1,
    }
