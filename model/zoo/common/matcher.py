"""Hungarian matching of predicted to target spans (Moment-DETR matcher.py, unchanged in every
descendant)."""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from model.spans import generalized_temporal_iou, span_cxw_to_xx

FOREGROUND, BACKGROUND = 0, 1


class HungarianMatcher(nn.Module):
    """Per video, the one-to-one assignment minimising
    cost_span * L1(cx, w) + cost_giou * (-gIoU(st, ed)) + cost_class * (-softmax(logits)[foreground])."""

    def __init__(self, cost_span: float, cost_giou: float, cost_class: float) -> None:
        super().__init__()
        self.cost_span = cost_span
        self.cost_giou = cost_giou
        self.cost_class = cost_class

    @torch.no_grad()
    def forward(self, pred_logits: Tensor, pred_spans: Tensor, tgt_spans: list[Tensor]) -> list[tuple[Tensor, Tensor]]:
        """Args:
            pred_logits: float (B, Q, 2), index 0 = foreground.
            pred_spans: float (B, Q, 2) normalised (centre, width).
            tgt_spans: B float (n_b, 2) normalised (centre, width).

        Returns:
            B pairs (query indices, target indices), int64, each of length min(Q, n_b).
        """
        bsz, num_queries = pred_spans.shape[:2]
        prob_fg = pred_logits.flatten(0, 1).softmax(-1)[:, FOREGROUND]  # (B*Q,)
        tgt = torch.cat(tgt_spans)  # (N, 2)
        out = pred_spans.flatten(0, 1)  # (B*Q, 2)
        cost_class = -prob_fg[:, None].expand(-1, len(tgt))
        cost_span = torch.cdist(out, tgt, p=1)
        cost_giou = -generalized_temporal_iou(span_cxw_to_xx(out), span_cxw_to_xx(tgt))
        cost = self.cost_span * cost_span + self.cost_giou * cost_giou + self.cost_class * cost_class
        cost = cost.view(bsz, num_queries, -1).cpu()
        sizes = [len(t) for t in tgt_spans]
        indices = [linear_sum_assignment(c[i]) for i, c in enumerate(cost.split(sizes, -1))]
        return [(torch.as_tensor(i, dtype=torch.int64), torch.as_tensor(j, dtype=torch.int64)) for i, j in indices]
