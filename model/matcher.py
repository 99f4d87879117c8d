"""Hungarian matching of predicted moments to ground-truth moments."""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from model.spans import generalized_temporal_iou, span_cxw_to_xx


class HungarianMatcher(nn.Module):
    """One-to-one assignment minimising cost_span * L1 - cost_giou * gIoU - cost_class * p_fg.

    Predictions left unmatched are trained as background.
    """

    def __init__(
        self,
        cost_span: float = 10.0,
        cost_giou: float = 1.0,
        cost_class: float = 4.0,
        foreground_index: int = 0,
    ) -> None:
        super().__init__()
        self.cost_span, self.cost_giou, self.cost_class = cost_span, cost_giou, cost_class
        self.foreground_index = foreground_index

    @torch.no_grad()
    def forward(
        self, pred_logits: Tensor, pred_spans: Tensor, target_spans: list[Tensor]
    ) -> list[tuple[Tensor, Tensor]]:
        """Match every video's predictions to its ground-truth moments.

        Args:
            pred_logits: float (B, Q, 2) class logits.
            pred_spans: float (B, Q, 2) normalised (centre, width).
            target_spans: B tensors (n_i, 2) of normalised (centre, width); n_i may be 0.

        Returns:
            B pairs (pred_index, target_index) of int64 tensors of length min(Q, n_i):
            prediction pred_index[j] is matched to target target_index[j].
        """
        batch, num_queries = pred_logits.shape[:2]
        sizes = [len(t) for t in target_spans]
        if sum(sizes) == 0:
            empty = torch.empty(0, dtype=torch.int64)
            return [(empty, empty) for _ in range(batch)]
        prob_fg = pred_logits.flatten(0, 1).softmax(-1)[:, self.foreground_index]  # (B*Q,)
        spans = pred_spans.flatten(0, 1)  # (B*Q, 2)
        targets = torch.cat(list(target_spans)).to(spans)  # (T, 2)
        cost = (
            self.cost_span * torch.cdist(spans, targets, p=1)
            - self.cost_giou
            * generalized_temporal_iou(span_cxw_to_xx(spans), span_cxw_to_xx(targets))
            - self.cost_class * prob_fg[:, None]
        )  # (B*Q, T)
        cost = cost.view(batch, num_queries, -1).cpu()  # (B, Q, T)
        indices = []
        for b, block in enumerate(cost.split(sizes, dim=-1)):
            rows, cols = linear_sum_assignment(block[b].numpy())
            indices.append((torch.as_tensor(rows).long(), torch.as_tensor(cols).long()))
        return indices
