"""The extract flow: video features per shard of videos (one decode pass each), query features per dataset."""

from __future__ import annotations

import time

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from pipeline import progress
from pipeline.datasets.readers import read_annotations
from pipeline.extract import (
    PROGRESS_KEY,
    ExtractConfig,
    ExtractRecord,
    build_text_encoders,
    build_video_extractors,
    extract_queries,
    extract_videos,
    resolve_videos,
)
from pipeline.report import RunSummary
from pipeline.video import list_videos
from storage import FeatureStore


# Retries cover transient errors (a GPU hiccup, a network store); finished videos are skipped on retry
# because the store already holds them. The store decides what is current, so Prefect's cache is off.
@task(name="extract-shard", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5,
      task_run_name="extract shard {index}")
def extract_shard_task(index: int, videos: list[str], store_url: str, config: ExtractConfig,
                       force: bool = False) -> list[ExtractRecord]:
    return extract_videos(videos, FeatureStore(store_url), build_video_extractors(config), config, force)


@task(name="encode-queries", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def encode_queries_task(queries: dict[str, str], store_url: str, config: ExtractConfig,
                        force: bool = False) -> dict[str, int]:
    return extract_queries(queries, FeatureStore(store_url), build_text_encoders(config), force=force)


@flow(name="extract", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=1))
def extract_flow(store: str, video_dir: str, annotations: str | None = None, dataset: str = "qvhighlights",
                 config: ExtractConfig = ExtractConfig(), shard_size: int = 64, force: bool = False) -> RunSummary:
    """Extract video features for the videos of an annotation file (or every video of `video_dir`)
    and query features for its queries; missing or stale entries only."""
    started = time.perf_counter()
    FeatureStore(store)
    queries: dict[str, str] = {}
    if annotations:
        rows = read_annotations(annotations, dataset)
        queries = {str(r.qid): r.query for r in rows}
        videos, missing = resolve_videos(video_dir, [r.vid for r in rows])
    else:
        videos, missing = list_videos(video_dir), []
    shards = [[str(p) for p in videos[i:i + shard_size]] for i in range(0, len(videos), max(1, shard_size))]
    futures = [extract_shard_task.submit(i, shard, store, config, force) for i, shard in enumerate(shards)]
    text_future = encode_queries_task.submit(queries, store, config, force) if queries and config.text_names() else None
    records = missing + [r for f in futures for r in f.result()]
    progress.finish(PROGRESS_KEY)
    summary = RunSummary.from_records("extract", records, seconds=time.perf_counter() - started)
    if text_future is not None:
        written = text_future.result()
        summary.notes.append("queries: " + ", ".join(f"{n} {name} encoded" for name, n in written.items())
                             + f" ({len(queries)} in the dataset)")
    if config.preset == "tiny":
        summary.notes.append("preset tiny: random small encoders, for tests and demos only")
    create_markdown_artifact(summary.markdown(), key="extract-summary", description="extract run summary")
    print(summary.text())
    return summary
