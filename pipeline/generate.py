"""Write synthetic videos: time-coded frames for tests, planted moments for the demo."""

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
