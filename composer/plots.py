"""Pictures: piano rolls (one colour per track, bar lines marked) and loss curves, as PNG.

matplotlib is imported inside each function so that the CLI starts fast.
"""

from __future__ import annotations

import os

import numpy as np

from composer.atomic import atomic_path
from composer.music import Score

TRACK_COLOURS = (
    "#d62728",
    "#1f77b4",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pianoroll(score: Score, path: str | os.PathLike, title: str | None = None) -> None:
    """Draw every note as a bar in its track's colour, with bar lines, and save a PNG."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    n_steps = max(score.n_bars, 1) * score.steps_per_bar
    pitches = [n.pitch for t in score.tracks for n in t.notes] or [60]
    fig, ax = plt.subplots(figsize=(min(4 + n_steps / 16, 40), 5), dpi=100)
    for ti, track in enumerate(score.tracks):
        colour = TRACK_COLOURS[ti % len(TRACK_COLOURS)]
        for n in track.notes:
            ax.add_patch(
                plt.Rectangle((n.start, n.pitch - 0.4), n.duration, 0.8, color=colour, alpha=0.85, lw=0)
            )
    for b in range(0, n_steps + 1, score.steps_per_bar):
        ax.axvline(b, color="0.6", lw=0.8, zorder=0)
    ax.set_xlim(0, n_steps)
    ax.set_ylim(min(pitches) - 2, max(pitches) + 2)
    ax.set_xticks(
        np.arange(0, n_steps, score.steps_per_bar),
        [str(i + 1) for i in range(n_steps // score.steps_per_bar)],
    )
    ax.set_xlabel("bar")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title if title is not None else score.title)
    handles = [
        Patch(color=TRACK_COLOURS[i % len(TRACK_COLOURS)], label=t.name or f"Track {i + 1}")
        for i, t in enumerate(score.tracks)
    ]
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8)
    _save(fig, path)


def plot_losses(history: dict[str, list[float]], path: str | os.PathLike, xlabel: str = "step") -> None:
    """One line per named series (e.g. train and validation loss) against its index."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for name, values in history.items():
        if values:
            ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def _save(fig, path: str | os.PathLike) -> None:
    plt = _pyplot()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
