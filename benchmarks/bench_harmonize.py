"""Issue 14's table: the soprano lines of the bach test split harmonized, beside Bach's own settings.

    python benchmarks/bench_harmonize.py [--checkpoint DIR] [--lstm-checkpoint DIR] [--seeds 1]
        [--no-timing] [--json OUT]

Every 4/4 and 3/4 chorale of the test split (never trained on) gives its soprano line, in the
chorale's key, to ``harmonize`` (library call, seed = piece index), with the rules and without.
Figures, each beside Bach's own harmonization of the same melodies:

- fixed voice identical to the input (notes compared exactly: onset, length, pitch);
- composer.evaluate.chorale: parallel fifths/octaves per 100 voice-pair transitions, notes in SATB range;
- where the melody ends on the tonic: the final chord a root-position tonic triad (ending_metrics);
- the soprano a chord tone on the beats where the lower voices form a chord (``chord_tone_rate``);
- conditional NLL of the alto, tenor and bass given the melody, per note of those voices, beside the
  unconditional attention LSTM's NLL of the same notes (its events of tracks 1-3: shift, pitch,
  duration and track, each given everything before it). Both totals are divided by the same count,
  the LSTM's alto/tenor/bass events, so they compare the code length each model spends on the three
  voices' notes (onsets, pitches and lengths all included in both);
- cold `composer harmonize` of a 16-bar melody (a subprocess, median of 5).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace

import numpy as np

from composer.corpora import load_corpus
from composer.evaluate.chorale import ending_metrics, summarize_chorale
from composer.generation.harmonize import harmonize, load_harmonizer
from composer.keys import parse_key
from composer.music import Score, crop
from composer.training.harmonizer import usable

CHORDS = [
    frozenset(c)
    for c in (
        (0, 4, 7),
        (0, 3, 7),
        (0, 3, 6),
        (0, 4, 8),
        (0, 4, 7, 10),
        (0, 3, 7, 10),
        (0, 4, 7, 11),
        (0, 3, 6, 10),
        (0, 3, 6, 9),
    )
]


def fits_chord(pcs: set[int]) -> bool:
    """Whether the pitch classes are all in one triad or seventh chord (any root, tones may be missing)."""
    return any({(p - r) % 12 for p in pcs} <= c for r in range(12) for c in CHORDS)


def chord_tone_rate(score: Score) -> tuple[int, int]:
    """(beats where the soprano is a chord tone, beats counted). A beat is counted where the soprano
    and at least two lower voices sound and the lower voices' pitch classes fit one chord (the
    harmony is defined); the soprano is a chord tone when adding it still fits one chord."""
    hits = total = 0
    n = score.n_steps
    sounding = np.full((4, n), -1)
    for v, t in enumerate(score.tracks[:4]):
        for note in t.notes:
            sounding[v, note.start : note.end] = note.pitch
    for t in range(0, n, score.resolution):
        lower = {int(p) % 12 for p in sounding[1:, t] if p >= 0}
        if sounding[0, t] < 0 or (sounding[1:, t] >= 0).sum() < 2 or not fits_chord(lower):
            continue
        total += 1
        hits += fits_chord(lower | {int(sounding[0, t]) % 12})
    return hits, total


def same_notes(a, b) -> bool:
    return [(n.start, n.duration, n.pitch) for n in sorted(a)] == [
        (n.start, n.duration, n.pitch) for n in sorted(b)
    ]


def melody_of(piece: Score) -> Score:
    return replace(piece, tracks=piece.tracks[:1], length=0)


def ends_on_tonic(piece: Score) -> bool:
    return piece.tracks[0].notes[-1].pitch % 12 == parse_key(piece.key)[0]


def summarize(outs: list[Score], melodies: list[Score]) -> dict:
    group = summarize_chorale(outs)
    tonic_end = [
        ending_metrics(o)["ends_on_tonic_root_position"] for o, m in zip(outs, melodies) if ends_on_tonic(m)
    ]
    beats = np.sum([chord_tone_rate(o) for o in outs], axis=0)
    return {
        "pieces": len(outs),
        "fixed_voice_identical": float(
            np.mean([same_notes(o.tracks[0].notes, m.tracks[0].notes) for o, m in zip(outs, melodies)])
        ),
        "parallels_per_100": group["parallels_per_100"],
        "has_parallel": group["has_parallel"],
        "in_satb_range": group["in_satb_range"],
        "tonic_melody_endings": len(tonic_end),
        "tonic_root_position_ending": float(np.mean(tonic_end)) if tonic_end else None,
        "soprano_chord_tone": float(beats[0] / max(beats[1], 1)),
        "downbeat_triads": group["downbeat_triads"],
        "voice_crossing": group["voice_crossing"],
        "rests_inside": group["rests_inside"],
    }


TEMPERATURES = np.round(np.arange(0.8, 1.61, 0.05), 2)


def nll_at(pairs, temperature: float) -> float:
    """Summed NLL (nats) of (logits (n, V), targets (n,)) pairs with the logits divided by T."""
    import torch

    return sum(
        float(torch.nn.functional.cross_entropy(lg / temperature, y, reduction="sum")) for lg, y in pairs
    )


def calibrated(val_pairs, test_pairs) -> dict:
    """Raw test NLL, and the test NLL at the one logit temperature that is best on validation."""
    best = min(TEMPERATURES, key=lambda t: nll_at(val_pairs, t))
    return {
        "raw": nll_at(test_pairs, 1.0),
        "temperature": float(best),
        "calibrated": nll_at(test_pairs, best),
    }


def harmonizer_pairs(checkpoint, pieces) -> tuple[list, int]:
    """(logits, targets) of the free voices inside each melody's span, and the notes struck there."""
    import torch

    from composer.checkpoint import load_checkpoint
    from composer.models.harmonizer import Harmonizer, HarmonizerConfig
    from composer.representations.harmony_grid import N_SPECIAL, HarmonyGrid
    from composer.training.harmonizer import DEFAULT_OUT, to_batch

    meta, weights, _ = load_checkpoint(checkpoint or DEFAULT_OUT, kind="harmonizer")
    model = Harmonizer(HarmonizerConfig(**meta["config"]))
    model.load_state_dict(weights)
    model.eval()
    grid = HarmonyGrid.from_dict(meta["codec"])
    pairs, notes = [], 0
    with torch.no_grad():
        for p in pieces:
            fixed, ctx, state, targets, mask = to_batch([grid.encode(p)])
            logits = model(fixed, ctx, state)[0][mask[0]]  # (n, 3, V)
            y = targets[0][mask[0]]  # (n, 3)
            pairs.append((logits.flatten(0, 1), y.flatten()))
            notes += int((y >= N_SPECIAL).sum())
    return pairs, notes


def lstm_pairs(checkpoint, pieces) -> tuple[list, int]:
    """(logits, targets) per stream of the attention LSTM's events of tracks 1-3 (alto, tenor, bass),
    and how many such events there are."""
    import torch

    from composer.generation.lstm import DEFAULT_CHECKPOINT
    from composer.representations.token_codec import TokenCodec
    from composer.representations.tokens import STREAMS, Vocab
    from composer.training.data import to_stream
    from composer.training.lstm import load_lstm

    meta, model, _ = load_lstm(checkpoint or DEFAULT_CHECKPOINT)
    model.eval()
    codec = TokenCodec.from_meta(meta)
    track_values = np.array(codec.vocab.values["track"])
    pairs, events = [], 0
    with torch.no_grad():
        for p in pieces:
            ids, ctx = to_stream([codec.encode(p)])
            x, xc = torch.from_numpy(ids[None, :-1]), torch.from_numpy(ctx[None, :-1])
            y, yc = torch.from_numpy(ids[None, 1:]), torch.from_numpy(ctx[None, 1:])
            logits, _ = model(x, xc[..., 0], y, yc[..., 0], window=model.config.window, cond=xc[..., 1:])
            tracks = track_values[np.clip(ids[1:, 3] - Vocab.N_SPECIAL, 0, None)]
            mine = torch.from_numpy((tracks >= 1) & (ids[1:, 3] >= Vocab.N_SPECIAL))
            pairs += [(lg[0][mine].float(), y[0, :, STREAMS.index(s)][mine]) for s, lg in logits.items()]
            events += int(mine.sum())
    return pairs, events


def compare_nll(checkpoint, lstm_checkpoint, corpus) -> dict:
    """Nats per alto/tenor/bass note of both models on the test split, raw and calibrated."""
    val, test = usable(corpus.split("validation")), usable(corpus.split("test"))
    h = calibrated(harmonizer_pairs(checkpoint, val)[0], harmonizer_pairs(checkpoint, test)[0])
    (lv, _), (lt, events) = lstm_pairs(lstm_checkpoint, val), lstm_pairs(lstm_checkpoint, test)
    lstm = calibrated(lv, lt)
    per = {k: v / events if k != "temperature" else v for k, v in h.items()}
    return {
        "atb_notes": events,
        "harmonizer": per,
        "lstm": {k: v / events if k != "temperature" else v for k, v in lstm.items()},
        "harmonizer_grid_notes": harmonizer_pairs(checkpoint, test)[1],
    }


def cold_time(melody: Score, runs: int = 5) -> dict:
    from composer.midi_io import write_midi

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "melody16.mid")
        write_midi(melody, path)
        times, cpu = [], []
        for _ in range(runs):
            t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(
                ["composer", "harmonize", path, "-o", os.path.join(tmp, "out.mid")],
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "median_cpu_s": statistics.median(cpu),
        "runs": runs,
        "load": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--lstm-checkpoint", default=None)
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--no-samples", action="store_true")
    ap.add_argument("--no-nll", action="store_true")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    corpus = load_corpus("bach")
    pieces = usable(corpus.split("test"))
    melodies = [melody_of(p) for p in pieces]
    model = load_harmonizer(a.checkpoint)
    report = {"bach": summarize(pieces, melodies), "load": os.getloadavg()[0]}
    for rules in () if a.no_samples else (True, False):
        t0 = time.perf_counter()
        outs = [harmonize(m, model, seed=i, rules=rules)[0] for i, m in enumerate(melodies)]
        name = "rules" if rules else "no_rules"
        report[name] = {**summarize(outs, melodies), "seconds": round(time.perf_counter() - t0, 2)}
    if not a.no_nll:
        report["nll"] = compare_nll(a.checkpoint, a.lstm_checkpoint, corpus)
    if not a.no_timing:
        long = next(p for p in pieces if p.n_bars >= 16 and p.time_signature == (4, 4))
        report["cold"] = cold_time(melody_of(crop(long, 0, 16 * long.steps_per_bar)))
    text = json.dumps(report, indent=1)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text)


if __name__ == "__main__":
    sys.exit(main())
