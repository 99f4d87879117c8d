"""Checkpoints: atomic writes (never half-written, no leftovers), weights-only loads, RNG round trips."""

from __future__ import annotations

import argparse
import fractions
import random

import numpy as np
import pytest
import torch

from model.build import build_from_checkpoint
from pipeline.common.checkpoint import TEMP_PREFIX
from pipeline.training import (
    BEST,
    LAST,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    train,
)


def _draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_save_writes_a_weights_only_file_and_leaves_no_temp_files(tmp_path) -> None:
    payload = {"model": {"w": torch.arange(4.0)}, "config": {"a": 1}, "rng": rng_state()}
    path = save_checkpoint(payload, tmp_path / "x.ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.ckpt"]
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["model"]["w"], torch.arange(4.0))
    assert load_checkpoint(path)["config"] == {"a": 1}


def test_a_failed_write_keeps_the_old_checkpoint_and_removes_its_temp_file(tmp_path) -> None:
    path = save_checkpoint({"model": {"w": torch.zeros(2)}, "config": {}}, tmp_path / "last.ckpt")
    with pytest.raises(Exception):  # a lambda cannot be pickled: torch.save fails half-way
        save_checkpoint({"model": {"w": torch.ones(2)}, "config": {}, "bad": lambda: 0}, path)
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.zeros(2))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_load_refuses_pickled_objects_and_truncated_files(tmp_path) -> None:
    # a Namespace is read (release checkpoints hold one) and then converted: this one is no model's
    torch.save({"model": {}, "config": {}, "opt": argparse.Namespace(lr=1)}, tmp_path / "release.ckpt")
    with pytest.raises(ValueError, match="cannot tell which release"):
        load_checkpoint(tmp_path / "release.ckpt")
    torch.save({"model": {}, "config": {}, "opt": fractions.Fraction(1, 3)}, tmp_path / "pickled.ckpt")
    with pytest.raises(ValueError, match="refused"):
        load_checkpoint(tmp_path / "pickled.ckpt")
    good = save_checkpoint({"model": {"w": torch.zeros(1000)}, "config": {}}, tmp_path / "good.ckpt")
    (tmp_path / "cut.ckpt").write_bytes(good.read_bytes()[:500])
    with pytest.raises(ValueError):
        load_checkpoint(tmp_path / "cut.ckpt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "absent.ckpt")
    torch.save({"weights": {}}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="'model'"):
        load_checkpoint(tmp_path / "other.ckpt")


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path) -> None:
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    _draws()
    path = save_checkpoint({"model": {}, "config": {}, "rng": rng_state()}, tmp_path / "r.ckpt")
    expected = [_draws() for _ in range(3)]
    set_rng_state(load_checkpoint(path)["rng"])
    assert [_draws() for _ in range(3)] == expected


def test_training_checkpoints_hold_the_full_state(make_config) -> None:
    config = make_config(epochs=2)
    result = train(config)
    folder = result.out_dir
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [LAST, BEST, "metrics.jsonl", "config.json", "best_val_preds.jsonl"])
    last = torch.load(folder / LAST, weights_only=True)
    for key in ("model", "optimizer", "scheduler", "epoch", "rng", "config", "best", "run", "stage", "extractors"):
        assert key in last, key
    assert last["epoch"] == 2 and last["stage"] == "train"
    assert set(last["rng"]) == {"python", "numpy", "torch", "cuda"}
    assert last["extractors"]["video/clip"]["weights_id"] == "tiny:planted"
    assert last["best"]["epoch"] == result.best_epoch
    best = torch.load(folder / BEST, weights_only=True)
    assert "optimizer" not in best and best["epoch"] == result.best_epoch
    model, _, _, experiment = build_from_checkpoint(best)
    assert experiment == config.experiment()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), best["model"].values()))
