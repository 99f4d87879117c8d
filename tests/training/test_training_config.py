"""Run configuration, the dataset config derived from the model's feature set, selection rules."""

from __future__ import annotations

import json

import pytest
from planted import TINY_CLIP
from pydantic import ValidationError

from model.config import FeatureSet
from model.presets import get_preset
from pipeline.datasets import DatasetConfig
from pipeline.training import TrainRunConfig, dataset_config, read_split, selection_score
from pipeline.training.selection import QVHIGHLIGHTS_WEIGHTS

BASE = dict(preset="videolights-qvhighlights", train_annotations="t.jsonl", store="s", out_dir="o")


def test_run_config_is_frozen_and_refuses_typos_and_bad_values() -> None:
    config = TrainRunConfig(**BASE)
    with pytest.raises(ValidationError):
        config.epochs = 3  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        TrainRunConfig(**BASE, epoch=3)
    with pytest.raises(ValidationError, match="known presets"):
        TrainRunConfig(**{**BASE, "preset": "videolights-imaginary"})
    with pytest.raises(ValidationError, match="init_from"):
        TrainRunConfig(**BASE, stage="finetune")
    with pytest.raises(ValidationError, match="stage='finetune'"):
        TrainRunConfig(**BASE, init_from="pre.ckpt")
    with pytest.raises(ValidationError, match="no feature set"):
        TrainRunConfig(**{**BASE, "preset": "tiny"})
    with pytest.raises(ValidationError, match="device"):
        TrainRunConfig(**BASE, device="gpu")
    with pytest.raises(ValidationError, match="TVSum"):
        TrainRunConfig(**BASE, domain="BK")
    with pytest.raises(ValidationError):
        TrainRunConfig(**BASE, epochs=0)


def test_overrides_reach_the_experiment_and_the_rest_is_the_preset() -> None:
    experiment = TrainRunConfig(**BASE, epochs=7, batch_size=3, lr=2e-4, eval_every=2, seed=5).experiment()
    preset = get_preset("videolights-qvhighlights")
    assert (experiment.train.epochs, experiment.train.batch_size, experiment.train.lr) == (7, 3, 2e-4)
    assert (experiment.train.eval_every, experiment.train.seed) == (2, 5)
    assert experiment.model == preset.model
    assert experiment.train.lr_drop == preset.train.lr_drop and experiment.train.grad_clip == 0.1
    tiny = TrainRunConfig(**{**BASE, "preset": "tiny"}, features=TINY_CLIP).experiment()
    assert (tiny.model.video_dim, tiny.model.text_dim) == (34, 32)


def test_dataset_config_follows_the_models_feature_set() -> None:
    b = get_preset("videolights-b-qvhighlights")
    cfg = dataset_config(b, "qvhighlights", "train")
    assert cfg.video_extractors == b.features.video == ("slowfast", "clip", "blip2")
    assert cfg.text_encoders == b.features.text == ("clip", "blip2")
    assert (cfg.max_clips, cfg.max_query_tokens, cfg.clip_seconds, cfg.seed) == (75, 32, 2.0, 2018)
    charades = dataset_config(get_preset("videolights-charades_sta"), "charades_sta", "eval")
    assert (charades.video_extractors, charades.clip_seconds, charades.split) == (("slowfast", "clip"), 1.0, "eval")
    # every model feature name is a store extractor name the datasets accept
    for name in ("slowfast", "clip", "blip2"):
        DatasetConfig(kind="qvhighlights", video_extractors=(name,))
    with pytest.raises(ValueError, match="no feature set"):
        dataset_config(get_preset("tiny"), "qvhighlights", "train")
    with pytest.raises(ValidationError, match="order"):
        FeatureSet(video=("clip", "slowfast"))


def test_selection_rules_follow_the_release() -> None:
    assert QVHIGHLIGHTS_WEIGHTS == {"MR-full-R1@0.3": 0.3, "MR-full-R1@0.5": 0.5, "MR-full-R1@0.7": 0.7,
                                    "MR-full-mAP@0.5": 0.5, "MR-full-mAP@0.75": 0.75, "MR-full-mAP": 0.25,
                                    "MR-long-mAP": 0.25, "MR-middle-mAP": 0.25, "MR-short-mAP": 0.25}
    everything_50 = {k: 50.0 for k in QVHIGHLIGHTS_WEIGHTS}
    assert selection_score("qvhighlights-weighted", everything_50) == pytest.approx(50.0)
    only_r1 = {"MR-full-R1@0.5": 100.0}
    assert selection_score("qvhighlights-weighted", only_r1) == pytest.approx(100 * 0.5 / 3.75)
    assert selection_score("mr-weighted", {"MR-full-R1@0.3": 80, "MR-full-R1@0.5": 60, "MR-full-R1@0.7": 40,
                                           "MR-full-mIoU": 50}) == pytest.approx((24 + 30 + 28 + 25) / 2)
    assert selection_score("R1@0.3", {"MR-full-R1@0.3": 12.5}) == 12.5
    assert selection_score("tvsum-top5-mAP", {"TVSum-top5-mAP": 80.0}) == 80.0
    with pytest.raises(ValueError, match="not in the evaluation brief"):
        selection_score("tvsum-top5-mAP", {"MR-full-mAP": 1.0})
    with pytest.raises(ValueError, match="does not fit"):
        selection_score("qvhighlights-weighted", {"TVSum-top5-mAP": 80.0})
    with pytest.raises(ValueError, match="unknown select_metric"):
        selection_score("best", {})


def test_tvsum_rows_are_filtered_by_domain(tmp_path) -> None:
    rows = [{"qid": f"v{i}", "query": d, "duration": 4, "vid": f"v{i}", "domain": d,
             "label": [[1.0] * 20, [3.0] * 20]} for i, d in enumerate(["BK", "BT", "BK"])]
    path = tmp_path / "tvsum.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [r.qid for r in read_split(path, "tvsum", "BK")] == ["v0", "v2"]
    assert len(read_split(path, "tvsum")) == 3
    with pytest.raises(ValueError, match="domains"):
        read_split(path, "tvsum", "VU")

@pytest.mark.parametrize("preset", ["trdetr-tiny", "taskweave-tiny"])
def test_every_registered_model_trains_and_evaluates(preset, make_config, tmp_path) -> None:
    from model.presets import list_presets
    from pipeline.training import train

    if preset not in list_presets():
        pytest.skip(f"no {preset} preset")
    result = train(make_config(out=tmp_path / preset, preset=preset, epochs=1))
    assert result.final_epoch == 1 and "MR-full-R1@0.5" in result.best_metrics
