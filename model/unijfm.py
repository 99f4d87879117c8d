"""Uni-JFM (MR -> HD): saliency from the clips of the top-1 predicted moment."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from model.spans import span_cxw_to_xx, spans_to_clip_range


def top1_clip_range(
    pred_logits: Tensor, pred_spans: Tensor, num_clips: Tensor
) -> tuple[Tensor, Tensor]:
    """Clip range of each video's most confident predicted moment.

    Args:
        pred_logits: float (B, Q, 2) class logits, index 0 = foreground.
        pred_spans: float (B, Q, 2) normalised (centre, width).
        num_clips: int (B,) valid clips per video.

    Returns:
        (first, last): int64 (B,) inclusive clip indices of the top-1 span.
    """
    top = pred_logits.softmax(-1)[..., 0].argmax(dim=1)  # (B,)
    spans = pred_spans[torch.arange(pred_spans.shape[0], device=top.device), top]  # (B, 2)
    return spans_to_clip_range(span_cxw_to_xx(spans), num_clips)


def gather_span_clips(features: Tensor, first: Tensor, last: Tensor) -> tuple[Tensor, Tensor]:
    """Cut clips first..last (inclusive) out of every video, left-aligned and zero-padded.

    Args:
        features: float (B, L, D) clip features.
        first: int (B,) first clip index.
        last: int (B,) last clip index (>= first).

    Returns:
        clips: float (B, S, D), S = longest range; rows past a video's range are zero.
        lengths: int64 (B,) number of gathered clips per video.
    """
    lengths = (last - first + 1).long()  # (B,)
    offsets = torch.arange(int(lengths.max()), device=features.device)  # (S,)
    index = (first[:, None] + offsets[None, :]).clamp(max=features.shape[1] - 1)  # (B, S)
    inside = offsets[None, :] < lengths[:, None]  # (B, S)
    index = index.unsqueeze(-1).expand(-1, -1, features.shape[-1])  # (B, S, D)
    clips = features.gather(1, index) * inside.unsqueeze(-1).to(features.dtype)
    return clips, lengths


def encode_span(gru: nn.GRU, features: Tensor, first: Tensor, last: Tensor) -> Tensor:
    """Last GRU state after reading clips first..last (inclusive) of every video.

    Args:
        gru: batch-first GRU with input size D.
        features: float (B, L, D) clip features.
        first: int (B,) first clip index.
        last: int (B,) last clip index (>= first).

    Returns:
        float (B, H) state of the GRU's last layer after each span's last clip.
    """
    clips, lengths = gather_span_clips(features, first, last)  # (B, S, D), (B,)
    # packing makes the state the one after the span's last clip, not after zero padding
    packed = pack_padded_sequence(clips, lengths.cpu(), batch_first=True, enforce_sorted=False)
    _, state = gru(packed)  # (layers, B, H)
    return state[-1]


class UniJFM(nn.Module):
    """GRU over the top-1 span's projected clips; its last state g_mr reweights the memory.

    saliency_mr_i = sum_k (W_mr m'_i)_k / sqrt(d), with m'_i = m_i * (1 + g_mr . v_i),
    where v_i are projected clips and m_i encoder outputs.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gru = nn.GRU(dim, dim, num_layers=1, batch_first=True)
        # no bias: it would add the same constant to every clip, which the shift-invariant
        # task-coupled loss cannot see (the release has one; it never receives gradient)
        self.proj = nn.Linear(dim, dim, bias=False)
        self.scale = 1.0 / math.sqrt(dim)

    def forward(
        self,
        video: Tensor,
        memory: Tensor,
        video_mask: Tensor,
        pred_logits: Tensor,
        pred_spans: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Saliency predicted from the moment-retrieval branch.

        Args:
            video: float (B, L, D) projected clips (before refinement).
            memory: float (B, L, D) encoder outputs for the clips.
            video_mask: bool (B, L), True = valid clip.
            pred_logits: float (B, Q, 2) final-layer class logits.
            pred_spans: float (B, Q, 2) final-layer normalised (centre, width).

        Returns:
            saliency: float (B, L) (undefined at padded clips).
            clip_range: int64 (B, 2) inclusive (first, last) clips fed to the GRU.
        """
        first, last = top1_clip_range(pred_logits, pred_spans, video_mask.sum(1))
        g_mr = encode_span(self.gru, video, first, last)  # (B, D)
        weight = torch.einsum("bld,bd->bl", video, g_mr)  # (B, L)
        reweighted = memory * (1.0 + weight.unsqueeze(-1))
        saliency = self.proj(reweighted).sum(-1) * self.scale
        return saliency, torch.stack([first, last], dim=-1)
