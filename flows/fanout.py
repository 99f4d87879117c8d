"""Fan-out of shards of work: as tasks of the flow run, as runs of a deployment on a work pool, or on a
local Dask cluster with one worker per GPU; every way passes paths and small records, never arrays."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from uuid import UUID

import torch
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect_dask import DaskTaskRunner
from pydantic import BaseModel, ConfigDict, Field

from pipeline.extract import ExtractConfig

#: The shard deployment of the GPU work pool (see prefect.yaml).
GPU_SHARD_DEPLOYMENT = "extract-shard/extract-shard-gpu"
#: The API serves at most this many flow runs per read.
_PAGE = 200


class FanOut(BaseModel):
    """How the shards of an extraction are spread out.

    Attributes:
        mode: "tasks": shards are tasks of this flow run, one at a time in this process (the default).
            "deployments": each shard is a run of `deployment`, all created at once and waited for;
            how many run at the same time is bounded by the work pool's concurrency limit and the
            deployment's `concurrency_limit` (prefect.yaml), not by this flow.
            "dask": shards are tasks on a local Dask cluster of `workers` processes; with
            `device="cuda"`, one worker per visible GPU and worker n extracts on `cuda:n`.
        deployment: the shard deployment ("flow name/deployment name") of mode "deployments".
        workers: Dask workers of mode "dask"; None: one per visible GPU on "cuda", else 2.
        timeout_s: how long mode "deployments" waits for its shard runs, in seconds; the videos of
            runs still unfinished then are reported failed (the runs themselves go on).
        poll_s: seconds between two reads of the shard runs' states.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    mode: Literal["tasks", "deployments", "dask"] = "tasks"
    deployment: str = GPU_SHARD_DEPLOYMENT
    workers: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=24 * 3600.0, gt=0)
    poll_s: float = Field(default=5.0, gt=0)


def on_worker_gpu(config: ExtractConfig) -> ExtractConfig:
    """On a Dask worker, a bare "cuda" device becomes that worker's own GPU: worker n -> cuda:n.

    LocalCluster names its workers 0..N-1 and the "dask" fan-out starts one per GPU, so each
    worker owns one GPU. Anywhere else (or for "cpu", "cuda:N") the config is returned unchanged.
    """
    if config.device != "cuda":
        return config
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:  # not running on a Dask worker
        return config
    if not isinstance(worker.name, int) or torch.cuda.device_count() == 0:
        return config
    return config.model_copy(update={"device": f"cuda:{worker.name % torch.cuda.device_count()}"})


def make_shards(videos: Sequence[str | Path], shard_size: int) -> list[list[str]]:
    size = max(1, shard_size)
    return [[str(p) for p in videos[i:i + size]] for i in range(0, len(videos), size)]


def dask_task_runner(config: ExtractConfig, fanout: FanOut) -> DaskTaskRunner:
    """A local Dask cluster: one single-threaded worker process per GPU (or `fanout.workers`)."""
    gpus = torch.cuda.device_count() if config.device == "cuda" else 0
    workers = fanout.workers or gpus or 2
    # The workers report their task runs to this flow run's API. Without a server (Prefect's local
    # ephemeral mode) its URL is in no environment variable, and each worker would start a server of its own.
    with get_client(sync_client=True) as client:
        env = {"PREFECT_API_URL": str(client.api_url).rstrip("/")}
    # One thread per worker: a worker runs one shard at a time on its GPU. No dashboard: it needs
    # a free port (and bokeh), and runs here are short-lived.
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None, "env": env})


def wait_for_runs(ids: list[UUID], timeout_s: float, poll_s: float) -> dict[UUID, FlowRun]:
    """Poll the flow runs until all are final or `timeout_s` passed; their latest reads by id."""
    deadline = time.monotonic() + timeout_s
    latest: dict[UUID, FlowRun] = {}
    with get_client(sync_client=True) as client:
        while True:
            pending = [i for i in ids if not (i in latest and latest[i].state and latest[i].state.is_final())]
            for start in range(0, len(pending), _PAGE):
                page = FlowRunFilter(id=FlowRunFilterId(any_=pending[start:start + _PAGE]))
                latest.update({r.id: r for r in client.read_flow_runs(flow_run_filter=page, limit=_PAGE)})
            if not pending or time.monotonic() >= deadline:
                return latest
            time.sleep(poll_s)
