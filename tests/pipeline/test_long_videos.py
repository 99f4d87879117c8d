"""Slow sources resampled to 30 fps for SlowFast: each source frame is decoded and converted once,
and a frame repeated in a clip is resized once on the network's side."""

from __future__ import annotations

import numpy as np
import torch

from pipeline.extractors.frames import resize_square, resize_square_repeats
from pipeline.video import DecodeStats, decode_clips
from pipeline.video.sampling import ReferenceFrames, ReferenceSlowFast


def test_a_1fps_source_is_converted_once_per_frame_whatever_the_30fps_resampling(make_video):
    path = make_video("slow.mp4", seconds=40, fps=1, width=64, height=36)
    consumers = {"slowfast": ReferenceSlowFast(short_side=32), "clip": ReferenceFrames(short_side=32)}
    stats = DecodeStats()
    delivered = 0
    for chunk in decode_clips(path, consumers, chunk_seconds=8.0, stats=stats):
        delivered += sum(len(clip) for clip in chunk.frames["slowfast"])
    assert delivered == 20 * 32  # 20 clips of 32 fast-pathway frames
    assert stats.frames_decoded == 40
    assert stats.frames_converted <= 40  # never a conversion per resampled position


def test_resizing_repeated_frames_once_equals_resizing_each():
    rng = np.random.default_rng(0)
    distinct = torch.from_numpy(rng.integers(0, 256, (5, 40, 48, 3), dtype=np.uint8))
    repeated = distinct[torch.tensor([0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 4, 0])]  # runs, and a frame coming back
    for frames in (repeated, distinct):
        want = resize_square(frames.permute(0, 3, 1, 2), 32)
        assert torch.equal(resize_square_repeats(frames, 32), want)
