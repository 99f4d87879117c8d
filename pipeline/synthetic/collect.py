"""Gather, from one decode pass, each interval's representative frame and the frame of each of its clips."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.video.sampling import FramesPerClip
from pipeline.synthetic.config import SynthesizeConfig
from pipeline.synthetic.intervals import Interval
from pipeline.video import ClipChunk

#: Consumer names in a `decode_clips` call; namespaced so an engine can add them beside its extractors'.
CAPTION_CONSUMER = "synthetic-caption"
SCORE_CONSUMER = "synthetic-score"


def synthesis_consumers(config: SynthesizeConfig = SynthesizeConfig()) -> dict[str, FramesPerClip]:
    """The two sampling specs the synthesize stage adds to a decode pass.

    The caption consumer samples, in every clip, the offsets the frame rule can land on (one for
    "middle" and "first"); the score consumer samples `score_frame_offset` of every clip (by default
    its first frame) at the decode short side; on a shared pass they get the very pixels an extractor
    at that size would (one filter graph scales every consumer's frames).
    """
    short = config.decode.short_side
    return {CAPTION_CONSUMER: FramesPerClip(offsets=config.caption_offsets(), short_side=short),
            SCORE_CONSUMER: FramesPerClip(offsets=(config.score_frame_offset,), short_side=short)}


@dataclass
class IntervalFrames:
    """The frames of one interval.

    Attributes:
        interval: which interval.
        caption_frame: uint8 [H, W, 3], the representative frame (None until its clip is decoded).
        caption_frame_time: its source timestamp (s).
        clip_frames: clip id -> uint8 [H, W, 3], the scored frame of each of the interval's clips.
    """

    interval: Interval
    caption_frame: np.ndarray | None = None
    caption_frame_time: float | None = None
    clip_frames: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.caption_frame is not None and len(self.clip_frames) == len(self.interval.clip_ids)


class IntervalCollector:
    """Turns a video's `ClipChunk`s (in clip order) into complete `IntervalFrames`, holding only unfinished ones."""

    def __init__(self, intervals: Sequence[Interval], caption_consumer: str = CAPTION_CONSUMER,
                 score_consumer: str = SCORE_CONSUMER):
        self.caption_consumer, self.score_consumer = caption_consumer, score_consumer
        self._open = {iv.index: IntervalFrames(iv) for iv in intervals}
        self._by_clip = {c: iv for iv in intervals for c in iv.clip_ids}

    @property
    def incomplete(self) -> list[int]:
        """Indices of the intervals still waiting for frames."""
        return sorted(self._open)

    def feed(self, chunk: ClipChunk) -> list[IntervalFrames]:
        """Take one chunk's frames; returns the intervals it completed, in time order."""
        for name in (self.caption_consumer, self.score_consumer):
            if name not in chunk.frames:
                raise KeyError(f"the decoded chunk has no frames for consumer {name!r} (it has {sorted(chunk.frames)}); "
                               "decode with synthesis_consumers(config) among the consumers")
        done = []
        for k in range(len(chunk.clip_times)):
            clip = chunk.first_clip + k
            iv = self._by_clip.get(clip)
            if iv is None or iv.index not in self._open:
                continue
            frames = self._open[iv.index]
            frames.clip_frames[clip] = chunk.frames[self.score_consumer][k][0]
            if clip == iv.caption_clip:
                frames.caption_frame = chunk.frames[self.caption_consumer][k][iv.caption_offset]
                frames.caption_frame_time = float(chunk.frame_times[self.caption_consumer][k][iv.caption_offset])
            if frames.complete:
                done.append(self._open.pop(iv.index))
        return sorted(done, key=lambda f: f.interval.index)
