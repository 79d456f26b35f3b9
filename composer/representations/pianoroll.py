"""Piano-roll tensors for the MuseGAN: shape (bars, steps_per_bar, pitches, tracks).

The default grid is 16 steps per 4/4 bar and 84 pitches from C1 (MIDI 24) to B7 (107), as the
MuseGAN expects. A binary roll has no onsets, so decoding merges held steps into one sustained note.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from composer.music import Note, Score, Track

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
            p = n.pitch - lowest_pitch
            while p < 0:
                p += 12
            while p >= n_pitches:
                p -= 12
            roll[n.start : n.end, p, ti] = True
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
