"""The MuseGAN quality table: N generated 8-bar pieces against the bach reference.

    python benchmarks/bench_musegan_quality.py --pieces 200 --bars 8 [--checkpoint DIR] [--json OUT]

Prints metric, samples, reference, relative difference, and whether it is within 15% (UPC, QN,
pitch-class entropy, scale consistency, tonal distance), then the longest verbatim copy.
"""

from __future__ import annotations

import argparse
import json
import time

from composer.evaluate.compare import evaluate_scores
from composer.generation.musegan import generate_musegan

TARGETS = (
    "used_pitch_classes_merged",
    "qualified_note_rate",
    "pitch_class_entropy",
    "scale_consistency",
    "tonal_distance",
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--pieces", type=int, default=200)
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--json", default=None, help="also write the full report here")
    args = ap.parse_args()
    t0 = time.perf_counter()
    samples = [generate_musegan(args.checkpoint, bars=args.bars, seed=s) for s in range(args.pieces)]
    t_gen = time.perf_counter() - t0
    report = evaluate_scores(samples, "bach", nearest=True)
    s, r = report["samples"], report["reference"]
    print("| metric | samples | bach reference | difference | within 15% |")
    print("| --- | --- | --- | --- | --- |")
    for k in TARGETS + ("used_pitch_classes_per_track", "empty_bar_rate", "polyphony", "pitch_range"):
        diff = (s[k] - r[k]) / r[k] if r[k] else float("nan")
        ok = ("yes" if abs(diff) <= 0.15 else "**no**") if k in TARGETS else ""
        print(f"| {k} | {s[k]:.3f} | {r[k]:.3f} | {diff:+.1%} | {ok} |")
    copies = sum(f["max_verbatim_bars"] >= 2 for f in s["files"])
    print(
        f"\nmax_verbatim_bars over {args.pieces} pieces: {s['max_verbatim_bars']} ({copies} pieces copy >= 2 bars)"
    )
    print(f"reference: {r['pieces']} excerpts of {r['excerpt_bars']} bars; generation {t_gen:.1f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
