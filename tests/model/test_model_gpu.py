"""The model, criterion and post-processing on CUDA (skipped without a GPU)."""

from __future__ import annotations

import pytest
import torch

from model.build import build_model
from model.presets import get_preset

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _to(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to(v, device) for v in obj]
    return obj


def test_cuda_matches_cpu_and_trains(tiny_config, make_batch, make_targets) -> None:
    cfg = tiny_config(dec_layers=2)
    model, criterion, postprocess = build_model(cfg)
    model.eval()
    batch, targets = make_batch(cfg, [9, 6, 4], [3, 4, 2]), make_targets([9, 6, 4])
    # TF32 convolutions (cuDNN's default) differ from float32 by ~1e-3; compare in float32
    with torch.no_grad(), torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        cpu = model(**batch)
        model.cuda()
        gpu = model(**_to(batch, "cuda"))
    for key in ("pred_logits", "pred_spans", "saliency_scores"):
        assert torch.allclose(gpu[key].cpu(), cpu[key], atol=1e-4), key
    assert postprocess(gpu, batch["src_vid_mask"].cuda())[0]["windows"]
    model.train()
    losses = criterion(model(**_to(batch, "cuda")), _to(targets, "cuda"))
    losses["total"].backward()
    assert torch.isfinite(losses["total"]) and losses["total"].device.type == "cuda"


def test_paper_size_training_step_memory() -> None:
    cfg = get_preset("videolights-b-qvhighlights")
    model, criterion, _ = build_model(cfg)
    model.cuda().train()
    batch, clips, words = 32, 75, 32
    video = torch.randn(batch, clips, cfg.model.video_dim, device="cuda")
    text = torch.randn(batch, words, cfg.model.text_dim, device="cuda")
    labels = torch.zeros(batch, clips, device="cuda")
    labels[:, 10:30] = 6.0
    targets = {
        "span_labels": [{"spans": torch.tensor([[0.27, 0.27]], device="cuda")}] * batch,
        "saliency_pos_labels": torch.tensor([[12, 20]] * batch, device="cuda"),
        "saliency_neg_labels": torch.tensor([[40, 50]] * batch, device="cuda"),
        "saliency_all_labels": labels,
        "epoch": 0,
    }
    torch.cuda.reset_peak_memory_stats()
    masks = torch.ones(batch, clips, device="cuda"), torch.ones(batch, words, device="cuda")
    losses = criterion(model(video, masks[0], text, masks[1]), targets)
    losses["total"].backward()
    peak_gib = torch.cuda.max_memory_allocated() / 2**30
    print(f"peak CUDA memory of one training step: {peak_gib:.2f} GiB")
    assert peak_gib < 4.0  # the paper reports 1.84 GB for training
