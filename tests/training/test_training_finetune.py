"""Fine-tuning starts from the pretraining checkpoint's weights; bad starting points are named."""

from __future__ import annotations

import pytest
import torch
from planted import TINY_CLIP

from model.config import FeatureSet
from pipeline.training import LAST, load_checkpoint, save_checkpoint, train

#: Small enough that one epoch of AdamW leaves every weight where it started (to 1e-6).
FROZEN_LR = 1e-12


@pytest.fixture(scope="module")
def pretrained(small_data, tmp_path_factory):
    from pipeline.training import TrainRunConfig

    out = tmp_path_factory.mktemp("pretrain")
    return train(TrainRunConfig(preset="tiny", features=TINY_CLIP, train_annotations=small_data["train"],
                                store=small_data["store"], out_dir=str(out), epochs=1, batch_size=8, lr=1e-3,
                                device="cpu", stage="pretrain", seed=11))


def test_finetune_starts_from_the_pretraining_weights(make_config, pretrained, tmp_path) -> None:
    start = load_checkpoint(pretrained.last_checkpoint)
    assert start["stage"] == "pretrain" and pretrained.best_checkpoint is None  # no --val: no best.ckpt
    tuned = train(make_config(out=tmp_path / "ft", epochs=1, lr=FROZEN_LR, stage="finetune",
                              init_from=str(pretrained.last_checkpoint)))
    scratch = train(make_config(out=tmp_path / "scratch", epochs=1, lr=FROZEN_LR))
    assert (tuned.missing_keys, tuned.unexpected_keys) == ([], [])
    after = load_checkpoint(tuned.last_checkpoint)
    fresh = load_checkpoint(scratch.last_checkpoint)
    assert after["stage"] == "finetune" and after["epoch"] == 1  # its own epochs, not the pretraining's
    for name in ("global_rep_token", "input_vid_proj.0.net.1.conv1d.weight", "class_embed.weight"):
        assert torch.allclose(after["model"][name], start["model"][name], atol=1e-6), name
        assert not torch.allclose(fresh["model"][name], start["model"][name], atol=1e-3), name


def test_missing_and_unexpected_keys_are_reported(make_config, pretrained, tmp_path) -> None:
    ckpt = load_checkpoint(pretrained.last_checkpoint)
    del ckpt["model"]["global_rep_token"]
    ckpt["model"]["extra_head.weight"] = torch.zeros(3)
    edited = save_checkpoint(ckpt, tmp_path / "edited.ckpt")
    tuned = train(make_config(out=tmp_path / "ft", epochs=1, stage="finetune", init_from=str(edited)))
    assert tuned.missing_keys == ["global_rep_token"]
    assert tuned.unexpected_keys == ["extra_head.weight"]


def test_a_checkpoint_of_another_feature_set_is_refused(make_config, small_data, tmp_path) -> None:
    other = FeatureSet(video=("clip", "blip2"), text=("clip",), extractor_preset="tiny")
    from model.build import build_model, make_checkpoint
    from model.presets import get_preset

    model, _, _ = build_model(get_preset("tiny").with_features(other))
    path = save_checkpoint(make_checkpoint(model, get_preset("tiny").with_features(other)), tmp_path / "o.ckpt")
    with pytest.raises(ValueError, match="differ in shape"):
        train(make_config(out=tmp_path / "ft", stage="finetune", init_from=str(path)))
    assert not (tmp_path / "ft" / LAST).exists()
