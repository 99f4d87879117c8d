"""Per-kind rules: which clips a sample keeps (crop) and its moment and saliency targets."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from pipeline.datasets.config import DatasetConfig
from pipeline.datasets.rows import Row, TVSumRow
from pipeline.datasets.saliency import SaliencyTargets, scores_saliency, tvsum_saliency, window_saliency
from pipeline.datasets.windows import crop_windows, windows_to_spans_cxw

#: The release's k per saliency rule (moment_detr max_n): see pipeline.datasets.saliency.
DEFAULT_PAIRS = {"scores": 2, "window": 2, "tvsum": 1}


@dataclass(frozen=True)
class Crop:
    """The clips a sample keeps: `offset .. offset + n_clips - 1` of the video."""

    offset: int
    n_clips: int

    def seconds(self, clip_seconds: float) -> tuple[float, float]:
        """[start_s, end_s] of the kept clips in the video."""
        return self.offset * clip_seconds, (self.offset + self.n_clips) * clip_seconds


@dataclass(frozen=True)
class Targets:
    """Training targets of one sample.

    Attributes:
        spans_cxw: float32 (n, 2) normalised (centre, width) windows, or None (TVSum: no moments).
        saliency: per-clip scores and sampled pairs.
    """

    spans_cxw: Tensor | None
    saliency: SaliencyTargets


def choose_crop(n_available: int, windows_sec: np.ndarray, cfg: DatasetConfig,
                rng: np.random.Generator) -> Crop:
    """Pick the kept clips of a video with `n_available` clips.

    Eval (and crop="head") keeps the first max_clips clips, as the release does. Training with
    crop="random" draws a max_clips-clip crop uniformly among those that contain every target
    window (all of their span when it is longer than max_clips), like moment_detr's MAD window
    slicing; videos without windows (TVSum) get a uniform crop.
    """
    length = min(n_available, cfg.max_clips)
    if n_available <= cfg.max_clips or cfg.split == "eval" or cfg.crop == "head":
        return Crop(0, length)
    top = n_available - length
    if len(windows_sec) == 0:
        return Crop(int(rng.integers(0, top + 1)), length)
    need_start = max(0, min(top, math.floor(float(windows_sec[:, 0].min()) / cfg.clip_seconds)))
    need_end = min(n_available, math.ceil(float(windows_sec[:, 1].max()) / cfg.clip_seconds))
    lo, hi = max(0, need_end - length), min(need_start, top)
    if lo > hi:  # the windows span more than max_clips clips: crop inside their span
        lo, hi = need_start, min(need_end - length, top)
    return Crop(int(rng.integers(lo, hi + 1)), length)


def _pairs(cfg: DatasetConfig, rule: str) -> int:
    return cfg.saliency_pairs if cfg.saliency_pairs is not None else DEFAULT_PAIRS[rule]


def _spans(row: Row, crop: Crop, cfg: DatasetConfig, rng: np.random.Generator) -> tuple[np.ndarray, Tensor]:
    """Windows clipped to the crop, and the (at most max_windows) span targets."""
    windows = crop_windows(row.windows, *crop.seconds(cfg.clip_seconds))
    chosen = windows
    if len(windows) > cfg.max_windows:
        pick = rng.permutation(len(windows)) if cfg.split == "train" else np.arange(len(windows))
        chosen = windows[np.sort(pick[:cfg.max_windows])]
    spans = windows_to_spans_cxw(chosen, crop.n_clips, cfg.clip_seconds, crop.offset)
    return windows, spans


def _scores_targets(row, crop, cfg, rng) -> Targets:
    _, spans = _spans(row, crop, cfg, rng)
    sal = scores_saliency(row.relevant_clip_ids, row.saliency_scores, crop.n_clips, crop.offset,
                          _pairs(cfg, "scores"), rng)
    return Targets(spans, sal)


def _window_targets(row, crop, cfg, rng) -> Targets:
    windows, spans = _spans(row, crop, cfg, rng)
    sal = window_saliency(windows, crop.n_clips, cfg.clip_seconds, crop.offset, _pairs(cfg, "window"), rng)
    return Targets(spans, sal)


def _tvsum_targets(row: TVSumRow, crop, cfg, rng) -> Targets:
    return Targets(None, tvsum_saliency(row.label, crop.n_clips, crop.offset, _pairs(cfg, "tvsum")))


def _pretrain_targets(row, crop, cfg, rng) -> Targets:
    rule = _scores_targets if cfg.pretrain_saliency == "scores" else _window_targets
    return rule(row, crop, cfg, rng)


TargetRule = Callable[[Row, Crop, DatasetConfig, np.random.Generator], Targets]
#: Dataset kind -> how a labelled row becomes targets.
TARGET_RULES: dict[str, TargetRule] = {
    "qvhighlights": _scores_targets,
    "charades_sta": _window_targets,
    "tvsum": _tvsum_targets,
    "pretrain": _pretrain_targets,
}


def build_targets(row: Row, crop: Crop, cfg: DatasetConfig, rng: np.random.Generator) -> Targets | None:
    """Targets of a row for the kept clips, or None when the row has no labels (test rows)."""
    if not row.has_labels:
        return None
    return TARGET_RULES[cfg.kind](row, crop, cfg, rng)
