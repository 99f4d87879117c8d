"""Behaviour of model.zoo.common not covered by the models' golden-fixture tests (those run the
release settings of every shared piece through moment_detr, qd_detr and taskweave)."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from model.zoo.common.checkpoint import check_required, detr_fields, split_unused
from model.zoo.common.config import DETRConfig
from model.zoo.common.decoder import DABDecoder
from model.zoo.common.encoder import EncoderLayer, T2VEncoderLayer
from model.zoo.common.losses import label_losses
from model.zoo.common.position import gen_sineembed_for_position
from model.zoo.moment_detr import MomentDETRConfig
from model.zoo.taskweave import TaskWeaveConfig


def test_t2v_layer_with_leading_token_updates_only_the_video() -> None:
    torch.manual_seed(0)
    layer = T2VEncoderLayer(16, 4, 32, 0.0).eval()
    lv, lt, bsz = 5, 3, 2
    src, pos = torch.randn(1 + lv + lt, bsz, 16), torch.randn(1 + lv + lt, bsz, 16)
    pad = torch.zeros(bsz, 1 + lv + lt, dtype=torch.bool)
    pad[1, 4:6] = True  # padded clips of video 1
    pad[0, -1] = True  # a padded token of video 0
    with torch.no_grad():
        with_token = layer(src, pad, pos, lv, video_start=1)
        without = layer(src[1:], pad[:, 1:], pos[1:], lv)
    assert torch.equal(with_token[0], src[0]) and torch.equal(with_token[1 + lv :], src[1 + lv :])
    torch.testing.assert_close(with_token[1:], without, rtol=0, atol=1e-6)


def test_relu_layers_have_no_activation_parameter() -> None:
    assert not any("activation" in k for k in EncoderLayer(8, 2, 16, 0.1, "relu").state_dict())
    assert "activation.weight" in EncoderLayer(8, 2, 16, 0.1).state_dict()
    with pytest.raises(ValueError, match="activation"):
        EncoderLayer(8, 2, 16, 0.1, "gelu")  # type: ignore[arg-type]


def test_dab_decoder_starts_from_zero_content() -> None:
    torch.manual_seed(0)
    decoder = DABDecoder(16, 4, 32, 0.0, num_layers=2).eval()
    memory, pos = torch.randn(6, 2, 16), torch.randn(6, 2, 16)
    pad = torch.zeros(2, 6, dtype=torch.bool)
    anchors = torch.randn(3, 2, 2)
    with torch.no_grad():
        hs, refs = decoder(memory, pad, pos, anchors)
        hs_zero, _ = decoder(memory, pad, pos, anchors, tgt=torch.zeros(3, 2, 16))
    assert hs.shape == (2, 2, 3, 16) and refs.shape == (2, 2, 3, 2)
    torch.testing.assert_close(refs[0], anchors.sigmoid().transpose(0, 1))
    assert torch.equal(hs, hs_zero)
    assert "layers.0.ca_qpos_proj.weight" in decoder.state_dict()
    assert "layers.1.ca_qpos_proj.weight" not in decoder.state_dict()


def test_anchor_sine_embedding_layout() -> None:
    ref = torch.tensor([[[0.25, 0.5]]])  # (Q=1, B=1, 2)
    emb = gen_sineembed_for_position(ref, 8)
    assert emb.shape == (1, 1, 8)
    assert math.isclose(emb[0, 0, 0].item(), math.sin(2 * math.pi * 0.25), abs_tol=1e-6)
    assert math.isclose(emb[0, 0, 4].item(), math.sin(2 * math.pi * 0.5), abs_tol=1e-6)


def test_label_losses_without_matches() -> None:
    empty = torch.zeros(0, dtype=torch.int64)
    out = label_losses(torch.randn(2, 3, 2), [(empty, empty), (empty, empty)], torch.tensor([1.0, 0.1]))
    assert torch.isfinite(out["loss_label"]) and out["class_error"].item() == 100.0


def test_hidden_dim_multiple() -> None:
    MomentDETRConfig(hidden_dim=34, num_heads=2)  # even is enough without the DAB decoder
    with pytest.raises(ValidationError, match="multiple of 4"):
        TaskWeaveConfig(hidden_dim=34, num_heads=2)
    with pytest.raises(ValidationError, match="cannot all be 0"):
        MomentDETRConfig(match_cost_span=0, match_cost_giou=0, match_cost_class=0)


def test_options_and_state_dict_helpers() -> None:
    fields = detr_fields({"v_feat_dim": 2818, "t_feat_dim": 512})  # absent options: release defaults
    assert MomentDETRConfig(**fields) == MomentDETRConfig()
    assert set(fields) == set(DETRConfig.model_fields) - {"fidelity", "corrections"}
    with pytest.raises(ValueError, match="v_feat_dim"):
        detr_fields({"v_feat_dim": 0, "t_feat_dim": 512})
    check_required({"pre_norm": False})
    with pytest.raises(ValueError, match="pre_norm"):
        check_required({"pre_norm": True})
    ours, unused = split_unused({"a.w": torch.zeros(1), "txt_position_embed.x": torch.zeros(1)},
                                {"txt_position_embed.": "never used"})  # fmt: skip
    assert list(ours) == ["a.w"] and unused == {"txt_position_embed.x": "never used"}
