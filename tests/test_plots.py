"""`composer render`: the piano roll as one painted image, so its cost follows the notes, not the shapes."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
from click.testing import CliRunner

from composer import write_midi
from composer.cli import main
from composer.music import Note, Score, Track
from composer.plots import TRACK_COLOURS, _rgb, to_image

WHITE = (255, 255, 255)


def test_to_image_paints_each_note_in_its_track_colour():
    score = Score(
        [
            Track("a", 0, False, [Note(0, 2, 60), Note(4, 1, 62)]),
            Track("b", 0, False, [Note(1, 2, 60)]),  # painted over track a where they meet
        ]
    )
    image = to_image(score, 60, 62, max_columns=4000)
    assert image.shape == (3, 16, 3)  # pitches 60-62, one 4/4 bar of 16 steps
    red, blue = _rgb(TRACK_COLOURS[0]), _rgb(TRACK_COLOURS[1])
    assert [tuple(c) for c in image[0, :5]] == [red, blue, blue, WHITE, WHITE]
    assert [tuple(c) for c in image[2, :6]] == [WHITE] * 4 + [red, WHITE]
    assert (image[1] == 255).all()  # nothing at pitch 61


def test_a_long_piece_is_condensed_to_at_most_max_columns():
    score = Score([Track("a", 0, False, [Note(0, 1, 60), Note(19_999, 1, 61)])], length=20_000)
    image = to_image(score, 60, 61, max_columns=4000)
    assert image.shape == (2, 4000, 3)  # 5 steps per column
    assert tuple(image[0, 0]) == tuple(image[1, 3999]) == _rgb(TRACK_COLOURS[0])
    assert (image[0, 1:] == 255).all() and (image[1, :3999] == 255).all()


def test_render_of_1250_bars_and_66000_notes_paints_no_patch(tmp_path, monkeypatch):
    rng = random.Random(0)
    notes = sorted(
        {Note(k * 20_000 // 16_500, rng.choice([1, 2, 4]), rng.randrange(30, 100)) for k in range(16_500)}
    )
    score = Score([Track(f"t{i}", 0, False, notes) for i in range(4)], length=20_000)
    write_midi(score, tmp_path / "long.mid")
    import matplotlib.axes

    drawn = []
    real = matplotlib.axes.Axes.add_patch
    monkeypatch.setattr(matplotlib.axes.Axes, "add_patch", lambda self, p: drawn.append(p) or real(self, p))
    result = CliRunner().invoke(
        main, ["render", str(tmp_path / "long.mid"), "--png", str(tmp_path / "long.png")]
    )
    assert result.exit_code == 0, result.output
    assert len(drawn) < 10  # the legend's and the frame's, not one per note
    assert (tmp_path / "long.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_prints_only_its_one_line(tmp_path, bach):
    write_midi(bach.pieces[0], tmp_path / "c.mid")
    proc = subprocess.run(
        [sys.executable, "-c", "from composer.cli import main; main(prog_name='composer')"]
        + ["render", str(tmp_path / "c.mid"), "--png", str(tmp_path / "c.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout == ""
    assert proc.stderr == f"wrote {tmp_path / 'c.png'}\n"  # no matplotlib warning
    from matplotlib.image import imread

    assert imread(tmp_path / "c.png").shape[:2] == (500, 2050)
    assert np.isclose(imread(tmp_path / "c.png")[0, 0, :3], 1.0).all()


def test_attention_heatmap_is_condensed_beyond_the_cap(tmp_path, monkeypatch):
    from composer import plots

    monkeypatch.setattr(plots, "MAX_ATTENTION_CELLS", 8)
    rows = [np.full(min(i + 1, 5), 1 / min(i + 1, 5)) for i in range(40)]
    plots.plot_attention(rows, 3, str(tmp_path / "a.png"))
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
