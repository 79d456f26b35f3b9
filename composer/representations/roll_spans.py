"""Note spans of one MuseGAN voice from generator output: where its notes start and end.

Two decodings, both used by ``RollCodec.to_segments``. The grid decoding (``grid_spans``) cuts
a voice where it starts to sound, where the onset channel fires or where the best pitch changes, on
cells of a few steps, with rules against blips and holes. The rhythm decoding (``rhythm_spans``)
chooses the most likely split of each sounding run into notes, a semi-Markov (Viterbi) search over
every step and pitch: a note's score is the model's hold evidence for its pitch over its steps,
plus its onset evidence where it starts, plus the log-probability of its duration at its place in
the bar under the corpus's own rhythm (``fit_rhythm``, saved in the codec), less ``RESTRIKE`` when
it strikes the pitch of the note before it again. The model still places the notes; the
corpus's rhythm decides between splits the model scores alike, so that sixteenths, eighths and
quarters come out in the proportions of the music it learnt from.
"""

from __future__ import annotations

import numpy as np

from composer.music import Score

RHYTHM_WEIGHT = 1.0  # weight of a duration's log-probability against the model's evidence
ONSET_WEIGHT = 2.5  # weight of the onset channel at a note's first step
RESTRIKE = 3.0  # cost of a note that strikes again the pitch of the note before it


def fit_rhythm(pieces: list[Score], steps_per_bar: int) -> tuple[tuple[float, ...], ...]:
    """P(duration | first step within the bar) of every note of ``pieces`` (one row per step of the
    bar, one column per duration 1..steps_per_bar steps; longer notes count as a bar, a zero-length
    one as a step), add-one
    smoothed, rounded for JSON."""
    counts = np.ones((steps_per_bar, steps_per_bar))
    for score in pieces:
        for n in (n for t in score.tracks for n in t.notes):
            counts[n.start % steps_per_bar, min(max(n.duration, 1), steps_per_bar) - 1] += 1
    table = counts / counts.sum(axis=1, keepdims=True)
    return tuple(tuple(round(float(p), 6) for p in row) for row in table)


def check_rhythm(rhythm, steps_per_bar: int) -> None:
    """Raise ValueError unless ``rhythm`` is a steps_per_bar x steps_per_bar table of probabilities
    whose rows sum to 1 (as fit_rhythm writes it)."""
    table = np.asarray(rhythm, dtype=float)
    if table.shape != (steps_per_bar, steps_per_bar):
        raise ValueError(f"rhythm has shape {table.shape}, not ({steps_per_bar}, {steps_per_bar})")
    if not ((table > 0) & (table <= 1)).all() or not np.allclose(table.sum(axis=1), 1, atol=1e-3):
        raise ValueError("rhythm rows are not probabilities in (0, 1] summing to 1")


def rhythm_spans(
    hold: np.ndarray,
    onset: np.ndarray | None,
    sounding: np.ndarray,
    rhythm,
    guessed: np.ndarray | None = None,
) -> list[tuple[int, int]]:
    """[start, end) of each note of one voice: every sounding run split by a Viterbi search over
    (step, pitch), so that a note which repeats the pitch before it pays ``RESTRIKE``.

    hold, onset : ndarray, shape=(steps, pitches): the voice's generator output (onset may be None)
    sounding : ndarray, shape=(steps,), dtype=bool: where the voice sounds (from the grid decoding)
    rhythm : the codec's duration table (fit_rhythm), shape (steps_per_bar, steps_per_bar)
    guessed : ndarray, shape=(steps,), dtype=bool, optional: steps that sound although the model
        sounds no pitch there (the grid decoding filled a hole); its output counts for nothing
        there, so the corpus's rhythm alone splits them (not one long note, as chorales move)
    """
    log_prior = RHYTHM_WEIGHT * np.log(np.asarray(rhythm, dtype=float))  # (spb, spb)
    spb, n_pitches = len(log_prior), hold.shape[1]
    strike = np.zeros_like(hold) if onset is None else ONSET_WEIGHT * onset
    if guessed is not None:
        hold, strike = np.where(guessed[:, None], 0.0, hold), np.where(guessed[:, None], 0.0, strike)
    spans = []
    for s, e in _runs(sounding):
        n = e - s
        total = np.vstack([np.zeros(n_pitches), np.cumsum(hold[s:e], axis=0)])  # (n + 1, P)
        best = np.full((n + 1, n_pitches), -np.inf)  # best[b, p]: steps s..s+b split, last note p
        best[0] = 0.0
        back = np.zeros((n + 1, n_pitches, 2), dtype=int)  # (first step, pitch before) of that note
        pitches = np.arange(n_pitches)
        for b in range(1, n + 1):
            a = b - np.arange(1, min(spb, b) + 1)  # (D,): candidate first steps
            prev = best[a]  # (D, P)
            order = np.argsort(prev, axis=1)[:, ::-1]
            rows = np.arange(len(a))[:, None]
            first_is_p = order[:, :1] == pitches  # (D, P): the best pitch before is p itself
            other_p = np.where(first_is_p, order[:, 1:2], order[:, :1])  # best pitch before, not p
            other = prev[rows, other_p]
            same = np.where(a[:, None] > 0, prev - RESTRIKE, -np.inf)
            before, came = np.maximum(other, same), np.where(same > other, pitches, other_p)
            evidence = total[b] - total[a] + strike[s + a]  # (D, P): each pitch held over a..b
            score = before + evidence + log_prior[(s + a) % spb, b - a - 1][:, None]
            k = score.argmax(axis=0)  # (P,)
            best[b] = score[k, pitches]
            back[b, :, 0], back[b, :, 1] = a[k], came[k, pitches]
        cuts, b, p = [], n, int(best[n].argmax())
        while b > 0:
            a, p_before = (int(x) for x in back[b, p])
            cuts.append((s + a, s + b))
            b, p = a, p_before
        spans += reversed(cuts)
    return spans


def grid_spans(
    hold: np.ndarray, onset: np.ndarray | None, bars: int, threshold: float, min_note: int, min_rest: int
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(sounding, [start, end) of each note) of one voice on cells, as RollCodec.to_segments says.

    hold, onset : ndarray, shape=(cells, pitches): mean hold and max onset over each cell
    """
    best = hold.argmax(axis=1)  # (C,)
    loud = (hold.max(axis=1) > threshold).reshape(bars, -1)
    heard = _drop_short_runs((loud | ~loud.any(axis=1, keepdims=True)).reshape(-1), min_note)
    sounding = _fill_short_rests(heard, min_rest)
    struck = np.zeros(len(best), dtype=bool)
    if onset is not None:
        struck = onset[np.arange(len(best)), best] > threshold
    best = _smooth_pitch(best, heard, min_note)
    for i in np.nonzero(sounding & ~heard)[0]:  # a filled rest holds the note before it
        best[i], struck[i] = best[i - 1], False
    starts = sounding & (struck | ~np.r_[False, sounding[:-1]] | (best != np.r_[-1, best[:-1]]))
    return sounding, _merge_short(_spans(sounding, starts), min_note)


def _fill_short_rests(sounding: np.ndarray, min_rest: int) -> np.ndarray:
    """Rests shorter than ``min_rest`` steps after a sounding step become sounding (held over)."""
    out = sounding.copy()
    for s, e in _runs(~sounding):
        if s > 0 and e - s < min_rest and e < len(sounding):
            out[s:e] = True
    return out


def _drop_short_runs(sounding: np.ndarray, min_note: int) -> np.ndarray:
    """Sounding runs shorter than ``min_note`` steps become rests."""
    out = sounding.copy()
    for s, e in _runs(sounding):
        if e - s < min_note:
            out[s:e] = False
    return out


def _smooth_pitch(best: np.ndarray, heard: np.ndarray, min_note: int) -> np.ndarray:
    """Inside each sounding run, a best pitch held for fewer than ``min_note`` steps takes the pitch
    of the step before it (of the step after it at the start of the run): argmax flicker."""
    out = best.copy()
    for s, e in _runs(heard):
        change = [s] + [i for i in range(s + 1, e) if best[i] != best[i - 1]] + [e]
        for a, b in zip(change, change[1:]):
            if b - a < min_note:
                out[a:b] = out[a - 1] if a > s else best[min(b, e - 1)]
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a 1-D mask."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist()))


def _spans(sounding: np.ndarray, starts: np.ndarray) -> list[list[int]]:
    """[start, end) of each note: a sounding run cut at every start."""
    spans = []
    for s, e in _runs(sounding):
        cuts = [s] + [i for i in range(s + 1, e) if starts[i]] + [e]
        spans += [[a, b] for a, b in zip(cuts, cuts[1:])]
    return spans


def _merge_short(spans: list[list[int]], min_note: int) -> list[tuple[int, int]]:
    """Join each span shorter than ``min_note`` to the touching span before it (else after it)."""
    out: list[list[int]] = []
    for s, e in spans:
        if out and out[-1][1] == s and (e - s < min_note or out[-1][1] - out[-1][0] < min_note):
            out[-1][1] = e
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]
