"""The live scheduler, timeline, clock follower and bar stream, with an injected clock: no waiting."""

import threading

import mido
import pytest

from composer.live.events import Timeline, from_midi_ticks, looped, to_events, with_clock
from composer.live.ports import PortError
from composer.live.scheduler import SPIN, Player, play
from composer.live.stream import BarStream
from composer.live.sync import ClockFollower
from composer.midi_io import read_midi, read_midi_ticks
from composer.music import Note, Score, Track


class FakeClock:
    """Time moves only when slept, plus 1 us per reading (so a spin loop ends)."""

    def __init__(self):
        self.t = 100.0
        self.sleeps = []

    def now(self):
        self.t += 1e-6
        return self.t

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.t += seconds


class FakePort:
    name = "fake:in"

    def __init__(self, fail_after=None, vanish_after=None):
        self.sent = []
        self.fail_after, self.vanish_after = fail_after, vanish_after

    def send(self, msg):
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise RuntimeError("boom")
        self.sent.append(tuple(msg))

    def alive(self):
        return self.vanish_after is None or len(self.sent) < self.vanish_after


def score(notes_per_track, bpm=120.0):
    tracks = [Track(name=f"t{i}", program=10 + i, notes=notes) for i, notes in enumerate(notes_per_track)]
    return Score(tracks=tracks, bpm=bpm)


def test_times_are_absolute_no_drift():
    clock, port = FakeClock(), FakePort()
    events = [(i * 0.25, (0xF8,)) for i in range(5_000)]  # a clock pulse every 16th for 1250 beats
    stats = play(events, port, Timeline.fixed(137.0), clock=clock.now, sleep=clock.sleep, record=True)
    start = stats.targets[0]
    for i in (1, 999, 4_999):
        assert stats.targets[i] == pytest.approx(start + i * 0.25 * 60 / 137.0, abs=1e-9)
    errors = stats.errors()
    assert max(errors) < 1e-5 and min(errors) >= 0
    assert abs(errors[-1] - errors[0]) < 1e-5  # no error builds up over 9 minutes of music
    assert max(clock.sleeps) <= 0.02 + 1e-12  # long waits are split so the timeline is re-read


def test_sleeps_until_shortly_before_then_spins():
    clock, port = FakeClock(), FakePort()
    play([(0.0, (0xF8,)), (1.0, (0xF8,))], port, Timeline.fixed(60.0), clock=clock.now, sleep=clock.sleep)
    assert sum(clock.sleeps) == pytest.approx(1.0 - SPIN, abs=1e-3)


def test_note_events_are_ordered_with_offs_first():
    s = score([[Note(0, 4, 60), Note(4, 4, 60)], [Note(0, 8, 48)]])
    events = to_events(s)
    assert events[:2] == [(0.0, (0xC0, 10)), (0.0, (0xC1, 11))]
    assert events[2:] == [
        (0.0, (0x90, 60, 80)),
        (0.0, (0x91, 48, 80)),
        (1.0, (0x80, 60, 0)),
        (1.0, (0x90, 60, 80)),
        (2.0, (0x80, 60, 0)),
        (2.0, (0x81, 48, 0)),
    ]


def test_drum_tracks_go_to_channel_10():
    s = Score(tracks=[Track(notes=[Note(0, 1, 36)], is_drum=True), Track(notes=[Note(0, 1, 60)])])
    events = to_events(s)
    assert (0.0, (0x99, 36, 80)) in events and (0.0, (0x90, 60, 80)) in events
    assert all(msg[0] != 0xC9 for _, msg in events)  # no program change on drums


def _open_notes(sent):
    open_ = {}
    for msg in sent:
        kind, key = msg[0] & 0xF0, (msg[0] & 0x0F, msg[1] if len(msg) > 1 else None)
        if kind == 0x90 and msg[2] > 0:
            open_[key] = open_.get(key, 0) + 1
        elif kind in (0x80, 0x90) and open_.get(key):
            open_[key] -= 1
    return {k: v for k, v in open_.items() if v}


def _panic_tail(sent, channels):
    tail = []
    for ch in channels:
        tail += [(0xB0 | ch, 64, 0), (0xB0 | ch, 120, 0), (0xB0 | ch, 123, 0)]
    return sent[-len(tail) :] == tail


@pytest.mark.parametrize("failure", ["exception", "interrupt", "vanish"])
def test_any_ending_silences_open_notes(failure):
    clock = FakeClock()
    port = FakePort(vanish_after=4) if failure == "vanish" else FakePort()
    s = score([[Note(i, 8, 60 + i) for i in range(16)], [Note(0, 32, 40)]])
    events = to_events(s)

    def feed():
        for i, e in enumerate(events):
            if i == 10 and failure == "exception":
                raise ValueError("generator failed")
            if i == 10 and failure == "interrupt":
                raise KeyboardInterrupt
            yield e

    expected = {"exception": ValueError, "interrupt": KeyboardInterrupt, "vanish": PortError}[failure]
    with pytest.raises(expected):
        play(feed(), port, Timeline.fixed(600.0), clock=clock.now, sleep=clock.sleep)
    assert _open_notes(port.sent) == {}
    assert _panic_tail(port.sent, [0, 1])


class InterruptedPort(FakePort):
    """Raises KeyboardInterrupt (a second Ctrl-C) on the first note-off send once armed, sending nothing."""

    armed = False

    def send(self, msg):
        if self.armed and msg[0] & 0xF0 == 0x80:
            self.armed = False
            raise KeyboardInterrupt("second")
        super().send(msg)


def test_second_interrupt_during_silence_still_ends_every_note():
    clock, port = FakeClock(), InterruptedPort()
    s = score([[Note(i, 8, 60 + i) for i in range(16)], [Note(0, 32, 40)]])
    events = to_events(s)

    def feed():
        for i, e in enumerate(events):
            if i == 10:
                port.armed = True  # the next note-off is silence()'s first
                raise KeyboardInterrupt("first")
            yield e

    with pytest.raises(KeyboardInterrupt, match="second"):
        play(feed(), port, Timeline.fixed(600.0), clock=clock.now, sleep=clock.sleep)
    assert not port.armed  # the interrupt did happen, inside silence()
    offs = [m for m in port.sent if m[0] & 0xF0 == 0x80]
    assert len(offs) == 8  # 7 melody notes and the bass note were sounding: none is left out
    assert _open_notes(port.sent) == {}
    assert _panic_tail(port.sent, [0, 1])


def test_silence_sends_note_offs_even_if_the_port_interrupts_each_note_off_once():
    port = InterruptedPort()
    player = Player(port)
    for msg in [(0x90, 60, 80), (0x90, 60, 80), (0x91, 48, 80)]:
        player.send(msg)
    port.armed = True
    with pytest.raises(KeyboardInterrupt):
        player.silence()
    assert port.sent[3:] == [(0x80, 60, 0), (0x80, 60, 0), (0x81, 48, 0)] + [
        (0xB0 | ch, cc, 0) for ch in (0, 1) for cc in (64, 120, 123)
    ]
    assert player.stats.silenced == 3 and not player.open


def test_normal_end_sends_controllers_and_no_extra_note_offs():
    clock, port = FakeClock(), FakePort()
    events = to_events(score([[Note(0, 2, 60)]]))
    stats = play(events, port, Timeline.fixed(600.0), clock=clock.now, sleep=clock.sleep)
    assert stats.silenced == 0
    assert port.sent == [
        (0xC0, 10),
        (0x90, 60, 80),
        (0x80, 60, 0),
        (0xB0, 64, 0),
        (0xB0, 120, 0),
        (0xB0, 123, 0),
    ]


def test_clock_out_is_24_per_beat_with_start_and_stop():
    events = list(with_clock([(0.0, (0x90, 60, 1)), (2.0, (0x80, 60, 0))], end=4.0))
    statuses = [m[0] for _, m in events]
    assert statuses[0] == 0xFA and statuses[-1] == 0xFC
    pulses = [b for b, m in events if m == (0xF8,)]
    assert len(pulses) == 4 * 24 + 1 and pulses[24] == 1.0


def test_interrupted_clock_gets_stop():
    clock, port = FakeClock(), FakePort(fail_after=None)

    def feed():
        yield from list(with_clock([(0.0, (0x90, 60, 1)), (8.0, (0x80, 60, 0))]))[:30]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        play(feed(), port, Timeline.fixed(120.0), clock=clock.now, sleep=clock.sleep)
    assert port.sent[-1] == (0xFC,) and _open_notes(port.sent) == {}


def test_tempo_map_loop_and_bpm_override():
    t = Timeline([(0.0, 0.5), (4.0, 0.25)], loop=8.0)
    assert t.seconds(4.0) == 2.0 and t.seconds(8.0) == 3.0 and t.seconds(10.0) == 4.0
    assert t.scaled(240.0).seconds(8.0) == 1.5
    assert list(looped([(0.0, (1,)), (1.0, (2,))], 2.0, 2)) == [
        (0.0, (1,)),
        (1.0, (2,)),
        (2.0, (1,)),
        (3.0, (2,)),
    ]


def _write(path, *tracks, type=1, tpb=96):
    """A tiny MIDI file of mido messages, one list per track."""
    mid = mido.MidiFile(type=type, ticks_per_beat=tpb)
    mid.tracks += [mido.MidiTrack(msgs) for msgs in tracks]
    mid.save(path)
    return path


def test_file_events_keep_order_and_tempo_changes(tmp_path):
    path = _write(
        tmp_path / "tempo.mid",
        [
            mido.MetaMessage("set_tempo", tempo=500_000),
            mido.Message("note_on", note=60, velocity=64),
            mido.MetaMessage("set_tempo", tempo=250_000, time=96),
            mido.Message("note_off", note=60, time=0),
        ],
    )
    piece = from_midi_ticks(read_midi_ticks(path))
    assert piece.events == [(0.0, (0xC0, 0)), (0.0, (0x90, 60, 64)), (1.0, (0x80, 60, 0))]
    assert piece.tempos == [(0.0, 0.5), (1.0, 0.25)] and piece.length == 1.0
    assert Timeline(piece.tempos).scaled(60.0).seconds(2.0) == 1.0 + 0.5  # --bpm keeps the ratio


def test_file_events_keep_programs_controllers_and_bends_per_part(tmp_path):
    """Each part (track, channel, program) on its own channel as read_midi's Tracks; drums on 10;
    at one tick: note-offs, then program, controllers and bends, then note-ons."""
    path = _write(
        tmp_path / "parts.mid",
        [
            mido.Message("program_change", channel=3, program=5),
            mido.Message("control_change", channel=3, control=7, value=100),
            mido.Message("note_on", channel=3, note=60, velocity=90),
            mido.Message("pitchwheel", channel=3, pitch=-8192, time=48),
            mido.Message("note_on", channel=3, note=60, velocity=0, time=48),
            mido.Message("program_change", channel=3, program=7),
            mido.Message("note_on", channel=3, note=64, velocity=80),
            mido.Message("note_off", channel=3, note=64, time=96),
        ],
        [
            mido.Message("note_on", channel=9, note=36, velocity=100),
            mido.Message("note_off", channel=9, note=36, time=24),
        ],
    )
    assert [(t.name, t.program, t.is_drum) for t in read_midi(path).tracks] == [
        ("track 0 part 1", 5, False),
        ("track 0 part 2", 7, False),
        ("track 1", 0, True),
    ]
    assert from_midi_ticks(read_midi_ticks(path)).events == [
        (0.0, (0xC0, 5)),
        (0.0, (0xB0, 7, 100)),
        (0.0, (0xC1, 7)),
        (0.0, (0x90, 60, 90)),
        (0.0, (0x99, 36, 100)),
        (0.25, (0x89, 36, 0)),
        (0.5, (0xE0, 0, 0)),
        (1.0, (0x80, 60, 0)),
        (1.0, (0x91, 64, 80)),
        (2.0, (0x81, 64, 0)),
    ]


def test_file_events_close_every_note(tmp_path):
    """As in read_midi: a note-off ends the earliest sounding note of its pitch (symusic's rule), a
    repeated pitch cuts the earlier note, a note of 0 ticks lasts one tick, and a note left sounding
    ends with its track. Every note-on has its note-off."""
    path = _write(
        tmp_path / "open.mid",
        [
            mido.Message("note_on", note=60, velocity=70),
            mido.Message("note_on", note=60, velocity=71, time=48),
            mido.Message("note_on", note=62, velocity=72, time=48),
            mido.Message("note_off", note=62, velocity=72, time=0),
            mido.Message("note_off", note=60, time=96),
            mido.Message("note_on", note=67, velocity=73),
            mido.MetaMessage("end_of_track", time=96),
        ],
    )
    piece = from_midi_ticks(read_midi_ticks(path))
    assert piece.events == [
        (0.0, (0xC0, 0)),
        (0.0, (0x90, 60, 70)),
        (0.5, (0x80, 60, 0)),
        (0.5, (0x90, 60, 71)),
        (1.0, (0x90, 62, 72)),
        (1.0 + 1 / 96, (0x80, 62, 0)),
        (2.0, (0x90, 67, 73)),
        (3.0, (0x80, 60, 0)),
        (3.0, (0x80, 67, 0)),
    ]
    assert piece.length == 3.0


def test_type2_tracks_play_one_after_another_as_read_midi_reads_them(tmp_path):
    """A type-2 file's tracks are independent sequences: the second starts where the first ends
    (its end-of-track), in playback as in read_midi."""
    path = _write(
        tmp_path / "type2.mid",
        [
            mido.MetaMessage("set_tempo", tempo=500_000),
            mido.Message("note_on", note=60, velocity=80),
            mido.Message("note_off", note=60, time=96),
            mido.MetaMessage("end_of_track", time=96),
        ],
        [
            mido.MetaMessage("set_tempo", tempo=250_000),
            mido.Message("note_on", note=62, velocity=81),
            mido.Message("note_off", note=62, time=48),
        ],
        type=2,
    )
    piece = from_midi_ticks(read_midi_ticks(path))
    assert piece.events == [
        (0.0, (0xC0, 0)),
        (0.0, (0xC1, 0)),
        (0.0, (0x90, 60, 80)),
        (1.0, (0x80, 60, 0)),
        (2.0, (0x91, 62, 81)),
        (2.5, (0x81, 62, 0)),
    ]
    assert piece.tempos == [(0.0, 0.5), (2.0, 0.25)] and piece.length == 2.5
    score = read_midi(path)
    assert [t.notes for t in score.tracks] == [[Note(0, 4, 60, 80)], [Note(8, 2, 62, 81)]]
    assert score.length == 0  # the last note ends the piece


def test_clock_follower_tempo_start_stop_continue():
    f = ClockFollower()
    assert f.at(0.0) is None
    f.on_message([0xFA], 10.0)
    assert f.at(0.0) is None  # Start, but beat 0 is the first pulse
    spb = 0.4  # 150 bpm
    for k in range(48):
        f.on_message([0xF8], 10.01 + k * spb / 24)
    assert f.bpm == pytest.approx(150.0)
    assert f.at(2.0) == pytest.approx(10.01 + 2 * spb)
    for k in range(48, 72):  # speeds up to 200 bpm; the window follows within a beat
        f.on_message([0xF8], 10.01 + 47 * spb / 24 + (k - 47) * 0.3 / 24)
    assert f.bpm == pytest.approx(200.0)
    f.on_message([0xFC], 20.0)
    assert f.at(3.0) is None
    f.on_message([0xFB], 30.0)
    assert f.at(3.0) is None  # waits for the first pulse after Continue
    f.on_message([0xF8], 30.5)
    f.on_message([0xF8], 30.5 + 0.3 / 24)
    assert f.at(3.0 + 1 / 24) == pytest.approx(30.5 + 0.3 / 24)


def test_player_waits_while_external_clock_is_stopped_and_silences():
    clock, port = FakeClock(), FakePort()

    class Stopped:
        calls = 0

        def at(self, beat):
            self.calls += 1
            return clock.t if beat == 0 or self.calls > 50 else None

        def begin(self, now):
            pass

    player = Player(port, clock=clock.now, sleep=clock.sleep)
    player.play([(0.0, (0x90, 60, 90)), (1.0, (0x80, 60, 0))], Stopped())
    assert port.sent[1] == (0x80, 60, 0)  # the held note was released while stopped


def fake_bars(n=None, fail_at=None):
    """One-bar Scores (4/4, 16 steps): a note per beat, the last one held into the next bar."""
    k = 0
    while n is None or k < n:
        if k == fail_at:
            raise RuntimeError("model failed")
        yield score([[Note(0, 4, 60 + k % 12), Note(12, 8, 72)], [Note(0, 16, 48)]])
        k += 1


def test_bar_stream_orders_events_across_bars():
    stream = BarStream(fake_bars(), n_bars=3, channels=[2, 5]).start()
    events = list(stream.events())
    stream.close()
    beats = [b for b, _ in events]
    assert beats == sorted(beats)
    assert events[:2] == [(0.0, (0xC2, 10)), (0.0, (0xC5, 11))]
    ons = [(b, m) for b, m in events if m[0] & 0xF0 == 0x90]
    offs = [(b, m) for b, m in events if m[0] & 0xF0 == 0x80]
    assert len(ons) == len(offs) == 9
    assert (5.0, (0x82, 72, 0)) in events and (9.0, (0x82, 72, 0)) in events  # sustained across bars
    at4 = [m for b, m in events if b == 4.0]
    assert at4.index((0x85, 48, 0)) < at4.index((0x95, 48, 80))  # offs before ons at a bar line
    assert len(stream.stats.bar_seconds) == 3


def test_bar_stream_passes_generator_errors_to_the_player():
    clock, port = FakeClock(), FakePort()
    stream = BarStream(fake_bars(fail_at=2), n_bars=10).start()
    with pytest.raises(RuntimeError, match="model failed"):
        play(stream.events(), port, Timeline.fixed(240.0), clock=clock.now, sleep=clock.sleep)
    stream.close()
    assert _open_notes(port.sent) == {}


def test_bar_stream_headroom_and_waits():
    gate = threading.Event()

    def slow():
        yield from fake_bars(1)
        gate.wait(5)
        yield from fake_bars(1)

    stream = BarStream(slow(), n_bars=2, bpm=120.0).start()
    it = stream.events()
    first_events = [next(it) for _ in range(5)]
    assert first_events[0][1][0] & 0xF0 == 0xC0
    threading.Timer(0.05, gate.set).start()
    rest = list(it)
    stream.close()
    assert stream.stats.waits == 1 and stream.stats.waited > 0
    assert stream.stats.music_seconds_per_bar == 2.0
    assert stream.stats.headroom() is not None and len(rest) > 0


class AheadPort(FakePort):
    """A port that takes events ahead of time (as JACK's does) and can hand back what it holds."""

    lookahead = 0.05

    def __init__(self):
        super().__init__()
        self.held = []

    def send_at(self, msg, due):
        self.held.append(tuple(msg))

    def cancel(self):
        taken, self.held = self.held, []
        return taken


def test_stopping_takes_back_early_events_and_ends_only_notes_that_went_out():
    """Note 60 went out, its note-off and note 62 were still held: 60 is ended, 62 never sounds."""
    clock, port = FakeClock(), AheadPort()
    player = Player(port, clock=clock.now, sleep=clock.sleep)
    player.send((0x90, 60, 80), due=1.0)
    port.sent.append(port.held.pop(0))  # the callback wrote it
    player.send((0x80, 60, 0), due=2.0)
    player.send((0x90, 62, 80), due=2.0)
    player.silence()
    assert port.sent == [(0x90, 60, 80), (0x80, 60, 0), (0xB0, 64, 0), (0xB0, 120, 0), (0xB0, 123, 0)]
    assert player.stats.sent == 1 and port.held == []


class FramePort(AheadPort):
    """An AheadPort whose "process callback" writes each held event once the clock reaches its due time."""

    def send_at(self, msg, due):
        self.held.append((due, tuple(msg)))
        self.dues.append(due)

    def write_due(self, now):
        while self.held and self.held[0][0] <= now:
            self.sent.append(self.held.pop(0)[1])

    def drain(self):
        self.write_due(float("inf"))

    def cancel(self):
        taken, self.held = [m for _, m in self.held], []
        return taken


def test_following_a_clock_hands_each_event_over_with_its_time_and_never_spins():
    """On a port that places events itself (JACK), a followed clock's events go over just ahead with
    their extrapolated time; the player sleeps, never spins (a spinning thread holds the GIL the
    port's process callback needs, and an asynchronous server drops a late callback's MIDI), and the
    first note, handed over on the first pulse while there is no tempo yet, is not taken back."""
    clock, port, follower = FakeClock(), FramePort(), ClockFollower()
    port.dues, readings = [], [0]
    pulse = 0.5 / 24  # 120 bpm
    follower.on_message([0xFA], 100.0)
    next_pulse = [100.01]

    def now():
        readings[0] += 1
        return clock.now()

    def sleep(seconds):
        clock.sleep(seconds)
        while next_pulse[0] <= clock.t:
            follower.on_message([0xF8], next_pulse[0])
            next_pulse[0] += pulse
        port.write_due(clock.t)

    notes = [(b / 4, (0x90, 60 + b, 80)) for b in range(4)] + [
        (b / 4 + 0.2, (0x80, 60 + b, 0)) for b in range(4)
    ]
    events = sorted(notes, key=lambda e: e[0])
    stats = play(events, port, follower, clock=now, sleep=sleep)
    assert port.sent[:8] == [m for _, m in events]
    assert port.dues == pytest.approx([100.01 + beat * 0.5 for beat, _ in events])
    assert stats.sent == 8 and readings[0] < 100 * len(events)  # a spin reads the clock ~1,500 times


def test_a_port_whose_clock_moves_a_cycle_at_a_time_is_not_polled_within_a_cycle():
    """JACK's clock advances one process cycle (``tick``) at a time: an event due within a cycle is
    handed over at once, never waited for in sleeps shorter than a cycle (a spin in disguise)."""
    clock, port = FakeClock(), FramePort()
    port.dues, port.tick = [], 0.001

    def cycle_clock():
        return int(clock.now() / port.tick) * port.tick

    events = [(b / 4, (0x90, 60, 80)) for b in range(8)]
    Player(port, clock=cycle_clock, sleep=clock.sleep).play(events, Timeline.fixed(130.0))  # off the grid
    assert len(port.dues) == 8 and min(clock.sleeps) > port.tick
