"""`composer live` machinery against a real JACK server: a generator thread ahead of the playhead."""

import signal
import subprocess

import pytest

from composer.live import PortOptions, play_live
from composer.music import Note, Score, Track
from tests.live.live_receiver import open_notes


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
    assert stats.sent == 3 + 2 * 8 * (3 * 7 + 1)  # programs, then every note-on and note-off
    assert receiver.wait_for(lambda m: len(m) >= stats.sent + 9, timeout=5)  # + CC64/120/123 x 3
    msgs = [m for _, m in receiver.messages()]
    assert len(msgs) == stats.sent + 9
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
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("played 4 bars (") and "faster than real time" in lines[0]
    sent = int(lines[0].split("(")[1].split()[0])
    assert receiver.wait_for(lambda m: m and m[-1][1][1:] == (123, 0) and len(m) >= sent, timeout=5)
    msgs = [m for _, m in receiver.messages()]
    channels = {m[0] & 15 for m in msgs[:sent]}
    assert len(msgs) == sent + 3 * len(channels)  # + CC64/120/123 on each channel used
    assert any(m[0] & 0xF0 == 0x90 for m in msgs) and open_notes(msgs) == {}


def test_live_prints_headroom_when_stopped_by_a_signal(receiver):
    proc = subprocess.Popen(
        ["composer", "live", "--model", "lstm", "--api", "jack", "--port", receiver.name],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.wait_for(lambda m: sum(x[0] & 0xF0 == 0x90 for _, x in m) >= 4, timeout=60)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
    finally:
        proc.kill()
    lines = proc.stderr.read().splitlines()
    assert len(lines) == 2 and lines[0].startswith("played ") and "(stopped)" in lines[0]
    assert "faster than real time" in lines[0]
    assert lines[1] == "composer: stopped by SIGINT; all notes off"
    assert receiver.wait_for(lambda m: m and m[-1][1][1:] == (123, 0), timeout=5)
    assert open_notes([m for _, m in receiver.messages()]) == {}


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
    assert r.stderr.splitlines()[-1].startswith("played ")
    sent = int(r.stderr.splitlines()[-1].split()[1])
    assert receiver.wait_for(lambda m: m and m[-1][1][1:] == (123, 0) and len(m) >= sent, timeout=5)
    msgs = [m for _, m in receiver.messages()]
    assert len(msgs) == sent + 3 * len({m[0] & 15 for m in msgs[:sent]})  # + CC64/120/123 per channel
    assert any(m[0] & 0xF0 == 0x90 for m in msgs) and open_notes(msgs) == {}
