"""Test videos whose frames tell their own index, and real files re-muxed (faststart) for the tests."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from pipeline.video.writer import FrameFn

_LEVELS = 16  # colour levels per channel; 256/16 = 16 apart survives H.264 + yuv420p


def time_code_colour(index: int) -> tuple[int, int, int]:
    """A colour that encodes a frame index (0 <= index < 4096) robustly to lossy coding.

    >>> decode_time_code(np.full((4, 4, 3), time_code_colour(1234), np.uint8))
    1234
    """
    if not 0 <= index < _LEVELS**3:
        raise ValueError(f"index must be in [0, {_LEVELS**3}), got {index}")
    step = 256 // _LEVELS
    r, g, b = index % _LEVELS, (index // _LEVELS) % _LEVELS, index // _LEVELS**2
    return r * step + step // 2, g * step + step // 2, b * step + step // 2


def decode_time_code(frame: np.ndarray) -> int:
    """The frame index encoded by `time_code_colour`, read from the frame's centre region."""
    h, w = frame.shape[:2]
    centre = frame[h // 4: 3 * h // 4 or 1, w // 4: 3 * w // 4 or 1].reshape(-1, 3).astype(np.float64)
    step = 256 // _LEVELS
    r, g, b = (np.clip(np.round((centre.mean(axis=0) - step // 2) / step), 0, _LEVELS - 1)).astype(int)
    return int(r + g * _LEVELS + b * _LEVELS**2)


def time_coded_frames(width: int, height: int, marker: bool = False) -> FrameFn:
    """Uniform frames whose colour encodes their index; `marker` whitens the top-left corner
    (an eighth of each side) so rotation can be seen."""

    def make(index: int, _t: float) -> np.ndarray:
        frame = np.empty((height, width, 3), np.uint8)
        frame[:] = time_code_colour(index)
        if marker:
            frame[: max(2, height // 8), : max(2, width // 8)] = 255
        return frame

    return make


def remux_faststart(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy an mp4's streams unchanged into `dst` with the index (moov) written first (`+faststart`)."""
    dst = Path(dst)
    with av.open(str(src)) as source, av.open(str(dst), mode="w", options={"movflags": "+faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams if s.type in ("video", "audio")}
        for packet in source.demux(*[source.streams[i] for i in streams]):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst

