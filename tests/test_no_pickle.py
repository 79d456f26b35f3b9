"""No pickle from anywhere: a pickle planted in music21's cache folder is never loaded by composer.

music21's corpus.parse reloads ``$TMPDIR/music21/m21-*.p.gz`` (a zlib pickle) when it is newer than
the source file. Each check runs in a fresh interpreter with TMPDIR pointing at a temp folder that
holds a planted pickle whose loading creates a marker file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

CHORALE = "bach/bwv269"

PLANT = textwrap.dedent(
    """
    import os, pickle, sys, zlib
    from music21 import converter, corpus, environment

    class Mark:
        def __reduce__(self):  # loading this pickle opens (creates) the marker file
            return (open, (sys.argv[1], "w"))

    source = corpus.getWork(sys.argv[2])
    target = converter.PickleFilter(source).getPickleFp(environment.Environment().getRootTempDir(), "gz")
    target.write_bytes(zlib.compress(pickle.dumps(Mark())))
    later = source.stat().st_mtime + 3600  # newer than the source, so music21 prefers it
    os.utime(target, (later, later))
    """
)


def _run(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "PYTHONPATH": str(Path(__file__).parents[1])}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    script = PLANT + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "marker"), CHORALE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_planted_pickle_is_what_music21_would_load(tmp_path):
    """The control: music21's default parse does load the planted pickle, so the next test can fail."""
    proc = _run(tmp_path, "try:\n    corpus.parse(sys.argv[2])\nexcept Exception:\n    pass\n")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "marker").exists()
    assert list((tmp_path / "tmp" / "music21").glob("m21-*.p.gz"))


def test_composer_parses_the_chorale_from_source_and_never_loads_the_pickle(tmp_path):
    proc = _run(
        tmp_path,
        """
        from composer.corpora.bach import _read_one
        score, reason = _read_one(sys.argv[2], 4)
        print(reason or [len(t.notes) for t in score.tracks])
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "marker").exists()
    assert proc.stdout.strip() == "[46, 60, 59, 60]"  # bwv269 as the committed cache holds it
    # and music21 wrote no pickle of its own beside the planted one
    assert len(list((tmp_path / "tmp" / "music21").glob("m21-*.p.gz"))) == 1
