"""TR-DETR's own loss terms (release: tr_detr/model.py SetCriterion, loss_fun/*.py): the focal label
loss, the saliency loss without a negative pass, and the VTC / CTC regulators; span losses and the
saliency hinge / rank-contrastive terms are model.zoo.common's."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from model.zoo.common.losses import matched_index, rank_contrastive, saliency_hinge
from model.zoo.common.matcher import BACKGROUND, FOREGROUND


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
    saliency_scores: Tensor, video_mask: Tensor, saliency_all_labels: Tensor, pos_indices: Tensor,
    neg_indices: Tensor, margin: float, rank_divisor: float,
) -> Tensor:  # fmt: skip
    """Pairwise hinge + rank-contrastive over the video's own clips (no negative query; the sum over
    the 11 thresholds divided by rank_divisor, 12 in the release): (B, L) inputs -> 0-dim."""
    hinge = saliency_hinge(saliency_scores, pos_indices, neg_indices, margin)
    return hinge + rank_contrastive(saliency_scores, None, saliency_all_labels, video_mask, rank_divisor)


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
