"""Hungarian matching of predicted spans to target spans (release `matcher.py`, Moment-DETR's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from model.spans import generalized_temporal_iou, span_cxw_to_xx

FOREGROUND = 0


class HungarianMatcher(nn.Module):
    """Cost = cost_span * L1(cx, w) + cost_giou * (-gIoU) + cost_class * (-p_foreground), one
    assignment per video (scipy's linear_sum_assignment)."""

    def __init__(self, cost_span: float, cost_giou: float, cost_class: float) -> None:
        super().__init__()
        self.cost_span = cost_span
        self.cost_giou = cost_giou
        self.cost_class = cost_class

    @torch.no_grad()
    def forward(
        self, outputs: Mapping[str, Tensor], span_labels: Sequence[Mapping[str, Any]]
    ) -> list[tuple[Tensor, Tensor]]:
        """outputs: pred_logits (B, Q, 2), pred_spans (B, Q, 2); span_labels: B dicts with
        "spans" float (n_b, 2) normalised (centre, width).

        Returns:
            per video (query indices, target indices), int64.
        """
        bsz, num_queries = outputs["pred_spans"].shape[:2]
        prob = outputs["pred_logits"].flatten(0, 1).softmax(-1)  # (B*Q, 2)
        tgt_spans = torch.cat([t["spans"] for t in span_labels])  # (N, 2)
        out_spans = outputs["pred_spans"].flatten(0, 1)  # (B*Q, 2)
        cost_class = -prob[:, [FOREGROUND] * len(tgt_spans)]
        cost_span = torch.cdist(out_spans, tgt_spans, p=1)
        cost_giou = -generalized_temporal_iou(span_cxw_to_xx(out_spans), span_cxw_to_xx(tgt_spans))
        cost = self.cost_span * cost_span + self.cost_giou * cost_giou + self.cost_class * cost_class
        cost = cost.view(bsz, num_queries, -1).cpu()
        sizes = [len(t["spans"]) for t in span_labels]
        indices = [linear_sum_assignment(c[i]) for i, c in enumerate(cost.split(sizes, -1))]
        return [
            (torch.as_tensor(i, dtype=torch.int64), torch.as_tensor(j, dtype=torch.int64)) for i, j in indices
        ]
