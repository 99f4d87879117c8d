"""FRA alignment losses: query-token contrastive (Eq. 4) and video-text saliency (Eqs. 5-6)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from model.losses.saliency import cosine_loss, shift_to_nonnegative


def query_token_contrastive_loss(
    proj_queries: Tensor,
    proj_text: Tensor,
    text_mask: Tensor,
    matched: Tensor,
    temperature: float,
) -> Tensor:
    """Matched moment queries should score higher against the query's words than the rest.

    logits_bm = sum over valid words n of <q_bm, t_bn> / temperature; per video the loss is
    -mean over matched m of logits_bm + logsumexp over all m of logits_bm (Eq. 4).
    Videos without any matched query are skipped.

    Args:
        proj_queries: float (B, Q, A) L2-normalised projected decoder queries.
        proj_text: float (B, N, A) L2-normalised projected words.
        text_mask: bool (B, N), True = valid word (the release also sums padded words).
        matched: bool (B, Q), True for queries matched to a ground-truth moment.
        temperature: softmax temperature tau.

    Returns:
        scalar.
    """
    proj_text = proj_text * text_mask.unsqueeze(-1)
    logits = torch.einsum("bqa,bna->bq", proj_queries, proj_text) / temperature  # (B, Q)
    num_pos = matched.sum(1)  # (B,)
    pos_term = torch.where(matched, logits, 0.0).sum(1) / num_pos.clamp(min=1)
    per_video = logits.logsumexp(dim=1) - pos_term  # (B,)
    has_pos = num_pos > 0
    if not has_pos.any():
        return logits.sum() * 0.0
    return per_video[has_pos].mean()


def video_text_alignment_loss(
    video: Tensor, text: Tensor, video_mask: Tensor, text_mask: Tensor, labels: Tensor
) -> Tensor:
    """1 - cos(norm(S_gt), norm(s_hat)) with s_hat_i = cos(mean valid word, refined clip i).

    Args:
        video: float (B, L, D) refined clips.
        text: float (B, N, D) projected words.
        video_mask: bool (B, L), True = valid clip.
        text_mask: bool (B, N), True = valid word.
        labels: float (B, L) ground-truth clip scores.

    Returns:
        scalar (mean over videos, Eq. 6).
    """
    weights = text_mask.to(text.dtype)
    sentence = (text * weights.unsqueeze(-1)).sum(1) / weights.sum(1, keepdim=True).clamp(min=1)
    similarity = F.cosine_similarity(sentence.unsqueeze(1), video, dim=-1)  # (B, L)
    # cosine is scale-free, so the L2 normalisations of Eq. 6 need not be applied explicitly
    return cosine_loss(shift_to_nonnegative(similarity, video_mask), labels, video_mask)
