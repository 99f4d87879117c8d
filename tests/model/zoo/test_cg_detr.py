"""CG-DETR against the golden fixtures of its release (VIDEOLIGHTS_DATA/release/cg_detr/)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from model.zoo.cg_detr import FAMILY, CGDETRConfig
from model.zoo.cg_detr.config import (
    ATTN_FALSE_NEGATIVE_RANK,
    SINGLE_FALSE_NEGATIVE_ROW,
    T2V_MASK_PER_VIDEO,
)
from model.zoo.convert import load_mapped, model_from_release, release_options
from tests.model.zoo.release import BATCHES, assert_close_tree, assert_loss_close, assert_losses_match
from tests.model.zoo.release import assert_paper_size_keys, assert_recognises_only, epoch_of, eval_outputs
from tests.model.zoo.release import load, max_diff, paper_size_model, paper_size_spec, saliency_labels
from tests.model.zoo.release import tiny_inputs, tiny_targets, train_outputs

RELEASE = "cg_detr"
#: pred_logits, pred_spans, saliency_scores(_neg), src_txt_mask_neg, t2vattnvalues(_neg), real_neg_mask,
#: cate_attn_weights, txt_mask, dummy_tokens, global_rep_tokens, video_mask + 2 aux layers x 2.
N_OUTPUT_TENSORS = 17
#: Keys the release returns as None at inference.
NONE_AT_EVAL = ("memory_moment", "nmmemory_moment", "sentence_txt", "sentence_dummy", "moment2txt_similarity",
                "nmoment2txt_similarity", "moment_mask", "src_vid")


@pytest.fixture(scope="module")
def release_model(fixtures):
    model, criterion, cfg, unused = model_from_release(fixtures["ckpt"], FAMILY)
    return model.eval(), criterion, cfg, unused


def _with_corrections(ckpt: dict[str, Any], **update: Any):
    """Model + criterion of the release checkpoint with config fields replaced (e.g. corrections)."""
    cfg = FAMILY.config_from_options(release_options(ckpt))
    cfg = CGDETRConfig(**{**cfg.model_dump(), **update})
    model, criterion = FAMILY.build(cfg)
    load_mapped(model, FAMILY.map_state_dict(ckpt["model"], cfg)[0])
    return model, criterion


def _train_losses(model, criterion, inputs: dict[str, Any], targets: dict[str, Any]) -> dict[str, torch.Tensor]:
    outputs = train_outputs(model, inputs, targets=targets)
    return {k: v.detach() for k, v in criterion(outputs, {**targets, "epoch": 0}).items()}


@pytest.mark.parametrize("batch", BATCHES)
def test_outputs_equal_release(release_model, fixtures, batch):
    ref = fixtures["outputs"][batch]
    ours = eval_outputs(release_model[0], fixtures["inputs"][batch])
    assert assert_close_tree(ours, ref) == N_OUTPUT_TENSORS
    assert set(ref) <= set(ours)
    for key in NONE_AT_EVAL:
        assert ours[key] is None and ref[key] is None


@pytest.mark.parametrize("batch", BATCHES)
def test_losses_equal_release(fixtures, batch):
    ckpt, targets = fixtures["ckpt"], fixtures["targets"][batch]
    model, criterion = FAMILY.build(FAMILY.config_from_options(release_options(ckpt)))
    load_mapped(model, FAMILY.map_state_dict(ckpt["model"], criterion.cfg)[0])
    outputs = train_outputs(model, fixtures["inputs"][batch], targets=targets)
    for epoch_key, ref in fixtures["losses"][batch].items():
        ours = {k: v.detach() for k, v in criterion(outputs, {**targets, "epoch": epoch_of(epoch_key)}).items()}
        assert set(ref["loss_dict"]) == set(ours) - {"total"}
        assert_losses_match(ours, ref, f"{batch}/{epoch_key}")
        assert criterion.weight_dict == ref["weight_dict"]


def test_paper_size(folder, fixtures):
    model, _, unused = paper_size_model(folder, FAMILY)
    spec = paper_size_spec(folder)
    # Every release key is mapped, the two modules the release builds and never calls included.
    assert_paper_size_keys(model, unused, spec)
    assert spec["n_params"] == 12_615_467
    ref = load(folder / "paper_size_outputs.pt")
    for batch in BATCHES:
        ours = eval_outputs(model, fixtures["inputs"][batch])
        assert assert_close_tree(ours, ref[batch], path=f"paper/{batch}") == N_OUTPUT_TENSORS


def test_difference_t2v_mask_per_video(fixtures, release_model):
    release = release_model[0]
    corrected = _with_corrections(fixtures["ckpt"], corrections=(T2V_MASK_PER_VIDEO,))[0].eval()
    inputs = fixtures["inputs"]
    with torch.no_grad():
        for batch, changes in (("unpadded", False), ("padded", True)):
            a, b = release(**inputs[batch]), corrected(**inputs[batch])
            for key in ("saliency_scores", "t2vattnvalues", "pred_spans"):
                diff = max_diff(a[key], b[key])
                assert (diff > 1e-4) if changes else (diff <= 1e-6), (batch, key, diff)


def _assert_only_saliency_moves(ours: dict[str, torch.Tensor], ref: dict[str, float], moves: bool, what: str) -> None:
    for key, value in ref.items():
        if key == "loss_saliency" and moves:
            assert abs(float(ours[key]) - value) > 1e-3, (what, float(ours[key]), value)
        else:
            assert_loss_close(float(ours[key]), value, f"{what}/{key}")


def test_difference_single_false_negative_row(fixtures):
    inputs, targets, losses_ref = fixtures["inputs"], fixtures["targets"], fixtures["losses"]
    model, criterion = _with_corrections(fixtures["ckpt"], corrections=(SINGLE_FALSE_NEGATIVE_ROW,))
    # Only the padded batch has a false-negative row (rows 1 and 2: two segments of one video).
    for batch, moves in (("unpadded", False), ("padded", True)):
        ours = _train_losses(model, criterion, inputs[batch], targets[batch])
        _assert_only_saliency_moves(ours, losses_ref[batch]["epoch0"]["loss_dict"], moves, batch)


def test_difference_attn_false_negative_rank(fixtures):
    ckpt, inputs, targets, losses_ref = fixtures["ckpt"], fixtures["inputs"], fixtures["targets"], fixtures["losses"]
    # On the fixture's single false-negative row the release's term is a ~1e-6 constant, so this
    # correction alone leaves every loss within tolerance ...
    model, criterion = _with_corrections(ckpt, corrections=(ATTN_FALSE_NEGATIVE_RANK,))
    for batch in BATCHES:
        ours = _train_losses(model, criterion, inputs[batch], targets[batch])
        _assert_only_saliency_moves(ours, losses_ref[batch]["epoch0"]["loss_dict"], False, batch)
    # ... on top of the single-row correction it adds the attention term ...
    single = _train_losses(*_with_corrections(ckpt, corrections=(SINGLE_FALSE_NEGATIVE_ROW,)),
                           inputs["padded"], targets["padded"])
    both = _train_losses(*_with_corrections(ckpt, corrections=(SINGLE_FALSE_NEGATIVE_ROW, ATTN_FALSE_NEGATIVE_RANK)),
                         inputs["padded"], targets["padded"])
    assert float(both["loss_saliency"]) - float(single["loss_saliency"]) > 1e-3
    # ... and with two false-negative rows (the collate batch) it changes loss_saliency alone.
    cfg = FAMILY.tiny(40, 24)
    fixed = CGDETRConfig(**{**cfg.model_dump(), "corrections": (ATTN_FALSE_NEGATIVE_RANK,)})
    torch.manual_seed(0)
    model = FAMILY.build(cfg)[0]
    batch_inputs, batch_targets = _collate_batch(cfg)
    outputs = eval_outputs(model, batch_inputs, targets=batch_targets)
    assert (~outputs["real_neg_mask"]).sum() == 2
    release_losses = {k: v.detach() for k, v in FAMILY.build(cfg)[1](outputs, batch_targets).items()}
    fixed_losses = {k: v.detach() for k, v in FAMILY.build(fixed)[1](outputs, batch_targets).items()}
    for key in release_losses:
        if key in ("loss_saliency", "total"):
            assert abs(float(fixed_losses[key]) - float(release_losses[key])) > 1e-4, key
        else:
            assert float(fixed_losses[key]) == float(release_losses[key]), key


def test_corrected_turns_all_on(fixtures, release_model):
    inputs, targets = fixtures["inputs"], fixtures["targets"]
    cfg = CGDETRConfig(fidelity="corrected")
    assert all(cfg.corrects(d.name) for d in CGDETRConfig.DIFFERENCES)
    assert not any(CGDETRConfig().corrects(d.name) for d in CGDETRConfig.DIFFERENCES)
    model, criterion = _with_corrections(fixtures["ckpt"], fidelity="corrected")
    ours = _train_losses(model, criterion, inputs["padded"], targets["padded"])
    ref = fixtures["losses"]["padded"]["epoch0"]["loss_dict"]
    assert abs(float(ours["loss_saliency"]) - ref["loss_saliency"]) > 1e-3
    model.eval()
    with torch.no_grad():
        a, b = release_model[0](**inputs["padded"]), model(**inputs["padded"])
    assert max_diff(a["saliency_scores"], b["saliency_scores"]) > 1e-4
    with pytest.raises(ValueError, match="not differences"):
        CGDETRConfig(corrections=("no_such_fix",))


def _collate_batch(cfg: CGDETRConfig, with_spans: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """A small batch as our collate builds it (no release-only keys)."""
    inputs: dict[str, Any] = tiny_inputs([8, 6, 5, 7], [4, 6, 3, 5], cfg.video_dim, cfg.text_dim,
                                         torch.Generator().manual_seed(0))  # fmt: skip
    # Two segments of each of two videos: rows 0 and 2 get a negative text of the same video.
    inputs["vid"] = ["ab_c_0.0_10.0", "ab_c_10.0_20.0", "xyz_0.0_10.0", "xyz_10.0_20.0"]
    inputs["qid"] = [1, 2, 3, 4]
    runs = [(2, [3.0, 7.0, 5.0]), (0, [12.0, 4.0, 2.0]), (1, [1.0, 9.0, 6.0]), (4, [8.0, 8.0, 2.0])]
    labels = saliency_labels(8, runs)
    spans = [[[0.4375, 0.375]], [[0.25, 0.5]], [[0.5, 0.6], [0.1, 0.2]], [[0.7143, 0.4286]]] if with_spans else None
    pos, neg = [[3, 2], [0, 1], [2, 3], [4, 5]], [[0, 7], [4, 5], [0, 4], [1, 2]]
    return inputs, tiny_targets(labels, spans, pos, neg)


def test_tiny_collate_targets():
    cfg = FAMILY.tiny(40, 24)
    assert isinstance(cfg, CGDETRConfig)
    torch.manual_seed(0)
    model, criterion = FAMILY.build(cfg)
    model.train()
    inputs, targets = _collate_batch(cfg)
    outputs = model(**inputs, targets=targets)
    assert outputs["pred_logits"].shape == (4, cfg.num_queries, 2)
    assert outputs["real_neg_mask"].tolist() == [False, True, False, True]
    losses = criterion(outputs, {**targets, "epoch": 1})
    assert {"loss_span", "loss_giou", "loss_label", "loss_saliency", "loss_ms_align", "loss_distill",
            "loss_orthogonal_dummy", "loss_span_0", "total"} <= set(losses)
    assert math.isfinite(float(losses["total"].detach()))
    losses["total"].backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)

    # Highlight-only batch (TVSum): saliency terms only.
    model.zero_grad()
    inputs, targets = _collate_batch(cfg, with_spans=False)
    losses = criterion(model(**inputs, targets=targets), {**targets, "epoch": 1})
    assert set(losses) == {"loss_saliency", "total"}
    assert math.isfinite(float(losses["total"].detach()))
    losses["total"].backward()

    # Inference call (no targets, no ids): no negative pass, training-only outputs are None.
    out = eval_outputs(model, {k: inputs[k] for k in ("src_vid", "src_vid_mask", "src_txt", "src_txt_mask")})
    assert out["saliency_scores_neg"] is None and out["memory_moment"] is None
    assert out["saliency_scores"].shape == (4, 8)


def test_presets_and_options(fixtures):
    assert set(FAMILY.presets) == {"cg_detr-qvhighlights", "cg_detr-charades_sta", "cg_detr-tvsum"}
    assert FAMILY.presets["cg_detr-qvhighlights"].model == CGDETRConfig()
    opt = release_options(fixtures["ckpt"])
    assert FAMILY.config_from_options(opt).hidden_dim == 24
    for name, value in (("span_loss_type", "ce"), ("contrastive_align_loss", True), ("dset_name", "youtube_uni")):
        with pytest.raises(ValueError, match=name):
            FAMILY.config_from_options({**opt, name: value})


def test_recognises(release_dir: Path):
    assert_recognises_only(FAMILY.recognises, release_dir, (RELEASE,))
