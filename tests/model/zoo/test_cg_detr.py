"""CG-DETR against the golden fixtures of its release (VIDEOLIGHTS_DATA/release/cg_detr/)."""

from __future__ import annotations

import json
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
from tests.model.zoo.release import (
    assert_close_tree,
    assert_loss_close,
    load,
    paper_size_checkpoint,
    zero_dropout,
)

BATCHES = ("unpadded", "padded")
#: pred_logits, pred_spans, saliency_scores(_neg), src_txt_mask_neg, t2vattnvalues(_neg), real_neg_mask,
#: cate_attn_weights, txt_mask, dummy_tokens, global_rep_tokens, video_mask + 2 aux layers x 2.
N_OUTPUT_TENSORS = 17
#: Keys the release returns as None at inference.
NONE_AT_EVAL = ("memory_moment", "nmmemory_moment", "sentence_txt", "sentence_dummy", "moment2txt_similarity",
                "nmoment2txt_similarity", "moment_mask", "src_vid")


@pytest.fixture(scope="module")
def folder(data_dir: Path) -> Path:
    return data_dir / "release" / "cg_detr"


@pytest.fixture(scope="module")
def ckpt(folder: Path) -> dict[str, Any]:
    return load(folder / "release.ckpt")


@pytest.fixture(scope="module")
def inputs(folder: Path) -> dict[str, Any]:
    return load(folder / "inputs.pt")


@pytest.fixture(scope="module")
def targets(folder: Path) -> dict[str, Any]:
    return load(folder / "targets.pt")


@pytest.fixture(scope="module")
def losses_ref(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "losses.json").read_text())


@pytest.fixture(scope="module")
def release_model(ckpt):
    model, criterion, cfg, unused = model_from_release(ckpt, FAMILY)
    return model.eval(), criterion, cfg, unused


def _with_corrections(ckpt: dict[str, Any], **update: Any):
    """Model + criterion of the release checkpoint with config fields replaced (e.g. corrections)."""
    cfg = FAMILY.config_from_options(release_options(ckpt))
    cfg = CGDETRConfig(**{**cfg.model_dump(), **update})
    model, criterion = FAMILY.build(cfg)
    load_mapped(model, FAMILY.map_state_dict(ckpt["model"], cfg)[0])
    return model, criterion


def _train_losses(model, criterion, inputs: dict[str, Any], targets: dict[str, Any]) -> dict[str, torch.Tensor]:
    model.train()
    zero_dropout(model)
    outputs = model(**inputs, targets=targets)
    return {k: v.detach() for k, v in criterion(outputs, {**targets, "epoch": 0}).items()}


@pytest.mark.parametrize("batch", BATCHES)
def test_outputs_equal_release(release_model, inputs, folder, batch):
    model = release_model[0]
    ref = load(folder / "outputs.pt")[batch]
    with torch.no_grad():
        ours = model(**inputs[batch])
    assert assert_close_tree(ours, ref) == N_OUTPUT_TENSORS
    assert set(ref) <= set(ours)
    for key in NONE_AT_EVAL:
        assert ours[key] is None and ref[key] is None


@pytest.mark.parametrize("batch", BATCHES)
def test_losses_equal_release(ckpt, inputs, targets, losses_ref, batch):
    model, criterion = FAMILY.build(FAMILY.config_from_options(release_options(ckpt)))
    load_mapped(model, FAMILY.map_state_dict(ckpt["model"], criterion.cfg)[0])
    model.train()
    zero_dropout(model)
    outputs = model(**inputs[batch], targets=targets[batch])
    for epoch_key, ref in losses_ref[batch].items():
        epoch = int(epoch_key.removeprefix("epoch"))
        ours = {k: v.detach() for k, v in criterion(outputs, {**targets[batch], "epoch": epoch}).items()}
        assert set(ref["loss_dict"]) == set(ours) - {"total"}
        for name, value in ref["loss_dict"].items():
            assert_loss_close(float(ours[name]), value, f"{batch}/{epoch_key}/{name}")
        assert criterion.weight_dict == ref["weight_dict"]
        assert_loss_close(float(ours["total"]), ref["objective"], f"{batch}/{epoch_key}/total")


def test_paper_size(folder, inputs):
    ckpt = paper_size_checkpoint(folder)
    model, _, _, unused = model_from_release(ckpt, FAMILY)
    spec = json.loads((folder / "paper_size_keys.json").read_text())
    # Every release key is mapped, the two modules the release builds and never calls included.
    assert unused == {}
    assert {k for k, _, _ in spec["keys"]} == set(model.state_dict())
    assert sum(p.numel() for p in model.parameters()) == spec["n_params"] == 12_615_467
    ref = load(folder / "paper_size_outputs.pt")
    model.eval()
    for batch in BATCHES:
        with torch.no_grad():
            ours = model(**inputs[batch])
        assert assert_close_tree(ours, ref[batch], path=f"paper/{batch}") == N_OUTPUT_TENSORS


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


def test_difference_t2v_mask_per_video(ckpt, inputs, release_model):
    release = release_model[0]
    corrected = _with_corrections(ckpt, corrections=(T2V_MASK_PER_VIDEO,))[0].eval()
    with torch.no_grad():
        for batch, changes in (("unpadded", False), ("padded", True)):
            a, b = release(**inputs[batch]), corrected(**inputs[batch])
            for key in ("saliency_scores", "t2vattnvalues", "pred_spans"):
                diff = _max_diff(a[key], b[key])
                assert (diff > 1e-4) if changes else (diff <= 1e-6), (batch, key, diff)


def _assert_only_saliency_moves(ours: dict[str, torch.Tensor], ref: dict[str, float], moves: bool, what: str) -> None:
    for key, value in ref.items():
        if key == "loss_saliency" and moves:
            assert abs(float(ours[key]) - value) > 1e-3, (what, float(ours[key]), value)
        else:
            assert_loss_close(float(ours[key]), value, f"{what}/{key}")


def test_difference_single_false_negative_row(ckpt, inputs, targets, losses_ref):
    model, criterion = _with_corrections(ckpt, corrections=(SINGLE_FALSE_NEGATIVE_ROW,))
    # Only the padded batch has a false-negative row (rows 1 and 2: two segments of one video).
    for batch, moves in (("unpadded", False), ("padded", True)):
        ours = _train_losses(model, criterion, inputs[batch], targets[batch])
        _assert_only_saliency_moves(ours, losses_ref[batch]["epoch0"]["loss_dict"], moves, batch)


def test_difference_attn_false_negative_rank(ckpt, inputs, targets, losses_ref):
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
    model = FAMILY.build(cfg)[0].eval()
    batch_inputs, batch_targets = _collate_batch(cfg)
    with torch.no_grad():
        outputs = model(**batch_inputs, targets=batch_targets)
    assert (~outputs["real_neg_mask"]).sum() == 2
    release_losses = {k: v.detach() for k, v in FAMILY.build(cfg)[1](outputs, batch_targets).items()}
    fixed_losses = {k: v.detach() for k, v in FAMILY.build(fixed)[1](outputs, batch_targets).items()}
    for key in release_losses:
        if key in ("loss_saliency", "total"):
            assert abs(float(fixed_losses[key]) - float(release_losses[key])) > 1e-4, key
        else:
            assert float(fixed_losses[key]) == float(release_losses[key]), key


def test_corrected_turns_all_on(ckpt, inputs, targets, losses_ref, release_model):
    cfg = CGDETRConfig(fidelity="corrected")
    assert all(cfg.corrects(d.name) for d in CGDETRConfig.DIFFERENCES)
    assert not any(CGDETRConfig().corrects(d.name) for d in CGDETRConfig.DIFFERENCES)
    model, criterion = _with_corrections(ckpt, fidelity="corrected")
    ours = _train_losses(model, criterion, inputs["padded"], targets["padded"])
    ref = losses_ref["padded"]["epoch0"]["loss_dict"]
    assert abs(float(ours["loss_saliency"]) - ref["loss_saliency"]) > 1e-3
    model.eval()
    with torch.no_grad():
        a, b = release_model[0](**inputs["padded"]), model(**inputs["padded"])
    assert _max_diff(a["saliency_scores"], b["saliency_scores"]) > 1e-4
    with pytest.raises(ValueError, match="not differences"):
        CGDETRConfig(corrections=("no_such_fix",))


def _collate_batch(cfg: CGDETRConfig, with_spans: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """A small batch as our collate builds it (no release-only keys)."""
    gen = torch.Generator().manual_seed(0)
    lengths, tokens = [8, 6, 5, 7], [4, 6, 3, 5]
    b, lv, lt = len(lengths), max(lengths), max(tokens)
    vid_mask = (torch.arange(lv)[None] < torch.tensor(lengths)[:, None]).float()
    txt_mask = (torch.arange(lt)[None] < torch.tensor(tokens)[:, None]).float()
    inputs = {
        "src_vid": torch.randn(b, lv, cfg.video_dim, generator=gen) * vid_mask[..., None],
        "src_vid_mask": vid_mask,
        "src_txt": torch.randn(b, lt, cfg.text_dim, generator=gen) * txt_mask[..., None],
        "src_txt_mask": txt_mask,
        # Two segments of each of two videos: rows 0 and 2 get a negative text of the same video.
        "vid": ["ab_c_0.0_10.0", "ab_c_10.0_20.0", "xyz_0.0_10.0", "xyz_10.0_20.0"],
        "qid": [1, 2, 3, 4],
    }
    labels = torch.zeros(b, lv)
    labels[0, 2:5] = torch.tensor([3.0, 7.0, 5.0])
    labels[1, 0:3] = torch.tensor([12.0, 4.0, 2.0])
    labels[2, 1:4] = torch.tensor([1.0, 9.0, 6.0])
    labels[3, 4:7] = torch.tensor([8.0, 8.0, 2.0])
    targets: dict[str, Any] = {
        "saliency_pos_labels": torch.tensor([[3, 2], [0, 1], [2, 3], [4, 5]]),
        "saliency_neg_labels": torch.tensor([[0, 7], [4, 5], [0, 4], [1, 2]]),
        "saliency_all_labels": labels,
    }
    if with_spans:
        targets["span_labels"] = [
            {"spans": torch.tensor([[0.4375, 0.375]])},
            {"spans": torch.tensor([[0.25, 0.5]])},
            {"spans": torch.tensor([[0.5, 0.6], [0.1, 0.2]])},
            {"spans": torch.tensor([[0.7143, 0.4286]])},
        ]
    return inputs, targets


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
    model.eval()
    with torch.no_grad():
        out = model(inputs["src_vid"], inputs["src_vid_mask"], inputs["src_txt"], inputs["src_txt_mask"])
    assert out["saliency_scores_neg"] is None and out["memory_moment"] is None
    assert out["saliency_scores"].shape == (4, 8)


def test_presets_and_options(ckpt):
    assert set(FAMILY.presets) == {"cg_detr-qvhighlights", "cg_detr-charades_sta", "cg_detr-tvsum"}
    assert FAMILY.presets["cg_detr-qvhighlights"].model == CGDETRConfig()
    opt = release_options(ckpt)
    assert FAMILY.config_from_options(opt).hidden_dim == 24
    for name, value in (("span_loss_type", "ce"), ("contrastive_align_loss", True), ("dset_name", "youtube_uni")):
        with pytest.raises(ValueError, match=name):
            FAMILY.config_from_options({**opt, name: value})


def test_recognises(data_dir: Path):
    release = data_dir / "release"
    folders = sorted(p for p in release.iterdir() if (p / "release.ckpt").is_file())
    assert any(p.name == "cg_detr" for p in folders)
    for p in folders:
        ck = load(p / "release.ckpt")
        assert FAMILY.recognises(release_options(ck), set(ck["model"])) == (p.name == "cg_detr"), p.name
