"""Presets and configs: the releases' parameter counts, validation, model-info text."""

from __future__ import annotations

import json

import pytest
import torch
from pydantic import ValidationError

from model.build import build_model, count_parameters
from model.config import ExperimentConfig, FeatureSet
from model.presets import describe_preset, get_preset, list_presets
from model.zoo.registry import FAMILIES
from model.zoo.videolights.config import VideoLightsConfig

#: preset -> the fixture folder whose paper_size_keys.json holds the release's parameter count
SCRIPT_SIZE = {
    "videolights-qvhighlights": "videolights", "videolights-b-qvhighlights": "videolights_b",
    "trdetr-qvhighlights": "trdetr", "taskweave-qvhighlights": "taskweave",
    "moment_detr-qvhighlights": "moment_detr", "qd_detr-qvhighlights": "qd_detr", "cg_detr-qvhighlights": "cg_detr",
}  # fmt: skip


@pytest.mark.parametrize("preset", sorted(SCRIPT_SIZE))
def test_parameter_count_equals_the_release_at_script_size(preset: str, data_dir) -> None:
    spec = json.loads((data_dir / "release" / SCRIPT_SIZE[preset] / "paper_size_keys.json").read_text())
    model, _, _ = build_model(get_preset(preset))
    assert count_parameters(model) == spec["n_params"]


def test_every_model_has_dataset_and_tiny_presets() -> None:
    names = list_presets()
    for family in FAMILIES:
        for dataset in ("qvhighlights", "charades_sta", "tvsum"):
            assert f"{family}-{dataset}" in names
        assert ("tiny" if family == "videolights" else f"{family}-tiny") in names
    for name in ("videolights-b-qvhighlights", "videolights-pretrain", "videolights-b-pretrain"):
        assert name in names


def test_presets_named_after_a_paper_are_release_exact() -> None:
    for name in list_presets():
        cfg = get_preset(name)
        assert cfg.model.fidelity == "release" and cfg.model.corrections == (), name


def test_qvhighlights_training_values_follow_the_scripts() -> None:
    qv = get_preset("videolights-qvhighlights")
    assert (qv.model.video_dim, qv.model.text_dim) == (2818, 512)
    qv_b = get_preset("videolights-b-qvhighlights")
    assert (qv_b.model.video_dim, qv_b.model.text_dim) == (3586, 1280)
    for family in FAMILIES:
        train = get_preset(f"{family}-qvhighlights").train
        assert (train.lr, train.weight_decay, train.grad_clip, train.clip_seconds) == (1e-4, 1e-4, 0.1, 2.0), family


def test_describe_preset_prints_the_fidelity_table_and_parameter_count() -> None:
    for name in ("tiny", "trdetr-qvhighlights"):
        text = describe_preset(name)
        model, _, _ = build_model(get_preset(name))
        assert f"parameters: {count_parameters(model)}" in text.splitlines()
        assert "fidelity: release (corrections applied: none)" in text
        assert "| difference | release | corrected | why |" in text
    assert "source: " in describe_preset("qd_detr-qvhighlights")


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="videolights-qvhighlights"):
        describe_preset("videolights-imaginary")


def test_configs_are_frozen_and_reject_typos() -> None:
    with pytest.raises(ValidationError, match="hiden_dim"):
        VideoLightsConfig(hiden_dim=32)
    cfg = get_preset("tiny")
    with pytest.raises(ValidationError):
        cfg.model.video_dim = 64  # type: ignore[misc]


def test_model_name_selects_the_config_class_and_unknown_names_are_refused() -> None:
    for family in FAMILIES.values():
        cfg = ExperimentConfig.model_validate({"model": {"name": family.name}, "features": None})
        assert type(cfg.model) is family.config
    with pytest.raises(ValidationError, match="not-a-model"):
        ExperimentConfig.model_validate({"model": {"name": "not-a-model"}})


def test_a_field_of_another_model_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="nonexistent_switch"):
        ExperimentConfig.model_validate({"model": {"name": "qd_detr", "nonexistent_switch": 1}, "features": None})


def test_unknown_correction_names_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="corrections"):
        ExperimentConfig.model_validate({"model": {"name": "videolights", "corrections": ["no_such_fix"]},
                                         "features": None})


def test_feature_sets_and_their_order() -> None:
    sf_b = FeatureSet(video=("slowfast", "blip2"), text=("blip2",))
    assert sf_b.dims() == (2304 + 768 + 2, 768)
    with pytest.raises(ValidationError, match="order"):
        FeatureSet(video=("clip", "slowfast"))
    exp = get_preset("qd_detr-qvhighlights").with_features(sf_b)
    assert (exp.model.video_dim, exp.model.text_dim) == (3074, 768)
    build_model(exp)
    with pytest.raises(ValidationError, match="dims"):
        ExperimentConfig(model=VideoLightsConfig(video_dim=100), features=FeatureSet())


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["videolights-b-qvhighlights", "cg_detr-qvhighlights"])
def test_paper_size_training_step_on_cpu(preset: str) -> None:
    from pipeline.datasets import forward_kwargs

    cfg = get_preset(preset)
    model, criterion, _ = build_model(cfg)
    batch, clips, words = 8, 75, 20
    gen = torch.Generator().manual_seed(0)
    video_mask, text_mask = torch.ones(batch, clips), torch.ones(batch, words)
    video_mask[::2, 60:] = 0
    text_mask[1::2, 12:] = 0
    labels = torch.zeros(batch, clips)
    labels[:, 10:30] = 6.0
    data = {
        "src_vid": torch.randn(batch, clips, cfg.model.video_dim, generator=gen), "src_vid_mask": video_mask,
        "src_txt": torch.randn(batch, words, cfg.model.text_dim, generator=gen), "src_txt_mask": text_mask,
        "span_labels": [{"spans": torch.tensor([[0.27, 0.27]])} for _ in range(batch)],
        "saliency_pos_labels": torch.tensor([[12, 20]] * batch), "saliency_neg_labels": torch.tensor([[40, 50]] * batch),
        "saliency_all_labels": labels, "meta": [{"vid": f"v{i}_0_150", "qid": i} for i in range(batch)],
    }  # fmt: skip
    model.train()
    outputs = model(**forward_kwargs(model, data, epoch=3, training=True))
    assert outputs["pred_spans"].shape == (batch, 10, 2)
    targets = {k: v for k, v in data.items() if k.startswith(("span", "saliency"))}
    losses = criterion(outputs, {**targets, "epoch": 3})
    losses["total"].backward()
    assert torch.isfinite(losses["total"])
