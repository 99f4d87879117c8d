"""TaskWeave against the golden fixtures of its release (VIDEOLIGHTS_DATA/release/taskweave)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from model.zoo.convert import load_mapped, model_from_release
from model.zoo.taskweave import FAMILY, TaskWeaveConfig, build
from model.zoo.taskweave.convert import config_from_options, map_state_dict, recognises
from tests.model.zoo.release import BATCHES, assert_close_tree, assert_loss_close, assert_losses_match
from tests.model.zoo.release import assert_output_shapes, assert_paper_size_keys, assert_recognises_only
from tests.model.zoo.release import epoch_of, eval_outputs, load, max_diff, paper_size_model, paper_size_spec
from tests.model.zoo.release import tiny_inputs, tiny_targets, train_outputs

RELEASE = "taskweave"
# pred_logits, pred_spans, saliency_scores, saliency_scores_neg, video_mask, aux pred_logits/pred_spans
N_OUTPUT_TENSORS = 7


def _ema_model(fixtures: dict[str, Any], **update: Any) -> torch.nn.Module:
    """The EMA weights (what the release infers with) in eval mode, optionally with corrections."""
    ckpt = fixtures["ckpt"]
    if not update:
        model, _, _, _ = model_from_release(ckpt, FAMILY, weights=FAMILY.ema_key)
    else:
        cfg = config_from_options(vars(ckpt["opt"]))
        cfg = TaskWeaveConfig(**{**cfg.model_dump(), **update})
        model, _ = build(cfg)
        load_mapped(model, map_state_dict(ckpt[FAMILY.ema_key], cfg)[0])
    return model.eval()


def _train_model(fixtures: dict[str, Any], **update: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The training weights (not EMA); forward them with train_outputs."""
    ckpt = {k: v for k, v in fixtures["ckpt"].items() if k != FAMILY.ema_key}
    cfg = config_from_options(vars(ckpt["opt"]))
    cfg = TaskWeaveConfig(**{**cfg.model_dump(), **update})
    model, criterion = build(cfg)
    load_mapped(model, map_state_dict(ckpt["model"], cfg)[0])
    return model, criterion


def _compare_release(ours: dict[str, Any], ref: list[Any]) -> int:
    out_dict, (hd_log_var, mr_log_var) = ref
    count = assert_close_tree(ours, out_dict)
    count += assert_close_tree(ours["hd_log_var"], hd_log_var, "outputs.hd_log_var")
    count += assert_close_tree(ours["mr_log_var"], mr_log_var, "outputs.mr_log_var")
    return count


# 1. outputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", BATCHES)
def test_outputs_equal_release(fixtures: dict[str, Any], batch: str) -> None:
    ours = eval_outputs(_ema_model(fixtures), fixtures["inputs"][batch])
    assert _compare_release(ours, fixtures["outputs"][batch]) == N_OUTPUT_TENSORS + 2


# 2. losses -------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", BATCHES)
def test_losses_equal_release(fixtures: dict[str, Any], batch: str) -> None:
    model, criterion = _train_model(fixtures)
    for key, ref in fixtures["losses"][batch].items():
        epoch = epoch_of(key)
        outputs = train_outputs(model, fixtures["inputs"][batch], epoch=epoch)
        losses = criterion(outputs, {**fixtures["targets"][batch], "epoch": epoch})
        assert set(ref["loss_dict"]) | {"total"} == set(losses)
        assert_losses_match(losses, ref, f"{batch}/{key}")


# 3. paper size ---------------------------------------------------------------------------------


def test_paper_size(folder: Path, fixtures: dict[str, Any]) -> None:
    model, cfg, unused = paper_size_model(folder, FAMILY)
    assert cfg.hidden_dim == 256 and cfg.video_dim == 2818
    # every release key is mapped, txt_position_embed (built by the release, never used) included
    assert_paper_size_keys(model, unused, paper_size_spec(folder))
    expected = load(folder / "paper_size_outputs.pt")
    for batch in BATCHES:
        ours = eval_outputs(model, fixtures["inputs"][batch])
        assert _compare_release(ours, expected[batch]) == N_OUTPUT_TENSORS + 2


# 4. differences --------------------------------------------------------------------------------


def _mr_expert_spread(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> float:
    """Largest spread over the valid clips of all videos of the MR expert's output (mr_proj)."""
    seen: list[torch.Tensor] = []
    handle = model.transformer.mr_proj.register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        model(**inputs)
    handle.remove()
    valid = inputs["src_vid_mask"].bool()
    values = seen[-1].permute(0, 2, 1)[valid]  # (valid clips of the batch, d)
    return (values.max(0).values - values.min(0).values).max().item()


def test_mr_expert_mask(fixtures: dict[str, Any]) -> None:
    release, corrected = _ema_model(fixtures), _ema_model(fixtures, corrections=("mr_expert_mask",))
    for batch in BATCHES:
        inputs = fixtures["inputs"][batch]
        # release: one constant vector for every valid clip of every video; corrected: per clip
        assert _mr_expert_spread(release, inputs) < 1e-6  # 0 up to the 1x1 conv's rounding
        assert _mr_expert_spread(corrected, inputs) > 1e-3
        with torch.no_grad():
            a, b = release(**inputs), corrected(**inputs)
        assert max_diff(a["pred_spans"], b["pred_spans"]) > 1e-4
        assert max_diff(a["pred_logits"], b["pred_logits"]) > 1e-4
        assert torch.equal(a["saliency_scores"], b["saliency_scores"])
        assert torch.equal(a["saliency_scores_neg"], b["saliency_scores_neg"])


def test_hgf_valid_threshold(fixtures: dict[str, Any]) -> None:
    release, corrected = _ema_model(fixtures), _ema_model(fixtures, corrections=("hgf_valid_threshold",))
    with torch.no_grad():
        same = [release(**fixtures["inputs"]["unpadded"]), corrected(**fixtures["inputs"]["unpadded"])]
        pad = [release(**fixtures["inputs"]["padded"]), corrected(**fixtures["inputs"]["padded"])]
    # without padding the two thresholds agree
    assert torch.equal(same[0]["pred_spans"], same[1]["pred_spans"])
    # with padding the feedback mask, hence the moment outputs, change; the saliency does not
    assert max_diff(pad[0]["pred_spans"], pad[1]["pred_spans"]) > 1e-5
    assert torch.equal(pad[0]["saliency_scores"], pad[1]["saliency_scores"])
    assert torch.equal(pad[0]["saliency_scores_neg"], pad[1]["saliency_scores_neg"])


def test_weighted_objective(fixtures: dict[str, Any]) -> None:
    model, release = _train_model(fixtures)
    _, corrected = _train_model(fixtures, corrections=("weighted_objective",))
    batch = "padded"
    outputs = train_outputs(model, fixtures["inputs"][batch], epoch=0)
    targets = {**fixtures["targets"][batch], "epoch": 0}
    a, b = release(outputs, targets), corrected(outputs, targets)
    for name in a:
        if name != "total":
            assert torch.equal(a[name], b[name]), name
    weights = corrected.weight_dict
    loss_mr = sum(b[k].item() * w for k, w in weights.items() if k != "loss_saliency")
    loss_hd = b["loss_saliency"].item() * weights["loss_saliency"]
    hd, mr = outputs["hd_log_var"].item(), outputs["mr_log_var"].item()
    expected = 2 * loss_hd * math.exp(-hd) + loss_mr * math.exp(-mr) + hd + mr
    assert_loss_close(b["total"].item(), expected, "weighted objective")
    assert abs(a["total"].item() - b["total"].item()) > 1e-3


def test_corrected_turns_on_everything(fixtures: dict[str, Any]) -> None:
    cfg = TaskWeaveConfig(fidelity="corrected")
    assert all(cfg.corrects(d.name) for d in TaskWeaveConfig.DIFFERENCES)
    assert {d.name for d in TaskWeaveConfig.DIFFERENCES} == {
        "mr_expert_mask", "hgf_valid_threshold", "weighted_objective"
    }
    release, corrected = _ema_model(fixtures), _ema_model(fixtures, fidelity="corrected")
    assert corrected.transformer.mr_expert_keeps_valid and corrected.hgf_valid_threshold
    inputs = fixtures["inputs"]["padded"]
    with torch.no_grad():
        assert max_diff(release(**inputs)["pred_spans"], corrected(**inputs)["pred_spans"]) > 1e-4
    _, criterion = _train_model(fixtures, fidelity="corrected")
    assert criterion.weighted_objective


# 5. tiny ---------------------------------------------------------------------------------------


def _collate_batch(lengths: list[int], tokens: list[int], video_dim: int, text_dim: int) -> tuple[dict, dict]:
    """Inputs and targets as our collate builds them (no release-only keys)."""
    gen = torch.Generator().manual_seed(0)
    all_labels = torch.zeros(len(lengths), max(lengths))
    for b, n in enumerate(lengths):  # drawn before the features
        all_labels[b, 1:n - 1] = torch.randint(1, 13, (n - 2,), generator=gen).float()
    inputs = tiny_inputs(lengths, tokens, video_dim, text_dim, gen)
    spans = [[[0.4, 0.3]], [[0.3, 0.2], [0.7, 0.2]]]
    return inputs, tiny_targets(all_labels, spans, [[1, 2], [2, 3]], [[0, lengths[0] - 1], [0, lengths[1] - 1]])


@pytest.mark.parametrize("epoch", [0, 150])
def test_tiny_trains(epoch: int) -> None:
    torch.manual_seed(0)
    cfg = FAMILY.tiny(20, 12)
    model, criterion = FAMILY.build(cfg)
    inputs, targets = _collate_batch([8, 6], [5, 3], 20, 12)
    model.train()
    losses = criterion(model(**inputs, epoch=epoch), {**targets, "epoch": epoch})
    assert {"loss_span", "loss_giou", "loss_label", "loss_saliency", "loss_span_0", "total"} <= set(losses)
    assert losses["total"].dim() == 0 and torch.isfinite(losses["total"])
    losses["total"].backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert model.hd_log_var.grad is not None and model.query_embed.weight.grad is not None

    highlight_only = {k: v for k, v in targets.items() if k != "span_labels"}
    losses = criterion(model(**inputs, epoch=epoch), {**highlight_only, "epoch": epoch})
    assert set(losses) == {"loss_saliency", "total"} and torch.isfinite(losses["total"])


def test_tiny_eval_outputs() -> None:
    cfg = FAMILY.tiny(20, 12)
    model, _ = FAMILY.build(cfg)
    inputs, _ = _collate_batch([8, 6], [5, 3], 20, 12)
    out = eval_outputs(model, inputs)
    assert_output_shapes(out, 2, 5, 8, 1)


# 6. recognition, options, presets --------------------------------------------------------------


def test_recognises_only_taskweave(folder: Path) -> None:
    assert_recognises_only(recognises, folder.parent, (RELEASE,))


def test_options_that_cannot_work(fixtures: dict[str, Any]) -> None:
    opt = vars(fixtures["ckpt"]["opt"])
    for name, value in [("use_txt_pos", True), ("a_feat_dir", "audio"), ("span_loss_type", "ce"),
                        ("contrastive_align_loss", True), ("pre_norm", True)]:
        with pytest.raises(ValueError, match=name):
            config_from_options({**opt, name: value})
    with pytest.raises(ValueError, match="hidden_dim"):
        TaskWeaveConfig(hidden_dim=30, num_heads=4)


def test_presets() -> None:
    assert set(FAMILY.presets) == {"taskweave-qvhighlights", "taskweave-charades_sta", "taskweave-tvsum"}
    assert FAMILY.presets["taskweave-tvsum"].train["lr"] == 1e-3
    for preset in FAMILY.presets.values():
        assert isinstance(preset.model, TaskWeaveConfig) and preset.model.video_dim == 2818
