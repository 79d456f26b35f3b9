"""`composer generate --model lstm`: exact bar counts, seeds, priming, stream_bars, errors, and key and end
conditioning (--key, --rules) on a tiny and the shipped checkpoint."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
from click.testing import CliRunner

from composer.cli import main
from composer.evaluate.chorale import chorale_metrics, ending_metrics
from composer.generation.lstm import generate_lstm
from composer.midi_io import read_midi
from composer.music import transpose
from composer.representations.token_codec import estimate_key, parse_key
from tests.helpers import SHIPPED, TINY, write_piece

DATA = Path(__file__).resolve().parents[1] / "data"
TICKS_PER_BAR = 480 * 4
COMPOSER = [sys.executable, "-c", "from composer.cli import main; main()"]


def run(*args: str):
    return CliRunner().invoke(main, ["generate", *args])


def check_midi(data: bytes, tmp_path: Path, bars: int) -> mido.MidiFile:
    """Valid MIDI of exactly ``bars`` 4/4 bars where every note-on has its note-off."""
    path = tmp_path / "check.mid"
    path.write_bytes(data)
    mid = mido.MidiFile(path)
    ends = []
    for track in mid.tracks:
        tick, sounding = 0, {}
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                sounding[msg.channel, msg.note] = sounding.get((msg.channel, msg.note), 0) + 1
            elif msg.type in ("note_on", "note_off"):
                sounding[msg.channel, msg.note] -= 1
        assert all(v == 0 for v in sounding.values())
        ends.append(tick)
    assert max(ends) == bars * TICKS_PER_BAR
    assert read_midi(path).n_bars == bars
    return mid


@pytest.mark.parametrize("bars", [8, 3, 13])
def test_exact_bar_count_from_the_shipped_checkpoint(bars, tmp_path):
    result = run("--bars", str(bars))
    assert result.exit_code == 0, result.output
    check_midi(result.stdout_bytes, tmp_path, bars)
    score = read_midi(tmp_path / "check.mid")
    assert score.n_notes >= 16 and score.time_signature == (4, 4)
    assert [t.name for t in score.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]


def test_same_seed_same_bytes_other_seed_other_bytes():
    a, b, c = run("--seed", "7", "--top-k", "20"), run("--seed", "7", "--top-k", "20"), run("--seed", "8")
    assert a.stdout_bytes == b.stdout_bytes
    assert a.stdout_bytes != c.stdout_bytes


def test_sampling_options_and_bpm(tmp_path):
    result = run("--bars", "2", "--temperature", "0.5", "--top-p", "0.8", "--bpm", "60")
    assert result.exit_code == 0
    mid = check_midi(result.stdout_bytes, tmp_path, 2)
    assert mid.length == pytest.approx(2 * 4.0)
    assert run("--top-p", "0").exit_code == 2


def test_prime_included_and_excluded(tmp_path):
    prime = tmp_path / "prime.mid"
    write_piece(prime, 0, 1)  # about 8 bars of melody, pitches 60-72
    notes = read_midi(prime).tracks[0].notes
    prime_bars = read_midi(prime).n_bars
    inc = run("--prime", str(prime), "--bars", "4", "-o", str(tmp_path / "inc.mid"))
    exc = run("--prime", str(prime), "--bars", "4", "--no-include-prime", "-o", str(tmp_path / "exc.mid"))
    assert inc.exit_code == 0 and exc.exit_code == 0, inc.output + exc.output
    with_prime, without = read_midi(tmp_path / "inc.mid"), read_midi(tmp_path / "exc.mid")
    assert with_prime.n_bars == prime_bars + 4 and without.n_bars == 4
    assert {(n.start, n.pitch) for n in notes} <= {(n.start, n.pitch) for n in with_prime.tracks[0].notes}
    assert all(not t.notes or t.notes[0].start >= 0 for t in without.tracks)
    assert mido.MidiFile(tmp_path / "exc.mid").length == pytest.approx(4 * 2.4)


def test_prime_outside_the_range_is_moved_and_told(tmp_path):
    from composer.midi_io import write_midi
    from composer.music import Note, Score, Track

    prime = tmp_path / "high.mid"
    write_midi(Score(tracks=[Track(notes=[Note(i * 4, 4, 100 + i % 3) for i in range(8)])]), prime)
    result = run("--prime", str(prime), "--bars", "2", "-o", str(tmp_path / "o.mid"))
    assert result.exit_code == 0
    assert "moved by octaves or clamped" in result.stderr
    assert max(n.pitch for t in read_midi(tmp_path / "o.mid").tracks for n in t.notes) < 100


@pytest.mark.parametrize("name", ["not-midi.mid", "truncated.mid", "missing.mid"])
def test_bad_prime_one_line_exit_2(name, tmp_path):
    result = run("--prime", str(DATA / name), "-o", str(tmp_path / "o.mid"))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and name in result.output
    assert not (tmp_path / "o.mid").exists()


def test_missing_and_corrupt_checkpoint_exit_2(tmp_path, lstm_checkpoint):
    import shutil

    result = run("--checkpoint", str(tmp_path / "nothing"))
    assert result.exit_code == 2 and "no such checkpoint" in result.output
    bad = tmp_path / "bad"
    shutil.copytree(lstm_checkpoint, bad)
    weights = next(bad.glob("model-*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    result = run("--checkpoint", str(bad))
    assert result.exit_code == 2 and "corrupt" in result.output and result.output.count("\n") == 1
    (bad / "meta.json").write_text("{not json")
    assert run("--checkpoint", str(bad)).exit_code == 2


def test_refuses_to_write_midi_to_a_terminal():
    leader, follower = pty.openpty()
    proc = subprocess.run(
        COMPOSER + ["generate", "--bars", "1"], stdout=follower, stderr=subprocess.PIPE, timeout=60
    )
    os.close(follower)
    os.close(leader)
    assert proc.returncode == 2
    assert proc.stderr.decode().count("\n") == 1 and "terminal" in proc.stderr.decode()


def test_stdout_of_a_real_process_is_complete_midi(tmp_path):
    proc = subprocess.run(COMPOSER + ["generate", "--bars", "8"], capture_output=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == b""
    check_midi(proc.stdout, tmp_path, 8)


def test_musicxml_and_attention_png(tmp_path):
    result = run(
        "--bars",
        "2",
        "--format",
        "musicxml",
        "-o",
        str(tmp_path / "o.musicxml"),
        "--attention-png",
        str(tmp_path / "att.png"),
    )
    assert result.exit_code == 0, result.output
    assert b"<score-partwise" in (tmp_path / "o.musicxml").read_bytes()
    assert (tmp_path / "att.png").read_bytes()[:4] == b"\x89PNG"


def test_stream_bars_contract():
    from itertools import islice

    from composer.generation.lstm import stream_bars

    bars = list(islice(stream_bars(seed=3), 6))
    assert all(b.time_signature == (4, 4) and len(b.tracks) == 4 for b in bars)
    assert all(0 <= n.start < 16 and n.duration > 0 for b in bars for t in b.tracks for n in t.notes)
    assert sum(b.n_notes for b in bars) >= 16
    again = list(islice(stream_bars(seed=3), 6))
    assert [b.tracks for b in bars] == [b.tracks for b in again]


def test_key_moves_the_same_sample_exactly(lstm_checkpoint):
    """Without rules the sampler draws the same events in C whatever the key: D major is C + 2."""
    c = generate_lstm(lstm_checkpoint, bars=2, seed=4, key="C major", rules=False)
    d = generate_lstm(lstm_checkpoint, bars=2, seed=4, key="D", rules=False)
    assert (c.key, d.key) == ("C major", "D major")
    assert [t.notes for t in d.tracks] == [t.notes for t in transpose(c, 2).tracks]


@pytest.mark.parametrize("key", ["E- major", "F# minor", "Am"])
def test_rules_end_on_a_dominant_then_the_tonic_in_root_position_with_exact_bars(lstm_checkpoint, key):
    score = generate_lstm(lstm_checkpoint, bars=3, seed=1, key=key)
    tonic = parse_key(key)[0]
    assert score.length == 48 and score.n_bars == 3
    final = sorted((n.pitch for t in score.tracks for n in t.notes if n.start == 32), reverse=True)
    assert len(final) == 4 and final[-1] % 12 == tonic  # four voices, the bass on the tonic
    assert all(8 <= n.duration <= 16 for t in score.tracks for n in t.notes if n.start == 32)
    assert max(n.start for t in score.tracks for n in t.notes) == 32  # nothing after the cadence
    assert ending_metrics(score)["ends_on_tonic_root_position"] == 1.0
    dominant = sorted((n for t in score.tracks for n in t.notes if n.start == 28), key=lambda n: -n.pitch)
    assert len(dominant) == 4 and all(n.duration == 4 for n in dominant)  # V on the last beat, then I
    assert dominant[-1].pitch % 12 == (tonic + 7) % 12 and (tonic + 11) % 12 in {
        n.pitch % 12 for n in dominant
    }
    assert ending_metrics(score)["authentic_cadence"] == 1.0
    metrics = chorale_metrics(score)
    assert metrics["in_satb_range"] == 1.0


def test_shipped_checkpoint_honours_the_key():
    """The key estimated from eight bars is mostly the one asked for, and otherwise a closely related
    key that the piece visits (one accidental apart: in major ii, iii, IV, V, vi; in minor III, iv,
    v, VI, VII)."""
    related = {"major": (0, 2, 4, 5, 7, 9), "minor": (0, 3, 5, 7, 8, 10)}
    keys = ["E- major", "G minor", "A major", "F# minor", "C major", "B- major", "D minor", "E major"]
    exact = 0
    for seed, key in enumerate(keys):
        score = generate_lstm(SHIPPED, bars=8, seed=seed, key=key)
        estimated = estimate_key([n for t in score.tracks for n in t.notes])
        tonic, mode = parse_key(key)
        assert (parse_key(estimated)[0] - tonic) % 12 in related[mode], (key, estimated)
        exact += estimated == score.key
    assert exact >= len(keys) // 2


def test_unknown_key_and_conflicting_options_are_one_line_exit_2(tmp_path, midi_folder, lstm_checkpoint):
    from composer.training.lstm import train_lstm

    result = run("--checkpoint", str(lstm_checkpoint), "--key", "H major", "-o", str(tmp_path / "x.mid"))
    assert result.exit_code == 2 and "unknown key 'H major'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    plain = train_lstm("bach", steps=2, out=tmp_path / "plain", normalize_key=False, bars_left_cap=0, **TINY)
    result = run("--checkpoint", str(plain), "--key", "Am", "-o", str(tmp_path / "x.mid"))
    assert result.exit_code == 2 and "without key conditioning" in result.output
    folder = train_lstm(str(midi_folder), steps=2, out=tmp_path / "folder", **TINY)
    result = run("--checkpoint", str(folder), "--rules", "-o", str(tmp_path / "x.mid"))
    assert result.exit_code == 2 and "voice-leading rules need a four-voice checkpoint" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = run("--model", "musegan", "--key", "Am", "-o", str(tmp_path / "x.mid"))
    assert result.exit_code == 2 and "--key applies to --model lstm" in result.output
    assert not (tmp_path / "x.mid").exists()


def test_no_rules_by_default_without_four_voices(tmp_path, midi_folder):
    from composer.training.lstm import train_lstm

    folder = train_lstm(str(midi_folder), steps=2, out=tmp_path / "folder", **TINY)
    score = generate_lstm(folder, bars=2, seed=0)
    assert score.length == 32 and score.n_bars <= 2


def test_shipped_checkpoint_is_the_default_recipe():
    """`composer train --corpus bach --model lstm` with no other options is what was shipped."""
    import json

    from composer.models.attention_lstm import TrainConfig

    meta = json.loads((SHIPPED / "meta.json").read_text())
    assert meta["training"] == TrainConfig().to_dict()
    assert meta["codec"]["normalize_key"] and meta["codec"]["bars_left_cap"] == 8


def test_rules_repeat_a_soprano_bar_where_a_motif_is_drawn(lstm_checkpoint):
    """Seed 0 draws bars 1 and 3 (choose_motif); the same seed without rules draws none."""
    from composer.evaluate.chorale import _bar_pattern
    from composer.representations.token_rules import choose_motif

    def soprano_bar(score, bar):
        notes = sorted(n for n in score.tracks[0].notes if bar * 16 <= n.start < bar * 16 + 16)
        return _bar_pattern(notes, bar * 16, bar * 16 + 16)

    assert choose_motif(0, 8, np.random.default_rng([0, 2])) == (1, 3)
    score = generate_lstm(lstm_checkpoint, bars=8, seed=0)
    assert len(soprano_bar(score, 1)) >= 2 and soprano_bar(score, 3) == soprano_bar(score, 1)
    free = generate_lstm(lstm_checkpoint, bars=8, seed=0, rules=False)
    assert soprano_bar(free, 3) != soprano_bar(free, 1)


@pytest.mark.parametrize(
    "bad",
    [{"temperature": float("nan")}, {"temperature": float("inf")}, {"top_p": float("nan")}, {"top_k": -1}],
)
def test_sampling_refuses_values_it_cannot_sample_with(bad):
    from composer.errors import ComposerError
    from composer.generation.lstm import Sampling

    with pytest.raises(ComposerError, match="^sampling needs temperature >= 0"):
        Sampling(**bad)
