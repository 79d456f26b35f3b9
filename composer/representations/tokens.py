"""Token streams for the attention LSTM: one event per note, as four parallel streams.

Each event is a row ``(shift, pitch, duration, track)``:

- ``shift``: steps since the previous event's onset (0 = same onset, so chords and voices survive);
- ``pitch``: MIDI pitch 0-127, or REST for an event that only moves time forward;
- ``duration``: note length in steps (0 for a REST);
- ``track``: index of the note's track (the voice, for chorales).

Events are ordered by (onset, track, pitch). Gaps longer than ``max_shift`` become chains of REST
events, and durations longer than ``max_duration`` are clamped, so each stream's vocabulary stays
small: on the chorales 11 shifts, 49 pitches and 22 durations (specials included), where one token per chord gives
thousands. Each stream is embedded separately by the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from composer.music import Note, Score, Track

STREAMS = ("shift", "pitch", "duration", "track")
REST = 128
MAX_SHIFT = 16
MAX_DURATION = 64


def to_tokens(score: Score, max_shift: int = MAX_SHIFT, max_duration: int = MAX_DURATION) -> np.ndarray:
    """Encode a Score as events.

    Returns
    -------
    ndarray, shape=(n_events, 4), dtype=int64
        Columns are STREAMS: shift, pitch, duration, track.
    """
    notes = sorted((n.start, ti, n.pitch, n.duration) for ti, t in enumerate(score.tracks) for n in t.notes)
    rows, now = [], 0
    for start, ti, pitch, duration in notes:
        gap = start - now
        while gap > max_shift:
            rows.append((max_shift, REST, 0, 0))
            gap -= max_shift
        rows.append((gap, pitch, min(duration, max_duration), ti))
        now = start
    return np.array(rows, dtype=np.int64).reshape(-1, len(STREAMS))


def from_tokens(tokens: np.ndarray, meta: Score | None = None) -> Score:
    """Decode events into a Score; ``meta`` supplies resolution, tempo, meter, key and track names.

    Tracks are numbered by the events' track column; ``meta``'s tracks name the first ones, and any
    further track gets a default name. ``from_tokens(to_tokens(s))`` re-encodes to the same tokens.
    """
    meta = meta or Score()
    tokens = np.asarray(tokens, dtype=np.int64).reshape(-1, len(STREAMS))
    n_tracks = max(len(meta.tracks), int(tokens[:, 3].max()) + 1 if len(tokens) else 0)
    tracks = [
        replace(meta.tracks[i], notes=[]) if i < len(meta.tracks) else Track(name=f"Track {i + 1}")
        for i in range(n_tracks)
    ]
    now = 0
    for shift, pitch, duration, ti in tokens.tolist():
        now += shift
        if pitch != REST and duration > 0:
            tracks[ti].notes.append(Note(now, duration, pitch))
    return replace(meta, tracks=tracks).sorted()


@dataclass
class Vocab:
    """The values each token stream may take, and their integer ids.

    Ids 0 and 1 of every stream are BOS (start of a piece) and UNK (a value not seen when the
    vocabulary was fitted); the values follow in ascending order.
    """

    values: dict[str, list[int]] = field(default_factory=dict)

    BOS = 0
    UNK = 1
    N_SPECIAL = 2

    @classmethod
    def fit(cls, token_arrays: list[np.ndarray]) -> Vocab:
        """The vocabulary of every value that occurs in ``token_arrays``."""
        stacked = np.concatenate(
            [np.asarray(t).reshape(-1, len(STREAMS)) for t in token_arrays] or [np.zeros((0, 4))]
        )
        return cls({name: sorted(set(stacked[:, i].astype(int).tolist())) for i, name in enumerate(STREAMS)})

    @property
    def sizes(self) -> dict[str, int]:
        """Ids per stream, the two specials included."""
        return {name: len(v) + self.N_SPECIAL for name, v in self.values.items()}

    def encode(self, tokens: np.ndarray) -> np.ndarray:
        """Map raw events to ids, shape=(n_events, 4); unseen values become UNK."""
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1, len(STREAMS))
        ids = np.full(tokens.shape, self.UNK, dtype=np.int64)
        for i, name in enumerate(STREAMS):
            table = np.asarray(self.values[name], dtype=np.int64)
            pos = np.searchsorted(table, tokens[:, i])
            pos_c = np.minimum(pos, max(len(table) - 1, 0))
            hit = (
                (pos < len(table)) & (table[pos_c] == tokens[:, i])
                if len(table)
                else np.zeros(len(tokens), bool)
            )
            ids[hit, i] = pos_c[hit] + self.N_SPECIAL
        return ids

    def decode(self, ids: np.ndarray) -> np.ndarray:
        """Map ids back to raw events; raises ValueError on BOS or UNK ids."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1, len(STREAMS))
        if (ids < self.N_SPECIAL).any():
            raise ValueError("cannot decode BOS or UNK ids")
        out = np.empty_like(ids)
        for i, name in enumerate(STREAMS):
            out[:, i] = np.asarray(self.values[name], dtype=np.int64)[ids[:, i] - self.N_SPECIAL]
        return out

    def oov_rate(self, tokens: np.ndarray) -> float:
        """Fraction of events with at least one stream value outside the vocabulary."""
        ids = self.encode(tokens)
        return float((ids == self.UNK).any(axis=1).mean()) if len(ids) else 0.0

    def to_dict(self) -> dict:
        return {"streams": list(STREAMS), "values": self.values}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        if list(d.get("streams", [])) != list(STREAMS):
            raise ValueError(f"vocabulary streams {d.get('streams')} are not {list(STREAMS)}")
        return cls({k: [int(x) for x in d["values"][k]] for k in STREAMS})
