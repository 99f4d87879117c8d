"""Loss equations on hand-checkable tensors, and the criterion's bookkeeping."""

from __future__ import annotations

import math

import pytest
import torch

from model.build import build_model
from model.losses.alignment import query_token_contrastive_loss, video_text_alignment_loss
from model.losses.moment import label_loss, span_losses
from model.losses.saliency import (
    adaptive_weight,
    cosine_loss,
    hard_losses,
    margin_ranking_loss,
    negative_pair_loss,
    rank_contrastive_loss,
)
from model.presets import get_preset

LOG2 = math.log(2.0)


def test_label_loss_down_weights_background() -> None:
    logits = torch.zeros(1, 2, 2)
    loss = label_loss(logits, torch.tensor([[True, False]]), eos_coef=0.1)
    assert loss.item() == pytest.approx((LOG2 + 0.1 * LOG2) / 2)


def test_span_losses_of_known_spans() -> None:
    pred = torch.tensor([[0.5, 0.2], [0.2, 0.2]])
    tgt = torch.tensor([[0.5, 0.2], [0.4, 0.2]])
    l1, giou = span_losses(pred, tgt)
    assert l1.item() == pytest.approx(0.2 / 4)
    # [0.1, 0.3] vs [0.3, 0.5]: touching -> IoU 0, hull 0.4, union 0.4 -> gIoU 0
    assert giou.item() == pytest.approx((0.0 + 1.0) / 2)


def test_margin_ranking_loss() -> None:
    scores = torch.tensor([[1.0, 0.5, 0.0]])
    assert margin_ranking_loss(scores, torch.tensor([[0]]), torch.tensor([[1]]), 0.2).item() == 0
    loss = margin_ranking_loss(scores, torch.tensor([[2]]), torch.tensor([[0]]), 0.2)
    assert loss.item() == pytest.approx(2 * 1.2)


def test_rank_contrastive_loss_value_and_padding() -> None:
    scores = torch.zeros(1, 4)
    labels = torch.tensor([[12.0, 0.0, 0.0, 0.0]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    loss = rank_contrastive_loss(scores, labels, mask, tau=1.0, levels=12)
    assert loss.item() == pytest.approx(11 * math.log(4) / 12)
    padded = rank_contrastive_loss(
        torch.cat([scores, torch.full((1, 3), 50.0)], 1),
        torch.cat([labels, torch.full((1, 3), 12.0)], 1),
        torch.cat([mask, torch.zeros(1, 3, dtype=torch.bool)], 1),
        tau=1.0,
        levels=12,
    )
    assert padded.item() == pytest.approx(loss.item())


def test_negative_pair_loss_counts_valid_clips_only() -> None:
    mask = torch.tensor([[True, True, True, False]])
    scores = torch.tensor([[0.0, 0.0, 0.0, 100.0]])
    assert negative_pair_loss(scores, mask).item() == pytest.approx(3 * LOG2)


def test_cosine_loss_zero_for_identical_and_one_for_orthogonal() -> None:
    x = torch.rand(3, 5)
    mask = torch.ones(3, 5, dtype=torch.bool)
    assert cosine_loss(x, x, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert cosine_loss(3 * x, x, mask).item() == pytest.approx(0.0, abs=1e-6)
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert cosine_loss(a, b, torch.ones(1, 2, dtype=torch.bool)).item() == pytest.approx(1.0)
    # padded clips are ignored even when they hold garbage
    mask2 = torch.tensor([[True, True, False]])
    padded = cosine_loss(torch.tensor([[1.0, 0.0, 7.0]]), torch.tensor([[0.0, 1.0, 7.0]]), mask2)
    assert padded.item() == pytest.approx(1.0)


def test_adaptive_weight_grows_linearly_with_epoch() -> None:
    weights = [adaptive_weight(e, 10.0) for e in range(6)]
    assert weights == [10.0 * (e + 1) for e in range(6)]
    scores, labels = torch.randn(2, 6), torch.rand(2, 6) * (torch.rand(2, 6) > 0.5)
    mask = torch.ones(2, 6, dtype=torch.bool)
    base = hard_losses(scores, labels, mask, 1.0)
    for e in range(4):
        scaled = hard_losses(scores, labels, mask, adaptive_weight(e, 10.0))
        for got, ref in zip(scaled, base):
            assert got.item() == pytest.approx((e + 1) * 10.0 * ref.item(), rel=1e-5)


def test_hard_losses_zero_when_saliency_is_the_ground_truth() -> None:
    labels = torch.tensor([[0.0, 3.0, 6.0, 0.0]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    pos, neg = hard_losses(labels.clone(), labels, mask, 10.0)
    assert pos.item() == pytest.approx(0.0, abs=1e-6) and neg.item() == pytest.approx(0.0, abs=1e-6)


def test_query_token_contrastive_loss() -> None:
    queries = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    words = torch.tensor([[[1.0, 0.0], [-5.0, 3.0]]])  # second word is padding
    mask = torch.tensor([[True, False]])
    matched = torch.tensor([[True, False]])
    loss = query_token_contrastive_loss(queries, words, mask, matched, temperature=1.0)
    assert loss.item() == pytest.approx(math.log(math.e + 1) - 1)
    none = query_token_contrastive_loss(queries, words, mask, torch.zeros(1, 2, dtype=torch.bool), 1.0)
    assert none.item() == 0.0


def test_video_text_alignment_zero_when_similarity_follows_labels() -> None:
    sentence = torch.tensor([1.0, 0.0])
    clips = torch.tensor([[[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [3.0, 3.0]]])  # last = padding
    labels = torch.tensor([[0.0, math.sqrt(0.5), 1.0, 0.0]])
    video_mask = torch.tensor([[True, True, True, False]])
    text = torch.stack([sentence, torch.tensor([9.0, 9.0])])[None]
    text_mask = torch.tensor([[True, False]])
    loss = video_text_alignment_loss(clips, text, video_mask, text_mask, labels)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def _run(preset: str, tiny_config, make_batch, make_targets, clip_counts, epoch=0):
    cfg = tiny_config(loss=get_preset(preset).loss.model_dump(), dec_layers=2)
    model, criterion, _ = build_model(cfg)
    batch = make_batch(cfg, clip_counts, [3] * len(clip_counts))
    outputs = model(**batch)
    return outputs, criterion(outputs, make_targets(clip_counts, epoch=epoch)), criterion


def test_criterion_returns_weighted_terms_and_total(tiny_config, make_batch, make_targets) -> None:
    outputs, losses, criterion = _run("tiny", tiny_config, make_batch, make_targets, [8, 6])
    terms = {k: v for k, v in losses.items() if k != "total"}
    assert set(terms) == set(criterion.weight_dict)
    assert losses["total"].item() == pytest.approx(sum(v.item() for v in terms.values()), rel=1e-5)
    assert {"loss_span_0", "loss_giou_0", "loss_label_0", "loss_align_query_0"} <= set(terms)


def test_criterion_batch_of_one_skips_negative_pair(tiny_config, make_batch, make_targets) -> None:
    outputs, losses, _ = _run("tiny", tiny_config, make_batch, make_targets, [8])
    assert "saliency_scores_neg" not in outputs
    assert "loss_neg_pair" not in losses and torch.isfinite(losses["total"])


def test_criterion_hard_terms_scale_with_epoch(tiny_config, make_batch, make_targets) -> None:
    outputs, first, criterion = _run("tiny", tiny_config, make_batch, make_targets, [8, 6])
    later = criterion(outputs, make_targets([8, 6], epoch=4))
    for key in ("loss_hard_pos", "loss_hard_neg"):
        assert later[key].item() == pytest.approx(5 * first[key].item(), rel=1e-4)


def test_tvsum_mode_uses_saliency_losses_only(tiny_config, make_batch, make_targets) -> None:
    _, losses, _ = _run("videolights-tvsum", tiny_config, make_batch, make_targets, [8, 6])
    assert set(losses) - {"total"} == {
        "loss_saliency_margin",
        "loss_rank_contrastive",
        "loss_neg_pair",
        "loss_task_specific",
        "loss_task_coupled",
        "loss_hard_pos",
        "loss_hard_neg",
    }


def test_criterion_names_missing_targets(tiny_config, make_batch, make_targets) -> None:
    cfg = tiny_config()
    model, criterion, _ = build_model(cfg)
    outputs = model(**make_batch(cfg, [8, 6], [3, 3]))
    targets = make_targets([8, 6])
    del targets["saliency_all_labels"]
    with pytest.raises(ValueError, match="saliency_all_labels"):
        criterion(outputs, targets)
