"""The demo's inputs: a folder of small generated videos, made on the spot (no downloads)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline.generate import write_video


def moving_square_frames(width: int, height: int, seed: int):
    """Frames of a drifting background with a square that crosses the picture (something to look at)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=3)
    colour = rng.integers(0, 256, size=3)

    def make(index: int, t: float) -> np.ndarray:
        frame = np.empty((height, width, 3), np.uint8)
        frame[:] = (base + 20 * np.sin(t / 3 + np.arange(3))).clip(0, 255).astype(np.uint8)
        side = height // 4
        x = int((t * 12) % max(1, width - side))
        frame[height // 3: height // 3 + side, x: x + side] = colour
        return frame

    return make


def generate_demo_videos(folder: str | os.PathLike, count: int = 4, seed: int = 0) -> list[Path]:
    """Write `count` short videos of different lengths, rates and sizes into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shapes = [(12.0, 30, 320, 240), (7.5, 25, 256, 144), (20.0, 15, 240, 320), (3.0, 24, 192, 108)]
    paths = []
    for i in range(count):
        seconds, fps, width, height = shapes[i % len(shapes)]
        path = folder / f"demo_{i:02d}.mp4"
        if not path.exists():
            write_video(path, moving_square_frames(width, height, seed + i), int(seconds * fps), fps=fps,
                        width=width, height=height, audio=i % 2 == 0)
        paths.append(path)
    return paths
