"""The Docker files: the compose file parses and requests the GPU; the image runs as a non-root user."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_has_server_database_and_a_gpu_worker():
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "prefect-server", "gpu-worker"} <= set(services)
    assert "postgresql+asyncpg://" in services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    worker_cmd = services["gpu-worker"]["command"]
    pool = worker_cmd[worker_cmd.index("--pool") + 1]
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    assert pool in {d["work_pool"]["name"] for d in deployments}
    assert any(v.endswith(":/weights:ro") for v in services["gpu-worker"]["volumes"])


def test_image_runs_as_non_root_and_mounts_weights():
    lines = [line.strip() for line in (ROOT / "docker" / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("VOLUME") and "/weights" in line for line in lines)
    for line in lines:
        if line.startswith("COPY ") and not line.startswith("COPY --"):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
