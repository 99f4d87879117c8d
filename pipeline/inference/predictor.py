"""Predict moments and saliency on raw videos: encode a video once, then answer any number of queries."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from model.build import build_from_checkpoint
from model.config import ExperimentConfig
from pipeline.common import progress
from pipeline.common.checkpoint import load_checkpoint
from pipeline.extract import DecodeConfig, ExtractConfig, build_text_encoders, build_video_extractors
from pipeline.common.device import (
    amp_dtype_for,
    autocast,
    float_outputs,
    resolve_device,
)
from pipeline.datasets import Assembly, forward_kwargs, pad_and_concat, to_device
from pipeline.inference.windows import (
    NMS_IOU,
    merge_moments,
    merge_saliency,
    window_starts,
)
from pipeline.video import DecodeStats, clip_grid, decode_clips, probe_video

log = logging.getLogger(__name__)

PROGRESS_KEY = "encode"
PREDICT_PROGRESS_KEY = "predict"
#: Stride of the overlapping windows as a fraction of the window (75 clips -> stride 50).
STRIDE_FRACTION = 2 / 3


@dataclass(frozen=True)
class EncodedVideo:
    """One video's features from the checkpoint's extractors, reusable for any number of queries.

    Attributes:
        path: the video file.
        duration: seconds (the probe's).
        clip_seconds: clip length of the features.
        extractors: extractor names, in the model's concatenation order.
        features: per extractor, float16 (n_clips, dim) rows (the store's precision).
    """

    path: str
    duration: float
    clip_seconds: float
    extractors: tuple[str, ...]
    features: tuple[np.ndarray, ...]

    @property
    def n_clips(self) -> int:
        return min(f.shape[0] for f in self.features)


class Predictor:
    """A trained checkpoint plus the frozen extractors its features came from.

    Videos longer than the training length (max_clips clips, 150 s for QVHighlights) are cut
    into overlapping windows of `window_clips` clips (default max_clips) every `stride_clips`
    clips (default 2/3 of the window: 75 -> 50), the last window ending at the last clip.
    Each window is predicted on its own (temporal endpoints relative to the window, as in
    training crops) and the results are merged:
      - saliency: a clip's score is the mean of its scores in the windows that cover it;
      - moments: each window's top-k windows, shifted to absolute time and clamped to the
        video, are pooled and reduced by greedy non-maximum suppression at IoU 0.7 to the
        top 10 (top_k of the checkpoint's PostProcess).
    A video that fits in one window is predicted in one pass, without NMS (as `infer` does).
    """

    def __init__(self, model: nn.Module, postprocess: nn.Module, experiment: ExperimentConfig,
                 video_extractors: Mapping[str, Any], text_encoders: Mapping[str, Any], device: torch.device, *,
                 window_clips: int | None = None, stride_clips: int | None = None, batch_size: int = 32,
                 amp: bool = True):
        if experiment.features is None:
            raise ValueError("the experiment has no feature set; a Predictor needs the features it was trained on")
        self.model, self.postprocess, self.experiment = model.to(device).eval(), postprocess, experiment
        self.features = experiment.features
        self.video_extractors = {name: video_extractors[name] for name in self.features.video}
        self.text_encoders = {name: text_encoders[name] for name in self.features.text}
        self.device, self.batch_size = device, batch_size
        self.amp_dtype = amp_dtype_for(device, amp)
        self.window = window_clips or experiment.train.max_clips
        self.stride = stride_clips or max(1, round(self.window * STRIDE_FRACTION))
        window_starts(self.window, self.window, self.stride)  # validates the pair
        self.assembly = Assembly(endpoints=self.features.temporal_endpoints)
        self._check_dims()

    def _check_dims(self) -> None:
        video = sum(e.dim for e in self.video_extractors.values()) + (2 if self.features.temporal_endpoints else 0)
        text = sum(e.dim for e in self.text_encoders.values())
        model = self.experiment.model
        if (video, text) != (model.video_dim, model.text_dim):
            raise ValueError(f"the extractors give (video, text) sizes {(video, text)} but the model expects "
                             f"{(model.video_dim, model.text_dim)}; use the extractor preset the checkpoint was "
                             f"trained on ({self.features.extractor_preset!r})")

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, extract_preset: str | None = None, device: str = "auto",
                        weights_dir: str | os.PathLike | None = None, **options: Any) -> Predictor:
        """Load a checkpoint and build the extractors recorded in it (feature set + extractor preset).

        Args:
            path: a checkpoint of this pipeline (best.ckpt / last.ckpt).
            extract_preset: "paper" or "tiny"; default (and the only accepted value) is the one
                the checkpoint's features were extracted with.
            device: "auto", "cpu", "cuda" or "cuda:N" (model and extractors).
            weights_dir: where the paper extractors' weights are (default: the usual caches).
            **options: window_clips, stride_clips, batch_size, amp (see the class docstring).

        Raises:
            ValueError: the checkpoint has no feature set, or extract_preset differs from it.
            MissingWeightsError: paper weights not found (the message names the file).
        """
        ckpt = load_checkpoint(path)
        model, _, postprocess, experiment = build_from_checkpoint(ckpt)
        features = experiment.features
        if features is None:
            raise ValueError(f"{path}: the model was built for synthetic inputs (no feature set); "
                             "it cannot read videos")
        preset = extract_preset or features.extractor_preset
        if preset != features.extractor_preset:
            raise ValueError(f"{path}: trained on {features.extractor_preset!r} extractor features; got "
                             f"extract_preset={preset!r} (features of other extractors would be meaningless to it)")
        dev = resolve_device(device)
        config = ExtractConfig(extractors=features.video, text_encoders=features.text, preset=preset,
                               device=str(dev), weights_dir=str(weights_dir) if weights_dir else None,
                               decode=DecodeConfig(clip_seconds=experiment.train.clip_seconds),
                               seed=_tiny_seed(ckpt) if preset == "tiny" else 0)
        return cls(model, postprocess, experiment, build_video_extractors(config), build_text_encoders(config), dev,
                   **options)

    def encode_video(self, path: str | os.PathLike, stats: DecodeStats | None = None) -> EncodedVideo:
        """Decode a video once (pipeline.video.decode_clips) and run every extractor on its clips.

        Raises:
            VideoDecodeError: the file is not a readable video.
        """
        started = time.perf_counter()
        clip_seconds = self.experiment.train.clip_seconds
        info = probe_video(path)
        consumers = {name: ext.sampling for name, ext in self.video_extractors.items()}
        rows: dict[str, list[np.ndarray]] = {name: [] for name in consumers}
        progress.start(PROGRESS_KEY, len(clip_grid(info.duration, clip_seconds)), f"encode {Path(path).name}")
        try:
            for chunk in decode_clips(path, consumers, clip_seconds, info=info, stats=stats):
                for name, ext in self.video_extractors.items():
                    rows[name].append(ext.encode_video(chunk.frames[name], self.batch_size))
                progress.advance(PROGRESS_KEY, len(chunk.clip_times))
        finally:
            progress.finish(PROGRESS_KEY)
        features = tuple(np.concatenate(rows[name]).astype(np.float16) for name in self.features.video)
        encoded = EncodedVideo(str(path), float(info.duration), clip_seconds, tuple(self.features.video), features)
        log.info("%s: %d clips encoded with %s in %.1f s", path, encoded.n_clips, "+".join(self.features.video),
                 time.perf_counter() - started)
        return encoded

    def encode_queries(self, queries: Sequence[str]) -> list[tuple[np.ndarray, ...]]:
        """Per query, per text encoder (in order) float16 (n_tokens, dim) token features."""
        limit = self.experiment.train.max_query_tokens
        per_encoder = [enc.encode_text(list(queries)) for enc in self.text_encoders.values()]
        return [tuple(found[i].tokens[:limit].astype(np.float16) for found in per_encoder)
                for i in range(len(queries))]

    def predict(self, video: str | os.PathLike | EncodedVideo, queries: str | Sequence[str]) -> list[dict]:
        """Moments and saliency for each query on one video.

        Args:
            video: a video file (encoded here) or an EncodedVideo (encode once, ask many times).
            queries: one query or several.

        Returns:
            one dict per query: "query"; "pred_relevant_windows", up to top_k [start_s, end_s,
            score] by descending score; "pred_saliency_scores", one score per clip; plus
            "video", "duration" (s) and "clip_seconds".
        """
        queries = [queries] if isinstance(queries, str) else list(queries)
        if not queries or any(not q.strip() for q in queries):
            raise ValueError(f"got queries {queries!r}; expected one or more non-empty texts")
        encoded = video if isinstance(video, EncodedVideo) else self.encode_video(video)
        if encoded.extractors != tuple(self.features.video):
            raise ValueError(f"{encoded.path}: encoded with {list(encoded.extractors)}; this model reads "
                             f"{list(self.features.video)}")
        texts = self.encode_queries(queries)
        starts = window_starts(encoded.n_clips, self.window, self.stride)
        results = self._run([(q, s) for q in range(len(queries)) for s in starts], encoded, texts)
        out = []
        for q, query in enumerate(queries):
            found = results[q * len(starts):(q + 1) * len(starts)]
            if len(starts) == 1:
                windows, saliency = found[0]["windows"], found[0]["saliency"]
            else:
                saliency = merge_saliency(encoded.n_clips, starts, [r["saliency"] for r in found])
                windows = merge_moments(starts, [r["windows"] for r in found], encoded.clip_seconds,
                                        encoded.duration, self.postprocess.top_k, NMS_IOU)
            out.append({"query": query, "pred_relevant_windows": windows, "pred_saliency_scores": saliency,
                        "video": encoded.path, "duration": encoded.duration, "clip_seconds": encoded.clip_seconds})
        return out

    def _run(self, jobs: list[tuple[int, int]], encoded: EncodedVideo,
             texts: list[tuple[np.ndarray, ...]]) -> list[dict]:
        """PostProcess results of every (query, window start) job, in order; one progress step per job.

        Jobs are batched only with jobs of the same window length and query length: nothing is
        padded, so a release model whose attention masks leak between the samples of a padded batch
        (VideoLights' Bi-CMF, the T2V layers of QD-DETR's lineage) predicts each job as it would alone.
        """
        n = encoded.n_clips
        shape = {i: (min(self.window, n - s), len(texts[q][0])) for i, (q, s) in enumerate(jobs)}
        order = sorted(range(len(jobs)), key=lambda i: shape[i])
        results: dict[int, dict] = {}
        progress.start(PREDICT_PROGRESS_KEY, len(jobs), f"predict {Path(encoded.path).name}")
        try:
            with torch.inference_mode():
                start = 0
                while start < len(order):
                    stop = start
                    while (stop < len(order) and stop - start < self.batch_size
                           and shape[order[stop]] == shape[order[start]]):
                        stop += 1
                    chunk = order[start:stop]
                    results.update(zip(chunk, self._predict_chunk([jobs[i] for i in chunk], encoded, texts)))
                    progress.advance(PREDICT_PROGRESS_KEY, len(chunk))
                    start = stop
        finally:
            progress.finish(PREDICT_PROGRESS_KEY)
        return [results[i] for i in range(len(jobs))]

    def _predict_chunk(self, chunk: list[tuple[int, int]], encoded: EncodedVideo,
                       texts: list[tuple[np.ndarray, ...]]) -> list[dict]:
        n, clip_s = encoded.n_clips, encoded.clip_seconds
        videos = [[f[s:min(s + self.window, n)] for f in encoded.features] for _, s in chunk]
        src_vid, vid_mask = pad_and_concat(videos, self.assembly, video=True)  # (B, L, Dv)
        src_txt, txt_mask = pad_and_concat([texts[q] for q, _ in chunk], self.assembly, video=False)
        batch = {"src_vid": src_vid, "src_vid_mask": vid_mask, "src_txt": src_txt, "src_txt_mask": txt_mask}
        batch = to_device(batch, self.device)
        batch["meta"] = [{"vid": Path(encoded.path).stem, "qid": q} for q, _ in chunk]
        with autocast(self.device, self.amp_dtype):
            outputs = self.model(**forward_kwargs(self.model, batch))
        seconds = [min(encoded.duration - s * clip_s, min(self.window, n - s) * clip_s) for _, s in chunk]
        return self.postprocess(float_outputs(outputs), batch["src_vid_mask"], seconds)


def _tiny_seed(ckpt: Mapping[str, Any]) -> int:
    """Seed of the tiny extractors the training features came from ("tiny:seedN" weights ids), else 0."""
    for spec in (ckpt.get("extractors") or {}).values():
        match = re.fullmatch(r"tiny:seed(\d+)", str(spec.get("weights_id", "")))
        if match:
            return int(match.group(1))
    return 0
