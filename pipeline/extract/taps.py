"""Other stages that ride on the extraction's decode pass (the clip-grid recorder, the synthesis captioner)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from pipeline.video.clips import ClipChunk, DecodeStats, VideoInfo
from pipeline.video.sampling import SamplingSpec


class TapSession(Protocol):
    """One video's share of a decode pass for a `DecodeTap`: the frames it needs, then its chunks.

    An exception a session raises stops the extraction run: a tap whose own work may fail (a model
    error on one video) records that failure itself and lets the pass go on.
    """

    consumers: Mapping[str, SamplingSpec]  # names must not clash with extractor names

    def feed(self, chunk: ClipChunk) -> None: ...

    def close(self, stats: DecodeStats) -> None:
        """Every chunk was fed (`stats`: the pass's counts): finish the video (its failures are its own to record)."""

    def fail(self, reason: str) -> None:
        """The video could not be decoded."""


class DecodeTap(Protocol):
    """Another stage that takes frames from the extraction's decode pass (called from decode threads)."""

    def wanted(self, vid: str, path: Path) -> bool:
        """Whether this video still has work for the tap (the video is decoded for it even when its features are current)."""

    def open(self, vid: str, path: Path, info: VideoInfo) -> TapSession | None:
        """The session of this video, or None when the tap has nothing to do with it after all."""
