"""`composer play`, `ports`, clocks and failure cases against real JACK servers (see conftest.py).

Every test here runs on an asynchronous and a synchronous server, with both cores kept busy.
Times are the frames the receiver read each message at (live_receiver.py), so timing is measured
as a DAW would hear it, and counts are exact.
"""

import os
import signal
import subprocess
import sys
import time
import uuid

import mido
import numpy as np
import pytest

from composer.midi_io import read_midi_ticks
from tests.live.clock_sender import ClockSender
from tests.live.live_receiver import open_notes

BPM = 240.0


def composer(*args, **kw):
    return [sys.executable, "-m", "composer.cli", *args] if kw.get("module") else ["composer", *args]


def write_piece(path, beats=12, bpm=BPM, tracks=2):
    """A two-track MIDI file: 16th notes on track 1, held chords-ish notes on track 2, fast tempo."""
    mid = mido.MidiFile(ticks_per_beat=480)
    for t in range(tracks):
        tr = mido.MidiTrack()
        if t == 0:
            tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
        tr.append(mido.Message("program_change", channel=t, program=20 + t))
        step = 120 if t == 0 else 480
        now = 0
        for k in range(beats * 480 // step):
            tr.append(
                mido.Message(
                    "note_on", channel=t, note=60 + (k * 5 + t * 7) % 24, velocity=70, time=k * step - now
                )
            )
            tr.append(
                mido.Message("note_off", channel=t, note=60 + (k * 5 + t * 7) % 24, time=step - step // 4)
            )
            now = k * step + step - step // 4
        mid.tracks.append(tr)
    mid.save(path)
    return mid


def expected(mid):
    """(seconds, bytes) of every non-meta message at the file's tempo, in play order: at one time,
    note-offs (velocity 0), then programs, then note-ons; else merged file order. Each track of
    write_piece is one part, on its own channel already."""
    out, t = [], 0.0
    for msg in mid:  # iterating a MidiFile yields merged messages with time in seconds
        t += msg.time
        if not msg.is_meta:
            off = msg.type == "note_off"
            rank = 0 if off else 2 if msg.type == "note_on" else 1
            out.append((round(t, 9), rank, t, (*msg.bytes()[:2], 0) if off else tuple(msg.bytes())))
    return [(t, m) for _, _, t, m in sorted(out, key=lambda e: e[:2])]


def without_panic(msgs):
    return [m for m in msgs if not (m[0] & 0xF0 == 0xB0 and m[1] in (64, 120, 123))]


def timing_errors(received, wanted):
    """Arrival minus due time per message, less the median (the constant latency), seconds."""
    err = np.array([r - w for r, w in zip(received, wanted)])
    return err - np.median(err)


def run(*args, **kw):
    return subprocess.run(
        composer(*args), capture_output=True, text=True, timeout=kw.pop("timeout", 60), **kw
    )


def test_ports_lists_a_jack_port_to_send_to(receiver):
    r = run("ports", "--api", "jack", timeout=20)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "send to (--port):" and f"  {receiver.name}" in lines
    assert lines.index(f"  {receiver.name}") < lines.index("sync from (--sync):")


def test_play_delivers_the_whole_file_in_order_and_on_its_frames(receiver, tmp_path):
    """Every message, in order, once; then the closing controllers; timing error p99 and max at
    the receiver (less the constant latency) within 1 ms and 3 ms."""
    mid = write_piece(tmp_path / "piece.mid")
    want = expected(mid)
    r = run("play", str(tmp_path / "piece.mid"), "--api", "jack", "--port", receiver.name)
    assert r.returncode == 0, r.stderr
    assert r.stderr == f"played {len(want)} messages\n"
    assert receiver.wait_for(lambda m: len(m) >= len(want) + 6, timeout=5)
    got = receiver.messages()
    msgs = [m for _, m in got]
    assert len(msgs) == len(want) + 6
    assert msgs[: len(want)] == [m for _, m in want]  # same messages, same order, same count
    assert open_notes(msgs) == {}
    assert msgs[-6:] == [
        (0xB0, 64, 0),
        (0xB0, 120, 0),
        (0xB0, 123, 0),
        (0xB1, 64, 0),
        (0xB1, 120, 0),
        (0xB1, 123, 0),
    ]
    err = np.abs(timing_errors([t for t, _ in got[: len(want)]], [t for t, _ in want]))
    assert np.percentile(err, 99) <= 0.001 and err.max() <= 0.003, f"max {err.max() * 1e3:.2f} ms"


def test_play_type2_plays_its_tracks_one_after_another(receiver, tmp_path):
    """A type-2 file's second track starts where the first ends (its end-of-track), as read_midi
    reads it: one beat at 240 bpm, then another beat of silence, then the second track."""
    mid = mido.MidiFile(type=2, ticks_per_beat=480)
    first = [mido.MetaMessage("set_tempo", tempo=250_000), mido.Message("note_on", note=60, velocity=80)]
    first += [mido.Message("note_off", note=60, time=480), mido.MetaMessage("end_of_track", time=480)]
    second = [mido.Message("note_on", note=62, velocity=81), mido.Message("note_off", note=62, time=480)]
    mid.tracks += [mido.MidiTrack(first), mido.MidiTrack(second)]
    mid.save(tmp_path / "type2.mid")
    r = run("play", str(tmp_path / "type2.mid"), "--api", "jack", "--port", receiver.name)
    assert r.returncode == 0, r.stderr
    assert receiver.wait_for(lambda m: len(m) >= 6 + 6, timeout=5)
    got = receiver.messages()
    msgs = [m for _, m in got]
    assert without_panic(msgs) == [
        (0xC0, 0),
        (0xC1, 0),
        (0x90, 60, 80),
        (0x80, 60, 0),
        (0x91, 62, 81),
        (0x81, 62, 0),
    ]
    assert open_notes(msgs) == {}
    at = {m: t for t, m in got}
    assert at[0x91, 62, 81] - at[0x90, 60, 80] == pytest.approx(0.5, abs=0.003)  # two beats at 240 bpm


def test_play_reads_stdin_and_bpm_overrides_tempo(receiver, tmp_path):
    mid = write_piece(tmp_path / "piece.mid", beats=4)
    data = (tmp_path / "piece.mid").read_bytes()
    cmd = composer("play", "-", "--api", "jack", "--port", receiver.name, "--bpm", "480")
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    want = expected(mid)
    assert receiver.wait_for(lambda m: len(m) >= len(want) + 6, timeout=5)
    got = receiver.messages()[: len(want)]
    assert [m for _, m in got] == [m for _, m in want]
    span = got[-1][0] - got[0][0]
    assert span == pytest.approx((want[-1][0] - want[0][0]) / 2, abs=0.001)  # twice as fast


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_signal_mid_stream_leaves_no_open_notes(receiver, tmp_path, sig):
    write_piece(tmp_path / "piece.mid", beats=8)
    proc = subprocess.Popen(
        composer("play", str(tmp_path / "piece.mid"), "--api", "jack", "--port", receiver.name, "--loop"),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert receiver.wait_for(lambda m: len(m) > 20, timeout=20)
    proc.send_signal(sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"composer play did not exit within 10 s of {sig.name}")
    assert proc.returncode == 128 + sig
    assert proc.stderr.read() == f"composer: stopped by {sig.name}; all notes off\n"
    tail = [(0xB1, 64, 0), (0xB1, 120, 0), (0xB1, 123, 0)]
    assert receiver.wait_for(lambda m: [x for _, x in m[-3:]] == tail, timeout=5)
    msgs = [m for _, m in receiver.messages()]
    assert open_notes(msgs) == {}
    assert msgs.count((0xB0, 123, 0)) == msgs.count((0xB1, 123, 0)) == 1


def test_unknown_port_lists_ports_in_one_line(receiver, tmp_path):
    write_piece(tmp_path / "piece.mid", beats=1)
    r = run("play", str(tmp_path / "piece.mid"), "--api", "jack", "--port", "no-such-port", timeout=20)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-port" in lines[0] and receiver.name in lines[0]


def test_unavailable_backend_is_one_line(jack, tmp_path):
    env = dict(os.environ, JACK_DEFAULT_SERVER="composer-no-such-server")
    for args in (
        ["ports", "--api", "jack"],
        ["play", str(tmp_path / "x.mid"), "--api", "jack", "--port", "x"],
    ):
        write_piece(tmp_path / "x.mid", beats=1)
        r = run(*args, timeout=20, env=env)
        assert r.returncode == 2
        assert len(r.stderr.strip().splitlines()) == 1 and "'jack' is not available" in r.stderr


def test_vanished_port_exits_with_one_line(receiver, tmp_path):
    write_piece(tmp_path / "piece.mid", beats=40)
    proc = subprocess.Popen(
        composer("play", str(tmp_path / "piece.mid"), "--api", "jack", "--port", receiver.name),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert receiver.wait_for(lambda m: len(m) > 10, timeout=20)
    receiver.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("composer play hung after its port vanished")
    assert proc.returncode == 2
    assert proc.stderr.read() == f"composer: error: MIDI port {receiver.name!r} vanished mid-stream\n"


def test_clock_out_is_24_per_quarter_at_tempo(receiver, tmp_path):
    write_piece(tmp_path / "piece.mid", beats=8, bpm=150.0)
    midi = read_midi_ticks(tmp_path / "piece.mid")
    length = midi.end / midi.ticks_per_beat  # beats
    r = run("play", str(tmp_path / "piece.mid"), "--api", "jack", "--port", receiver.name, "--clock")
    assert r.returncode == 0, r.stderr
    assert receiver.wait_for(lambda m: any(x == (0xFC,) for _, x in m), timeout=5)
    got = receiver.messages()
    statuses = [m for _, m in got]
    start, stop = statuses.index((0xFA,)), statuses.index((0xFC,))
    pulses = [t for t, m in got[start:stop] if m == (0xF8,)]
    assert len(pulses) == int(length * 24) + 1  # a pulse on every 24th of a beat up to the end
    err = np.abs(np.diff(pulses) - 60.0 / 150.0 / 24)  # each on its frame, but for a cycle the
    assert np.percentile(err, 99) <= 1 / 48000 and err.max() <= 0.003  # server itself skipped


def note_ons(got):
    return [(t, m) for t, m in got if m[0] & 0xF0 == 0x90 and m[2] > 0]


def test_sync_follows_stop_continue_and_restarts_from_the_top(receiver, tmp_path):
    """Start, Stop (notes end), Continue (carries on), Stop, Start (from the top) at 180 bpm: each
    step waits on what the receiver read, not on wall-clock margins. The clock comes from a JACK
    client in its own process (clock_sender.py), which no test thread can make late."""
    mid = write_piece(tmp_path / "piece.mid", beats=4, bpm=100.0, tracks=1)
    piece = [m for _, m in expected(mid) if m[0] & 0xF0 == 0x90]  # 16 sixteenths
    clock = ClockSender(bpm=180.0)
    cmd = composer(
        "play", str(tmp_path / "piece.mid"), "--api", "jack", "--port", receiver.name, "--sync", clock.name
    )
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr.readline() == f"composer: waiting for MIDI Start on {clock.name}\n"
        assert receiver.messages() == []  # nothing before Start
        assert clock.connections() == 1  # composer listens to the clock port
        assert clock.wait_cycles(4)  # and the connection is in the graph the server runs

        def ons():
            return [m for _, m in note_ons(receiver.messages())]

        def stop_and_settle():
            """Stop, then a beat of pulses, which a stopped follower ignores: no note may start."""
            clock.send((0xFC,))
            clock.pulse(12)
            n = len(ons())
            clock.pulse(24)
            assert receiver.wait_for(lambda m: open_notes([x for _, x in m]) == {}, timeout=5)
            assert len(ons()) == n
            return n

        clock.send((0xFA,))
        assert clock.pulse_until(lambda: len(ons()) >= 3)
        a = stop_and_settle()
        clock.send((0xFB,))
        assert clock.pulse_until(lambda: len(ons()) >= a + 3)
        b = stop_and_settle()
        clock.send((0xFA,))
        ended = lambda: len(ons()) >= b + 16 and open_notes([m for _, m in receiver.messages()]) == {}  # noqa: E731
        assert clock.pulse_until(ended, limit=24 * 8), str(
            (a, b, [m[1] for m in ons()], receiver.messages()[-4:])
        )  # the last note-off is the last event: it exits
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    finally:
        proc.kill()
        clock.close()
    got = note_ons(receiver.messages())
    assert [m for _, m in got[:b]] == piece[:b]  # Continue carried on where Stop left off
    assert [m for _, m in got[b:]] == piece  # Start after Stop went back to the top
    step = np.median(np.diff([t for t, _ in got[b:]]))
    assert 60.0 / (step * 4) == pytest.approx(180.0, rel=0.02)  # the clock's tempo, not the file's 100
    assert open_notes([m for _, m in receiver.messages()]) == {}


def test_virtual_port_waits_for_a_connection_then_plays_everything(receiver, tmp_path):
    mid = write_piece(tmp_path / "piece.mid", beats=4)
    name = f"vport-{uuid.uuid4().hex[:6]}"
    cmd = composer("play", str(tmp_path / "piece.mid"), "--api", "jack", "--virtual", name)
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr.readline() == f"composer: waiting for a connection on {name}:out\n"
        time.sleep(0.5)  # a person connecting by hand takes a while; nothing may be lost meanwhile
        assert proc.poll() is None
        receiver.client.connect(f"{name}:out", receiver.name)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        proc.kill()
    want = [m for _, m in expected(mid)]
    assert receiver.wait_for(lambda m: len(m) >= len(want) + 6, timeout=5)
    assert without_panic([m for _, m in receiver.messages()]) == want


def test_windows_has_no_virtual_ports(monkeypatch):
    from composer.live.ports import PortError, open_output

    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(PortError, match="no virtual ports; pick an existing output port by name"):
        open_output("auto", virtual="x")


@pytest.mark.skipif(os.path.exists("/dev/snd/seq"), reason="ALSA works here: nothing to suggest")
def test_ports_without_alsa_suggests_the_jack_api(jack):
    r = run("ports", timeout=20)
    assert r.returncode == 2
    assert r.stderr == (
        "composer: error: MIDI API 'auto' is not available here (no ALSA sequencer: /dev/snd/seq is"
        " missing); MIDI APIs that work here: --api jack\n"
    )
