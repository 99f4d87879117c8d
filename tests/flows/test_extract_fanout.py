"""Shard fan-out and regeneration without a server of their own: a shard run's outcome read from its
state, typed parameters refused, the regeneration plan with its reasons, and the Dask fan-out on CPU."""

from __future__ import annotations

import json
import uuid

import pytest

from timecode import time_coded_frames
from pipeline.video.writer import write_video
from storage import FeatureStore

CONFIG = {"extractors": ("clip",), "preset": "tiny", "device": "cpu"}


def _videos(folder, n: int, frames: int = 30) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    return [str(write_video(folder / f"vid{i:02d}.mp4", time_coded_frames(64, 48), frames + i, fps=10, width=64,
                            height=48)) for i in range(n)]


def _flow_run(name: str, state):
    from prefect.client.schemas.objects import FlowRun

    return FlowRun(id=uuid.uuid4(), name=name, flow_id=uuid.uuid4(), state=state)


def test_a_failed_shard_run_fails_its_videos_naming_the_run_and_its_state_message(tmp_path):
    from prefect.states import Crashed, Failed, Running

    from flows.extract import _shard_result

    shard = [str(tmp_path / "a.mp4"), str(tmp_path / "b.mkv")]
    failed = _shard_result(_flow_run("extract shard 3", Failed(message="CUDA out of memory")), shard, None, 60)
    assert [(r.vid, r.status) for r in failed.records] == [("a", "failed"), ("b", "failed")]
    assert failed.records[0].reason == "shard run 'extract shard 3' Failed: CUDA out of memory"
    crashed = _shard_result(_flow_run("encode queries of ann.jsonl", Crashed(message="exit code 137")), [],
                            "/data/ann.jsonl", 60)
    assert crashed.records[0].vid == "queries:ann.jsonl" and "Crashed: exit code 137" in crashed.records[0].reason
    late = _shard_result(_flow_run("extract shard 0", Running()), shard[:1], None, 60)
    assert "still Running after 60 s" in late.records[0].reason


def test_a_completed_shard_run_gives_its_records_and_results_merge():
    from prefect.states import Completed

    from flows.extract import ShardResult, _shard_result
    from pipeline.extract import ExtractRecord

    done = ShardResult(records=[ExtractRecord(vid="a", path="/v/a.mp4", status="done", n_clips=3)],
                       queries={"clip": 2})
    got = _shard_result(_flow_run("extract shard 0", Completed(data=done.model_dump(mode="json"))), ["/v/a.mp4"],
                        None, 60)
    assert got == done
    merged = got.merge(ShardResult(records=[ExtractRecord(vid="b", path="/v/b.mp4", status="skipped")],
                                   queries={"clip": 1, "blip2": 4}))
    assert [r.vid for r in merged.records] == ["a", "b"] and merged.queries == {"clip": 3, "blip2": 4}


def test_bad_fanout_and_sources_are_refused_naming_the_field():
    from prefect.exceptions import ParameterTypeError

    from flows.extract import extract_flow
    from flows.regenerate import regenerate_features_flow

    with pytest.raises(ParameterTypeError, match="fanout"):
        extract_flow.validate_parameters({"store": "s", "video_dir": "v", "fanout": {"mode": "threads"}})
    with pytest.raises(ParameterTypeError, match="workers"):
        extract_flow.validate_parameters({"store": "s", "video_dir": "v", "fanout": {"mode": "dask", "workers": 0}})
    with pytest.raises(ParameterTypeError, match="dataset"):
        regenerate_features_flow.validate_parameters({"store": "s", "sources": [{"video_dir": "v", "dataset": "x"}]})
    with pytest.raises(ParameterTypeError, match="sources"):
        regenerate_features_flow.validate_parameters({"store": "s", "sources": []})


def test_regeneration_plan_lists_missing_and_stale_entries_with_reasons(tmp_path):
    from flows.regenerate import VideoSource, plan_features_task, plan_markdown
    from pipeline.extract import DecodeConfig
    from pipeline.extract import ExtractConfig, build_video_extractors, extract_videos

    paths = _videos(tmp_path / "videos", 3)
    rows = [{"qid": i, "query": f"query {i}", "duration": 3, "vid": vid, "relevant_windows": [[0, 2]],
             "relevant_clip_ids": [0], "saliency_scores": [[1, 2, 3]]}
            for i, vid in enumerate(["vid00", "vid01", "vid02", "gone"])]
    ann = tmp_path / "ann.jsonl"
    ann.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config = ExtractConfig(**CONFIG)
    store_url = str(tmp_path / "store")
    extract_videos(paths[:2], FeatureStore(store_url), build_video_extractors(config), config)
    _videos(tmp_path / "videos", 2, frames=40)  # vid00 and vid01 rewritten: their features are stale now
    extract_videos(paths[:1], FeatureStore(store_url), build_video_extractors(config), config)  # vid00 current again

    sources = [VideoSource(video_dir=str(tmp_path / "videos"), annotations=str(ann))]
    plan = plan_features_task.fn(store_url, sources, config)
    video = next(g for g in plan.groups if g.kind == "video")
    assert (video.extractor, video.current, video.missing, video.stale) == ("clip", 1, ["vid02"],
                                                                            {"vid01": "source changed"})
    text = next(g for g in plan.groups if g.kind == "text")
    assert (text.extractor, text.current, sorted(text.missing)) == ("clip", 0, ["0", "1", "2", "3"])
    assert plan.videos == paths[1:] and plan.queries_todo == 4
    assert [r.vid for r in plan.unavailable] == ["gone"]
    report = plan_markdown(store_url, plan)
    assert "| video/clip | 1 | 1 | 1 |" in report and "| `video/clip/vid01` | source changed |" in report
    assert "Annotated videos with no file: `gone`" in report

    # new settings (here the clip length) make every entry stale, with the change as the reason
    one_second = config.model_copy(update={"decode": DecodeConfig(clip_seconds=1.0)})
    again = plan_features_task.fn(store_url, sources, one_second)
    assert next(g for g in again.groups if g.kind == "video").stale["vid00"] == "clip_seconds changed: 2.0 -> 1.0"


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_dask_fanout_runs_two_shards_on_two_cpu_workers(tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.extract import extract_flow
    from flows.fanout import FanOut
    from pipeline.extract import ExtractConfig

    _videos(tmp_path / "videos", 2, frames=20)
    store_url = str(tmp_path / "store")
    state = extract_flow(store=store_url, video_dir=str(tmp_path / "videos"), config=ExtractConfig(**CONFIG),
                         shard_size=1, fanout=FanOut(mode="dask", workers=2), return_state=True)
    summary = state.result()
    assert (summary.done, summary.failed) == (2, 0) and "fan-out: dask" in summary.notes
    assert FeatureStore(store_url).keys("video", "clip") == ["vid00", "vid01"]
    with get_client(sync_client=True) as client:
        this_run = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        runs = client.read_task_runs(flow_run_filter=this_run)
    shards = sorted(r.name for r in runs if r.name.startswith("extract shard"))
    assert shards == ["extract shard 0", "extract shard 1"]  # recorded by the one server, not one per worker


@pytest.mark.gpu
def test_each_dask_worker_gets_its_own_gpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.device_count() < 1:
        pytest.skip("needs a CUDA device")
    from distributed import Client, LocalCluster

    from flows.fanout import on_worker_gpu
    from pipeline.extract import ExtractConfig

    n = torch.cuda.device_count()
    config = ExtractConfig(**{**CONFIG, "device": "cuda"})
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        workers = list(client.scheduler_info()["workers"])
        devices = [client.submit(lambda c: on_worker_gpu(c).device, config, workers=[w], pure=False).result()
                   for w in workers]
    assert sorted(devices) == [f"cuda:{i}" for i in range(n)]
    assert on_worker_gpu(config).device == "cuda"  # outside a Dask worker: unchanged
