"""Benchmark: vectorised QVHighlights evaluation vs a plain per-query Python loop, same run.

Usage: VIDEOLIGHTS_DATA=/path/to/shared/data python benchmarks/evaluate.py [--repeats 5]

Times ``evaluate_submission`` on the 1,550-query golden prediction file (validation and
all metrics; file reading timed separately), then a straightforward loop implementation of
the same official semantics written below, checks both give the same dict, and prints the
medians and their ratio together with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.evaluation import evaluate_submission, read_jsonl

THRESHOLDS = [round(0.5 + 0.05 * i, 2) for i in range(10)]
BUCKETS = [("short", 0, 10), ("middle", 10, 30), ("long", 30, 150), ("full", 0, 150)]
LEVELS = [("Fair", 2), ("Good", 3), ("VeryGood", 4)]


# ---- reference: one query at a time, plain Python ----------------------------------------
def iou(a, b):
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union else 0.0


def loop_detection_ap(preds, gts, thr):
    preds = sorted(preds[:10], key=lambda w: -w[2])
    if not preds:
        return 0.0
    used, flags = set(), []
    for p in preds:
        ious = [iou(p, g) for g in gts]
        visit = sorted(range(len(gts)), key=lambda j: (-ious[j], -j))
        match = next((j for j in visit if j not in used), None)
        ok = match is not None and ious[match] >= thr
        if ok:
            used.add(match)
        flags.append(ok)
    precisions, recalls, hits = [], [], 0
    for k, ok in enumerate(flags, start=1):
        hits += ok
        precisions.append(hits / k)
        recalls.append(hits / len(gts))
    ap, prev_recall = 0.0, 0.0
    for k in range(len(flags)):
        ap += (recalls[k] - prev_recall) * max(precisions[k:])
        prev_recall = recalls[k]
    return ap


def loop_top1_iou(preds, gts):
    if not preds:
        return 0.0
    top = preds[0]
    best = max(range(len(gts)), key=lambda j: (iou(top, gts[j]), -j))
    g = gts[best]
    inter = max(0.0, min(top[1], g[1]) - max(top[0], g[0]))
    union = max(top[1], g[1]) - min(top[0], g[0])
    return inter / union if union else 0.0


def loop_ranking_ap(scores, labels):
    if not any(labels):
        return 0.0
    ranked = sorted(zip(scores, labels), key=lambda x: -x[0])
    points, hits = [], 0  # (precision, added a positive) per distinct score
    for k, (s, y) in enumerate(ranked):
        hits += y
        if k + 1 == len(ranked) or ranked[k + 1][0] != s:
            start_hits = points[-1][2] if points else 0
            points.append((hits / (k + 1), hits > start_hits, hits))
    values = [max(p for p, _, _ in points[i:]) for i, (_, added, _) in enumerate(points) if added]
    return sum(values) / len(values)


def pct(x):
    return float(f"{100 * x:.2f}")


def loop_evaluate(sub_rows, gt_rows):
    gt = {r["qid"]: r for r in gt_rows}
    out, brief = {}, {}
    for name, lo, hi in BUCKETS:
        aps, ious = [], []
        for r in sub_rows:
            wins = gt[r["qid"]]["relevant_windows"]
            if name != "full":
                wins = [w for w in wins if lo < w[1] - w[0] <= hi]
            if not wins:
                continue
            aps.append([loop_detection_ap(r["pred_relevant_windows"], wins, t) for t in THRESHOLDS])
            ious.append(loop_top1_iou(r["pred_relevant_windows"], wins))
        per_thr = [sum(a[i] for a in aps) / len(aps) for i in range(len(THRESHOLDS))]
        mean_ap = {str(t): pct(v) for t, v in zip(THRESHOLDS, per_thr)}
        mean_ap["average"] = pct(sum(per_thr) / len(per_thr))
        r1 = {str(t): pct(sum(i >= t for i in ious) / len(ious)) for t in THRESHOLDS}
        out[name] = {"MR-mAP": mean_ap, "MR-R1": r1}
    f = out["full"]
    brief.update(sorted({
        "MR-full-mAP": f["MR-mAP"]["average"], "MR-full-mAP@0.5": f["MR-mAP"]["0.5"],
        "MR-full-mAP@0.75": f["MR-mAP"]["0.75"], "MR-full-R1@0.5": f["MR-R1"]["0.5"],
        "MR-full-R1@0.7": f["MR-R1"]["0.7"],
        **{f"MR-{n}-mAP": out[n]["MR-mAP"]["average"] for n in ("short", "middle", "long")},
    }.items()))
    for level, minimum in LEVELS:
        aps, hits = [], []
        for r in sub_rows:
            g = gt[r["qid"]]
            n = int(g["duration"] / 2)
            table = [[0, 0, 0] for _ in range(n)]
            for cid, s in zip(g["relevant_clip_ids"], g["saliency_scores"]):
                table[cid] = s
            raw = r["pred_saliency_scores"]
            pred = list(raw[:n]) + [0.0] * (n - len(raw))  # official: truncate or zero-pad
            top = max(range(len(raw)), key=lambda k: (raw[k], -k))  # first argmax
            hits.append(max(int(v >= minimum) for v in table[top]) if top < n else 0)
            for a in range(3):
                aps.append(loop_ranking_ap(pred, [int(row[a] >= minimum) for row in table]))
        entry = {"HL-mAP": pct(sum(aps) / len(aps)), "HL-Hit1": pct(sum(hits) / len(hits))}
        out[f"HL-min-{level}"] = entry
        brief[f"HL-min-{level}-mAP"] = entry["HL-mAP"]
        brief[f"HL-min-{level}-Hit1"] = entry["HL-Hit1"]
    return {"brief": brief, **dict(sorted(out.items()))}


# ---- harness -----------------------------------------------------------------------------
def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.platform()} | {cpu} | {os.cpu_count()} logical CPUs | "
            f"Python {platform.python_version()} | numpy {np.__version__}")


def median_seconds(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per implementation")
    args = parser.parse_args()
    data = os.environ.get("VIDEOLIGHTS_DATA")
    if not data:
        print("VIDEOLIGHTS_DATA is not set; point it at the shared data folder", file=sys.stderr)
        return 2
    sub_path = Path(data) / "golden" / "qvhighlights_val_preds.jsonl"
    gt_path = Path(data) / "qvhighlights" / "highlight_val_release.jsonl"
    golden = json.loads((Path(data) / "golden" / "qvhighlights_val_preds_metrics.json").read_text())

    t_read, (sub, gt) = median_seconds(lambda: (read_jsonl(sub_path), read_jsonl(gt_path)),
                                       args.repeats)
    t_vec, vec = median_seconds(lambda: evaluate_submission(sub, gt), args.repeats)
    t_loop, ref = median_seconds(lambda: loop_evaluate(sub.rows, gt.rows), args.repeats)

    print(f"machine: {machine()}")
    print(f"input: {len(sub)} queries ({sub_path.name} vs {gt_path.name}), "
          f"median of {args.repeats} runs each")
    print(f"read both jsonl files:            {t_read:8.3f} s")
    print(f"vectorised evaluate_submission:   {t_vec:8.3f} s")
    print(f"per-query Python loop reference:  {t_loop:8.3f} s")
    print(f"speed-up (loop / vectorised):     {t_loop / t_vec:8.1f}x")
    print(f"vectorised == golden metrics: {vec == golden}; loop reference == golden: "
          f"{ref == golden}")
    return 0 if vec == golden else 1


if __name__ == "__main__":
    sys.exit(main())
