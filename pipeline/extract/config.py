"""How an extraction runs: which encoders, where, how batched, and how videos are cut into clips."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.extractors import available_extractors, available_text_encoders
from pipeline.video.sampling import FramesPerClip
from storage import EntrySpec

GRID_CONSUMER = "decode-grid"
"""Consumer name of the grid check in a decode pass (beside the extractors' names)."""
GRID_EXTRACTOR = "clips"
"""Store group of the clip-grid records: `video/clips/<vid>` holds [n_clips, 2] (start_s, end_s)."""
DECODE_VERSION = "1"
DONE_ELSEWHERE = "done by another run"
"""Reason of a skipped record whose entries another run sharing the store wrote while this one waited."""


class DecodeConfig(BaseModel):
    """How videos are cut into clips and checked.

    Attributes:
        clip_seconds: clip length in seconds (2 for QVHighlights and TVSum, 1 for Charades-STA).
        backend: "auto": on a CUDA device (ExtractConfig.device) the GPU's video decoder through torchcodec
            where the codec allows (the [gpu] extra; else, and on the CPU, PyAV); "pyav": PyAV, frames
            scaled exactly as the public extractors' ffmpeg graph; "decord": its own scaler, about 0.5
            grey levels from those pixels, not for rotated videos; "torchcodec": torchcodec on the
            extraction's device (torch's scaler; ~1 grey level from the references, not rotated videos).
        chunk_seconds: seconds of clips decoded at a time; bounds memory whatever the video length.
        short_side: decoded frames are resized to this short side (pixels).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    clip_seconds: float = Field(default=2.0, gt=0)
    backend: Literal["auto", "decord", "pyav", "torchcodec"] = "auto"
    chunk_seconds: float = Field(default=16.0, gt=0)
    short_side: int = Field(default=224, gt=0)

    def grid_spec(self) -> EntrySpec:
        sampling = FramesPerClip(short_side=self.short_side)
        return EntrySpec(extractor=GRID_EXTRACTOR, version=DECODE_VERSION, weights_id="none", preset="none",
                         clip_seconds=self.clip_seconds, sampling=sampling.model_dump(mode="json"))


class ExtractConfig(BaseModel):
    """Which encoders run, where, and how work is batched.

    Attributes:
        extractors: video extractors to run (registry names: slowfast, clip, blip2).
        text_encoders: query encoders to run (clip, blip2); default: those of `extractors` that have one.
        preset: "tiny" (small random seeded models, labelled tiny in the store) or "paper" (real weights).
        device: "cpu", "cuda" or "cuda:N".
        weights_dir: where paper weights are read from (None: the usual caches).
        batch_size: clips per network call; batches span clips and videos.
        decode_workers: videos decoded at the same time, one per decode worker.
        decode_processes: True: each decode worker decodes and preprocesses in a process of its own and
            hands the clips over through shared memory (no GIL shared between decoders); False: in a
            thread of this process (PyAV's per-frame work then shares one GIL with the inference loop);
            "auto" (default): processes when several decoders run on a machine of 4 or more cores,
            threads otherwise (on 2 cores one decoder already keeps both busy with FFmpeg's frame
            threads and the preprocessing threads, and threads measured 1.1-1.2x faster there:
            benchmarks/RESULTS.md, "decode in worker processes").
        preprocess_workers: CPU threads preprocessing clips while the network runs (decoding in threads;
            a decode process preprocesses its own clips).
        queue_chunks: decoded-and-preprocessed chunks held ahead of the network (bounds memory); a decode
            process has `queue_chunks + 1` shared-memory slots of one chunk each.
        decode: clip length and decoder settings.
        seed: initialisation seed of tiny presets.
        crop_size: pixels every video extractor decodes (short side) and centre-crops; None keeps
            each extractor's own (224). Small values suit the tiny presets (32-px networks).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    extractors: tuple[str, ...] = ("slowfast", "clip", "blip2")
    text_encoders: tuple[str, ...] | None = None
    preset: Literal["tiny", "paper"] = "tiny"
    device: str = "cpu"
    weights_dir: str | None = None
    batch_size: int = Field(default=32, ge=1)
    decode_workers: int = Field(default=1, ge=1)
    decode_processes: bool | Literal["auto"] = "auto"
    preprocess_workers: int = Field(default=2, ge=1)
    queue_chunks: int = Field(default=2, ge=1)
    decode: DecodeConfig = DecodeConfig()
    seed: int = 0
    crop_size: int | None = Field(default=None, ge=8)

    def decodes_in_processes(self) -> bool:
        """Whether decode workers run in processes (decode_processes, "auto" resolved for this machine)."""
        if self.decode_processes != "auto":
            return bool(self.decode_processes)
        return self.decode_workers > 1 and (os.cpu_count() or 1) >= 4

    @field_validator("extractors")
    @classmethod
    def _known_extractors(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return _known(names, available_extractors(), "video extractor")

    @field_validator("text_encoders")
    @classmethod
    def _known_text_encoders(cls, names: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if names is None else _known(names, available_text_encoders(), "text encoder")

    def text_names(self) -> tuple[str, ...]:
        if self.text_encoders is not None:
            return self.text_encoders
        return tuple(name for name in ("clip", "blip2") if name in self.extractors)


def _known(names: tuple[str, ...], known: list[str], what: str) -> tuple[str, ...]:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}; expected some of {', '.join(known)}")
    return names
