"""QD-DETR (model.zoo.qd_detr) against the golden fixtures of wjun0830/QD-DETR
(VIDEOLIGHTS_DATA/release/qd_detr/README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from model.zoo.convert import model_from_release, release_options
from model.zoo.qd_detr import FAMILY, QDDETRConfig, build
from model.zoo.qd_detr.config import RANK_CONTRASTIVE_MEAN, T2V_NORM_RESIDUAL, T2V_OWN_MASK
from model.zoo.qd_detr.convert import config_from_options
from model.zoo.qd_detr.criterion import rank_contrastive
from tests.model.zoo.release import BATCHES, assert_close_tree, assert_loss_close, assert_losses_match
from tests.model.zoo.release import assert_output_shapes, assert_paper_size_keys, assert_recognises_only
from tests.model.zoo.release import epoch_of, eval_outputs, load, max_diff, paper_size_model, paper_size_spec
from tests.model.zoo.release import saliency_labels, tiny_inputs, tiny_targets, train_outputs

RELEASE = "qd_detr"
# pred_logits, pred_spans, saliency_scores, saliency_scores_neg, video_mask, aux pred_logits/pred_spans
N_OUTPUT_TENSORS = 7


def _release_model(
    fixtures: dict[str, Any], corrections: tuple[str, ...] = (), fidelity: str = "release"
) -> tuple[Any, Any]:
    ckpt = fixtures["ckpt"]
    model, criterion, cfg, _ = model_from_release(ckpt, FAMILY)
    if corrections or fidelity != "release":
        cfg = QDDETRConfig(**{**cfg.model_dump(), "corrections": corrections, "fidelity": fidelity})
        model2, criterion = build(cfg)
        model2.load_state_dict(model.state_dict())
        model = model2
    return model, criterion


def _train_losses(
    model: torch.nn.Module, criterion: torch.nn.Module, batch: dict, targets: dict, epoch: int = 0
):
    return criterion(train_outputs(model, batch), {**targets, "epoch": epoch})


# 1. outputs of release.ckpt
@pytest.mark.parametrize("batch", BATCHES)
def test_outputs_equal_release(fixtures: dict[str, Any], batch: str) -> None:
    model, _ = _release_model(fixtures)
    ours = eval_outputs(model, fixtures["inputs"][batch])
    ref = fixtures["outputs"][batch]
    assert set(ref) <= set(ours)
    assert assert_close_tree(ours, ref) == N_OUTPUT_TENSORS


# 2. losses of a dropout-free train-mode forward
@pytest.mark.parametrize("batch", BATCHES)
def test_losses_equal_release(fixtures: dict[str, Any], batch: str) -> None:
    model, criterion = _release_model(fixtures)
    inputs, targets = fixtures["inputs"][batch], fixtures["targets"][batch]
    for epoch_key, ref in fixtures["losses"][batch].items():
        losses = _train_losses(model, criterion, inputs, targets, epoch_of(epoch_key))
        assert set(ref["loss_dict"]) | {"total"} == set(losses)
        assert criterion.weight_dict == ref["weight_dict"]
        assert_losses_match(losses, ref, f"{batch}/{epoch_key}")


# 3. script-size model with the formula weights
def test_paper_size(folder: Path, fixtures: dict[str, Any]) -> None:
    model, cfg, unused = paper_size_model(folder, FAMILY)
    assert cfg.hidden_dim == 256 and cfg.num_heads == 8 and cfg.ffn_dim == 1024
    # every release key is mapped, txt_position_embed (built by the release, never used) included
    assert_paper_size_keys(model, unused, paper_size_spec(folder))
    ref = load(folder / "paper_size_outputs.pt")
    for batch in BATCHES:
        ours = eval_outputs(model, fixtures["inputs"][batch])
        assert assert_close_tree(ours, ref[batch]) == N_OUTPUT_TENSORS


def test_default_config_is_the_script_size(folder: Path) -> None:
    assert config_from_options(paper_size_spec(folder)["opt"]) == QDDETRConfig()


# 4. the named corrections
def test_t2v_own_mask(fixtures: dict[str, Any]) -> None:
    release, _ = _release_model(fixtures)
    corrected, _ = _release_model(fixtures, (T2V_OWN_MASK,))
    inputs = fixtures["inputs"]
    # no padding: the release's mask is all False, nothing changes
    a, b = eval_outputs(release, inputs["unpadded"]), eval_outputs(corrected, inputs["unpadded"])
    for key in ("pred_logits", "pred_spans", "saliency_scores", "saliency_scores_neg"):
        assert torch.equal(a[key], b[key]), key
    # mixed lengths: valid clips of some videos read other tokens than with another video's mask
    a, b = eval_outputs(release, inputs["padded"]), eval_outputs(corrected, inputs["padded"])
    valid = inputs["padded"]["src_vid_mask"].bool()
    assert max_diff(a["saliency_scores"][valid], b["saliency_scores"][valid]) > 1e-4
    assert max_diff(a["pred_spans"], b["pred_spans"]) > 1e-6


def test_t2v_norm_residual(fixtures: dict[str, Any]) -> None:
    release, _ = _release_model(fixtures)
    corrected, _ = _release_model(fixtures, (T2V_NORM_RESIDUAL,))
    for batch in BATCHES:
        inputs = fixtures["inputs"][batch]
        a, b = eval_outputs(release, inputs), eval_outputs(corrected, inputs)
        assert max_diff(a["saliency_scores"], b["saliency_scores"]) > 1e-3
        assert max_diff(a["pred_spans"], b["pred_spans"]) > 1e-5


def test_rank_contrastive_mean(fixtures: dict[str, Any]) -> None:
    release, release_criterion = _release_model(fixtures)
    corrected, corrected_criterion = _release_model(fixtures, (RANK_CONTRASTIVE_MEAN,))
    for batch in BATCHES:
        inputs, targets = fixtures["inputs"][batch], fixtures["targets"][batch]
        a = _train_losses(release, release_criterion, inputs, targets)
        b = _train_losses(corrected, corrected_criterion, inputs, targets)
        for key in a:
            if key not in ("loss_saliency", "total"):
                assert float(a[key].detach()) == float(b[key].detach()), key
        outputs = eval_outputs(release, inputs)
        assert assert_close_tree(eval_outputs(corrected, inputs), outputs, atol=0.0) == N_OUTPUT_TENSORS
        # only the rank-contrastive term is rescaled, from 1/12 to 1/11 of its sum over thresholds
        release.train()
        with torch.no_grad():
            out = release(**inputs)
        rank_sum = rank_contrastive(
            out["saliency_scores"], out["saliency_scores_neg"], targets["saliency_all_labels"],
            out["video_mask"], divisor=1.0,
        )  # fmt: skip
        assert rank_sum > 0
        change = float(b["loss_saliency"].detach() - a["loss_saliency"].detach())
        assert_loss_close(change, float(rank_sum / 11 - rank_sum / 12), f"{batch} saliency change")


def test_corrected_turns_every_difference_on() -> None:
    cfg = QDDETRConfig(fidelity="corrected")
    assert all(cfg.corrects(d.name) for d in QDDETRConfig.DIFFERENCES)
    assert {d.name for d in QDDETRConfig.DIFFERENCES} == {
        T2V_OWN_MASK,
        T2V_NORM_RESIDUAL,
        RANK_CONTRASTIVE_MEAN,
    }
    model, criterion = build(QDDETRConfig(**{**FAMILY.tiny(10, 8).model_dump(), "fidelity": "corrected"}))
    layer = model.transformer.t2v_encoder.layers[0]
    assert layer.own_mask and layer.norm_residual and criterion.rank_divisor == 11.0
    release = QDDETRConfig()
    assert not any(release.corrects(d.name) for d in QDDETRConfig.DIFFERENCES)


# 5. tiny config, targets as our collate builds them
def _collate_batch(video_dim: int, text_dim: int) -> tuple[dict, dict]:
    batch = tiny_inputs([9, 6, 7], [5, 3, 4], video_dim, text_dim, torch.Generator().manual_seed(0))
    labels = saliency_labels(9, [(2, [4.0, 12.0, 7.0]), (0, [3.0, 5.0]), (4, [9.0, 1.0, 2.0])])
    spans = [[[0.4, 0.3]], [[0.2, 0.3], [0.8, 0.2]], [[0.7, 0.4]]]
    return batch, tiny_targets(labels, spans, [[3, 4], [1, 0], [4, 6]], [[0, 8], [3, 5], [0, 2]])


@pytest.mark.parametrize("fidelity", ["release", "corrected"])
def test_tiny_train_step(fidelity: str) -> None:
    torch.manual_seed(0)
    cfg = QDDETRConfig(**{**FAMILY.tiny(10, 8).model_dump(), "fidelity": fidelity})
    model, criterion = FAMILY.build(cfg)
    batch, targets = _collate_batch(10, 8)
    model.train()
    losses = criterion(model(**batch), {**targets, "epoch": 0})
    assert set(losses) == {
        "loss_span", "loss_giou", "loss_label", "class_error", "loss_saliency",
        "loss_span_0", "loss_giou_0", "loss_label_0", "class_error_0", "total",
    }  # fmt: skip
    assert torch.isfinite(losses["total"])
    losses["total"].backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    # highlight-only batch (TVSum): saliency terms only
    highlight = {k: v for k, v in targets.items() if k != "span_labels"}
    losses = criterion(model(**batch), {**highlight, "epoch": 0})
    assert set(losses) == {"loss_saliency", "total"}
    assert torch.isfinite(losses["total"]) and losses["total"].item() == losses["loss_saliency"].item()


def test_tiny_outputs_shapes() -> None:
    cfg = FAMILY.tiny(10, 8)
    model, _ = FAMILY.build(cfg)
    batch, _ = _collate_batch(10, 8)
    out = eval_outputs(model, batch)
    assert_output_shapes(out, 3, 4, 9, 1)


# 6. recognising the release's checkpoints
def test_recognises_only_qd_detr(folder: Path) -> None:
    assert_recognises_only(FAMILY.recognises, folder.parent, (RELEASE,))


# config and options
def test_options_the_model_cannot_honour(fixtures: dict[str, Any]) -> None:
    opt = release_options(fixtures["ckpt"])
    for key, value in [("span_loss_type", "ce"), ("contrastive_align_loss", True), ("use_txt_pos", True),
                       ("pre_norm", True), ("a_feat_dir", "audio")]:  # fmt: skip
        with pytest.raises(ValueError, match=key):
            config_from_options({**opt, key: value})


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="num_heads"):
        QDDETRConfig(hidden_dim=36, num_heads=8)
    with pytest.raises(ValidationError, match="hidden_dim"):
        QDDETRConfig(hidden_dim=18, num_heads=3)
    with pytest.raises(ValidationError, match="corrections"):
        QDDETRConfig(corrections=("no_such_fix",))


def test_presets() -> None:
    assert set(FAMILY.presets) == {"qd_detr-qvhighlights", "qd_detr-charades_sta", "qd_detr-tvsum"}
    for name, preset in FAMILY.presets.items():
        assert name.endswith(preset.dataset) and preset.features == "sf_c"
        assert isinstance(preset.model, QDDETRConfig) and preset.model.video_dim == 2818
    assert FAMILY.presets["qd_detr-tvsum"].train["lr"] == 1e-3
