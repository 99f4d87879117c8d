"""VideoLightsDataset: annotation rows + stored features -> model inputs and targets, one sample per query."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import Tensor
from torch.utils.data import Dataset

from pipeline.datasets.assemble import Assembly, assemble_text, assemble_video
from pipeline.datasets.config import DatasetConfig
from pipeline.datasets.errors import AnnotationError
from pipeline.datasets.features import CachedFeatures, FeatureSource, Group, StoreFeatures, check_entries
from pipeline.datasets.readers import ROW_MODELS, Annotations
from pipeline.datasets.rows import Row
from pipeline.datasets.saliency import SaliencyTargets
from pipeline.datasets.targets import build_targets, choose_crop
from storage import FeatureStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """One (video, query) pair ready for collation.

    The encoder features stay as stored (float16, views into the cache when there is one);
    `collate` normalises and concatenates them straight into the batch. `src_vid` / `src_txt`
    give one sample's model inputs.

    Attributes:
        video: per video extractor, in concatenation order, (L, D_e) features of the kept clips.
        text: per text encoder, in concatenation order, (N, D_e) token features (N <= max_query_tokens).
        spans_cxw: float32 (n, 2) normalised (centre, width) target windows; None without moments
            (TVSum) or without labels (test rows).
        saliency: saliency targets; None without labels.
        meta: qid, vid, query, duration (s), clip_seconds, n_clips (L), clip_offset (first kept
            clip of the video), index (row index) and line (annotation file line).
        assembly: normalisation and endpoint options.
    """

    video: tuple[np.ndarray, ...]
    text: tuple[np.ndarray, ...]
    spans_cxw: Tensor | None
    saliency: SaliencyTargets | None
    meta: dict[str, Any] = field(default_factory=dict)
    assembly: Assembly = Assembly()

    @property
    def src_vid(self) -> np.ndarray:
        """float32 (L, Dv) clip features: encoders L2-normalised and concatenated, then endpoints."""
        return assemble_video(self.video, self.assembly)

    @property
    def src_txt(self) -> np.ndarray:
        """float32 (N, Dt) token features: encoders L2-normalised and concatenated."""
        return assemble_text(self.text, self.assembly)


def needed_entries(rows: Sequence[Row], cfg: DatasetConfig) -> dict[Group, list[str]]:
    """(kind, extractor) -> the store keys the rows need (vids for video, qids for text)."""
    vids = list(dict.fromkeys(str(r.vid) for r in rows))
    qids = list(dict.fromkeys(str(r.qid) for r in rows))
    needs: dict[Group, list[str]] = {("video", e): vids for e in cfg.video_extractors}
    needs.update({("text", e): qids for e in cfg.text_encoders})
    return needs


class VideoLightsDataset(Dataset):
    """A torch Dataset of (video, query) samples built from annotation rows and a feature store.

    Construction checks that every needed store entry exists (one MissingFeaturesError listing
    all that do not) and, with `config.cache`, reads them all into memory. Random choices
    (saliency pairs, window subsets, crops) depend only on (config.seed, epoch, index): the
    same sample comes out in any worker and in cached or uncached mode. Call `set_epoch` at
    the start of every training epoch; eval samples ignore the epoch.
    """

    def __init__(self, rows: Annotations | Sequence[Row], store: FeatureStore, config: DatasetConfig):
        self.config = config
        self.rows = rows if isinstance(rows, Annotations) else Annotations.from_rows(config.kind, rows)
        self._check_rows()
        if config.domain is not None:
            self.rows = self.rows.select([i for i, r in enumerate(self.rows) if r.domain == config.domain])
            if not len(self.rows):
                raise ValueError(f"{self.rows.source}: no row of domain {config.domain!r}; expected at least "
                                 "one video of that domain")
        shapes = check_entries(store, needed_entries(self.rows, config), config.cache_workers)
        self.features: FeatureSource
        if config.cache:
            self.features = CachedFeatures.load(store, shapes, config.cache_workers,
                                                max_rows={"text": config.max_query_tokens})
        else:
            self.features = StoreFeatures(store)
        self.assembly = Assembly(config.temporal_endpoints, config.normalize, config.norm_eps)
        self.epoch = 0
        log.info("%s %s dataset: %d queries, %d videos, video %s, text %s, %s", config.kind, config.split,
                 len(self.rows), len({r.vid for r in self.rows}), list(config.video_extractors),
                 list(config.text_encoders), "cached in memory" if config.cache else "read from the store per item")

    def _check_rows(self) -> None:
        model = ROW_MODELS[self.config.kind]
        problems = []
        for i, row in enumerate(self.rows):
            if not isinstance(row, model):
                problems.append(f"line {self.rows.lines[i]}: a {type(row).__name__}; expected a {model.__name__} "
                                f"for a {self.config.kind} dataset")
            elif self.config.split == "train" and not row.has_labels:
                problems.append(f"line {self.rows.lines[i]} (qid {row.qid!r}): no labels; a train split needs "
                                "relevant_windows, relevant_clip_ids and saliency_scores")
        if problems:
            raise AnnotationError(self.rows.source, problems)

    def set_epoch(self, epoch: int) -> None:
        """Draw the training samples of `epoch` (saliency pairs, crops, window subsets)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.rows)

    def rng(self, index: int) -> np.random.Generator:
        """The generator of sample `index` in the current epoch (fixed across epochs for eval)."""
        epoch = self.epoch if self.config.split == "train" else 0
        return np.random.default_rng([self.config.seed, epoch, index])

    def __getitem__(self, index: int) -> Sample:
        cfg, row = self.config, self.rows[index]
        rng = self.rng(index)
        video = [self.features.video(e, str(row.vid)) for e in cfg.video_extractors]
        n_available = min(v.shape[0] for v in video)
        if n_available == 0:
            raise ValueError(f"{self.rows.where(index)}: video {row.vid!r} has 0 clips in the store "
                             f"(extractors {list(cfg.video_extractors)}); expected at least one clip")
        windows = np.asarray(row.windows, dtype=np.float64).reshape(-1, 2)
        crop = choose_crop(n_available, windows, cfg, rng)
        video = tuple(v[crop.offset:crop.offset + crop.n_clips] for v in video)
        text = [self.features.text(e, str(row.qid)) for e in cfg.text_encoders]
        n_tokens = min(cfg.max_query_tokens, *(t.shape[0] for t in text))  # cut to the shortest encoder
        if n_tokens == 0:
            raise ValueError(f"{self.rows.where(index)}: query {row.qid!r} has 0 tokens in the store "
                             f"(encoders {list(cfg.text_encoders)}); expected at least one token")
        targets = build_targets(row, crop, cfg, rng)
        meta = {"qid": row.qid, "vid": row.vid, "query": row.query, "duration": row.duration,
                "clip_seconds": cfg.clip_seconds, "n_clips": crop.n_clips, "clip_offset": crop.offset,
                "index": index, "line": self.rows.lines[index]}
        return Sample(video, tuple(t[:n_tokens] for t in text), targets.spans_cxw if targets else None,
                      targets.saliency if targets else None, meta, self.assembly)
