"""`composer live`'s generator process (composer.live.genproc): bars over a pipe, exactly as made."""

import itertools
import subprocess

import pytest

from composer.errors import ComposerError
from composer.generation.lstm import stream_bars
from composer.live.genproc import ChildBars, from_json, to_json
from composer.music import Note, Score, Track


def test_a_bar_survives_the_pipe_exactly():
    bar = Score(
        tracks=[
            Track("Soprano", 52, False, [Note(0, 4, 72, 90), Note(4, 20, 74)]),
            Track("Drums", 0, True, [Note(2, 1, 36, 127)]),
        ],
        resolution=4,
        bpm=96.5,
        time_signature=(3, 4),
        key="e minor",
        title="t",
        length=12,
    )
    assert from_json(to_json(bar, 0.0123)) == (bar, 0.0123)


def test_child_bars_are_the_generators_own_bars_with_their_time():
    child = ChildBars("lstm", None, seed=3)
    try:
        got = list(itertools.islice(child, 3))
        assert child.seconds is not None and child.seconds > 0
    finally:
        child.close()
    assert got == list(itertools.islice(stream_bars(seed=3), 3))
    assert child.proc.returncode is not None  # closed: no process left behind


def test_a_bad_checkpoint_is_one_error_naming_it(tmp_path):
    child = ChildBars("lstm", tmp_path, seed=0)
    try:
        with pytest.raises(ComposerError, match=str(tmp_path)):
            next(child)
        assert child.proc.wait(timeout=60) == 2  # it reported and exited by itself
    finally:
        child.close()


def test_live_with_a_bad_checkpoint_fails_in_one_line_before_any_port(tmp_path):
    r = subprocess.run(
        ["composer", "live", "--checkpoint", str(tmp_path), "--port", "nowhere"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and str(tmp_path) in r.stderr, r.stderr
