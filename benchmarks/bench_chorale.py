"""The chorale table of issue 8: N eight-bar samples per model against Bach, beside the targets.

    python benchmarks/bench_chorale.py --pieces 200 [--models lstm,musegan] [--no-rules]
        [--lstm-checkpoint DIR] [--musegan-checkpoint DIR] [--lstm-opt KEY=VALUE ...] [--json OUT]

Samples come from the library with default options (``generate_lstm(bars=8, seed=i)``,
``generate_musegan(bars=8, seed=i)``, i = 0..N-1) and whatever checkpoints the checkout ships. Every
figure is computed by composer.evaluate.compare.evaluate_scores, so samples and Bach go through one code path;
the Bach side (8-bar windows of the 4/4 chorales, endings from the last 8 bars of each) and the copy
index (every chorale, all four voices) are built once and shared by the models. Prints markdown: the
chorale group beside the issue's targets, the five standard metrics per track against Bach (within
15%?), the longest copy; ``--json`` writes every report.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from composer.corpora import load_corpus
from composer.evaluate.compare import CopyIndex, evaluate_scores, reference_summary

# figure: (label, LSTM target, MuseGAN target); a target is (kind, bound), kind "max", "min" or "rel"
TARGETS = {
    "parallels_per_100": ("parallel 5ths/8ves per 100 transitions", ("max", 0.15), ("max", 0.5)),
    "has_parallel": ("samples with any parallel", ("max", 0.25), ("max", 0.5)),
    "ends_on_tonic_root_position": ("ends on the tonic, root position", ("min", 0.75), ("min", 0.5)),
    "in_satb_range": ("notes in SATB range", ("min", 0.99), ("min", 0.99)),
    "duration_kl": ("duration KL from Bach", ("max", 0.03), ("max", 0.06)),
    "downbeat_triads": ("downbeat complete triads", ("rel", 0.15), ("min", 0.5)),
    "rests_inside": ("rests inside the texture", ("max", 0.03), ("max", 0.03)),
    "soprano_bar_recurrence": ("soprano bar recurrence", ("min", 0.08), ("min", 0.05)),
}
MORE = (
    "ends_on_tonic",
    "final_root_position",
    "authentic_cadence",
    "voice_crossing",
    "repeated_notes",
    "sixteenths",
)
STANDARD = (
    "used_pitch_classes",
    "qualified_note_rate",
    "pitch_class_entropy",
    "scale_consistency",
    "tonal_distance",
)
MAX_COPY_BARS = 2.0


def generate(model: str, n: int, bars: int, checkpoint: str | None, options: dict) -> list:
    if model == "lstm":
        from composer.generation.lstm import generate_lstm as gen
    else:
        from composer.generation.musegan import generate_musegan as gen
    return [gen(checkpoint, bars=bars, seed=i, **options) for i in range(n)]


def met(value, target, bach) -> str:
    """'yes' or '**no**' for a value against a target; '' without one."""
    if value is None or target is None:
        return ""
    kind, bound = target
    ok = {"max": value <= bound, "min": value >= bound, "rel": abs(value - bach) <= bound * bach}[kind]
    return "yes" if ok else "**no**"


def show_target(target) -> str:
    kind, bound = target
    return {"max": f"≤ {bound:g}", "min": f"≥ {bound:g}", "rel": f"within {bound:.0%} of Bach"}[kind]


def chorale_table(reports: dict, bach: dict) -> list[str]:
    models = list(reports)
    head = "| figure | Bach | " + " | ".join(f"{m} | target | met" for m in models) + " |"
    lines = [head, "|" + " --- |" * (2 + 3 * len(models))]
    for key, (label, *targets) in TARGETS.items():
        row = f"| {label} (`{key}`) | {_f(bach[key])} |"
        for m in models:
            target = targets[0] if m == "lstm" else targets[1]
            value = reports[m]["samples"]["chorale"].get(key)
            row += f" {_f(value)} | {show_target(target)} | {met(value, target, bach[key])} |"
        lines.append(row)
    for key in MORE:
        cells = "".join(f" {_f(reports[m]['samples']['chorale'][key])} | | |" for m in models)
        lines.append(f"| `{key}` | {_f(bach[key])} |{cells}")
    cells = "".join(
        f" {reports[m]['samples']['max_verbatim_bars']:.2f} | ≤ {MAX_COPY_BARS:g} | "
        f"{met(reports[m]['samples']['max_verbatim_bars'], ('max', MAX_COPY_BARS), 0)} |"
        for m in models
    )
    lines.append(f"| longest four-voice copy of a chorale, bars | - |{cells}")
    return lines


def standard_table(reports: dict, reference: dict) -> list[str]:
    """The five standard metrics per track (by position), samples against Bach, within 15%?"""
    lines = ["| model | track | " + " | ".join(STANDARD) + " |", "|" + " --- |" * (2 + len(STANDARD))]
    ref_tracks = list(reference["tracks"].values())
    for m, report in reports.items():
        for i, (name, values) in enumerate(report["samples"]["tracks"].items()):
            ref = ref_tracks[i] if i < len(ref_tracks) else {}
            cells = []
            for k in STANDARD:
                a, b = values.get(k), ref.get(k)
                ok = a is not None and b and abs(a - b) <= 0.15 * abs(b)
                cells.append(f"{_f(a)} / {_f(b)}" + ("" if ok else " **no**"))
            lines.append(f"| {m} | {name} | " + " | ".join(cells) + " |")
    return lines


def _f(v) -> str:
    return "-" if v is None else f"{v:.3f}" if abs(v) >= 0.1 or v == 0 else f"{v:.4f}"


def parse_options(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pieces", type=int, default=200)
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--models", default="lstm,musegan")
    ap.add_argument("--lstm-checkpoint", default=None)
    ap.add_argument("--musegan-checkpoint", default=None)
    ap.add_argument("--no-rules", action="store_true", help="pass rules=False to the LSTM sampler")
    ap.add_argument("--lstm-opt", action="append", default=[], help="extra generate_lstm option KEY=VALUE")
    ap.add_argument(
        "--musegan-opt", action="append", default=[], help="extra generate_musegan option KEY=VALUE"
    )
    ap.add_argument("--json", default=None, help="also write every report here")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("COMPOSER_THREADS", 1)))
    options = {"lstm": parse_options(args.lstm_opt), "musegan": parse_options(args.musegan_opt)}
    if args.no_rules:
        options["lstm"]["rules"] = False
    checkpoints = {"lstm": args.lstm_checkpoint, "musegan": args.musegan_checkpoint}

    t0 = time.perf_counter()
    corpus = load_corpus("bach")
    reference = reference_summary("bach", args.bars)
    index = CopyIndex(corpus.pieces, corpus.ids, name="bach")
    timings = {"reference_s": round(time.perf_counter() - t0, 1)}
    reports = {}
    for m in args.models.split(","):
        t = time.perf_counter()
        samples = generate(m, args.pieces, args.bars, checkpoints[m], options[m])
        timings[f"{m}_generate_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        reports[m] = evaluate_scores(samples, "bach", nearest=True, reference_report=reference, index=index)
        reports[m]["options"] = {"checkpoint": checkpoints[m], **options[m]}
        timings[f"{m}_evaluate_s"] = round(time.perf_counter() - t, 1)

    print(
        f"{args.pieces} samples of {args.bars} bars per model; Bach: {reference['chorale']['pieces']} "
        f"windows, endings from {args.bars}-bar ends of the 4/4 chorales\n"
    )
    print("\n".join(chorale_table(reports, reference["chorale"])))
    print("\nFive standard metrics per track, samples / Bach (**no**: more than 15% off):\n")
    print("\n".join(standard_table(reports, reference)))
    print(f"\ntimings (s): {timings}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"reference": reference, "models": reports, "timings": timings}, f, indent=1)


if __name__ == "__main__":
    main()
