"""Hungarian matching of predicted and ground-truth moments (release matcher.py:68-99)."""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from model.spans import generalized_temporal_iou, span_cxw_to_xx

Indices = list[tuple[Tensor, Tensor]]


@torch.no_grad()
def hungarian_match(
    pred_logits: Tensor,
    pred_spans: Tensor,
    gt_spans: list[Tensor],
    cost_span: float,
    cost_giou: float,
    cost_class: float,
    foreground_label: int = 0,
) -> Indices:
    """C = cost_span * L1(cx, w) - cost_giou * gIoU(st, ed) - cost_class * p_fg, solved per video.

    Args:
        pred_logits: float (B, Q, 2); pred_spans: float (B, Q, 2) normalised (cx, w).
        gt_spans: per video float (n_b, 2) normalised (cx, w).

    Returns:
        per video (query indices int64 (k,), target indices int64 (k,)).
    """
    bs, num_queries = pred_spans.shape[:2]
    out_prob = pred_logits.flatten(0, 1).softmax(-1)
    tgt_spans = torch.cat(gt_spans)
    tgt_ids = torch.full([len(tgt_spans)], foreground_label, dtype=torch.long, device=pred_logits.device)
    out_spans = pred_spans.flatten(0, 1)
    c_class = -out_prob[:, tgt_ids]
    c_span = torch.cdist(out_spans, tgt_spans, p=1)
    c_giou = -generalized_temporal_iou(span_cxw_to_xx(out_spans), span_cxw_to_xx(tgt_spans))
    cost = (cost_span * c_span + cost_giou * c_giou + cost_class * c_class).view(bs, num_queries, -1).cpu()
    sizes = [len(s) for s in gt_spans]
    indices = [linear_sum_assignment(c[i]) for i, c in enumerate(cost.split(sizes, -1))]
    return [(torch.as_tensor(i, dtype=torch.int64), torch.as_tensor(j, dtype=torch.int64)) for i, j in indices]


def matched_query_index(indices: Indices) -> tuple[Tensor, Tensor]:
    """(batch index, query index) of every matched query, for advanced indexing of (B, Q, ...) tensors."""
    batch_idx = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)])
    src_idx = torch.cat([src for src, _ in indices])
    return batch_idx, src_idx
