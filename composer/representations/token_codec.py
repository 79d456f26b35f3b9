"""TokenCodec: how a Score becomes the attention LSTM's ids and back, fitted once and saved with the model.

It owns the vocabulary, the conditioning (key and mode, bars until the end), encoding of training
pieces and primes, decoding through ``from_tokens`` (the only path from events to notes), and the
sampling rules (``allowed``). Keys are handled by transposition: every piece is moved to tonic C (by
-6..+5 semitones) before it is encoded, and the mode is an input; generation samples in C and moves
the result to the requested tonic. The model then never has to learn twelve copies of each habit,
and a requested key is honoured by construction rather than by a conditioning input it may ignore.

NumPy only: generation imports this without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from composer.keys import MODES, estimate_key, key_name, parse_key  # also imported from here by the sampler
from composer.music import Note, Score, transpose
from composer.representations.token_rules import SampleState, grammar, voice_leading
from composer.representations.tokens import (
    MAX_DURATION,
    MAX_SHIFT,
    REST,
    STREAMS,
    Vocab,
    from_tokens,
    to_tokens,
)

CONTEXT = ("position", "mode", "bars_left")  # columns of the per-event conditioning array


def to_c(pc: int) -> int:
    """Semitones (-6..+5) that move tonic ``pc`` to C."""
    return -pc if pc <= 6 else 12 - pc


def key_of(score: Score) -> tuple[int, str]:
    """The score's key (its ``key`` field, else estimated); C major when it holds no notes."""
    name = score.key or estimate_key([n for t in score.tracks if not t.is_drum for n in t.notes])
    return parse_key(name) if name else (0, "major")


@dataclass
class TokenCodec:
    """Vocabulary, grid and conditioning of one model's token streams.

    ``normalize_key`` moves every piece to tonic C and adds the mode as an input; ``bars_left_cap``
    > 0 adds bars until the end of the piece (capped) as an input. Both off is the format of the
    first checkpoints (no conditioning), which still load.
    """

    vocab: Vocab
    resolution: int = 4
    n_positions: int = 16  # bar-position ids 0..n-1 (steps per bar of the largest meter)
    max_shift: int = MAX_SHIFT
    max_duration: int = MAX_DURATION
    normalize_key: bool = False
    bars_left_cap: int = 0
    n_tracks: int = 0
    keys: dict[str, int] = field(default_factory=dict)  # training keys and counts, for a default key
    max_offset: int = 0  # training pieces also at +-N semitones from C, the offset an input beside the mode

    @classmethod
    def fit(
        cls, pieces: list[Score], normalize_key: bool = True, bars_left_cap: int = 8, max_offset: int = 0
    ) -> TokenCodec:
        """A codec for ``pieces``: every value their (normalized, offset by up to ``max_offset``
        semitones) events use, their keys and meters."""
        keys: dict[str, int] = {}
        for p in pieces:
            name = key_name(*key_of(p))
            keys[name] = keys.get(name, 0) + 1
        codec = cls(
            Vocab(),
            resolution=pieces[0].resolution if pieces else 4,
            n_positions=max((p.steps_per_bar for p in pieces), default=16),
            normalize_key=normalize_key,
            bars_left_cap=bars_left_cap,
            n_tracks=max((len(p.tracks) for p in pieces), default=0),
            keys=dict(sorted(keys.items())),
            max_offset=max_offset if normalize_key else 0,
        )
        codec.vocab = Vocab.fit([to_tokens(codec.normalize(p, k)[0]) for p in pieces for k in codec.offsets])
        return codec

    @property
    def offsets(self) -> range:
        """Semitones from C that training pieces are moved to (augmentation); generation uses 0."""
        return range(-self.max_offset, self.max_offset + 1)

    @property
    def n_modes(self) -> int:
        """Rows of the mode input: each mode at each offset from C (ids mode_id)."""
        return len(MODES) * len(self.offsets) if self.normalize_key else 0

    def mode_id(self, mode: str, offset: int = 0) -> int:
        """The mode input of ``mode`` with the tonic ``offset`` semitones from C; 0 when unconditioned.
        Offset 0 gives the ids of a codec without augmentation (0 major, 1 minor) when transpose is 0."""
        if not self.n_modes:
            return 0
        if abs(offset) > self.max_offset:
            raise ValueError(f"offset {offset} outside the codec's +-{self.max_offset} semitones")
        return MODES.index(mode) + len(MODES) * (offset + self.max_offset)

    @property
    def n_bars_left(self) -> int:
        return self.bars_left_cap + 1 if self.bars_left_cap else 0

    @property
    def supports_rules(self) -> bool:
        """Voice-leading rules need four voices (SATB) and a known tonic."""
        return self.n_tracks == 4 and self.normalize_key

    def normalize(self, score: Score, offset: int = 0) -> tuple[Score, int, str]:
        """(score moved to tonic C + ``offset`` semitones, the semitones it moved, its mode); unmoved
        without normalize_key."""
        pc, mode = key_of(score)
        if not self.normalize_key:
            return score, 0, mode
        shift = to_c(pc) + offset
        return transpose(score, shift), shift, mode

    def context(
        self, onsets: np.ndarray, mode: str, end_bar: int | None, spb: int, offset: int = 0
    ) -> np.ndarray:
        """Conditioning of events at ``onsets``: bar position, mode id (``mode_id``: the mode with the
        tonic ``offset`` semitones from C), bars left (capped; the cap when ``end_bar`` is None, i.e.
        no end in sight). Returns ndarray, shape=(n, 3), int64 (CONTEXT)."""
        onsets = np.asarray(onsets, dtype=np.int64)
        ctx = np.zeros((len(onsets), len(CONTEXT)), np.int64)
        ctx[:, 0] = onsets % spb
        ctx[:, 1] = self.mode_id(mode, offset)
        if self.bars_left_cap:
            left = self.bars_left_cap if end_bar is None else end_bar - 1 - onsets // spb
            ctx[:, 2] = np.clip(left, 0, self.bars_left_cap)
        return ctx

    def encode(self, score: Score, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Ids and conditioning of a piece's events (training and evaluation), the piece moved to
        tonic C + ``offset`` semitones (an offset other than 0 is training augmentation).

        Returns
        -------
        ids : ndarray, shape=(n, 4), int64 (STREAMS)
        context : ndarray, shape=(n, 3), int64 (CONTEXT)
        """
        moved, _, mode = self.normalize(score, offset)
        tokens = to_tokens(moved, self.max_shift, self.max_duration)
        onsets = np.cumsum(tokens[:, 0])
        return self.vocab.encode(tokens), self.context(
            onsets, mode, moved.n_bars, score.steps_per_bar, offset
        )

    def bos_context(self, mode: str, end_bar: int | None, spb: int) -> np.ndarray:
        """Conditioning of the BOS event that starts a piece, shape=(3,)."""
        return self.context(np.zeros(1, np.int64), mode, end_bar, spb)[0]

    def decode(self, tokens: np.ndarray, like: Score, shift: int = 0) -> Score:
        """Raw events (n, 4) back to a Score in ``like``'s settings, moved by ``shift`` semitones from C
        (the inverse of ``normalize``). The only way from events to notes."""
        return transpose(from_tokens(tokens, like), shift) if shift else from_tokens(tokens, like)

    def to_dict(self) -> dict:
        return {
            "vocab": self.vocab.to_dict(),
            "resolution": self.resolution,
            "n_positions": self.n_positions,
            "max_shift": self.max_shift,
            "max_duration": self.max_duration,
            "normalize_key": self.normalize_key,
            "bars_left_cap": self.bars_left_cap,
            "n_tracks": self.n_tracks,
            "keys": self.keys,
            "max_offset": self.max_offset,
        }

    @classmethod
    def from_dict(cls, d: dict) -> TokenCodec:
        return cls(
            Vocab.from_dict(d["vocab"]),
            resolution=int(d["resolution"]),
            n_positions=int(d["n_positions"]),
            max_shift=int(d["max_shift"]),
            max_duration=int(d["max_duration"]),
            normalize_key=bool(d["normalize_key"]),
            bars_left_cap=int(d["bars_left_cap"]),
            n_tracks=int(d["n_tracks"]),
            keys={str(k): int(v) for k, v in d["keys"].items()},
            max_offset=int(d.get("max_offset", 0)),  # absent in the first conditioned checkpoints
        )

    @classmethod
    def from_meta(cls, meta: dict) -> TokenCodec:
        """The codec of a checkpoint's metadata; checkpoints from before the codec (no ``codec`` key)
        get the unconditioned one their vocabulary and representation describe."""
        if "codec" in meta:
            return cls.from_dict(meta["codec"])
        rep = meta["representation"]
        return cls(
            Vocab.from_dict(meta["vocab"]),
            resolution=int(rep["resolution"]),
            n_positions=int(meta["config"]["n_positions"]),
            max_shift=int(rep["max_shift"]),
            max_duration=int(rep["max_duration"]),
            n_tracks=len(meta["music"]["tracks"]),
        )

    def allowed(self, stream: str, state: SampleState) -> np.ndarray:
        """Ids of ``stream`` that the sampler may draw next, shape=(V,) bool (specials never): the
        grammar always, the voice-leading rules when ``state.rules`` (dropped strictest first when
        together they leave nothing); anything at all when even the grammar leaves nothing."""
        values = np.asarray(self.vocab.values[stream], dtype=np.int64)
        ok = grammar(stream, values, state, self.max_shift)
        rules = voice_leading(stream, values, state) if state.rules else []
        for k in range(len(rules) + 1):
            strict = ok.copy()
            for mask in rules[k:]:
                strict &= mask
            if strict.any():
                ok = strict
                break
        if not ok.any():  # nothing satisfies the grammar (tiny vocabularies): any real value
            ok[:] = True
        return np.concatenate([np.zeros(Vocab.N_SPECIAL, bool), ok])

    def fit_prime(self, score: Score) -> np.ndarray:
        """A prime's raw events with every value moved to the nearest one in the vocabulary, shape=(n, 4)."""
        tokens = to_tokens(score, self.max_shift, self.max_duration)
        for i, s in enumerate(STREAMS):
            table = np.asarray([v for v in self.vocab.values[s] if s != "pitch" or v != REST] or [0])
            tokens[:, i] = np.where(
                (s == "pitch") & (tokens[:, i] == REST),
                REST,
                table[np.abs(table[None, :] - tokens[:, i][:, None]).argmin(1)],
            )
        return tokens


def hold_final(score: Score, end: int, hold_last: bool = True, monophonic: bool = False) -> Score:
    """Notes cut at ``end``; with ``hold_last`` the last onset's chord is held to ``end``, so the music
    ends on the final bar line. A note is cut where its track strikes the same pitch again, or (with
    ``monophonic``, for voices) any pitch."""
    last = max((n.start for t in score.tracks for n in t.notes if n.start < end), default=None)
    tracks = []
    for t in score.tracks:
        notes = []
        for n in t.notes:
            if n.start >= end:
                continue
            stop = end if hold_last and n.start == last else min(n.end, end)
            notes.append(replace(n, duration=stop - n.start))
        tracks.append(replace(t, notes=cut_overlaps(notes, monophonic)))
    return replace(score, tracks=tracks)


def cut_overlaps(notes: list[Note], monophonic: bool = False) -> list[Note]:
    """A note cut where the next note of the same pitch in its track starts (MIDI cannot overlap them),
    or with ``monophonic`` where the next note of any pitch starts (one note of a chord is kept)."""
    notes, last, out = sorted(notes), {}, []
    for n in notes:
        prev = len(out) - 1 if monophonic and out else last.get(n.pitch)
        if prev is not None and out[prev].start == n.start:
            continue
        if prev is not None and out[prev].end > n.start:
            out[prev] = replace(out[prev], duration=max(n.start - out[prev].start, 1))
        last[n.pitch] = len(out)
        out.append(n)
    return [n for n in out if n.duration > 0]
