"""What an extraction has to do: per video, the extractors whose store entries are missing or stale."""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel

from pipeline.extract.encoders import video_entry_spec
from pipeline.extract.taps import DecodeTap
from pipeline.extractors import VideoExtractor
from pipeline.video.reader import list_videos, usable_video_ids
from storage import Claim, FeatureStore

log = logging.getLogger(__name__)

FEATURES_CURRENT = "features current; decoded only for another stage"
"""Reason of a skipped record of a video decoded only for a tap."""


class ExtractRecord(BaseModel):
    """The outcome of one video (or query batch): small enough to pass between Prefect tasks."""

    vid: str
    path: str
    status: Literal["done", "skipped", "failed"]
    extractors: list[str] = []
    n_clips: int = 0
    seconds: float = 0.0
    reason: str = ""


@dataclass
class VideoJob:
    """One video of an extraction: the extractors it needs, and its encoded rows as they arrive.

    Attributes:
        needed: extractors whose entries this run writes (shrinks when another run wrote some).
        planned: what the plan found needed, before any claim.
        n_clips: extractor -> its clip count, known once the video is decoded.
        rows: extractor -> clip index -> feature row.
        claim: this run's claim of the video's entries while it works on them.
    """

    vid: str
    path: Path
    needed: list[str]
    planned: tuple[str, ...] = ()
    started: float = 0.0
    n_clips: dict[str, int] | None = None
    rows: dict[str, dict[int, np.ndarray]] = field(default_factory=lambda: defaultdict(dict))
    claim: Claim | None = None

    def entry_names(self) -> list[str]:
        return [FeatureStore.entry_path("video", name, self.vid) for name in self.needed]

    def release(self) -> None:
        if self.claim is not None:
            self.claim.release()

    def complete(self) -> bool:
        """Every clip of every needed extractor is encoded (the video must be decoded)."""
        return self.n_clips is not None and all(len(self.rows[name]) >= self.n_clips[name] for name in self.needed)


def plan_videos(paths: Iterable[str | os.PathLike], store: FeatureStore, extractors: Mapping[str, VideoExtractor],
                clip_seconds: float, force: bool = False, since: datetime | None = None,
                taps: Sequence[DecodeTap] = ()) -> tuple[list[VideoJob], list[ExtractRecord]]:
    """Which extractors each video still needs: missing or stale entries; with `force`, every entry
    not written since `since` (when this run started; default now), i.e. not by another run.
    A video no extractor needs is still decoded when a tap wants it. A file whose id cannot be a
    store key (or repeats another's) gets a failed record."""
    written_after = (since or datetime.now(timezone.utc)) if force else None
    usable, refused = usable_video_ids(list(paths))
    jobs, settled = [], [ExtractRecord(vid=path.stem, path=str(path), status="failed", reason=reason)
                        for path, reason in refused]
    for path, reason in refused:
        log.warning("%s: failed: %s", path, reason)
    for vid, path in usable:
        needed = needed_extractors(store, vid, path, list(extractors), extractors, clip_seconds, written_after)
        if needed or any(tap.wanted(vid, path) for tap in taps):
            jobs.append(VideoJob(vid=vid, path=path, needed=needed, planned=tuple(needed)))
        else:
            settled.append(ExtractRecord(vid=vid, path=str(path), status="skipped", extractors=list(extractors)))
    return jobs, settled


def needed_extractors(store: FeatureStore, vid: str, path: Path, names: Iterable[str],
                      extractors: Mapping[str, VideoExtractor], clip_seconds: float,
                      written_after: datetime | None) -> list[str]:
    """The extractors of `names` whose entry of `vid` is missing, stale, or not written since `written_after`."""
    return [name for name in names
            if store.status("video", name, vid, video_entry_spec(extractors[name], clip_seconds), path,
                            written_after).state != "current"]


def claim_job(job: VideoJob, store: FeatureStore, extractors: Mapping[str, VideoExtractor], clip_seconds: float,
              written_after: datetime | None) -> bool:
    """Claim the video's entries for this run (False: another run holds one), then drop the
    extractors that another run finished since the plan (releasing the claim if none is left)."""
    if job.claim is not None:  # claimed (and checked) already
        return True
    claim = store.try_claim(job.entry_names())
    if claim is None:
        return False
    job.claim = claim
    job.needed = needed_extractors(store, job.vid, job.path, job.needed, extractors, clip_seconds, written_after)
    if not job.needed:
        claim.release()
    return True


def resolve_videos(video_dir: str | os.PathLike, vids: Iterable[str]) -> tuple[list[Path], list[ExtractRecord]]:
    """Files of the wanted videos in `video_dir` (any video suffix), and a failed record per missing one."""
    by_stem = {p.stem: p for p in list_videos(video_dir)}
    found, missing = [], []
    for vid in dict.fromkeys(vids):
        if vid in by_stem:
            found.append(by_stem[vid])
        else:
            missing.append(ExtractRecord(vid=vid, path=str(Path(video_dir) / vid), status="failed",
                                         reason=f"no video file named {vid}.<mp4|mkv|webm|...> in {video_dir}"))
    return found, missing
