"""Hungarian matching of predicted moments to ground-truth windows (Moment-DETR lineage)."""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from model.spans import generalized_temporal_iou, span_cxw_to_xx


class HungarianMatcher(nn.Module):
    """Cost = cost_span * L1(cx, w) - cost_giou * gIoU(st, ed) - cost_class * p(foreground).

    Solved per video with scipy's linear_sum_assignment.
    """

    def __init__(self, cost_span: float, cost_giou: float, cost_class: float) -> None:
        super().__init__()
        self.cost_span = cost_span
        self.cost_giou = cost_giou
        self.cost_class = cost_class

    @torch.no_grad()
    def forward(
        self, outputs: dict[str, Tensor], span_labels: list[dict[str, Tensor]]
    ) -> list[tuple[Tensor, Tensor]]:
        """Match.

        Args:
            outputs: pred_logits (B, Q, 2) (index 0 = foreground), pred_spans (B, Q, 2) (cx, w).
            span_labels: per video {"spans": float (n_i, 2) normalised (cx, w)}.

        Returns:
            per video (query indices, target indices), int64, each of length min(Q, n_i).
        """
        bs, num_queries = outputs["pred_spans"].shape[:2]
        out_prob = outputs["pred_logits"].flatten(0, 1).softmax(-1)  # (B*Q, 2)
        tgt_spans = torch.cat([t["spans"] for t in span_labels])  # (N, 2)
        tgt_ids = torch.zeros(len(tgt_spans), dtype=torch.int64)
        cost_class = -out_prob[:, tgt_ids]
        out_spans = outputs["pred_spans"].flatten(0, 1)
        cost_span = torch.cdist(out_spans, tgt_spans, p=1)
        cost_giou = -generalized_temporal_iou(span_cxw_to_xx(out_spans), span_cxw_to_xx(tgt_spans))
        cost = self.cost_span * cost_span + self.cost_giou * cost_giou + self.cost_class * cost_class
        cost = cost.view(bs, num_queries, -1).cpu()
        sizes = [len(t["spans"]) for t in span_labels]
        indices = [linear_sum_assignment(c[i]) for i, c in enumerate(cost.split(sizes, -1))]
        return [
            (torch.as_tensor(i, dtype=torch.int64), torch.as_tensor(j, dtype=torch.int64)) for i, j in indices
        ]
