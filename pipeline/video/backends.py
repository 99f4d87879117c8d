"""The CPU decoder back-ends behind `pipeline.video.reader`: PyAV (the default: exact reference pixels) and
decord (an optional extra); torchcodec's is in `pipeline.video.gpu`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import av
import numpy as np

from pipeline.video.reference import reference_size
from pipeline.video.sampling import REFERENCE_SPECS, SamplingSpec
from pipeline.video.clips import (
    AT_OR_BEFORE_S,
    ClipChunk,
    DecodeStats,
    VideoDecodeError,
    VideoInfo,
    frame_index_at,
    rotate_frames,
    scaled_size,
    clip_targets,
)

log = logging.getLogger(__name__)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoDecodeError(path, "file not found")
    if not path.is_file():
        raise VideoDecodeError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(path, "empty file (0 bytes)")


def _open_container(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc)
        raise VideoDecodeError(path, f"not a readable media file ({detail})") from exc


def _rotation_of(frame: av.VideoFrame) -> int:
    return int(round(getattr(frame, "rotation", 0) or 0)) % 360


def probe_with_pyav(path: str | os.PathLike) -> VideoInfo:
    """Metadata of `path` plus a check that its first video frame decodes (see probe_video)."""
    path = Path(path)
    _check_file(path)
    with _open_container(path) as container:
        if not container.streams:
            raise VideoDecodeError(path, "no media streams (an empty or zero-duration container)")
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise VideoDecodeError(path, f"no video stream (streams: {', '.join(kinds)})")
        stream = container.streams.video[0]
        has_audio = bool(container.streams.audio)
        try:
            first = next(container.decode(stream), None)
        except av.error.FFmpegError as exc:
            raise VideoDecodeError(path, f"video stream does not decode ({exc})") from exc
        if first is None:
            raise VideoDecodeError(path, "no decodable video frames (zero-length video stream)")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        n_frames = int(stream.frames or 0)
        duration = 0.0
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif n_frames and fps:
            duration = n_frames / fps
        elif container.duration:
            duration = container.duration / 1_000_000
        if not n_frames and fps:
            n_frames = int(round(duration * fps))
        if duration <= 0:
            raise VideoDecodeError(path, "zero duration: the video stream has no length")
        frames_end = _check_not_truncated(container, stream, path, duration, fps)
        return VideoInfo(
            path=str(path),
            duration=duration,
            fps=fps,
            n_frames=n_frames,
            width=first.width,
            height=first.height,
            rotation=_rotation_of(first),
            has_audio=has_audio,
            codec=stream.codec_context.name,
            frames_end=frames_end,
        )


TRUNCATION_TOLERANCE_S = 1.0
"""How far the last frame may end before the stated duration (plus two frame intervals) before
the file counts as truncated: muxers round, and a last frame may be shown shorter than stated."""


def _frames_end(container: av.container.InputContainer, stream: av.VideoStream, start: float) -> float | None:
    """End time (s, stream origin) of the last video packet at or after the keyframe before `start`,
    read by demuxing alone (no decoding); None when no packet can be read there."""
    origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    container.seek(int((origin + start) / stream.time_base), stream=stream, backward=True)
    end = None
    try:
        for packet in container.demux(stream):
            if packet.pts is not None:
                t = float((packet.pts + (packet.duration or 0)) * packet.time_base) - origin
                end = t if end is None else max(end, t)
    except av.error.FFmpegError:
        pass  # a cut or corrupt tail ends the read; what was read says where frames stop
    return end


def _check_not_truncated(container: av.container.InputContainer, stream: av.VideoStream, path: Path,
                         duration: float, fps: float) -> float:
    """Refuse a file whose frames stop well before its stated duration.

    A file cut after an index written up front (mp4 `faststart`) opens and states its full
    duration; decoders then repeat the last frame they could read, which would store frozen
    features. Only the tail is demuxed here (cheap); the whole file only to name where frames stop.
    Returns where the frames end (s).
    """
    slack = TRUNCATION_TOLERANCE_S + (2.0 / fps if fps > 0 else 0.0)
    end = _frames_end(container, stream, max(0.0, duration - 2.0))
    if end is not None and end >= duration - slack:
        return end
    end = _frames_end(container, stream, 0.0) or 0.0
    if end >= duration - slack:
        return end
    raise VideoDecodeError(path, f"truncated: frames stop at {end:.1f} s of {duration:.1f} s")


class _ChunkPlanner:
    """Splits the clip grid into chunks and lists the timestamps every consumer wants (a consumer
    with a clip count of its own, a reference spec's, gets fewer clips in the last chunks)."""

    def __init__(self, grid: np.ndarray, consumers: Mapping[str, SamplingSpec], clip_seconds: float,
                 chunk_seconds: float, info: VideoInfo):
        self.grid = grid
        self.clips_per_chunk = max(1, int(chunk_seconds // clip_seconds))
        self.targets = {name: clip_targets(spec, info, grid, clip_seconds) for name, spec in consumers.items()}

    def chunks(self) -> Iterator[tuple[int, int, dict[str, list[np.ndarray]]]]:
        """Yields (first clip, grid clips in the chunk, consumer -> per clip target times in seconds)."""
        for first in range(0, len(self.grid), self.clips_per_chunk):
            last = min(first + self.clips_per_chunk, len(self.grid))
            yield first, last - first, {name: times[first:last] for name, times in self.targets.items()}


def _assemble(first: int, grid: np.ndarray, picks: dict[str, list[np.ndarray]],
              frame_of: Callable[[int, SamplingSpec], np.ndarray] | None, frame_starts: Mapping[int, float],
              consumers: Mapping[str, SamplingSpec], info: VideoInfo, n: int) -> ClipChunk:
    """Builds a chunk of `n` grid clips from `picks` (consumer -> per clip frame keys) and the decoded
    frames (`frame_of(key, spec)`)."""
    chunk = ClipChunk(first_clip=first, clip_times=grid[first:first + n].copy())
    for name, per_clip in picks.items():
        spec = consumers[name]
        arrays = []
        for keys in per_clip:
            clip = rotate_frames(np.stack([frame_of(int(k), spec) for k in keys]), info.rotation)
            if min(clip.shape[1:3]) != spec.short_side:
                clip = _resize(clip, scaled_size(*info.display_size, spec.short_side))
            arrays.append(clip)
        chunk.frames[name] = arrays
        chunk.frame_index[name] = [np.asarray(keys, dtype=np.int64) for keys in per_clip]
        chunk.frame_times[name] = [np.array([frame_starts[int(k)] for k in keys]) for keys in per_clip]
    return chunk


def _resize(clip: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[T, H, W, 3] uint8 -> [T, h2, w2, 3] with size = (w2, h2), antialiased bilinear."""
    import torch
    import torch.nn.functional as F

    w2, h2 = size
    t = torch.from_numpy(clip).permute(0, 3, 1, 2).float()
    t = F.interpolate(t, size=(h2, w2), mode="bilinear", antialias=True, align_corners=False)
    return t.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def _decode_size(info: VideoInfo, consumers: Mapping[str, SamplingSpec]) -> tuple[int, int]:
    short = max(spec.short_side for spec in consumers.values())
    if any(isinstance(spec, REFERENCE_SPECS) and spec.short_side == short for spec in consumers.values()):
        return reference_size(info.width, info.height, short)
    if short >= min(info.width, info.height):
        return info.width, info.height
    return scaled_size(info.width, info.height, short)


class _ReferenceScaler:
    """Decoded frames to RGB exactly as the references' ffmpeg graph makes them: libavfilter's
    `scale` (libswscale bicubic, no extra flags) straight to rgb24 at `size`. PyAV's own
    VideoFrame.reformat with bicubic is 0.4 grey levels off on average; the filter graph is exact."""

    def __init__(self, stream: av.VideoStream, size: tuple[int, int]):
        self.graph = av.filter.Graph()
        source = self.graph.add_buffer(template=stream)
        scale = self.graph.add("scale", f"{size[0]}:{size[1]}")
        rgb = self.graph.add("format", "rgb24")
        sink = self.graph.add("buffersink")
        source.link_to(scale)
        scale.link_to(rgb)
        rgb.link_to(sink)
        self.graph.configure()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        self.graph.push(frame)
        return self.graph.pull().to_ndarray()


def decode_with_decord(path: Path, info: VideoInfo, grid: np.ndarray, consumers: Mapping[str, SamplingSpec],
                       clip_seconds: float, chunk_seconds: float, stats: DecodeStats) -> Iterator[ClipChunk]:
    """Random-access decoding through decord's frame index (not for rotated videos: decord
    turns some of them itself and mis-sizes others, so those go to PyAV)."""
    try:
        import decord
    except ImportError as exc:
        raise ImportError("backend 'decord' needs decord, an optional extra: pip install 'videolights-pipeline[decord]' "
                          "(or use backend 'pyav', the default)") from exc
    if info.rotation:
        raise VideoDecodeError(path, f"decord mishandles rotated videos (rotation {info.rotation})")
    width, height = _decode_size(info, consumers)
    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), width=width, height=height,
                                    num_threads=min(4, os.cpu_count() or 1))
    except Exception as exc:  # decord raises its own DECORDError and RuntimeError subclasses
        raise VideoDecodeError(path, f"decord cannot open it ({exc})") from exc
    stats.opens += 1
    stats.backend = "decord"
    n_frames = len(reader)
    if n_frames == 0:
        raise VideoDecodeError(path, "no decodable video frames")
    starts = reader.get_frame_timestamp(np.arange(n_frames))[:, 0].astype(np.float64)
    starts -= starts[0]
    for first, n, wanted_times in _ChunkPlanner(grid, consumers, clip_seconds, chunk_seconds, info).chunks():
        picks = {name: [frame_index_at(starts, t) for t in per_clip] for name, per_clip in wanted_times.items()}
        wanted = np.unique(np.concatenate([keys for per_clip in picks.values() for keys in per_clip]
                                          or [np.zeros(0, np.int64)]))
        if not len(wanted):  # a last clip no consumer takes a frame of
            yield _assemble(first, grid, picks, None, {}, consumers, info, n)
            continue
        try:
            batch = reader.get_batch(wanted.tolist()).asnumpy()
        except Exception as exc:  # decord's errors have no common base class
            raise VideoDecodeError(path, f"decoding frames {wanted[0]}..{wanted[-1]} failed ({exc})") from exc
        stats.frames_decoded += len(wanted)
        stats.frames_converted += len(wanted)
        frames = dict(zip(wanted.tolist(), batch))
        yield _assemble(first, grid, picks, lambda key, _spec: frames[key], {int(i): starts[i] for i in wanted},
                        consumers, info, n)
    del reader


class _StreamingPicker:
    """Sequential decoding with PyAV: for each target time, the last frame starting at or before it.

    Targets must come in non-decreasing time order. Frames are converted to RGB only when
    picked, at each consumer's short side through `_ReferenceScaler` (bit-exact with the
    references); frame keys count decoded frames in presentation order.
    """

    def __init__(self, path: Path, info: VideoInfo, stats: DecodeStats):
        self.path = path
        self.slack = TRUNCATION_TOLERANCE_S + (2.0 / info.fps if info.fps > 0 else 0.0)
        self.container = _open_container(path)
        stats.opens += 1
        stats.backend = "pyav"
        self.stats = stats
        stream = self.container.streams.video[0]
        stream.thread_type = "AUTO"
        self.frames_iter = self.container.decode(stream)
        self.origin: float | None = None
        self.count = 0
        self.current = self._next_frame()
        if self.current is None:
            raise VideoDecodeError(path, "no decodable video frames")
        self.lookahead = self._next_frame()
        self.info = info
        self.stream = stream
        self.scalers: dict[int, _ReferenceScaler] = {}
        self.converted: dict[tuple[int, int], np.ndarray] = {}  # (key, short side) -> RGB
        self.starts: dict[int, float] = {}

    def _next_frame(self) -> tuple[int, float, av.VideoFrame] | None:
        try:
            frame = next(self.frames_iter)
        except StopIteration:
            return None
        except av.error.FFmpegError as exc:
            raise VideoDecodeError(self.path, f"decoding failed after frame {self.count} ({exc})") from exc
        self.stats.frames_decoded += 1
        t = float(frame.time) if frame.time is not None else self.count / 30.0
        if self.origin is None:
            self.origin = t
        self.count += 1
        return self.count - 1, t - self.origin, frame

    def pick(self, t: float, spec: SamplingSpec) -> int:
        """Key of the frame on screen at time t (s), converted as `spec` wants it."""
        while self.lookahead is not None and self.lookahead[1] <= t + AT_OR_BEFORE_S:
            self.current, self.lookahead = self.lookahead, self._next_frame()
        key, start, frame = self.current
        if self.lookahead is None and t > start + self.slack:
            # the stream ended before this target: a cut the probe's tail check could not see
            raise VideoDecodeError(self.path, f"truncated: frames stop at {start:.1f} s of {self.info.duration:.1f} s")
        short = spec.short_side
        if (key, short) not in self.converted:
            self.converted[key, short] = self._convert(frame, short)
            self.starts[key] = start
            self.stats.frames_converted += 1
        return key

    def _convert(self, frame: av.VideoFrame, short: int) -> np.ndarray:
        """The frame scaled to short side `short` by the references' size rule."""
        try:
            if short not in self.scalers:
                self.scalers[short] = _ReferenceScaler(self.stream, reference_size(self.info.width, self.info.height,
                                                                                   short))
            return self.scalers[short](frame)
        except (av.error.FFmpegError, ValueError) as exc:  # e.g. a frame size that changes mid-stream
            at = float(frame.time or 0)
            raise VideoDecodeError(self.path, f"frame at {at:.1f} s cannot be scaled ({exc})") from exc

    def frame_of(self, key: int, spec: SamplingSpec) -> np.ndarray:
        return self.converted[key, spec.short_side]

    def release_passed(self) -> None:
        """Drops converted frames that no later target can pick."""
        for k, short in [k for k in self.converted if k[0] < self.current[0]]:
            del self.converted[k, short]
            self.starts.pop(k, None)

    def close(self) -> None:
        self.container.close()


def decode_with_pyav(path: Path, info: VideoInfo, grid: np.ndarray, consumers: Mapping[str, SamplingSpec],
                     clip_seconds: float, chunk_seconds: float, stats: DecodeStats) -> Iterator[ClipChunk]:
    picker = _StreamingPicker(path, info, stats)
    try:
        for first, n, wanted_times in _ChunkPlanner(grid, consumers, clip_seconds, chunk_seconds, info).chunks():
            # targets are picked in time order across consumers, then regrouped per clip
            flat = sorted((t, name, c, j) for name, per_clip in wanted_times.items()
                          for c, times in enumerate(per_clip) for j, t in enumerate(times))
            picks = {name: [np.zeros(len(t), np.int64) for t in per_clip] for name, per_clip in wanted_times.items()}
            for t, name, c, j in flat:
                picks[name][c][j] = picker.pick(t, consumers[name])
            yield _assemble(first, grid, picks, picker.frame_of, picker.starts, consumers, info, n)
            picker.release_passed()
    finally:
        picker.close()


BACKENDS = ("auto", "decord", "pyav", "torchcodec")


def decode_with_backend(path: str | os.PathLike, info: VideoInfo, grid: np.ndarray,
                        consumers: Mapping[str, SamplingSpec], clip_seconds: float, chunk_seconds: float,
                        backend: str, stats: DecodeStats, device: str = "cpu") -> Iterator[ClipChunk]:
    path = Path(path)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if backend == "torchcodec":
        from pipeline.video.gpu import decode_with_torchcodec

        planner = _ChunkPlanner(grid, consumers, clip_seconds, chunk_seconds, info)
        yield from decode_with_torchcodec(path, info, planner.chunks(), grid, consumers, stats, device)
        return
    # "auto" is PyAV: its filter graph gives the references' pixels exactly (decord's scaler differs by
    # ~0.5 grey levels), and every consumer of a pass then gets the same pixels whatever else rides on it
    if backend in ("pyav", "auto"):
        yield from decode_with_pyav(path, info, grid, consumers, clip_seconds, chunk_seconds, stats)
        return
    yield from decode_with_decord(path, info, grid, consumers, clip_seconds, chunk_seconds, stats)
