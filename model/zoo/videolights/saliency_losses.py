"""VideoLights saliency terms (release model.py:407-527) and the video-text alignment term (:549-581).

The hinge, rank-contrastive and negative-pair terms are QD-DETR's (model.zoo.common.losses); the cosine,
MR-to-HD, hard pos/neg and alignment terms are VideoLights' own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from model.zoo.common.losses import negative_pair, rank_contrastive, saliency_hinge


def shift_scores(scores: Tensor, label_range: Tensor, mask: Tensor, per_video: bool) -> Tensor:
    """(scores - min) / label_range.

    Release: min over the whole batch, padded clips included. per_video (batch_min_shift correction):
    each video's minimum over its valid clips, padded clips set to 0.
    """
    if not per_video:
        return (scores - scores.min()) / label_range
    low = scores.masked_fill(mask == 0, float("inf")).min(dim=1, keepdim=True)[0]
    return (scores - low) / label_range * mask


def _reduce(values: Tensor, mean: bool) -> Tensor:
    return values.mean() if mean else values.sum()


def saliency_loss(
    outputs: Mapping[str, Any], targets: Mapping[str, Any], epoch: int, margin: float, cos_sim_coef: float,
    mr_to_hd_coef: float, hard_pos_neg: bool, hard_pos_neg_coef: float, *, batch_mean: bool = False,
    per_video_shift: bool = False, epoch_growth: bool = True,
) -> Tensor:  # fmt: skip
    """loss_saliency = hinge + rank-contrastive + neg-pair + cosine + MR-to-HD cosine + hard pos/neg MSE.

    Args:
        outputs: saliency_scores, saliency_scores_neg, (saliency_scores_mr), video_mask — (B, L).
        targets: saliency_all_labels (B, L), saliency_pos_labels/neg_labels int64 (B, k),
            saliency_pos_index (B, L).
        epoch: the hard pos/neg weight is (epoch + 1) * hard_pos_neg_coef (release).
        batch_mean: cos_loss_batch_sum correction; per_video_shift: batch_min_shift correction;
            epoch_growth False: hard_pos_neg_epoch correction.

    Returns:
        scalar tensor.
    """
    mask = outputs["video_mask"]
    scores = outputs["saliency_scores"]
    scores_neg = outputs["saliency_scores_neg"]
    labels = targets["saliency_all_labels"]

    loss_neg_pair = negative_pair(scores_neg, mask)
    loss_rank = rank_contrastive(scores, scores_neg, labels, mask)  # divided by 12, as QD-DETR
    loss_hinge = saliency_hinge(scores, targets["saliency_pos_labels"], targets["saliency_neg_labels"], margin)

    label_range = labels.max() - labels.min()
    gt_norm = F.normalize(labels, dim=1, p=2)
    sal_norm = F.normalize(shift_scores(scores, label_range, mask, per_video_shift), dim=1, p=2)
    cos_err = (1 - F.cosine_similarity(gt_norm, sal_norm)) * cos_sim_coef

    mr_err = scores.new_zeros(())
    if "saliency_scores_mr" in outputs:
        mr = F.normalize(shift_scores(outputs["saliency_scores_mr"], label_range, mask, per_video_shift), dim=1, p=2)
        mr_err = _reduce(1 - F.cosine_similarity(mr, gt_norm), batch_mean) * mr_to_hd_coef

    hard = scores.new_zeros(())
    if hard_pos_neg:
        pos_index = targets["saliency_pos_index"].bool()
        weight = (epoch + 1 if epoch_growth else 1) * hard_pos_neg_coef
        hard_neg = F.mse_loss(gt_norm * ~pos_index, sal_norm * ~pos_index) * weight
        hard_pos = F.mse_loss(gt_norm * pos_index, sal_norm * pos_index) * weight
        hard = hard_neg + hard_pos

    return loss_hinge + loss_rank + loss_neg_pair + _reduce(cos_err, batch_mean) + mr_err + hard


def video_text_alignment(
    outputs: Mapping[str, Any], labels: Tensor, *, batch_mean: bool = False, per_video_shift: bool = False,
    mask_text: bool = False,
) -> Tensor:  # fmt: skip
    """Cosine between the mean text token and every clip, compared with the labels (model.py:549-581).

    Release: mean over all (padded) tokens of src_txt; cos with every src_vid clip; shifted by the batch
    minimum / label range; L2-normalised; (1 - cos with the normalised labels) summed over the batch.
    Returns 0 when outputs lack src_txt/src_vid (the aux layers).
    """
    if "src_txt" not in outputs or "src_vid" not in outputs:
        return labels.new_zeros(())
    txt, vid = outputs["src_txt"], outputs["src_vid"]
    if mask_text:
        tm = outputs["txt_mask"].unsqueeze(-1)
        sentence = (txt * tm).sum(1) / tm.sum(1).clamp(min=1)
    else:
        sentence = txt.mean(dim=1)
    sim = F.cosine_similarity(sentence.unsqueeze(1), vid, dim=-1)
    sim = shift_scores(sim, labels.max() - labels.min(), outputs["video_mask"], per_video_shift)
    gt_norm = F.normalize(labels, dim=1, p=2)
    sal_norm = F.normalize(sim, dim=1, p=2)
    return _reduce(1 - F.cosine_similarity(gt_norm, sal_norm, dim=1), batch_mean)


def contrastive_align(
    proj_queries: Tensor, proj_txt: Tensor, matched: tuple[Tensor, Tensor], temperature: float, txt_mask: Tensor | None
) -> Tensor:
    """Query-text NCE (model.py:529-547).

    logits[b, q] = sum over text tokens of <proj_q, proj_t> / T (all tokens in the release; txt_mask given:
    valid tokens only); loss = mean_b(-mean(logits of matched queries) + logsumexp_q logits).
    """
    sims = torch.einsum("bmd,bnd->bmn", proj_queries, proj_txt)
    if txt_mask is not None:
        sims = sims * txt_mask.unsqueeze(1)
    logits = sims.sum(2) / temperature
    positive = torch.zeros_like(logits, dtype=torch.bool)
    positive[matched] = True
    pos_term = logits.masked_fill(~positive, 0).sum(1)
    num_pos = positive.sum(1)
    return (-pos_term / num_pos + logits.logsumexp(1)).mean()
