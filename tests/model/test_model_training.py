"""The full tiny model overfits a fixed batch: loss drops and the top span finds the moment."""

from __future__ import annotations

import torch

from model.build import build_model
from model.spans import span_cxw_to_xx, temporal_iou

CLIPS, WORDS = 12, 4
MOMENTS = [(2, 5), (7, 11)]  # planted moments, inclusive clip ranges


def _planted_batch(cfg):
    gen = torch.Generator().manual_seed(0)
    batch = len(MOMENTS)
    video = 0.5 * torch.randn(batch, CLIPS, cfg.model.video_dim, generator=gen)
    text = torch.randn(batch, WORDS, cfg.model.text_dim, generator=gen)
    signal = torch.randn(batch, cfg.model.video_dim, generator=gen)
    labels = torch.zeros(batch, CLIPS)
    spans, pos, neg = [], [], []
    for b, (first, last) in enumerate(MOMENTS):
        video[b, first : last + 1] += signal[b]  # the moment looks different from the rest
        labels[b, first : last + 1] = 8.0
        centre, width = (first + last + 1) / 2 / CLIPS, (last + 1 - first) / CLIPS
        spans.append({"spans": torch.tensor([[centre, width]])})
        outside = [i for i in range(CLIPS) if not first <= i <= last]
        pos.append([first, last])
        neg.append([outside[0], outside[-1]])
    inputs = {
        "src_vid": video,
        "src_vid_mask": torch.ones(batch, CLIPS),
        "src_txt": text,
        "src_txt_mask": torch.ones(batch, WORDS),
    }
    targets = {
        "span_labels": spans,
        "saliency_pos_labels": torch.tensor(pos),
        "saliency_neg_labels": torch.tensor(neg),
        "saliency_all_labels": labels,
        "epoch": 0,
    }
    return inputs, targets


def _evaluate(model, criterion, inputs, targets) -> tuple[float, list[float]]:
    model.eval()
    with torch.no_grad():
        out = model(**inputs)
        loss = criterion(out, targets)["total"].item()
    model.train()
    top = out["pred_logits"].softmax(-1)[..., 0].argmax(1)
    best = span_cxw_to_xx(out["pred_spans"][torch.arange(len(top)), top])  # (B, 2)
    truth = [span_cxw_to_xx(t["spans"]) for t in targets["span_labels"]]
    ious = [temporal_iou(best[b : b + 1], truth[b])[0].item() for b in range(len(top))]
    return loss, ious


def test_tiny_model_overfits_a_planted_moment(tiny_config) -> None:
    # Two decoder layers, so the queries' self-attention can single out a winner (with one
    # layer the class head learns the fg/bg prior first and needs far more steps); light
    # input dropout and a final low-lr phase keep 160 CPU steps enough across seeds.
    cfg = tiny_config(dec_layers=2, input_dropout=0.1)
    model, criterion, _ = build_model(cfg)
    inputs, targets = _planted_batch(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=120, gamma=0.1)
    start_loss, start_ious = _evaluate(model, criterion, inputs, targets)
    for _ in range(160):
        loss = criterion(model(**inputs), targets)["total"]
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    end_loss, end_ious = _evaluate(model, criterion, inputs, targets)
    assert end_loss < 0.3 * start_loss, (start_loss, end_loss)
    assert min(end_ious) > 0.7, (start_ious, end_ious)
