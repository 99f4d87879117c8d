"""The papers' published numbers, shown beside a comparison's own when dataset and split match."""

from __future__ import annotations

from dataclasses import dataclass

from model.config import FeatureSet


@dataclass(frozen=True)
class Published:
    """One paper's reported result.

    Attributes:
        model: model registry name (model.zoo.registry).
        label: the variant the paper reports (e.g. "VideoLights-B-pt").
        dataset, split: where it was measured (split "val" or "test").
        video: the video features it needs to be comparable (our names), None = any.
        metrics: official metric key -> value in percent.
        source: paper and table.
    """

    model: str
    label: str
    dataset: str
    split: str
    video: tuple[str, ...] | None
    metrics: dict[str, float]
    source: str


_QV = ("MR-full-R1@0.5", "MR-full-R1@0.7", "MR-full-mAP", "HL-min-VeryGood-mAP", "HL-min-VeryGood-Hit1")
_CHARADES = ("MR-full-R1@0.3", "MR-full-R1@0.5", "MR-full-R1@0.7", "MR-full-mIoU")
_SF_C = ("slowfast", "clip")


def _qv(*values: float) -> dict[str, float]:
    return dict(zip(_QV, values))


PUBLISHED: tuple[Published, ...] = (
    Published("moment_detr", "Moment-DETR", "qvhighlights", "test", _SF_C, _qv(52.89, 33.02, 30.73, 35.69),
              "Lei et al., NeurIPS 2021, Table 2"),
    Published("qd_detr", "QD-DETR", "qvhighlights", "test", _SF_C, _qv(62.40, 44.98, 39.86, 38.94),
              "Moon et al., CVPR 2023, Table 1"),
    Published("cg_detr", "CG-DETR", "qvhighlights", "test", _SF_C, _qv(65.43, 48.38, 42.86, 40.33),
              "Moon et al., CG-DETR, Table 1"),
    Published("trdetr", "TR-DETR", "qvhighlights", "test", _SF_C, _qv(64.66, 48.96, 42.62, 39.91, 63.42),
              "Sun et al., AAAI 2024, Table 1"),
    Published("taskweave", "TaskWeave", "qvhighlights", "val", _SF_C, _qv(64.26, 50.06, 45.38, 39.28, 63.68),
              "Yang et al., CVPR 2024, Table 2"),
    Published("videolights", "VideoLights-B-pt", "qvhighlights", "test", ("slowfast", "clip", "blip2"),
              _qv(70.36, 55.25, 47.94, 42.84, 70.56), "Paul et al., VideoLights, Table 1"),
    Published("videolights", "VideoLights-B-pt", "charades_sta", "test", ("slowfast", "clip", "blip2"),
              dict(zip(_CHARADES, (73.33, 61.96, 41.05, 52.94))), "Paul et al., VideoLights, Table 2"),
)


def published_for(model: str, dataset: str, split: str, features: FeatureSet | None) -> list[Published]:
    """The published results of `model` measured on this dataset and split with comparable video features.

    >>> [p.label for p in published_for("qd_detr", "qvhighlights", "test", None)]
    ['QD-DETR']
    >>> published_for("qd_detr", "qvhighlights", "val", None)
    []
    """
    return [p for p in PUBLISHED
            if p.model == model and p.dataset == dataset and p.split == split
            and (features is None or p.video is None or tuple(features.video) == p.video)]
