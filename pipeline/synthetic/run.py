"""The synthesize stage: videos in; pretraining rows (jsonl) and caption text features (store) out; resumable."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from pipeline import progress
from pipeline.datasets.rows import PretrainRow
from pipeline.report import ItemFailure, RunSummary
from pipeline.synthetic.config import SynthesizeConfig
from pipeline.synthetic.intervals import n_intervals
from pipeline.synthetic.output import OutputMismatchError, SynthesisOutput
from pipeline.synthetic.synthesizer import SynthesisModels, VideoRows, VideoSynthesizer, build_synthesis_models
from pipeline.video import VideoDecodeError, decode_clips, list_videos, probe_video, video_id
from storage import FeatureStore, InvalidKeyError, validate_key

log = logging.getLogger(__name__)

PROGRESS_KEY = "synthesize"
ALREADY = "already synthesized"


class SynthesisRecord(BaseModel):
    """The outcome of one video (small, for summaries and Prefect tasks)."""

    vid: str
    path: str
    status: Literal["done", "skipped", "failed"]
    reason: str = ""
    rows: int = 0
    intervals: int = 0
    captions_empty: int = 0
    captions_repeated: int = 0
    seconds: float = 0.0


class SynthesisSummary(RunSummary):
    """RunSummary of the stage plus its own counts.

    Attributes:
        rows_written: rows appended by this run.
        intervals: intervals captioned by this run.
        captions_empty, captions_repeated: captions filtered out (empty; same as the previous interval's).
        already_done: videos skipped because an earlier run finished them.
        skips: every skipped video with its reason.
        records: one record per video.
    """

    step: str = "synthesize"
    rows_written: int = 0
    intervals: int = 0
    captions_empty: int = 0
    captions_repeated: int = 0
    already_done: int = 0
    skips: list[ItemFailure] = []
    records: list[SynthesisRecord] = []

    def add(self, record: SynthesisRecord) -> None:
        self.records.append(record)
        if record.status == "done":
            self.done += 1
        elif record.status == "skipped":
            self.skipped += 1
            self.skips.append(ItemFailure(item=record.path, reason=record.reason))
        else:
            self.failures.append(ItemFailure(item=record.path, reason=record.reason))
        self.rows_written += record.rows
        self.intervals += record.intervals
        self.captions_empty += record.captions_empty
        self.captions_repeated += record.captions_repeated

    def text(self) -> str:
        lines = [f"{self.step}: {self.done} done, {self.skipped} skipped ({self.already_done} finished earlier), "
                 f"{self.failed} failed in {self.seconds:.1f} s",
                 f"  rows written: {self.rows_written} from {self.intervals} intervals; captions filtered: "
                 f"{self.captions_empty} empty, {self.captions_repeated} repeated"]
        lines += [f"  {note}" for note in self.notes]
        lines += [f"  skipped {s.item}: {s.reason}" for s in self.skips if not s.reason.startswith(ALREADY)]
        lines += [f"  FAILED {f.item}: {f.reason}" for f in self.failures]
        return "\n".join(lines)


def _video_paths(videos: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    if isinstance(videos, (str, os.PathLike)):
        return list_videos(videos)
    return [Path(v) for v in videos]


def _synthesize_one(path: Path, vid: str, store: FeatureStore, out: SynthesisOutput,
                    models: Callable[[], SynthesisModels], config: SynthesizeConfig) -> SynthesisRecord:
    """Probe, decode once, caption, score, store caption features, append rows: one video."""
    started = time.perf_counter()
    info = probe_video(path)
    if config.max_duration is not None and info.duration > config.max_duration:
        return SynthesisRecord(vid=vid, path=str(path), status="skipped",
                               reason=f"{info.duration:.1f} s is longer than max_duration={config.max_duration:g} s")
    result = VideoRows(vid=vid)
    if n_intervals(info.duration, config.interval_seconds) > 0:
        m = models()
        synth = VideoSynthesizer(vid, info.duration, m, config)
        for chunk in decode_clips(path, synth.consumers, config.decode.clip_seconds, config.decode.chunk_seconds,
                                  config.decode.backend, info):
            synth.feed(chunk)
        result = synth.finish()
        for row in result.rows:  # an internal check: a row the reader refuses must never be written
            PretrainRow.model_validate(row, context={"clip_seconds": config.decode.clip_seconds})
        _store_caption_features(result, store, m, config)
    record = SynthesisRecord(vid=vid, path=str(path), status="done", rows=len(result.rows), intervals=result.intervals,
                             captions_empty=result.captions_empty, captions_repeated=result.captions_repeated,
                             seconds=time.perf_counter() - started)
    weights = models().describe() if result.intervals else {}
    out.append_video(vid, result.rows, {**record.model_dump(exclude={"vid", "path"}), "duration": info.duration,
                                        "weights": _weights_ids(weights)})
    log.info("%s: %d rows from %d intervals (%d empty, %d repeated captions dropped) in %.2f s", vid, record.rows,
             record.intervals, record.captions_empty, record.captions_repeated, record.seconds)
    return record


def _store_caption_features(result: VideoRows, store: FeatureStore, models: SynthesisModels,
                            config: SynthesizeConfig) -> None:
    from pipeline.extract import extract_queries

    queries = {row["qid"]: row["query"] for row in result.rows}
    if queries and models.text_encoders:
        extract_queries(queries, store, models.text_encoders, batch_size=config.text_batch_size)


def _weights_ids(described: dict) -> dict[str, str]:
    return {name: str(part.get("weights_id")) for name, part in described.items()}


class _LazyModels:
    """Builds the models on first use (a resumed run with nothing left to do loads no weights), then checks
    that they are the weights the output's finished videos were made with."""

    def __init__(self, config: SynthesizeConfig, out: SynthesisOutput, models: SynthesisModels | None):
        self.config, self.out, self.models, self.checked = config, out, models, False

    def __call__(self) -> SynthesisModels:
        if self.models is None:
            self.models = build_synthesis_models(self.config)
        if not self.checked:
            now = _weights_ids(self.models.describe())
            before = next((r["weights"] for r in self.out.done.values() if r.get("weights")), None)
            if before is not None and before != now:
                raise OutputMismatchError(f"{self.out.path}: earlier videos were synthesized with weights {before}, "
                                          f"this run has {now}; write to another output or pass overwrite=True")
            self.checked = True
        return self.models


def synthesize(videos: str | os.PathLike | Iterable[str | os.PathLike], store: str | os.PathLike | FeatureStore,
               out_jsonl: str | os.PathLike, config: SynthesizeConfig = SynthesizeConfig(), *,
               models: SynthesisModels | None = None, overwrite: bool = False) -> SynthesisSummary:
    """Make synthetic pretraining rows (paper, Algorithm 1) for every video, resuming an earlier run.

    Args:
        videos: a folder of videos, or video files (the file name without suffix is the vid).
        store: the feature store (or its URL) that receives the captions' text features.
        out_jsonl: the rows file; `<out_jsonl>.progress.jsonl` beside it records finished videos.
        config: the settings.
        models: prebuilt models (tests, benchmarks); built from `config` when first needed otherwise.
        overwrite: start the output again instead of resuming it.

    Returns:
        The summary: videos done / skipped (too long, finished earlier) / failed (unreadable, with
        the reason), rows written, captions filtered.

    Raises:
        OutputMismatchError: `out_jsonl` was written with other settings or weights.
        MissingWeightsError: paper weights are absent (raised when the first video that has an
            interval needs them, before any of its rows is written).
    """
    started = time.perf_counter()
    paths = _video_paths(videos)
    store = store if isinstance(store, FeatureStore) else FeatureStore(store)
    summary = SynthesisSummary()

    with SynthesisOutput(out_jsonl, config.rows_manifest(), overwrite=overwrite) as out:
        lazy = _LazyModels(config, out, models)
        summary.notes += [f"output repaired: {note}" for note in out.repaired]
        progress.start(PROGRESS_KEY, len(paths), "synthesize")
        seen: set[str] = set()
        for path in paths:
            summary.add(_one_or_record(path, seen, store, out, lazy, config))
            progress.advance(PROGRESS_KEY)
        progress.finish(PROGRESS_KEY)
    summary.already_done = sum(1 for r in summary.records if r.status == "skipped" and r.reason.startswith(ALREADY))
    summary.seconds = time.perf_counter() - started
    log.info("synthesize: %d done, %d skipped, %d failed; %d rows written to %s", summary.done, summary.skipped,
             summary.failed, summary.rows_written, out_jsonl)
    return summary


def _one_or_record(path: Path, seen: set[str], store: FeatureStore, out: SynthesisOutput,
                   models: Callable[[], SynthesisModels], config: SynthesizeConfig) -> SynthesisRecord:
    """One video, with bad input (an unreadable file, an unusable id, a repeated id) turned into a record."""
    try:
        vid = validate_key(video_id(path), "vid")
    except InvalidKeyError as exc:
        return SynthesisRecord(vid=path.stem, path=str(path), status="failed", reason=str(exc))
    if vid in seen:
        return SynthesisRecord(vid=vid, path=str(path), status="failed",
                               reason=f"video id {vid!r} repeats an earlier file of this run; rename one of them")
    seen.add(vid)
    if vid in out.done:
        return SynthesisRecord(vid=vid, path=str(path), status="skipped", reason=f"{ALREADY} in {out.path.name}")
    try:
        return _synthesize_one(path, vid, store, out, models, config)
    except VideoDecodeError as exc:
        log.warning("%s: failed: %s", path, exc.reason)
        return SynthesisRecord(vid=vid, path=str(path), status="failed", reason=exc.reason)
