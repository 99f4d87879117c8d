"""Frame-sampling specs: what each consumer of the decode pass asks for."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class FramesPerClip(BaseModel):
    """k frames per clip, each at a fixed offset inside the clip.

    Offsets are fractions of the clip length: 0.0 is the clip's first frame, 0.5 its middle.
    The frame used for an offset is the last decoded frame whose timestamp is <= the target
    time (clip_start + offset * clip_length, clamped to the clip), as a seek would give.
    CLIP and BLIP-2 use one frame at offset 0.0, which is what the public extractors'
    `fps=1/clip_seconds` sampling gives.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["frames_per_clip"] = "frames_per_clip"
    offsets: tuple[float, ...] = Field(default=(0.0,), description="fractions of the clip in [0, 1)")
    short_side: int = Field(default=224, gt=0, description="decoded frames are resized so their short side is this (pixels)")


class ResampleFps(BaseModel):
    """Every frame of the clip after resampling the video to `fps` (SlowFast: 30 fps).

    Resampling picks, for each target time t = clip_start + j / fps, the last decoded frame whose
    timestamp is <= t (duplicating frames of slower videos, dropping frames of faster ones).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["resample_fps"] = "resample_fps"
    fps: float = Field(default=30.0, gt=0, description="target frame rate (frames per second)")
    short_side: int = Field(default=224, gt=0, description="decoded frames are resized so their short side is this (pixels)")


class ReferenceFrames(BaseModel):
    """One frame per clip exactly as the public CLIP / BLIP-2 extractors pick and scale it (HERO,
    Moment-DETR, VideoLights: ffmpeg `fps=1/clip_seconds` with "near" rounding).

    Clip k shows the last frame strictly before (k + 1/2) x clip_seconds; there are
    floor(T_end / clip_seconds + 1/2) clips (T_end: the last frame's end), so a partial last clip
    shorter than half a clip gets none. Frames are scaled by libswscale's bicubic filter to the short
    side, the other side truncated (`pipeline.video.reference`), as the references' ffmpeg graph does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["reference_frames"] = "reference_frames"
    short_side: int = Field(default=224, gt=0, description="frames are scaled so their short side is this (pixels)")


class ReferenceSlowFast(BaseModel):
    """The fast-pathway frames of each clip exactly as HERO's SlowFast extractor (which made the
    released features) picks them: the video resampled to `fps` (the last frame strictly before
    (j + 1/2) / fps), padded to whole seconds and to an even number of seconds, cut into clips,
    `num_frames` positions of a window of num_frames x sampling_rate x floor(source fps) / fps frames
    from each clip's start; ceil(duration / clip_seconds) clips. Scaled as ReferenceFrames."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["reference_slowfast"] = "reference_slowfast"
    fps: float = Field(default=30.0, gt=0, description="frame rate of the resampled stream")
    num_frames: int = Field(default=32, gt=0, description="fast-pathway frames per clip")
    sampling_rate: int = Field(default=2, gt=0, description="resampled frames per fast frame at 30 fps sources")
    short_side: int = Field(default=224, gt=0, description="frames are scaled so their short side is this (pixels)")


REFERENCE_SPECS = (ReferenceFrames, ReferenceSlowFast)
"""Specs whose pixels must equal the references' (libswscale bicubic through a filter graph)."""

SamplingSpec = Annotated[Union[FramesPerClip, ResampleFps, ReferenceFrames, ReferenceSlowFast],
                         Field(discriminator="kind")]
