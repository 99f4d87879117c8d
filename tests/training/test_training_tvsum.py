"""TVSum: one model per domain, saliency losses only, selected on the top-5 mAP."""

from __future__ import annotations

import json

import numpy as np

from model.config import FeatureSet
from pipeline.training import TrainRunConfig, load_checkpoint, train
from storage import EntrySpec, FeatureStore, fingerprint_text

TINY_SF_C = FeatureSet(video=("slowfast", "clip"), text=("clip",), extractor_preset="tiny")
DIMS = {"slowfast": 288, "clip": 32}


def _write(root, split: str, domains: list[str], seed: int) -> str:
    rng = np.random.default_rng(seed)
    store = FeatureStore(root / "features.zarr")
    source = fingerprint_text("tvsum test")
    rows = []
    for i, domain in enumerate(domains):
        vid = f"{split}{i}"
        n_clips = int(rng.integers(10, 16))
        for name, dim in DIMS.items():
            spec = EntrySpec(extractor=name, version="t", weights_id="tiny:seed0", preset="tiny", clip_seconds=2.0)
            store.write_video(name, vid, rng.standard_normal((n_clips, dim)), spec, source)
        tokens = rng.standard_normal((2, DIMS["clip"]))
        text_spec = EntrySpec(extractor="clip", version="t", weights_id="tiny:seed0", preset="tiny")
        store.write_text("clip", vid, tokens, tokens[0], text_spec, source)
        label = rng.integers(1, 6, size=(n_clips, 20)).astype(float).tolist()
        rows.append({"qid": vid, "query": domain, "duration": n_clips, "vid": vid, "domain": domain, "label": label})
    path = root / f"{split}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_tvsum_trains_one_domain_and_selects_on_top5_map(tmp_path) -> None:
    domain = "BK"
    train_path = _write(tmp_path, "train", ["BK", "BK", "BK", "BT", "BT"], seed=0)
    val_path = _write(tmp_path, "val", ["BK", "BT"], seed=1)
    config = TrainRunConfig(preset="videolights-tvsum", features=TINY_SF_C, domain=domain,
                            train_annotations=train_path, val_annotations=val_path, dataset_kind="tvsum",
                            store=str(tmp_path / "features.zarr"), out_dir=str(tmp_path / "run"), epochs=1,
                            device="cpu")
    result = train(config)
    line = json.loads(result.metrics_path.read_text())
    assert line["samples"] == 3  # the BK videos only
    assert "loss_span" not in line["loss"] and "loss_saliency" in line["loss"]  # no moments for TVSum
    assert set(result.best_metrics) == {"TVSum-top5-mAP", "TVSum-BK-top5-mAP"}
    assert result.best_score == result.best_metrics["TVSum-top5-mAP"]
    assert load_checkpoint(result.best_checkpoint)["run"]["domain"] == domain
