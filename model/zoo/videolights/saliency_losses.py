"""VideoLights saliency terms (release model.py:407-527) and the video-text alignment term (:549-581)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


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


def rank_contrastive(scores: Tensor, scores_neg: Tensor, labels: Tensor, mask: Tensor, tau: float = 0.5) -> Tensor:
    """Rank-contrastive term over [scores | scores_neg] with labels [labels | 0] (model.py:443-481).

    For t = 1..11 (skipped when no clip of the batch has label >= t): log-softmax of s/tau over the 2L
    clips, mean log-probability of the clips with label >= t, averaged over videos that have one; the
    sum over t is divided by 12.
    """
    s = torch.cat([scores, scores_neg], dim=1)
    y = torch.cat([labels, torch.zeros_like(labels)], dim=1)
    m = mask.repeat([1, 2])
    s = m * s + (1.0 - m) * -1e3
    total = s.new_zeros(())
    for t in range(1, 12):
        pos = y >= t
        if torch.sum(pos) == 0:
            continue
        has_pos = torch.sum(pos, dim=1) > 0
        cur = s / tau
        logits = cur - torch.max(cur, dim=1, keepdim=True)[0]
        log_prob = logits - torch.log(torch.exp(logits).sum(1, keepdim=True) + 1e-6)
        mean_log_prob_pos = (pos * log_prob * m).sum(1) / (pos.sum(1) + 1e-6)
        total = total + (-mean_log_prob_pos * has_pos).mean()
    return total / 12


def saliency_loss(
    outputs: dict,
    targets: dict,
    epoch: int,
    margin: float,
    cos_sim_coef: float,
    mr_to_hd_coef: float,
    hard_pos_neg: bool,
    hard_pos_neg_coef: float,
    *,
    batch_mean: bool = False,
    per_video_shift: bool = False,
    epoch_growth: bool = True,
) -> Tensor:
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

    loss_neg_pair = (-torch.log(1.0 - torch.sigmoid(scores_neg)) * mask).sum(dim=1).mean()
    loss_rank = rank_contrastive(scores, scores_neg, labels, mask)

    pos_idx, neg_idx = targets["saliency_pos_labels"], targets["saliency_neg_labels"]
    num_pairs = pos_idx.shape[1]
    rows = torch.arange(len(scores), device=scores.device)
    pos_scores = torch.stack([scores[rows, pos_idx[:, c]] for c in range(num_pairs)], dim=1)
    neg_scores = torch.stack([scores[rows, neg_idx[:, c]] for c in range(num_pairs)], dim=1)
    loss_hinge = torch.clamp(margin + neg_scores - pos_scores, min=0).sum() / (len(pos_scores) * num_pairs) * 2

    label_range = labels.max() - labels.min()
    gt_norm = F.normalize(labels, dim=1, p=2)
    sal_norm = F.normalize(shift_scores(scores, label_range, mask, per_video_shift), dim=1, p=2)
    cos_err = (1 - F.cosine_similarity(gt_norm, sal_norm)) * cos_sim_coef

    mr_err = scores.new_zeros(1)
    if "saliency_scores_mr" in outputs:
        mr = F.normalize(shift_scores(outputs["saliency_scores_mr"], label_range, mask, per_video_shift), dim=1, p=2)
        mr_err = _reduce(1 - F.cosine_similarity(mr, gt_norm), batch_mean) * mr_to_hd_coef

    hard = scores.new_zeros(1)
    if hard_pos_neg:
        pos_index = targets["saliency_pos_index"].bool()
        weight = (epoch + 1 if epoch_growth else 1) * hard_pos_neg_coef
        hard_neg = F.mse_loss(gt_norm * ~pos_index, sal_norm * ~pos_index) * weight
        hard_pos = F.mse_loss(gt_norm * pos_index, sal_norm * pos_index) * weight
        hard = hard_neg + hard_pos

    return loss_hinge + loss_rank + loss_neg_pair + _reduce(cos_err, batch_mean) + mr_err.sum() + hard.sum()


def video_text_alignment(
    outputs: dict, labels: Tensor, *, batch_mean: bool = False, per_video_shift: bool = False, mask_text: bool = False
) -> Tensor:
    """Cosine between the mean text token and every clip, compared with the labels (model.py:549-581).

    Release: mean over all (padded) tokens of src_txt; cos with every src_vid clip; shifted by the batch
    minimum / label range; L2-normalised; (1 - cos with the normalised labels) summed over the batch.
    Returns zeros(1) when outputs lack src_txt/src_vid (the aux layers).
    """
    if "src_txt" not in outputs or "src_vid" not in outputs:
        return torch.zeros(1, device=labels.device)
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
