"""Moment-DETR against the golden fixtures of jayleicn/moment_detr (release/moment_detr/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model.zoo.convert import model_from_release, release_options
from model.zoo.moment_detr import FAMILY, MomentDETRConfig
from model.zoo.moment_detr.model import PADDED_SALIENCY
from tests.model.zoo.release import BATCHES, assert_close_tree, assert_loss_close, assert_losses_match
from tests.model.zoo.release import assert_output_shapes, assert_paper_size_keys, assert_recognises_only
from tests.model.zoo.release import epoch_of, eval_outputs, load, paper_size_model, paper_size_spec
from tests.model.zoo.release import tiny_inputs, tiny_targets, train_outputs

RELEASE = "moment_detr"
# pred_logits, pred_spans, saliency_scores + one aux layer x (pred_logits, pred_spans)
N_OUTPUT_TENSORS = 5


def _release_model(ckpt: dict, **overrides):
    """Model + criterion of the release checkpoint, optionally with config overrides (corrections)."""
    model, criterion, cfg, unused = model_from_release(ckpt, FAMILY)
    if overrides:
        cfg = cfg.model_copy(update=overrides)
        cfg = MomentDETRConfig(**cfg.model_dump())  # re-validate
        state = model.state_dict()
        model, criterion = FAMILY.build(cfg)
        model.load_state_dict(state)
    return model, criterion, unused


def _train_losses(model, criterion, batch: dict, targets: dict, epoch: int = 0) -> dict:
    losses = criterion(train_outputs(model, batch), {**targets, "epoch": epoch})
    return {k: v.detach() for k, v in losses.items()}


@pytest.mark.parametrize("batch", BATCHES)
def test_outputs_equal_release(fixtures: dict, batch: str) -> None:
    model, _, unused = _release_model(fixtures["ckpt"])
    assert unused == {}  # every release tensor is built, the never-used txt_position_embed included
    ours = eval_outputs(model, fixtures["inputs"][batch])
    assert assert_close_tree(ours, fixtures["outputs"][batch]) == N_OUTPUT_TENSORS


@pytest.mark.parametrize("batch", BATCHES)
def test_losses_equal_release(fixtures: dict, batch: str) -> None:
    model, criterion, _ = _release_model(fixtures["ckpt"])
    for epoch_key, ref in fixtures["losses"][batch].items():
        epoch = epoch_of(epoch_key)
        ours = _train_losses(model, criterion, fixtures["inputs"][batch], fixtures["targets"][batch], epoch)
        assert set(ref["loss_dict"]) | {"total"} == set(ours)
        assert criterion.weight_dict == ref["weight_dict"]
        assert_losses_match(ours, ref, f"{batch}/{epoch_key}")


def test_paper_size(folder: Path, fixtures: dict) -> None:
    spec = paper_size_spec(folder)
    model, cfg, unused = paper_size_model(folder, FAMILY)
    assert cfg == MomentDETRConfig()  # the script size is our default config
    # every release key is mapped, txt_position_embed (built by the release, never used) included
    assert_paper_size_keys(model, unused, spec)
    assert spec["n_params"] == 4_823_305
    reference = load(folder / "paper_size_outputs.pt")
    for batch in BATCHES:
        ours = eval_outputs(model, fixtures["inputs"][batch])
        assert assert_close_tree(ours, reference[batch]) == N_OUTPUT_TENSORS


def test_mask_padded_saliency(fixtures: dict) -> None:
    model, criterion, _ = _release_model(fixtures["ckpt"], corrections=("mask_padded_saliency",))
    for batch in BATCHES:
        inputs, ref = fixtures["inputs"][batch], fixtures["outputs"][batch]
        ours = eval_outputs(model, inputs)
        valid = inputs["src_vid_mask"].bool()
        # moments and valid clips unchanged; padded clips (padded batch only) set to PADDED_SALIENCY
        ref_rest = {k: v for k, v in ref.items() if k != "saliency_scores"}
        assert assert_close_tree(ours, ref_rest) == N_OUTPUT_TENSORS - 1
        assert (ours["saliency_scores"][valid] - ref["saliency_scores"][valid]).abs().max() <= 1e-5
        assert (ours["saliency_scores"][~valid] == PADDED_SALIENCY).all()
        assert (~valid).any() == (batch == "padded")
        assert (ours["saliency_scores"][~valid] != ref["saliency_scores"][~valid]).all()
        # the losses never read padded clips: unchanged
        losses = _train_losses(model, criterion, inputs, fixtures["targets"][batch])
        for key, value in fixtures["losses"][batch]["epoch0"]["loss_dict"].items():
            assert_loss_close(float(losses[key]), value, f"{batch}/{key}")


def test_weighted_label_mean(fixtures: dict) -> None:
    model, criterion, _ = _release_model(fixtures["ckpt"], corrections=("weighted_label_mean",))
    eos = criterion.cfg.eos_coef
    for batch in BATCHES:
        targets = fixtures["targets"][batch]
        ref = fixtures["losses"][batch]["epoch0"]["loss_dict"]
        losses = _train_losses(model, criterion, fixtures["inputs"][batch], targets)
        batch_size, num_queries = fixtures["outputs"][batch]["pred_logits"].shape[:2]
        matched = sum(len(t["spans"]) for t in targets["span_labels"])
        weight_sum = matched + eos * (batch_size * num_queries - matched)
        # same per-query terms, normalised by the weight sum instead of B*Q
        for key in ("loss_label", "loss_label_0"):
            assert_loss_close(float(losses[key]), ref[key] * batch_size * num_queries / weight_sum, key)
            assert abs(float(losses[key]) - ref[key]) > 1e-3
        for key, value in ref.items():
            if not key.startswith("loss_label"):
                assert_loss_close(float(losses[key]), value, f"{batch}/{key}")
        outputs = eval_outputs(model, fixtures["inputs"][batch])
        assert assert_close_tree(outputs, fixtures["outputs"][batch]) == N_OUTPUT_TENSORS


def test_corrected_turns_on_every_difference() -> None:
    cfg = MomentDETRConfig(fidelity="corrected")
    names = [d.name for d in MomentDETRConfig.DIFFERENCES]
    assert names == ["mask_padded_saliency", "weighted_label_mean"]
    assert all(cfg.corrects(n) for n in names)
    assert not any(MomentDETRConfig().corrects(n) for n in names)
    with pytest.raises(ValueError, match="not differences"):
        MomentDETRConfig(corrections=("no_such_fix",))


def _collate_batch(cfg: MomentDETRConfig, lengths: list[int], text_lengths: list[int]) -> tuple[dict, dict]:
    """Inputs and targets shaped as our collate builds them (no release-only keys)."""
    gen = torch.Generator().manual_seed(0)
    bsz = len(lengths)
    inputs = tiny_inputs(lengths, text_lengths, cfg.video_dim, cfg.text_dim, gen)
    all_labels = torch.rand(bsz, max(lengths), generator=gen) * inputs["src_vid_mask"]
    spans = [[[0.3, 0.2], [0.7, 0.1]][: 1 + i % 2] for i in range(bsz)]
    return inputs, tiny_targets(all_labels, spans, [[1, 2]] * bsz, [[0, 3]] * bsz)


@pytest.mark.parametrize("fidelity", ["release", "corrected"])
def test_tiny_forward_backward(fidelity: str) -> None:
    torch.manual_seed(0)
    cfg = FAMILY.tiny(18, 12).model_copy(update={"fidelity": fidelity})
    model, criterion = FAMILY.build(cfg)
    inputs, targets = _collate_batch(cfg, [6, 4, 5], [3, 5, 2])
    outputs = model(**inputs)
    assert_output_shapes(outputs, 3, cfg.num_queries, 6, cfg.dec_layers - 1)
    losses = criterion(outputs, {**targets, "epoch": 0})
    assert set(losses) == {"loss_span", "loss_giou", "loss_label", "class_error", "loss_saliency",
                           "loss_span_0", "loss_giou_0", "loss_label_0", "class_error_0", "total"}  # fmt: skip
    assert torch.isfinite(losses["total"])
    losses["total"].backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)

    # TVSum (highlight only): no span_labels -> the saliency term only
    model.zero_grad()
    outputs = model(**inputs)
    highlight = {k: v for k, v in targets.items() if k != "span_labels"}
    losses = criterion(outputs, {**highlight, "epoch": 0})
    assert set(losses) == {"loss_saliency", "total"}
    assert losses["total"].item() == pytest.approx(cfg.saliency_weight * losses["loss_saliency"].item())
    losses["total"].backward()


def test_batch_of_one_keeps_batch_dim() -> None:
    cfg = FAMILY.tiny(18, 12)
    model, _ = FAMILY.build(cfg)
    inputs, _ = _collate_batch(cfg, [5], [3])
    assert eval_outputs(model, inputs)["saliency_scores"].shape == (1, 5)


def test_recognises(folder: Path) -> None:
    assert_recognises_only(FAMILY.recognises, folder.parent, (RELEASE,))


def test_config_from_options_rejects_what_it_cannot_honour(fixtures: dict) -> None:
    opt = release_options(fixtures["ckpt"])
    for key, value in [("span_loss_type", "ce"), ("contrastive_align_loss", True), ("use_txt_pos", True),
                       ("pre_norm", True), ("ctx_mode", "video"), ("n_input_proj", 4)]:  # fmt: skip
        with pytest.raises(ValueError, match=key):
            FAMILY.config_from_options({**opt, key: value})
    with pytest.raises(ValueError, match="num_heads"):
        FAMILY.config_from_options({**opt, "nheads": 5})


def test_presets() -> None:
    assert set(FAMILY.presets) == {"moment_detr-qvhighlights", "moment_detr-charades_sta", "moment_detr-tvsum"}
    for name, preset in FAMILY.presets.items():
        assert isinstance(preset.model, MomentDETRConfig)
        assert preset.features == "sf_c" and (preset.model.video_dim, preset.model.text_dim) == (2818, 512)
        assert preset.dataset == name.removeprefix("moment_detr-")
        assert preset.source
    assert FAMILY.presets["moment_detr-tvsum"].train["lr"] == 1e-3
    assert FAMILY.presets["moment_detr-charades_sta"].train["clip_seconds"] == 1.0
