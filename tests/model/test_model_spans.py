"""Span maths and window post-processing."""

from __future__ import annotations

import pytest
import torch

from model.postprocess import PostProcess
from model.spans import (
    generalized_temporal_iou,
    span_cxw_to_xx,
    span_xx_to_cxw,
    spans_to_clip_range,
    temporal_iou,
)


def test_span_round_trip() -> None:
    cxw = torch.rand(50, 2)
    assert torch.allclose(span_xx_to_cxw(span_cxw_to_xx(cxw)), cxw, atol=1e-6)
    xx = torch.rand(50, 2).sort(dim=1).values
    assert torch.allclose(span_cxw_to_xx(span_xx_to_cxw(xx)), xx, atol=1e-6)


def test_iou_and_giou_of_known_spans() -> None:
    a = torch.tensor([[0.0, 4.0], [2.0, 3.0]])
    b = torch.tensor([[2.0, 6.0], [0.0, 4.0], [8.0, 10.0]])
    iou, union = temporal_iou(a, b)
    expected_iou = torch.tensor([[2 / 6, 1.0, 0.0], [1 / 4, 1 / 4, 0.0]])
    assert torch.allclose(iou, expected_iou)
    assert torch.allclose(union, torch.tensor([[6.0, 4.0, 6.0], [4.0, 4.0, 3.0]]))
    giou = generalized_temporal_iou(a, b)
    # [0,4] vs [8,10]: iou 0, union 6, hull 10 -> -0.4; [2,3] vs [8,10]: union 3, hull 8
    expected = expected_iou.clone()
    expected[0, 2], expected[1, 2] = -0.4, -5 / 8
    assert torch.allclose(giou, expected)


def test_giou_is_symmetric_and_bounded() -> None:
    a = torch.rand(7, 2).sort(dim=1).values
    b = torch.rand(5, 2).sort(dim=1).values
    giou = generalized_temporal_iou(a, b)
    assert torch.allclose(giou, generalized_temporal_iou(b, a).T)
    assert bool((giou <= 1).all() and (giou >= -1).all())


def test_clip_range_covers_exactly_the_clips_of_a_span() -> None:
    n = torch.tensor([10, 10, 7])
    spans = torch.tensor([[0.2, 0.5], [0.0, 0.1], [0.95, 1.3]])
    first, last = spans_to_clip_range(spans, n)
    assert first.tolist() == [2, 0, 6]
    assert last.tolist() == [4, 0, 6]


def test_postprocess_windows_in_seconds() -> None:
    outputs = {
        "pred_logits": torch.tensor([[[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]]]),
        "pred_spans": torch.tensor([[[0.5, 0.2], [0.05, 0.3], [0.9, 0.4]]]),
        "saliency_scores": torch.tensor([[0.1, 0.2, 0.3, 0.4, 9.0]]),
        "video_mask": torch.tensor([[True, True, True, True, False]]),
    }
    result = PostProcess(clip_seconds=2.0, top_k=2)(outputs, outputs["video_mask"], durations=[7.0])
    assert len(result) == 1
    windows = result[0]["windows"]
    assert len(windows) == 2  # top-k
    assert [w[2] for w in windows] == sorted((w[2] for w in windows), reverse=True)
    # best: centre 0.5, width 0.2 of 7 s = [2.8, 4.2] s -> grid [2, 4]
    assert windows[0][:2] == [2.0, 4.0]
    # second (p = 0.5): [0.7, 1.1] x 7 s = [4.9, 7.7] s -> grid [4, 8] -> clamped to [4, 7]
    assert windows[1][:2] == [4.0, 7.0]
    assert result[0]["saliency"] == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_postprocess_default_duration_from_clips() -> None:
    outputs = {
        "pred_logits": torch.zeros(1, 1, 2),
        "pred_spans": torch.tensor([[[0.5, 2.0]]]),
        "saliency_scores": torch.zeros(1, 3),
        "video_mask": torch.tensor([[True, True, True]]),
    }
    (result,) = PostProcess(clip_seconds=2.0)(outputs, outputs["video_mask"])
    assert result["windows"] == [[0.0, 6.0, 0.5]]
