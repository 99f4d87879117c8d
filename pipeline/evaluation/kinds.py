"""One registry of the dataset kinds: clip length, most clips, how predictions are scored, headline metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DatasetKind = Literal["qvhighlights", "charades_sta", "tvsum", "pretrain"]


@dataclass(frozen=True)
class KindInfo:
    """What every stage needs to know of one dataset kind.

    Attributes:
        clip_seconds: seconds per clip of its features and labels.
        max_clips: most clips per training sample (the release's `max_v_l`).
        evaluator: the evaluation protocol (pipeline.evaluation.EVALUATORS) that scores it.
        extended: add R1@0.3..0.95 and mIoU to the QVHighlights metrics when training evaluates.
        headline: the metrics reports and tables show, in order.
    """

    clip_seconds: float
    max_clips: int
    evaluator: str
    extended: bool
    headline: tuple[str, ...]


_MOMENTS = ("MR-full-R1@0.3", "MR-full-R1@0.5", "MR-full-R1@0.7", "MR-full-mIoU")

#: Synthetic pretraining rows carry no three-annotator saliency: they are scored on moments only.
KINDS: dict[str, KindInfo] = {
    "qvhighlights": KindInfo(2.0, 75, "qvhighlights", True,
                             ("MR-full-R1@0.5", "MR-full-R1@0.7", "MR-full-mAP", "HL-min-VeryGood-mAP",
                              "HL-min-VeryGood-Hit1")),
    "charades_sta": KindInfo(1.0, 75, "charades_sta", False, _MOMENTS),
    "tvsum": KindInfo(2.0, 1000, "tvsum", False, ("TVSum-top5-mAP",)),
    "pretrain": KindInfo(2.0, 75, "charades_sta", False, _MOMENTS),
}


def kind_info(kind: str) -> KindInfo:
    """The registry entry of `kind`; ValueError naming the known kinds otherwise.

    >>> kind_info("charades_sta").clip_seconds
    1.0
    """
    if kind not in KINDS:
        raise ValueError(f"unknown dataset kind {kind!r}; expected one of {', '.join(KINDS)}")
    return KINDS[kind]
