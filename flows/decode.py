"""The decode flow: probe + decode each video (one task per video) and record its clip grid."""

from __future__ import annotations

import time

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows.outcome import finish
from flows.progress_artifacts import progress_artifacts
from flows.retrying import retry_transient
from pipeline.common import progress
from pipeline.common.summary import RunSummary
from pipeline.extract import DecodeConfig, DecodeRecord, decode_or_fail, failed_record
from pipeline.video import usable_video_ids
from storage import FeatureStore

PROGRESS_KEY = "decode"


# The store decides what is current (fingerprints + settings), so Prefect's own cache stays off here.
@task(name="decode-video", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=1,
      retry_condition_fn=retry_transient, task_run_name="decode {path}")
def decode_video_task(path: str, store_url: str, config: DecodeConfig, force: bool = False) -> DecodeRecord:
    record = decode_or_fail(path, FeatureStore(store_url), config, force)
    progress.advance(PROGRESS_KEY)
    return record


@flow(name="decode", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=2))
def decode_flow(videos: list[str], store: str, config: DecodeConfig = DecodeConfig(),
                force: bool = False) -> RunSummary:
    """Decode every video once into its clip grid; failures are listed in the summary (the run then
    ends FAILED), the rest finish."""
    with progress_artifacts("decode"):
        summary = _decode_videos(videos, store, config, force)
    create_markdown_artifact(summary.markdown(), key="decode-summary", description="decode run summary")
    get_run_logger().info(summary.text())
    return finish(summary, "decode-summary", "videos")


def _decode_videos(videos: list[str], store: str, config: DecodeConfig, force: bool) -> RunSummary:
    started = time.perf_counter()
    FeatureStore(store)  # create the store once, before the tasks race to do it
    progress.start(PROGRESS_KEY, len(videos), "decode")
    usable, refused = usable_video_ids(videos)
    records = [failed_record(path, reason) for path, reason in refused]
    progress.advance(PROGRESS_KEY, len(refused))
    futures = decode_video_task.map([str(path) for _, path in usable], store_url=unmapped(store),
                                    config=unmapped(config), force=unmapped(force))
    records += [f.result() for f in futures]
    progress.finish(PROGRESS_KEY)
    return RunSummary.from_records("decode", records, seconds=time.perf_counter() - started)


def with_workers(flow_obj, workers: int):
    """The flow with its task runner bounded to `workers` concurrent tasks."""
    return flow_obj.with_options(task_runner=ThreadPoolTaskRunner(max_workers=max(1, workers)))
