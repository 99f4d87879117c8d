"""Fixtures of the comparison tests: the planted-moment data of tests/training, comparison configs, one thread."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

# planted.py lives with the training tests; their folder has no __init__.py (pytest's rootdir-relative
# "prepend" import mode), so it is importable once the folder is on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))

from planted import TINY_CLIP, planted_dataset  # noqa: E402

from pipeline.workflow.compare import CompareConfig  # noqa: E402

#: The six architectures at test size; a second decoder layer lets them learn within a few CPU steps.
TINY_MODELS = [
    {"label": "videolights", "preset": "tiny", "model_overrides": {"dec_layers": 2}},
    {"label": "trdetr", "preset": "trdetr-tiny", "model_overrides": {"dec_layers": 2}},
    {"label": "taskweave", "preset": "taskweave-tiny", "model_overrides": {"dec_layers": 2}},
    {"label": "moment_detr", "preset": "moment_detr-tiny", "model_overrides": {"dec_layers": 2}},
    {"label": "qd_detr", "preset": "qd_detr-tiny", "model_overrides": {"dec_layers": 2}},
    {"label": "cg_detr", "preset": "cg_detr-tiny", "model_overrides": {"dec_layers": 2}},
]


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: tiny tensors on a shared 2-core machine run faster without contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def compare_data(tmp_path_factory) -> dict[str, str]:
    """A small planted dataset (24 train videos, 6 val videos, two queries each)."""
    return planted_dataset(tmp_path_factory.mktemp("compare-planted"), n_train=24, n_val=6)


@pytest.fixture()
def compare_fields(compare_data, tmp_path) -> dict:
    """CompareConfig fields of the three tiny models on `compare_data` (2 epochs each), as in a YAML file."""
    return {"train_annotations": compare_data["train"], "val_annotations": compare_data["val"],
            "dataset_kind": "qvhighlights", "store": compare_data["store"], "out_dir": str(tmp_path / "compare"),
            "features": TINY_CLIP.model_dump(mode="json"), "epochs": 2, "batch_size": 8, "lr": 1e-3,
            "eval_every": 1, "seed": 3, "device": "cpu", "models": [dict(m) for m in TINY_MODELS]}


@pytest.fixture()
def make_compare(compare_fields):
    """CompareConfig of `compare_fields`, fields overridable."""

    def make(**fields) -> CompareConfig:
        return CompareConfig.model_validate({**compare_fields, **fields})

    return make
