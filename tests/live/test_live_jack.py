"""`composer play`, `ports`, clocks and failure cases against a real JACK server (see conftest.py)."""

import os
import signal
import subprocess
import sys
import time

import mido
import numpy as np
import pytest
from live_receiver import open_notes

from composer.live.events import from_midifile
from composer.live.ports import open_output

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
    """(seconds, bytes) of every non-meta message in merged file order at the file's tempo."""
    out, t = [], 0.0
    for msg in mid:  # iterating a MidiFile yields merged messages with time in seconds
        t += msg.time
        if not msg.is_meta:
            out.append((t, tuple(msg.bytes())))
    return out


def without_panic(msgs):
    return [m for m in msgs if not (m[0] & 0xF0 == 0xB0 and m[1] in (64, 120, 123))]


def timing_errors(received, wanted):
    """Arrival minus due time per message, less the median (the constant latency), seconds."""
    err = np.array([r - w for r, w in zip(received, wanted)])
    return err - np.median(err)


def test_ports_lists_a_jack_port(receiver):
    r = subprocess.run(composer("ports", "--api", "jack"), capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert f"  {receiver.name}" in r.stdout.splitlines()


def test_play_delivers_the_whole_file_in_order_and_in_time(receiver, tmp_path):
    mid = write_piece(tmp_path / "piece.mid")
    want = expected(mid)
    r = subprocess.run(
        composer("play", str(tmp_path / "piece.mid"), "--api", "jack", "--port", receiver.name),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert receiver.wait_for(lambda m: len(m) >= len(want) + 6, timeout=3)
    got = receiver.messages()
    msgs = [m for _, m in got]
    assert without_panic(msgs) == [m for _, m in want]  # same messages, same order, same count
    assert open_notes(msgs) == {}
    assert msgs[-6:] == [
        (0xB0, 64, 0),
        (0xB0, 120, 0),
        (0xB0, 123, 0),
        (0xB1, 64, 0),
        (0xB1, 120, 0),
        (0xB1, 123, 0),
    ]


def test_play_timing_error_p99_within_2ms(jack, tmp_path):
    """p99 of |arrival - due| (less the constant latency) <= 2 ms, on the best of three plays.

    The machine is shared (CI, other processes): one play can be hit by a stall that belongs to the
    machine rather than the player. Three stalled plays in a row still fail.
    """
    from live_receiver import Receiver

    mid = write_piece(tmp_path / "piece.mid")
    want = expected(mid)
    p99s = []
    for _ in range(3):
        rx = Receiver()
        try:
            cmd = composer("play", str(tmp_path / "piece.mid"), "--api", "jack", "--port", rx.name)
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
            assert rx.wait_for(lambda m: len(m) >= len(want) + 6, timeout=3)
            got = rx.messages()
        finally:
            rx.close()
        err = np.abs(timing_errors([t for t, _ in got[: len(want)]], [t for t, _ in want]))
        p99s.append(float(np.percentile(err, 99)))
        if p99s[-1] <= 0.002:
            break
    assert min(p99s) <= 0.002, f"p99 timing errors {[round(p * 1e3, 2) for p in p99s]} ms"


def test_play_reads_stdin_and_bpm_overrides_tempo(receiver, tmp_path):
    mid = write_piece(tmp_path / "piece.mid", beats=4)
    data = (tmp_path / "piece.mid").read_bytes()
    r = subprocess.run(
        composer("play", "-", "--api", "jack", "--port", receiver.name, "--bpm", "480"),
        input=data,
        capture_output=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    want = expected(mid)
    assert receiver.wait_for(lambda m: len(m) >= len(want), timeout=3)
    got = receiver.messages()[: len(want)]
    assert [m for _, m in got] == [m for _, m in want]
    span = got[-1][0] - got[0][0]
    assert span == pytest.approx((want[-1][0] - want[0][0]) / 2, abs=0.01)  # twice as fast


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_stream_leaves_no_open_notes(receiver, tmp_path, sig):
    write_piece(tmp_path / "piece.mid", beats=8)
    proc = subprocess.Popen(
        composer("play", str(tmp_path / "piece.mid"), "--api", "jack", "--port", receiver.name, "--loop"),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert receiver.wait_for(lambda m: len(m) > 20, timeout=15)
    sent_at = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("composer play did not exit within 3 s of the signal")
    assert time.monotonic() - sent_at < 3
    assert proc.returncode == 128 + sig
    tail = [(0xB1, 64, 0), (0xB1, 120, 0), (0xB1, 123, 0)]
    receiver.wait_for(lambda m: [x for _, x in m[-3:]] == tail, timeout=2)
    msgs = [m for _, m in receiver.messages()]
    assert open_notes(msgs) == {}
    assert msgs[-3:] == tail
    assert len(proc.stderr.read().strip().splitlines()) == 1


def test_unknown_port_lists_ports_in_one_line(receiver, tmp_path):
    write_piece(tmp_path / "piece.mid", beats=1)
    r = subprocess.run(
        composer("play", str(tmp_path / "piece.mid"), "--api", "jack", "--port", "no-such-port"),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-port" in lines[0] and receiver.name in lines[0]


def test_unavailable_backend_is_one_line(jack, tmp_path):
    env = dict(os.environ, JACK_DEFAULT_SERVER="composer-no-such-server")
    r = subprocess.run(
        composer("ports", "--api", "jack"), capture_output=True, text=True, timeout=20, env=env
    )
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "not available" in r.stderr


def test_vanished_port_exits_with_one_line(receiver, tmp_path):
    write_piece(tmp_path / "piece.mid", beats=40)
    proc = subprocess.Popen(
        composer("play", str(tmp_path / "piece.mid"), "--api", "jack", "--port", receiver.name),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert receiver.wait_for(lambda m: len(m) > 10, timeout=15)
    receiver.close()
    try:
        proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("composer play hung after its port vanished")
    err = proc.stderr.read().strip().splitlines()
    assert proc.returncode != 0
    assert len(err) == 1 and "vanished" in err[0]


def test_clock_out_is_24_per_quarter_at_tempo(receiver, tmp_path):
    length = from_midifile(write_piece(tmp_path / "piece.mid", beats=8, bpm=150.0)).length
    r = subprocess.run(
        composer("play", str(tmp_path / "piece.mid"), "--api", "jack", "--port", receiver.name, "--clock"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert receiver.wait_for(lambda m: any(x == (0xFC,) for _, x in m), timeout=3)
    got = receiver.messages()
    statuses = [m for _, m in got]
    start, stop = statuses.index((0xFA,)), statuses.index((0xFC,))
    pulses = [t for t, m in got[start:stop] if m == (0xF8,)]
    assert len(pulses) == int(length * 24) + 1  # a pulse on every 24th of a beat up to the end
    beat = (pulses[-1] - pulses[0]) / (len(pulses) - 1) * 24
    assert 60.0 / beat == pytest.approx(150.0, rel=0.01)


def test_sync_follows_an_incoming_clock(receiver, tmp_path):
    write_piece(tmp_path / "piece.mid", beats=4, bpm=100.0, tracks=1)
    clock_port = open_output("jack", virtual=f"clk-{os.getpid()}")
    proc = subprocess.Popen(
        composer(
            "play",
            str(tmp_path / "piece.mid"),
            "--api",
            "jack",
            "--port",
            receiver.name,
            "--sync",
            clock_port.name,
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The player says when it listens; a Start sent before that would be lost.
        assert proc.stderr.readline().startswith("composer: waiting for MIDI Start on ")
        assert receiver.messages() == []  # nothing before Start
        spb = 60.0 / 180.0  # the clock runs at 180 bpm, the file says 100
        clock_port.send((0xFA,))
        t0 = time.perf_counter() + 0.01
        for k in range(int(5.5 * 24)):
            while time.perf_counter() < t0 + k * spb / 24:
                pass
            clock_port.send((0xF8,))
        clock_port.send((0xFC,))
        proc.wait(timeout=5)
    finally:
        proc.kill()
        clock_port.close()
    assert proc.returncode == 0, proc.stderr.read()

    def note_ons(msgs):
        return [t for t, m in msgs if m[0] & 0xF0 == 0x90 and m[2] > 0]

    receiver.wait_for(lambda m: len(note_ons(m)) >= 16, timeout=2)
    ons = note_ons(receiver.messages())
    assert len(ons) == 16, [m for _, m in receiver.messages()]  # 4 beats of 16ths
    step = np.median(np.diff(ons))
    assert 60.0 / (step * 4) == pytest.approx(180.0, rel=0.02)
    assert abs(ons[0] - t0) < 0.01  # the first note on the first pulse after Start


def test_virtual_port_streams_to_a_client_that_connects(jack, tmp_path):
    from live_receiver import Receiver

    from composer.live.ports import list_ports, open_input

    mid = write_piece(tmp_path / "piece.mid", beats=4)
    name = f"vport-{os.getpid()}"
    proc = subprocess.Popen(
        composer("play", str(tmp_path / "piece.mid"), "--api", "jack", "--virtual", name, "--delay", "2"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while f"{name}:out" not in list_ports("jack")[1] and time.monotonic() < deadline:
            time.sleep(0.05)
        rx = Receiver.__new__(Receiver)  # a Receiver that connects to the player's port instead
        rx.lock, rx.got = __import__("threading").Lock(), []
        rx.port = open_input(rx._on, api="jack", port=f"{name}:out")
        assert proc.wait(timeout=20) == 0, proc.stderr.read()
        time.sleep(0.1)
        msgs = [m for _, m in rx.messages()]
        rx.close()
    finally:
        proc.kill()
    assert without_panic(msgs) == [m for _, m in expected(mid)]


def test_windows_has_no_virtual_ports(monkeypatch):
    from composer.live.ports import PortError, open_output

    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(PortError, match="--port"):
        open_output("auto", virtual="x")
