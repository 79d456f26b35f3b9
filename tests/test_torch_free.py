"""Sampling without torch: LSTM generation (the NumPy mirror) and MuseGAN decoding never import it.

Each check runs in a fresh interpreter, so nothing imported by other tests can hide an import.
"""

import subprocess
import sys

ROLL = """
import sys
import numpy as np
from composer.generation.musegan import decode_roll, meta_score, parse_vary
from composer.representations.pianoroll import RollCodec
codec = RollCodec(names=("S", "A", "T", "B"), programs=(52,) * 4, lowest_pitch=36, n_pitches=48,
                  channels=("hold", "onset"), tonic=0, grid=2, min_note=2, min_rest=16)
meta = {"codec": codec.to_dict()}
roll = -np.ones((1, 16, 48, 4, 2), np.float32)  # (bars, steps, pitches from C2, voices, hold/onset)
roll[0, 0:4, 72 - 36, 0, 0] = 1  # the soprano holds C5 for a quarter
roll[0, 0, 72 - 36, 0, 1] = 1
score = decode_roll(roll, meta, base=meta_score(meta, bpm=90.0))
print(score.tracks[0].notes[0], score.bpm, sorted(parse_vary("melody:1", 4)), "torch" in sys.modules)
"""


def _run(code: str, cwd=None) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_lstm_generation_does_not_import_torch(tmp_path):
    out = tmp_path / "out.mid"
    code = (
        "import sys\nfrom composer.cli import main\n"
        f"try:\n    main(['generate', '--model', 'lstm', '--bars', '2', '-o', {str(out)!r}])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print('torch' in sys.modules)"
    )
    assert _run(code, tmp_path) == "False\n"
    assert out.stat().st_size > 0


def test_musegan_decoding_and_options_do_not_import_torch():
    line = _run(ROLL)
    assert line == "Note(start=0, duration=4, pitch=72, velocity=80) 90.0 ['melody:1'] False\n"
