"""Pictures: piano rolls (one colour per track, bar lines marked), attention heatmaps and loss curves, as PNG.

matplotlib is imported inside each function so that the CLI starts fast.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np

from composer.atomic import write_output
from composer.errors import ComposerError
from composer.music import Score

MAX_COLUMNS = 4000  # image columns: 40 inches at 100 dpi
MAX_BAR_LINES = 1000
MAX_LABELS = 40
MAX_LEGEND = 16
MAX_ATTENTION_CELLS = 1024  # heatmap rows and columns; longer pieces are condensed, not drawn cell by cell
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
    """Draw the notes in their tracks' colours, with bar lines, and save a PNG.

    The notes are painted into one image of at most MAX_COLUMNS columns (a column holds several steps
    when the piece is longer), so the cost grows with the number of notes, not with one drawn shape
    per note: a 1,250-bar, 66,000-note file draws in about a second. Bar lines are drawn up to
    MAX_BAR_LINES bars and numbered at most MAX_LABELS times.
    """
    plt = _pyplot()
    from matplotlib.patches import Patch

    spb = score.steps_per_bar
    n_steps = max(score.n_bars, 1) * spb
    pitches = [n.pitch for t in score.tracks for n in t.notes] or [60]
    low, high = min(pitches) - 2, max(pitches) + 2
    image = to_image(score, low, high, MAX_COLUMNS)
    with warnings.catch_warnings():  # matplotlib's warnings are not the user's business on success
        warnings.simplefilter("ignore")
        width = min(4 + n_steps / 16, 40)
        fig, ax = plt.subplots(figsize=(width, 5), dpi=100)
        # Fixed margins (0.8 inch left, 0.2 right) instead of tight_layout, which draws the figure once more.
        fig.subplots_adjust(left=0.8 / width, right=1 - 0.2 / width, bottom=0.11, top=0.93)
        ax.imshow(
            image,
            aspect="auto",
            origin="lower",
            interpolation="nearest",
            extent=(0, n_steps, low - 0.5, high + 0.5),
        )
        n_bars = n_steps // spb
        if n_bars <= MAX_BAR_LINES:
            ax.vlines(np.arange(0, n_steps + 1, spb), low - 0.5, high + 0.5, color="0.6", lw=0.8)
        every = max(1, -(-n_bars // MAX_LABELS))
        ax.set_xticks(np.arange(0, n_steps, spb * every), [str(i + 1) for i in range(0, n_bars, every)])
        ax.set_xlim(0, n_steps)
        ax.set_xlabel("bar")
        ax.set_ylabel("MIDI pitch")
        ax.set_title(title if title is not None else score.title)
        handles = [
            Patch(color=TRACK_COLOURS[i % len(TRACK_COLOURS)], label=t.name or f"Track {i + 1}")
            for i, t in enumerate(score.tracks[:MAX_LEGEND])
        ]
        if handles:
            ax.legend(handles=handles, loc="upper right", fontsize=8)
        _save(fig, path, tight=False)


def to_image(score: Score, low: int, high: int, max_columns: int) -> np.ndarray:
    """The piano roll as an RGB image: rows are pitches ``low``..``high``, columns groups of steps.

    Later tracks are painted over earlier ones; the background is white.

    Returns
    -------
    ndarray, shape=(high - low + 1, columns, 3), dtype=uint8
    """
    n_steps = max(score.n_bars, 1) * score.steps_per_bar
    per_column = -(-n_steps // max_columns)
    columns = -(-n_steps // per_column)
    rows = high - low + 1
    image = np.full((rows, columns, 3), 255, dtype=np.uint8)
    for ti, track in enumerate(score.tracks):
        if not track.notes:
            continue
        notes = np.array([(n.start, n.end, n.pitch) for n in track.notes], dtype=np.int64)
        first = notes[:, 0] // per_column
        stop = np.maximum(first + 1, -(-notes[:, 1] // per_column))
        edges = np.zeros((rows, columns + 1), dtype=np.int32)  # +1 where a note starts, -1 after it
        np.add.at(edges, (notes[:, 2] - low, first), 1)
        np.add.at(edges, (notes[:, 2] - low, stop), -1)
        sounding = np.cumsum(edges, axis=1)[:, :columns] > 0
        image[sounding] = _rgb(TRACK_COLOURS[ti % len(TRACK_COLOURS)])
    return image


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def plot_attention(rows: list[np.ndarray], offset: int, path: str | os.PathLike) -> None:
    """Heatmap of generated events (rows) against the events they attended to (columns).

    Parameters
    ----------
    rows : list of ndarray, each shape=(k,)
        Per generated event, its attention weights over the last k input events, oldest first.
    offset : int
        Input events before the first generated one (the prime's).

    Beyond MAX_ATTENTION_CELLS events a side, blocks of events are averaged into one cell, so memory
    stays bounded (a dense grid of 300 bars would take about 2 GB).
    """
    n = len(rows)
    if not n:
        raise ComposerError("no events were generated, so there is no attention to draw")
    width = offset + n + 1
    r_bins, c_bins = min(n, MAX_ATTENTION_CELLS), min(width, MAX_ATTENTION_CELLS)
    grid = np.zeros((r_bins, c_bins))
    counts = np.zeros((r_bins, c_bins))
    for i, att in enumerate(rows):
        stop = offset + i + 1  # the newest key is the input event at this step
        cols = np.arange(stop - len(att), stop) * c_bins // width
        r = i * r_bins // n
        np.add.at(grid[r], cols, att)
        np.add.at(counts[r], cols, 1)
    grid = np.where(counts > 0, grid / np.maximum(counts, 1), 0.0)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 7), dpi=100)
    im = ax.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest", extent=(0, width, n, 0))
    ax.set_xlabel("attended event (input index)")
    ax.set_ylabel("generated event")
    ax.set_title("attention weights" + (" (condensed)" if (r_bins, c_bins) != (n, width) else ""))
    fig.colorbar(im, ax=ax)
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


def _save(fig, path: str | os.PathLike, tight: bool = True) -> None:
    plt = _pyplot()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if tight:
            fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    plt.close(fig)
    write_output(buf.getvalue(), path)  # like every output: atomic for a file, a missing folder an error
