"""Helpers of the inference tests: random tiny-CLIP features in a real store, QVHighlights rows, a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model.build import build_model, make_checkpoint
from model.config import FeatureSet
from model.presets import get_preset
from pipeline.training import save_checkpoint
from storage import EntrySpec, FeatureStore, fingerprint_text

TINY_CLIP = FeatureSet(video=("clip",), text=("clip",), extractor_preset="tiny")
DIM = 32
SOURCE = fingerprint_text("random features of tests/inference")


def write_random_split(root: Path, n_videos: int = 6, n_clips: int = 16, labels: bool = True,
                       seed: int = 0) -> dict[str, str]:
    """A store with random video/text features and a QVHighlights jsonl ({"store", "annotations"})."""
    rng = np.random.default_rng(seed)
    store = FeatureStore(root / "features.zarr")
    vspec = EntrySpec(extractor="clip", version="random", weights_id="tiny:seed0", preset="tiny", clip_seconds=2.0)
    tspec = EntrySpec(extractor="clip", version="random", weights_id="tiny:seed0", preset="tiny")
    rows = []
    for i in range(n_videos):
        vid = f"video{i:03d}"
        store.write_video("clip", vid, rng.standard_normal((n_clips, DIM)), vspec, SOURCE)
        tokens = rng.standard_normal((int(rng.integers(3, 9)), DIM))
        store.write_text("clip", i, tokens, tokens[0], tspec, SOURCE)
        row = {"qid": i, "query": f"query {i}", "duration": 2.0 * n_clips, "vid": vid}
        if labels:
            first = int(rng.integers(0, n_clips - 4))
            ids = list(range(first, first + 3))
            row.update(relevant_windows=[[2.0 * first, 2.0 * (first + 3)]], relevant_clip_ids=ids,
                       saliency_scores=rng.integers(0, 5, size=(3, 3)).tolist())
        rows.append(row)
    path = root / ("val.jsonl" if labels else "test.jsonl")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {"store": str(root / "features.zarr"), "annotations": str(path)}


def tiny_checkpoint(path: Path, features: FeatureSet = TINY_CLIP, seed: int = 0) -> Path:
    """An untrained tiny model on `features`, saved as a checkpoint of this pipeline."""
    import torch

    experiment = get_preset("tiny").with_features(features)
    torch.manual_seed(seed)
    model, _, _ = build_model(experiment)
    return save_checkpoint(make_checkpoint(model, experiment), path)
