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


SamplingSpec = Annotated[Union[FramesPerClip, ResampleFps], Field(discriminator="kind")]
