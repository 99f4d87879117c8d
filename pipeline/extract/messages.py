"""What decode workers tell the extraction engine, one small typed record per event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class ClipsReady:
    """Preprocessed clips of one video for one extractor, starting at clip `first_clip`.

    `lease` (a `pipeline.extract.procs.SlotLease`, or None for clips in ordinary memory): the tensors
    view a decoder process's shared-memory slot; call `lease.done()` once they are copied or dropped.
    """

    vid: str
    extractor: str
    first_clip: int
    tensors: list[torch.Tensor]
    lease: Any = None


@dataclass(frozen=True)
class VideoDecoded:
    """Every chunk of the video was handed over: extractor -> its clip count (the extractors' frame
    rules can give one video different counts: a partial last clip may have no CLIP frame)."""

    vid: str
    n_clips: dict[str, int]


@dataclass(frozen=True)
class VideoDeferred:
    """Another run holds the video's entries: wait for it at the end of the pass."""

    vid: str


@dataclass(frozen=True)
class VideoSettled:
    """Nothing left to extract for the video (another run wrote its entries since the plan)."""

    vid: str
    reason: str


@dataclass(frozen=True)
class VideoFailed:
    """The video cannot be decoded; `reason` is one line."""

    vid: str
    reason: str


@dataclass(frozen=True)
class WorkerCrashed:
    """Something other than bad input (a bug, a broken environment) stopped a worker at this video."""

    vid: str
    error: BaseException


@dataclass(frozen=True)
class WorkerDone:
    """A decode worker has no more videos."""


Message = ClipsReady | VideoDecoded | VideoDeferred | VideoSettled | VideoFailed | WorkerCrashed | WorkerDone
