"""Piano rolls: the generic binary roll (to_/from_pianoroll) and the MuseGAN's RollCodec.

``to_pianoroll``/``from_pianoroll`` are the plain binary roll, shape (bars, steps_per_bar, pitches,
tracks), that the metrics and ``--nearest`` use. A binary roll has no onsets, so decoding merges held
steps into one sustained note.

``RollCodec`` is the one owner of how the MuseGAN sees music: track layout and voice order, pitch
range, resolution and meter, tempo, key normalization, and the hold/onset channels, with encoding,
phrase cutting and decoding. It is fitted on a corpus and saved inside the checkpoint (``to_dict``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from composer.keys import key_name
from composer.music import Note, Score, Track, transpose
from composer.representations.roll_spans import check_rhythm, fit_rhythm, grid_spans, rhythm_spans
from composer.theory import to_voices

N_PITCHES = 84
LOWEST_PITCH = 24


def to_pianoroll(score: Score, n_pitches: int = N_PITCHES, lowest_pitch: int = LOWEST_PITCH) -> np.ndarray:
    """Encode a Score as a binary piano roll, one bar per row of the first axis.

    Pitches outside the roll's range are moved by octaves until they fit. The last bar is padded with
    silence. Steps per bar come from the score's meter and resolution (16 for 4/4 at 4 per quarter).

    Returns
    -------
    ndarray, shape=(bars, steps_per_bar, n_pitches, tracks), dtype=bool
    """
    spb = score.steps_per_bar
    roll = np.zeros((max(score.n_bars, 1) * spb, n_pitches, len(score.tracks)), dtype=bool)
    for ti, track in enumerate(score.tracks):
        for n in track.notes:
            roll[n.start : n.end, _fold(n.pitch - lowest_pitch, n_pitches), ti] = True
    return roll.reshape(-1, spb, n_pitches, len(score.tracks))


def from_pianoroll(
    roll: np.ndarray,
    meta: Score | None = None,
    threshold: float = 0.5,
    monophonic: bool | list[bool] = False,
    lowest_pitch: int = LOWEST_PITCH,
) -> Score:
    """Decode a piano roll (binary, or scores such as a generator's tanh/sigmoid output) into a Score.

    Parameters
    ----------
    roll : ndarray, shape=(bars, steps_per_bar, pitches, tracks)
    meta : Score, optional
        Supplies resolution, tempo, meter, key and track names/programs; its notes are ignored. Its
        meter must give the roll's steps per bar; without it, a meter is chosen that does.
    threshold : float
        A step sounds when its value is above this.
    monophonic : bool or list of bool, one per track
        A monophonic track keeps only its loudest pitch at each step (argmax), with a rest where
        nothing passes the threshold; a polyphonic track keeps every pitch above the threshold.
    lowest_pitch : int
        MIDI pitch of the roll's first row.

    Consecutive steps of one pitch become one sustained note. ``to_pianoroll(from_pianoroll(r))``
    gives back ``r`` for a binary ``r`` (monophonic tracks: when at most one pitch sounds per step).
    """
    roll = np.asarray(roll)
    bars, spb, n_pitches, n_tracks = roll.shape
    meta = meta or Score(time_signature=_meter_for(spb, Score().resolution))
    if meta.steps_per_bar != spb:
        raise ValueError(f"the roll has {spb} steps per bar, but meta's meter has {meta.steps_per_bar}")
    flat = roll.reshape(bars * spb, n_pitches, n_tracks)
    mono = [monophonic] * n_tracks if isinstance(monophonic, bool) else list(monophonic)
    tracks = []
    for ti in range(n_tracks):
        active = flat[:, :, ti] > threshold  # (T, P)
        if mono[ti]:
            best = flat[:, :, ti].argmax(axis=1)
            keep = active[np.arange(len(best)), best]
            active = np.zeros_like(active)
            active[np.nonzero(keep)[0], best[keep]] = True
        base = meta.tracks[ti] if ti < len(meta.tracks) else Track(name=f"Track {ti + 1}")
        tracks.append(replace(base, notes=_runs_to_notes(active, lowest_pitch)))
    # length keeps silent trailing bars, so that to_pianoroll gives back every bar of the roll.
    return replace(meta, tracks=tracks, length=bars * spb)


def _fold(p: int, n_pitches: int) -> int:
    """A roll row for pitch offset ``p``, moved by octaves into 0..n_pitches-1."""
    while p < 0:
        p += 12
    while p >= n_pitches:
        p -= 12
    return p


def _meter_for(steps_per_bar: int, resolution: int) -> tuple[int, int]:
    """A time signature whose bar is ``steps_per_bar`` steps: (4, 4) for 16 at 4 steps per quarter."""
    for den in (4, 8, 16, 32):
        if (steps_per_bar * den) % (4 * resolution) == 0:
            return steps_per_bar * den // (4 * resolution), den
    raise ValueError(f"{steps_per_bar} steps per bar fit no time signature at resolution {resolution}")


def _runs_to_notes(active: np.ndarray, lowest_pitch: int) -> list[Note]:
    """Each run of consecutive True steps in one pitch column becomes one Note. active: (T, P)."""
    padded = np.pad(active, ((1, 1), (0, 0))).astype(np.int8)
    edges = np.diff(padded, axis=0)  # (T + 1, P): +1 at onsets, -1 at offsets
    on_t, on_p = np.nonzero(edges == 1)
    off_t, off_p = np.nonzero(edges == -1)
    # nonzero is row-major, so sort both by (pitch, time) to pair each onset with its offset.
    on = np.lexsort((on_t, on_p))
    off = np.lexsort((off_t, off_p))
    notes = [
        Note(int(s), int(e - s), int(p) + lowest_pitch) for s, e, p in zip(on_t[on], off_t[off], on_p[on])
    ]
    return sorted(notes)


CHANNELS = ("hold", "onset")  # hold: the pitch sounds at this step; onset: it is struck at this step
PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


@dataclass(frozen=True)
class Segment:
    """One decoded note before its pitch is chosen: steps [start, end) of a voice, and the mean hold
    value of every roll row over those steps (the pitch candidates' scores), shape (pitches,)."""

    start: int
    end: int
    scores: np.ndarray = field(compare=False)


@dataclass(frozen=True)
class RollCodec:
    """How music becomes a MuseGAN roll and back. Rolls have shape (bars, steps, pitches, tracks,
    channels), channels being ``CHANNELS`` (or ("hold",) for a binary roll without onsets).

    Parameters
    ----------
    names, programs : one per track, highest voice first (tracks are taken in voice order)
    lowest_pitch, n_pitches : the pitch rows; notes outside are moved by octaves into the range
    resolution, time_signature, bpm : the step grid, the one meter a model learns, and output tempo
    tonic : pitch class every piece is transposed to (its key being its final bass note), or None
    grid : decoded notes start and end on this many steps (2, an eighth: 98.5% of Bach's onsets)
    min_note : decoded notes are at least this many steps (a shorter one joins its neighbour)
    min_rest : a rest inside a voice shorter than this many steps is filled by the note before it
        (16, a bar: the model leaves holes where Bach hardly rests inside a voice)
    rhythm : the corpus's P(duration | first step in the bar), steps_per_bar x steps_per_bar
        (roll_spans.fit_rhythm), for the rhythm decoding; None in codecs fitted before it existed
    """

    names: tuple[str, ...] = ("Soprano", "Alto", "Tenor", "Bass")
    programs: tuple[int, ...] = (52, 52, 52, 52)
    lowest_pitch: int = 36
    n_pitches: int = 48
    resolution: int = 4
    time_signature: tuple[int, int] = (4, 4)
    bpm: float = 100.0
    channels: tuple[str, ...] = CHANNELS
    tonic: int | None = 0
    grid: int = 2
    min_note: int = 2
    min_rest: int = 16
    rhythm: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self):
        if self.rhythm is not None:
            check_rhythm(self.rhythm, self.steps_per_bar)

    @property
    def n_tracks(self) -> int:
        return len(self.names)

    @property
    def steps_per_bar(self) -> int:
        return Score(resolution=self.resolution, time_signature=self.time_signature).steps_per_bar

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(steps, pitches, tracks, channels) of one bar."""
        return self.steps_per_bar, self.n_pitches, self.n_tracks, len(self.channels)

    @classmethod
    def fit(cls, pieces: list[Score], n_tracks: int = 4, **settings) -> RollCodec:
        """A codec for ``pieces``: the most common meter and resolution; per voice, the most common
        track name and GM program (a piece is used when it has ``n_tracks`` pitched tracks)."""
        voiced = [v for v in (in_voice_order(p, n_tracks) for p in pieces) if v is not None]
        if not voiced:
            raise ValueError(f"no piece has {n_tracks} pitched tracks")
        meter, res = Counter((p.time_signature, p.resolution) for p in voiced).most_common(1)[0][0]
        names = [Counter(p.tracks[i].name for p in voiced).most_common(1)[0][0] for i in range(n_tracks)]
        names = [n or f"Voice {i + 1}" for i, n in enumerate(names)]
        programs = [
            Counter(p.tracks[i].program for p in voiced).most_common(1)[0][0] for i in range(n_tracks)
        ]
        codec = cls(tuple(names), tuple(programs), resolution=res, time_signature=tuple(meter), **settings)
        rhythm = fit_rhythm(
            [p for p in voiced if (p.time_signature, p.resolution) == (meter, res)], codec.steps_per_bar
        )
        return replace(codec, rhythm=rhythm)

    def to_dict(self) -> dict:
        """JSON-simple settings, for the checkpoint."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        out["rhythm"] = None if self.rhythm is None else [list(row) for row in self.rhythm]
        return out

    @classmethod
    def from_dict(cls, d: dict) -> RollCodec:
        tuples = {"names", "programs", "time_signature", "channels"}
        d = {k: tuple(v) if k in tuples else v for k, v in d.items() if k in cls.__dataclass_fields__}
        if d.get("rhythm") is not None:
            d["rhythm"] = tuple(tuple(row) for row in d["rhythm"])
        return cls(**d)

    def to_voices(self, score: Score) -> Score | None:
        """The score as the model sees it: its voices in order, transposed to ``tonic``; None when the
        meter, resolution or number of voices does not fit."""
        if score.time_signature != self.time_signature or score.resolution != self.resolution:
            return None
        voiced = in_voice_order(score, self.n_tracks)
        if voiced is None or self.tonic is None:
            return voiced
        bass = max(voiced.tracks[-1].notes, key=lambda n: (n.start, -n.pitch))
        shift = (self.tonic - bass.pitch + 6) % 12 - 6  # the nearest transposition, -6..+5
        return transpose(voiced, shift)

    def encode(self, score: Score) -> np.ndarray:
        """Encode a score already in voice order (``to_voices``); the last bar is padded with silence.

        Returns
        -------
        ndarray, shape=(bars, steps, pitches, tracks, channels), dtype=bool
        """
        spb = self.steps_per_bar
        bars = max(-(-score.n_steps // spb), 1)
        roll = np.zeros((bars * spb, self.n_pitches, self.n_tracks, len(self.channels)), dtype=bool)
        for ti, track in enumerate(score.tracks[: self.n_tracks]):
            for n in track.notes:
                p = _fold(n.pitch - self.lowest_pitch, self.n_pitches)
                roll[n.start : n.end, p, ti, 0] = True
                if len(self.channels) > 1:
                    roll[n.start, p, ti, 1] = True
        return roll.reshape(bars, spb, *roll.shape[1:])

    def to_phrases(self, pieces: list[Score], n_bars: int) -> tuple[np.ndarray, np.ndarray]:
        """Every window of ``n_bars`` bars (stride one bar) of every piece that fits, and whether it
        is the piece's last phrase (ending at its last sounding bar). Windows with a silent bar are
        left out.

        Returns
        -------
        rolls : ndarray, shape=(phrases, n_bars, steps, pitches, tracks, channels), dtype=bool
        last : ndarray, shape=(phrases,), dtype=bool
        """
        rolls, last = [], []
        for score in pieces:
            voiced = self.to_voices(score)
            if voiced is None:
                continue
            roll = self.encode(voiced)
            sounding = roll[..., 0].any(axis=(1, 2, 3))  # (bars,)
            end = int(np.nonzero(sounding)[0].max()) + 1 if sounding.any() else 0
            for b in range(end - n_bars + 1):
                if sounding[b : b + n_bars].all():
                    rolls.append(roll[b : b + n_bars])
                    last.append(b + n_bars == end)
        if not rolls:
            raise ValueError(
                f"no {n_bars}-bar phrase in {self.time_signature[0]}/{self.time_signature[1]} with "
                f"{self.n_tracks} pitched tracks"
            )
        return np.stack(rolls), np.array(last)

    def to_segments(
        self, roll: np.ndarray, threshold: float = 0.0, rhythm: bool = False
    ) -> list[list[Segment]]:
        """Split generator output into notes, per voice, before pitches are chosen.

        Decoding works on cells of ``grid`` steps (hold values averaged, onsets the maximum over the
        cell), so every note starts and ends on that grid. Each voice is monophonic. A cell sounds
        when its best hold value is above ``threshold``; a note starts where the voice starts to
        sound, where the onset channel fires (above ``threshold``) at the cell's best pitch, or where
        the best pitch changes. Then, in order: a voice-bar that would be all rest sounds throughout;
        a sound shorter than ``min_note`` between rests is dropped; a best pitch held for less than
        ``min_note`` takes the pitch before it; a rest shorter than ``min_rest`` is held over by the
        note before it; and a note shorter than ``min_note`` joins the note before it. With ``rhythm``
        (and a codec fitted with one) the sounding steps found so are split into notes by the rhythm
        decoding instead (roll_spans.rhythm_spans), on every step rather than on cells.

        roll : ndarray, shape=(bars, steps, pitches, tracks, channels), values in [-1, 1]
        """
        bars, spb, n_pitches, n_tracks, n_ch = roll.shape
        g = self.grid
        if spb % g:
            raise ValueError(f"a {spb}-step bar does not divide into cells of {g} steps")
        cells = roll.reshape(bars * spb // g, g, n_pitches, n_tracks, n_ch)
        hold_c, onset_c = cells[..., 0].mean(axis=1), cells[..., -1].max(axis=1)  # (cells, P, T)
        min_note, min_rest = -(-self.min_note // g), -(-self.min_rest // g)
        flat = roll.reshape(bars * spb, n_pitches, n_tracks, n_ch)
        out = []
        for t in range(n_tracks):
            onsets = onset_c[:, :, t] if n_ch > 1 else None
            sounding, spans = grid_spans(hold_c[:, :, t], onsets, bars, threshold, min_note, min_rest)
            if rhythm and self.rhythm is not None:
                hold, onsets = flat[:, :, t, 0], flat[:, :, t, -1] if n_ch > 1 else None
                sounding = np.repeat(sounding, g)
                guessed = sounding & (hold.max(axis=1) <= threshold)  # a hole the grid decoding filled
                spans = rhythm_spans(hold, onsets, sounding, self.rhythm, guessed)
            else:
                spans = [(s * g, e * g) for s, e in spans]
            out.append([Segment(s, e, flat[s:e, :, t, 0].mean(axis=0)) for s, e in spans])
        return out

    def decode(
        self,
        roll: np.ndarray,
        threshold: float = 0.0,
        pitches: list[list[int]] | None = None,
        segments: list[list[Segment]] | None = None,
    ) -> Score:
        """Generator output, shape (bars, steps, pitches, tracks, channels), to a Score.

        Notes come from ``segments`` (by default ``to_segments(roll, threshold)``); each takes its
        best-scoring pitch row, or the row given in ``pitches`` (one list per voice, one row per
        segment), as a voice-leading decoder chooses.
        """
        segments = self.to_segments(roll, threshold) if segments is None else segments
        tracks = []
        for t, segs in enumerate(segments):
            rows = pitches[t] if pitches is not None else [int(s.scores.argmax()) for s in segs]
            notes = [Note(s.start, s.end - s.start, r + self.lowest_pitch) for s, r in zip(segs, rows)]
            tracks.append(Track(self.names[t], self.programs[t], False, notes))
        return self.to_score(tracks, roll.shape[0] * roll.shape[1])

    def to_score(self, tracks: list[Track], length: int) -> Score:
        """A Score on the codec's grid, meter and tempo, its key named from the tonic (mode by
        whichever third, major or minor, sounds longer)."""
        key = None
        if self.tonic is not None:
            third = Counter()
            for n in (n for t in tracks for n in t.notes):
                third[(n.pitch - self.tonic) % 12] += n.duration
            mode = "minor" if third[3] > third[4] else "major"
            key = key_name(self.tonic, mode)
        return Score(tracks, self.resolution, self.bpm, self.time_signature, key, length=length)


def in_voice_order(score: Score, n_tracks: int) -> Score | None:
    """The score with its ``n_tracks`` highest pitched tracks (theory.to_voices: highest mean pitch
    first) and no others; None if it has fewer."""
    voices = to_voices(score, n_tracks)
    return replace(score, tracks=voices) if len(voices) == n_tracks else None
