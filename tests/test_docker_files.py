"""The Docker files: the compose file parses and matches prefect.yaml's pools (worker types, GPU
request, shared volumes and network); the image runs as a non-root user with the weights mounted."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
POOL_TYPES = {"videolights-process": "process", "videolights-gpu": "docker"}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())


def _prefect() -> dict:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_compose_has_server_database_pools_and_a_worker_per_pool():
    services = _compose()["services"]
    assert {"postgres", "prefect-server", "pools", "process-worker", "docker-worker"} <= set(services)
    assert "postgresql+asyncpg://" in services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    deployment_pools = {d["work_pool"]["name"] for d in _prefect()["deployments"]}
    workers = {name: s for name, s in services.items() if s.get("command", [])[:3] == ["prefect", "worker", "start"]}
    assert {_option(s["command"], "--pool") for s in workers.values()} == set(POOL_TYPES) == deployment_pools
    for name, service in workers.items():
        pool = _option(service["command"], "--pool")
        assert _option(service["command"], "--type") == POOL_TYPES[pool], name
        assert service["depends_on"]["pools"]["condition"] == "service_completed_successfully", name
    # the pools exist, with their concurrency limits, before any worker starts
    script = " ".join(services["pools"]["command"])
    for pool, kind in POOL_TYPES.items():
        assert f"prefect work-pool create {pool} --type {kind}" in script
        assert f"prefect work-pool set-concurrency-limit {pool} " in script


def test_process_worker_holds_the_gpus_and_the_shared_volumes():
    compose = _compose()
    worker = compose["services"]["process-worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert "data:/data" in worker["volumes"] and "weights:/weights:ro" in worker["volumes"]
    gpu_env = _prefect()["definitions"]["work_pools"]["gpu"]["job_variables"]["env"]
    assert worker["environment"]["PREFECT_LOCAL_STORAGE_PATH"] == gpu_env["PREFECT_LOCAL_STORAGE_PATH"], \
        "parents read their shard runs' results: one result folder for both pools"


def test_docker_worker_starts_gpu_containers_on_the_compose_network_and_volumes():
    compose = _compose()
    worker = compose["services"]["docker-worker"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in worker["volumes"]
    variables = _prefect()["definitions"]["work_pools"]["gpu"]["job_variables"]
    # containers started by the docker worker are not compose services: they find the server, the
    # data and the weights through the compose network and volumes, by their fixed names
    assert variables["networks"] == [compose["networks"]["default"]["name"]]
    named = {v["name"] for v in compose["volumes"].values() if v and "name" in v}
    for volume in variables["volumes"]:
        assert volume.split(":")[0] in named, volume
    assert variables["image"] == compose["services"]["process-worker"]["image"] == worker["image"]
    requests = variables["container_create_kwargs"]["device_requests"]
    assert any(r["driver"] == "nvidia" and ["gpu"] in r["capabilities"] for r in requests)


def test_image_runs_as_non_root_and_mounts_weights():
    lines = [line.strip() for line in (ROOT / "docker" / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("VOLUME") and "/weights" in line for line in lines)
    # the docker worker and the docker pool's job template come from prefect-docker, in the image only
    assert any(line.startswith("RUN pip install") and "prefect-docker" in line for line in lines)
    for line in lines:
        if line.startswith("COPY ") and not line.startswith("COPY --"):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"


def _dockerfile() -> list[str]:
    return (ROOT / "docker" / "Dockerfile").read_text().splitlines()


def test_dockerfile_needs_no_buildkit_and_installs_dependencies_from_their_list_alone():
    lines = _dockerfile()
    text = "\n".join(lines)
    assert "<<" not in text and not text.startswith("# syntax="), "heredocs need BuildKit; podman/hadolint misparse"
    instructions = [line.split()[0] for line in lines if line and not line.startswith((" ", "#"))]
    assert set(instructions) <= {"FROM", "WORKDIR", "COPY", "RUN", "ENV", "USER", "VOLUME", "HEALTHCHECK",
                                 "ENTRYPOINT", "CMD"}
    # the first stage sees pyproject.toml only; the dependency install sees only the list it made
    first, final = text.split("\nFROM ", 2)[1:] if text.startswith("#") else text.split("\nFROM ")[:2]
    assert [line for line in first.splitlines() if line.startswith("COPY")] == ["COPY pyproject.toml ./"]
    install = final.index("RUN pip install -r /tmp/requirements.txt")
    before = [line for line in final[:install].splitlines() if line.startswith("COPY")]
    assert before == ["COPY --from=requirements /requirements.txt /tmp/requirements.txt"]
    assert "HEALTHCHECK" in final and "USER 1000" in final


def test_dockerignore_keeps_the_build_context_to_what_the_image_needs():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", "tests", "benchmarks", "*.zarr"} <= set(ignored)
    for needed in ("pyproject.toml", "README.md", "prefect.yaml", "configs", "pipeline", "flows", "model", "storage"):
        assert needed not in ignored


def test_compose_takes_its_secret_from_the_environment_and_publishes_the_api_on_loopback():
    text = (ROOT / "docker" / "compose.yaml").read_text()
    services = _compose()["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
    assert "prefect:prefect@" not in text
    assert services["prefect-server"]["ports"] == ["127.0.0.1:4200:4200"]


def test_gpu_and_cpu_profiles_choose_the_workers():
    services = _compose()["services"]
    assert services["process-worker"]["profiles"] == ["gpu"] and services["docker-worker"]["profiles"] == ["gpu"]
    cpu = services["process-worker-cpu"]
    assert cpu["profiles"] == ["cpu"] and not cpu.get("deploy")  # no device request: starts on any host
    gpu = services["process-worker"]
    assert cpu["command"] == gpu["command"] and cpu["volumes"] == gpu["volumes"]
    assert all("profiles" not in services[name] for name in ("postgres", "prefect-server", "pools"))
