"""HarmonyGrid: a four-voice chorale as per-step arrays for the harmonizer, with the soprano given.

Each voice is read on the step grid (sixteenths at resolution 4) with ``theory.to_grid``.
The fixed voice becomes an input: at every step its sounding pitch (or REST) and whether it strikes
there. Each of the three other voices becomes one target token per step, as in DeepBach:

- ``HOLD`` (0): the voice keeps sounding the note it sounded at the step before;
- ``REST`` (1): it is silent;
- ``2 + (pitch - pitch_lo)``: it strikes ``pitch`` here (a repeated note is a new strike).

The grid is lossless on the corpus at its resolution, so the likelihood of the targets is the
likelihood of the three voices' notes, onsets, pitches and durations all included.

Keys are handled as by the TokenCodec: every piece is moved to tonic C (by -6..+5 semitones) and its
mode is an input; the harmonizer works in C and the result is moved back. Inputs per step are also
the position in the bar (per meter) and the bars left until the end (capped).

NumPy only: generation imports this without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from composer.errors import ComposerError
from composer.music import Note, Score, Track, transpose
from composer.representations.token_codec import MODES, key_of, to_c
from composer.theory import to_grid

HOLD, REST = 0, 1
N_SPECIAL = 2
METERS = ((4, 4), (3, 4))  # the chorales' meters; positions are numbered per meter
VOICES = ("Soprano", "Alto", "Tenor", "Bass")
CHOIR_AAHS = 52


@dataclass
class HarmonyGrid:
    """Pitch table, meters and conditioning of one harmonizer, fitted once and saved with it.

    ``pitch_lo``..``pitch_hi`` (inclusive, in the C-normalized space) is what the voices may strike.
    """

    pitch_lo: int = 28
    pitch_hi: int = 88
    resolution: int = 4
    bars_left_cap: int = 8
    fixed: int = 0  # index of the fixed voice (0 = soprano)

    @property
    def n_tokens(self) -> int:
        """Target ids: HOLD, REST, then one per pitch."""
        return N_SPECIAL + self.pitch_hi - self.pitch_lo + 1

    @property
    def n_sounding(self) -> int:
        """Input ids of a sounding pitch: REST (0), then one per pitch."""
        return 1 + self.pitch_hi - self.pitch_lo + 1

    @property
    def n_positions(self) -> int:
        return len(METERS) * 16

    @property
    def free(self) -> tuple[int, ...]:
        """The voices the model writes, in the order it writes them at each step: bass first (it
        fixes the harmony), then the inner voices."""
        return tuple(v for v in (3, 1, 2, 0) if v != self.fixed)

    def pitch_of(self, token: int) -> int:
        return self.pitch_lo + token - N_SPECIAL

    def token_of(self, pitch: int) -> int:
        return N_SPECIAL + pitch - self.pitch_lo

    def meter_id(self, meter: tuple[int, int], name: str = "") -> int:
        if tuple(meter) not in METERS:
            known = ", ".join(f"{a}/{b}" for a, b in METERS)
            raise ComposerError(f"{name}: meter {meter[0]}/{meter[1]} is not supported (only {known})")
        return METERS.index(tuple(meter))

    def context(self, n_steps: int, spb: int, meter: int, mode: str) -> np.ndarray:
        """Per-step conditioning: position id (per meter), mode id, bars left (capped).

        Returns ndarray, shape=(n_steps, 3), int64
        """
        t = np.arange(n_steps)
        n_bars = -(-n_steps // spb)
        ctx = np.zeros((n_steps, 3), np.int64)
        ctx[:, 0] = meter * 16 + t % spb
        ctx[:, 1] = MODES.index(mode)
        ctx[:, 2] = np.clip(n_bars - 1 - t // spb, 0, self.bars_left_cap)
        return ctx

    def to_sounding(self, pitch: np.ndarray) -> np.ndarray:
        """Sounding pitches (-1 silent) to input ids (0 REST, 1.. pitches); pitches outside the table
        are clipped into it (only the voices' own range matters for the inputs)."""
        pitch = np.asarray(pitch)
        ids = np.clip(pitch, self.pitch_lo, self.pitch_hi) - self.pitch_lo + 1
        return np.where(pitch >= 0, ids, 0).astype(np.int64)

    def to_targets(self, pitch: np.ndarray, onset: np.ndarray) -> np.ndarray:
        """One voice's grid (pitch, -1 silent; onset) to target ids, shape=(n_steps,)."""
        prev = np.concatenate([[-1], pitch[:-1]])
        hold = ~onset & (pitch >= 0) & (pitch == prev)
        ids = np.where(
            pitch >= 0, np.clip(pitch, self.pitch_lo, self.pitch_hi) - self.pitch_lo + N_SPECIAL, REST
        )
        return np.where(hold, HOLD, ids).astype(np.int64)

    def encode(self, score: Score, name: str = "") -> dict[str, np.ndarray]:
        """A chorale (four tracks, SATB order) as arrays, moved to tonic C.

        Returns dict of ndarray: ``fixed`` (T, 2) sounding id and onset of the fixed voice,
        ``targets`` (T, 3) target ids of the free voices (in ``free`` order), ``state`` (T, 3, 2)
        sounding id and onset of each free voice, ``context`` (T, 3), ``span`` (2,) the steps from the
        fixed voice's first onset to its end.
        """
        moved, _, mode = normalize(score)
        T = score.n_steps
        pitch, onset = to_grid(moved.tracks[:4], T)
        pitch = pitch.astype(np.int64)
        f = self.fixed
        free = list(self.free)
        fixed = np.stack([self.to_sounding(pitch[f]), onset[f].astype(np.int64)], axis=1)
        targets = np.stack([self.to_targets(pitch[v], onset[v]) for v in free], axis=1)
        state = np.stack(
            [
                np.stack([self.to_sounding(pitch[v]), (targets[:, k] >= N_SPECIAL)], 1)
                for k, v in enumerate(free)
            ],
            axis=1,
        ).astype(np.int64)
        notes = score.tracks[f].notes
        span = np.array([min(n.start for n in notes), max(n.end for n in notes)]) if notes else np.zeros(2)
        ctx = self.context(T, score.steps_per_bar, self.meter_id(score.time_signature, name), mode)
        return {
            "fixed": fixed,
            "targets": targets,
            "state": state,
            "context": ctx,
            "span": span.astype(np.int64),
        }

    def decode(self, tokens: np.ndarray, fixed: Track, like: Score, shift: int) -> Score:
        """Target ids of the free voices (T, 3), in C, to a four-track Score in the output key: the
        fixed voice's Track is put back unchanged, the free voices are moved by ``shift``."""
        T = len(tokens)
        tracks = [Track(VOICES[v], CHOIR_AAHS) for v in range(4)]
        tracks[self.fixed] = replace(fixed, name=VOICES[self.fixed])
        for k, v in enumerate(self.free):
            notes, start, pitch = [], None, None
            for t in range(T + 1):
                tok = int(tokens[t, k]) if t < T else REST
                if tok == HOLD and pitch is not None:
                    continue
                if pitch is not None:
                    notes.append(Note(start, t - start, pitch + shift))
                start, pitch = (t, self.pitch_of(tok)) if tok >= N_SPECIAL else (None, None)
            tracks[v] = Track(VOICES[v], CHOIR_AAHS, False, notes)
        return replace(like, tracks=tracks)

    def to_dict(self) -> dict:
        return {
            "pitch_lo": self.pitch_lo,
            "pitch_hi": self.pitch_hi,
            "resolution": self.resolution,
            "bars_left_cap": self.bars_left_cap,
            "fixed": self.fixed,
        }

    @classmethod
    def from_dict(cls, d: dict) -> HarmonyGrid:
        return cls(**{k: int(d[k]) for k in ("pitch_lo", "pitch_hi", "resolution", "bars_left_cap", "fixed")})


def normalize(score: Score) -> tuple[Score, int, str]:
    """(score moved to tonic C, the semitones it moved, its mode), as TokenCodec.normalize."""
    pc, mode = key_of(score)
    shift = to_c(pc)
    return transpose(score, shift), shift, mode
