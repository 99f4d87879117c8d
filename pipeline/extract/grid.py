"""The decode stage: each video's clip grid in the store, from a decode pass of its own or from extraction's (GridTap)."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel

from pipeline.extract.config import DONE_ELSEWHERE, GRID_CONSUMER, GRID_EXTRACTOR, DecodeConfig
from pipeline.video.clips import ClipChunk, DecodeStats, VideoDecodeError, VideoInfo
from pipeline.video.reader import decode_clips, probe_video, video_id
from pipeline.video.sampling import FramesPerClip
from storage import Claim, FeatureStore, InvalidKeyError, fingerprint_file

log = logging.getLogger(__name__)

class DecodeRecord(BaseModel):
    """The outcome of one video: small enough to pass between Prefect tasks."""

    vid: str
    path: str
    status: Literal["done", "skipped", "failed"]
    n_clips: int = 0
    duration: float = 0.0
    fps: float = 0.0
    seconds: float = 0.0
    reason: str = ""


def decode_video_to_store(path: str | os.PathLike, store: FeatureStore, config: DecodeConfig = DecodeConfig(),
                          force: bool = False) -> DecodeRecord:
    """Probe and decode `path` once, and write its clip grid to `video/clips/<vid>`.

    Skips the video when its record is complete and current (same decode settings, same file
    content). The record is claimed while decoding: a run finding it claimed by another run waits,
    then skips it if that run wrote it. Raises VideoDecodeError for unreadable videos: the caller
    decides what a failure means.
    """
    path = Path(path)
    vid = video_id(path)
    spec = config.grid_spec()
    written_after = datetime.now(timezone.utc) if force else None
    if not force and store.status("video", GRID_EXTRACTOR, vid, spec, path).state == "current":
        return _skipped(store, vid, path)
    with store.claim([store.entry_path("video", GRID_EXTRACTOR, vid)]):
        if store.status("video", GRID_EXTRACTOR, vid, spec, path, written_after).state == "current":
            return _skipped(store, vid, path, DONE_ELSEWHERE)
        started = time.perf_counter()
        source = fingerprint_file(path)
        info = probe_video(path)
        stats = DecodeStats()
        times = []
        consumers = {GRID_CONSUMER: FramesPerClip(short_side=config.short_side)}
        for chunk in decode_clips(path, consumers, config.clip_seconds, config.chunk_seconds, config.backend, info, stats):
            times.append(chunk.clip_times)
        return _write_grid(store, vid, path, source, info, times, stats, config, started)


def _write_grid(store: FeatureStore, vid: str, path: Path, source: str, info: VideoInfo, times: list[np.ndarray],
                stats: DecodeStats, config: DecodeConfig, started: float) -> DecodeRecord:
    """Write the clip grid decoded from `path` (under the caller's claim of its entry)."""
    grid = np.concatenate(times)
    extra = {"n_clips": len(grid), "duration": info.duration, "fps": info.fps, "n_frames": info.n_frames,
             "width": info.width, "height": info.height, "rotation": info.rotation,
             "has_audio": info.has_audio, "codec": info.codec, "backend": stats.backend}
    store.write_video(GRID_EXTRACTOR, vid, grid, config.grid_spec(), source, dtype="float64", extra=extra)
    seconds = time.perf_counter() - started
    log.info("%s: %d clips of %.1f s (%.2f s video) decoded in %.2f s", vid, len(grid), config.clip_seconds,
             info.duration, seconds)
    return DecodeRecord(vid=vid, path=str(path), status="done", n_clips=len(grid), duration=info.duration,
                        fps=info.fps, seconds=seconds)


class GridTap:
    """The decode stage on the extraction engine's decode pass (a `pipeline.extract.DecodeTap`):
    records each video's clip grid from the chunks of that pass, so it costs no decode of its own.

    Takes the videos whose grid entry is missing or stale (with `force`: not written since this
    tap was made); an entry another run holds is left to that run. `records` lists what it wrote.
    """

    def __init__(self, store: FeatureStore, config: DecodeConfig = DecodeConfig(), force: bool = False):
        self.store, self.config = store, config
        self.spec = config.grid_spec()
        self.written_after = datetime.now(timezone.utc) if force else None
        self.records: list[DecodeRecord] = []
        self._lock = threading.Lock()

    def wanted(self, vid: str, path: Path) -> bool:
        return self.store.status("video", GRID_EXTRACTOR, vid, self.spec, path, self.written_after).state != "current"

    def open(self, vid: str, path: Path, info: VideoInfo) -> _GridSession | None:
        claim = self.store.try_claim([self.store.entry_path("video", GRID_EXTRACTOR, vid)])
        if claim is None:
            return None
        if not self.wanted(vid, path):
            claim.release()
            return None
        return _GridSession(self, vid, Path(path), info, claim)

    def _record(self, record: DecodeRecord) -> None:
        with self._lock:
            self.records.append(record)


class _GridSession:
    def __init__(self, tap: GridTap, vid: str, path: Path, info: VideoInfo, claim: Claim):
        self.tap, self.vid, self.path, self.info, self.claim = tap, vid, path, info, claim
        self.started = time.perf_counter()
        self.source = fingerprint_file(path)
        self.consumers = {GRID_CONSUMER: FramesPerClip(short_side=tap.config.short_side)}
        self.times: list[np.ndarray] = []

    def feed(self, chunk: ClipChunk) -> None:
        self.times.append(chunk.clip_times)

    def close(self, stats: DecodeStats) -> None:
        try:
            self.tap._record(_write_grid(self.tap.store, self.vid, self.path, self.source, self.info, self.times,
                                         stats, self.tap.config, self.started))
        finally:
            self.claim.release()

    def fail(self, reason: str) -> None:
        self.claim.release()
        self.tap._record(DecodeRecord(vid=self.vid, path=str(self.path), status="failed", reason=reason))


def _skipped(store: FeatureStore, vid: str, path: Path, reason: str = "") -> DecodeRecord:
    attrs = store.attrs("video", GRID_EXTRACTOR, vid) or {}
    return DecodeRecord(vid=vid, path=str(path), status="skipped", n_clips=attrs.get("n_clips", 0),
                        duration=attrs.get("duration", 0.0), fps=attrs.get("fps", 0.0), reason=reason)




def decode_or_fail(path: str | os.PathLike, store: FeatureStore, config: DecodeConfig = DecodeConfig(),
                   force: bool = False) -> DecodeRecord:
    """`decode_video_to_store`, with an unreadable video turned into a failed record."""
    try:
        return decode_video_to_store(path, store, config, force)
    except VideoDecodeError as exc:
        return failed_record(path, exc.reason)
    except InvalidKeyError as exc:
        return failed_record(path, f"{exc}; rename the file")


def failed_record(path: str | os.PathLike, reason: str) -> DecodeRecord:
    """The record of a video that failed, logged as a warning."""
    log.warning("%s: failed: %s", path, reason)
    return DecodeRecord(vid=Path(path).stem, path=str(path), status="failed", reason=reason)
