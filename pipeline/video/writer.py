"""Write generated videos (H.264 mp4s from frames), e.g. the demo's planted moments and test videos."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FrameFn = Callable[[int, float], np.ndarray]
"""(frame index, timestamp s) -> uint8 [H, W, 3] RGB."""


def write_video(
    path: str | os.PathLike,
    frame_fn: FrameFn,
    n_frames: int,
    fps: float | Fraction = 30,
    width: int = 64,
    height: int = 48,
    rotation: int = 0,
    audio: bool = False,
    codec: str = "libx264",
    frame_times: list[float] | None = None,
    faststart: bool = False,
    last_frame_seconds: float | None = None,
) -> Path:
    """Encode `n_frames` frames from `frame_fn` into an mp4 (H.264, yuv420p).

    Args:
        path: output file (.mp4).
        frame_fn: makes frame i at time t.
        n_frames: frame count.
        fps: nominal frame rate.
        width, height: coded size (even numbers).
        rotation: display rotation written into the track header, counter-clockwise degrees
            (0/90/180/270); players and our decoder turn the frames by it.
        audio: add a silent mono AAC track as long as the video.
        frame_times: explicit timestamps (s) for a variable frame rate; defaults to i / fps.
        faststart: write the index (moov) before the media data, as streaming sites serve mp4s.
        last_frame_seconds: how long the last frame is shown, which the stated duration includes
            (default: one frame interval).
    """
    path = Path(path)
    rate = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
    times = frame_times if frame_times is not None else [i / float(rate) for i in range(n_frames)]
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": "12", "bf": "0"}
        time_base = Fraction(1, 90_000)
        stream.codec_context.time_base = time_base
        audio_stream = container.add_stream("aac", rate=16_000) if audio else None
        if audio_stream is not None:
            audio_stream.layout = "mono"
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(frame_fn(i, t), format="rgb24")
            frame.pts, frame.time_base = int(round(t / time_base)), time_base
            container.mux(stream.encode(frame))
        tail = stream.encode()
        if last_frame_seconds is not None:
            if not tail:
                raise ValueError("last_frame_seconds: the encoder returned no delayed packet to set it on")
            last = max(tail, key=lambda packet: packet.pts)
            last.duration = int(round(last_frame_seconds / last.time_base))
        container.mux(tail)
        if audio_stream is not None:
            _write_silence(container, audio_stream, (times[-1] if times else 0) + 1 / float(rate))
    if rotation:
        set_mp4_rotation(path, rotation)
    return path


def _write_silence(container: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    samples, pts = int(seconds * stream.rate), 0
    while pts < samples:
        n = min(1024, samples - pts)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, n), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = stream.rate, pts
        container.mux(stream.encode(frame))
        pts += n
    container.mux(stream.encode())


def set_mp4_rotation(path: str | os.PathLike, rotation: int) -> None:
    """Write a display rotation (counter-clockwise degrees) into the first track header of an mp4.

    PyAV's muxer ignores the old `rotate` tag, so the transformation matrix of the `tkhd` box
    is patched in place, as ffmpeg itself writes it.
    """
    if rotation % 90:
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
    one = 1 << 16
    cos, sin = {0: (1, 0), 90: (0, 1), 180: (-1, 0), 270: (0, -1)}[rotation % 360]
    data = bytearray(Path(path).read_bytes())
    at = data.find(b"tkhd")
    if at < 0:
        raise ValueError(f"{path}: no track header (tkhd) found; is it an mp4?")
    version = data[at + 4]
    offset = at + 8 + (32 if version == 1 else 20) + 16
    # mov matrix rows (a, b, u), (c, d, v), (x, y, w); ffmpeg reads a CCW angle from a=cos, b=-sin
    struct.pack_into(">9i", data, offset, cos * one, -sin * one, 0, sin * one, cos * one, 0, 0, 0, 1 << 30)
    Path(path).write_bytes(bytes(data))