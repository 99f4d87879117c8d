"""TR-DETR's visual feature refinement (VFR): VSLNet-style context-query attention on the video.

Release: tr_detr/interaction/test_CQA.py (VSLFuser, CQAttention, CQConcatenate, WeightedPool).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: The release builds VSLFuser with its default drop rate, not --dropout (model.py:108).
FUSER_DROPOUT = 0.1


class PointwiseConv(nn.Module):
    """A kernel-1 Conv1d over the sequence: (B, L, in_dim) -> (B, L, out_dim) (keys conv1d.*)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.conv1d = nn.Conv1d(in_dim, out_dim, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv1d(x.transpose(1, 2)).transpose(1, 2)


def mask_logits(inputs: Tensor, mask: Tensor, mask_value: float = -1e30) -> Tensor:
    """Add mask_value where mask is 0 (float masks, 1 = valid)."""
    return inputs + (1.0 - mask.float()) * mask_value


class CQAttention(nn.Module):
    """Trilinear context-query attention: [C, c2q, C*c2q, C*q2c] -> kernel-1 conv (4d -> d).

    Parameter names: w4C (d, 1), w4Q (d, 1), w4mlu (1, 1, d), cqa_linear.conv1d.
    """

    def __init__(self, dim: int, drop_rate: float = FUSER_DROPOUT) -> None:
        super().__init__()
        self.w4C = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, 1)))
        self.w4Q = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, 1)))
        self.w4mlu = nn.Parameter(nn.init.xavier_uniform_(torch.empty(1, 1, dim)))
        self.dropout = nn.Dropout(p=drop_rate)
        self.cqa_linear = PointwiseConv(4 * dim, dim)

    def forward(self, context: Tensor, query: Tensor, c_mask: Tensor, q_mask: Tensor) -> Tensor:
        """context (B, Lv, d), query (B, Lt, d), float masks (B, Lv) / (B, Lt) -> (B, Lv, d)."""
        score = self.trilinear_attention(context, query)  # (B, Lv, Lt)
        score_ = F.softmax(mask_logits(score, q_mask.unsqueeze(1)), dim=2)
        score_t = F.softmax(mask_logits(score, c_mask.unsqueeze(2)), dim=1).transpose(1, 2)  # (B, Lt, Lv)
        c2q = torch.matmul(score_, query)
        q2c = torch.matmul(torch.matmul(score_, score_t), context)
        output = torch.cat([context, c2q, torch.mul(context, c2q), torch.mul(context, q2c)], dim=2)
        return self.cqa_linear(output)

    def trilinear_attention(self, context: Tensor, query: Tensor) -> Tensor:
        """C.w4C + (Q.w4Q)^T + (C * w4mlu) Q^T: float (B, Lv, Lt)."""
        c_len, q_len = context.shape[1], query.shape[1]
        context = self.dropout(context)
        query = self.dropout(query)
        subres0 = torch.matmul(context, self.w4C).expand([-1, -1, q_len])
        subres1 = torch.matmul(query, self.w4Q).transpose(1, 2).expand([-1, c_len, -1])
        subres2 = torch.matmul(context * self.w4mlu, query.transpose(1, 2))
        return subres0 + subres1 + subres2


class WeightedPool(nn.Module):
    """Masked-softmax attention pooling of a sequence (parameter `weight` (d, 1))."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, 1)))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (B, L, d), float mask (B, L) -> (B, d)."""
        alpha = torch.tensordot(x, self.weight, dims=1)  # (B, L, 1)
        alphas = F.softmax(mask_logits(alpha, mask.unsqueeze(2)), dim=1)
        return torch.matmul(x.transpose(1, 2), alphas).squeeze(2)


class CQConcatenate(nn.Module):
    """Concatenate the pooled query to every clip, kernel-1 conv (2d -> d)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weighted_pool = WeightedPool(dim)
        self.conv1d = PointwiseConv(2 * dim, dim)

    def forward(self, context: Tensor, query: Tensor, q_mask: Tensor) -> Tensor:
        """context (B, Lv, d), query (B, Lt, d), float q_mask (B, Lt) -> (B, Lv, d)."""
        pooled = self.weighted_pool(query, q_mask).unsqueeze(1).repeat(1, context.shape[1], 1)
        return self.conv1d(torch.cat([context, pooled], dim=2))


class VSLFuser(nn.Module):
    """VFR: ReLU(CQConcatenate(CQAttention(video, text), text)) (test_CQA.py:105-119)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.cq_attention = CQAttention(dim)
        self.cq_concat = CQConcatenate(dim)

    def forward(self, vfeats: Tensor, qfeats: Tensor, vmask: Tensor, qmask: Tensor) -> Tensor:
        """vfeats (B, Lv, d), qfeats (B, Lt, d), float masks -> refined video (B, Lv, d)."""
        feats = self.cq_attention(vfeats, qfeats, vmask, qmask)
        return F.relu(self.cq_concat(feats, qfeats, qmask))
