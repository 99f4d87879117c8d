"""QD-DETR (model.zoo.qd_detr) against the golden fixtures of wjun0830/QD-DETR
(VIDEOLIGHTS_DATA/release/qd_detr/README.md)."""

from __future__ import annotations

import json
from functools import cache
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
    path = data_dir / "release" / "qd_detr"
    if not path.is_dir():
        pytest.skip(f"{path} is missing")
    return path


@cache
def _fixture(folder: Path, name: str) -> Any:
    return load(folder / name)


def _release_model(
    folder: Path, corrections: tuple[str, ...] = (), fidelity: str = "release"
) -> tuple[Any, Any]:
    ckpt = _fixture(folder, "release.ckpt")
    model, criterion, cfg, _ = model_from_release(ckpt, FAMILY)
    if corrections or fidelity != "release":
        cfg = QDDETRConfig(**{**cfg.model_dump(), "corrections": corrections, "fidelity": fidelity})
        model2, criterion = build(cfg)
        model2.load_state_dict(model.state_dict())
        model = model2
    return model, criterion


def _eval_outputs(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    model.eval()
    with torch.no_grad():
        return model(**batch)


def _train_losses(
    model: torch.nn.Module, criterion: torch.nn.Module, batch: dict, targets: dict, epoch: int = 0
):
    model.train()
    zero_dropout(model)
    return criterion(model(**batch), {**targets, "epoch": epoch})


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# 1. outputs of release.ckpt
@pytest.mark.parametrize("batch", BATCHES)
def test_outputs_equal_release(folder: Path, batch: str) -> None:
    model, _ = _release_model(folder)
    ours = _eval_outputs(model, _fixture(folder, "inputs.pt")[batch])
    ref = _fixture(folder, "outputs.pt")[batch]
    assert set(ref) <= set(ours)
    assert assert_close_tree(ours, ref) == N_OUTPUT_TENSORS


# 2. losses of a dropout-free train-mode forward
@pytest.mark.parametrize("batch", BATCHES)
def test_losses_equal_release(folder: Path, batch: str) -> None:
    model, criterion = _release_model(folder)
    expected = json.loads((folder / "losses.json").read_text())[batch]
    inputs, targets = _fixture(folder, "inputs.pt")[batch], _fixture(folder, "targets.pt")[batch]
    for epoch_key, ref in expected.items():
        losses = _train_losses(model, criterion, inputs, targets, int(epoch_key.removeprefix("epoch")))
        assert set(ref["loss_dict"]) | {"total"} == set(losses)
        assert criterion.weight_dict == ref["weight_dict"]
        for key, value in ref["loss_dict"].items():
            assert_loss_close(float(losses[key].detach()), value, f"{batch}/{epoch_key}/{key}")
        assert_loss_close(float(losses["total"].detach()), ref["objective"], f"{batch}/{epoch_key}/total")


# 3. script-size model with the formula weights
def test_paper_size(folder: Path) -> None:
    spec = json.loads((folder / "paper_size_keys.json").read_text())
    ckpt = paper_size_checkpoint(folder)
    model, _, cfg, unused = model_from_release(ckpt, FAMILY)
    assert cfg.hidden_dim == 256 and cfg.num_heads == 8 and cfg.ffn_dim == 1024
    # every release key is mapped, txt_position_embed (built by the release, never used) included
    assert unused == {}
    assert sum(p.numel() for p in model.parameters()) == spec["n_params"]
    assert set(model.state_dict()) == {k for k, _, _ in spec["keys"]}
    ref = _fixture(folder, "paper_size_outputs.pt")
    for batch in BATCHES:
        ours = _eval_outputs(model, _fixture(folder, "inputs.pt")[batch])
        assert assert_close_tree(ours, ref[batch]) == N_OUTPUT_TENSORS


def test_default_config_is_the_script_size(folder: Path) -> None:
    spec = json.loads((folder / "paper_size_keys.json").read_text())
    assert config_from_options(spec["opt"]) == QDDETRConfig()


# 4. the named corrections
def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def test_t2v_own_mask(folder: Path) -> None:
    release, _ = _release_model(folder)
    corrected, _ = _release_model(folder, (T2V_OWN_MASK,))
    inputs = _fixture(folder, "inputs.pt")
    # no padding: the release's mask is all False, nothing changes
    a, b = _eval_outputs(release, inputs["unpadded"]), _eval_outputs(corrected, inputs["unpadded"])
    for key in ("pred_logits", "pred_spans", "saliency_scores", "saliency_scores_neg"):
        assert torch.equal(a[key], b[key]), key
    # mixed lengths: valid clips of some videos read other tokens than with another video's mask
    a, b = _eval_outputs(release, inputs["padded"]), _eval_outputs(corrected, inputs["padded"])
    valid = inputs["padded"]["src_vid_mask"].bool()
    assert _max_diff(a["saliency_scores"][valid], b["saliency_scores"][valid]) > 1e-4
    assert _max_diff(a["pred_spans"], b["pred_spans"]) > 1e-6


def test_t2v_norm_residual(folder: Path) -> None:
    release, _ = _release_model(folder)
    corrected, _ = _release_model(folder, (T2V_NORM_RESIDUAL,))
    for batch in BATCHES:
        inputs = _fixture(folder, "inputs.pt")[batch]
        a, b = _eval_outputs(release, inputs), _eval_outputs(corrected, inputs)
        assert _max_diff(a["saliency_scores"], b["saliency_scores"]) > 1e-3
        assert _max_diff(a["pred_spans"], b["pred_spans"]) > 1e-5


def test_rank_contrastive_mean(folder: Path) -> None:
    release, release_criterion = _release_model(folder)
    corrected, corrected_criterion = _release_model(folder, (RANK_CONTRASTIVE_MEAN,))
    for batch in BATCHES:
        inputs, targets = _fixture(folder, "inputs.pt")[batch], _fixture(folder, "targets.pt")[batch]
        a = _train_losses(release, release_criterion, inputs, targets)
        b = _train_losses(corrected, corrected_criterion, inputs, targets)
        for key in a:
            if key not in ("loss_saliency", "total"):
                assert float(a[key].detach()) == float(b[key].detach()), key
        outputs = _eval_outputs(release, inputs)
        assert assert_close_tree(_eval_outputs(corrected, inputs), outputs, atol=0.0) == N_OUTPUT_TENSORS
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
    gen = torch.Generator().manual_seed(0)
    lengths, tokens = [9, 6, 7], [5, 3, 4]
    bsz, lv, lt = len(lengths), max(lengths), max(tokens)
    vid_mask = torch.zeros(bsz, lv)
    txt_mask = torch.zeros(bsz, lt)
    for i, (n, t) in enumerate(zip(lengths, tokens)):
        vid_mask[i, :n] = 1
        txt_mask[i, :t] = 1
    batch = {
        "src_vid": torch.randn(bsz, lv, video_dim, generator=gen) * vid_mask[..., None],
        "src_vid_mask": vid_mask,
        "src_txt": torch.randn(bsz, lt, text_dim, generator=gen) * txt_mask[..., None],
        "src_txt_mask": txt_mask,
    }
    labels = torch.zeros(bsz, lv)
    labels[0, 2:5] = torch.tensor([4.0, 12.0, 7.0])
    labels[1, 0:2] = torch.tensor([3.0, 5.0])
    labels[2, 4:7] = torch.tensor([9.0, 1.0, 2.0])
    targets = {
        "span_labels": [
            {"spans": torch.tensor([[0.4, 0.3]])},
            {"spans": torch.tensor([[0.2, 0.3], [0.8, 0.2]])},
            {"spans": torch.tensor([[0.7, 0.4]])},
        ],
        "saliency_pos_labels": torch.tensor([[3, 4], [1, 0], [4, 6]]),
        "saliency_neg_labels": torch.tensor([[0, 8], [3, 5], [0, 2]]),
        "saliency_all_labels": labels,
    }
    return batch, targets


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
    out = _eval_outputs(model, batch)
    assert out["pred_logits"].shape == (3, 4, 2) and out["pred_spans"].shape == (3, 4, 2)
    assert out["saliency_scores"].shape == (3, 9) and len(out["aux_outputs"]) == 1


# 6. recognising the release's checkpoints
def test_recognises_only_qd_detr(folder: Path) -> None:
    own = _fixture(folder, "release.ckpt")
    assert FAMILY.recognises(release_options(own), set(own["model"]))
    others = [p for p in sorted(folder.parent.iterdir()) if p.is_dir() and p != folder]
    assert others
    for other in others:
        ckpt = load(other / "release.ckpt")
        assert not FAMILY.recognises(release_options(ckpt), set(ckpt["model"])), other.name


# config and options
def test_options_the_model_cannot_honour(folder: Path) -> None:
    opt = release_options(_fixture(folder, "release.ckpt"))
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
