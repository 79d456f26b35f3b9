"""Samples against a reference corpus: `composer evaluate FILE.mid... --reference bach [--nearest]`.

The reference is cut into excerpts as long as the samples (their median bar count, 4/4 pieces, no
silent bar), so that length-dependent metrics (pitch range, entropy) compare like with like. The
nearest-excerpt search compares bars as binary piano rolls (84 pitches, tracks in voice order):
Jaccard similarity per bar, averaged along each aligned run of training bars; a bar is "copied
verbatim" when its roll equals a training bar exactly, and ``max_verbatim_bars`` is the longest run of
consecutive sample bars that equal consecutive bars of one training piece.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from composer.corpora import load_corpus
from composer.errors import CorpusError
from composer.metrics import to_metrics
from composer.music import Score, crop
from composer.representations.pianoroll import to_pianoroll
from composer.training.musegan_data import METER, to_voice_order

KEYS = (
    "used_pitch_classes",
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


def summarize(scores: list[Score]) -> dict:
    """Mean of every metric over the scores (NaNs skipped), overall and per track position."""
    per = [to_metrics(s) for s in scores]
    out = {k: _mean([m[k] for m in per]) for k in KEYS}
    names = list(per[0]["tracks"]) if per else []
    out["tracks"] = {
        name: {
            k: _mean([list(m["tracks"].values())[i][k] for m in per if len(m["tracks"]) > i]) for k in KEYS
        }
        for i, name in enumerate(names)
    }
    out["pieces"] = len(scores)
    return out


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return round(float(np.mean(values)), 4) if values else None


class BarIndex:
    """Every bar of the training pieces as a flat binary roll, for nearest-excerpt search."""

    def __init__(self, pieces: list[Score], ids: list[str], n_tracks: int = 4, name: str = "reference"):
        """Raises CorpusError, naming ``name``, when no piece is usable (4/4, ``n_tracks`` pitched tracks)."""
        rows, piece_of, bar_of, self.ids = [], [], [], []
        for score, pid in zip(pieces, ids):
            voiced = _voiced(score, n_tracks)
            if voiced is None:
                continue
            roll = to_pianoroll(voiced)  # (bars, S, 84, T)
            rows.append(roll.reshape(len(roll), -1))
            piece_of += [len(self.ids)] * len(roll)
            bar_of += list(range(len(roll)))
            self.ids.append(pid)
        if not rows:
            raise CorpusError(
                f"{name}: no reference piece for --nearest ({len(pieces)} training pieces, none in "
                f"{METER[0]}/{METER[1]} with at least {n_tracks} pitched tracks)"
            )
        self.bars = np.concatenate(rows).astype(np.float32)  # (N, S*84*T)
        self.size = self.bars.sum(axis=1)  # (N,)
        self.piece = np.array(piece_of)
        self.bar = np.array(bar_of)
        self.n_tracks = n_tracks

    def nearest(self, score: Score) -> dict:
        """Nearest training excerpt and the longest verbatim run of bars, for one sample."""
        voiced = _voiced(score, self.n_tracks)
        if voiced is None:
            return {"nearest": None, "similarity": None, "max_verbatim_bars": 0}
        roll = to_pianoroll(voiced).reshape(-1, self.bars.shape[1]).astype(np.float32)  # (n, D)
        inter = roll @ self.bars.T  # (n, N)
        size = roll.sum(axis=1, keepdims=True)
        jaccard = inter / np.maximum(size + self.size - inter, 1)
        exact = (inter == size) & (inter == self.size) & (size > 0)
        n, total = jaccard.shape
        score_at = np.zeros(total)
        count = np.zeros(total)
        run = np.zeros(total, dtype=int)
        longest = 0
        for i in range(n):
            j = np.arange(total - i)
            same = self.piece[j + i] == self.piece[j]
            score_at[j] += np.where(same, jaccard[i, j + i], 0.0)
            count[j] += same
            cont = np.zeros(total, dtype=int)
            cont[1:] = run[:-1] * (self.piece[1:] == self.piece[:-1])
            run = np.where(exact[i], cont + 1, 0)
            longest = max(longest, int(run.max()))
        best = int(np.argmax(np.where(count == n, score_at, -1) / n))
        return {
            "nearest": f"{self.ids[self.piece[best]]} bar {int(self.bar[best]) + 1}",
            "similarity": round(float(score_at[best] / n), 4),
            "max_verbatim_bars": longest,
        }


def _voiced(score: Score, n_tracks: int) -> Score | None:
    if score.time_signature != METER:
        return None
    return to_voice_order(score, n_tracks)


def evaluate_scores(
    samples: list[Score], reference: str = "bach", nearest: bool = False, seed: int = 0
) -> dict:
    """{"samples": {...}, "reference": {...}}: metric means (overall and per track); with ``nearest``,
    samples also carry max_verbatim_bars (the maximum over files) and one entry per file."""
    corpus = load_corpus(reference, seed=seed)
    n_bars = int(np.median([s.n_bars for s in samples])) if samples else 8
    out = {"samples": summarize(samples), "reference": summarize(to_excerpts(corpus.pieces, n_bars))}
    out["reference"]["excerpt_bars"] = n_bars
    if nearest:
        idx = corpus.split_indices()["train"]
        index = BarIndex([corpus.pieces[i] for i in idx], [corpus.ids[i] for i in idx], name=str(reference))
        files = [{"title": s.title, **index.nearest(s)} for s in samples]
        out["samples"]["max_verbatim_bars"] = max((f["max_verbatim_bars"] for f in files), default=0)
        out["samples"]["files"] = files
    return out


def format_report(report: dict) -> str:
    """A table: metric, samples, reference, relative difference."""
    s, r = report["samples"], report["reference"]
    lines = [f"{'metric':<22}{'samples':>10}{'reference':>11}{'diff':>9}"]
    for k in KEYS:
        a, b = s.get(k), r.get(k)
        diff = f"{(a - b) / b:+.1%}" if a is not None and b else ""
        lines.append(f"{k:<22}{_fmt(a):>10}{_fmt(b):>11}{diff:>9}")
    if "max_verbatim_bars" in s:
        lines.append(f"{'max_verbatim_bars':<22}{s['max_verbatim_bars']:>10}")
        for f in s["files"]:
            lines.append(f"  {f['title']}: nearest {f['nearest']} (similarity {f['similarity']})")
    lines.append(f"({s['pieces']} samples; reference: {r['pieces']} excerpts of {r['excerpt_bars']} bars)")
    return "\n".join(lines)


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"
