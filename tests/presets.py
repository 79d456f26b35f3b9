"""The tiny training presets of the tests, defined once: a few steps of each model on one CPU thread."""

from __future__ import annotations

TINY_LSTM = {"size": "tiny", "batch_size": 4, "seq_len": 16, "lr": 1e-2}
TINY_MUSEGAN = {"size": "tiny", "batch_size": 4, "sample_every": 0, "save_every": 2}
