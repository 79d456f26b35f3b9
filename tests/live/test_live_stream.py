"""`composer live` machinery against a real JACK server: a generator thread ahead of the playhead."""

import subprocess

import pytest
from live_receiver import open_notes

from composer.live import PortOptions, play_live
from composer.music import Note, Score, Track


def bars(n_tracks=3):
    """Endless one-bar Scores: 8th notes per track, the last note of each bar held into the next."""
    k = 0
    while True:
        tracks = [
            Track(
                name=f"v{t}",
                program=40 + t,
                notes=[Note(s, 2, 50 + 7 * t + (s + k) % 12) for s in range(0, 14, 2)],
            )
            for t in range(n_tracks)
        ]
        tracks[0].notes.append(Note(14, 6, 80))  # sustains 4 steps into the next bar
        yield Score(tracks=tracks, bpm=480.0)
        k += 1


def test_live_streams_bars_with_channels_programs_and_no_waits(receiver):
    options = PortOptions(api="jack", port=receiver.name)
    stats, gen = play_live(bars(), options, n_bars=8, channels=[0, 3, 5])
    assert receiver.wait_for(lambda m: len(m) >= stats.sent, timeout=3)
    msgs = [m for _, m in receiver.messages()]
    assert msgs[:3] == [(0xC0, 40), (0xC3, 41), (0xC5, 42)]
    ons = [m for m in msgs if m[0] & 0xF0 == 0x90]
    offs = [m for m in msgs if m[0] & 0xF0 == 0x80]
    assert len(ons) == len(offs) == 8 * (3 * 7 + 1)
    assert sorted((m[0] & 15, m[1]) for m in ons) == sorted((m[0] & 15, m[1]) for m in offs)
    assert {m[0] & 15 for m in ons} == {0, 3, 5}
    assert len(gen.bar_seconds) == 8 and gen.waits == 0
    assert gen.headroom() > 50


@pytest.mark.parametrize("model", ["lstm", "musegan"])
def test_live_command_with_shipped_model(receiver, model):
    r = subprocess.run(
        [
            "composer",
            "live",
            "--model",
            model,
            "--bars",
            "4",
            "--bpm",
            "400",
            "--api",
            "jack",
            "--port",
            receiver.name,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "played 4 bars" in r.stderr and "faster than real time" in r.stderr
    assert receiver.wait_for(lambda m: m and m[-1][1][1:] == (123, 0), timeout=3)  # the closing CC123
    msgs = [m for _, m in receiver.messages()]
    assert any(m[0] & 0xF0 == 0x90 for m in msgs) and open_notes(msgs) == {}


def test_generate_play_writes_and_plays(receiver, tmp_path):
    out = tmp_path / "g.mid"
    r = subprocess.run(
        [
            "composer",
            "generate",
            "--bars",
            "2",
            "--bpm",
            "400",
            "-o",
            str(out),
            "--play",
            "--api",
            "jack",
            "--port",
            receiver.name,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert out.exists()
    assert receiver.wait_for(lambda m: m and m[-1][1][1:] == (123, 0), timeout=3)  # the closing CC123
    msgs = [m for _, m in receiver.messages()]
    assert any(m[0] & 0xF0 == 0x90 for m in msgs) and open_notes(msgs) == {}
