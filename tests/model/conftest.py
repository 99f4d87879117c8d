"""Shared helpers for the model tests: tiny configs and synthetic batches."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from model.build import build_model
from model.config import ExperimentConfig
from model.presets import get_preset
from model.spans import span_cxw_to_xx, temporal_iou


def tiny_config(preset: str = "tiny", **model_updates: Any) -> ExperimentConfig:
    """A tiny preset (default VideoLights') with some model config fields replaced, re-validated."""
    base = get_preset(preset).model_dump()
    base["model"].update(model_updates)
    return ExperimentConfig.model_validate(base)


def make_batch(
    cfg: ExperimentConfig,
    clip_counts: list[int],
    word_counts: list[int],
    seed: int = 0,
    pad_value: float | None = None,
) -> dict[str, torch.Tensor]:
    """Random model inputs; padded positions hold garbage (`pad_value` or noise)."""
    gen = torch.Generator().manual_seed(seed)
    batch, length, words = len(clip_counts), max(clip_counts), max(word_counts)
    video = torch.randn(batch, length, cfg.model.video_dim, generator=gen)
    text = torch.randn(batch, words, cfg.model.text_dim, generator=gen)
    video_mask = torch.zeros(batch, length)
    text_mask = torch.zeros(batch, words)
    for b, (n_clips, n_words) in enumerate(zip(clip_counts, word_counts)):
        video_mask[b, :n_clips] = 1
        text_mask[b, :n_words] = 1
        if pad_value is not None:
            video[b, n_clips:] = pad_value
            text[b, n_words:] = pad_value
    return {"src_vid": video, "src_vid_mask": video_mask, "src_txt": text, "src_txt_mask": text_mask}


def make_targets(clip_counts: list[int], seed: int = 0, epoch: int = 0) -> dict[str, Any]:
    """Targets with one moment per video and scores 0..12 inside it."""
    gen = torch.Generator().manual_seed(seed)
    length = max(clip_counts)
    spans, pos, neg = [], [], []
    labels = torch.zeros(len(clip_counts), length)
    for b, n in enumerate(clip_counts):
        first = int(torch.randint(0, n - 2, (1,), generator=gen))
        last = int(torch.randint(first + 1, n, (1,), generator=gen))
        spans.append({"spans": torch.tensor([[(first + last + 1) / 2 / n, (last + 1 - first) / n]])})
        labels[b, first : last + 1] = torch.randint(1, 13, (last + 1 - first,), generator=gen).float()
        pos.append([first, last])
        outside = [i for i in range(n) if not first <= i <= last] or [0]
        neg.append([outside[0], outside[-1]])
    return {
        "span_labels": spans,
        "saliency_pos_labels": torch.tensor(pos),
        "saliency_neg_labels": torch.tensor(neg),
        "saliency_all_labels": labels,
        "epoch": epoch,
    }


#: Planted moments of the overfit batch: two 12-clip videos, inclusive clip ranges.
PLANTED_MOMENTS = [(2, 5), (7, 11)]


def planted_batch(cfg: ExperimentConfig) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Two videos whose moment clips share a signal unlike the rest; 4-word queries. Returns (inputs, targets)."""
    gen = torch.Generator().manual_seed(0)
    video = 0.5 * torch.randn(2, 12, cfg.model.video_dim, generator=gen)
    text = torch.randn(2, 4, cfg.model.text_dim, generator=gen)
    signal = torch.randn(2, cfg.model.video_dim, generator=gen)
    labels, spans = torch.zeros(2, 12), []
    for b, (first, last) in enumerate(PLANTED_MOMENTS):
        video[b, first : last + 1] += signal[b]
        labels[b, first : last + 1] = 8.0
        spans.append({"spans": torch.tensor([[(first + last + 1) / 24, (last + 1 - first) / 12]])})
    inputs = {"src_vid": video, "src_vid_mask": torch.ones(2, 12),
              "src_txt": text, "src_txt_mask": torch.ones(2, 4)}  # fmt: skip
    targets = {
        "span_labels": spans, "saliency_all_labels": labels, "epoch": 0,
        "saliency_pos_labels": torch.tensor([[2, 5], [7, 11]]),
        "saliency_neg_labels": torch.tensor([[0, 11], [0, 6]]),
    }  # fmt: skip
    return inputs, targets


def top1_ious(out: dict[str, Any], targets: dict[str, Any]) -> list[float]:
    """Temporal IoU of each video's top-scored predicted span with its planted moment."""
    top = out["pred_logits"].softmax(-1)[..., 0].argmax(1)
    best = span_cxw_to_xx(out["pred_spans"][torch.arange(len(top)), top])  # (B, 2)
    truth = [span_cxw_to_xx(t["spans"]) for t in targets["span_labels"]]
    return [temporal_iou(best[b : b + 1], truth[b])[0].item() for b in range(len(top))]


def overfit_planted(cfg: ExperimentConfig, steps: int, lr_drop: int) -> tuple[float, float, list[float]]:
    """Train cfg's model on the planted batch: AdamW 2e-3, gradient clip 1, lr x0.1 after `lr_drop` steps.

    Returns:
        (loss before, loss after (both in eval mode), top-1 IoU per video after training).
    """
    model, criterion, _ = build_model(cfg)
    inputs, targets = planted_batch(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=lr_drop, gamma=0.1)
    model.eval()
    with torch.no_grad():
        start = criterion(model(**inputs), targets)["total"].item()
    model.train()
    for _ in range(steps):
        loss = criterion(model(**inputs), targets)["total"]
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    model.eval()
    with torch.no_grad():
        out = model(**inputs)
        end = criterion(out, targets)["total"].item()
    return start, end, top1_ious(out, targets)


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    """Deterministic seeds; one intra-op thread (tiny tensors on a shared 2-core machine run
    many times faster without thread contention). The previous setting is restored."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


# Helpers are handed out as fixtures so test modules never import conftest by name
# (several test folders have a conftest.py).
@pytest.fixture(name="tiny_config")
def _tiny_config_fixture():
    return tiny_config


@pytest.fixture(name="make_batch")
def _make_batch_fixture():
    return make_batch


@pytest.fixture(name="make_targets")
def _make_targets_fixture():
    return make_targets


@pytest.fixture(name="overfit_planted")
def _overfit_planted_fixture():
    return overfit_planted
