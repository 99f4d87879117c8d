"""Datasets and loaders of a run, assembled in exactly the order the model's FeatureSet names."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from model.config import ExperimentConfig
from pipeline.datasets.collate import collate
from pipeline.datasets.config import DatasetConfig
from pipeline.datasets.dataset import VideoLightsDataset
from pipeline.datasets.readers import Annotations, read_annotations
from pipeline.evaluation.kinds import KINDS
from storage import FeatureStore

log = logging.getLogger(__name__)

#: Dataset kind -> (evaluator of pipeline.evaluation, extended keys); see pipeline.evaluation.kinds.
EVALUATION: dict[str, tuple[str, bool]] = {kind: (info.evaluator, info.extended) for kind, info in KINDS.items()}


def dataset_config(experiment: ExperimentConfig, kind: str, split: str, *, cache: bool = False,
                   **overrides: Any) -> DatasetConfig:
    """The DatasetConfig that feeds `experiment`'s model: its encoders, in its order, and its lengths.

    Video extractors, text encoders and the temporal endpoints come from experiment.features,
    clip length, max clips, max query tokens and the sampling seed from experiment.train, so a
    dataset cannot assemble features in another order (or size) than the model was built for.

    Raises:
        ValueError: the experiment has no feature set (synthetic-input presets such as `tiny`
            need one: ExperimentConfig.with_features).
    """
    features = experiment.features
    if features is None:
        raise ValueError("the experiment has no feature set, so it cannot read stored features; "
                         "give it one with ExperimentConfig.with_features(FeatureSet(...))")
    train = experiment.train
    return DatasetConfig(kind=kind, split=split, video_extractors=features.video, text_encoders=features.text,
                         temporal_endpoints=features.temporal_endpoints, clip_seconds=train.clip_seconds,
                         max_clips=train.max_clips, max_query_tokens=train.max_query_tokens, seed=train.seed,
                         cache=cache, **overrides)


def read_split(path: str | os.PathLike, kind: str, domain: str | None = None) -> Annotations:
    """Annotation rows of one split, only TVSum `domain`'s videos when a domain is given.

    Raises:
        ValueError: no row of the file belongs to `domain`.
    """
    rows = read_annotations(path, kind)  # type: ignore[arg-type]
    if domain is None:
        return rows
    keep = [i for i, row in enumerate(rows) if getattr(row, "domain", None) == domain]
    if not keep:
        found = sorted({getattr(row, "domain", None) or "?" for row in rows})
        raise ValueError(f"{path}: no row of domain {domain!r}; the file has domains {found}")
    return rows.select(keep)


def build_dataset(rows: Annotations, store: str | FeatureStore, experiment: ExperimentConfig, kind: str,
                  split: str, cache: bool) -> VideoLightsDataset:
    """A VideoLightsDataset over `store` whose features fit `experiment`'s model."""
    store = store if isinstance(store, FeatureStore) else FeatureStore(store, mode="r")
    return VideoLightsDataset(rows, store, dataset_config(experiment, kind, split, cache=cache))


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The shuffling generator of one epoch: depends only on (seed, epoch), so a resumed run
    draws the same batches as an uninterrupted one."""
    value = int(np.random.SeedSequence([seed & 0xFFFFFFFF, epoch]).generate_state(1, np.uint64)[0])
    return torch.Generator().manual_seed(value)


def build_loader(dataset: VideoLightsDataset, batch_size: int, *, shuffle: bool, num_workers: int = 0,
                 pin_memory: bool = False, generator: torch.Generator | None = None) -> DataLoader:
    """DataLoader with `collate`; workers (if any) get their seeds from `generator`.

    Workers are spawned, not forked: zarr 3 runs its I/O on a background event-loop thread, and a
    child forked after that thread started (any earlier store read in this process) cannot use it.
    """
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=collate,
                      num_workers=num_workers, pin_memory=pin_memory, generator=generator,
                      persistent_workers=False, multiprocessing_context="spawn" if num_workers else None)


def ground_truth(rows: Annotations) -> list[dict]:
    """Rows as the plain dicts evaluate_submission reads."""
    return [row.model_dump(mode="json", exclude_none=True) for row in rows]


def check_input_sizes(batch: dict, experiment: ExperimentConfig, where: str) -> None:
    """Refuse a batch whose feature sizes differ from the model's inputs, saying why it may be so.

    Raises:
        ValueError: the stored features have other sizes than the feature set says (for example
            tiny-preset features for a paper-feature model).
    """
    got = (int(batch["src_vid"].shape[-1]), int(batch["src_txt"].shape[-1]))
    want = (experiment.model.video_dim, experiment.model.text_dim)
    if got != want:
        features = experiment.features
        raise ValueError(
            f"{where}: the store's features assemble to (video, text) sizes {got} but the model expects {want} "
            f"for {list(features.video)}/{list(features.text)} with extractor_preset={features.extractor_preset!r}; "
            "extract the features with the matching extractor preset, or train with a feature set that matches"
        )


def checked(batches: Iterable[dict], experiment: ExperimentConfig, where: str) -> Iterator[dict]:
    """Yield the batches, checking the first one's feature sizes (check_input_sizes)."""
    for i, batch in enumerate(batches):
        if i == 0:
            check_input_sizes(batch, experiment, where)
        yield batch


def store_specs(store: str | FeatureStore, experiment: ExperimentConfig, rows: Annotations) -> dict[str, dict]:
    """Producer records ("spec" attributes) of the first row's entries, keyed "video/<name>" and
    "text/<name>": which extractor version and weights made the features a checkpoint learns from."""
    store = store if isinstance(store, FeatureStore) else FeatureStore(store, mode="r")
    if not len(rows) or experiment.features is None:
        return {}
    first = rows[0]
    found = {}
    for kind, names, key in (("video", experiment.features.video, first.vid),
                             ("text", experiment.features.text, first.qid)):
        for name in names:
            attrs = store.attrs(kind, name, str(key)) or {}
            found[f"{kind}/{name}"] = dict(attrs.get("spec") or {})
    return found
