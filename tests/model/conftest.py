"""Shared helpers for the model tests: tiny configs and synthetic batches."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from model.config import ExperimentConfig
from model.presets import get_preset


def tiny_config(loss: dict[str, Any] | None = None, **model_updates: Any) -> ExperimentConfig:
    """The `tiny` preset with some ModelConfig (and LossConfig) fields replaced, re-validated."""
    base = get_preset("tiny").model_dump()
    base["model"].update(model_updates)
    base["loss"].update(loss or {})
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
