"""The regenerate-features flow: list the store's missing and stale entries, report why, extract only those."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ConfigDict, Field

from flows.extract import read_queries, run_shards
from flows.fanout import FanOut, make_shards
from flows.outcome import finish
from flows.progress_artifacts import progress_artifacts
from pipeline.common import progress
from pipeline.common.summary import RunSummary
from pipeline.datasets.readers import DatasetKind, read_annotations
from pipeline.extract import (
    PROGRESS_KEY,
    ExtractConfig,
    ExtractRecord,
    build_text_encoders,
    build_video_extractors,
    resolve_videos,
    text_entry_spec,
    video_entry_spec,
)
from pipeline.video import list_videos, video_id
from storage import FeatureStore, fingerprint_text

#: Entries named one by one in the report; the rest are counted.
REPORT_ROWS = 50


class VideoSource(BaseModel):
    """One set of videos (and optionally queries) whose features the store should hold.

    Attributes:
        video_dir: folder of the videos, named `<vid>.<mp4|mkv|webm|...>`.
        annotations: annotation jsonl: its videos and its queries; None: every video of `video_dir`, no queries.
        dataset: format of `annotations`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    video_dir: str
    annotations: str | None = None
    dataset: DatasetKind = "qvhighlights"


class GroupPlan(BaseModel):
    """Missing and stale entries of one (kind, extractor) group; `stale` maps key -> why."""

    kind: str
    extractor: str
    current: int = 0
    missing: list[str] = []
    stale: dict[str, str] = {}


class FeaturePlan(BaseModel):
    """What the store lacks for the sources: per group, plus the video files to extract and failures."""

    groups: list[GroupPlan] = []
    videos: list[str] = []
    queries_todo: int = 0
    unavailable: list[ExtractRecord] = []


def _sources_of(sources: list[VideoSource]) -> tuple[dict[str, Path], list[tuple[str, str]], list[ExtractRecord]]:
    """vid -> video file (the first source naming a vid wins), the annotation files, annotated videos with no file."""
    files: dict[str, Path] = {}
    annotation_files, unavailable = [], []
    for source in sources:
        if source.annotations:
            rows = read_annotations(source.annotations, source.dataset)
            found, missing = resolve_videos(source.video_dir, [r.vid for r in rows])
            annotation_files.append((source.annotations, source.dataset))
            unavailable += missing
        else:
            found = list_videos(source.video_dir)
        for path in found:
            files.setdefault(video_id(path), path)
    return files, annotation_files, unavailable


@task(name="plan-features", cache_policy=NO_CACHE)
def plan_features_task(store: str, sources: list[VideoSource], config: ExtractConfig) -> FeaturePlan:
    """Sort every video and query of the sources into current, missing and stale entries."""
    # Entry specs do not depend on the device: plan on the CPU, so a CPU-only orchestrator can plan GPU work.
    cpu = config.model_copy(update={"device": "cpu"})
    fs = FeatureStore(store)
    files, annotation_files, unavailable = _sources_of(sources)
    plan = FeaturePlan(unavailable=unavailable)
    todo: set[str] = set()
    for name, extractor in build_video_extractors(cpu).items():
        got = fs.plan("video", name, files, video_entry_spec(extractor, config.decode.clip_seconds))
        plan.groups.append(GroupPlan(kind="video", extractor=name, current=len(got.current), missing=got.missing,
                                     stale=got.stale))
        todo.update(got.todo)
    plan.videos = [str(files[vid]) for vid in sorted(todo)]
    queries = read_queries(annotation_files)
    for name, encoder in build_text_encoders(cpu).items() if queries else ():
        got = fs.plan("text", name, {q: fingerprint_text(t) for q, t in queries.items()}, text_entry_spec(encoder))
        plan.groups.append(GroupPlan(kind="text", extractor=name, current=len(got.current), missing=got.missing,
                                     stale=got.stale))
        plan.queries_todo += len(got.todo)
    return plan


def plan_markdown(store: str, plan: FeaturePlan) -> str:
    """The plan as a markdown report: counts per group, then each stale entry with its reason."""
    lines = [f"## Missing and stale features in `{store}`", "",
             "| entries | current | missing | stale |", "|---|---|---|---|"]
    lines += [f"| {g.kind}/{g.extractor} | {g.current} | {len(g.missing)} | {len(g.stale)} |" for g in plan.groups]
    stale = [(f"{g.kind}/{g.extractor}/{key}", why) for g in plan.groups for key, why in g.stale.items()]
    if stale:
        lines += ["", "| stale entry | why |", "|---|---|"]
        lines += [f"| `{entry}` | {why} |" for entry, why in stale[:REPORT_ROWS]]
        lines += [f"| ... | and {len(stale) - REPORT_ROWS} more |"] if len(stale) > REPORT_ROWS else []
    missing = [f"`{g.kind}/{g.extractor}/{key}`" for g in plan.groups for key in g.missing]
    if missing:
        more = f" and {len(missing) - REPORT_ROWS} more" if len(missing) > REPORT_ROWS else ""
        lines += ["", "Missing: " + ", ".join(missing[:REPORT_ROWS]) + more]
    if plan.unavailable:
        lines += ["", "Annotated videos with no file: " + ", ".join(f"`{r.vid}`" for r in plan.unavailable)]
    lines += ["", f"To extract: {len(plan.videos)} videos, {plan.queries_todo} query entries."]
    return "\n".join(lines)


@flow(name="regenerate-features", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=1))
def regenerate_features_flow(store: str, sources: Annotated[list[VideoSource], Field(min_length=1)],
                             config: ExtractConfig = ExtractConfig(),
                             shard_size: Annotated[int, Field(ge=1)] = 64,
                             fanout: FanOut = FanOut()) -> RunSummary:
    """Find the entries of `sources` that the store lacks or holds stale (new videos, changed files,
    new extractor version or settings), report them as an artifact, and extract only those. A run
    that leaves entries unwritten (a failed video) ends FAILED, so a schedule's failure is seen."""
    with progress_artifacts("regenerate-features"):
        summary = _regenerate(store, sources, config, shard_size, fanout)
    create_markdown_artifact(summary.markdown(), key="regenerate-summary", description="regenerate-features summary")
    get_run_logger().info(summary.text())
    return finish(summary, "regenerate-summary", "videos")


def _regenerate(store: str, sources: list[VideoSource], config: ExtractConfig, shard_size: int,
                fanout: FanOut) -> RunSummary:
    started = time.perf_counter()
    FeatureStore(store)
    plan = plan_features_task(store, sources, config)
    create_markdown_artifact(plan_markdown(store, plan), key="regenerate-plan",
                             description="missing and stale feature entries, and why")
    annotation_files = [(s.annotations, s.dataset) for s in sources if s.annotations] if plan.queries_todo else []
    if plan.videos or annotation_files:
        result = run_shards(make_shards(plan.videos, shard_size), store, config, False, fanout, annotation_files)
    else:
        result = None
    progress.finish(PROGRESS_KEY)
    records = plan.unavailable + (result.records if result else [])
    summary = RunSummary.from_records("regenerate-features", records, seconds=time.perf_counter() - started)
    summary.notes.append(f"{len(plan.videos)} videos had missing or stale entries; "
                         f"{sum(g.current for g in plan.groups if g.kind == 'video')} video entries were current")
    if result and result.queries:
        summary.notes.append("queries: " + ", ".join(f"{n} {name} encoded" for name, n in result.queries.items()))
    if config.preset == "tiny":
        summary.notes.append("preset tiny: random small encoders, for tests and demos only")
    return summary
