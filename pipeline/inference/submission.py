"""Batch inference over a dataset split: official submission rows, written as JSON lines."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from model.postprocess import PostProcess
from model.build import build_from_checkpoint
from pipeline.common import progress
from pipeline.common.checkpoint import load_checkpoint
from pipeline.datasets.loading import build_dataset, build_loader, checked, read_split
from pipeline.common.device import (
    amp_dtype_for,
    autocast,
    float_outputs,
    resolve_device,
)
from pipeline.common.jsonl import write_jsonl
from pipeline.datasets import forward_kwargs, to_device

log = logging.getLogger(__name__)

PROGRESS_KEY = "infer"






def visible_seconds(meta: Mapping[str, Any]) -> float:
    """Seconds the sample's clips cover: the video's duration, or less when the clips were cut
    at max clips (spans are normalised to what the model saw)."""
    return min(float(meta["duration"]), meta["n_clips"] * meta["clip_seconds"])


def whole_video_saliency(seen: list[float], meta: Mapping[str, Any]) -> list[float]:
    """Saliency for every clip of the video, as the official evaluation expects.

    The model sees at most `max_clips` clips (from `clip_offset`); clips it did not see rank
    below every clip it saw (score min(seen) - 1).

    >>> whole_video_saliency([0.5, 0.2], {"duration": 10.0, "clip_seconds": 2.0, "clip_offset": 1})
    [-0.8, 0.5, 0.2, -0.8, -0.8]
    """
    total = max(math.ceil(meta["duration"] / meta["clip_seconds"] - 1e-9), meta["clip_offset"] + len(seen))
    floor = (min(seen) - 1.0) if seen else 0.0
    before = [floor] * meta["clip_offset"]
    return before + list(seen) + [floor] * (total - len(before) - len(seen))


def predict_rows(model: nn.Module, postprocess: PostProcess, batches: Iterable[dict], device: torch.device,
                 amp_dtype: torch.dtype | None = None, progress_key: str | None = None) -> list[dict]:
    """Predict every batch and return one official submission row per sample.

    The model runs in eval mode without the negative-pair pass; windows are PostProcess's
    top-k [start_s, end_s, score] (sorted by score, seconds from the start of the video),
    saliency one score per clip the model saw.

    Args:
        model: a VideoLights model (moved to `device` by the caller).
        postprocess: its PostProcess (clip length, top-k).
        batches: collated batches (pipeline.datasets.collate) with "meta".
        device: where the model is.
        amp_dtype: autocast dtype (bf16 on GPU) or None.
        progress_key: pipeline.common.progress key advanced once per batch.

    Returns:
        [{"qid", "query", "vid", "pred_relevant_windows": [[s, e, score], ...],
          "pred_saliency_scores": [float per clip]}].
    """
    was_training = model.training
    model.eval()
    rows: list[dict] = []
    try:
        with torch.inference_mode():
            for batch in batches:
                batch = to_device(batch, device, non_blocking=True)
                with autocast(device, amp_dtype):
                    outputs = model(**forward_kwargs(model, batch))
                outputs = float_outputs(outputs)
                metas = batch["meta"]
                results = postprocess(outputs, batch["src_vid_mask"], [visible_seconds(m) for m in metas])
                for meta, result in zip(metas, results):
                    shift = meta["clip_offset"] * meta["clip_seconds"]
                    windows = [[s + shift, e + shift, score] for s, e, score in result["windows"]]
                    rows.append({"qid": meta["qid"], "query": meta["query"], "vid": meta["vid"],
                                 "pred_relevant_windows": windows,
                                 "pred_saliency_scores": whole_video_saliency(result["saliency"], meta)})
                if progress_key:
                    progress.advance(progress_key)
    finally:
        model.train(was_training)
    return rows




@dataclass(frozen=True)
class InferResult:
    """What `infer` wrote: the jsonl, its row count, the dataset kind it read and the time taken."""

    path: Path
    n_rows: int
    dataset_kind: str
    seconds: float






def infer(checkpoint: str | os.PathLike, annotations: str | os.PathLike, store: str, out_jsonl: str | os.PathLike,
          *, dataset_kind: str | None = None, device: str = "auto", batch_size: int = 64, num_workers: int = 0,
          amp: bool = True, cache: bool = False) -> InferResult:
    """Write the official submission jsonl of a split for a checkpoint.

    Each row is predicted on the clips the model trained on: videos longer than max_clips clips
    are cut to their first max_clips (as the release evaluates); Predictor covers long videos
    with overlapping windows.

    Args:
        checkpoint: a checkpoint of this pipeline (best.ckpt, last.ckpt or make_checkpoint's).
        annotations: the split's jsonl (labels optional: test rows work).
        store: feature store holding the split's features for the checkpoint's feature set.
        out_jsonl: output path (written atomically).
        dataset_kind: format of the rows; default: the validation kind recorded in the
            checkpoint's run, else "qvhighlights".
        device: "auto", "cpu", "cuda" or "cuda:N".
        batch_size: samples per forward pass.
        num_workers: DataLoader workers.
        amp: bf16 autocast on CUDA.
        cache: read the split's features into memory first.

    Returns:
        InferResult (path, rows written, dataset kind, seconds).

    Raises:
        FileNotFoundError / ValueError: bad checkpoint, annotations or store (messages name them).
        MissingFeaturesError: the store lacks entries of the split (listed).
    """
    started = time.perf_counter()
    ckpt = load_checkpoint(checkpoint)
    model, _, postprocess, experiment = build_from_checkpoint(ckpt)
    run = ckpt.get("run") or {}
    kind = dataset_kind or run.get("val_kind") or run.get("dataset_kind") or "qvhighlights"
    rows = read_split(annotations, kind)
    dataset = build_dataset(rows, store, experiment, kind, "eval", cache)
    dev = resolve_device(device)
    loader = build_loader(dataset, batch_size, shuffle=False, num_workers=num_workers, pin_memory=dev.type == "cuda")
    model.to(dev)
    progress.start(PROGRESS_KEY, len(loader), f"infer {Path(annotations).name}")
    try:
        predictions = predict_rows(model, postprocess, checked(loader, experiment, str(store)), dev,
                                   amp_dtype_for(dev, amp), PROGRESS_KEY)
    finally:
        progress.finish(PROGRESS_KEY)
    path = write_jsonl(predictions, out_jsonl)
    seconds = time.perf_counter() - started
    log.info("wrote %d %s predictions of %s to %s in %.1f s", len(predictions), kind, annotations, path, seconds)
    return InferResult(path, len(predictions), kind, seconds)
