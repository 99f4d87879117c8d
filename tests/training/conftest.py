"""Fixtures of the training tests: planted-moment datasets in temp stores, run configs, one thread."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from planted import TINY_CLIP, planted_dataset

from pipeline.training import TrainRunConfig


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: tiny tensors on a shared 2-core machine run faster without contention,
    and runs compared for bitwise equality use the same thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> dict[str, str]:
    """A small planted dataset (24 train videos, 6 val videos, two queries each)."""
    return planted_dataset(tmp_path_factory.mktemp("planted-small"), n_train=24, n_val=6)


@pytest.fixture()
def make_config(small_data, tmp_path):
    """TrainRunConfig of the tiny preset on `small_data` (or other data), fields overridable."""

    def make(out: str | Path | None = None, data: dict[str, str] | None = None, **fields) -> TrainRunConfig:
        data = data or small_data
        base = dict(preset="tiny", features=TINY_CLIP, train_annotations=data["train"],
                    val_annotations=data["val"], dataset_kind="qvhighlights", store=data["store"],
                    out_dir=str(out or tmp_path / "run"), epochs=2, batch_size=8, lr=1e-3, eval_every=1,
                    device="cpu")
        base.update(fields)
        return TrainRunConfig(**base)

    return make
