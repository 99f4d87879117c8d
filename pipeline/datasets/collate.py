"""Pad samples into the batch dict the model and its criterion read, and move batches to a device."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from pipeline.datasets.assemble import pad_and_concat
from pipeline.datasets.dataset import Sample

#: Keys of the model's forward arguments.
MODEL_INPUT_KEYS = ("src_vid", "src_vid_mask", "src_txt", "src_txt_mask")
#: Keys of the criterion's targets (span_labels absent for TVSum and for unlabelled rows).
TARGET_KEYS = ("span_labels", "saliency_pos_labels", "saliency_neg_labels", "saliency_all_labels")


def collate(samples: Sequence[Sample]) -> dict[str, Any]:
    """Batch samples (a DataLoader's collate_fn).

    Returns:
        dict with
          src_vid: float32 (B, L, Dv), zero after each video's L_i clips;
          src_vid_mask: float32 (B, L), 1 = valid clip;
          src_txt: float32 (B, N, Dt), zero after each query's N_i tokens;
          src_txt_mask: float32 (B, N), 1 = valid token;
          span_labels: list of B dicts {"spans": float32 (n_i, 2) normalised (centre, width)}
              (absent for TVSum and unlabelled rows);
          saliency_pos_labels / saliency_neg_labels: int64 (B, k) clip indices;
          saliency_all_labels: float32 (B, L) per-clip target scores, 0 at padding
              (the three saliency keys are absent for unlabelled rows);
          meta: list of B dicts (qid, vid, query, duration, clip_seconds, n_clips, clip_offset,
              index, line).

    Raises:
        ValueError: samples disagree on feature sizes or on which targets they carry.
    """
    if not samples:
        raise ValueError("collate got no samples; expected at least one")
    _check_same(samples)
    how = samples[0].assembly
    src_vid, src_vid_mask = pad_and_concat([s.video for s in samples], how, video=True)
    src_txt, src_txt_mask = pad_and_concat([s.text for s in samples], how, video=False)
    batch: dict[str, Any] = {"src_vid": src_vid, "src_vid_mask": src_vid_mask,
                             "src_txt": src_txt, "src_txt_mask": src_txt_mask}
    first = samples[0]
    if first.spans_cxw is not None:
        batch["span_labels"] = [{"spans": s.spans_cxw} for s in samples]
    if first.saliency is not None:
        batch["saliency_pos_labels"] = torch.from_numpy(np.stack([s.saliency.pos for s in samples]))
        batch["saliency_neg_labels"] = torch.from_numpy(np.stack([s.saliency.neg for s in samples]))
        scores = np.zeros(src_vid_mask.shape, dtype=np.float32)
        for i, s in enumerate(samples):
            scores[i, :len(s.saliency.scores)] = s.saliency.scores
        batch["saliency_all_labels"] = torch.from_numpy(scores)
    batch["meta"] = [s.meta for s in samples]
    return batch


def _check_same(samples: Sequence[Sample]) -> None:
    first = samples[0]
    layout = _layout(first)
    for s in samples[1:]:
        if _layout(s) != layout:
            raise ValueError(
                f"qid {s.meta.get('qid')!r}: encoder sizes and options {_layout(s)}; expected {layout} like "
                f"qid {first.meta.get('qid')!r} (one dataset config per batch)"
            )
        if (s.spans_cxw is None) != (first.spans_cxw is None) or (s.saliency is None) != (first.saliency is None):
            raise ValueError(
                f"qid {s.meta.get('qid')!r} and qid {first.meta.get('qid')!r}: one has targets and the "
                "other not; expected labelled and unlabelled rows in separate batches"
            )
        if s.saliency is not None and len(s.saliency.pos) != len(first.saliency.pos):
            raise ValueError(f"qid {s.meta.get('qid')!r}: {len(s.saliency.pos)} saliency pairs; expected "
                             f"{len(first.saliency.pos)} in every sample of a batch")


def _layout(s: Sample) -> tuple:
    return [p.shape[1] for p in s.video], [p.shape[1] for p in s.text], s.assembly


def model_inputs(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The model's forward arguments of a batch."""
    return {k: batch[k] for k in MODEL_INPUT_KEYS}


def forward_kwargs(model: torch.nn.Module, batch: dict[str, Any], epoch: int | None = None,
                   training: bool = False) -> dict[str, Any]:
    """The model's forward arguments of a batch: the four feature tensors, plus what the model's
    forward also asks for (its release's forward signature): "vid"/"qid" (lists from the batch's
    meta), "epoch" (when given) and, in training only, "targets"."""
    wanted = inspect.signature(model.forward).parameters
    kwargs: dict[str, Any] = model_inputs(batch)
    for key in ("vid", "qid"):
        if key in wanted:
            kwargs[key] = [m[key] for m in batch["meta"]]
    if "epoch" in wanted and epoch is not None:
        kwargs["epoch"] = epoch
    if "targets" in wanted and training:
        kwargs["targets"] = targets(batch)
    return kwargs


def targets(batch: dict[str, Any]) -> dict[str, Any]:
    """The criterion's targets of a batch (only those present)."""
    return {k: batch[k] for k in TARGET_KEYS if k in batch}


def to_device(batch: dict[str, Any], device: str | torch.device, non_blocking: bool = False) -> dict[str, Any]:
    """Move every tensor of a batch (span_labels included) to `device`; meta stays as it is."""
    def move(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.to(device, non_blocking=non_blocking)
        if isinstance(value, list) and value and isinstance(value[0], dict) and "spans" in value[0]:
            return [{"spans": v["spans"].to(device, non_blocking=non_blocking)} for v in value]
        return value
    return {k: move(v) for k, v in batch.items()}
