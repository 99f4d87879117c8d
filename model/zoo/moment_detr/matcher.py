"""Hungarian matching of predicted to target spans (moment_detr/matcher.py: HungarianMatcher)."""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from model.spans import generalized_temporal_iou, span_cxw_to_xx

FOREGROUND = 0


class HungarianMatcher(nn.Module):
    """Per video, the one-to-one assignment minimising
    cost_span * L1(cx, w) + cost_giou * (-gIoU) + cost_class * (-softmax(logits)[foreground])."""

    def __init__(self, cost_span: float, cost_giou: float, cost_class: float) -> None:
        super().__init__()
        self.cost_span = cost_span
        self.cost_giou = cost_giou
        self.cost_class = cost_class

    @torch.no_grad()
    def forward(self, pred_logits: Tensor, pred_spans: Tensor, tgt_spans: list[Tensor]) -> list[tuple[Tensor, Tensor]]:
        """Match.

        Args:
            pred_logits: (B, Q, 2) class logits.
            pred_spans: (B, Q, 2) normalised (centre, width).
            tgt_spans: B tensors (n_b, 2) of normalised (centre, width).

        Returns:
            B pairs (query indices, target indices), int64, each of length min(Q, n_b).
        """
        bs, num_queries = pred_spans.shape[:2]
        prob = pred_logits.flatten(0, 1).softmax(-1)  # (B*Q, 2)
        tgt = torch.cat(tgt_spans)  # (N, 2)
        out_spans = pred_spans.flatten(0, 1)  # (B*Q, 2)
        cost_class = -prob[:, torch.full([len(tgt)], FOREGROUND, dtype=torch.long)]
        cost_span = torch.cdist(out_spans, tgt, p=1)
        cost_giou = -generalized_temporal_iou(span_cxw_to_xx(out_spans), span_cxw_to_xx(tgt))
        cost = self.cost_span * cost_span + self.cost_giou * cost_giou + self.cost_class * cost_class
        cost = cost.view(bs, num_queries, -1).cpu()
        sizes = [len(t) for t in tgt_spans]
        result = []
        for i, c in enumerate(cost.split(sizes, -1)):
            rows, cols = linear_sum_assignment(c[i])
            result.append((torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)))
        return result
