"""HungarianMatcher: optimal against brute force, batch-independent, empty targets."""

from __future__ import annotations

import itertools

import torch

from model.matcher import HungarianMatcher
from model.spans import generalized_temporal_iou, span_cxw_to_xx


def _cost(matcher: HungarianMatcher, logits: torch.Tensor, spans: torch.Tensor, tgt: torch.Tensor):
    prob = logits.softmax(-1)[:, 0]
    giou = generalized_temporal_iou(span_cxw_to_xx(spans), span_cxw_to_xx(tgt))
    return 10 * torch.cdist(spans, tgt, p=1) - giou - 4 * prob[:, None]


def _random_case(gen: torch.Generator, queries: int, targets: int):
    logits = torch.randn(queries, 2, generator=gen)
    spans = torch.rand(queries, 2, generator=gen) * torch.tensor([1.0, 0.5])
    tgt = torch.rand(targets, 2, generator=gen) * torch.tensor([1.0, 0.5])
    return logits, spans, tgt


def test_matches_brute_force_optimum() -> None:
    matcher = HungarianMatcher(cost_span=10, cost_giou=1, cost_class=4)
    gen = torch.Generator().manual_seed(0)
    for trial in range(20):
        queries, targets = 5, 1 + trial % 4
        logits, spans, tgt = _random_case(gen, queries, targets)
        (pred_idx, tgt_idx), = matcher(logits[None], spans[None], [tgt])
        cost = _cost(matcher, logits, spans, tgt)
        found = cost[pred_idx, tgt_idx].sum()
        best = min(
            sum(cost[q, t] for t, q in enumerate(perm))
            for perm in itertools.permutations(range(queries), targets)
        )
        assert len(pred_idx) == targets and sorted(tgt_idx.tolist()) == list(range(targets))
        assert torch.isclose(found, torch.as_tensor(best), atol=1e-5)


def test_batched_matching_equals_single_sample_matching() -> None:
    matcher = HungarianMatcher()
    gen = torch.Generator().manual_seed(1)
    cases = [_random_case(gen, 6, n) for n in (1, 3, 0, 2)]
    logits = torch.stack([c[0] for c in cases])
    spans = torch.stack([c[1] for c in cases])
    batched = matcher(logits, spans, [c[2] for c in cases])
    for (lg, sp, tgt), (pred_idx, tgt_idx) in zip(cases, batched):
        (single_pred, single_tgt), = matcher(lg[None], sp[None], [tgt])
        assert torch.equal(pred_idx, single_pred) and torch.equal(tgt_idx, single_tgt)


def test_empty_targets() -> None:
    matcher = HungarianMatcher()
    result = matcher(torch.randn(2, 4, 2), torch.rand(2, 4, 2), [torch.zeros(0, 2)] * 2)
    assert [len(p) for p, _ in result] == [0, 0]
    assert all(p.dtype == torch.int64 and t.dtype == torch.int64 for p, t in result)
