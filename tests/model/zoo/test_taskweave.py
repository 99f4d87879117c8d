"""TaskWeave against the golden fixtures of its release (VIDEOLIGHTS_DATA/release/taskweave)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from model.zoo.convert import load_mapped, model_from_release
from model.zoo.taskweave import FAMILY, TaskWeaveConfig, build
from model.zoo.taskweave.convert import config_from_options, map_state_dict, recognises
from tests.model.zoo.release import (
    assert_close_tree,
    assert_loss_close,
    load,
    paper_size_checkpoint,
    zero_dropout,
)

BATCHES = ("unpadded", "padded")
# pred_logits, pred_spans, saliency_scores, saliency_scores_neg, video_mask, aux pred_logits/pred_spans
N_OUTPUT_TENSORS = 7


@pytest.fixture(scope="module")
def folder(data_dir: Path) -> Path:
    path = data_dir / "release" / "taskweave"
    if not path.is_dir():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture(scope="module")
def fixture(folder: Path) -> dict[str, Any]:
    torch.set_num_threads(1)
    return {
        "ckpt": load(folder / "release.ckpt"),
        "inputs": load(folder / "inputs.pt"),
        "targets": load(folder / "targets.pt"),
        "outputs": load(folder / "outputs.pt"),
        "losses": json.loads((folder / "losses.json").read_text()),
    }


def _ema_model(fixture: dict[str, Any], **update: Any) -> torch.nn.Module:
    """The EMA weights (what the release infers with) in eval mode, optionally with corrections."""
    ckpt = fixture["ckpt"]
    if not update:
        model, _, _, _ = model_from_release(ckpt, FAMILY, weights=FAMILY.ema_key)
    else:
        cfg = config_from_options(vars(ckpt["opt"]))
        cfg = TaskWeaveConfig(**{**cfg.model_dump(), **update})
        model, _ = build(cfg)
        load_mapped(model, map_state_dict(ckpt[FAMILY.ema_key], cfg)[0])
    return model.eval()


def _train_model(fixture: dict[str, Any], **update: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The training weights (not EMA), train mode, every dropout 0."""
    ckpt = {k: v for k, v in fixture["ckpt"].items() if k != FAMILY.ema_key}
    cfg = config_from_options(vars(ckpt["opt"]))
    cfg = TaskWeaveConfig(**{**cfg.model_dump(), **update})
    model, criterion = build(cfg)
    load_mapped(model, map_state_dict(ckpt["model"], cfg)[0])
    model.train()
    zero_dropout(model)
    return model, criterion


def _compare_release(ours: dict[str, Any], ref: list[Any]) -> int:
    out_dict, (hd_log_var, mr_log_var) = ref
    count = assert_close_tree(ours, out_dict)
    count += assert_close_tree(ours["hd_log_var"], hd_log_var, "outputs.hd_log_var")
    count += assert_close_tree(ours["mr_log_var"], mr_log_var, "outputs.mr_log_var")
    return count


# 1. outputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", BATCHES)
def test_outputs_equal_release(fixture: dict[str, Any], batch: str) -> None:
    model = _ema_model(fixture)
    with torch.no_grad():
        ours = model(**fixture["inputs"][batch])
    assert _compare_release(ours, fixture["outputs"][batch]) == N_OUTPUT_TENSORS + 2


# 2. losses -------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", BATCHES)
def test_losses_equal_release(fixture: dict[str, Any], batch: str) -> None:
    model, criterion = _train_model(fixture)
    for key, ref in fixture["losses"][batch].items():
        epoch = int(key.removeprefix("epoch_"))
        outputs = model(**fixture["inputs"][batch], epoch=epoch)
        losses = criterion(outputs, {**fixture["targets"][batch], "epoch": epoch})
        assert set(ref["loss_dict"]) | {"total"} == set(losses)
        for name, value in ref["loss_dict"].items():
            assert_loss_close(losses[name].item(), value, f"{batch} {key} {name}")
        assert_loss_close(losses["total"].item(), ref["objective"], f"{batch} {key} objective")


# 3. paper size ---------------------------------------------------------------------------------


def test_paper_size(folder: Path) -> None:
    ckpt = paper_size_checkpoint(folder)
    model, _, cfg, unused = model_from_release(ckpt, FAMILY)
    spec = json.loads((folder / "paper_size_keys.json").read_text())
    assert cfg.hidden_dim == 256 and cfg.video_dim == 2818
    # every release key is mapped, txt_position_embed (built by the release, never used) included
    assert unused == {}
    assert sum(p.numel() for p in model.parameters()) == spec["n_params"]
    assert set(model.state_dict()) == {name for name, _, _ in spec["keys"]}
    model.eval()
    inputs, expected = load(folder / "inputs.pt"), load(folder / "paper_size_outputs.pt")
    for batch in BATCHES:
        with torch.no_grad():
            ours = model(**inputs[batch])
        assert _compare_release(ours, expected[batch]) == N_OUTPUT_TENSORS + 2


# 4. differences --------------------------------------------------------------------------------


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


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


def test_mr_expert_mask(fixture: dict[str, Any]) -> None:
    release, corrected = _ema_model(fixture), _ema_model(fixture, corrections=("mr_expert_mask",))
    for batch in BATCHES:
        inputs = fixture["inputs"][batch]
        # release: one constant vector for every valid clip of every video; corrected: per clip
        assert _mr_expert_spread(release, inputs) < 1e-6  # 0 up to the 1x1 conv's rounding
        assert _mr_expert_spread(corrected, inputs) > 1e-3
        with torch.no_grad():
            a, b = release(**inputs), corrected(**inputs)
        assert _max_diff(a["pred_spans"], b["pred_spans"]) > 1e-4
        assert _max_diff(a["pred_logits"], b["pred_logits"]) > 1e-4
        assert torch.equal(a["saliency_scores"], b["saliency_scores"])
        assert torch.equal(a["saliency_scores_neg"], b["saliency_scores_neg"])


def test_hgf_valid_threshold(fixture: dict[str, Any]) -> None:
    release, corrected = _ema_model(fixture), _ema_model(fixture, corrections=("hgf_valid_threshold",))
    with torch.no_grad():
        same = [release(**fixture["inputs"]["unpadded"]), corrected(**fixture["inputs"]["unpadded"])]
        pad = [release(**fixture["inputs"]["padded"]), corrected(**fixture["inputs"]["padded"])]
    # without padding the two thresholds agree
    assert torch.equal(same[0]["pred_spans"], same[1]["pred_spans"])
    # with padding the feedback mask, hence the moment outputs, change; the saliency does not
    assert _max_diff(pad[0]["pred_spans"], pad[1]["pred_spans"]) > 1e-5
    assert torch.equal(pad[0]["saliency_scores"], pad[1]["saliency_scores"])
    assert torch.equal(pad[0]["saliency_scores_neg"], pad[1]["saliency_scores_neg"])


def test_weighted_objective(fixture: dict[str, Any]) -> None:
    model, release = _train_model(fixture)
    _, corrected = _train_model(fixture, corrections=("weighted_objective",))
    batch = "padded"
    outputs = model(**fixture["inputs"][batch], epoch=0)
    targets = {**fixture["targets"][batch], "epoch": 0}
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


def test_corrected_turns_on_everything(fixture: dict[str, Any]) -> None:
    cfg = TaskWeaveConfig(fidelity="corrected")
    assert all(cfg.corrects(d.name) for d in TaskWeaveConfig.DIFFERENCES)
    assert {d.name for d in TaskWeaveConfig.DIFFERENCES} == {
        "mr_expert_mask", "hgf_valid_threshold", "weighted_objective"
    }
    release, corrected = _ema_model(fixture), _ema_model(fixture, fidelity="corrected")
    assert corrected.transformer.mr_expert_keeps_valid and corrected.hgf_valid_threshold
    inputs = fixture["inputs"]["padded"]
    with torch.no_grad():
        assert _max_diff(release(**inputs)["pred_spans"], corrected(**inputs)["pred_spans"]) > 1e-4
    _, criterion = _train_model(fixture, fidelity="corrected")
    assert criterion.weighted_objective


# 5. tiny ---------------------------------------------------------------------------------------


def _collate_batch(lengths: list[int], tokens: list[int], video_dim: int, text_dim: int) -> tuple[dict, dict]:
    """Inputs and targets as our collate builds them (no release-only keys)."""
    gen = torch.Generator().manual_seed(0)
    bsz, n_clips, n_tokens = len(lengths), max(lengths), max(tokens)
    vid_mask = torch.zeros(bsz, n_clips)
    txt_mask = torch.zeros(bsz, n_tokens)
    all_labels = torch.zeros(bsz, n_clips)
    for b, (n, t) in enumerate(zip(lengths, tokens)):
        vid_mask[b, :n], txt_mask[b, :t] = 1, 1
        all_labels[b, 1:n - 1] = torch.randint(1, 13, (n - 2,), generator=gen).float()
    inputs = {
        "src_vid": torch.randn(bsz, n_clips, video_dim, generator=gen) * vid_mask[..., None],
        "src_vid_mask": vid_mask,
        "src_txt": torch.randn(bsz, n_tokens, text_dim, generator=gen) * txt_mask[..., None],
        "src_txt_mask": txt_mask,
    }
    targets = {
        "span_labels": [{"spans": torch.tensor([[0.4, 0.3]])}, {"spans": torch.tensor([[0.3, 0.2], [0.7, 0.2]])}],
        "saliency_pos_labels": torch.tensor([[1, 2], [2, 3]]),
        "saliency_neg_labels": torch.tensor([[0, lengths[0] - 1], [0, lengths[1] - 1]]),
        "saliency_all_labels": all_labels,
    }
    return inputs, targets


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
    with torch.no_grad():
        out = model.eval()(**inputs)
    assert out["pred_logits"].shape == (2, 5, 2) and out["pred_spans"].shape == (2, 5, 2)
    assert out["saliency_scores"].shape == (2, 8) and len(out["aux_outputs"]) == 1


# 6. recognition, options, presets --------------------------------------------------------------


def test_recognises_only_taskweave(folder: Path) -> None:
    for other in sorted(folder.parent.iterdir()):
        path = other / "release.ckpt"
        if not path.is_file():
            continue
        ckpt = load(path)
        assert recognises(vars(ckpt["opt"]), set(ckpt["model"])) == (other.name == "taskweave"), other.name


def test_options_that_cannot_work(fixture: dict[str, Any]) -> None:
    opt = vars(fixture["ckpt"]["opt"])
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
