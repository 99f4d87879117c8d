"""Best-checkpoint selection: one score per evaluation, from the metrics brief, higher is better.

The QVHighlights and moment-retrieval rules are those of the VideoLights release
(`video_lights/train.py`, `calculate_stop_score`): a weighted sum of brief metrics whose
weights are divided by their total, so the score is a weighted mean in percent; a metric
absent from the brief counts 0. TVSum follows the release's `train_hl`: the top-5 mAP.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

#: QVHighlights ("hl" in the release): R1@{0.3,0.5,0.7} weighted by their threshold,
#: mAP@{0.5,0.75} by theirs, and the full / long / middle / short mAPs 0.25 each (sum 3.75).
QVHIGHLIGHTS_WEIGHTS: dict[str, float] = {
    "MR-full-R1@0.3": 0.3, "MR-full-R1@0.5": 0.5, "MR-full-R1@0.7": 0.7,
    "MR-full-mAP@0.5": 0.5, "MR-full-mAP@0.75": 0.75,
    "MR-full-mAP": 0.25, "MR-long-mAP": 0.25, "MR-middle-mAP": 0.25, "MR-short-mAP": 0.25,
}  # fmt: skip
#: Every other moment-retrieval dataset: R1@{0.3,0.5,0.7} and mIoU 0.5 (sum 2.0).
MOMENT_WEIGHTS: dict[str, float] = {
    "MR-full-R1@0.3": 0.3, "MR-full-R1@0.5": 0.5, "MR-full-R1@0.7": 0.7, "MR-full-mIoU": 0.5,
}  # fmt: skip


def weighted_mean(weights: Mapping[str, float]) -> Callable[[Mapping[str, float]], float]:
    """A rule: sum of brief[k] * w_k / sum(w), missing metrics counting 0 (but not all missing).

    >>> weighted_mean({"a": 1.0, "b": 3.0})({"a": 40.0, "b": 80.0})
    70.0
    """
    total = sum(weights.values())

    def score(brief: Mapping[str, float]) -> float:
        if not any(k in brief for k in weights):
            raise ValueError(f"the evaluation brief has none of {sorted(weights)} (has {sorted(brief)}); "
                             "the preset's select_metric does not fit this validation set")
        return sum(float(brief.get(k, 0.0)) * w for k, w in weights.items()) / total

    return score


def single(metric: str) -> Callable[[Mapping[str, float]], float]:
    """A rule: one brief metric (it must be present)."""

    def score(brief: Mapping[str, float]) -> float:
        if metric not in brief:
            raise ValueError(f"selection metric {metric!r} is not in the evaluation brief "
                             f"(has {sorted(brief)}); choose a select_metric that fits the validation set")
        return float(brief[metric])

    return score


#: TrainConfig.select_metric -> rule.
SELECTION_RULES: dict[str, Callable[[Mapping[str, float]], float]] = {
    "qvhighlights-weighted": weighted_mean(QVHIGHLIGHTS_WEIGHTS),
    "mr-weighted": weighted_mean(MOMENT_WEIGHTS),
    "R1@0.3": single("MR-full-R1@0.3"),
    "tvsum-top5-mAP": single("TVSum-top5-mAP"),
}


def check_rule(name: str) -> None:
    """Refuse an unknown selection rule, listing the known ones."""
    if name not in SELECTION_RULES:
        raise ValueError(f"unknown select_metric {name!r}; expected one of {sorted(SELECTION_RULES)}")


def selection_score(name: str, brief: Mapping[str, float]) -> float:
    """The score of an evaluation brief under rule `name` (percent; higher is better).

    >>> round(selection_score("mr-weighted", {"MR-full-R1@0.3": 60, "MR-full-R1@0.5": 40,
    ...                                       "MR-full-R1@0.7": 20, "MR-full-mIoU": 40}), 2)
    36.0
    """
    check_rule(name)
    return SELECTION_RULES[name](brief)
