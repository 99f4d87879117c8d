"""Presets and configs: paper parameter counts, table values, validation, model-info text."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from model.build import build_model, count_parameters
from model.config import ExperimentConfig, FeatureSet, LossConfig, ModelConfig
from model.presets import describe_preset, get_preset, list_presets

# trainable parameters of the authors' own build of the two QVHighlights configurations
AUTHORS_PARAMS = {
    "videolights-qvhighlights": 10_399_975,
    "videolights-b-qvhighlights": 10_796_263,
}


@pytest.mark.parametrize("name", sorted(AUTHORS_PARAMS))
def test_parameter_count_matches_the_paper(name: str) -> None:
    model, _, _ = build_model(get_preset(name))
    assert count_parameters(model) == pytest.approx(AUTHORS_PARAMS[name], rel=0.02)


def test_preset_names() -> None:
    names = list_presets()
    for expected in (
        "videolights-qvhighlights",
        "videolights-b-qvhighlights",
        "videolights-charades_sta",
        "videolights-b-charades_sta",
        "videolights-tvsum",
        "videolights-pretrain",
        "videolights-b-pretrain",
        "tiny",
    ):
        assert expected in names


def test_preset_values_follow_the_spec_table() -> None:
    qv, qv_b = get_preset("videolights-qvhighlights"), get_preset("videolights-b-qvhighlights")
    assert (qv.model.video_dim, qv.model.text_dim) == (2818, 512)
    assert (qv_b.model.video_dim, qv_b.model.text_dim) == (3586, 1280)
    assert (qv.loss.alignment_weight, qv_b.loss.alignment_weight) == (0.01, 0.2)
    assert (qv.train.epochs, qv.train.batch_size, qv.train.lr, qv.train.lr_drop) == (200, 32, 1e-4, 400)
    assert (qv.train.weight_decay, qv.train.grad_clip, qv.train.seed, qv.train.eval_every) == (
        1e-4, 0.1, 2018, 5,
    )  # fmt: skip
    ch = get_preset("videolights-charades_sta")
    assert (ch.train.epochs, ch.train.lr_drop, ch.train.clip_seconds) == (100, 100, 1.0)
    assert ch.loss.alignment_weight == 0.3
    tv = get_preset("videolights-tvsum")
    assert (tv.train.epochs, tv.train.batch_size, tv.train.lr, tv.train.max_clips) == (2000, 4, 1e-3, 1000)
    assert tv.loss.moment_losses is False
    pt = get_preset("videolights-b-pretrain")
    assert (pt.train.batch_size, pt.loss.alignment_weight) == (256, 0.01)
    m, loss = qv.model, qv.loss
    assert (m.hidden_dim, m.num_heads, m.ffn_dim, m.enc_layers, m.dec_layers, m.num_queries) == (
        256, 8, 1024, 3, 3, 10,
    )  # fmt: skip
    assert (loss.span_l1_weight, loss.span_giou_weight, loss.label_weight, loss.eos_coef) == (10, 1, 4, 0.1)
    assert (loss.saliency_margin, loss.hard_coefficient, loss.rank_contrastive_tau) == (0.2, 10, 0.5)


def test_tiny_preset_is_tiny() -> None:
    cfg = get_preset("tiny").model
    assert (cfg.hidden_dim, cfg.enc_layers, cfg.dec_layers, cfg.num_queries) == (32, 1, 1, 4)


def test_describe_preset_prints_parameter_count() -> None:
    text = describe_preset("tiny")
    model, _, _ = build_model(get_preset("tiny"))
    assert f"parameters: {count_parameters(model)}" in text.splitlines()
    assert "model.hidden_dim: 32" in text


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="videolights-qvhighlights"):
        describe_preset("videolights-imaginary")


def test_configs_are_frozen_and_reject_typos() -> None:
    with pytest.raises(ValidationError):
        ModelConfig(hiden_dim=32)
    with pytest.raises(ValidationError):
        LossConfig(alignment_weigth=0.1)
    cfg = get_preset("tiny")
    with pytest.raises(ValidationError):
        cfg.model.hidden_dim = 64  # type: ignore[misc]


def test_feature_sets_and_their_order() -> None:
    sf_b = FeatureSet(video=("slowfast", "blip2"), text=("blip2",))
    assert sf_b.dims() == (2304 + 768 + 2, 768)
    with pytest.raises(ValidationError, match="order"):
        FeatureSet(video=("clip", "slowfast"))
    exp = get_preset("videolights-qvhighlights").with_features(sf_b)
    assert (exp.model.video_dim, exp.model.text_dim) == (3074, 768)
    with pytest.raises(ValidationError, match="dims"):
        ExperimentConfig(model=ModelConfig(video_dim=100), features=FeatureSet())


def test_inconsistent_model_and_loss_are_rejected() -> None:
    with pytest.raises(ValidationError, match="uni_jfm"):
        ExperimentConfig(model=ModelConfig(uni_jfm=False))
    ok = ExperimentConfig(model=ModelConfig(uni_jfm=False), loss=LossConfig(task_coupled_weight=0))
    assert ok.model.uni_jfm is False


def test_unknown_model_name_is_rejected() -> None:
    cfg = ExperimentConfig(model=ModelConfig(name="not-a-model"))
    with pytest.raises(ValueError, match="videolights"):
        build_model(cfg)


@pytest.mark.slow
def test_paper_size_forward_backward_on_cpu() -> None:
    cfg = get_preset("videolights-b-qvhighlights")
    model, criterion, _ = build_model(cfg)
    batch, clips, words = 32, 75, 20
    gen = torch.Generator().manual_seed(0)
    video = torch.randn(batch, clips, cfg.model.video_dim, generator=gen)
    text = torch.randn(batch, words, cfg.model.text_dim, generator=gen)
    video_mask, text_mask = torch.ones(batch, clips), torch.ones(batch, words)
    video_mask[::2, 60:] = 0
    text_mask[1::2, 12:] = 0
    labels = torch.zeros(batch, clips)
    labels[:, 10:30] = 6.0
    targets = {
        "span_labels": [{"spans": torch.tensor([[0.27, 0.27]])} for _ in range(batch)],
        "saliency_pos_labels": torch.tensor([[12, 20]] * batch),
        "saliency_neg_labels": torch.tensor([[40, 50]] * batch),
        "saliency_all_labels": labels,
        "epoch": 3,
    }
    outputs = model(video, video_mask, text, text_mask)
    assert outputs["pred_spans"].shape == (batch, 10, 2)
    losses = criterion(outputs, targets)
    losses["total"].backward()
    assert torch.isfinite(losses["total"])
