"""Interval arithmetic of Algorithm 1: n = floor(T / 10) intervals, their clips, qids and representative frames."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from pipeline.synthetic.config import SynthesizeConfig


@dataclass(frozen=True)
class Interval:
    """One captioned interval of a video.

    Attributes:
        index: i, 0-based, in time order.
        start_s, end_s: the window [start_s, end_s] in seconds.
        clip_ids: indices of its clips on the clip grid (start_s / clip_seconds, ...).
        caption_clip: the clip whose caption-consumer frames hold the representative frame.
        caption_offset: index into the caption consumer's offsets of that frame.
        caption_time_s: the representative frame's target time (s): the frame shown then is captioned.
    """

    index: int
    start_s: float
    end_s: float
    clip_ids: tuple[int, ...]
    caption_clip: int
    caption_offset: int
    caption_time_s: float


def n_intervals(duration: float, interval_seconds: float = 10.0) -> int:
    """floor(T / interval), tolerant to a probe's float noise (9.9999999 s counts as 10 s).

    >>> [n_intervals(t) for t in (0.0, 9.99, 10.0, 35.0, 150.0, 29.9999999)]
    [0, 0, 1, 3, 15, 3]
    """
    if duration <= 0:
        return 0
    return int(math.floor(round(duration / interval_seconds, 6)))


def format_seconds(value: float) -> str:
    """Seconds as written in qids: shortest exact form.

    >>> format_seconds(10.0), format_seconds(2.5), format_seconds(0.0)
    ('10', '2.5', '0')
    """
    return f"{value:g}" if abs(value) < 1e15 else repr(value)


def interval_qid(vid: str, start_s: float, end_s: float) -> str:
    """`{vid}_{start}_{end}` (the paper's and the release's pretraining qid).

    >>> interval_qid("x68guk71VFo_360.0_510.0", 10.0, 20.0)
    'x68guk71VFo_360.0_510.0_10_20'
    """
    return f"{vid}_{format_seconds(start_s)}_{format_seconds(end_s)}"


def random_fraction(seed: int, vid: str, index: int) -> float:
    """The "random" rule's draw in [0, 1) for interval `index` of `vid`: same seed and video, same frame."""
    rng = np.random.default_rng([seed, zlib.crc32(vid.encode("utf-8")), index])
    return float(rng.random())


def representative_time(interval_start: float, config: SynthesizeConfig, vid: str = "", index: int = 0) -> float:
    """Target time (s) of an interval's representative frame, on the caption consumer's sampling grid.

    >>> representative_time(20.0, SynthesizeConfig())
    25.0
    >>> representative_time(20.0, SynthesizeConfig(frame_rule="first"))
    20.0
    """
    length = config.interval_seconds
    if config.frame_rule == "middle":
        return interval_start + length / 2
    if config.frame_rule == "first":
        return interval_start
    # snap down onto the grid of `random_frames_per_clip` samples per clip that the decoder delivers
    step = config.decode.clip_seconds / config.random_frames_per_clip
    slots = int(round(length / step))
    return interval_start + math.floor(random_fraction(config.seed, vid, index) * slots) * step


def plan_intervals(vid: str, duration: float, config: SynthesizeConfig = SynthesizeConfig()) -> list[Interval]:
    """The intervals of a video of `duration` seconds (none below one interval's length).

    >>> [(iv.start_s, iv.end_s, iv.clip_ids, iv.caption_clip) for iv in plan_intervals("v", 25.0)]
    [(0.0, 10.0, (0, 1, 2, 3, 4), 2), (10.0, 20.0, (5, 6, 7, 8, 9), 7)]
    """
    clip_s, per = config.decode.clip_seconds, config.clips_per_interval
    offsets = config.caption_offsets()
    out = []
    for i in range(n_intervals(duration, config.interval_seconds)):
        start = i * config.interval_seconds
        t = representative_time(start, config, vid, i)
        # the last clip starting at or before t; an interval's end is the next one's start
        clip = min(i * per + per - 1, int(math.floor(round(t / clip_s, 9))))
        frac = round(t / clip_s - clip, 9)
        offset = int(np.argmin([abs(frac - o) for o in offsets]))
        out.append(Interval(index=i, start_s=start, end_s=start + config.interval_seconds,
                            clip_ids=tuple(range(i * per, (i + 1) * per)), caption_clip=clip,
                            caption_offset=offset, caption_time_s=t))
    return out
