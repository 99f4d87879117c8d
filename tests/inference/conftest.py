"""Fixtures of the inference tests: a tiny checkpoint, random-feature splits, generated videos."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from infer_helpers import tiny_checkpoint, write_random_split


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.ckpt")


@pytest.fixture(scope="module")
def val_split(tmp_path_factory) -> dict[str, str]:
    return write_random_split(tmp_path_factory.mktemp("val"))


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """A generated 6-minute video (64x48, 5 fps): 180 two-second clips, longer than any training crop."""
    from timecode import time_coded_frames
    from pipeline.video.writer import write_video

    path = tmp_path_factory.mktemp("videos") / "six_minutes.mp4"
    return write_video(path, time_coded_frames(64, 48), n_frames=6 * 60 * 5, fps=5, width=64, height=48)
