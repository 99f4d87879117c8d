"""The deployments of prefect.yaml on a real Prefect server: `prefect deploy`, a process worker, an
extract run fanning its shards out as runs of the shard deployment, then regenerate-features."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from run_logs import run_log_records
from timecode import time_coded_frames
from pipeline.video.writer import write_video
from storage import FeatureStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
POOL = "videolights-process"
CONFIG = {"extractors": ["clip"], "preset": "tiny", "device": "cpu"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _video(folder: Path, vid: str, frames: int = 30) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_video(folder / f"{vid}.mp4", time_coded_frames(64, 48), frames, fps=10, width=64, height=48)


class Stack:
    """A Prefect server and a process worker in their own sessions, logs in files, stopped by pid."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = _free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.procs: dict[str, subprocess.Popen] = {}
        base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
        self.env = {**base, "PREFECT_HOME": str(tmp / "prefect-home"), "PREFECT_API_URL": self.api,
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false",
                    "PREFECT_LOCAL_STORAGE_PATH": str(tmp / "results"),
                    "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(tmp / "results"), "VIDEOLIGHTS_HOME": str(ROOT),
                    "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5"}

    def start(self, name: str, *args: str) -> None:
        log = (self.tmp / f"{name}.log").open("w")
        env = {k: v for k, v in self.env.items() if not (name == "server" and k == "PREFECT_API_URL")}
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "prefect", *args], cwd=ROOT, env=env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_healthy(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.procs["server"].poll() is None, "the server exited"
            try:
                with urllib.request.urlopen(f"{self.api}/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise TimeoutError(f"no healthy server on {self.api} after {timeout:.0f} s")

    def cli(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def stop(self) -> None:
        for name in ("worker", "server"):  # the worker first: it reports to the server while stopping
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} (last 6000 characters)\n{p.read_text(errors='replace')[-6000:]}"
                         for p in sorted(self.tmp.glob("*.log")))


@pytest.fixture()
def stack(tmp_path):
    stack = Stack(tmp_path)
    try:
        yield stack
    finally:
        stack.stop()


def _run(client, deployment_id, parameters: dict, timeout: float = 420):
    """Create a run of a deployment and wait until it is final."""
    run = client.create_flow_run_from_deployment(deployment_id, parameters=parameters)
    deadline = time.monotonic() + timeout
    while not (run.state and run.state.is_final()):
        assert time.monotonic() < deadline, f"run {run.name} still {run.state.name if run.state else None}"
        time.sleep(2)
        run = client.read_flow_run(run.id)
    return run


def _artifact(client, run, key: str) -> str:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]),
                                                                  flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
    assert len(found) == 1, (key, found)
    return found[0].data


def test_deployments_fan_out_extract_shards_and_regenerate_only_what_is_missing(stack, tmp_path):
    try:
        _scenario(stack, tmp_path)
    except BaseException:
        print(stack.logs())  # pytest shows it with the failure
        raise


def _start_stack(stack: Stack) -> None:
    stack.start("server", "server", "start", "--host", "127.0.0.1", "--port", str(stack.port))
    stack.wait_healthy()
    # the README's commands: the pool and its concurrency limit (the parent holds 1 slot, shards 2)
    stack.cli("work-pool", "create", POOL, "--type", "process")
    stack.cli("work-pool", "set-concurrency-limit", POOL, "3")
    stack.cli("deploy", "--prefect-file", "prefect.yaml", "--name", "extract", "--name", "extract-shard-process",
              "--name", "regenerate-features", "--name", "videolights-pipeline-process", timeout=600)
    stack.start("worker", "worker", "start", "--pool", POOL, "--name", "test-worker")


def _regenerate_new_and_changed(client, deployment_id, videos: Path, store_url: str) -> float:
    """One new video, one changed file; the other two are current: regenerate does those two only."""
    _video(videos, "vid03", frames=25)
    _video(videos, "vid00", frames=36)
    t0 = time.monotonic()
    regen = _run(client, deployment_id, {"store": store_url, "sources": [{"video_dir": str(videos)}],
                                         "config": CONFIG, "shard_size": 2, "fanout": {"mode": "tasks"}})
    assert regen.state.is_completed(), regen.state
    plan = _artifact(client, regen, "regenerate-plan")
    assert "| video/clip | 2 | 1 | 1 |" in plan and "`video/clip/vid00` | source changed" in plan
    assert "Missing: `video/clip/vid03`" in plan
    assert "| 2 | 0 | 0 |" in _artifact(client, regen, "regenerate-summary")
    return time.monotonic() - t0


#: The whole DAG at its smallest (generated data, CLIP only, no pretraining): a deployment run of it
#: trains for two epochs in the worker's flow-run process.
SMALL_DAG = {
    "name": "deployed", "device": "cpu",
    "data": {"kind": "qvhighlights",
             "generate": {"train_videos": 4, "val_videos": 2, "seconds": 20, "fps": 4, "width": 64, "height": 48}},
    "features": {"video": ["clip"], "text": ["clip"], "extractor_preset": "tiny"},
    "extract": {"preset": "tiny", "crop_size": 32},
    "synthesize": {"enabled": False}, "pretrain": {"enabled": False},
    "finetune": {"preset": "tiny", "epochs": 2, "batch_size": 4, "eval_every": 1},
    "evaluate": {"zero_shot": False, "chance": False, "plots": 0},
}


def _written_videos_are_in_the_shard_logs(runs, vids: list[str]) -> None:
    """The shard runs' INFO records (one per written video) are in their logs on the server."""
    written = [m for r in runs for name, level, m in run_log_records(r.id)
               if name == "pipeline.extract.engine" and level == logging.INFO and "features of" in m]
    assert sorted(m.split(":")[0] for m in written) == vids, written


def _training_epochs_are_in_the_run_logs(client, workdir: Path) -> None:
    """A DAG deployment run: its training step's per-epoch INFO records are on the server."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    deployment = client.read_deployment_by_name("videolights-pipeline/videolights-pipeline-process")
    run = _run(client, deployment.id, {"config": {**SMALL_DAG, "workdir": str(workdir)}})
    assert run.state.is_completed(), run.state
    steps = client.read_flow_runs(flow_run_filter=FlowRunFilter(
        parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run.id])))
    epochs = [m for r in [run, *steps] for name, level, m in run_log_records(r.id)
              if name == "pipeline.training.loop" and level == logging.INFO and m.startswith("epoch ")]
    assert [m.split(":")[0] for m in epochs] == ["epoch 1/2", "epoch 2/2"], epochs
    assert all("loss" in m and "eval MR-full-R1@0.5" in m for m in epochs)


def _scenario(stack: Stack, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.settings import PREFECT_API_URL, temporary_settings

    started = time.monotonic()
    videos = tmp_path / "videos"
    for i in range(3):
        _video(videos, f"vid{i:02d}", frames=30 + i)
    store_url = str(tmp_path / "store")

    _start_stack(stack)
    print(f"server, pool, deployments and worker up in {time.monotonic() - started:.0f} s")

    with temporary_settings({PREFECT_API_URL: stack.api}), get_client(sync_client=True) as client:
        assert client.read_work_pool(POOL).concurrency_limit == 3
        extract = client.read_deployment_by_name("extract/extract")
        shard = client.read_deployment_by_name("extract-shard/extract-shard-process")
        regenerate = client.read_deployment_by_name("regenerate-features/regenerate-features")
        assert shard.global_concurrency_limit.limit == 2
        assert [s.schedule.cron for s in regenerate.schedules] == ["0 2 * * *"]

        # bad parameters are refused when the run is created, naming the field
        for deployment, bad, field in [(regenerate, {"store": store_url, "sources": []}, "sources"),
                                       (extract, {"store": store_url, "video_dir": str(videos),
                                                  "fanout": {"mode": "threads"}}, "fanout")]:
            with pytest.raises(PrefectHTTPStatusError, match=field):
                client.create_flow_run_from_deployment(deployment.id, parameters=bad)

        # extract: 3 videos and a broken file in 2 shards, each shard a run of the shard deployment
        broken = videos / "broken.mp4"
        broken.write_bytes(b"not a video")
        t0 = time.monotonic()
        parent = _run(client, extract.id, {
            "store": store_url, "video_dir": str(videos), "config": CONFIG, "shard_size": 2,
            "fanout": {"mode": "deployments", "deployment": "extract-shard/extract-shard-process", "poll_s": 1}})
        extract_s = time.monotonic() - t0
        # a run that failed an item ends FAILED, naming the count and where the list is
        assert parent.state.is_failed(), parent.state
        assert parent.state.message == "1 of 4 videos failed; listed in artifact 'extract-summary'"
        summary = _artifact(client, parent, "extract-summary")
        assert "| 3 | 0 | 1 |" in summary and f"| `{broken}` | not a readable media file" in summary
        children = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])))
        assert sorted(c.name for c in children) == ["extract shard 0", "extract shard 1"]
        assert all(c.deployment_id == shard.id and c.state.is_completed() for c in children)
        _written_videos_are_in_the_shard_logs(children, ["vid00", "vid01", "vid02"])
        store = FeatureStore(store_url)
        assert store.keys("video", "clip") == ["vid00", "vid01", "vid02"]
        broken.unlink()

        regenerate_s = _regenerate_new_and_changed(client, regenerate.id, videos, store_url)
        _training_epochs_are_in_the_run_logs(client, tmp_path / "dag")
    assert store.keys("video", "clip") == ["vid00", "vid01", "vid02", "vid03"]
    print(json.dumps({"extract_run_s": round(extract_s), "regenerate_run_s": round(regenerate_s),
                      "total_s": round(time.monotonic() - started)}))
