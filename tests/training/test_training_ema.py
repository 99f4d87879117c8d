"""The release's EMA of the weights (TaskWeave: 0.9, once per epoch): kept, saved, resumed exactly, and what
evaluation and inference use."""

from __future__ import annotations

import torch
from planted import TINY_CLIP

from model.build import build_from_checkpoint
from pipeline.training import BEST, LAST, TrainRunConfig, train
from pipeline.training.loop import update_ema


def _config(small_data, out, epochs: int, resume: bool = False) -> TrainRunConfig:
    return TrainRunConfig(preset="taskweave-tiny", features=TINY_CLIP, train_annotations=small_data["train"],
                          val_annotations=small_data["val"], store=small_data["store"], out_dir=str(out),
                          epochs=epochs, batch_size=8, lr=1e-3, eval_every=1, device="cpu", resume=resume)


def test_update_ema_averages_floats_and_copies_the_rest() -> None:
    ema, model = torch.nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    with torch.no_grad():
        ema.weight.fill_(1.0), model.weight.fill_(3.0)
    model.num_batches_tracked.fill_(7)
    update_ema(ema, model, 0.9)
    assert torch.allclose(ema.weight, torch.full((2,), 0.9 * 1.0 + 0.1 * 3.0))
    assert int(ema.num_batches_tracked) == 7


def test_ema_is_saved_resumed_exactly_and_used_for_inference(small_data, tmp_path) -> None:
    torch.set_num_threads(1)
    assert _config(small_data, tmp_path / "a", 2).experiment().train.ema_decay == 0.9  # the release's
    train(_config(small_data, tmp_path / "whole", 2))
    train(_config(small_data, tmp_path / "cut", 1))
    train(_config(small_data, tmp_path / "cut", 2, resume=True))
    whole, cut = (torch.load(p / LAST, weights_only=True) for p in (tmp_path / "whole", tmp_path / "cut"))
    for name, tensor in whole["model_ema"].items():
        assert torch.equal(tensor, cut["model_ema"][name]), name
    assert any(not torch.equal(t, whole["model"][k]) for k, t in whole["model_ema"].items())  # it lags
    best = torch.load(tmp_path / "whole" / BEST, weights_only=True)
    model, _, _, _ = build_from_checkpoint(best)
    assert all(torch.equal(t, best["model_ema"][k]) for k, t in model.state_dict().items())
