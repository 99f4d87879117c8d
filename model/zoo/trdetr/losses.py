"""TR-DETR's loss terms as plain functions (release: tr_detr/model.py SetCriterion, loss_fun/*.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from model.spans import generalized_temporal_iou, span_cxw_to_xx

FOREGROUND = 0
BACKGROUND = 1


def matched_index(indices: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """(batch index, query index) of every matched prediction, each int64 (M,)."""
    batch_idx = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)])
    src_idx = torch.cat([src for src, _ in indices])
    return batch_idx, src_idx


def span_losses(
    pred_spans: Tensor, span_labels: list[dict[str, Tensor]], indices: list[tuple[Tensor, Tensor]]
) -> dict[str, Tensor]:
    """loss_span: mean L1 over matched (cx, w); loss_giou: mean (1 - gIoU) of matched spans.

    pred_spans: float (B, Q, 2) normalised (cx, w).
    """
    src_spans = pred_spans[matched_index(indices)]
    tgt_spans = torch.cat([t["spans"][j] for t, (_, j) in zip(span_labels, indices)], dim=0)
    loss_span = F.l1_loss(src_spans, tgt_spans, reduction="none")
    loss_giou = 1 - torch.diag(generalized_temporal_iou(span_cxw_to_xx(src_spans), span_cxw_to_xx(tgt_spans)))
    return {"loss_span": loss_span.mean(), "loss_giou": loss_giou.mean()}


def sigmoid_focal_loss(inputs: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0) -> Tensor:
    """Element-wise sigmoid focal loss (torchvision.ops.sigmoid_focal_loss, reduction none)."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return alpha_t * loss


def label_losses(pred_logits: Tensor, indices: list[tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
    """loss_label: sigmoid focal loss on both logit columns vs one-hot (matched -> foreground),
    mean over B * 2 * Q; class_error: 100 - % of matched queries whose top class is foreground.

    pred_logits: float (B, Q, 2), index 0 = foreground.
    """
    idx = matched_index(indices)
    target_classes = torch.full(
        pred_logits.shape[:2], BACKGROUND, dtype=torch.int64, device=pred_logits.device
    )
    target_classes[idx] = FOREGROUND
    onehot = F.one_hot(target_classes, num_classes=2).permute(0, 2, 1).to(torch.float32)  # (B, 2, Q)
    logits = pred_logits.to(torch.float32)
    loss = sigmoid_focal_loss(logits.transpose(1, 2), onehot, alpha=0.25, gamma=2.0)
    with torch.no_grad():
        matched = logits[idx]
        if matched.numel():
            correct = (matched.topk(1, 1, True, True)[1][:, 0] == FOREGROUND).float().sum()
            accuracy = correct * (100.0 / matched.shape[0])
        else:
            accuracy = torch.zeros((), device=logits.device)
    return {"loss_label": loss.mean(), "class_error": 100 - accuracy}


def saliency_loss(
    saliency_scores: Tensor,
    video_mask: Tensor,
    saliency_all_labels: Tensor,
    pos_indices: Tensor,
    neg_indices: Tensor,
    margin: float,
    rank_divisor: float,
) -> Tensor:
    """Rank-contrastive loss over thresholds r = 1..11 (sum / rank_divisor) + pairwise hinge.

    Args:
        saliency_scores: float (B, L).
        video_mask: float (B, L), 1 = valid clip.
        saliency_all_labels: float (B, L) summed annotator scores, 0 at padding.
        pos_indices, neg_indices: int64 (B, P) clip indices of the sampled pairs.
        margin: hinge margin.
        rank_divisor: 12 in the release (11 thresholds).

    Returns:
        scalar loss.
    """
    scores = video_mask * saliency_scores + (1.0 - video_mask) * -1e3
    tau = 0.5
    loss_rank = 0.0
    drop_mask = ~(saliency_all_labels > 100)  # always all True: "no drop"
    for threshold in range(1, 12):
        pos_mask = saliency_all_labels >= threshold
        if torch.sum(pos_mask) == 0:
            continue
        has_positive = torch.sum(pos_mask, dim=1) > 0
        cur = scores * drop_mask / tau + ~drop_mask * -1e3
        logits = cur - torch.max(cur, dim=1, keepdim=True)[0]
        log_prob = logits - torch.log(torch.exp(logits).sum(1, keepdim=True) + 1e-6)
        mean_log_prob_pos = (pos_mask * log_prob * video_mask).sum(1) / (pos_mask.sum(1) + 1e-6)
        loss_rank = loss_rank + (-mean_log_prob_pos * has_positive).mean()
    loss_rank = loss_rank / rank_divisor

    num_pairs = pos_indices.shape[1]
    rows = torch.arange(len(saliency_scores), device=saliency_scores.device)
    pos_scores = torch.stack([saliency_scores[rows, pos_indices[:, c]] for c in range(num_pairs)], dim=1)
    neg_scores = torch.stack([saliency_scores[rows, neg_indices[:, c]] for c in range(num_pairs)], dim=1)
    hinge = torch.clamp(margin + neg_scores - pos_scores, min=0).sum() / (len(pos_scores) * num_pairs) * 2
    return hinge + loss_rank


def vtc_loss(txt_global: Tensor, vid_global: Tensor, temperature: float) -> Tensor:
    """Global regulator: symmetric InfoNCE of L2-normalised query / video embeddings over the batch.

    txt_global, vid_global: float (B, d). Release: loss_fun/VTCLoss.py.
    """
    txt = F.normalize(txt_global, dim=1)
    vid = F.normalize(vid_global, dim=1)
    logits = torch.mm(txt, vid.t()) / temperature
    labels = torch.arange(txt.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def ctc_loss(
    vid_feat: Tensor,
    txt_feat: Tensor,
    pos_mask: Tensor,
    vid_mask: Tensor,
    txt_mask: Tensor,
    temperature: float,
    valid_clips_only: bool,
) -> Tensor:
    """Local regulator: BCE of clip / query-mean cosine (over temperature) vs relevant clips.

    Args:
        vid_feat: float (B, L, d) projected clips; txt_feat: float (B, N, d) projected tokens.
        pos_mask: float (B, L), 1 = relevant clip.
        vid_mask, txt_mask: float (B, L) / (B, N), 1 = valid.
        temperature: logit scale 1 / temperature.
        valid_clips_only: average over valid clips (correction) instead of all B * L.

    Returns:
        scalar loss. Release: loss_fun/CTCLoss.py.
    """
    vid = F.normalize(vid_feat, dim=2)
    txt = F.normalize(txt_feat, dim=2)
    txt_mask = txt_mask.unsqueeze(-1)
    txt_global = torch.sum(txt * txt_mask, dim=1) / torch.sum(txt_mask, dim=1)  # mean of unit vectors
    sim = torch.bmm(vid, txt_global.unsqueeze(-1)).squeeze(-1) * vid_mask
    logits = sim / temperature
    labels = pos_mask.long().float()
    if not valid_clips_only:
        return F.binary_cross_entropy_with_logits(logits, labels)
    per_clip = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    return (per_clip * vid_mask).sum() / vid_mask.sum()
