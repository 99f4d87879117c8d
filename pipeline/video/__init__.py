"""Video files to clips: probing, one decode pass per video into a clip grid, frame sampling, writing test videos."""

from pipeline.video.clips import (
    ClipChunk,
    DecodeStats,
    VideoDecodeError,
    VideoInfo,
    clip_grid,
    frame_index_at,
    rotate_frames,
    scaled_size,
    target_times,
)
from pipeline.video.reader import (
    VIDEO_SUFFIXES,
    decode_clips,
    decode_clips_on,
    list_videos,
    probe_video,
    usable_video_ids,
    video_id,
)
from pipeline.video.sampling import FramesPerClip, ResampleFps, SamplingSpec

__all__ = [
    "VIDEO_SUFFIXES",
    "ClipChunk",
    "DecodeStats",
    "FramesPerClip",
    "ResampleFps",
    "SamplingSpec",
    "VideoDecodeError",
    "VideoInfo",
    "clip_grid",
    "decode_clips",
    "decode_clips_on",
    "frame_index_at",
    "list_videos",
    "probe_video",
    "rotate_frames",
    "scaled_size",
    "target_times",
    "usable_video_ids",
    "video_id",
]
