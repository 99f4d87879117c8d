"""The synthesize stage: videos in; pretraining rows (jsonl) and caption text features (store) out; resumable."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from pipeline.common import progress
from pipeline.extract import extract_queries
from pipeline.common.summary import ItemFailure, RunSummary
from pipeline.datasets.rows import PretrainRow

from pipeline.synthetic.config import SynthesizeConfig
from pipeline.synthetic.intervals import n_intervals
from pipeline.synthetic.output import OutputMismatchError, SynthesisOutput
from pipeline.synthetic.synthesizer import (
    SynthesisModels,
    VideoRows,
    VideoSynthesizer,
    build_synthesis_models,
)
from pipeline.video import (
    ClipChunk,
    DecodeStats,
    VideoDecodeError,
    VideoInfo,
    decode_clips,
    list_videos,
    probe_video,
    usable_video_ids,
    video_id,
)
from storage import FeatureStore

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


def _weights_ids(described: dict) -> dict[str, str]:
    return {name: str(part.get("weights_id")) for name, part in described.items()}


class _LazyModels:
    """Builds the models on first use (a resumed run with nothing left to do loads no weights), then checks
    that they are the weights the output's finished videos were made with."""

    def __init__(self, config: SynthesizeConfig, out: SynthesisOutput, models: SynthesisModels | None):
        self.config, self.out, self.models, self.checked = config, out, models, False
        self._lock = threading.Lock()

    def __call__(self) -> SynthesisModels:
        with self._lock:
            if self.models is None:
                self.models = build_synthesis_models(self.config)
            if not self.checked:
                now = _weights_ids(self.models.describe())
                before = next((r["weights"] for r in self.out.done.values() if r.get("weights")), None)
                if before is not None and before != now:
                    raise OutputMismatchError(f"{self.out.path}: earlier videos were synthesized with weights "
                                              f"{before}, this run has {now}; write to another output or pass "
                                              "overwrite=True")
                self.checked = True
            return self.models


class SynthesisJob(BaseModel):
    """Synthesis to run on another stage's decode pass (small, passed between Prefect tasks).

    Attributes:
        videos: the video files to synthesize (others of that pass are left alone).
        out: the rows jsonl (resumed).
        config: the settings.
    """

    videos: list[str]
    out: str
    config: SynthesizeConfig


class SynthesisTap:
    """The synthesize stage on any decode pass: per video, `open()` gives a session that names the
    frames it needs (`consumers`) and takes the chunks; on `close()` the video's rows are appended
    to the output and its captions' text features stored.

    `synthesize()` drives it with a decode pass of its own. The extraction engine drives it with the
    pass that feeds the extractors (`extract_videos(..., taps=[tap])`), so a video both stages need
    is decoded once. Sessions of different videos may run in different threads at once; the
    models run for one of them at a time.

    Args:
        store: receives the captions' text features.
        out: the open output (rows + finished videos).
        models: builds (once) and returns the models.
        config: the settings.
        videos: the only videos this tap takes (others are left to their own stage); None: any.
        contain_errors: on another stage's pass, a synthesis error must not stop that stage: an
            error on one video becomes its failed record, and one building the models (absent
            weights, an output made with other weights) stops the tap taking videos. The
            synthesize stage then meets the same error on its own pass and reports it.
    """

    def __init__(self, store: FeatureStore, out: SynthesisOutput, models: Callable[[], SynthesisModels],
                 config: SynthesizeConfig, videos: Iterable[str | os.PathLike] | None = None,
                 contain_errors: bool = False):
        self.store, self.out, self.models, self.config = store, out, models, config
        self.videos = None if videos is None else {video_id(p): Path(p).resolve() for p in videos}
        self.contain_errors = contain_errors
        self.summary = SynthesisSummary()
        self.broken: str | None = None
        self._lock = threading.Lock()
        self._running = threading.Lock()  # the models: one video at a time
        self._busy: set[str] = set()

    def _takes(self, vid: str, path: Path) -> bool:
        return (self.broken is None and (self.videos is None or self.videos.get(vid) == Path(path).resolve())
                and vid not in self.out.done and vid not in self._busy)

    def wanted(self, vid: str, path: Path) -> bool:
        with self._lock:
            return self._takes(vid, path)

    def open(self, vid: str, path: Path, info: VideoInfo) -> _VideoSession | None:
        with self._lock:
            if not self._takes(vid, path):
                return None
            self._busy.add(vid)
        started = time.perf_counter()
        cfg = self.config
        if cfg.max_duration is not None and info.duration > cfg.max_duration:
            self.record(SynthesisRecord(vid=vid, path=str(path), status="skipped",
                                        reason=f"{info.duration:.1f} s is longer than max_duration={cfg.max_duration:g} s"))
            return None
        try:
            if n_intervals(info.duration, cfg.interval_seconds) == 0:
                self._finish(vid, path, info, VideoRows(vid=vid), None, started)
                return None
            models = self.models()
        except Exception as exc:
            if not self.contain_errors:
                raise
            self.broken = f"{type(exc).__name__}: {exc}"
            log.warning("synthesis on this decode pass stopped (the synthesize step will report it): %s", self.broken)
            with self._lock:
                self._busy.discard(vid)
            return None
        return _VideoSession(self, vid, path, info, VideoSynthesizer(vid, info.duration, models, cfg), started)

    def record(self, record: SynthesisRecord) -> None:
        """Count a video's outcome (one that never reached a session too: a bad id, an unreadable file)."""
        with self._lock:
            self.summary.add(record)
            self._busy.discard(record.vid)

    def _finish(self, vid: str, path: Path, info: VideoInfo, result: VideoRows, models: SynthesisModels | None,
                started: float) -> None:
        for row in result.rows:  # an internal check: a row the reader refuses must never be written
            PretrainRow.model_validate(row, context={"clip_seconds": self.config.decode.clip_seconds})
        if models is not None:
            queries = {row["qid"]: row["query"] for row in result.rows}
            if queries and models.text_encoders:
                extract_queries(queries, self.store, models.text_encoders, batch_size=self.config.text_batch_size)
        record = SynthesisRecord(vid=vid, path=str(path), status="done", rows=len(result.rows),
                                 intervals=result.intervals, captions_empty=result.captions_empty,
                                 captions_repeated=result.captions_repeated, seconds=time.perf_counter() - started)
        weights = _weights_ids(models.describe()) if models is not None else {}
        with self._lock:
            self.out.append_video(vid, result.rows, {**record.model_dump(exclude={"vid", "path"}),
                                                     "duration": info.duration, "weights": weights})
        self.record(record)
        log.info("%s: %d rows from %d intervals (%d empty, %d repeated captions dropped) in %.2f s", vid, record.rows,
                 record.intervals, record.captions_empty, record.captions_repeated, record.seconds)


class _VideoSession:
    """One video of a `SynthesisTap` (see pipeline.extract.TapSession)."""

    def __init__(self, tap: SynthesisTap, vid: str, path: Path, info: VideoInfo, synth: VideoSynthesizer,
                 started: float):
        self.tap, self.vid, self.path, self.info, self.synth, self.started = tap, vid, path, info, synth, started
        self.consumers = synth.consumers
        self.ended = False

    def _contained(self, step: Callable[[], None]) -> None:
        """Run `step` with the models to itself; with `contain_errors`, an error fails this video only."""
        if self.ended:
            return
        try:
            with self.tap._running:
                step()
        except Exception as exc:
            if not self.tap.contain_errors or isinstance(exc, VideoDecodeError):
                raise
            self.fail(f"{type(exc).__name__}: {exc}")

    def feed(self, chunk: ClipChunk) -> None:
        self._contained(lambda: self.synth.feed(chunk))

    def close(self, stats: DecodeStats | None = None) -> None:
        def finish() -> None:
            try:
                result = self.synth.finish()
            except VideoDecodeError as exc:
                self.fail(exc.reason)
                return
            self.tap._finish(self.vid, self.path, self.info, result, self.synth.models, self.started)
            self.ended = True

        self._contained(finish)

    def fail(self, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        log.warning("%s: synthesis failed: %s", self.path, reason)
        self.tap.record(SynthesisRecord(vid=self.vid, path=str(self.path), status="failed", reason=reason))


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
    paths = _video_paths(videos)
    with open_synthesis(store, out_jsonl, config, models=models, overwrite=overwrite) as tap:
        progress.start(PROGRESS_KEY, len(paths), "synthesize")
        usable, refused = usable_video_ids(paths)
        for path, reason in refused:
            log.warning("%s: failed: %s", path, reason)
            tap.record(SynthesisRecord(vid=path.stem, path=str(path), status="failed", reason=reason))
        progress.advance(PROGRESS_KEY, len(refused))
        for vid, path in usable:
            _synthesize_one(vid, path, tap)
            progress.advance(PROGRESS_KEY)
        progress.finish(PROGRESS_KEY)
    return tap.summary


@contextlib.contextmanager
def open_synthesis(store: str | os.PathLike | FeatureStore, out_jsonl: str | os.PathLike,
                   config: SynthesizeConfig = SynthesizeConfig(), *,
                   videos: Iterable[str | os.PathLike] | None = None, models: SynthesisModels | None = None,
                   overwrite: bool = False, contain_errors: bool = False) -> Iterator[SynthesisTap]:
    """A `SynthesisTap` over the output `out_jsonl` (opened, resumed, locked against other runs) for
    the time of the with block; its `summary` is complete when the block ends. `videos` and
    `contain_errors` are SynthesisTap's; the other arguments are synthesize()'s."""
    started = time.perf_counter()
    store = store if isinstance(store, FeatureStore) else FeatureStore(store)
    with SynthesisOutput(out_jsonl, config.rows_manifest(), overwrite=overwrite) as out:
        tap = SynthesisTap(store, out, _LazyModels(config, out, models), config, videos, contain_errors)
        tap.summary.notes += [f"output repaired: {note}" for note in out.repaired]
        yield tap
    summary = tap.summary
    summary.already_done = sum(1 for r in summary.records if r.status == "skipped" and r.reason.startswith(ALREADY))
    summary.seconds = time.perf_counter() - started
    log.info("synthesize: %d done, %d skipped, %d failed; %d rows written to %s", summary.done, summary.skipped,
             summary.failed, summary.rows_written, out_jsonl)


def _synthesize_one(vid: str, path: Path, tap: SynthesisTap) -> None:
    """One video through `tap` with a decode pass of its own; an unreadable file becomes a failed record."""
    if vid in tap.out.done:
        return tap.record(SynthesisRecord(vid=vid, path=str(path), status="skipped",
                                          reason=f"{ALREADY} in {tap.out.path.name}"))
    decode = tap.config.decode
    session = None
    try:
        info = probe_video(path)
        session = tap.open(vid, path, info)
        if session is None:
            return None
        for chunk in decode_clips(path, session.consumers, decode.clip_seconds, decode.chunk_seconds, decode.backend,
                                  info):
            session.feed(chunk)
    except VideoDecodeError as exc:
        if session is not None:
            return session.fail(exc.reason)
        log.warning("%s: failed: %s", path, exc.reason)
        return tap.record(SynthesisRecord(vid=vid, path=str(path), status="failed", reason=exc.reason))
    session.close()
    return None
