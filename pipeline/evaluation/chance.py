"""The chance level of a split: a seeded random submission, scored by the same evaluator."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from pipeline.evaluation.evaluate import evaluate_submission


def random_submission(gt_rows: Sequence[Mapping], dataset: str = "qvhighlights", *, clip_seconds: float = 2.0,
                      n_windows: int = 10, seed: int = 0) -> list[dict]:
    """One random prediction per ground-truth row: `n_windows` windows on the clip grid with random
    scores (sorted, highest first) and a uniform random saliency score per clip.

    TVSum rows get saliency only (one score per label row); the others get both fields.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for row in gt_rows:
        if dataset == "tvsum":
            n = len(row["label"])
            rows.append({"qid": row["qid"], "pred_saliency_scores": rng.random(n).round(4).tolist()})
            continue
        duration = float(row["duration"])
        n_clips = max(1, math.ceil(duration / clip_seconds - 1e-9))
        starts = rng.integers(0, n_clips, size=n_windows)
        lengths = rng.integers(1, n_clips + 1, size=n_windows)
        ends = np.minimum(starts + lengths, n_clips)
        scores = np.sort(rng.random(n_windows))[::-1]
        windows = [[float(s * clip_seconds), float(min(e * clip_seconds, duration)), round(float(p), 4)]
                   for s, e, p in zip(starts, ends, scores)]
        rows.append({"qid": row["qid"], "vid": row.get("vid"), "pred_relevant_windows": windows,
                     "pred_saliency_scores": rng.random(n_clips).round(4).tolist()})
    return rows


def chance_metrics(gt_rows: Sequence[Mapping], dataset: str = "qvhighlights", *, clip_seconds: float = 2.0,
                   seeds: Sequence[int] = (0, 1, 2, 3, 4)) -> dict[str, float]:
    """The brief metrics of random submissions, averaged over `seeds` (one draw is noisy on small splits)."""
    totals: dict[str, float] = {}
    for seed in seeds:
        result = evaluate_submission(random_submission(gt_rows, dataset, clip_seconds=clip_seconds, seed=seed),
                                     gt_rows, dataset=dataset)
        brief = result.get("brief", result)
        for name, value in brief.items():
            if isinstance(value, (int, float)):
                totals[name] = totals.get(name, 0.0) + float(value) / len(seeds)
    return {name: round(value, 2) for name, value in totals.items()}
