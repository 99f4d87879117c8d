"""prefect.yaml parses; every deployment loads as a flow taking its parameters; the GPU pool's job
variables request the GPU in a form docker-py accepts; the nightly schedule is a valid cron."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

ROOT = Path(__file__).resolve().parents[2]
POOLS = {"videolights-process": "process", "videolights-gpu": "docker"}

# prefect-docker's DockerWorkerJobConfiguration fields (0.7.x). prefect-docker cannot be installed
# beside the project, so they are listed here; the job variables must be among them.
DOCKER_JOB_VARIABLES = {"command", "env", "labels", "name", "image", "registry_credentials", "image_pull_policy",
                        "networks", "network_mode", "auto_remove", "volumes", "stream_output", "mem_limit",
                        "memswap_limit", "privileged", "container_create_kwargs"}


def _spec() -> dict:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())


def _deployment(name: str) -> dict:
    return next(d for d in _spec()["deployments"] if d["name"] == name)


def test_every_deployment_entrypoint_is_a_flow_taking_its_parameters(monkeypatch):
    from prefect.flows import Flow, load_flow_from_entrypoint

    deployments = _spec()["deployments"]
    assert {d["name"] for d in deployments} >= {"decode", "extract", "extract-shard-process", "extract-shard-gpu",
                                                "extract-dask-gpu", "regenerate-features"}
    monkeypatch.chdir(ROOT)
    for deployment in deployments:
        # module paths, not flows/x.py script paths: a script is run with flows/ first on sys.path,
        # where flows/pipeline.py would stand in for the `pipeline` package
        assert ".py:" not in deployment["entrypoint"], deployment["entrypoint"]
        flow = load_flow_from_entrypoint(deployment["entrypoint"])
        assert isinstance(flow, Flow)
        assert deployment["name"].startswith(flow.name), (deployment["name"], flow.name)
        assert deployment["work_pool"]["name"] in POOLS
        hints = typing.get_type_hints(flow.fn, include_extras=True)
        for name, value in (deployment.get("parameters") or {}).items():
            assert name in flow.parameters.properties, (deployment["name"], name)
            TypeAdapter(hints[name]).validate_python(value)  # raises, naming the field, when it does not fit


def test_extract_deployment_config_is_a_valid_extract_config():
    from pipeline.extract import ExtractConfig

    assert ExtractConfig.model_validate(_deployment("extract")["parameters"]["config"]).preset == "tiny"


def test_fanout_deployments_name_deployments_of_this_file():
    from flows.fanout import GPU_SHARD_DEPLOYMENT, FanOut

    shard_names = {d["name"] for d in _spec()["deployments"] if d["entrypoint"] == "flows.extract:extract_shard_flow"}
    assert shard_names == {"extract-shard-process", "extract-shard-gpu"}
    regenerate = FanOut.model_validate(_deployment("regenerate-features")["parameters"]["fanout"])
    for target in (regenerate.deployment, GPU_SHARD_DEPLOYMENT, FanOut().deployment):
        flow_name, deployment_name = target.split("/")
        assert flow_name == "extract-shard" and deployment_name in shard_names


def test_regenerate_features_runs_nightly_on_a_valid_cron():
    from prefect.client.schemas.schedules import CronSchedule

    schedules = _deployment("regenerate-features")["schedules"]
    assert len(schedules) == 1 and schedules[0]["active"] is True
    schedule = CronSchedule(cron=schedules[0]["cron"], timezone=schedules[0]["timezone"])  # validates both
    minute, hour, *every_day = schedule.cron.split()
    assert minute.isdigit() and hour.isdigit() and every_day == ["*", "*", "*"], "nightly: once a day at a fixed time"
    with pytest.raises(ValueError):
        CronSchedule(cron="0 25 * * *")  # the validator does refuse a bad cron


def test_gpu_pool_job_variables_request_the_gpu_in_a_form_docker_py_accepts():
    from docker.models.containers import _create_container_args

    gpu = _spec()["definitions"]["work_pools"]["gpu"]
    assert gpu["name"] == "videolights-gpu"
    variables = gpu["job_variables"]
    assert set(variables) <= DOCKER_JOB_VARIABLES, set(variables) - DOCKER_JOB_VARIABLES
    requests = variables["container_create_kwargs"]["device_requests"]
    assert any(r["driver"] == "nvidia" and ["gpu"] in r["capabilities"] for r in requests)
    # what DockerWorker does with them: docker-py's containers.create(image=..., volumes=..., **container_create_kwargs)
    args = _create_container_args({"image": variables["image"], "version": "1.44", "volumes": variables["volumes"],
                                   **variables["container_create_kwargs"]})
    host = args["host_config"]
    assert host["DeviceRequests"][0]["Driver"] == "nvidia" and host["DeviceRequests"][0]["Capabilities"] == [["gpu"]]
    assert {b.split(":")[1] for b in host["Binds"]} == {"/data", "/weights"}
    assert any(b.endswith(":/weights:ro") for b in host["Binds"])
    assert variables["env"]["PREFECT_LOCAL_STORAGE_PATH"].startswith("/data/"), "result storage on the shared volume"
    for deployment in _spec()["deployments"]:
        if deployment["work_pool"]["name"] == "videolights-gpu":
            assert deployment["work_pool"]["job_variables"] == variables
            # extract deployments carry an ExtractConfig default; pipeline/step ones take a whole
            # PipelineConfig per run (its device defaults to "auto": the container's GPU)
            config = deployment.get("parameters", {}).get("config")
            assert config is None or config["device"] == "cuda", deployment["name"]

