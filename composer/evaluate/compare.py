"""Samples against a reference corpus: `composer evaluate FILE.mid... --reference bach [--nearest]`.

The reference is cut into excerpts as long as the samples (their median bar count, 4/4 pieces, no
silent bar), so that length-dependent metrics (pitch range, entropy) compare like with like; the
``chorale`` group (composer.evaluate.chorale) is measured on the same excerpts by the same code, except
its endings, which come from the last bars of each reference piece, since an excerpt cut anywhere
does not end like a piece. Used pitch classes are reported per track and with the tracks merged.

``--nearest`` finds, for each sample, the longest stretch that copies a reference piece in all four
voices, at any step offset and under any transposition (``CopyIndex``); ``max_verbatim_bars`` is its
length in the sample's bars.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from composer.corpora import load_corpus
from composer.errors import CorpusError
from composer.evaluate.chorale import duration_kl, summarize_chorale
from composer.evaluate.metrics import music_metrics
from composer.music import Score, crop
from composer.representations.pianoroll import to_pianoroll
from composer.theory import to_grid, to_voices

METER = (4, 4)  # the meter in which samples and reference are compared
KEYS = (
    "used_pitch_classes_per_track",
    "used_pitch_classes_merged",
    "qualified_note_rate",
    "pitch_class_entropy",
    "scale_consistency",
    "tonal_distance",
    "empty_bar_rate",
    "polyphony",
    "pitch_range",
)


def to_excerpts(pieces: list[Score], n_bars: int) -> list[Score]:
    """Non-overlapping ``n_bars`` windows of the 4/4 pieces in which every bar sounds."""
    out = []
    for score in pieces:
        if score.time_signature != METER:
            continue
        spb = score.steps_per_bar
        sounding = to_pianoroll(score).any(axis=(1, 2, 3))  # (bars,)
        for b in range(0, len(sounding) - n_bars + 1, n_bars):
            if sounding[b : b + n_bars].all():
                out.append(replace(crop(score, b * spb, (b + n_bars) * spb), length=n_bars * spb))
    return out


def to_endings(pieces: list[Score], n_bars: int) -> list[Score]:
    """The last ``n_bars`` bars of each 4/4 piece (the whole piece when shorter)."""
    out = []
    for score in pieces:
        if score.time_signature == METER:
            spb, end = score.steps_per_bar, score.n_bars
            start = max(0, end - n_bars) * spb
            out.append(replace(crop(score, start, end * spb), length=end * spb - start))
    return out


def summarize(scores: list[Score]) -> dict:
    """Mean of every metric over the scores (NaNs skipped), overall and per track position."""
    per = [music_metrics(s) for s in scores]
    out = {k: _mean([m[k] for m in per]) for k in KEYS}
    names = list(per[0]["tracks"]) if per else []
    keys = ["used_pitch_classes"] + [k for k in KEYS if not k.startswith("used_pitch_classes")]
    out["tracks"] = {
        name: {
            k: _mean([list(m["tracks"].values())[i][k] for m in per if len(m["tracks"]) > i]) for k in keys
        }
        for i, name in enumerate(names)
    }
    out["pieces"] = len(scores)
    return out


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return round(float(np.mean(values)), 4) if values else None


B = np.uint64(0x9E3779B97F4A7C15)  # odd, so it has an inverse modulo 2**64
B_INV = np.uint64(pow(0x9E3779B97F4A7C15, -1, 2**64))
SILENT = {"reference": np.uint64(0x5EED_0001), "sample": np.uint64(0x5EED_0002)}


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer on uint64 arrays (wrapping arithmetic): one 64-bit hash per value."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def to_step_hashes(
    score: Score, n_voices: int, side: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per step of the score's ``n_voices`` voices (SATB order), hashes that make copies findable
    under transposition: the voicing (each voice's pitch above the lowest sounding pitch, silences,
    onsets), and the voicing with the lowest pitch's motion since the last sounding step. A step where
    no voice sounds hashes by ``side``, so silence never matches silence. None with too few voices.

    Returns (voicing, voicing_and_motion, lowest pitch), each ndarray, shape=(steps,)
    """
    with np.errstate(over="ignore"):
        voices = to_voices(score, n_voices)
        if len(voices) < n_voices:
            return None
        pitch, onset = to_grid(voices, score.n_steps)  # (V, T)
        sounding = pitch >= 0
        has = sounding.any(axis=0)  # (T,)
        last = np.maximum.accumulate(np.where(has, np.arange(len(has)), 0))
        low = np.where(sounding, pitch, 999).min(axis=0)  # (T,)
        anchor = np.where(has[last], low[last], 0).astype(np.int64)  # carried over silent steps
        rel = np.where(sounding, pitch - anchor, -1).astype(np.int64)  # (V, T)
        h = np.zeros(len(has), np.uint64)
        for row in rel * 2 + onset:  # hash chaining, one voice at a time
            h = _mix(h * B + row.astype(np.uint64))
        motion = np.diff(anchor, prepend=anchor[:1]).astype(np.uint64)
        voicing = np.where(has, h, SILENT[side])
        moved = np.where(has, _mix(h * B + motion), SILENT[side])
        return voicing, moved, anchor


def _grams(voicing: np.ndarray, moved: np.ndarray, length: int) -> np.ndarray:
    """Hash of every run of ``length`` steps: its first step's voicing, then each later step's voicing
    and motion (the motion into the first step belongs to what came before it).

    Returns ndarray, shape=(steps - length + 1,), dtype=uint64
    """
    with np.errstate(over="ignore"):
        n = len(voicing)
        one = np.ones(1, np.uint64)
        power = np.concatenate([one, np.cumprod(np.full(n, B, np.uint64))])[:n]  # B**i
        inverse = np.concatenate([one, np.cumprod(np.full(n, B_INV, np.uint64))])[:n]  # B**-i
        prefix = np.concatenate([[np.uint64(0)], np.cumsum(moved * power, dtype=np.uint64)])
        t = np.arange(n - length + 1)
        return voicing[t] + (prefix[t + length] - prefix[t + 1]) * inverse[t]


class CopyIndex:
    """Every step of the reference pieces' voices, to find the longest stretch of a sample that copies
    one piece: all ``n_voices`` voices, note for note and onset for onset, at any step offset, under
    any transposition (a binary search over the length, with rolling hashes of step runs)."""

    def __init__(self, pieces: list[Score], ids: list[str], n_voices: int = 4, name: str = "reference"):
        """Raises CorpusError, naming ``name``, when no piece has ``n_voices`` pitched tracks."""
        voicing, moved, self.anchor, self.piece, self.step, self.ids = [], [], [], [], [], []
        for score, pid in zip(pieces, ids):
            hashes = to_step_hashes(score, n_voices, "reference")
            if hashes is None:
                continue
            voicing.append(hashes[0])
            moved.append(hashes[1])
            self.anchor.append(hashes[2])
            self.piece += [len(self.ids)] * len(hashes[0])
            self.step += list(range(len(hashes[0])))
            self.ids.append((pid, score.steps_per_bar))
        if not voicing:
            raise CorpusError(
                f"{name}: no reference piece for the nearest-copy search ({len(pieces)} pieces, none with at least "
                f"{n_voices} pitched tracks)"
            )
        self.voicing, self.moved = np.concatenate(voicing), np.concatenate(moved)  # (N,)
        self.anchor = np.concatenate(self.anchor)
        self.piece, self.step = np.array(self.piece), np.array(self.step)
        ends = np.cumsum(np.bincount(self.piece))
        self.end = ends[self.piece]  # (N,): where each step's piece ends
        self.n_voices = n_voices
        self._sorted: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _reference_grams(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        """(sorted hashes of every run of ``length`` steps inside one piece, their start steps)."""
        if length not in self._sorted:
            if len(self._sorted) >= 64:  # a bounded cache: the binary searches revisit few lengths
                self._sorted.pop(next(iter(self._sorted)))
            grams = _grams(self.voicing, self.moved, length)
            start = np.flatnonzero(np.arange(len(grams)) + length <= self.end[: len(grams)])
            order = np.argsort(grams[start], kind="stable")
            self._sorted[length] = (grams[start][order], start[order])
        return self._sorted[length]

    def _match(self, voicing, moved, length: int) -> tuple[int, int] | None:
        """(sample step, reference step) of a copy of ``length`` steps, or None."""
        ref, start = self._reference_grams(length)
        if not len(ref):
            return None
        grams = _grams(voicing, moved, length)
        at = np.minimum(np.searchsorted(ref, grams), len(ref) - 1)
        hit = np.flatnonzero(ref[at] == grams)
        return (int(hit[0]), int(start[at[hit[0]]])) if len(hit) else None

    def nearest(self, score: Score) -> dict:
        """The sample's longest copy of a reference piece: where it is in the piece, the transposition
        (semitones from the piece to the sample), its length in steps and in the sample's bars."""
        hashes = to_step_hashes(score, self.n_voices, "sample")
        none = {"nearest": None, "transposition": None, "copy_steps": 0, "max_verbatim_bars": 0.0}
        if hashes is None:
            return none
        voicing, moved, anchor = hashes
        lo, hi, found = 0, len(voicing), None
        while lo < hi:  # a copy of n steps holds copies of every shorter length: binary search
            mid = (lo + hi + 1) // 2
            match = self._match(voicing, moved, mid)
            lo, hi, found = (mid, hi, match) if match else (lo, mid - 1, found)
        if found is None:
            return none
        t, u = found
        pid, spb = self.ids[self.piece[u]]
        bar, step = divmod(int(self.step[u]), spb)
        return {
            "nearest": f"{pid} bar {bar + 1} step {step + 1}",
            "transposition": int(anchor[t] - self.anchor[u]),
            "copy_steps": lo,
            "max_verbatim_bars": round(lo / score.steps_per_bar, 3),
        }


def reference_summary(reference: str = "bach", n_bars: int = 8, seed: int = 0) -> dict:
    """The reference side of a report: metric means over its ``n_bars`` excerpts, and the chorale
    group (windows for most figures, the last ``n_bars`` of each piece for the endings)."""
    pieces = load_corpus(reference, seed=seed).pieces
    excerpts = to_excerpts(pieces, n_bars)
    out = summarize(excerpts)
    out["excerpt_bars"] = n_bars
    out["chorale"] = _rounded(summarize_chorale(excerpts, to_endings(pieces, n_bars)))
    out["chorale"]["duration_kl"] = 0.0
    return out


def evaluate_scores(
    samples: list[Score],
    reference: str = "bach",
    nearest: bool = False,
    seed: int = 0,
    reference_report: dict | None = None,
    index: CopyIndex | None = None,
) -> dict:
    """{"samples": {...}, "reference": {...}}: metric means (overall and per track) and the chorale
    group; with ``nearest``, samples also carry max_verbatim_bars (the maximum over files) and one
    entry per file. ``reference_report`` (reference_summary) and ``index`` (a CopyIndex of every
    reference piece) may be given to reuse them across calls."""
    n_bars = int(np.median([s.n_bars for s in samples])) if samples else 8
    ref = reference_summary(reference, n_bars, seed) if reference_report is None else reference_report
    out = {"samples": summarize(samples), "reference": ref}
    chorale = summarize_chorale(samples)
    if chorale["duration_histogram"] and ref["chorale"]["duration_histogram"]:
        chorale["duration_kl"] = duration_kl(
            chorale["duration_histogram"], ref["chorale"]["duration_histogram"]
        )
    out["samples"]["chorale"] = _rounded(chorale)
    if nearest:
        if index is None:
            corpus = load_corpus(reference, seed=seed)
            index = CopyIndex(corpus.pieces, corpus.ids, name=str(reference))
        files = [{"title": s.title, **index.nearest(s)} for s in samples]
        out["samples"]["max_verbatim_bars"] = max((f["max_verbatim_bars"] for f in files), default=0.0)
        out["samples"]["files"] = files
    return out


def _rounded(group: dict) -> dict:
    """Floats to 5 decimals (histograms too), for a readable JSON report."""
    return {
        k: [round(x, 5) for x in v] if isinstance(v, list) else round(v, 5) if isinstance(v, float) else v
        for k, v in group.items()
    }


CHORALE_ROWS = (
    "parallels_per_100",
    "has_parallel",
    "voice_crossing",
    "in_satb_range",
    "duration_kl",
    "sixteenths",
    "downbeat_triads",
    "repeated_notes",
    "rests_inside",
    "soprano_bar_recurrence",
    "ends_on_tonic",
    "final_root_position",
    "ends_on_tonic_root_position",
    "authentic_cadence",
)


def format_comparison(report: dict) -> str:
    """A table: metric, samples, reference, relative difference; then the chorale group."""
    s, r = report["samples"], report["reference"]
    lines = [f"{'metric':<30}{'samples':>10}{'reference':>11}{'diff':>9}"]
    for k in KEYS:
        a, b = s.get(k), r.get(k)
        diff = f"{(a - b) / b:+.1%}" if a is not None and b else ""
        lines.append(f"{k:<30}{_fmt(a):>10}{_fmt(b):>11}{diff:>9}")
    lines.append("chorale")
    for k in CHORALE_ROWS:
        lines.append(f"  {k:<28}{_fmt(s['chorale'].get(k)):>10}{_fmt(r['chorale'].get(k)):>11}")
    if "max_verbatim_bars" in s:
        lines.append(f"{'max_verbatim_bars':<30}{s['max_verbatim_bars']:>10.3f}")
        for f in s["files"]:
            where = f"{f['nearest']}, {f['transposition']:+d} semitones" if f["nearest"] else "none"
            lines.append(f"  {f['title']}: longest copy {f['copy_steps']} steps ({where})")
    lines.append(f"({s['pieces']} samples; reference: {r['pieces']} excerpts of {r['excerpt_bars']} bars)")
    return "\n".join(lines)


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"
