"""Notation check: compose MusicXML with the shipped models and engrave it with MuseScore 3.

For each model and seed: write the MusicXML, read it back through music21 (key signature, spelled
pitch names, accidentals shown, part names, clefs, hidden rests), then convert it to PNG with
``xvfb-run -a musescore3 -o page.png file.musicxml`` and report MuseScore's exit status and stderr.
Needs Debian's musescore3 and xvfb (``apt-get install -y musescore3 xvfb``).

Usage: python benchmarks/bench_notation.py OUT_DIR
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path


def compose(model: str, seed: int, out: Path) -> Path:
    path = out / f"{model}-seed{seed}.musicxml"
    cmd = [
        "composer",
        "generate",
        "--model",
        model,
        "--seed",
        str(seed),
        "--bars",
        "8",
        "--format",
        "musicxml",
    ]
    subprocess.run([*cmd, "-o", str(path)], check=True, capture_output=True)
    return path


def read_back(path: Path) -> dict:
    from music21 import clef, converter, key

    score = converter.parse(path)
    pitches = [p for n in score.recurse().notes for p in n.pitches]
    rests = list(score.recurse().getElementsByClass("Rest"))
    return {
        "title": score.metadata.bestTitle,
        "composer": score.metadata.composer,
        "key_signature": score.parts[0].recurse().getElementsByClass(key.KeySignature).first().sharps,
        "names": dict(sorted(Counter(p.name for p in pitches).items())),
        "notes": len(pitches),
        "accidentals_shown": sum(
            1 for p in pitches if p.accidental is not None and p.accidental.displayStatus
        ),
        "parts": [p.partName for p in score.parts],
        "clefs": [type(p.recurse().getElementsByClass(clef.Clef).first()).__name__ for p in score.parts],
        "rests": len(rests),
        "hidden_rests": sum(bool(r.style.hideObjectOnPrint) for r in rests),
    }


def engrave(path: Path) -> dict:
    png = path.with_suffix(".png")
    proc = subprocess.run(
        ["xvfb-run", "-a", "musescore3", "-o", str(png), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    pages = sorted(p.name for p in path.parent.glob(f"{png.stem}*.png"))
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    return {"musescore_exit": proc.returncode, "pages": pages, "stderr_error_lines": errors}


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "notation")
    out.mkdir(parents=True, exist_ok=True)
    report = {}
    for model, seed in (("lstm", 0), ("lstm", 1), ("musegan", 0)):
        path = compose(model, seed, out)
        report[path.name] = {**read_back(path), **engrave(path)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
