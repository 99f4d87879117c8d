"""The extract flow: video features per shard of videos (one decode pass each), query features per dataset.

Shards fan out in one of three ways (`FanOut.mode`): as tasks of the flow run ("tasks"), as runs of
the `extract-shard` deployment on a work pool ("deployments"), or as tasks on a local Dask cluster
with one worker per GPU ("dask"). Every way passes paths and small records, never arrays: the
features go straight from the extracting process into the store.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import MissingResult
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner
from pydantic import BaseModel, ConfigDict

from flows.fanout import FanOut, dask_task_runner, make_shards, on_worker_gpu, wait_for_runs
from flows.outcome import finish
from flows.progress_artifacts import progress_artifacts
from flows.retrying import retry_transient
from pipeline.common import progress
from pipeline.common.summary import RunSummary
from pipeline.datasets.readers import DatasetKind, read_annotations
from pipeline.extract import (
    PROGRESS_KEY,
    DecodeConfig,
    ExtractConfig,
    ExtractRecord,
    GridTap,
    build_text_encoders,
    build_video_extractors,
    extract_queries,
    extract_videos,
    resolve_videos,
)
from pipeline.synthetic import (
    OutputLockedError,
    OutputMismatchError,
    SynthesisJob,
    open_synthesis,
)
from pipeline.video import list_videos, video_id
from storage import FeatureStore


class SharedDecode(BaseModel):
    """Other stages' work done on the extraction's decode pass (fan-out mode "tasks").

    Attributes:
        grid: record the decode stage's clip grids with these settings (missing or stale ones).
        grid_force: rewrite every clip grid (the decode step refreshed).
        synthesis: synthesize these videos (one rows file cannot take appends from several
            processes, so the other fan-out modes leave synthesis to its own stage).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    grid: DecodeConfig | None = None
    grid_force: bool = False
    synthesis: SynthesisJob | None = None

    def check(self, config: ExtractConfig) -> None:
        """Everything riding on the pass must cut clips as the extraction does (its grid is theirs)."""
        clip = config.decode.clip_seconds
        for what, other in (("grid", self.grid), ("synthesis", self.synthesis and self.synthesis.config.decode)):
            if other is not None and other.clip_seconds != clip:
                raise ValueError(f"shared.{what}: clip_seconds={other.clip_seconds:g} differs from the extraction's "
                                 f"decode.clip_seconds={clip:g}; one decode pass has one clip grid")


class ShardResult(BaseModel):
    """What one shard (or several, merged) did: a record per video, queries written per encoder,
    and the videos whose clip grid was recorded / that were synthesized on the same decode pass."""

    records: list[ExtractRecord] = []
    queries: dict[str, int] = {}
    grids: int = 0
    synthesized: int = 0

    def merge(self, other: ShardResult) -> ShardResult:
        queries = dict(self.queries)
        for name, n in other.queries.items():
            queries[name] = queries.get(name, 0) + n
        return ShardResult(records=self.records + other.records, queries=queries, grids=self.grids + other.grids,
                           synthesized=self.synthesized + other.synthesized)


class ExtractSummary(RunSummary):
    """The extract flow's summary, with the videos whose clip grid was recorded (`grids`) and that the
    synthesize stage finished (`synthesized`) on this decode pass."""

    grids: int = 0
    synthesized: int = 0


# Retries cover transient errors (a GPU hiccup, a network store); finished videos are skipped on retry
# because the store already holds them. The store decides what is current, so Prefect's cache is off.
@task(name="extract-shard", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5,
      retry_condition_fn=retry_transient, task_run_name="extract shard {index}")
def extract_shard_task(index: int, videos: list[str], store_url: str, config: ExtractConfig,
                       force: bool = False, shared: SharedDecode = SharedDecode()) -> ShardResult:
    config = on_worker_gpu(config)
    store, extractors = FeatureStore(store_url), build_video_extractors(config)
    grid = GridTap(store, shared.grid, shared.grid_force) if shared.grid is not None else None
    with contextlib.ExitStack() as stack:
        synthesis = None
        if shared.synthesis is not None:
            try:
                synthesis = stack.enter_context(open_synthesis(store, shared.synthesis.out, shared.synthesis.config,
                                                               videos=shared.synthesis.videos, contain_errors=True))
            except (OutputLockedError, OutputMismatchError) as exc:  # the synthesize step reports it
                get_run_logger().warning("synthesis left to its own step: %s", exc)
        taps = [tap for tap in (grid, synthesis) if tap is not None]
        records = extract_videos(videos, store, extractors, config, force, taps=taps)
    if synthesis is not None and synthesis.summary.failed:
        get_run_logger().warning(synthesis.summary.text())
    return ShardResult(records=records, grids=sum(r.status == "done" for r in grid.records) if grid else 0,
                       synthesized=synthesis.summary.done if synthesis else 0)


@task(name="encode-queries", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5,
      retry_condition_fn=retry_transient)
def encode_queries_task(queries: dict[str, str], store_url: str, config: ExtractConfig,
                        force: bool = False) -> dict[str, int]:
    config = on_worker_gpu(config)
    return extract_queries(queries, FeatureStore(store_url), build_text_encoders(config), force=force)


# A deployment entrypoint: the parent reads its return value from result storage, so results are
# persisted (JSON: a few records, readable by people) to storage both sides see (PREFECT_LOCAL_STORAGE_PATH).
# Its tasks retry transient failures; a flow-level retry could not tell those from a bad input.
@flow(name="extract-shard", log_prints=True, persist_result=True, result_serializer="json")
def extract_shard_flow(videos: list[str], store: str, config: ExtractConfig = ExtractConfig(),
                       force: bool = False, index: int = 0, annotations: str | None = None,
                       dataset: DatasetKind = "qvhighlights") -> ShardResult:
    """Extract the features of one shard of videos into the store, and (with `annotations`) encode
    that file's queries; missing or stale entries only. Returns one small record per video."""
    started = time.perf_counter()
    FeatureStore(store)
    result = extract_shard_task(index, videos, store, config, force) if videos else ShardResult()
    if annotations and config.text_names():
        queries = read_queries([(annotations, dataset)])
        result = result.merge(ShardResult(queries=encode_queries_task(queries, store, config, force)))
    summary = RunSummary.from_records(f"extract shard {index}", result.records, seconds=time.perf_counter() - started)
    summary.notes += [f"queries: {n} {name} encoded" for name, n in result.queries.items()]
    get_run_logger().info(summary.text())
    return result


def read_queries(annotations: Sequence[tuple[str, str]]) -> dict[str, str]:
    """qid -> query text of every (annotation file, dataset kind); a later file wins on a shared qid."""
    return {str(r.qid): r.query for path, kind in annotations for r in read_annotations(path, kind)}


def run_shards(shards: list[list[str]], store: str, config: ExtractConfig, force: bool = False,
               fanout: FanOut = FanOut(), annotations: Sequence[tuple[str, str]] = (),
               shared: SharedDecode = SharedDecode()) -> ShardResult:
    """Extract every shard, and encode the queries of `annotations` ((path, dataset kind) pairs),
    the way `fanout` says. Call from inside a flow run; returns the merged records and counts.
    `shared` rides on the decode pass of shards run in this process (mode "tasks") only.
    """
    if fanout.mode == "deployments":
        return _through_deployments(shards, store, config, force, fanout, annotations)
    if fanout.mode == "dask":
        with dask_task_runner(config, fanout) as runner:
            return _through_tasks(runner, shards, store, config, force, annotations)
    return _through_tasks(None, shards, store, config, force, annotations, shared)


def _through_tasks(runner: DaskTaskRunner | None, shards: list[list[str]], store: str, config: ExtractConfig,
                   force: bool, annotations: Sequence[tuple[str, str]],
                   shared: SharedDecode = SharedDecode()) -> ShardResult:
    """Shards as Prefect tasks: on `runner` (Dask) or, when None, on the flow's own task runner."""
    def submit(task_obj, **parameters):
        return runner.submit(task_obj, parameters) if runner is not None else task_obj.submit(**parameters)

    extra = {"shared": shared} if shared != SharedDecode() else {}
    futures = [submit(extract_shard_task, index=i, videos=shard, store_url=store, config=config, force=force, **extra)
               for i, shard in enumerate(shards)]
    queries = read_queries(annotations)
    text = (submit(encode_queries_task, queries=queries, store_url=store, config=config, force=force)
            if queries and config.text_names() else None)
    merged = ShardResult(queries=text.result() if text is not None else {})
    for future in futures:
        merged = merged.merge(future.result())
    return merged


def _through_deployments(shards: list[list[str]], store: str, config: ExtractConfig, force: bool,
                         fanout: FanOut, annotations: Sequence[tuple[str, str]]) -> ShardResult:
    """Each shard (and each annotation file's queries) as a run of the shard deployment, linked to
    this flow run as a child; all are created at once and the work pool decides how many run."""
    logger = get_run_logger()
    base = {"store": store, "config": config.model_dump(mode="json"), "force": force}
    jobs = [(f"extract shard {i}", {**base, "videos": shard, "index": i}, shard) for i, shard in enumerate(shards)]
    jobs += [(f"encode queries of {Path(path).name}",
              {**base, "videos": [], "index": len(shards) + k, "annotations": path, "dataset": kind}, [])
             for k, (path, kind) in enumerate(annotations)]
    runs = [run_deployment(fanout.deployment, parameters=params, flow_run_name=name, timeout=0, as_subflow=True)
            for name, params, _ in jobs]
    logger.info("%d runs of %s created; waiting for them (up to %.0f s)", len(runs), fanout.deployment,
                fanout.timeout_s)
    latest = wait_for_runs([r.id for r in runs], fanout.timeout_s, fanout.poll_s)
    merged = ShardResult()
    for (name, params, shard), run in zip(jobs, runs):
        merged = merged.merge(_shard_result(latest.get(run.id, run), shard, params.get("annotations"),
                                            fanout.timeout_s))
    return merged


def _shard_result(run: FlowRun, shard: list[str], annotations: str | None, timeout_s: float) -> ShardResult:
    """A finished shard run's result, or a failed record per video (or query file) naming the run's state."""
    state = run.state
    if state is not None and state.is_completed():
        try:
            return ShardResult.model_validate(state.result())
        except (MissingResult, OSError, ValueError) as exc:
            reason = (f"shard run {run.name!r} completed but its result could not be read ({exc}); "
                      "the parent and the shard runs need the same result storage (PREFECT_LOCAL_STORAGE_PATH)")
    elif state is not None and state.is_final():
        reason = f"shard run {run.name!r} {state.name}: {state.message or 'no message'}"
    else:
        reason = (f"shard run {run.name!r} still {state.name if state else 'unknown'} after {timeout_s:.0f} s; "
                  "is a worker polling the shard deployment's work pool?")
    items = [(video_id(p), p) for p in shard] or [(f"queries:{Path(annotations).name}", annotations or "")]
    return ShardResult(records=[ExtractRecord(vid=vid, path=path, status="failed", reason=reason)
                                for vid, path in items])


@flow(name="extract", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=1))
def extract_flow(store: str, video_dir: str, annotations: str | None = None, dataset: str = "qvhighlights",
                 config: ExtractConfig = ExtractConfig(), shard_size: int = 64, force: bool = False,
                 fanout: FanOut = FanOut(), shared: SharedDecode = SharedDecode()) -> ExtractSummary:
    """Extract video features for the videos of an annotation file (or every video of `video_dir`)
    and query features for its queries; missing or stale entries only. `fanout` says where the
    shards of `shard_size` videos run (tasks here, runs of a shard deployment, or a Dask cluster).
    `shared`: clip grids and synthesis done on the same decode pass (fan-out mode "tasks" only).
    A run in which any video failed ends FAILED; the summary (and its artifact) lists them."""
    with progress_artifacts("extract"):
        summary = _extract(store, video_dir, annotations, dataset, config, shard_size, force, fanout, shared)
    create_markdown_artifact(summary.markdown(), key="extract-summary", description="extract run summary")
    get_run_logger().info(summary.text())
    return finish(summary, "extract-summary", "videos")


def _extract(store: str, video_dir: str, annotations: str | None, dataset: str, config: ExtractConfig,
             shard_size: int, force: bool, fanout: FanOut, shared: SharedDecode) -> ExtractSummary:
    started = time.perf_counter()
    shared.check(config)
    FeatureStore(store)
    query_files: list[tuple[str, str]] = []
    n_queries = 0
    if annotations:
        rows = read_annotations(annotations, dataset)
        n_queries = len({str(r.qid) for r in rows})
        videos, missing = resolve_videos(video_dir, [r.vid for r in rows])
        if n_queries and config.text_names():
            query_files.append((annotations, dataset))
    else:
        videos, missing = list_videos(video_dir), []
    result = run_shards(make_shards(videos, shard_size), store, config, force, fanout, query_files, shared)
    progress.finish(PROGRESS_KEY)
    summary = ExtractSummary.from_records("extract", missing + result.records, seconds=time.perf_counter() - started)
    summary.grids, summary.synthesized = result.grids, result.synthesized
    if result.grids:
        summary.notes.append(f"decode: {result.grids} clip grids recorded from this decode pass")
    if result.synthesized:
        summary.notes.append(f"synthesis: {result.synthesized} videos captioned and scored from this decode pass "
                             f"(rows in {shared.synthesis.out})")
    if query_files:
        summary.notes.append("queries: " + ", ".join(f"{n} {name} encoded" for name, n in result.queries.items())
                             + f" ({n_queries} in the dataset)")
    if fanout.mode != "tasks":
        summary.notes.append(f"fan-out: {fanout.mode}" + (f" ({fanout.deployment})" if fanout.mode == "deployments"
                                                           else ""))
    if config.preset == "tiny":
        summary.notes.append("preset tiny: random small encoders, for tests and demos only")
    return summary
