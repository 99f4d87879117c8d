"""Fixtures of the pipeline-flow tests: small pipeline configs over generated planted-moment data."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.workflow.config import PipelineConfig


def small_config(workdir: Path, **changes) -> dict:
    """The whole DAG at its smallest: 6 + 3 generated videos, CLIP features only, a few epochs."""
    config = {
        "name": "small", "workdir": str(workdir), "device": "cpu",
        "data": {"kind": "qvhighlights",
                 "generate": {"train_videos": 6, "val_videos": 3, "seconds": 20, "fps": 4, "width": 64, "height": 48}},
        "features": {"video": ["clip"], "text": ["clip"], "extractor_preset": "tiny"},
        "extract": {"preset": "tiny", "crop_size": 32},
        "synthesize": {"enabled": True, "preset": "tiny", "text_encoders": ["clip"], "decode": {"short_side": 32},
                       "generation": {"num_beams": 1, "max_new_tokens": 4}},
        "pretrain": {"enabled": True, "preset": "tiny", "epochs": 1, "batch_size": 8},
        "finetune": {"preset": "tiny", "epochs": 2, "batch_size": 8, "eval_every": 1},
        "evaluate": {"plots": 1},
    }
    for key, value in changes.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    return config


@pytest.fixture()
def write_config(tmp_path):
    """Write a small config (with changes) as YAML; returns (path, validated PipelineConfig)."""

    def write(name: str = "small.yaml", workdir: Path | None = None, **changes) -> tuple[Path, PipelineConfig]:
        data = small_config(workdir or tmp_path / "run", **changes)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data))
        return path, PipelineConfig.model_validate(data)

    return write
