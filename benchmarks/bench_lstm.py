"""Attention-LSTM benchmarks: training throughput (causal vs the book's one-target-per-window form,
interleaved in one run), cold `composer generate --bars 8` wall time, and repetition over 200 samples.

    python benchmarks/bench_lstm.py [--parts cold,repetition,throughput] [--reps 20] [--samples 200]

Prints one JSON object; figures go to benchmarks/RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def forward_book(model, x, pos, target, tpos, cond=None):
    """The book's formulation of the attention LSTM: one target per window, attention over the whole
    window, heads on the context vector. x (B, T, 4), pos (B, T), target (B, 4), tpos (B,) -> logits
    (B, V_s) per stream, and attention (B, T)."""
    import torch

    h = model.encode(x, pos, cond)  # (B, T, H)
    att = torch.softmax(torch.tanh(model.score(h)).squeeze(-1), dim=-1)  # (B, T)
    c = (att.unsqueeze(-1) * h).sum(1)  # (B, T, 1) * (B, T, H) -> (B, H)
    z = torch.cat([c, h[:, -1]], dim=-1) if model.config.attention else h[:, -1]  # (B, 2H)
    return model.head_logits(model.drop(z), target, tpos), att


def throughput(reps: int, threads: int, batch: int = 16, seq_len: int = 128) -> dict:
    """Targets per second of one training step (forward, backward, Adam) for both formulations."""
    import torch

    from composer.models.attention_lstm import TrainConfig, nll_per_stream
    from composer.training.lstm import build_model, prepare_data, sample_batch

    torch.set_num_threads(threads)
    cfg = TrainConfig(batch_size=batch, seq_len=seq_len)
    data = prepare_data("bach", cfg)
    model = build_model(data["codec"], cfg)
    opt = torch.optim.Adam(model.parameters())
    times = {"causal": [], "book": []}
    for rep in range(reps + 2):  # two warm-up rounds, then alternate the two forms
        x, xctx, y, yctx = sample_batch(data["streams"], rep, 0, batch, seq_len, "cpu")
        xpos, ypos, cond = xctx[..., 0], yctx[..., 0], xctx[..., 1:]
        for form in ("causal", "book"):
            t0 = time.perf_counter()
            if form == "causal":
                logits, _ = model(x, xpos, y, ypos, cond=cond)
                loss = sum(nll_per_stream(logits, y).values()) / (y[..., 0] != -100).sum()
            else:  # predict only the event after each window
                logits, _ = forward_book(model, x, xpos, y[:, -1], ypos[:, -1], cond=cond)
                loss = sum(nll_per_stream(logits, y[:, -1]).values()) / batch
            opt.zero_grad()
            loss.backward()
            opt.step()
            if rep >= 2:
                times[form].append(time.perf_counter() - t0)
    targets = {"causal": batch * seq_len, "book": batch}
    out = {
        f: {"step_s": statistics.median(t), "targets_per_s": targets[f] / statistics.median(t)}
        for f, t in times.items()
    }
    out["ratio"] = out["causal"]["targets_per_s"] / out["book"]["targets_per_s"]
    out["settings"] = {
        "batch": batch,
        "seq_len": seq_len,
        "threads": threads,
        "reps": reps,
        "size": "default",
    }
    return out


def cold_generate(runs: int = 7) -> dict:
    """Wall time of `composer generate --bars 8 > file`, process start included."""
    walls = []
    for i in range(runs):
        with open("/tmp/bench_lstm_cold.mid", "wb") as f:
            t0 = time.perf_counter()
            subprocess.run(["composer", "generate", "--bars", "8", "--seed", str(i)], stdout=f, check=True)
            walls.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(walls), "max_s": max(walls), "runs": runs}


def longest_run(pitches: list[int]) -> int:
    best = run = 1 if pitches else 0
    for a, b in zip(pitches, pitches[1:]):
        run = run + 1 if a == b else 1
        best = max(best, run)
    return best


def repetition(samples: int) -> dict:
    """Degeneracy of default sampling over ``samples`` seeds, 8 bars each, and the same measures on
    the first 8 bars of every bach test piece for reference."""
    from composer.corpora import load_corpus
    from composer.generation.lstm import generate_lstm
    from composer.music import crop

    test = [crop(p, 0, 8 * p.steps_per_bar) for p in load_corpus("bach").split("test")]
    generated = (generate_lstm(bars=8, seed=seed) for seed in range(samples))
    return {"generated": repetition_of(generated), "bach_test_first_8_bars": repetition_of(test)}


def repetition_of(scores) -> dict:
    one_pitch_soprano = one_pitch_any = samples = 0
    runs, distinct, notes, soprano_distinct = [], [], [], []
    for score in scores:
        samples += 1
        tracks = [[n.pitch for n in t.notes] for t in score.tracks]
        one_pitch_soprano += len(set(tracks[0])) <= 1
        one_pitch_any += any(len(set(p)) <= 1 for p in tracks)
        runs.append(max(longest_run(p) for p in tracks))
        soprano_distinct.append(len(set(tracks[0])))
        distinct.append(len({p for t in tracks for p in t}))
        notes.append(score.n_notes)
    return {
        "samples": samples,
        "share_soprano_one_pitch": one_pitch_soprano / samples,
        "share_any_track_one_pitch": one_pitch_any / samples,
        "longest_same_pitch_run": {"mean": float(np.mean(runs)), "max": int(max(runs))},
        "distinct_pitches_per_sample": {"mean": float(np.mean(distinct)), "min": int(min(distinct))},
        "soprano_distinct_pitches": {
            "mean": float(np.mean(soprano_distinct)),
            "min": int(min(soprano_distinct)),
        },
        "notes_per_sample": {"mean": float(np.mean(notes)), "min": int(min(notes))},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--parts", default="cold,repetition,throughput")
    ap.add_argument("--seq-len", type=int, default=128, help="Window length of both formulations.")
    args = ap.parse_args()
    parts = args.parts.split(",")
    t0 = time.perf_counter()
    result = {}
    if "cold" in parts:
        result["cold_generate"] = cold_generate()
    if "repetition" in parts:
        result["repetition"] = repetition(args.samples)
    if "throughput" in parts:
        result["throughput"] = throughput(args.reps, args.threads, seq_len=args.seq_len)
    result["seconds"] = time.perf_counter() - t0
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
