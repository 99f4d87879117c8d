"""Video writers for the synthesize tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from timecode import time_coded_frames
from pipeline.video.writer import write_video


def write_time_coded(path: Path, seconds: float, fps: float = 10, width: int = 64, height: int = 48) -> Path:
    """A video whose frame i has a colour encoding i (pipeline.video.writer)."""
    return write_video(path, time_coded_frames(width, height), int(round(seconds * fps)), fps=fps, width=width,
                       height=height)


def write_constant(path: Path, seconds: float, fps: float = 10, colour=(200, 40, 90)) -> Path:
    """A video of one still colour: every interval gets the same caption."""
    frame = np.empty((48, 64, 3), np.uint8)
    frame[:] = colour
    return write_video(path, lambda i, t: frame, int(round(seconds * fps)), fps=fps)
